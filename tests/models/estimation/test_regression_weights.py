"""Sampling weights in EventStudy and SunAbraham against independent references.

References: pyfixest 0.60 ``feols(..., weights="w")`` run in the test on the same event-time
(or cohort x event-time) regressors, statsmodels WLS with unit and period dummies, and two
checks that need no peer: constant weights give the unweighted fit, and integer weights (one per
unit) give the fit on the data with each unit repeated that many times.

pyfixest 0.60 decides nondeterministically whether the unit fixed effect is nested in the unit
cluster (see tests/models/estimation/test_event_study.py), so its CRV1 covariance is rescaled
from the count it used (``_df_k``) to fixest's (the nested unit effect counts as one).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from models import ConsumerSpendModel, EventStudy, SunAbraham

# The simulated panels' doses are heavy-tailed; the warning is about inference, not parity.
pytestmark = pytest.mark.filterwarnings("ignore::models.exceptions.FewEffectiveUnitsWarning")

COEF_RTOL = 1e-8
SE_RTOL = 1e-6
SAME_RTOL = 1e-10
UNIT, TIME, COHORT, DOSE = "consumer_id", "week", "fake_week", "fake_value"
WINDOW, REF = (-3, 4), -1


@pytest.fixture(scope="module")
def balanced() -> pd.DataFrame:
    """1,500 consumers x 10 weeks (about 75 treated), without the week-1 cohort (no week before:
    SunAbraham drops it), with a sampling weight varying by row."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_500, n_weeks=10, seed=4)
    panel = panel.loc[panel[COHORT] != 1].reset_index(drop=True)
    panel["w"] = np.random.default_rng(7).uniform(0.2, 3.0, len(panel))
    return panel


@pytest.fixture(scope="module")
def unbalanced(balanced) -> pd.DataFrame:
    """A tenth of the rows missing at random, the rest shuffled."""
    kept = balanced.loc[np.random.default_rng(8).random(len(balanced)) > 0.1]
    return kept.sample(frac=1.0, random_state=3)


def _pyfixest(formula: str, data: pd.DataFrame, vcov: str):
    """pyfixest's weighted fit: coefficients and the covariance with fixest's count of k."""
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = pf.feols(formula, data, weights="w", vcov={"CRV1": UNIT} if vcov == "CRV1" else vcov)
    covariance = peer._vcov
    if vcov == "CRV1":  # fixest: k slopes, the period effects, one for the nested unit effect
        df_k = len(peer.coef()) + data[TIME].nunique()
        covariance = covariance * (peer._N - peer._df_k) / (peer._N - df_k)
    return peer.coef(), covariance, peer._N


def _event_dummies(
    panel: pd.DataFrame, dose: str | None, *, binned: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Event-time dummies of the window, end points binned (or not), times the dose if any."""
    rel = panel[TIME] - panel[COHORT]
    rel = rel.clip(*WINDOW) if binned else rel
    value = 1.0 if dose is None else panel[dose].fillna(0.0)
    data = panel.copy()
    names = []
    for k in range(WINDOW[0], WINDOW[1] + 1):
        if k != REF:
            names.append(f"d{k - WINDOW[0]}")
            data[names[-1]] = (rel == k).astype(float) * value
    return data, names


def _event_study(panel: pd.DataFrame, **kwargs) -> EventStudy:
    return EventStudy(panel, "spend", UNIT, TIME, COHORT, window=WINDOW, ref=REF, **kwargs)


@pytest.mark.parametrize("vcov", ["CRV1", "HC1", "iid"])
@pytest.mark.parametrize("dose", [None, DOSE])
@pytest.mark.parametrize("panel_name", ["balanced", "unbalanced"])
def test_event_study_matches_pyfixest_weighted_feols(request, panel_name, dose, vcov):
    panel = request.getfixturevalue(panel_name)
    data, names = _event_dummies(panel, dose)
    coef, covariance, nobs = _pyfixest(f"spend ~ {' + '.join(names)} | {UNIT} + {TIME}", data, vcov)
    res = _event_study(panel, intensity=dose, weights="w").fit(vcov=vcov)
    np.testing.assert_allclose(res.params.to_numpy(), coef[names].to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(covariance)), rtol=SE_RTOL)
    assert res.nobs == nobs


def test_event_study_other_fixed_effects_match_pyfixest(unbalanced):
    data, names = _event_dummies(unbalanced, DOSE)
    fixed_effects = f"{UNIT} + segment^{TIME}"
    coef, covariance, _ = _pyfixest(f"spend ~ {' + '.join(names)} | {fixed_effects}", data, "HC1")
    study = _event_study(
        unbalanced, intensity=DOSE, weights="w", fixed_effects=[UNIT, f"segment^{TIME}"]
    )
    res = study.fit(vcov="HC1")
    np.testing.assert_allclose(res.params.to_numpy(), coef[names].to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(covariance)), rtol=SE_RTOL)


def test_event_study_without_binning_matches_pyfixest_on_the_window(balanced):
    """bin_endpoints=False drops treated rows outside the window; the weights follow the rows."""
    rel = balanced[TIME] - balanced[COHORT]
    inside = balanced.loc[rel.isna() | rel.between(*WINDOW)]
    data, names = _event_dummies(inside, None, binned=False)
    coef, covariance, nobs = _pyfixest(
        f"spend ~ {' + '.join(names)} | {UNIT} + {TIME}", data, "CRV1"
    )
    res = _event_study(balanced, weights="w", bin_endpoints=False).fit(vcov="CRV1")
    np.testing.assert_allclose(res.params.to_numpy(), coef[names].to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(covariance)), rtol=SE_RTOL)
    assert res.nobs == nobs


@pytest.fixture(scope="module")
def small(balanced) -> pd.DataFrame:
    """Every treated consumer and 60 controls, 10 weeks: small enough for dummy variables."""
    treated = balanced.loc[balanced[COHORT].notna(), UNIT].unique()
    controls = balanced.loc[balanced[COHORT].isna(), UNIT].unique()[:60]
    return balanced.loc[balanced[UNIT].isin(np.concatenate([treated, controls]))]


@pytest.mark.parametrize("vcov", ["HC1", "CRV1"])
def test_event_study_matches_statsmodels_wls_with_dummies(small, vcov):
    """WLS on the event-time, unit and period dummies; the sandwich from statsmodels' pieces
    (weighted regressors and residuals) times fixest's small-sample factor."""
    data, names = _event_dummies(small, None)
    x = pd.concat(
        [
            data[names],
            pd.get_dummies(data[UNIT], prefix="u", dtype=float),
            pd.get_dummies(data[TIME], prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    wls = sm.WLS(data["spend"], x, weights=data["w"]).fit()
    n, p = x.shape
    bread = np.linalg.inv(wls.model.wexog.T @ wls.model.wexog)
    scores = wls.model.wexog * wls.wresid.to_numpy()[:, None]  # w_i x_i e_i, over sqrt(w_i)
    if vcov == "HC1":  # n / (n - K), K every coefficient
        meat, factor = scores.T @ scores, n / (n - p)
    else:  # G / (G - 1) (n - 1) / (n - K), the unit dummies (nested) counting as one
        by_unit = pd.DataFrame(scores).groupby(data[UNIT].to_numpy()).sum().to_numpy()
        n_units = by_unit.shape[0]
        k = len(names) + data[TIME].nunique() - 1 + 1
        meat, factor = by_unit.T @ by_unit, n_units / (n_units - 1) * (n - 1) / (n - k)
    se = np.sqrt(factor * np.diag(bread @ meat @ bread))[: len(names)]
    res = _event_study(small, weights="w").fit(vcov=vcov)
    np.testing.assert_allclose(res.params.to_numpy(), wls.params[names], rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), se, rtol=SE_RTOL)


@pytest.mark.parametrize("model", ["EventStudy", "SunAbraham"])
@pytest.mark.parametrize("vcov", ["CRV1", "HC1", "iid"])
def test_constant_weights_give_the_unweighted_fit(balanced, model, vcov):
    """Weighted (dense design) and unweighted (the balanced panel's sparse design) fits agree."""
    panel = balanced.assign(w=3.7)
    if model == "EventStudy":
        weighted = _event_study(panel, weights="w").fit(vcov=vcov)
        plain = _event_study(panel).fit(vcov=vcov)
    else:
        weighted = SunAbraham(panel, "spend", UNIT, TIME, COHORT, weights="w").fit(vcov=vcov)
        plain = SunAbraham(panel, "spend", UNIT, TIME, COHORT).fit(vcov=vcov)
        np.testing.assert_allclose(weighted.overall, plain.overall, rtol=SAME_RTOL)
    np.testing.assert_allclose(weighted.params, plain.params, rtol=SAME_RTOL, atol=1e-10)
    np.testing.assert_allclose(weighted.bse, plain.bse, rtol=SAME_RTOL)


def _repeated_units(panel: pd.DataFrame, copies: pd.Series) -> pd.DataFrame:
    """Each unit repeated ``copies[unit]`` times, every copy a unit of its own."""
    repeats = copies.loc[panel[UNIT]].to_numpy()
    data = panel.loc[panel.index.repeat(repeats)].copy()
    data["copy"] = data.groupby(level=0).cumcount()
    data[UNIT] = data[UNIT].astype(np.int64) * 10 + data["copy"]
    return data.drop(columns="copy")


@pytest.mark.parametrize("dose", [None, DOSE])
@pytest.mark.parametrize("model", ["EventStudy", "SunAbraham"])
def test_integer_weights_are_repeated_units(balanced, model, dose):
    """Weight m on a unit's rows fits as m copies of the unit: same coefficients, and for
    SunAbraham the same cohort shares (weighted shares are the repeated data's counts)."""
    units = balanced[UNIT].unique()
    copies = pd.Series(np.random.default_rng(9).integers(1, 4, units.size), index=units)
    panel = balanced.assign(w=copies.loc[balanced[UNIT]].to_numpy().astype(float))
    repeated = _repeated_units(balanced, copies)
    if model == "EventStudy":
        weighted = _event_study(panel, intensity=dose, weights="w").fit()
        plain = _event_study(repeated, intensity=dose).fit()
    else:
        weighted = SunAbraham(panel, "spend", UNIT, TIME, COHORT, intensity=dose, weights="w").fit()
        plain = SunAbraham(repeated, "spend", UNIT, TIME, COHORT, intensity=dose).fit()
        assert weighted.overall[0] == pytest.approx(plain.overall[0], rel=COEF_RTOL)
        np.testing.assert_allclose(
            weighted.cohort_effects["weight"], plain.cohort_effects["weight"], rtol=COEF_RTOL
        )
    np.testing.assert_allclose(weighted.params, plain.params, rtol=COEF_RTOL)


def _cell_labels(panel: pd.DataFrame) -> pd.Series:
    """A cohort x event-time label for treated rows, 'ref' at event time -1 and for controls."""
    rel = panel[TIME] - panel[COHORT]
    label = "e" + rel.astype("Int64").astype(str) + "_g" + panel[COHORT].astype("Int64").astype(str)
    return label.where(rel.notna() & (rel != REF), "ref").astype(str)


def _weighted_sunab(
    panel: pd.DataFrame, dose: str | None, vcov: str, covariates: tuple[str, ...] = ()
) -> dict[str, object]:
    """Sun and Abraham by hand: pyfixest's weighted saturated regression, each cohort's share at
    an event time its sum of weights (times squared doses) there, the delta-method covariance."""
    data = panel.assign(cell=_cell_labels(panel))
    term = f"i(cell, {dose}, ref='ref')" if dose else "i(cell, ref='ref')"
    formula = f"spend ~ {' + '.join([*covariates, term])} | {UNIT} + {TIME}"
    coef, covariance, nobs = _pyfixest(formula, data, vcov)
    cell_terms = coef.index.str.startswith("cell::")
    coef, covariance = coef[cell_terms], covariance[np.ix_(cell_terms, cell_terms)]
    cells = data.loc[data["cell"] != "ref"]
    mass = cells["w"] * (cells[dose] ** 2 if dose else 1.0)
    mass = mass.groupby(cells["cell"]).sum()
    label = coef.index.str.extract(r"cell::([^:]+)", expand=False)
    event_time = label.str.extract(r"e(-?\d+)_", expand=False).astype(int).to_numpy()
    times = np.unique(event_time)
    combination = np.zeros((times.size + 1, coef.size))
    for row, e in enumerate(times):
        combination[row, event_time == e] = mass.loc[label[event_time == e]].to_numpy()
    combination[-1, event_time >= 0] = mass.loc[label[event_time >= 0]].to_numpy()
    combination /= combination.sum(axis=1, keepdims=True)
    estimates = combination @ coef.to_numpy()
    se = np.sqrt(np.diag(combination @ covariance @ combination.T))
    return {"params": estimates[:-1], "bse": se[:-1], "times": times, "overall": estimates[-1],
            "overall_se": se[-1], "nobs": nobs}  # fmt: skip


@pytest.mark.parametrize(
    ("panel_name", "dose", "vcov"),
    [
        ("balanced", None, "CRV1"),
        ("balanced", None, "HC1"),
        ("balanced", DOSE, "CRV1"),
        ("unbalanced", None, "CRV1"),
        ("unbalanced", DOSE, "iid"),
    ],
)
def test_sun_abraham_matches_weighted_saturated_regression(request, panel_name, dose, vcov):
    panel = request.getfixturevalue(panel_name)
    expected = _weighted_sunab(panel, dose, vcov)
    res = SunAbraham(panel, "spend", UNIT, TIME, COHORT, intensity=dose, weights="w").fit(vcov=vcov)
    assert res.event_times == tuple(expected["times"])
    np.testing.assert_allclose(res.params.to_numpy(), expected["params"], rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), expected["bse"], rtol=SE_RTOL)
    assert res.overall[0] == pytest.approx(expected["overall"], rel=COEF_RTOL)
    assert res.overall[1] == pytest.approx(expected["overall_se"], rel=SE_RTOL)
    assert res.nobs == expected["nobs"]


def test_sun_abraham_covariate_matches_weighted_saturated_regression(unbalanced):
    panel = unbalanced.assign(x=np.random.default_rng(10).normal(size=len(unbalanced)))
    expected = _weighted_sunab(panel, None, "CRV1", covariates=("x",))
    study = SunAbraham(panel, "spend", UNIT, TIME, COHORT, covariates=["x"], weights="w")
    res = study.fit(vcov="CRV1")
    np.testing.assert_allclose(res.params.to_numpy(), expected["params"], rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), expected["bse"], rtol=SE_RTOL)
    assert res.overall[0] == pytest.approx(expected["overall"], rel=COEF_RTOL)


def test_sun_abraham_last_cohort_control_matches_the_earlier_periods(unbalanced):
    """control='last' is the never-treated fit on the periods before the last cohort's
    treatment, that cohort counted as never treated; the weights follow the rows kept."""
    last = unbalanced[COHORT].max()
    subset = unbalanced.loc[unbalanced[TIME] < last]
    subset = subset.assign(**{COHORT: subset[COHORT].where(subset[COHORT] != last)})
    expected = _weighted_sunab(subset, None, "HC1")
    study = SunAbraham(unbalanced, "spend", UNIT, TIME, COHORT, control="last", weights="w")
    res = study.fit(vcov="HC1")
    np.testing.assert_allclose(res.params.to_numpy(), expected["params"], rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), expected["bse"], rtol=SE_RTOL)
    assert res.nobs == expected["nobs"]


@pytest.mark.parametrize("model", [EventStudy, SunAbraham])
def test_summary_names_the_weights(balanced, model):
    window = {"window": WINDOW} if model is EventStudy else {}
    weighted = model(balanced, "spend", UNIT, TIME, COHORT, weights="w", **window)
    plain = model(balanced, "spend", UNIT, TIME, COHORT, **window)
    assert weighted.fit().summary_rows()["Sampling weights:"] == "w"
    assert "Sampling weights:" not in plain.fit().summary_rows()


@pytest.mark.parametrize("model", [EventStudy, SunAbraham])
@pytest.mark.parametrize(
    ("fit_kwargs", "option"),
    [({"vcov": "CR3"}, "vcov='CR3'"), ({"pretrend": "bootstrap"}, "pretrend='bootstrap'")],
)
def test_options_without_a_weighted_version_are_refused(balanced, model, fit_kwargs, option):
    study = model(balanced, "spend", UNIT, TIME, COHORT, weights="w")
    with pytest.raises(ValueError, match=f"{option} is not supported with weights"):
        study.fit(**fit_kwargs)


@pytest.mark.parametrize("model", [EventStudy, SunAbraham])
def test_bad_weights_are_refused(balanced, model):
    with pytest.raises(ValueError, match="weights column 'w': expected positive"):
        model(balanced.assign(w=-1.0), "spend", UNIT, TIME, COHORT, weights="w")
