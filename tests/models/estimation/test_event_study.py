"""EventStudy against independent references.

References: pyfixest 0.60 numbers stored in tests/data/mpdta_twfe_pyfixest.json, statsmodels OLS
with dummy variables, pyfixest run in the test on simulated panels, and simulated panels whose
true per-yuan effect is known.

pyfixest 0.60 detects a fixed effect nested in the cluster variable nondeterministically (it
depends on the interpreter's hash seed), so in-test pyfixest comparisons use iid, HC1 or a
cluster variable with no fixed effect nested in it; CRV1 by unit is checked against the stored
fixest-convention numbers and against statsmodels with the correction applied by hand.
"""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from models import CollinearityWarning, ConsumerSpendModel, EventStudy
from models.consumer.groups import DEFAULT_SEGMENTS, Churn, Response
from models.estimation import absorb
from tests.conftest import DATA

COEF_RTOL = 1e-8
SE_RTOL = 1e-6


@pytest.fixture(scope="module")
def mpdta_reference() -> dict:
    return json.loads((DATA / "mpdta_twfe_pyfixest.json").read_text())


def _mpdta_study(df: pd.DataFrame, **kwargs) -> EventStudy:
    return EventStudy(
        df, outcome="lemp", unit="countyreal", time="year", cohort="cohort",
        window=(-4, 3), ref=-1, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("vcov", "key"), [("CRV1", "se_CRV1_countyreal"), ("iid", "se_iid"), ("HC1", "se_HC1")]
)
def test_mpdta_matches_stored_pyfixest_numbers(mpdta, mpdta_reference, vcov, key):
    effects = _mpdta_study(mpdta).fit(vcov=vcov).event_time_effects()
    expected_estimate = pd.Series(mpdta_reference["estimate"]).rename(int)
    expected_se = pd.Series(mpdta_reference[key]).rename(int)
    np.testing.assert_allclose(
        effects["estimate"], expected_estimate.loc[effects.index], rtol=COEF_RTOL
    )
    np.testing.assert_allclose(effects["se"], expected_se.loc[effects.index], rtol=SE_RTOL)


def test_mpdta_matches_statsmodels_dummies(mpdta):
    """Coefficients equal OLS with county and year dummies; CRV1 equals statsmodels' clustered
    sandwich with fixest's small-sample factor (county FE nested in the cluster)."""
    df = mpdta.copy()
    rel = (df["year"] - df["cohort"]).fillna(-1).astype(int)
    for k in [-4, -3, -2, 0, 1, 2, 3]:
        df[f"d{k + 4}"] = (rel == k).astype(float)
    terms = " + ".join(f"d{k + 4}" for k in [-4, -3, -2, 0, 1, 2, 3])
    sm = smf.ols(f"lemp ~ {terms} + C(countyreal) + C(year)", df).fit(
        cov_type="cluster",
        cov_kwds={"groups": df["countyreal"], "use_correction": False},
    )
    res = _mpdta_study(mpdta).fit(vcov="CRV1")
    names = [f"d{k + 4}" for k in [-4, -3, -2, 0, 1, 2, 3]]
    np.testing.assert_allclose(res.params.to_numpy(), sm.params[names], rtol=COEF_RTOL)
    n, k, n_clusters = len(df), 7, df["countyreal"].nunique()
    # fixest: G/(G-1) (n-1)/(n-K), K = 7 slopes + year FE (5 - 1) + 1 (county FE nested).
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - k - 4 - 1)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(factor) * sm.bse[names], rtol=SE_RTOL)
    assert res.df_t == n_clusters - 1
    assert res.nobs == n


def test_row_order_and_absorption_path_do_not_change_the_fit(mpdta):
    """Grid layout (exact), shuffled rows (exact, bincount) and the general solver (a third,
    constant fixed effect forces it) give the same numbers."""
    reference = _mpdta_study(mpdta.sort_values(["countyreal", "year"])).fit()
    shuffled = mpdta.sample(frac=1.0, random_state=3)
    by_bincount = _mpdta_study(shuffled).fit()
    with_map = _mpdta_study(
        shuffled.assign(one=1), fixed_effects=["countyreal", "year", "one"]
    ).fit(tol=1e-12)
    for res in (by_bincount, with_map):
        np.testing.assert_allclose(res.params, reference.params, rtol=1e-9)
        np.testing.assert_allclose(res.bse, reference.bse, rtol=1e-7)


def _homogeneous_model(loss_per_yuan: float = 1.0) -> ConsumerSpendModel:
    """Every victim loses the same spend per yuan of fake: no heterogeneity, no churn, and a
    loss small enough that the cap (no spend below zero) binds in under 1% of response weeks."""
    segments = tuple(
        s.model_copy(update={"response_multiplier": 1.0, "churn_multiplier": 1.0})
        for s in DEFAULT_SEGMENTS
    )
    return ConsumerSpendModel(
        segments=segments,
        response=Response(loss_per_yuan=loss_per_yuan, dispersion=0.0, tenure_slope=0.0),
        churn=Churn(probability=0.0),
    )


@pytest.fixture(scope="module")
def simulated():
    return ConsumerSpendModel().simulate(n_consumers=4_000, n_weeks=22, seed=11)


def _binned_event_time(panel: pd.DataFrame, lo: int, hi: int, ref: int) -> pd.Series:
    rel = (panel["week"] - panel["fake_week"]).clip(lo, hi)
    return rel.fillna(ref).astype(int)


@pytest.mark.parametrize("vcov", ["iid", "HC1", {"CRV1": "segment"}])
def test_intensity_study_matches_pyfixest(simulated, vcov):
    pf = pytest.importorskip("pyfixest")
    panel, _ = simulated
    panel = panel.assign(rel=_binned_event_time(panel, -4, 12, -1))
    res = EventStudy(
        panel, "spend", "consumer_id", "week", "fake_week", window=(-4, 12), ref=-1,
        intensity="fake_value",
    ).fit(vcov=vcov)  # fmt: skip
    peer = pf.feols(
        "spend ~ i(rel, fake_value, ref=-1) | consumer_id + week",
        panel.assign(fake_value=panel["fake_value"].fillna(0.0)),
        vcov=vcov if vcov != "HC1" else "hetero",
    )
    np.testing.assert_allclose(res.params.to_numpy(), peer.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), peer.se().to_numpy(), rtol=SE_RTOL)


def _fixest_vcov(peer, data: pd.DataFrame, fixed_effects, clusters) -> np.ndarray:
    """pyfixest's covariance with fixest's nested degrees of freedom and eigenvalue floor.

    pyfixest 0.60 matches fixed-effect names to columns in an order that depends on the hash
    seed, so it can count the wrong fixed effects as nested in the cluster; its bread and meat
    are right, so this recomputes the scalar (n - 1) / (n - df_k) with fixest's df_k (nesting
    counted here with pandas). fixest (>= 0.13) also floors negative eigenvalues of a two-way
    clustered covariance at zero; pyfixest does not.
    """
    levels = {fe: data[fe].nunique() for fe in fixed_effects}
    df_k_full = len(peer.coef()) + sum(levels.values()) - (len(levels) - 1)
    nested = [
        fe for fe in fixed_effects
        if any(data.groupby(fe)[c].nunique().max() == 1 for c in clusters)
    ]  # fmt: skip
    df_k = df_k_full - sum(levels[fe] - 1 for fe in nested)
    vcov = peer._vcov * (peer._N - peer._df_k) / (peer._N - df_k)
    values, vectors = np.linalg.eigh(vcov)
    return (vectors * np.clip(values, 0, None)) @ vectors.T


@pytest.mark.parametrize("solver", ["direct", "alternating projections"])
def test_unbalanced_three_fixed_effects_two_way_clusters_match_pyfixest(
    simulated, monkeypatch, solver
):
    """Rows missing at random and a segment x week effect, solved directly (one large fixed
    effect and small ones) or, with that turned off, by alternating projections."""
    pf = pytest.importorskip("pyfixest")
    if solver != "direct":
        monkeypatch.setattr(absorb, "SMALL_LEVELS", -1)
    panel, _ = simulated
    rng = np.random.default_rng(5)
    panel = panel.loc[rng.random(len(panel)) > 0.1].copy()
    panel["rel"] = _binned_event_time(panel, -3, 8, -1)
    panel["segment_week"] = panel["segment"].astype(str) + "_" + panel["week"].astype(str)
    panel["region"] = panel["consumer_id"] % 37
    res = EventStudy(
        panel, "spend", "consumer_id", "week", "fake_week", window=(-3, 8), ref=-1,
        fixed_effects=["consumer_id", "week", "segment^week"],
    ).fit(vcov={"CRV1": "region+week"}, tol=1e-10)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        peer = pf.feols(
            "spend ~ i(rel, ref=-1) | consumer_id + week + segment_week",
            panel,
            vcov={"CRV1": "region+week"},
            fixef_tol=1e-10,
        )
    np.testing.assert_allclose(res.params.to_numpy(), peer.coef().to_numpy(), rtol=1e-6)
    expected = _fixest_vcov(
        peer, panel, ["consumer_id", "week", "segment_week"], ["region", "week"]
    )
    np.testing.assert_allclose(res.cov_params().to_numpy(), expected, rtol=1e-5, atol=1e-8)
    assert res.df_t == 22 - 1  # min(37 regions, 22 weeks) - 1


def test_dropping_rows_beyond_the_window_matches_pyfixest_on_the_subset(simulated):
    pf = pytest.importorskip("pyfixest")
    panel, _ = simulated
    res = EventStudy(
        panel, "spend", "consumer_id", "week", "fake_week", window=(-3, 6), ref=-1,
        bin_endpoints=False,
    ).fit(vcov="iid")  # fmt: skip
    rel = panel["week"] - panel["fake_week"]
    subset = panel.loc[rel.isna() | rel.between(-3, 6)].assign(rel=rel.fillna(-1).astype(int))
    peer = pf.feols("spend ~ i(rel, ref=-1) | consumer_id + week", subset, vcov="iid")
    assert res.nobs == len(subset)
    np.testing.assert_allclose(res.params.to_numpy(), peer.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), peer.se().to_numpy(), rtol=SE_RTOL)


def test_base_stagg_unsorted_matches_pyfixest():
    """fixest's staggered example panel, stored year-major (not unit-major)."""
    pf = pytest.importorskip("pyfixest")
    df = pd.read_csv(DATA / "base_stagg.csv")
    df["cohort"] = df["year_treated"].where(df["year_treated"] < 10000)
    res = EventStudy(df, "y", "id", "year", "cohort", window=(-9, 8), ref=-1).fit(vcov="HC1")
    df["rel"] = df["time_to_treatment"].where(df["time_to_treatment"] > -1000, -1)
    peer = pf.feols("y ~ i(rel, ref=-1) | id + year", df, vcov="hetero")
    np.testing.assert_allclose(res.params.to_numpy(), peer.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), peer.se().to_numpy(), rtol=SE_RTOL)


def test_homogeneous_effect_is_recovered():
    """With the same per-yuan loss for every victim, the 12-week per-yuan sum estimates the
    truth: its 95% CI covers it, on a panel of 60,000 consumers."""
    panel, truth = _homogeneous_model().simulate(n_consumers=60_000, n_weeks=22, seed=8)
    assert truth.capped_share < 0.01
    assert truth.multiplier == pytest.approx(truth.intensity_multiplier, rel=0.03)
    res = EventStudy(
        panel, "spend", "consumer_id", "week", "fake_week", window=(-4, 12), ref=-1,
        intensity="fake_value",
    ).fit()  # fmt: skip
    low, high = res.cumulative_conf_int(0, 11)
    assert low <= truth.intensity_multiplier <= high
    estimate, se = res.cumulative(0, 11)
    assert abs(estimate - truth.intensity_multiplier) < 3 * se
    assert res.pretrend_test().pvalue > 0.001


@pytest.mark.slow
def test_cumulative_ci_coverage_is_near_95_percent():
    """Monte Carlo: 200 panels of 60,000 consumers with a homogeneous per-yuan effect.

    Coverage of the truth by the 95% CI of cumulative(0, 11): the Monte-Carlo SE of a 95%
    coverage over 200 panels is 1.5 points, so the test accepts 92% to 98%; the mean clustered
    SE must match the spread of the estimates within 15%. (With 15,000 consumers, about 1,300
    victims with heavy-tailed spend, coverage falls to about 91%: a finite-cluster effect.)
    """
    model = _homogeneous_model()
    covered, estimates, ses = [], [], []
    for replication in range(200):
        panel, truth = model.simulate(n_consumers=60_000, n_weeks=22, seed=5000 + replication)
        res = EventStudy(
            panel, "spend", "consumer_id", "week", "fake_week", window=(-4, 12), ref=-1,
            intensity="fake_value",
        ).fit()  # fmt: skip
        low, high = res.cumulative_conf_int(0, 11)
        covered.append(low <= truth.intensity_multiplier <= high)
        estimate, se = res.cumulative(0, 11)
        estimates.append(estimate - truth.intensity_multiplier)
        ses.append(se)
    coverage = float(np.mean(covered))
    assert 0.92 <= coverage <= 0.98, coverage
    assert np.mean(ses) == pytest.approx(np.std(estimates), rel=0.15)
    bias = float(np.mean(estimates))
    assert abs(bias) < 3 * np.std(estimates) / np.sqrt(len(estimates)), bias


def test_results_api(mpdta):
    res = _mpdta_study(mpdta).fit()
    effects = res.event_time_effects()
    assert effects.index.tolist() == [-4, -3, -2, 0, 1, 2, 3]
    assert effects.index.name == "event_time"
    # cumulative is the sum of the coefficients with the SE of that sum.
    estimate, se = res.cumulative(0, 3)
    weights = np.array([0, 0, 0, 1, 1, 1, 1.0])
    assert estimate == pytest.approx(weights @ res.params.to_numpy(), rel=1e-12)
    assert se == pytest.approx(np.sqrt(weights @ res.cov_params().to_numpy() @ weights), rel=1e-12)
    row = res.t_test(weights)
    assert row["estimate"].iloc[0] == pytest.approx(estimate, rel=1e-12)
    low, high = res.cumulative_conf_int(0, 3)
    assert (low, high) == pytest.approx((row["ci_low"].iloc[0], row["ci_high"].iloc[0]))
    # The reference period contributes zero.
    assert res.cumulative(-2, 0).estimate == pytest.approx(
        effects.loc[[-2, 0], "estimate"].sum(), rel=1e-12
    )
    pretrend = res.pretrend_test()
    assert pretrend.df_num == 3 and pretrend.df_denom == 499
    assert pretrend.statistic == pytest.approx(res.wald_test(np.eye(7)[:3]).statistic, rel=1e-12)
    with pytest.raises(ValueError, match=r"event times 0\.\.5 must lie in the window -4\.\.3"):
        res.cumulative(0, 5)
    text = res.summary().as_text()
    assert "EventStudy" in text and "CRV1 by countyreal" in text and "-4..3 (ref -1)" in text
    assert pickle.loads(pickle.dumps(res)).params.equals(res.params)


def test_fit_leaves_the_model_unchanged_and_repeats(mpdta):
    study = _mpdta_study(mpdta)
    before = dict(vars(study))
    first, second = study.fit(), study.fit()
    assert vars(study).keys() == before.keys()
    assert all(vars(study)[k] is before[k] for k in before)
    assert first.params.equals(second.params) and first.bse.equals(second.bse)


def test_all_treated_panel_drops_a_collinear_indicator_with_a_warning(mpdta):
    """Without never-treated units, a fully binned window has one indicator too many."""
    treated_only = mpdta.loc[mpdta["cohort"].notna()]
    with pytest.warns(CollinearityWarning, match=r"event_time::"):
        res = _mpdta_study(treated_only).fit()
    assert len(res.collinear) == 1
    assert len(res.params) == 6


def _bad(df: pd.DataFrame, **changes) -> pd.DataFrame:
    df = df.copy()
    for column, (row, value) in changes.items():
        df.loc[row, column] = value
    return df


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (lambda d: pd.concat([d, d.iloc[[5]]]), {},
         r"columns 'countyreal', 'year': expected one row per unit and period, found 1 repeated"),
        (lambda d: _bad(d, lemp=(3, np.nan)), {},
         r"column 'lemp': expected finite numbers, found 1 missing"),
        (lambda d: _bad(d, cohort=(d.index[d["cohort"].notna()][0], 2005.5)), {},
         r"column 'cohort': expected one value per unit"),
        (lambda d: d.assign(cohort=d["cohort"].replace(2004, 2001)), {},
         r"column 'cohort': cohort\(s\) 2001 are not periods of column 'year'"),
        (lambda d: d.assign(cohort=d["cohort"].fillna(-np.inf)), {},
         r"column 'cohort': -inf is not a cohort"),
        (lambda d: d.assign(year=d["year"] + 0.5), {},
         r"column 'year': expected integer periods"),
        (lambda d: d, {"window": (3, -4)}, r"window: expected two integers lo < hi"),
        (lambda d: d, {"window": ("a", "b")}, r"window: expected two integers lo < hi"),
        (lambda d: d, {"window": (-2, 3, 4)}, r"window: expected two integers lo < hi"),
        (lambda d: d, {"ref": None}, r"ref: expected an integer event time"),
        (lambda d: d, {"fixed_effects": []}, r"fixed_effects: expected a non-empty list"),
        (lambda d: d, {"fixed_effects": ["countyreal", "state"]},
         r"fixed effect 'state' not in the data"),
        (lambda d: d.iloc[:0], {}, r"data: the panel has no rows"),
        (lambda d: d, {"ref": 5}, r"ref: expected an integer event time in the window -4\.\.3"),
        (lambda d: d.drop(columns="lemp"), {}, r"column 'lemp' not in the data"),
        (lambda d: d.assign(dose=np.where(d["cohort"].notna(), np.nan, 1.0)),
         {"intensity": "dose"},
         r"column 'dose': expected a positive finite dose for every treated unit, got nan for"),
        (lambda d: d.assign(lemp=d["lemp"].astype(str)), {},
         r"column 'lemp': expected numbers, got dtype"),
    ],
)  # fmt: skip
def test_bad_panels_name_the_column(mpdta, mutate, kwargs, message):
    df = mutate(mpdta.copy())
    options = {"window": (-4, 3), "ref": -1} | kwargs
    with pytest.raises(ValueError, match=message):
        EventStudy(df, "lemp", "countyreal", "year", "cohort", **options)


def test_never_treated_may_be_nan_or_inf(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nan_version = _mpdta_study(mpdta).fit()
        inf_version = _mpdta_study(mpdta.assign(cohort=mpdta["cohort"].fillna(np.inf))).fit()
    assert nan_version.params.equals(inf_version.params)


def test_joint_test_with_fewer_clusters_than_restrictions_is_refused(mpdta):
    """Three clusters give a covariance of rank 2: three leads cannot be tested jointly."""
    df = mpdta.assign(group=mpdta["countyreal"] % 3)
    res = _mpdta_study(df).fit(vcov={"CRV1": "group"})
    with pytest.raises(ValueError, match=r"has rank 2, so they cannot be tested jointly; with 3 "
                                         r"clusters a joint test can have at most 2"):  # fmt: skip
        res.pretrend_test()
    assert np.isfinite(res.wald_test(np.eye(7)[:2]).statistic)
