"""TwoStageDiD's bootstrap (did2s's ``bootstrap = TRUE``) against its definition.

References: each draw refit by TwoStageDiD on the resampled data built explicitly (the clusters
drawn stacked, as did2s's ``boot`` call stacks them); the analytic GMM standard errors, which the
bootstrap estimates too; and the covariance of the draws, computed by numpy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, TwoStageDiD
from models.estimation.two_stage_bootstrap import resampled_clusters
from models.exceptions import ImputationWarning
from tests.conftest import DATA
from tests.models.estimation.test_two_stage import DF_HOM_STATIC, small_panel

DRAW_ATOL = 1e-10  # a draw and its explicit refit: the same least squares, solved another way
SE_RTOL = 0.15  # bootstrap and GMM standard errors estimate the same thing, 400 draws
N_DRAWS = 400


def resampled(df: pd.DataFrame, cluster: str, picks: np.ndarray, relabel: bool) -> pd.DataFrame:
    """The rows of the clusters ``picks`` (codes: positions among the sorted cluster values)
    stacked in order; with ``relabel``, each copy a new cluster and its units new units."""
    values = np.unique(df[cluster])
    pieces = []
    for copy, code in enumerate(picks):
        piece = df[df[cluster] == values[code]].copy()
        if relabel:
            piece["unit"] = copy * 10_000 + piece["unit"]
            piece[cluster] = copy
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def last_year_untreated_in_group_0() -> pd.DataFrame:
    """small_panel with every unit outside group 0 treated by year 6: a draw without group 0
    cannot predict the untreated outcome of year 7 and drops its treated rows."""
    df = small_panel()
    df["cohort"] = df["cohort"].where((df["group"] == 0) | (df["cohort"] < 7), 6.0)
    df["treat"] = (df["year"] >= df["cohort"]).astype(int)
    df["rel"] = (df["year"] - df["cohort"]).where(df["treat"] == 1, -1.0)
    return df


def with_an_always_treated_unit() -> pd.DataFrame:
    """small_panel with unit 0 treated from its first year: the fit drops its rows, but the
    bootstrap still draws it among the units, as did2s does."""
    df = small_panel()
    df.loc[df["unit"] == 0, "treat"] = 1
    return df


@pytest.mark.parametrize(
    ("frame", "kwargs", "drops"),
    [
        (small_panel, {}, False),
        (small_panel, {"second_stage": "~ i(rel, ref=-1)"}, False),
        (small_panel, {"weights": "w", "cluster": "group"}, False),
        (
            small_panel,
            {"first_stage": "~ x | unit + year", "weights": "w", "cluster": "group"},
            False,
        ),
        (last_year_untreated_in_group_0, {"cluster": "group"}, True),
        (with_an_always_treated_unit, {}, True),
    ],
)
def test_each_draw_equals_the_refit_on_the_resampled_clusters(frame, kwargs, drops):
    df = frame()
    model = TwoStageDiD(df, "y", "unit", "year", "treat", **kwargs)
    cluster = kwargs.get("cluster", "unit")
    seed, n_draws = 11, 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)  # rows the fits cannot predict
        draws = model.bootstrap_draws(n_draws, seed=seed)
    dropped = False
    for b in range(n_draws):
        picks = resampled_clusters(df[cluster].nunique(), seed, b)
        for relabel in (True, False):  # did2s keeps the ids; new ids give the same fit
            data = resampled(df, cluster, picks, relabel)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImputationWarning)
                refit = TwoStageDiD(data, "y", "unit", "year", "treat", **kwargs).fit()
            np.testing.assert_allclose(draws.iloc[b], refit.params, rtol=0, atol=DRAW_ATOL)
            dropped |= refit.nobs < len(data)
    assert dropped == drops  # some draw dropped treated rows it could not predict


@pytest.fixture(scope="module")
def spend_panel() -> pd.DataFrame:
    """1,500 consumers x 10 weeks (less those treated from the first week), staggered first
    fakes, a treatment indicator, event time (-1 for never-treated rows, ends binned at -4
    and 4), 50 regions above the consumers and positive weights."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_500, n_weeks=10, seed=3)
    panel = panel[~(panel["fake_week"] <= panel["week"].min())].copy()  # never untreated
    panel["treat"] = (panel["week"] >= panel["fake_week"]).astype(int)
    panel["rel"] = (panel["week"] - panel["fake_week"]).fillna(-1.0).clip(-4, 4)
    panel["region"] = panel["consumer_id"] % 50
    rng = np.random.default_rng(0)
    weight = rng.uniform(0.5, 2.0, panel["consumer_id"].max() + 1)
    panel["w"] = weight[panel["consumer_id"]]
    return panel


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"second_stage": "~ i(rel, ref=[-1])"},
        {"weights": "w", "cluster": "region"},
    ],
)
def test_bootstrap_standard_errors_agree_with_the_gmm_ones(spend_panel, kwargs):
    model = TwoStageDiD(spend_panel, "spend", "consumer_id", "week", "treat", **kwargs)
    gmm = model.fit()
    boot = model.fit("bootstrap", draws=N_DRAWS, seed=5)
    np.testing.assert_array_equal(boot.params, gmm.params)
    np.testing.assert_allclose(boot.bse, gmm.bse, rtol=SE_RTOL)


def test_df_hom_bootstrap_agrees_with_the_se_did2s_prints():
    """did2s(df_hom, yname = "dep_var", first_stage = ~ 0 | unit + year, second_stage =
    ~ i(treat, ref = FALSE), treatment = "treat", cluster_var = "state", bootstrap = TRUE,
    n_bootstraps = 250): R's draws cannot be reproduced, so the bootstrap standard error is
    checked against the GMM one did2s's test suite prints for the same call without bootstrap
    (test_two_stage.DF_HOM_STATIC), within SE_RTOL; the estimate is the printed one."""
    df_hom = pd.read_csv(DATA / "df_hom_did2s.csv.gz")
    res = TwoStageDiD(
        df_hom, "dep_var", "unit", "year", "treat", second_stage="~ i(treat, ref = FALSE)",
        cluster="state",
    ).fit("bootstrap")  # fmt: skip
    estimate, se = DF_HOM_STATIC
    assert res.params["treat::True"] == pytest.approx(float(estimate), abs=5e-7)
    assert res.bse["treat::True"] == pytest.approx(float(se), rel=SE_RTOL)
    assert res.vcov_type == "bootstrap (250 draws, seed 0), clustered by state"


def test_the_covariance_is_that_of_the_draws_and_drives_inference():
    df = small_panel()
    model = TwoStageDiD(df, "y", "unit", "year", "treat", second_stage="~ i(rel, ref=-1)")
    res = model.fit("bootstrap", draws=50, seed=2)
    draws = model.bootstrap_draws(50, seed=2)
    assert list(draws.columns) == list(res.params.index)
    np.testing.assert_allclose(res.cov_params(), np.cov(draws.to_numpy().T), rtol=1e-12)
    half = res.conf_int()["upper"] - res.params
    np.testing.assert_allclose(half / res.bse, half.iloc[0] / res.bse.iloc[0], rtol=1e-12)
    np.testing.assert_allclose(res.event_time_effects()["se"].to_numpy(), res.bse, rtol=0)
    assert res.vcov_type == "bootstrap (50 draws, seed 2), clustered by unit"
    assert "bootstrap (50 draws, seed 2), clustered by unit" in res.summary().as_text()
    assert res.covariance.n_clusters == (df["unit"].nunique(),)


def test_the_cluster_can_be_named_at_the_fit():
    df = small_panel()
    at_fit = TwoStageDiD(df, "y", "unit", "year", "treat").fit({"bootstrap": "group"}, draws=20)
    at_model = TwoStageDiD(df, "y", "unit", "year", "treat", cluster="group")
    np.testing.assert_array_equal(at_fit.bse, at_model.fit("bootstrap", draws=20).bse)
    assert at_fit.vcov_type.endswith("clustered by group")


def test_same_seed_same_numbers_other_seed_other_numbers():
    model = TwoStageDiD(small_panel(), "y", "unit", "year", "treat", weights="w")
    first = model.fit("bootstrap", draws=30, seed=4)
    np.testing.assert_array_equal(first.bse, model.fit("bootstrap", draws=30, seed=4).bse)
    assert not np.allclose(first.bse, model.fit("bootstrap", draws=30, seed=5).bse)
    # draw b depends only on (seed, b): the first 10 of 30 draws are the 10 draws
    np.testing.assert_array_equal(
        model.bootstrap_draws(10, seed=4), model.bootstrap_draws(30, seed=4).iloc[:10]
    )


def test_a_draw_without_a_coefficient_is_refused():
    df = small_panel()
    df.loc[(df["group"] == 0) & (df["treat"] == 1), "rel"] = 99.0  # a bin of group 0 only
    model = TwoStageDiD(
        df, "y", "unit", "year", "treat", second_stage="~ i(rel, ref=-1)", cluster="group"
    )
    assert "rel::99" in model.fit().params.index
    with pytest.raises(
        ValueError, match=r"bootstrap draw \d+ cannot estimate rel::99: no variation"
    ):
        model.fit("bootstrap", draws=50)


@pytest.mark.parametrize(
    ("vcov", "kwargs", "message"),
    [
        ("bootstrap", {"draws": 1}, r"TwoStageDiD: draws = 1: expected an integer >= 2"),
        ("bootstrap", {"draws": 2.5}, r"draws = 2.5: expected an integer >= 2"),
        ("bootstrap", {"draws": True}, r"draws = True: expected an integer >= 2"),
        ("bootstrap", {"seed": -1}, r"seed = -1: expected an integer >= 0"),
        ("bootstrap", {"seed": "0"}, r"seed = '0': expected an integer >= 0"),
        ("CRV1", {"draws": 100}, r"draws and seed apply to vcov='bootstrap' only"),
        ("CRV1", {"seed": 1}, r"draws and seed apply to vcov='bootstrap' only"),
        ({"bootstrap": "unit+year"}, {}, r"the bootstrap draws the clusters of one column"),
        ({"bootstrap": "nope"}, {}, r"nope"),
        ("iid", {}, r"'iid' is not available for this estimator; it supports CRV1, bootstrap"),
    ],
)
def test_bad_bootstrap_arguments_are_refused(vcov, kwargs, message):
    model = TwoStageDiD(small_panel(), "y", "unit", "year", "treat")
    with pytest.raises(ValueError, match=message):
        model.fit(vcov, **kwargs)
