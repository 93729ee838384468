"""FixedEffectsOLS against the explicit dummy-variable regression (statsmodels) and pyfixest.

References
----------
* statsmodels OLS/WLS of ``y ~ x1 + x2 + C(u) + C(t) [+ C(r)]`` (dummies, no absorption). Its
  raw sandwiches (nonrobust bread, HC0, cluster with ``use_correction=False``) are scaled here by
  hand with the small-sample factors documented in :mod:`models.estimation.vcov`: the fixed-effect
  count is fixest's default (levels minus one per extra fixed effect, checked against
  ``numpy.linalg.matrix_rank`` of the dummies on these connected designs), nesting is found by a
  pandas ``groupby`` and the nested rule follows fixest's vcov.R. An independent computation of the
  same formula.
* pyfixest ``feols`` (fixest's defaults) on designs where no fixed effect is nested in a
  cluster variable. pyfixest 0.60 detects nesting nondeterministically (the outcome depends on
  PYTHONHASHSEED), so nested cases are checked against the hand-computed reference only.

Tolerances: coefficients 1e-8 relative, standard errors 1e-6 relative.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.sandwich_covariance import cov_cluster

from models import CollinearityWarning, FixedEffectsOLS, SingletonWarning

pytestmark = [
    # pyfixest 0.60 under pandas 3 and statsmodels on rank-deficient dummy designs (nested
    # fixed effects) are noisy; neither warning is about the code under test.
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
    pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient"),
    pytest.mark.filterwarnings("ignore:.*singleton fixed effect.*dropped from the model"),
]

COEF_RTOL = 1e-8
SE_RTOL = 1e-6
REGRESSORS = ["x1", "x2"]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def make_panel(seed: int, n_units: int = 30, n_periods: int = 8, share: float = 0.7):
    """An unbalanced unit x period panel, rows shuffled, with a non-default index.

    Columns: u (string unit ids), t (int periods), r (a third, random fixed effect), region
    (unit // 5: units are nested in regions), g and h (random cluster variables in which no
    fixed effect is nested), w (positive weights), x1, x2, y.
    """
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    sample = rng.random(unit.size) < share
    unit, period = unit[sample], period[sample]
    n = unit.size
    unit_effect = rng.normal(size=n_units)[unit]
    period_effect = rng.normal(size=n_periods)[period]
    r = rng.integers(0, 5, n)
    g = rng.integers(0, 12, n)
    h = rng.integers(0, 9, n)
    x1 = rng.normal(size=n) + 0.8 * unit_effect
    x2 = rng.normal(size=n) + 0.5 * period_effect + 0.3 * x1
    noise = rng.normal(size=n) * (0.5 + np.abs(x1)) + rng.normal(size=12)[g] + rng.normal(size=9)[h]
    y = 1.5 * x1 - 0.8 * x2 + unit_effect + period_effect + 0.4 * r + noise
    df = pd.DataFrame(
        {
            "u": [f"u{i:02d}" for i in unit],
            "t": period + 2000,
            "r": r,
            "region": unit // 5,
            "g": g,
            "h": h,
            "w": rng.uniform(0.3, 3.0, n),
            "x1": x1,
            "x2": x2,
            "y": y,
        }
    )
    order = rng.permutation(n)
    df = df.iloc[order]
    df.index = rng.choice(10 * n, size=n, replace=False)
    return df


@pytest.fixture(scope="module")
def panel():
    return make_panel(0)


@pytest.fixture(scope="module")
def panel_b():
    return make_panel(1, n_units=40, n_periods=10, share=0.6)


# --------------------------------------------------------------------------------------------
# The hand-computed reference
# --------------------------------------------------------------------------------------------


def dummies(df: pd.DataFrame, fixed_effects) -> np.ndarray:
    return np.column_stack(
        [pd.get_dummies(df[f].astype(str)).to_numpy(dtype=float) for f in fixed_effects]
    )


def fe_rank(df: pd.DataFrame, fixed_effects) -> int:
    """Identified fixed-effect coefficients: the rank of the dummy matrix."""
    return int(np.linalg.matrix_rank(dummies(df, fixed_effects)))


def is_nested(df: pd.DataFrame, fe: str, cluster: str) -> bool:
    return bool(df.groupby(fe)[cluster].nunique().max() == 1)


def fixest_cluster_k_fe(df: pd.DataFrame, fixed_effects, clusters) -> int:
    """Fixed-effect coefficients in K for CRV1, fixest's rule (``fixef.K = "nested"``).

    A fixed effect nested in any cluster variable is left out, keeping one coefficient per
    left-out effect; when all are nested, K keeps just one (the intercept). From fixest's
    vcov.R: ``K - (sum(sizes[nested]) - n_nested)``, or ``+ 1`` after removing all.
    """
    sizes = [df[f].nunique() for f in fixed_effects]
    full = sum(sizes) - (len(sizes) - 1)
    nested = [any(is_nested(df, f, c) for c in clusters) for f in fixed_effects]
    if not any(nested):
        # The designs used with this reference are connected and generic, where fixest's count
        # equals the rank of the dummies (the dummy regression's own count).
        assert full == fe_rank(df, fixed_effects)
        return full
    if all(nested):
        return 1
    return full - sum(s for s, n in zip(sizes, nested, strict=True) if n) + sum(nested)


def floor_eigenvalues(cov: np.ndarray) -> np.ndarray:
    """Two-way CRV1 after fixest's fix: negative eigenvalues set to zero."""
    values, vectors = np.linalg.eigh(cov)
    return vectors @ np.diag(np.clip(values, 0, None)) @ vectors.T


def dummy_fit(df: pd.DataFrame, fixed_effects, weights=None, regressors=REGRESSORS):
    """statsmodels OLS/WLS with explicit dummies."""
    formula = f"y ~ {' + '.join(regressors)} + " + " + ".join(f"C({f})" for f in fixed_effects)
    if weights is None:
        return smf.ols(formula, df).fit()
    return smf.wls(formula, df, weights=df[weights]).fit()


def reference_cov(df, fixed_effects, vcov, weights=None, regressors=REGRESSORS):
    """(coefficients, covariance) of the regressors from the dummy regression, with the
    small-sample factors of models/vcov.py applied by hand."""
    fit = dummy_fit(df, fixed_effects, weights, regressors)
    block = [fit.model.exog_names.index(name) for name in regressors]
    ix = np.ix_(block, block)
    n, k = len(df), len(regressors)
    if vcov in ("iid", "HC1"):
        # documented count (fixest's default); on the connected designs used here it is the
        # rank of the dummies, which is what the dummy regression's own df would use
        f_all = sum(df[f].nunique() for f in fixed_effects) - (len(fixed_effects) - 1)
        assert f_all == fe_rank(df, fixed_effects)
    if vcov == "iid":
        raw = (
            fit.normalized_cov_params.to_numpy()
            if hasattr(fit.normalized_cov_params, "to_numpy")
            else np.asarray(fit.normalized_cov_params)
        )
        cov = fit.ssr / (n - k - f_all) * raw[ix]
    elif vcov == "HC1":
        cov = n / (n - k - f_all) * np.asarray(fit.cov_HC0)[ix]
    else:
        clusters = vcov["CRV1"].split("+")
        codes = [df[c].astype(str).factorize()[0] for c in clusters]
        if len(codes) == 1:
            raw = cov_cluster(fit, codes[0], use_correction=False)
            n_groups = len(np.unique(codes[0]))
        else:
            both = pd.Series(list(zip(*codes, strict=True))).factorize()[0]
            raw = sum(
                sign * cov_cluster(fit, c, use_correction=False)
                for sign, c in zip((1, 1, -1), (*codes, both), strict=True)
            )
            n_groups = min(len(np.unique(c)) for c in codes)
        f_c = fixest_cluster_k_fe(df, fixed_effects, clusters)
        factor = n_groups / (n_groups - 1) * (n - 1) / (n - k - f_c)
        cov = factor * np.asarray(raw)[ix]
        if len(codes) == 2:
            cov = floor_eigenvalues(cov)
    return np.asarray(fit.params)[block], cov


def assert_matches(res, params, cov):
    # NaN == NaN would pass assert_allclose: a two-way CRV1 matrix need not be positive
    # definite (V_A + V_B - V_AB), so make sure the data give proper variances.
    assert (np.diag(cov) > 0).all()
    np.testing.assert_allclose(res.params.to_numpy(), params, rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(cov)), rtol=SE_RTOL)
    scale = np.abs(np.diag(cov)).max()
    np.testing.assert_allclose(res.covariance.matrix, cov, rtol=SE_RTOL, atol=SE_RTOL * scale)


def fit(df, fixed_effects, vcov, weights=None, regressors=REGRESSORS, drop_singletons=False):
    """Fit on every row (singletons kept), as the dummy regression and pyfixest's
    ``fixef_rm="none"`` do."""
    model = FixedEffectsOLS(
        df, "y", regressors, fixed_effects, weights=weights, drop_singletons=drop_singletons
    )
    return model.fit(vcov=vcov)


# --------------------------------------------------------------------------------------------
# vs the dummy-variable regression
# --------------------------------------------------------------------------------------------

VCOVS = ["iid", "HC1", {"CRV1": "g"}, {"CRV1": "u"}, {"CRV1": "g+h"}]
VCOV_IDS = ["iid", "HC1", "CRV1-g", "CRV1-unit", "CRV1-g+h"]


@pytest.mark.parametrize("vcov", VCOVS, ids=VCOV_IDS)
@pytest.mark.parametrize("weights", [None, "w"], ids=["unweighted", "weighted"])
def test_two_way_matches_dummy_regression(panel, vcov, weights):
    res = fit(panel, ["u", "t"], vcov, weights)
    assert_matches(res, *reference_cov(panel, ["u", "t"], vcov, weights))


@pytest.mark.parametrize("vcov", ["iid", "HC1", {"CRV1": "g"}], ids=["iid", "HC1", "CRV1-g"])
def test_three_way_matches_dummy_regression(panel, vcov):
    res = fit(panel, ["u", "t", "r"], vcov)
    assert_matches(res, *reference_cov(panel, ["u", "t", "r"], vcov))


def test_one_way_matches_dummy_regression(panel):
    res = fit(panel, ["u"], {"CRV1": "g"})
    assert_matches(res, *reference_cov(panel, ["u"], {"CRV1": "g"}))


def test_df_resid_and_t_degrees_of_freedom(panel):
    n, k = len(panel), len(REGRESSORS)
    iid = fit(panel, ["u", "t"], "iid")
    assert iid.df_resid == n - k - (panel["u"].nunique() + panel["t"].nunique() - 1)
    assert iid.df_t == iid.df_resid
    assert fit(panel, ["u", "t"], {"CRV1": "g"}).df_t == panel["g"].nunique() - 1
    two_way = fit(panel, ["u", "t"], {"CRV1": "g+h"})
    assert two_way.df_t == min(panel["g"].nunique(), panel["h"].nunique()) - 1


NESTED_CASES = [
    # (fixed effects, cluster spec): which fixed effects are nested in a cluster variable
    pytest.param(["u", "t"], {"CRV1": "u"}, id="unit-in-unit"),
    pytest.param(["u", "t"], {"CRV1": "region"}, id="unit-in-region"),
    pytest.param(["u", "t", "r"], {"CRV1": "u"}, id="three-fe-unit-in-unit"),
    pytest.param(["u", "t"], {"CRV1": "u+g"}, id="two-way-unit-in-first"),
    pytest.param(["u", "t"], {"CRV1": "g+region"}, id="two-way-unit-in-second"),
    pytest.param(["u", "region"], {"CRV1": "region"}, id="every-fe-nested"),
    pytest.param(["u", "region", "t"], {"CRV1": "region"}, id="two-of-three-nested"),
]


def test_two_way_negative_eigenvalue_is_floored(panel):
    """V_g + V_region - V_(g, region) has a negative eigenvalue on this panel: the covariance
    reported is the floored one, positive semi-definite, with finite standard errors."""
    vcov = {"CRV1": "g+region"}
    fit_sm = dummy_fit(panel, ["u", "t"])
    block = [fit_sm.model.exog_names.index(name) for name in REGRESSORS]
    groups = [panel[c].factorize()[0] for c in ("g", "region")]
    both = (panel["g"] * 100 + panel["region"]).factorize()[0]
    raw = sum(
        sign * cov_cluster(fit_sm, c, use_correction=False)
        for sign, c in zip((1, 1, -1), (*groups, both), strict=True)
    )[np.ix_(block, block)]
    assert np.linalg.eigvalsh(raw).min() < 0  # the case is the one it means to be
    res = fit(panel, ["u", "t"], vcov)
    assert np.linalg.eigvalsh(res.covariance.matrix).min() > -1e-12
    assert np.isfinite(res.bse).all()
    assert_matches(res, *reference_cov(panel, ["u", "t"], vcov))


@pytest.mark.parametrize(("fixed_effects", "vcov"), NESTED_CASES)
def test_crv1_with_nested_fixed_effects_matches_fixest_rule(panel, fixed_effects, vcov):
    """Fixed effects nested in the cluster variable are left out of K (fixest's nested rule).

    Checked against the hand reference only: pyfixest 0.60 detects nesting nondeterministically.
    """
    clusters = vcov["CRV1"].split("+")
    assert any(is_nested(panel, f, c) for f in fixed_effects for c in clusters)
    res = fit(panel, fixed_effects, vcov)
    assert_matches(res, *reference_cov(panel, fixed_effects, vcov))


def test_default_vcov_is_iid(panel):
    """models/ols.py documents iid as the default (statsmodels, pyfixest, fixest >= 0.13)."""
    default = FixedEffectsOLS(panel, "y", REGRESSORS, ["t", "u"], drop_singletons=False).fit()
    explicit = fit(panel, ["t", "u"], "iid")
    assert default.vcov_type == "iid"
    np.testing.assert_array_equal(default.covariance.matrix, explicit.covariance.matrix)


def test_bare_crv1_clusters_by_first_fixed_effect(panel):
    bare = fit(panel, ["t", "u"], "CRV1")
    explicit = fit(panel, ["t", "u"], {"CRV1": "t"})
    assert bare.vcov_type == "CRV1 by t"
    np.testing.assert_array_equal(bare.covariance.matrix, explicit.covariance.matrix)
    assert bare.covariance.n_clusters == (panel["t"].nunique(),)


def test_hetero_is_an_alias_of_hc1(panel):
    hetero = fit(panel, ["u", "t"], "hetero")
    hc1 = fit(panel, ["u", "t"], "HC1")
    np.testing.assert_array_equal(hetero.covariance.matrix, hc1.covariance.matrix)


@pytest.mark.parametrize(
    "vcov",
    ["HC3", {"HC1": "g"}, {"CRV1": "g+h+r"}, {"CRV1": ""}, 3],
    ids=["unknown", "hc1-with-clusters", "three-way", "empty", "not-a-spec"],
)
def test_bad_vcov_raises(panel, vcov):
    with pytest.raises(ValueError, match="vcov"):
        fit(panel, ["u", "t"], vcov)


def test_no_fixed_effects_is_plain_ols(panel):
    df = panel.assign(const=1.0)
    res = FixedEffectsOLS(df, "y", ["const", *REGRESSORS]).fit(vcov="HC1")
    ref = smf.ols("y ~ x1 + x2", df).fit(cov_type="HC1")
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=SE_RTOL)


# --------------------------------------------------------------------------------------------
# vs pyfixest (no fixed effect nested in any cluster variable)
# --------------------------------------------------------------------------------------------


PYFIXEST_CASES = [
    pytest.param(["u", "t", "r"], "iid", None, id="3fe-iid"),
    pytest.param(["u", "t", "r"], "HC1", None, id="3fe-HC1"),
    pytest.param(["u", "t", "r"], {"CRV1": "g"}, None, id="3fe-CRV1-g"),
    pytest.param(["u", "t", "r"], {"CRV1": "g+h"}, None, id="3fe-twoway"),
    pytest.param(["u", "t"], "iid", "w", id="2fe-weighted-iid"),
    pytest.param(["u", "t"], "HC1", "w", id="2fe-weighted-HC1"),
    pytest.param(["u", "t", "r"], {"CRV1": "g"}, "w", id="3fe-weighted-CRV1-g"),
    pytest.param(["u", "t", "r"], {"CRV1": "g+h"}, "w", id="3fe-weighted-twoway"),
]


def pyfixest_fit(df, fixed_effects, vcov, weights=None, fixef_rm="none"):
    formula = f"y ~ {' + '.join(REGRESSORS)} | {' + '.join(fixed_effects)}"
    pf_vcov = "hetero" if vcov == "HC1" else vcov
    return pf.feols(formula, df, vcov=pf_vcov, weights=weights, fixef_rm=fixef_rm)


@pytest.mark.parametrize(("fixed_effects", "vcov", "weights"), PYFIXEST_CASES)
def test_matches_pyfixest(panel_b, fixed_effects, vcov, weights):
    clusters = vcov["CRV1"].split("+") if isinstance(vcov, dict) else []
    assert not any(is_nested(panel_b, f, c) for f in fixed_effects for c in clusters)
    res = fit(panel_b, fixed_effects, vcov, weights)
    ref = pyfixest_fit(panel_b, fixed_effects, vcov, weights)
    assert np.isfinite(ref.se().to_numpy()).all()
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=COEF_RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)
    np.testing.assert_allclose(res.tvalues.to_numpy(), ref.tstat().to_numpy(), rtol=SE_RTOL)
    # p-values: relative agreement, except where both are numerically zero
    np.testing.assert_allclose(
        res.pvalues.to_numpy(), ref.pvalue().to_numpy(), rtol=SE_RTOL, atol=1e-12
    )
    assert res.nobs == ref._N


def test_disconnected_panel_uses_documented_count_like_pyfixest():
    """Two blocks of units that never share a period: the fixed-effect count is fixest's
    default (levels - 1), one more than the rank of the dummies; pyfixest counts the same."""
    df = make_panel(3, n_units=30, n_periods=8, share=0.8)
    first_block = df["u"].str[1:].astype(int) < 15
    df = df[first_block == (df["t"] < 2004)]
    sizes = df["u"].nunique() + df["t"].nunique()
    assert fe_rank(df, ["u", "t"]) == sizes - 2  # two components
    for vcov in ("iid", {"CRV1": "g"}):
        res = fit(df, ["u", "t"], vcov)
        assert res.df_resid == len(df) - 2 - (sizes - 1)
        ref = pyfixest_fit(df, ["u", "t"], vcov)
        np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=COEF_RTOL)
        np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)


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
