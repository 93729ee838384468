"""FixedEffectsOLS against the explicit dummy-variable regression (statsmodels) and pyfixest:
plain OLS, singletons, formulas, collinearity, input checks, conformance (the variance
estimators, with the hand-computed reference: test_vcov.py). Tolerances: coefficients 1e-8
relative, standard errors 1e-6 relative."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

from models import CollinearityWarning, FixedEffectsOLS, SingletonWarning
from tests.models.estimation.ols_helpers import (
    COEF_RTOL,
    PEER_WARNINGS,
    REGRESSORS,
    SE_RTOL,
    fit,
    make_panel,
    panel_fixture,  # noqa: F401 (a fixture)
    pyfixest_fit,
)

pytestmark = PEER_WARNINGS


# --------------------------------------------------------------------------------------------
# Without fixed effects
# --------------------------------------------------------------------------------------------


def test_no_fixed_effects_is_plain_ols(panel):
    df = panel.assign(const=1.0)
    res = FixedEffectsOLS(df, "y", ["const", *REGRESSORS]).fit(vcov="HC1")
    ref = smf.ols("y ~ x1 + x2", df).fit(cov_type="HC1")
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=SE_RTOL)


# --------------------------------------------------------------------------------------------
# Singletons
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel_with_singletons():
    """panel_b plus three units seen once and one period seen once."""
    df = make_panel(2, n_units=40, n_periods=10, share=0.6)
    rng = np.random.default_rng(22)
    extra = df.sample(4, random_state=5).copy()
    extra["u"] = ["solo1", "solo2", "solo3", extra["u"].iloc[3]]
    extra["t"] = [*extra["t"].iloc[:3], 1999]
    extra["y"] = extra["y"] + rng.normal(size=4)
    extra.index = extra.index + 10**6
    return pd.concat([df, extra])


@pytest.mark.parametrize(
    "vcov", ["iid", "HC1", {"CRV1": "g"}, {"CRV1": "g+h"}], ids=["iid", "HC1", "g", "g+h"]
)
def test_drop_singletons_matches_pyfixest(panel_with_singletons, vcov):
    df = panel_with_singletons
    with pytest.warns(SingletonWarning, match="dropped 4 singleton"):
        res = fit(df, ["u", "t"], vcov, drop_singletons=True)
    ref = pyfixest_fit(df, ["u", "t"], vcov, fixef_rm="singleton")
    assert res.n_singletons == len(df) - ref._N == 4
    assert res.nobs == ref._N
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)


def test_singletons_dropped_by_default(panel_with_singletons):
    """Dropping singletons is the default, as in pyfixest (``fixef_rm="singleton"``)."""
    df = panel_with_singletons
    with pytest.warns(SingletonWarning, match="dropped 4 singleton"):
        res = FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t"]).fit(vcov="HC1")
    ref = pf.feols("y ~ x1 + x2 | u + t", df, vcov="hetero")
    assert res.nobs == ref._N == len(df) - 4
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)


def test_singletons_kept_on_request(panel_with_singletons, recwarn):
    df = panel_with_singletons
    res = fit(df, ["u", "t"], "HC1", drop_singletons=False)
    assert not [w for w in recwarn if issubclass(w.category, SingletonWarning)]
    assert res.nobs == len(df) and res.n_singletons == 0
    ref = pyfixest_fit(df, ["u", "t"], "HC1", fixef_rm="none")
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)


# --------------------------------------------------------------------------------------------
# from_formula
# --------------------------------------------------------------------------------------------


def test_from_formula_equals_column_version(panel):
    df = panel.assign(x3=np.exp(panel["x2"] / 2) + 0.5, grp=panel["h"] % 3)
    formula = "y ~ x1 + np.log(x3) + C(grp) | u + t"
    res = FixedEffectsOLS.from_formula(formula, df).fit(vcov="CRV1")
    columns = df.assign(
        log_x3=np.log(df["x3"]),
        grp1=(df["grp"] == 1).astype(float),
        grp2=(df["grp"] == 2).astype(float),
    )
    by_columns = FixedEffectsOLS(columns, "y", ["x1", "log_x3", "grp1", "grp2"], ["u", "t"]).fit(
        vcov="CRV1"
    )
    assert res.names == ("x1", "np.log(x3)", "C(grp)[T.1]", "C(grp)[T.2]")
    assert res.regression.fixed_effects == ("u", "t")
    assert res.outcome == "y"
    assert res.vcov_type == by_columns.vcov_type == "CRV1 by u"
    np.testing.assert_allclose(res.params.to_numpy(), by_columns.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), by_columns.bse.to_numpy(), rtol=1e-12)


def test_from_formula_model_clusters_by_any_column(panel):
    res = FixedEffectsOLS.from_formula("y ~ x1 + x2 | u + t", panel).fit(vcov={"CRV1": "g"})
    by_columns = fit(panel, ["u", "t"], {"CRV1": "g"})
    np.testing.assert_allclose(res.bse.to_numpy(), by_columns.bse.to_numpy(), rtol=1e-12)


def test_from_formula_weights_and_interacted_fixed_effect(panel):
    df = panel.assign(tr=panel["t"].astype(str) + "_" + panel["r"].astype(str))
    res = FixedEffectsOLS.from_formula(
        "y ~ x1 + x2 | u + t^r", df, weights="w", drop_singletons=False
    ).fit(vcov="HC1")
    by_columns = fit(df, ["u", "tr"], "HC1", weights="w")
    np.testing.assert_allclose(res.params.to_numpy(), by_columns.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.bse.to_numpy(), by_columns.bse.to_numpy(), rtol=1e-8)


def test_from_formula_rejects_missing_values(panel):
    df = panel.copy()
    df.iloc[3, df.columns.get_loc("x2")] = np.nan
    with pytest.raises(ValueError, match="'x2'"):
        FixedEffectsOLS.from_formula("y ~ x1 + x2 | u", df)


def test_from_formula_without_tilde_raises(panel):
    with pytest.raises(ValueError, match="formula"):
        FixedEffectsOLS.from_formula("y x1 | u", panel)


# --------------------------------------------------------------------------------------------
# Collinearity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("x3", lambda df: df["x1"] + 2 * df["x2"]),  # collinear with earlier regressors
        ("xu", lambda df: df["u"].str[1:].astype(float) ** 2),  # constant within unit
        ("xut", lambda df: df["u"].str[1:].astype(float) - 0.5 * df["t"]),  # in the FE span
    ],
    ids=["regressors", "unit-fe", "both-fe"],
)
def test_collinear_regressor_dropped_with_warning(panel, name, make):
    df = panel.assign(**{name: make(panel)})
    with pytest.warns(CollinearityWarning, match=rf"collinear .*: {name}$"):
        res = fit(df, ["u", "t"], "HC1", regressors=["x1", "x2", name])
    assert res.collinear == (name,)
    assert res.names == ("x1", "x2")
    clean = fit(panel, ["u", "t"], "HC1")
    np.testing.assert_allclose(res.params.to_numpy(), clean.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(res.bse.to_numpy(), clean.bse.to_numpy(), rtol=1e-9)
    assert "Dropped (collinear):" in res.summary().as_text()


def test_all_regressors_collinear_raises(panel):
    df = panel.assign(xu=panel["u"].str[1:].astype(float), xt=panel["t"] * 0.5)
    with pytest.raises(ValueError, match=r"every regressor \(xu, xt\)"):
        fit(df, ["u", "t"], "iid", regressors=["xu", "xt"])


def test_repeated_regressor_is_dropped_as_collinear(panel):
    with pytest.warns(CollinearityWarning, match="x1"):
        res = fit(panel, ["u", "t"], "iid", regressors=["x1", "x2", "x1"])
    clean = fit(panel, ["u", "t"], "iid")
    assert res.names == ("x1", "x2")
    np.testing.assert_allclose(res.params.to_numpy(), clean.params.to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(outcome="nope"), "outcome 'nope' not in the data"),
        (dict(regressors=["x1", "nope"]), "regressor 'nope' not in the data"),
        (dict(fixed_effects=["u", "nope"]), "fixed effect 'nope' not in the data"),
        (dict(fixed_effects=["u^nope"]), "fixed effect 'nope' not in the data"),
        (dict(weights="nope"), "weights 'nope' not in the data"),
        (dict(regressors=[]), "at least one regressor"),
    ],
    ids=["outcome", "regressor", "fe", "fe-interaction", "weights", "no-regressors"],
)
def test_missing_columns_raise(panel, kwargs, match):
    args = dict(outcome="y", regressors=REGRESSORS, fixed_effects=["u", "t"]) | kwargs
    with pytest.raises(ValueError, match=match):
        FixedEffectsOLS(panel, **args)


def test_missing_cluster_column_raises(panel):
    model = FixedEffectsOLS(panel, "y", REGRESSORS, ["u", "t"])
    with pytest.raises(ValueError, match="'nope' not in the data"):
        model.fit(vcov={"CRV1": "nope"})


def test_string_instead_of_list_raises(panel):
    with pytest.raises(TypeError, match="lists of column names"):
        FixedEffectsOLS(panel, "y", "x1", ["u"])


def test_duplicate_column_names_raise(panel):
    df = pd.concat([panel, panel[["x1"]]], axis=1)
    with pytest.raises(ValueError, match="'x1'"):
        FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t"]).fit()


def _with_missing(df: pd.DataFrame, column: str, kind: str) -> pd.DataFrame:
    df = df.copy()
    row = df.index[7]
    if kind == "float":
        df[column] = df[column].astype(float)
        df.loc[row, column] = np.nan
    elif kind == "object":
        df[column] = df[column].astype(object)
        df.loc[row, column] = None
    else:  # nullable integer
        df[column] = df[column].astype("Int64")
        df.loc[row, column] = pd.NA
    return df


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("y", "float"),
        ("x1", "float"),
        ("x2", "float"),
        ("u", "object"),
        ("t", "float"),
        ("r", "object"),
        ("t", "Int64"),
    ],
)
def test_missing_value_raises_naming_the_column(panel, column, kind):
    df = _with_missing(panel, column, kind)
    with pytest.raises(ValueError, match=f"column '{column}'"):
        FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t", "r"], drop_singletons=False).fit(vcov="iid")


@pytest.mark.parametrize(
    "kind",
    [
        "float",
        "Int64",
    ],
)
def test_missing_value_in_cluster_raises(panel, kind):
    df = _with_missing(panel, "g", kind)
    model = FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t"])
    with pytest.raises(ValueError, match="column 'g'"):
        model.fit(vcov={"CRV1": "g"})


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_weights_raise(panel, bad):
    df = panel.copy()
    df.loc[df.index[4], "w"] = bad
    with pytest.raises(ValueError, match="column 'w'"):
        FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t"], weights="w")


def test_non_numeric_regressor_raises(panel):
    df = panel.assign(flag=panel["x1"] > 0)
    with pytest.raises(ValueError, match="column 'flag': expected numbers"):
        FixedEffectsOLS(df, "y", ["x1", "flag"], ["u", "t"])


# --------------------------------------------------------------------------------------------
# Conformance
# --------------------------------------------------------------------------------------------


def test_fit_leaves_the_model_and_data_unchanged(panel):
    df = panel.copy()
    model = FixedEffectsOLS(df, "y", REGRESSORS, ["u", "t"], weights="w", drop_singletons=True)
    before = dict(vars(model))
    model.fit(vcov={"CRV1": "g+h"})
    assert vars(model).keys() == before.keys()
    for key, value in before.items():
        assert vars(model)[key] is value
    pd.testing.assert_frame_equal(df, panel)


def test_two_fits_are_identical(panel):
    model = FixedEffectsOLS(panel, "y", REGRESSORS, ["u", "t", "r"], weights="w")
    first, second = model.fit(vcov={"CRV1": "g"}), model.fit(vcov={"CRV1": "g"})
    np.testing.assert_array_equal(first.coefficients, second.coefficients)
    np.testing.assert_array_equal(first.covariance.matrix, second.covariance.matrix)
    assert first.summary().as_text() == second.summary().as_text()


def test_results_pickle(panel):
    res = fit(panel, ["u", "t"], {"CRV1": "g+h"})
    _ = res.pvalues  # populate a cached property before pickling
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_series_equal(back.params, res.params)
    pd.testing.assert_series_equal(back.pvalues, res.pvalues)
    np.testing.assert_array_equal(back.covariance.matrix, res.covariance.matrix)
    assert back.vcov_type == res.vcov_type == "CRV1 by g and h"
    assert back.summary().as_text() == res.summary().as_text()


def test_results_are_frozen(panel):
    res = fit(panel, ["u", "t"], "iid")
    with pytest.raises(AttributeError):
        res.nobs = 3


def test_fit_does_not_warn_on_clean_data(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(panel, ["u", "t", "r"], {"CRV1": "g+h"}, weights="w")


# --------------------------------------------------------------------------------------------
# Fixes from the review of the first version
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::models.SingletonWarning")
def test_weight_scale_does_not_change_the_fit(panel):
    """The direct solve's pseudo-inverse cut-off is relative: tiny weights work too."""
    fixed_effects = ["u", "t", "r^t"]
    unit = FixedEffectsOLS(panel, "y", REGRESSORS, fixed_effects, weights="w").fit()
    tiny = FixedEffectsOLS(
        panel.assign(w=panel["w"] * 1e-13), "y", REGRESSORS, fixed_effects, weights="w"
    ).fit()
    np.testing.assert_allclose(tiny.params, unit.params, rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_weight_scale_does_not_change_which_regressors_are_collinear(panel, scale):
    """The collinearity check compares each column's weighted residual sum of squares with its
    weighted raw sum of squares, both scaling with the weights (the raw one used sqrt(w)
    once, so a large weight scale kept nearly collinear columns). ``x3`` is x1 + x2 up to a
    relative 1e-6 (sum of squares ratio about 1e-12, below collin_tol = 1e-10)."""
    rng = np.random.default_rng(3)
    data = panel.assign(
        x3=panel["x1"] + panel["x2"] + 1e-6 * rng.normal(size=len(panel)),
        w=panel["w"] * scale,
    )
    with pytest.warns(CollinearityWarning, match=r"collinear with earlier regressors .*: x3"):
        res = FixedEffectsOLS(data, "y", ["x1", "x2", "x3"], ["u", "t"], weights="w").fit()
    assert res.collinear == ("x3",) and list(res.params.index) == ["x1", "x2"]


def test_formula_without_fixed_effects_keeps_the_intercept(panel):
    res = FixedEffectsOLS.from_formula("y ~ x1 + x2", panel).fit(vcov="HC1")
    sm = smf.ols("y ~ x1 + x2", panel).fit(cov_type="HC1")
    assert list(res.params.index) == ["Intercept", "x1", "x2"]
    np.testing.assert_allclose(res.params, sm.params, rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse, sm.bse, rtol=SE_RTOL)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: FixedEffectsOLS(d.iloc[:0], "y", REGRESSORS, ["u"]), r"data: no rows"),
        (lambda d: FixedEffectsOLS(d, "y", REGRESSORS, None), r"lists of column names"),
        (lambda d: FixedEffectsOLS.from_formula("y ~ x9 | u", d), r"formula 'y ~ x9 \| u'"),
        (lambda d: FixedEffectsOLS.from_formula("y ~ x1 +", d), r"formula 'y ~ x1 \+'"),
        (lambda d: FixedEffectsOLS(d.iloc[:3], "y", ["x1"], ["u", "t"]).fit(),
         r"every one of the 3 observations is alone in a level of u or t"),
    ],
)  # fmt: skip
def test_more_bad_inputs_raise_clear_errors(panel, build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build(panel)
