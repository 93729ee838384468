"""The variance estimators of FixedEffectsOLS (models.estimation.vcov): iid, HC1, one- and two-way
CRV1 and their small-sample factors against the dummy-variable regression (statsmodels, factors
applied by hand) and pyfixest; nested fixed effects, the eigenvalue floor, df_t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.sandwich_covariance import cov_cluster

from models import FixedEffectsOLS
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


# References
# ----------
# * statsmodels OLS/WLS of ``y ~ x1 + x2 + C(u) + C(t) [+ C(r)]`` (dummies, no absorption). Its
#   raw sandwiches (nonrobust bread, HC0, cluster with ``use_correction=False``) are scaled here
#   by hand with the small-sample factors documented in :mod:`models.estimation.vcov`: the
#   fixed-effect count is fixest's default (levels minus one per extra fixed effect, checked
#   against ``numpy.linalg.matrix_rank`` of the dummies on these connected designs), nesting is
#   found by a pandas ``groupby`` and the nested rule follows fixest's vcov.R. An independent
#   computation of the same formula.
# * pyfixest ``feols`` (fixest's defaults) on designs where no fixed effect is nested in a
#   cluster variable. pyfixest 0.60 detects nesting nondeterministically (the outcome depends on
#   PYTHONHASHSEED), so nested cases are checked against the hand-computed reference only.
#
# Tolerances: coefficients 1e-8 relative, standard errors 1e-6 relative.


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
