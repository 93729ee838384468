"""Sampling weights and clusters above the unit in ImputationDiD and TwoStageDiD.

References, none of them goodwill's code: statsmodels weighted least squares of the first stage
on the untreated rows, a dense-matrix computation of BJS's Theorem 3 (the weights ``v_it`` of the
untreated outcomes, the conservative variance summed by cluster), pyfixest's ``did2s`` (points and
did2s's GMM standard errors) and ``feols`` (the pre-trend regression), and fits on rows
duplicated in proportion to integer weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from models import ConsumerSpendModel
from models.estimation.imputation import ImputationDiD
from models.estimation.two_stage import TwoStageDiD

POINT_ATOL = 1e-8  # the same estimate computed another way (spend is in tens of yuan)
SE_RTOL = 1e-6  # standard errors, relative
EXACT = 1e-10  # the same formula with a rearranged sum: rounding error only
NEVER = -1000  # the event-time code of untreated rows in the two-stage event study


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """A small consumer panel with row weights, a region above the consumer, a cluster that
    changes within a consumer, and the columns the two-stage fit needs.

    Consumers victimised in week 1 have no untreated week, and those victimised in week 2 a
    single one, which pyfixest drops from its first stage as a singleton (R's did2s keeps it):
    both are left out, so every treated observation can be imputed by every reference.
    """
    df, _ = ConsumerSpendModel().simulate(n_consumers=600, n_weeks=10, seed=11)
    kept = df["fake_week"].isna() | df["fake_week"].gt(2.0)
    df = df.loc[kept, ["consumer_id", "week", "spend", "fake_week"]]
    df = df.reset_index(drop=True)
    rng = np.random.default_rng(5)
    treated = (df["week"] >= df["fake_week"]).to_numpy()
    event = (df["week"] - df["fake_week"]).to_numpy()
    unit_dose = rng.uniform(50.0, 400.0, df["consumer_id"].max() + 1)
    return df.assign(
        w=rng.uniform(0.5, 3.0, len(df)),
        one=1.0,
        region=df["consumer_id"] % 7,
        mixed=(df["consumer_id"] + df["week"] // 4) % 5,
        cid=df["consumer_id"].astype(str),
        fake_value=np.where(df["fake_week"].notna(), unit_dose[df["consumer_id"]], np.nan),
        treat=treated.astype(int),
        rel=np.where(treated, event, NEVER).astype(float),
    )


@pytest.fixture(scope="module")
def first_stage(panel) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels WLS of spend on consumer and week dummies over the untreated rows, weighted
    by ``w``: its residuals there and the imputed effects ``tau`` of the treated rows."""
    treated = panel["week"] >= panel["fake_week"]
    untreated = panel.loc[~treated]
    fit = smf.wls("spend ~ C(consumer_id) + C(week)", untreated, weights=untreated["w"]).fit()
    tau = panel.loc[treated, "spend"] - fit.predict(panel.loc[treated])
    return fit.resid.to_numpy(), tau.to_numpy()


def imputation(df: pd.DataFrame, **kwargs) -> ImputationDiD:
    return ImputationDiD(df, "spend", "consumer_id", "week", "fake_week", **kwargs)


def hand_bjs(df: pd.DataFrame, first_stage, cluster: str, dose: str | None = None):
    """Estimates and conservative standard errors by event time (and ``"static"``), BJS
    Theorem 3 with dense matrices: the first stage (statsmodels WLS weighted by ``w``),
    ``v^0 = -S0 Z0 (Z0'S0Z0)^-1 Z1'w1``, ``tau~`` the cohort x event-time mean weighted by
    ``v^2``, the variance summed by ``cluster``."""
    treated = (df["week"] >= df["fake_week"]).to_numpy()
    s = df["w"].to_numpy()
    residual, tau = first_stage
    z = pd.get_dummies(df[["consumer_id", "week"]].astype(str), drop_first=False)
    z = z.drop(columns=z.filter(like="week_").columns[:1]).to_numpy(float)
    z0, z1, s0 = z[~treated], z[treated], s[~treated]
    gram = z0.T @ (s0[:, None] * z0)
    event = (df["week"] - df["fake_week"]).to_numpy()[treated]
    omega = np.ones(treated.sum()) if dose is None else df[dose].to_numpy()[treated]
    cohort = df["fake_week"].to_numpy()[treated]
    cells = pd.Series(list(zip(cohort, event, strict=True)))
    groups = df[cluster].to_numpy()
    spend = df["spend"].to_numpy()
    out = {}
    for key in [*np.unique(event), "static"]:
        member = event >= 0 if key == "static" else event == key
        w1 = np.where(member, s[treated] * omega, 0.0)
        w1 = w1 / (w1 * omega).sum()
        v = np.zeros(len(df))
        v[treated] = w1
        v[~treated] = -s0 * (z0 @ np.linalg.solve(gram, z1.T @ w1))
        estimate = float(w1 @ tau)
        assert float(v @ spend) == pytest.approx(estimate, abs=POINT_ATOL)  # theta = sum v Y
        sq = pd.Series(w1**2)
        tau_bar = (sq * tau).groupby(cells).transform("sum") / sq.groupby(cells).transform("sum")
        eps = np.zeros(len(df))
        eps[~treated] = residual
        eps[treated] = np.where(member, tau - tau_bar.fillna(0.0).to_numpy(), 0.0)
        scores = pd.Series(v * eps).groupby(groups).sum()
        out[key] = (estimate, float(np.sqrt((scores**2).sum())))
    return out


def test_weighted_points_are_wls_imputations_averaged_with_the_weights(panel, first_stage):
    res = imputation(panel, weights="w").fit()
    rows = panel.loc[panel["week"] >= panel["fake_week"]].assign(tau=first_stage[1])
    rows = rows.assign(event=rows["week"] - rows["fake_week"], wtau=rows["w"] * rows["tau"])
    sums = rows.groupby("event")[["wtau", "w"]].sum()
    expected = sums["wtau"] / sums["w"]
    np.testing.assert_allclose(res.params, expected.to_numpy(), rtol=0, atol=POINT_ATOL)
    static = rows["wtau"].sum() / rows["w"].sum()
    assert res.overall.estimate == pytest.approx(static, abs=POINT_ATOL)


@pytest.mark.parametrize("cluster", [None, "region", "mixed"])
def test_conservative_standard_errors_match_bjs_theorem_3(panel, first_stage, cluster):
    res = imputation(panel, weights="w", cluster=cluster).fit()
    hand = hand_bjs(panel, first_stage, cluster or "consumer_id")
    horizons = list(res.event_times)
    np.testing.assert_allclose(res.params, [hand[e][0] for e in horizons], atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, [hand[e][1] for e in horizons], rtol=SE_RTOL)
    assert res.overall.se == pytest.approx(hand["static"][1], rel=SE_RTOL)
    assert ("Sampling weights", "w") in res.notes
    groups = panel[cluster or "consumer_id"].nunique()
    assert res.estimates.covariance.n_clusters == (groups,)


def test_didimputation_weighted_v0_is_not_the_estimators_weight(panel, first_stage):
    """Why goodwill's ``v^0`` differs from didimputation's with varying weights: didimputation
    scales the dummies by s (not sqrt(s)), so its ``v^0 = -S0 Z0 (Z0'S0^2 Z0)^-1 Z1'S1 w1`` does
    not reproduce the estimate as ``sum v Y``; the ``v^0`` of BJS Theorem 3 does (hand_bjs)."""
    treated = (panel["week"] >= panel["fake_week"]).to_numpy()
    s, spend = panel["w"].to_numpy(), panel["spend"].to_numpy()
    z = pd.get_dummies(panel[["consumer_id", "week"]].astype(str)).to_numpy(float)[:, :-1]
    w1 = s[treated] / s[treated].sum()  # the static estimate
    estimate = float(w1 @ first_stage[1])
    zs0, zs1 = s[~treated, None] * z[~treated], s[treated, None] * z[treated]
    v0 = -zs0 @ np.linalg.solve(zs0.T @ zs0, zs1.T @ w1)
    assert abs(float(w1 @ spend[treated] + v0 @ spend[~treated]) - estimate) > 1e-3
    assert hand_bjs(panel, first_stage, "consumer_id")["static"][0] == pytest.approx(estimate)


def test_unbalanced_panel_matches_bjs_theorem_3(panel):
    """A tenth of the rows after each consumer's third week missing: the grid's holes."""
    rng = np.random.default_rng(8)
    df = panel.loc[(panel["week"] <= 3) | (rng.uniform(size=len(panel)) > 0.1)]
    df = df.reset_index(drop=True)
    treated = df["week"] >= df["fake_week"]
    untreated = df.loc[~treated]
    fit = smf.wls("spend ~ C(consumer_id) + C(week)", untreated, weights=untreated["w"]).fit()
    tau = (df.loc[treated, "spend"] - fit.predict(df.loc[treated])).to_numpy()
    hand = hand_bjs(df, (fit.resid.to_numpy(), tau), "mixed")
    res = imputation(df, weights="w", cluster="mixed").fit()
    horizons = list(res.event_times)
    np.testing.assert_allclose(res.params, [hand[e][0] for e in horizons], atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, [hand[e][1] for e in horizons], rtol=SE_RTOL)


@pytest.mark.filterwarnings("ignore::models.exceptions.FewEffectiveUnitsWarning")
def test_intensity_with_weights_is_the_weighted_regression_on_the_dose(panel, first_stage):
    res = imputation(panel, weights="w", cluster="region", intensity="fake_value").fit()
    hand = hand_bjs(panel, first_stage, "region", dose="fake_value")
    horizons = list(res.event_times)
    np.testing.assert_allclose(res.params, [hand[e][0] for e in horizons], atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, [hand[e][1] for e in horizons], rtol=SE_RTOL)
    assert res.overall.estimate == pytest.approx(hand["static"][0], abs=POINT_ATOL)


@pytest.fixture
def exact_pyfixest_fixef(monkeypatch):
    """pyfixest's did2s recovers the first stage's fixed effects with ``lsqr`` at tolerance
    1e-6, which moves its weighted predictions by up to 0.1 yuan on this panel: the reference
    is run with tolerance 1e-14 (nothing else changes)."""
    feols_module = pytest.importorskip("pyfixest.estimation.models.feols_")
    original = feols_module.Feols.fixef

    def fixef(self, atol: float = 1e-14, btol: float = 1e-14):
        return original(self, atol=atol, btol=btol)

    monkeypatch.setattr(feols_module.Feols, "fixef", fixef)


@pytest.mark.parametrize("cluster", ["consumer_id", "region"])
def test_two_stage_event_study_matches_pyfixest_did2s_and_the_imputation(
    panel, cluster, exact_pyfixest_fixef
):
    pyfixest = pytest.importorskip("pyfixest")
    res = TwoStageDiD(
        panel, "spend", "consumer_id", "week", "treat",
        second_stage=f"~ i(rel, ref={NEVER})", weights="w", cluster=cluster,
    ).fit()  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyfixest.did2s(
            panel.copy(), yname="spend", first_stage="~ 0 | consumer_id + week",
            second_stage=f"~ i(rel, ref={float(NEVER)})", treatment="treat", cluster=cluster,
            weights="w",
        )  # fmt: skip
    names = [n.replace(".0", "") for n in reference.coef().index]
    coef = pd.Series(reference.coef().to_numpy(), index=names)[list(res.names)]
    se = pd.Series(reference.se().to_numpy(), index=names)[list(res.names)]
    np.testing.assert_allclose(res.params, coef, rtol=0, atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, se, rtol=SE_RTOL)
    imputed = imputation(panel, weights="w").fit()
    np.testing.assert_allclose(res.params, imputed.params, rtol=0, atol=POINT_ATOL)


def test_two_stage_cluster_keyword_is_the_fit_request(panel):
    model = TwoStageDiD(panel, "spend", "consumer_id", "week", "treat", weights="w")
    by_fit = model.fit({"CRV1": "region"})
    by_keyword = TwoStageDiD(
        panel, "spend", "consumer_id", "week", "treat", weights="w", cluster="region"
    ).fit()
    np.testing.assert_array_equal(by_keyword.bse, by_fit.bse)


@pytest.mark.filterwarnings("ignore::models.exceptions.FewEffectiveUnitsWarning")
def test_unit_weights_give_the_unweighted_fit(panel):
    plain = imputation(panel, intensity="fake_value").fit()
    ones = imputation(panel, intensity="fake_value", weights="one").fit()
    np.testing.assert_array_equal(ones.params, plain.params)
    np.testing.assert_array_equal(ones.cov_params(), plain.cov_params())
    scaled = imputation(panel.assign(one=2.5), intensity="fake_value", weights="one").fit()
    np.testing.assert_allclose(scaled.params, plain.params, rtol=EXACT)
    np.testing.assert_allclose(scaled.bse, plain.bse, rtol=EXACT)


def test_two_stage_unit_weights_give_the_unweighted_fit(panel):
    kwargs = {"second_stage": f"~ i(rel, ref={NEVER})", "cluster": "region"}
    plain = TwoStageDiD(panel, "spend", "consumer_id", "week", "treat", **kwargs).fit()
    ones = TwoStageDiD(panel, "spend", "consumer_id", "week", "treat", weights="one", **kwargs)
    np.testing.assert_allclose(ones.fit().params, plain.params, rtol=EXACT)
    np.testing.assert_allclose(ones.fit().bse, plain.bse, rtol=EXACT)


def test_integer_weights_are_duplicated_units(panel):
    copies = panel["consumer_id"] % 3 + 1
    weighted = imputation(panel.assign(k=copies.astype(float)), weights="k").fit()
    repeated = panel.loc[panel.index.repeat(copies)].copy()
    repeated["consumer_id"] = (
        repeated["consumer_id"] * 10 + repeated.groupby(["consumer_id", "week"]).cumcount()
    )
    duplicated = imputation(repeated).fit()
    np.testing.assert_allclose(weighted.params, duplicated.params, rtol=0, atol=POINT_ATOL)


def test_clustering_by_a_copy_of_the_unit_is_the_default(panel):
    default = imputation(panel, weights="w").fit()
    by_copy = imputation(panel, weights="w", cluster="cid").fit()
    np.testing.assert_allclose(by_copy.bse, default.bse, rtol=EXACT)
    assert by_copy.estimates.covariance.n_clusters == default.estimates.covariance.n_clusters


def test_weighted_clustered_pretrends_match_pyfixest_feols(panel):
    pyfixest = pytest.importorskip("pyfixest")
    res = imputation(panel, weights="w", cluster="region").pretrends(range(-3, 0))
    untreated = panel.loc[~(panel["week"] >= panel["fake_week"])].copy()
    event = untreated["week"] - untreated["fake_week"]
    for k in range(-3, 0):
        untreated[f"lead{-k}"] = (event == k).astype(float)
    reference = pyfixest.feols(
        "spend ~ lead3 + lead2 + lead1 | consumer_id + week",
        untreated, weights="w", vcov={"CRV1": "region"},
    )  # fmt: skip
    np.testing.assert_allclose(res.params, reference.coef().to_numpy(), atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, reference.se().to_numpy(), rtol=SE_RTOL)


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        ({}, {"weights": "missing"}, "weights.*'missing'"),
        ({"w": -1.0}, {"weights": "w"}, "weights column 'w'"),
        ({"w": np.nan}, {"weights": "w"}, "'w'"),
        ({}, {"cluster": "missing"}, "cluster.*'missing'"),
        ({"region": np.nan}, {"cluster": "region"}, "'region'"),
    ],
)
def test_bad_weights_and_clusters_are_refused(panel, change, kwargs, match):
    with pytest.raises(ValueError, match=match):
        imputation(panel.assign(**change), **kwargs)


def test_a_fit_clustered_by_another_column_than_cluster_is_refused(panel):
    model = imputation(panel, cluster="region")
    with pytest.raises(ValueError, match="given as cluster, 'region', got clusters 'consumer_id'"):
        model.fit({"CRV1": "consumer_id"})
    assert model.fit({"CRV1": "region"}).bse.equals(model.fit().bse)
    with pytest.raises(ValueError, match=r"cluster.*'missing'"):
        TwoStageDiD(panel, "spend", "consumer_id", "week", "treat", cluster="missing")
