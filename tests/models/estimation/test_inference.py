"""RegressionResults: inference numbers, linear tests and tables.

The inference is checked two ways for the same covariance matrix and t degrees of freedom:
against statsmodels' own t-based machinery (a statsmodels results object built with that
covariance, ``cov_type="fixed scale"``, and ``df_resid = df_t``) and, for ``t_test`` and
``wald_test``, against a hand computation with scipy. Both are the same arithmetic on the same
inputs, so the tolerance is 1e-10 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.regression.linear_model import RegressionResults as StatsmodelsResults

from models import FixedEffectsOLS, RegressionResults

RTOL = 1e-10
NAMES = ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n_units, n_periods = 35, 7
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    keep = rng.random(unit.size) < 0.75
    unit, period = unit[keep], period[keep]
    n = unit.size
    g = rng.integers(0, 14, n)
    x = rng.normal(size=(n, 3)) + rng.normal(size=(n_units, 1))[unit]
    y = (
        x @ np.array([1.0, 0.9, 0.05])
        + rng.normal(size=n_units)[unit]
        + rng.normal(size=n_periods)[period]
        + rng.normal(size=n) * (1 + 0.5 * np.abs(x[:, 0]))
        + rng.normal(size=14)[g]
    )
    return pd.DataFrame(
        {"unit": unit, "period": period, "g": g, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]}
    ).assign(y=y)


VCOVS = ["iid", "HC1", {"CRV1": "g"}]
VCOV_IDS = ["iid", "HC1", "CRV1"]


@pytest.fixture(scope="module", params=VCOVS, ids=VCOV_IDS)
def res(request, panel) -> RegressionResults:
    return FixedEffectsOLS(panel, "y", NAMES, ["unit", "period"]).fit(vcov=request.param)


@pytest.fixture(scope="module")
def crv(panel) -> RegressionResults:
    return FixedEffectsOLS(panel, "y", NAMES, ["unit", "period"]).fit(vcov={"CRV1": "g"})


def statsmodels_twin(res: RegressionResults) -> StatsmodelsResults:
    """A statsmodels results object with the same coefficients, covariance and t df."""
    k = len(res.names)
    model = sm.OLS(np.zeros(k + 1), pd.DataFrame(np.eye(k + 1, k), columns=list(res.names)))
    model.df_resid = res.df_t
    return StatsmodelsResults(
        model,
        res.params.to_numpy(),
        normalized_cov_params=res.covariance.matrix,
        cov_type="fixed scale",
        cov_kwds={"scale": 1.0},
        use_t=True,
    )


def hand_t_test(res, matrix, values, alpha=0.05) -> pd.DataFrame:
    matrix = np.atleast_2d(matrix)
    b, v = res.params.to_numpy(), res.cov_params().to_numpy()
    estimate = matrix @ b - values
    se = np.sqrt(np.diag(matrix @ v @ matrix.T))
    t = estimate / se
    crit = stats.t.ppf(1 - alpha / 2, res.df_t)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "se": se,
            "t": t,
            "p": 2 * stats.t.sf(np.abs(t), res.df_t),
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )


def hand_wald(res, matrix, values) -> tuple[float, float]:
    matrix = np.atleast_2d(matrix)
    gap = matrix @ res.params.to_numpy() - values
    middle = matrix @ res.cov_params().to_numpy() @ matrix.T
    q = matrix.shape[0]
    statistic = float(gap @ np.linalg.inv(middle) @ gap) / q
    return statistic, float(stats.f.sf(statistic, q, res.df_t))


# --------------------------------------------------------------------------------------------
# Coefficient table vs statsmodels
# --------------------------------------------------------------------------------------------


def test_df_t_is_the_documented_one(res, panel):
    if res.covariance.request.kind == "CRV1":
        assert res.df_t == panel["g"].nunique() - 1
    else:
        assert res.df_t == res.df_resid


def test_inference_matches_statsmodels(res):
    twin = statsmodels_twin(res)
    assert twin.use_t and twin.df_resid == res.df_t
    np.testing.assert_allclose(res.params.to_numpy(), twin.params, rtol=RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), twin.bse, rtol=RTOL)
    np.testing.assert_allclose(res.tvalues.to_numpy(), twin.tvalues, rtol=RTOL)
    np.testing.assert_allclose(res.pvalues.to_numpy(), twin.pvalues, rtol=RTOL, atol=1e-300)
    for alpha in (0.05, 0.1, 0.01):
        np.testing.assert_allclose(
            res.conf_int(alpha).to_numpy(), np.asarray(twin.conf_int(alpha)), rtol=RTOL
        )


def test_series_are_labelled(res):
    for series in (res.params, res.bse, res.tvalues, res.pvalues):
        assert list(series.index) == NAMES
    assert list(res.conf_int().columns) == ["lower", "upper"]
    cov = res.cov_params()
    assert list(cov.index) == list(cov.columns) == NAMES
    np.testing.assert_array_equal(cov.to_numpy(), cov.to_numpy().T)


def test_pvalues_and_intervals_are_consistent(res):
    """A coefficient is significant at alpha exactly when its interval excludes zero."""
    for alpha in (0.05, 0.5):
        ci = res.conf_int(alpha)
        excludes_zero = (ci["lower"] > 0) | (ci["upper"] < 0)
        pd.testing.assert_series_equal(
            excludes_zero, res.pvalues < alpha, check_names=False, check_dtype=False
        )


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5])
def test_bad_alpha_raises(crv, alpha):
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        crv.conf_int(alpha)


def test_rsquared_within_matches_dummy_regression(crv, panel):
    dummies = np.column_stack(
        [pd.get_dummies(panel[f]).to_numpy(dtype=float) for f in ("unit", "period")]
    )

    def residual(v):
        return v - dummies @ np.linalg.lstsq(dummies, v, rcond=None)[0]

    y_within = residual(panel["y"].to_numpy())
    x_within = residual(panel[NAMES].to_numpy())
    e = y_within - x_within @ np.linalg.lstsq(x_within, y_within, rcond=None)[0]
    expected = 1 - (e @ e) / (y_within @ y_within)
    assert crv.rsquared_within == pytest.approx(expected, rel=1e-8)


# --------------------------------------------------------------------------------------------
# t_test and wald_test
# --------------------------------------------------------------------------------------------


def test_t_test_difference(res):
    got = res.t_test("x1 - x2 = 0")
    expected = hand_t_test(res, np.array([1.0, -1.0, 0.0]), np.zeros(1))
    pd.testing.assert_frame_equal(got, expected, rtol=RTOL)
    smf_frame = statsmodels_twin(res).t_test("x1 - x2 = 0").summary_frame()
    np.testing.assert_allclose(got["estimate"], smf_frame["coef"], rtol=RTOL)
    np.testing.assert_allclose(got["se"], smf_frame["std err"], rtol=RTOL)
    np.testing.assert_allclose(got["p"], smf_frame["P>|t|"], rtol=RTOL)


def test_t_test_several_rows_with_values(res):
    got = res.t_test("x1 - x2 = 1, x3 = 0.5", alpha=0.1)
    matrix = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = hand_t_test(res, matrix, np.array([1.0, 0.5]), alpha=0.1)
    pd.testing.assert_frame_equal(got, expected, rtol=RTOL)


def test_t_test_matrix_form_matches_coefficient_table(res):
    got = res.t_test(np.eye(3))
    np.testing.assert_allclose(got["t"], res.tvalues, rtol=RTOL)
    np.testing.assert_allclose(got["p"], res.pvalues, rtol=RTOL)
    np.testing.assert_allclose(got[["ci_low", "ci_high"]], res.conf_int(), rtol=RTOL)


def test_wald_test_joint_string(res):
    got = res.wald_test("x1 = 0, x2 = 0")
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    statistic, pvalue = hand_wald(res, matrix, np.zeros(2))
    assert got.statistic == pytest.approx(statistic, rel=RTOL)
    assert got.pvalue == pytest.approx(pvalue, rel=RTOL, abs=1e-300)
    assert (got.df_num, got.df_denom) == (2, res.df_t)
    twin = statsmodels_twin(res).wald_test("x1 = 0, x2 = 0", use_f=True, scalar=True)
    assert got.statistic == pytest.approx(twin.statistic, rel=RTOL)
    assert got.pvalue == pytest.approx(twin.pvalue, rel=RTOL, abs=1e-300)


def test_wald_test_matrix_and_tuple_forms(res):
    matrix = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, 1.0]])
    values = np.array([0.1, 0.9])
    by_matrix = res.wald_test(matrix)
    statistic, pvalue = hand_wald(res, matrix, np.zeros(2))
    assert by_matrix.statistic == pytest.approx(statistic, rel=RTOL)
    assert by_matrix.pvalue == pytest.approx(pvalue, rel=RTOL, abs=1e-300)
    by_tuple = res.wald_test((matrix, values))
    statistic, pvalue = hand_wald(res, matrix, values)
    assert by_tuple.statistic == pytest.approx(statistic, rel=RTOL)
    assert by_tuple.pvalue == pytest.approx(pvalue, rel=RTOL, abs=1e-300)
    by_string = res.wald_test("x1 - x2 = 0.1, x2 + x3 = 0.9")
    assert by_string.statistic == pytest.approx(by_tuple.statistic, rel=RTOL)


def test_wald_test_of_one_restriction_is_the_squared_t(crv):
    t_row = crv.t_test("x1 - x2 = 0").iloc[0]
    wald = crv.wald_test("x1 - x2 = 0")
    assert wald.statistic == pytest.approx(t_row["t"] ** 2, rel=RTOL)
    assert wald.pvalue == pytest.approx(t_row["p"], rel=1e-8)


def test_wald_test_str(crv):
    text = str(crv.wald_test("x1 = 0, x2 = 0"))
    assert text.startswith(f"Wald test: F(2, {crv.df_t:g}) = ")


@pytest.mark.parametrize(
    "restrictions",
    [
        np.ones((1, 2)),  # too few columns
        np.ones((2, 4)),  # too many columns
        np.ones(4),  # a vector of the wrong length
        (np.ones((2, 3)), np.ones(3)),  # one value too many
        (np.ones((2, 3)), np.ones(1)),  # one value too few
    ],
    ids=["cols-short", "cols-long", "vector", "values-long", "values-short"],
)
@pytest.mark.parametrize("method", ["t_test", "wald_test"])
def test_bad_restriction_shapes_raise(crv, restrictions, method):
    with pytest.raises(ValueError, match="restrictions: expected a matrix with 3 columns"):
        getattr(crv, method)(restrictions)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def test_to_frame(res):
    frame = res.to_frame(alpha=0.1)
    assert list(frame.columns) == ["estimate", "se", "t", "p", "ci_low", "ci_high"]
    assert list(frame.index) == NAMES
    np.testing.assert_array_equal(frame["estimate"], res.params)
    np.testing.assert_array_equal(frame["se"], res.bse)
    np.testing.assert_array_equal(frame["t"], res.tvalues)
    np.testing.assert_array_equal(frame["p"], res.pvalues)
    np.testing.assert_array_equal(frame[["ci_low", "ci_high"]], res.conf_int(0.1))


def test_summary_text(res, panel):
    text = res.summary().as_text()
    for name in NAMES:
        assert name in text
    assert res.vcov_type in text
    assert "FixedEffectsOLS results" in text
    assert f"{len(panel):,}" in text
    assert f"unit ({panel['unit'].nunique()})" in text
    assert "[0.025" in text and "0.975]" in text
    if res.covariance.request.kind == "CRV1":
        assert res.vcov_type == "CRV1 by g"
        assert "Clusters:" in text
    # the coefficient column shows each estimate to 4 decimals
    for value in res.params:
        assert f"{value:.4f}" in text


def test_summary_alpha_changes_the_interval_labels(crv):
    text = crv.summary(alpha=0.1).as_text()
    assert "[0.05" in text and "0.95]" in text


def test_to_latex(crv):
    latex = crv.to_latex()
    assert "\\begin{tabular}" in latex and "\\end{tabular}" in latex
    assert "x1" in latex and "CRV1 by g" in latex


def test_html_repr(crv):
    html = crv._repr_html_()
    assert "<table" in html and "x2" in html


def test_restrictions_on_names_with_colons_need_backticks():
    df = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0, 6.0], "a::b": [0.0, 1.0, 2.0, 1.0, 3.0]})
    res = FixedEffectsOLS(df.assign(one=1.0), "y", ["one", "a::b"]).fit()
    with pytest.raises(ValueError, match=r"quote names .* in backticks"):
        res.t_test("a::b = 0")
    table = res.t_test("`a::b` = 0")
    assert table["estimate"].iloc[0] == pytest.approx(res.params["a::b"], rel=1e-12)
    with pytest.raises(ValueError, match=r"unknown coefficient 'zz'"):
        res.wald_test("zz = 0")
