"""Small-sample settings (models.estimation.small_sample, fixest's ``ssc()``) of the regression
variances: iid, HC1 and one- and two-way CRV1 under every combination of ``adj``, ``fixef_k``,
``cluster_adj`` and ``cluster_df``, and ``t_df``, for FixedEffectsOLS, EventStudy and SunAbraham.

References
----------
* fixest's rule applied by hand to the raw sandwiches of statsmodels' dummy-variable regression
  (nonrobust bread, HC0, cluster sums without correction), following fixest's R/VCOV.R: the iid
  variance ``e'e / (n - 1) (X'X)^-1``, HC1's ``n / (n - 1)`` when ``cluster.adj``, each term's or
  the smallest ``G / (G - 1)`` by ``cluster.df``, ``(n - 1) / (n - K)`` when ``adj`` with K by
  ``fixef.K``, and ``t.df``.
* pyfixest 0.60 ``feols(..., ssc=pf.ssc(k_adj, k_fixef, G_adj, G_df))``, which implements the
  same rule for iid and CRV1. For HC1 it leaves out fixest's ``n / (n - 1)`` of ``cluster.adj``,
  so it is a reference there only where the two coincide (``adj == cluster_adj``).

Tolerances: coefficients 1e-8 relative, standard errors 1e-6 relative.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from scipy import stats
from statsmodels.stats.sandwich_covariance import cov_cluster

from models import EventStudy, FixedEffectsOLS, SmallSample, SunAbraham, ssc
from tests.models.estimation.ols_helpers import (
    PEER_WARNINGS,
    REGRESSORS,
    SE_RTOL,
    panel_fixture,  # noqa: F401 (a fixture)
)
from tests.models.estimation.test_vcov import (
    assert_matches,
    dummy_fit,
    fixest_cluster_k_fe,
    floor_eigenvalues,
)

pytestmark = PEER_WARNINGS

SETTINGS = [
    dict(adj=adj, fixef_k=fixef_k, cluster_adj=cluster_adj, cluster_df=cluster_df)
    for adj, fixef_k, cluster_adj, cluster_df in itertools.product(
        (True, False), ("nested", "none", "full"), (True, False), ("min", "conventional")
    )
]
SETTING_IDS = [
    f"adj={s['adj']}-K={s['fixef_k']}-cadj={s['cluster_adj']}-{s['cluster_df']}" for s in SETTINGS
]
PYFIXEST_K = {"nested": "nonnested", "none": "none", "full": "full"}
FIXED_EFFECTS = ["u", "t"]


def by_hand(
    df: pd.DataFrame, vcov, settings: dict, t_df="min"
) -> tuple[np.ndarray, np.ndarray, float]:
    """(coefficients, covariance, t degrees of freedom) of fixest's rule applied by hand."""
    fit = dummy_fit(df, FIXED_EFFECTS)
    block = [fit.model.exog_names.index(name) for name in REGRESSORS]
    ix = np.ix_(block, block)
    n, k = len(df), len(REGRESSORS)
    f_all = sum(df[f].nunique() for f in FIXED_EFFECTS) - (len(FIXED_EFFECTS) - 1)
    clusters = [] if isinstance(vcov, str) else vcov["CRV1"].split("+")
    if settings["fixef_k"] == "none":
        big_k = k
    elif settings["fixef_k"] == "full" or not clusters:
        big_k = k + f_all
    else:
        big_k = k + fixest_cluster_k_fe(df, FIXED_EFFECTS, clusters)
    adj = (n - 1) / (n - big_k) if settings["adj"] else 1.0
    n_groups = None
    if vcov == "iid":
        cov = fit.ssr / (n - 1) * np.asarray(fit.normalized_cov_params)[ix] * adj
    elif vcov == "HC1":
        cov = np.asarray(fit.cov_HC0)[ix] * (n / (n - 1) if settings["cluster_adj"] else 1) * adj
    else:
        codes = [df[c].astype(str).factorize()[0] for c in clusters]
        if len(codes) == 2:
            codes.append(pd.Series(list(zip(*codes, strict=True))).factorize()[0])
        each = settings["cluster_adj"] and settings["cluster_df"] == "conventional"
        cov = 0
        for sign, c in zip((1, 1, -1), codes, strict=False):
            g = len(np.unique(c))
            cov = cov + sign * np.asarray(cov_cluster(fit, c, use_correction=False)) * (
                g / (g - 1) if each else 1
            )
        n_groups = min(len(np.unique(c)) for c in codes[:2])
        smallest = n_groups / (n_groups - 1)
        if settings["cluster_adj"] and settings["cluster_df"] == "min":
            cov = cov * smallest
        cov = cov[ix] * adj
        if len(clusters) == 2:
            cov = floor_eigenvalues(cov)
    if not isinstance(t_df, str):
        df_t = t_df
    elif t_df == "min" and n_groups is not None:
        df_t = n_groups - 1
    else:
        df_t = n - big_k
    return np.asarray(fit.params)[block], cov, df_t


def ours(df: pd.DataFrame, vcov, **settings):
    model = FixedEffectsOLS(df, "y", REGRESSORS, FIXED_EFFECTS, drop_singletons=False)
    return model.fit(vcov, ssc=ssc(**settings))


VCOVS = ["iid", "HC1", {"CRV1": "g"}, {"CRV1": "u"}, {"CRV1": "g+h"}, {"CRV1": "u+g"}]
VCOV_IDS = ["iid", "HC1", "CRV1-g", "CRV1-unit(nested)", "CRV1-g+h", "CRV1-unit+g"]


@pytest.mark.parametrize("settings", SETTINGS, ids=SETTING_IDS)
@pytest.mark.parametrize("vcov", VCOVS, ids=VCOV_IDS)
def test_matches_fixest_rule_by_hand(panel, vcov, settings):
    res = ours(panel, vcov, **settings)
    params, cov, df_t = by_hand(panel, vcov, settings)
    assert_matches(res, params, cov)
    assert res.df_t == df_t


PYFIXEST_CASES = [
    pytest.param(vcov, settings, id=f"{name}-{setting_id}")
    for vcov, name in [
        ("iid", "iid"),
        ("HC1", "HC1"),
        ({"CRV1": "g"}, "g"),
        ({"CRV1": "g+h"}, "g+h"),
    ]
    for settings, setting_id in zip(SETTINGS, SETTING_IDS, strict=True)
    # pyfixest's HC1 leaves out fixest's n / (n - 1) of cluster.adj: it is fixest's only
    # where that factor and adj come together
    if not (vcov == "HC1" and settings["adj"] != settings["cluster_adj"])
]


@pytest.mark.parametrize(("vcov", "settings"), PYFIXEST_CASES)
def test_matches_pyfixest(panel, vcov, settings):
    """No fixed effect is nested in g or h (pyfixest's nesting detection is not used)."""
    ref = pf.feols(
        "y ~ x1 + x2 | u + t",
        panel,
        vcov="hetero" if vcov == "HC1" else vcov,
        fixef_rm="none",
        ssc=pf.ssc(
            k_adj=settings["adj"],
            k_fixef=PYFIXEST_K[settings["fixef_k"]],
            G_adj=settings["cluster_adj"],
            G_df=settings["cluster_df"],
        ),
    )
    res = ours(panel, vcov, **settings)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.se().to_numpy(), rtol=SE_RTOL)
    np.testing.assert_allclose(res.tvalues.to_numpy(), ref.tstat().to_numpy(), rtol=SE_RTOL)
    np.testing.assert_allclose(res.pvalues.to_numpy(), ref.pvalue().to_numpy(), atol=1e-10)


@pytest.mark.parametrize("vcov", ["iid", "HC1", {"CRV1": "g"}, {"CRV1": "g+h"}])
@pytest.mark.parametrize("t_df", ["min", "conventional", 7])
def test_t_degrees_of_freedom(panel, vcov, t_df):
    res = FixedEffectsOLS(panel, "y", REGRESSORS, FIXED_EFFECTS, drop_singletons=False).fit(
        vcov, ssc=ssc(t_df=t_df)
    )
    _, cov, df_t = by_hand(panel, vcov, SETTINGS[0], t_df=t_df)
    assert res.df_t == df_t
    t = res.params.to_numpy() / np.sqrt(np.diag(cov))
    np.testing.assert_allclose(res.pvalues.to_numpy(), 2 * stats.t.sf(np.abs(t), df_t), rtol=1e-9)
    half = res.conf_int().to_numpy()[:, 1] - res.params.to_numpy()
    np.testing.assert_allclose(half, stats.t.ppf(0.975, df_t) * np.sqrt(np.diag(cov)), rtol=1e-9)


def test_default_settings_change_nothing(panel):
    for vcov in VCOVS:
        model = FixedEffectsOLS(panel, "y", REGRESSORS, FIXED_EFFECTS, drop_singletons=False)
        default, explicit = model.fit(vcov), model.fit(vcov, ssc=ssc())
        np.testing.assert_array_equal(default.covariance.matrix, explicit.covariance.matrix)
        assert default.df_t == explicit.df_t
        assert default.vcov_type == explicit.vcov_type


# --------------------------------------------------------------------------------------------
# The event-study estimators
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mpdta_rel(mpdta):
    df = mpdta.copy()
    df["rel_year"] = np.where(df["first.treat"] > 0, df["year"] - df["first.treat"], -1)
    df["cohort"] = df["first.treat"].where(df["first.treat"] > 0)
    return df


@pytest.mark.parametrize("fixef_k", ["none", "full"])
@pytest.mark.parametrize("adj", [True, False])
@pytest.mark.parametrize("cluster_adj", [True, False])
def test_event_study_matches_pyfixest_on_mpdta(mpdta_rel, fixef_k, adj, cluster_adj):
    """The study's regression, with the county fixed effect nested in the county clusters;
    ``fixef_k`` "none" and "full" do not depend on detecting that (pyfixest's detection is
    not used; the default "nested" is matched in test_conformance.py)."""
    settings = dict(adj=adj, fixef_k=fixef_k, cluster_adj=cluster_adj)
    res = EventStudy(mpdta_rel, "lemp", "countyreal", "year", "cohort", window=(-4, 3), ref=-1).fit(
        ssc=ssc(**settings)
    )
    ref = pf.feols(
        "lemp ~ i(rel_year, ref=-1) | countyreal + year",
        mpdta_rel,
        vcov={"CRV1": "countyreal"},
        ssc=pf.ssc(k_adj=adj, k_fixef=PYFIXEST_K[fixef_k], G_adj=cluster_adj),
    )
    expected = pd.Series(
        ref.se().to_numpy(),
        index=[int(float(n.split("::")[1].rstrip("]"))) for n in ref.se().index],
    )
    got = res.event_time_effects()["se"]
    np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index].to_numpy(), rtol=SE_RTOL)
    assert "ssc(" in res.vcov_type


def test_sun_abraham_scales_by_the_small_sample_factor(mpdta_rel):
    """Every Sun-Abraham variance is the saturated regression's covariance carried linearly,
    so dropping both factors divides each by G / (G - 1) (n - 1) / (n - K) exactly, with
    K = the saturated coefficients plus the year effects (the county effect is nested in the
    county clusters and counts as one coefficient)."""
    model = SunAbraham(mpdta_rel, outcome="lemp", unit="countyreal", time="year", cohort="cohort")
    default = model.fit()
    bare = model.fit(ssc=ssc(adj=False, cluster_adj=False))
    n = len(mpdta_rel)
    n_groups = mpdta_rel["countyreal"].nunique()
    big_k = len(default.saturated.params) + mpdta_rel["year"].nunique()
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - big_k)
    np.testing.assert_allclose(default.bse**2 / bare.bse**2, factor, rtol=1e-10)
    np.testing.assert_allclose(default.params, bare.params, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fixef_k": "nonnested"}, "fixef_k"),
        ({"cluster_df": "max"}, "cluster_df"),
        ({"t_df": 0}, "t_df"),
        ({"t_df": "n-k"}, "t_df"),
        ({"adj": 1}, "adj"),
        ({"cluster_adj": "yes"}, "cluster_adj"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"ssc: {field}: expected"):
        ssc(**kwargs)


def test_cr3_refuses_a_small_sample_setting(mpdta_rel):
    model = EventStudy(mpdta_rel, "lemp", "countyreal", "year", "cohort", window=(-4, 3), ref=-1)
    with pytest.raises(ValueError, match="CR3 jackknife has no small-sample factor"):
        model.fit("CR3", ssc=ssc(adj=False))
    model.fit("CR3", ssc=SmallSample())  # the default is accepted


def test_ssc_must_come_from_ssc(panel):
    model = FixedEffectsOLS(panel, "y", REGRESSORS, FIXED_EFFECTS)
    with pytest.raises(ValueError, match=r"ssc: expected the result of ssc\(...\)"):
        model.fit("iid", ssc={"adj": False})


def test_label_names_the_changed_settings():
    assert ssc().label == ""
    assert ssc(adj=False, t_df=5).label == "ssc(adj=False, t_df=5)"
