"""TwoStageDiD against independent references.

References (tests/data/README.md): the numbers did2s (R, Butts and Gardner) prints for its castle
and df_hom examples and checks in its own tests; pyfixest's did2s run here (whose standard errors
equal those printed numbers, checked below); the explicit dense-matrix formula of the GMM
covariance; the imputation estimator (same point estimates with unit and period effects); and a
simulated panel with known effects.
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from models import ImputationDiD, TwoStageDiD
from models.exceptions import ImputationWarning
from tests.conftest import DATA

POINT_ATOL = 1e-6  # the same estimator computed by other software: points to 1e-6
SE_RTOL = 1e-4  # and standard errors to 1e-4 relative
EXACT = 1e-8  # the same formula computed another way (conjugate gradients to 1e-12)

# did2s's reference manual (?did2s, example "Cheng and Hoekstra (2013)", printed in
# docs/reference/did2s.html): did2s(castle, yname = "l_homicide", first_stage = ~ 0 | sid + year,
# second_stage = ~ i(post, ref = 0), treatment = "post", cluster_var = "state",
# weights = "popwt"): estimate, std. error, t value, Pr(>|t|) as printed since did2s fixed its
# weights in June 2021 (commit f38bf2c; the SE printed before, 0.057535, is superseded).
CASTLE_PRINTED = ("0.075142", "0.03538", "2.12387", "0.034127")

# did2s's tests/testthat/test-did2s.R, "estimates match previous runs": did2s(df_hom, yname =
# "dep_var", first_stage = ~ 0 | unit + year, second_stage = ~ i(treat, ref = FALSE), treatment =
# "treat", cluster_var = "state"): coefficient and standard error.
DF_HOM_STATIC = ("2.004653", "0.02023667")

# did2s's reference manual, example "Event Study": the same call with second_stage =
# ~ i(rel_year, ref = c(-1, Inf)), printed by fixest::esttable: estimate (std. error).
DF_HOM_EVENT_STUDY = {
    -20: ("0.0043", "0.0322"), -19: ("0.0222", "0.0296"), -18: ("-0.0358", "0.0308"),
    -17: ("0.0043", "0.0337"), -16: ("-0.0186", "0.0353"), -15: ("-0.0045", "0.0346"),
    -14: ("-0.0393", "0.0384"), -13: ("0.0453", "0.0323"), -12: ("0.0324", "0.0309"),
    -11: ("-0.0245", "0.0349"), -10: ("-0.0017", "0.0241"), -9: ("0.0155", "0.0242"),
    -8: ("-0.0073", "0.0210"), -7: ("-0.0513", "0.0202"), -6: ("0.0269", "0.0237"),
    -5: ("0.0136", "0.0237"), -4: ("0.0381", "0.0223"), -3: ("-0.0228", "0.0284"),
    -2: ("0.0041", "0.0228"), 0: ("1.971", "0.0470"), 1: ("2.050", "0.0466"),
    2: ("2.033", "0.0441"), 3: ("1.966", "0.0400"), 4: ("1.965", "0.0430"),
    5: ("2.030", "0.0456"), 6: ("2.040", "0.0447"), 7: ("1.995", "0.0370"),
    8: ("2.019", "0.0485"), 9: ("1.955", "0.0468"), 10: ("1.950", "0.0455"),
    11: ("2.117", "0.0664"), 12: ("2.132", "0.0741"), 13: ("2.019", "0.0640"),
    14: ("2.013", "0.0522"), 15: ("1.961", "0.0605"), 16: ("1.916", "0.0584"),
    17: ("1.938", "0.0607"), 18: ("2.070", "0.0666"), 19: ("2.066", "0.0609"),
    20: ("1.964", "0.0612"),
}  # fmt: skip


def half_last_digit(printed: str) -> float:
    """Half a unit of the last printed digit: the rounding error of a printed number."""
    decimals = len(printed.partition(".")[2])
    return 0.5 * 10.0**-decimals


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    return pd.read_csv(DATA / "castle_did2s.csv")


@pytest.fixture(scope="module")
def df_hom() -> pd.DataFrame:
    df = pd.read_csv(DATA / "df_hom_did2s.csv.gz")
    rng = np.random.default_rng(7)  # covariates for the first stage, one with an effect
    return df.assign(x=rng.normal(size=len(df)), z=rng.normal(size=len(df))).assign(
        dep_var=lambda d: d["dep_var"] + 0.5 * d["x"]
    )


# did2s's printed numbers ----------------------------------------------------------------------


def test_weighted_castle_matches_the_did2s_manual(castle):
    res = TwoStageDiD(
        castle,
        "l_homicide",
        "sid",
        "year",
        "post",
        first_stage="~ 0 | sid + year",
        second_stage="~ i(post, ref = 0)",
        weights="popwt",
    ).fit({"CRV1": "state"})
    assert res.params.index.tolist() == ["post::1"]
    computed = (res.params.iloc[0], res.bse.iloc[0], res.tvalues.iloc[0], res.pvalues.iloc[0])
    for value, printed in zip(computed, CASTLE_PRINTED, strict=True):
        assert value == pytest.approx(float(printed), abs=half_last_digit(printed))
    assert res.df_t == 549  # fixest's t for a given covariance: n - k


def test_static_df_hom_matches_the_did2s_test_suite(df_hom):
    res = TwoStageDiD(
        df_hom.assign(dep_var=df_hom["dep_var"] - 0.5 * df_hom["x"]),
        "dep_var",
        "unit",
        "year",
        "treat",
        second_stage="~ i(treat, ref = FALSE)",
    ).fit({"CRV1": "state"})
    estimate, se = DF_HOM_STATIC
    assert res.params["treat::True"] == pytest.approx(
        float(estimate), abs=half_last_digit(estimate)
    )
    assert res.bse["treat::True"] == pytest.approx(float(se), abs=half_last_digit(se))


def esttable_format(x: float) -> str:
    """A number as fixest's etable prints it (``format_nber_single``, ``digits = 4``): rounded
    to four significant digits first, then printed with 4 decimals below 1 and 3 from 1 to 10.

    The double rounding moves a printed number by up to 0.55 units of its last digit, not 0.5:
    the standard errors of event times -9 (0.024146 -> 0.02415 -> "0.0242") and 6 (0.044649 ->
    "0.0447") show it, so the test compares the printed strings.
    """
    rounded = float(f"{x:.4g}")
    exponent = math.floor(math.log10(abs(rounded)))
    return f"{rounded:.{max(3 - exponent, 1)}f}" if exponent >= 0 else f"{rounded:.4f}"


def test_event_study_df_hom_matches_the_did2s_manual(df_hom):
    res = TwoStageDiD(
        df_hom.assign(dep_var=df_hom["dep_var"] - 0.5 * df_hom["x"]),
        "dep_var",
        "unit",
        "year",
        "treat",
        first_stage="~ 0 | unit + year",
        second_stage="~ i(rel_year, ref = c(-1, Inf))",
    ).fit({"CRV1": "state"})
    effects = res.event_time_effects()
    assert effects.index.tolist() == sorted(DF_HOM_EVENT_STUDY)
    assert res.ref == -1
    printed = {
        e: (esttable_format(row.estimate), esttable_format(row.se)) for e, row in effects.iterrows()
    }
    assert printed == DF_HOM_EVENT_STUDY


# pyfixest's did2s -----------------------------------------------------------------------------

PYFIXEST_CASES = {
    # name: (data, first stage, second stage (goodwill), second stage (pyfixest), cluster, weights)
    "castle static": ("castle", "~ 0 | sid + year", "~ i(post, ref=0)", None, "state", None),
    "castle weighted": ("castle", "~ 0 | sid + year", "~ i(post, ref=0)", None, "state", "popwt"),
    "castle event study": (
        "castle",
        "~ 0 | sid + year",
        "~ i(time_til, ref=c(-1, -Inf))",
        "~ i(time_til, ref=-1.0)",
        "sid",
        None,
    ),
    "state and year effects": (
        "df_hom",
        "~ 0 | state + year",
        "~ i(treat, ref=False)",
        None,
        "state",
        None,
    ),
    "covariates": ("df_hom", "~ x + z | unit + year", "~ i(treat, ref=False)", None, "unit", None),
}


@pytest.mark.parametrize("case", list(PYFIXEST_CASES))
def test_estimates_match_pyfixest_did2s(case, castle, df_hom):
    pyfixest = pytest.importorskip("pyfixest")
    name, first, second, second_pf, cluster, weights = PYFIXEST_CASES[case]
    df = {"castle": castle, "df_hom": df_hom}[name]
    outcome, unit, treatment = (
        ("l_homicide", "sid", "post") if name == "castle" else ("dep_var", "unit", "treat")
    )
    res = TwoStageDiD(
        df, outcome, unit, "year", treatment, first_stage=first, second_stage=second,
        weights=weights,
    ).fit({"CRV1": cluster})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyfixest.did2s(
            df.copy(), yname=outcome, first_stage=first, second_stage=second_pf or second,
            treatment=treatment, cluster=cluster, weights=weights,
        )  # fmt: skip

    # pyfixest names levels as floats (time_til::-3.0) and also estimates the never-treated
    # level (-inf), which does not change the others (the indicators are disjoint).
    # pyfixest turns the treatment column into booleans (post::True for goodwill's post::1).
    def goodwill_name(name: str) -> str:
        return name.replace(".0", "").replace("post::True", "post::1")

    coef = reference.coef().rename(goodwill_name)
    se = reference.se().rename(goodwill_name)
    assert set(res.names) <= set(coef.index)
    np.testing.assert_allclose(res.params, coef[list(res.names)], rtol=0, atol=POINT_ATOL)
    np.testing.assert_allclose(res.bse, se[list(res.names)], rtol=SE_RTOL)


def test_pyfixest_reproduces_the_printed_did2s_numbers(castle):
    """Why pyfixest is a reference: its standard errors are did2s's on the published example."""
    pyfixest = pytest.importorskip("pyfixest")
    fit = pyfixest.did2s(
        castle.copy(), yname="l_homicide", first_stage="~ 0 | sid + year",
        second_stage="~ i(post, ref=0)", treatment="post", cluster="state", weights="popwt",
    )  # fmt: skip
    for value, printed in zip(
        (fit.coef().iloc[0], fit.se().iloc[0]), CASTLE_PRINTED[:2], strict=True
    ):
        assert value == pytest.approx(float(printed), abs=half_last_digit(printed))


# the formula, computed another way ------------------------------------------------------------


def small_panel(seed: int = 0) -> pd.DataFrame:
    """30 units x 8 years, cohorts 3/5/6/never, heterogeneous effects, a covariate, weights;
    10% of the rows after each unit's first year dropped (unbalanced)."""
    rng = np.random.default_rng(seed)
    n_units, years = 30, np.arange(8)
    cohort = rng.choice([3.0, 5.0, 6.0, np.inf], size=n_units)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), years.size),
            "year": np.tile(years, n_units),
            "cohort": np.repeat(cohort, years.size),
            "group": np.repeat(np.arange(n_units) % 6, years.size),
            "w": np.repeat(rng.uniform(0.5, 2.0, n_units), years.size),
        }
    )
    df["treat"] = (df["year"] >= df["cohort"]).astype(int)
    df["rel"] = (df["year"] - df["cohort"]).where(df["treat"] == 1, -1.0)
    df["x"] = rng.normal(size=len(df))
    effect = df["treat"] * (1.0 + 0.3 * df["rel"].clip(lower=0))
    df["y"] = (
        0.4 * df["unit"] + 0.2 * df["year"] ** 1.2 + 0.7 * df["x"] + effect
        + rng.normal(0, 0.5, len(df))
    )  # fmt: skip
    keep = (df["year"] == 0) | (rng.uniform(size=len(df)) > 0.1)
    return df.loc[keep].reset_index(drop=True)


def dense_two_stage(df, first_fe, covariates, x2_columns, cluster, weights):
    """did2s's formulas with explicit dummy matrices and pseudo-inverses."""
    w = df[weights].to_numpy() if weights else np.ones(len(df))
    treated = df["treat"].to_numpy() == 1
    blocks = [df[covariates].to_numpy()] if covariates else []
    for fe in first_fe:  # a^b: the interaction of columns a and b
        levels = df[fe.split("^")].astype(str).agg("_".join, axis=1)
        blocks.append(pd.get_dummies(levels).to_numpy(dtype=float))
    x1 = np.hstack(blocks)
    x10 = np.where(treated[:, None], 0.0, x1)
    inverse = np.linalg.pinv(x10.T @ (w[:, None] * x10), rcond=1e-12)
    theta = inverse @ x10.T @ (w * df["y"].to_numpy())
    residualised = df["y"].to_numpy() - x1 @ theta
    x2 = df[x2_columns].to_numpy(dtype=float)
    bread = np.linalg.inv(x2.T @ (w[:, None] * x2))
    beta = bread @ x2.T @ (w * residualised)
    first_u = np.where(treated, 0.0, residualised)
    second_u = residualised - x2 @ beta
    gamma = inverse @ x1.T @ (w[:, None] * x2)
    influence = (w * first_u)[:, None] * (x10 @ gamma) - (w * second_u)[:, None] * x2
    scores = pd.DataFrame(influence).groupby(df[cluster].to_numpy()).sum().to_numpy()
    return beta, bread @ scores.T @ scores @ bread


@pytest.mark.parametrize(
    ("fixed_effects", "covariates", "weights"),
    [
        (["unit", "year"], [], None),
        (["unit", "year"], [], "w"),
        (["unit", "year"], ["x"], None),
        (["unit", "year"], ["x"], "w"),
        (["unit", "half^year"], ["x"], "w"),  # did2s's test of interacted fixed effects
    ],
)
def test_covariance_matches_the_dense_formula(fixed_effects, covariates, weights):
    df = small_panel()
    df["half"] = df["unit"] % 2
    df["e0"], df["e1"] = (df["rel"] == 0).astype(float), (df["rel"] >= 1).astype(float)
    first = f"~ {' + '.join(covariates) or '0'} | {' + '.join(fixed_effects)}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every treated row predicted: none dropped
        res = TwoStageDiD(
            df, "y", "unit", "year", "treat", first_stage=first, second_stage="~ e0 + e1",
            weights=weights,
        ).fit({"CRV1": "group"})  # fmt: skip
    beta, covariance = dense_two_stage(df, fixed_effects, covariates, ["e0", "e1"], "group",
                                       weights)  # fmt: skip
    np.testing.assert_allclose(res.params, beta, rtol=0, atol=EXACT)
    np.testing.assert_allclose(res.cov_params(), covariance, rtol=EXACT, atol=1e-14)


def test_static_and_dynamic_estimates_equal_the_imputation_estimator():
    df = small_panel()
    df["cohort_nan"] = df["cohort"].replace(np.inf, np.nan)
    imputation = ImputationDiD(df, "y", "unit", "year", "cohort_nan").fit()
    static = TwoStageDiD(df, "y", "unit", "year", "treat").fit()
    assert static.params["treat::1"] == pytest.approx(imputation.overall.estimate, abs=EXACT)
    dynamic = TwoStageDiD(df, "y", "unit", "year", "treat", second_stage="~ i(rel, ref=-1)").fit()
    np.testing.assert_allclose(
        dynamic.event_time_effects()["estimate"],
        imputation.event_time_effects()["estimate"],
        rtol=0,
        atol=EXACT,
    )


def test_event_study_recovers_known_effects():
    """A panel of 600 units with effects 1 + 0.3 e at event time e and none before treatment:
    every estimate lies within 4 standard errors of its true value."""
    rng = np.random.default_rng(5)
    n_units, years = 600, np.arange(10)
    cohort = rng.choice([4.0, 6.0, 8.0, np.inf], size=n_units)
    df = pd.DataFrame(
        {"unit": np.repeat(np.arange(n_units), 10), "year": np.tile(years, n_units),
         "cohort": np.repeat(cohort, 10)}
    )  # fmt: skip
    df["treat"] = (df["year"] >= df["cohort"]).astype(int)
    df["rel"] = df["year"] - df["cohort"]
    truth = np.where(df["treat"] == 1, 1.0 + 0.3 * df["rel"], 0.0)
    unit_effect = np.repeat(rng.normal(size=n_units), 10)
    df["y"] = unit_effect + 0.5 * df["year"] + truth + rng.normal(0, 1.0, len(df))
    res = TwoStageDiD(
        df, "y", "unit", "year", "treat", second_stage="~ i(rel, ref=c(-1, -inf))"
    ).fit()
    effects = res.event_time_effects()
    true = np.where(effects.index >= 0, 1.0 + 0.3 * effects.index, 0.0)
    assert (np.abs(effects["estimate"] - true) < 4 * effects["se"]).all()
    assert res.pretrend_test().pvalue > 0.001
    total, _ = res.cumulative(0, 3)
    assert total == pytest.approx(sum(1.0 + 0.3 * e for e in range(4)), abs=0.3)


# rows dropped, the results' API and bad input ------------------------------------------------


def test_always_treated_units_are_dropped_with_a_warning():
    df = small_panel()
    always = df["unit"] == 0
    df.loc[always, "treat"] = 1
    with pytest.warns(ImputationWarning, match=r"dropped \d+ treated row\(s\)"):
        res = TwoStageDiD(df, "y", "unit", "year", "treat").fit()
    assert res.nobs == len(df) - int(always.sum())


def test_treated_rows_across_disconnected_untreated_samples_are_dropped():
    """Units 0-1 are observed in periods 0-1 and units 2-3 in 2-3: unit 0's treated row in
    period 3 links the two pieces, so its untreated outcome is not identified."""
    df = pd.DataFrame(
        {
            "u": [0, 0, 1, 1, 2, 2, 3, 3, 0],
            "t": [0, 1, 0, 1, 2, 3, 2, 3, 3],
            "d": [0, 0, 0, 1, 0, 0, 0, 1, 1],
            "y": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 5.0],
        }
    )
    with pytest.warns(ImputationWarning, match=r"dropped 1 treated row\(s\).*u or t"):
        res = TwoStageDiD(df, "y", "u", "t", "d").fit()
    assert res.nobs == 8
    assert res.params.iloc[0] == pytest.approx(0.0, abs=EXACT)  # additive outcome: no effect


def test_results_follow_the_common_api():
    df = small_panel()
    before = df.copy()
    model = TwoStageDiD(df, "y", "unit", "year", "treat", first_stage="~ x | unit + year")
    res = model.fit()
    pd.testing.assert_frame_equal(df, before)
    again = model.fit()
    np.testing.assert_array_equal(res.params, again.params)
    assert res.vcov_type == "Gardner GMM by unit"
    assert set(res.conf_int().columns) == {"lower", "upper"}
    assert "TwoStageDiD" in res.summary().as_text()
    restored = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(restored.bse, res.bse)
    with pytest.raises(AttributeError, match="no event times"):
        res.event_time_effects()


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        ({"treat": 2}, {}, "column 'treat': expected a treatment indicator of 0/1"),
        ({}, {"first_stage": "~ x"}, "first_stage: expected fixed effects after '|'"),
        ({}, {"first_stage": "y ~ 0 | unit"}, "first_stage: expected a one-sided formula"),
        ({}, {"second_stage": "~ e | unit"}, "second_stage: expected no fixed effects"),
        ({}, {"first_stage": "~ 0 | nope"}, "nope"),
        ({"w": -1.0}, {"weights": "w"}, "column 'w': weights must be positive"),
        ({"treat": 0}, {}, "no treated rows"),
        ({}, {"second_stage": "~ missing_column"}, "second_stage"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(change, kwargs, message):
    df = small_panel().assign(**change)
    df["e"] = df["treat"]
    with pytest.raises(ValueError, match=message):
        TwoStageDiD(df, "y", "unit", "year", "treat", **kwargs).fit()


@pytest.mark.parametrize(
    ("vcov", "message"),
    [
        ("iid", "'iid' is not available for this estimator; it supports CRV1"),
        ({"CRV1": "unit+year"}, "vcov: one cluster column"),
        ({"CRV1": "nope"}, "nope"),
    ],
)
def test_fit_refuses_other_variances(vcov, message):
    with pytest.raises(ValueError, match=message):
        TwoStageDiD(small_panel(), "y", "unit", "year", "treat").fit(vcov)
