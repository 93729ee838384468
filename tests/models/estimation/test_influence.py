"""The influence-function algebra of Callaway-Sant'Anna, against explicit per-unit computations.

:class:`Functionals` never builds the units x functionals matrix of influence functions; here it
is built explicitly (each unit's affine influence, F_i @ slope + shift) and the covariance is
computed from it as a plain sum of outer products; the N and D functionals are recomputed from
their definitions with pandas group-bys. (The estimates and standard errors themselves are
checked against csdid and the did README in test_callaway_santanna.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from models import CallawaySantAnna, ConsumerSpendModel


@pytest.fixture(scope="module")
def fitted():
    panel, _ = ConsumerSpendModel().simulate(n_consumers=4_000, n_weeks=8, seed=41)
    panel = panel[panel["fake_week"] != 1].reset_index(drop=True)
    model = CallawaySantAnna(
        panel, "spend", "consumer_id", "week", "fake_week", intensity="fake_value"
    )
    return panel, model, model.fit()


def _explicit_influence(model, res) -> np.ndarray:
    """Every unit's influence on every functional (units in block order x functionals)."""
    rows, functionals = model._rows, res.functionals
    blocks = np.repeat(np.arange(rows.block_sizes.size), rows.block_sizes)
    slope = functionals.slope[:, blocks, :]  # functionals x units x features
    return np.einsum("up,jup->uj", rows.features, slope) + functionals.shift[:, blocks].T


def test_the_block_moment_covariance_is_the_explicit_one(fitted):
    _, model, res = fitted
    influence = _explicit_influence(model, res)
    n = influence.shape[0]
    np.testing.assert_allclose(influence.sum(axis=0), 0.0, atol=1e-8 * np.abs(influence).max())
    combination = np.random.default_rng(1).normal(size=(influence.shape[1], 5))
    combined = influence @ combination
    explicit = combined.T @ combined / n**2
    algebra = res.functionals.covariance(combination, res.moments)
    np.testing.assert_allclose(algebra, explicit, rtol=1e-9, atol=1e-12 * np.abs(explicit).max())


def test_numerators_and_denominators_are_their_definitions(fitted):
    panel, _, res = fitted
    n = panel["consumer_id"].nunique()
    wide = panel.pivot(index="consumer_id", columns="week", values="spend")
    unit = panel.groupby("consumer_id")[["fake_week", "fake_value"]].first()
    never = unit["fake_week"].isna()
    k = len(res.names)
    numerators, denominators = res.functionals.value[:k], res.functionals.value[k:]
    for j, (g, t) in enumerate(zip(res.cohorts, res.periods, strict=True)):
        base = g - 1 if t >= g else t - 1  # varying base period, no anticipation
        change = wide[t] - wide[base]
        members = unit["fake_week"] == g
        dose = unit.loc[members, "fake_value"]
        control_mean = change[never].mean()
        expected_n = (dose * (change[members] - control_mean)).sum() / n
        assert numerators[j] == pytest.approx(expected_n, rel=1e-10, abs=1e-12)
        assert denominators[j] == pytest.approx((dose**2).sum() / n, rel=1e-12)
        assert res.coefficients[j] == pytest.approx(expected_n / ((dose**2).sum() / n), rel=1e-9)
