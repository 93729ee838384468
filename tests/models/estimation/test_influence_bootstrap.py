"""The wild bootstrap pre-trend test of Callaway and Sant'Anna equals refitting every draw.

The reference builds each draw's outcome levels: the controls' ``Ybar_t + eta_j c (Y_jt - Ybar_t)``
(Ybar the controls' mean path, ``c = n_C / (n_C - 1)``) and, for a treated unit, a path through
the fit under the null (the controls' mean change plus the null's slope times the dose: the
leads' estimates subtracted from their cells' slopes) whose changes over the lead cells carry
``eta_i`` times the unit's residuals divided by ``1 - v^2 (1 / S_g - 1 / S_m)``. It refits CS on
those outcomes and takes its analytic Wald statistic of the leads. The draws agree with the
closed form to 1e-10 (relative), so the p-values are equal.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna, FewEffectiveUnitsWarning
from models.estimation.influence import ratios
from models.estimation.wild_bootstrap import rademacher_signs
from tests.models.estimation.test_jackknife import COLUMNS, heavy_tailed_panel

N_DRAWS = 59


@pytest.fixture(autouse=True)
def _few_effective_units_are_the_point():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)
        yield


def _lead_weights(fitted, kind: str | None) -> np.ndarray:
    """Cells x leads: the pre-treatment cells, or the dynamic aggregation's leads."""
    event = fitted.periods - fitted.cohorts
    if kind is None:
        return np.eye(event.size)[:, event < 0]
    return np.column_stack([event == e for e in np.unique(event[event < 0])]).astype(float)


def _bootstrap_outcomes(
    df: pd.DataFrame, fitted, weights: np.ndarray, eta: np.ndarray, base_period: str
) -> np.ndarray:
    """One draw's outcome levels (units x periods), built as the module docstring says."""
    y = df.pivot(index="i", columns="t", values="y").to_numpy()
    cohort = df.groupby("i")["g"].first().to_numpy()
    dose = df.groupby("i")["v"].first().to_numpy()
    never = np.isnan(cohort)
    path = y[never].mean(axis=0)
    n_cells = len(fitted.names)
    values = fitted.functionals.value
    leads = ratios(values, weights)[0]
    lead_of = {
        (g, t): np.argmax(weights[k])
        for k, (g, t) in enumerate(zip(fitted.cohorts, fitted.periods, strict=True))
        if weights[k].any()
    }
    cells = list(zip(fitted.cohorts, fitted.periods, strict=True))
    null_slope = {
        cell: values[k] / values[n_cells + k] - leads[lead_of[cell]]
        for k, cell in enumerate(cells)
        if cell in lead_of
    }
    squared = {g: (dose[cohort == g] ** 2).sum() for g in np.unique(cohort[~never])}
    lead_squared = np.zeros(weights.shape[1])
    for (g, _), m in lead_of.items():
        lead_squared[m] += squared[g]
    out = path + eta[:, None] * (y - path) * never.sum() / (never.sum() - 1)
    for i in np.flatnonzero(~never):
        g = int(cohort[i])
        out[i] = y[i]
        universal = base_period == "universal"  # every period but g - 1, the first included
        for t in range(2 - universal, g - universal):
            base = t - 1 if base_period == "varying" else g - 1
            fitted_change = path[t - 1] - path[base - 1] + null_slope[(g, t)] * dose[i]
            leverage = dose[i] ** 2 * (1 / squared[g] - 1 / lead_squared[lead_of[(g, t)]])
            residual = (y[i, t - 1] - y[i, base - 1] - fitted_change) / (1 - leverage)
            out[i, t - 1] = out[i, base - 1] + fitted_change + eta[i] * residual
        if base_period == "varying":  # keep the later levels' own changes
            out[i, g - 1 :] = y[i, g - 1 :] + out[i, g - 2] - y[i, g - 2]
    return out


@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("kind", [None, "dynamic"])
def test_the_bootstrap_draws_are_those_of_refitting(base_period, kind):
    df = heavy_tailed_panel(n_units=45, n_treated=24, seed=5)
    model = CallawaySantAnna(df, **COLUMNS, base_period=base_period)
    fitted = model.fit(pretrend="bootstrap", pretrend_draws=N_DRAWS, seed=2)
    weights = _lead_weights(fitted, kind)
    covariance = fitted.functionals.covariance(
        ratios(fitted.functionals.value, weights)[1], fitted.moments
    )
    statistic, draws = fitted.lead_bootstrap.statistics(
        fitted.functionals.value, weights, covariance
    )
    reference = []
    for eta in rademacher_signs(N_DRAWS, 45, seed=2):
        outcomes = _bootstrap_outcomes(df, fitted, weights, eta, base_period)
        refit = CallawaySantAnna(df.assign(y=outcomes.ravel()), **COLUMNS, base_period=base_period)
        result = refit.fit() if kind is None else refit.fit().aggregate(kind)
        reference.append(result.pretrend_test().statistic * result.pretrend_test().df_num)
    np.testing.assert_allclose(draws, reference, rtol=1e-10)
    test = fitted.pretrend_test() if kind is None else fitted.aggregate(kind).pretrend_test()
    analytic = model.fit().pretrend_test() if kind is None else model.fit().aggregate(kind)
    if kind is not None:
        analytic = analytic.pretrend_test()
    assert test.statistic == pytest.approx(analytic.statistic, rel=1e-12)
    assert test.pvalue == (1 + (np.array(reference) >= statistic).sum()) / (N_DRAWS + 1)


def test_the_bootstrap_is_reproducible_and_needs_never_treated_controls():
    df = heavy_tailed_panel(n_units=45, n_treated=24, seed=5)
    model = CallawaySantAnna(df, **COLUMNS)

    def dynamic(seed: int):
        return model.fit(pretrend="bootstrap", seed=seed).aggregate("dynamic").pretrend_test()

    assert dynamic(1) == dynamic(1) and dynamic(1).pvalue != dynamic(3).pvalue
    assert dynamic(1).n_draws == 999
    with pytest.raises(ValueError, match=r"pretrend='bootstrap' needs control='never'"):
        CallawaySantAnna(df, **COLUMNS, control="notyet").fit(pretrend="bootstrap")
    group = model.fit(pretrend="bootstrap").aggregate("group")
    with pytest.raises(ValueError, match=r"has effects by cohort, not by event time"):
        group.pretrend_test()
