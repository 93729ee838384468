"""The sparse event-time design on unbalanced, weighted panels with extra fixed effects
(models.estimation.sparse_unbalanced_design).

Each fit is compared with two references on a simulated panel with a tenth of its rows missing
at random (rows shuffled):

* the dense path, the same estimator with the sparse design turned off, so that the indicators
  are built as an n x k matrix and demeaned column by column: equal to 1e-10 (relative), the
  two differ only in the order of floating-point sums;
* pyfixest 0.60 ``feols`` on the same event-time regressors, run in the test with its demeaning
  tolerance at 1e-12: coefficients to 1e-8 and standard errors to 1e-6 (relative), the
  tolerances of the other pyfixest comparisons (tests/models/estimation/ols_helpers.py).
  pyfixest 0.60 decides nondeterministically whether a fixed effect is nested in the cluster
  (tests/models/estimation/test_event_study.py), so its covariance is rescaled from the count it
  used (``_df_k``) to fixest's.

The reductions of the design itself are checked against the explicit projection on dummies in
tests/models/estimation/test_design.py (its "unbalanced" and "weighted" cases).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import models.estimation.sparse_unbalanced_design as sparse_module
from models import ConsumerSpendModel, EventStudy, SunAbraham
from models.estimation.absorb import FixedEffects
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.sparse_unbalanced_design import UnbalancedIndicatorDesign

pytestmark = [
    pytest.mark.filterwarnings("ignore::models.exceptions.FewEffectiveUnitsWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
]

SAME_RTOL = 1e-10
COEF_RTOL = 1e-8
SE_RTOL = 1e-6
UNIT, TIME, COHORT, DOSE = "consumer_id", "week", "fake_week", "fake_value"
WINDOW, REF = (-3, 5), -1
FIXED_EFFECTS = {
    "two": [UNIT, TIME],
    "three": [UNIT, TIME, "segment_week"],
}
VCOVS = {
    "iid": "iid",
    "HC1": "HC1",
    "CRV1-unit": {"CRV1": UNIT},
    "CRV1-region": {"CRV1": "region"},
}
"""CRV1 by the unit and by regions, which hold whole units (a cluster above the unit)."""


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """1,200 consumers x 12 weeks (a tenth of the rows missing, the rest shuffled), with a
    segment x week code, regions of units and a sampling weight varying by row."""
    full, _ = ConsumerSpendModel().simulate(n_consumers=1_200, n_weeks=12, seed=21)
    full = full.loc[full[COHORT] != 1]  # no week before treatment
    rng = np.random.default_rng(22)
    kept = full.loc[rng.random(len(full)) > 0.1].sample(frac=1.0, random_state=23).copy()
    kept["segment_week"] = kept["segment"].astype(str) + "_" + kept[TIME].astype(str)
    kept["region"] = kept[UNIT] % 29
    kept["w"] = rng.uniform(0.2, 3.0, len(kept))
    kept["rel"] = (kept[TIME] - kept[COHORT]).clip(*WINDOW).fillna(REF).astype(int)
    kept["dose"] = kept[DOSE].fillna(0.0)
    assert kept.groupby(UNIT).size().min() > 1  # no singleton: both libraries keep every row
    return kept


def _fit(panel, fixed_effects, intensity, weights, vcov):
    return EventStudy(
        panel, "spend", UNIT, TIME, COHORT, window=WINDOW, ref=REF, intensity=intensity,
        fixed_effects=fixed_effects, weights=weights,
    ).fit(vcov=vcov, tol=1e-12)  # fmt: skip


def _dense_fit(monkeypatch, *args):
    """The same fit with the sparse design turned off: the dense path."""
    with monkeypatch.context() as patch:
        patch.setattr(UnbalancedIndicatorDesign, "applies", staticmethod(lambda fe: False))
        return _fit(*args)


def _pyfixest(panel, fixed_effects, intensity, weights, vcov):
    """pyfixest's coefficients and standard errors, its covariance rescaled to fixest's count
    of fixed-effect coefficients (a fixed effect nested in the cluster counts as one)."""
    pf = pytest.importorskip("pyfixest")
    regressor = "i(rel, ref=-1)" if intensity is None else "i(rel, dose, ref=-1)"
    formula = f"spend ~ {regressor} | {' + '.join(fixed_effects)}"
    peer_vcov = {"iid": "iid", "HC1": "hetero"}.get(vcov) if isinstance(vcov, str) else vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = pf.feols(formula, panel, vcov=peer_vcov, weights=weights, fixef_tol=1e-12)
    covariance = peer._vcov
    if isinstance(vcov, dict):
        (cluster,) = vcov.values()
        levels = {fe: panel[fe].nunique() for fe in fixed_effects}
        nested = [fe for fe in fixed_effects if panel.groupby(fe)[cluster].nunique().max() == 1]
        df_k = len(peer.coef()) + sum(levels.values()) - (len(levels) - 1)
        df_k -= sum(levels[fe] - 1 for fe in nested)
        covariance = covariance * (peer._N - peer._df_k) / (peer._N - df_k)
    return peer.coef().to_numpy(), np.sqrt(np.diag(covariance))


@pytest.mark.parametrize("vcov", list(VCOVS.values()), ids=list(VCOVS))
@pytest.mark.parametrize("weights", [None, "w"], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("intensity", [None, DOSE], ids=["binary", "intensity"])
@pytest.mark.parametrize("effects", list(FIXED_EFFECTS))
def test_sparse_path_equals_the_dense_path_and_pyfixest(
    panel, monkeypatch, effects, intensity, weights, vcov
):
    fixed_effects = FIXED_EFFECTS[effects]
    with monkeypatch.context() as patch:  # the n x k matrix is never built
        patch.setattr(DenseDesign, "absorb", _refuse_dense)
        res = _fit(panel, fixed_effects, intensity, weights, vcov)
    dense = _dense_fit(monkeypatch, panel, fixed_effects, intensity, weights, vcov)
    np.testing.assert_allclose(res.params.to_numpy(), dense.params.to_numpy(), rtol=SAME_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), dense.bse.to_numpy(), rtol=SAME_RTOL)
    assert res.df_t == dense.df_t
    dose = None if intensity is None else "dose"
    coefficients, errors = _pyfixest(panel, fixed_effects, dose, weights, vcov)
    assert len(coefficients) == len(res.params)
    np.testing.assert_allclose(res.params.to_numpy(), coefficients, rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), errors, rtol=SE_RTOL)


def _refuse_dense(*args, **kwargs):
    raise AssertionError("the dense design was built")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("effects", list(FIXED_EFFECTS))
def test_absorb_takes_the_sparse_path(panel, effects, weighted):
    codes = [pd.factorize(panel[name])[0] for name in FIXED_EFFECTS[effects]]
    weights = panel["w"].to_numpy() if weighted else None
    fe = FixedEffects.from_codes(FIXED_EFFECTS[effects], codes, weights)
    column = np.where(panel["rel"].to_numpy() >= 0, panel["rel"].to_numpy() % 4, -1)
    design = IndicatorDesign.absorb(["a", "b", "c", "d"], column, np.ones(column.size), fe)
    assert isinstance(design, UnbalancedIndicatorDesign)
    assert not hasattr(design, "matrix")


def test_a_balanced_unweighted_panel_keeps_the_balanced_design():
    unit, period = np.repeat(np.arange(5), 4), np.tile(np.arange(4), 5)
    fe = FixedEffects.from_codes(["unit", "period"], [unit, period])
    column = np.where(period - unit % 3 == 1, 0, -1)
    design = IndicatorDesign.absorb(["a"], column, np.ones(20), fe)
    assert type(design) is IndicatorDesign


def test_hetero_meat_in_row_chunks_equals_one_chunk(panel, monkeypatch):
    args = (panel, FIXED_EFFECTS["three"], DOSE, "w", "HC1")
    whole = _fit(*args)
    monkeypatch.setattr(sparse_module, "_ROW_CHUNK", 97)
    chunked = _fit(*args)
    np.testing.assert_allclose(chunked.bse.to_numpy(), whole.bse.to_numpy(), rtol=SAME_RTOL)


@pytest.mark.parametrize("weights", [None, "w"], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("intensity", [None, DOSE], ids=["binary", "intensity"])
def test_sun_abraham_on_an_unbalanced_panel_equals_the_dense_path(
    panel, monkeypatch, intensity, weights
):
    """SunAbraham without covariates takes the same design; its cohort-weighted event-time
    effects (whose pyfixest parity is tested in test_sun_abraham.py) do not change."""

    def fit():
        return SunAbraham(
            panel, "spend", UNIT, TIME, COHORT, intensity=intensity, weights=weights
        ).fit(vcov="CRV1", tol=1e-12)

    with monkeypatch.context() as patch:
        patch.setattr(DenseDesign, "absorb", _refuse_dense)
        res = fit()
    with monkeypatch.context() as patch:
        patch.setattr(UnbalancedIndicatorDesign, "applies", staticmethod(lambda fe: False))
        dense = fit()
    np.testing.assert_allclose(res.params.to_numpy(), dense.params.to_numpy(), rtol=SAME_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), dense.bse.to_numpy(), rtol=SAME_RTOL)
    saturated, dense_saturated = res.saturated, dense.saturated
    np.testing.assert_allclose(
        saturated.params.to_numpy(), dense_saturated.params.to_numpy(), rtol=SAME_RTOL
    )
    np.testing.assert_allclose(
        saturated.bse.to_numpy(), dense_saturated.bse.to_numpy(), rtol=SAME_RTOL
    )


@pytest.mark.parametrize("vcov", [{"CRV1": UNIT}, {"CRV1": "region"}, {"CRV1": TIME}, "HC1"])
def test_a_panel_stored_unit_by_unit_equals_the_dense_path(panel, monkeypatch, vcov):
    """Rows sorted by unit: the cluster sums are built without sorting (CRV1 by the unit), and
    clusters that cut across units (weeks) need the units' means of X - D B."""
    ordered = panel.sort_values([UNIT, TIME], kind="stable")
    args = (ordered, FIXED_EFFECTS["three"], DOSE, "w", vcov)
    with monkeypatch.context() as patch:
        patch.setattr(DenseDesign, "absorb", _refuse_dense)
        res = _fit(*args)
    dense = _dense_fit(monkeypatch, *args)
    np.testing.assert_allclose(res.params.to_numpy(), dense.params.to_numpy(), rtol=SAME_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), dense.bse.to_numpy(), rtol=SAME_RTOL)
