"""Callaway and Sant'Anna with sampling weights (did's ``weightsname``) and clusters above the
unit (did's ``clustervars``): against csdid 0.4.3 (the Python port of R did 2.5.1) on mpdta
(balanced, and unbalanced with row weights),
against the same fit on data with units duplicated, and against a direct computation of the
weighted per-dose slopes (tests/data/README.md, ``mpdta_cs_weights_csdid.json``)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna
from models.estimation.inference import sup_t_critical_value
from tests.conftest import DATA

ATT_ATOL = 1e-6  # csdid's ATT(g, t) and aggregated points, absolute
SE_RTOL = 1e-4  # csdid's analytic standard errors, relative
BOOTSTRAP_RTOL = 0.25  # csdid's clustered multiplier-bootstrap SEs (20,000 draws), relative
BOOTSTRAP_MEDIAN_RTOL = 0.10  # ... and the median ratio of bootstrap to analytic SEs
EXACT = 1e-10  # identities (equal weights, duplicated units, clusters of one unit)
CONTROLS = {"nevertreated": "never", "notyettreated": "notyet"}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DATA / "mpdta_cs_weights_csdid.json").read_text())


@pytest.fixture(scope="module")
def weighted(mpdta) -> pd.DataFrame:
    """mpdta with the reference script's weight, state and pair5 columns (constant by county)."""
    county = mpdta["countyreal"].astype(int)
    return mpdta.assign(
        weight=1.0 + (county % 7) / 2.0,
        state=county // 1000,
        pair5=county.rank(method="dense").astype(int).sub(1) // 5,
    )


def _fit(df: pd.DataFrame, design: dict, cluster: str | None, **kwargs):
    options = {"control": CONTROLS[design["control_group"]], "base_period": design["base_period"]}
    if design["xformla"] is not None:
        options.update(covariates=["lpop"], method=design["est_method"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CallawaySantAnna(
            df, "lemp", "countyreal", "year", "cohort", weights="weight", cluster=cluster,
            **options, **kwargs,
        ).fit()  # fmt: skip


def _values(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _compare_att_gt(res, expected: dict, se_rtol: float = SE_RTOL) -> None:
    """ATT(g, t), their SEs and did's Wald pre-test (W = n theta' V^-1 theta over the
    pre-treatment cells, with the same, possibly clustered, V; csdid rounds its p-value to 5
    decimals)."""
    table = res.att_gt
    assert table["cohort"].tolist() == expected["group"]
    assert table["time"].tolist() == expected["time"]
    np.testing.assert_allclose(table["att"], _values(expected["att"]), rtol=0, atol=ATT_ATOL)
    np.testing.assert_allclose(table["se"], _values(expected["se"]), rtol=se_rtol)
    wald = res.pretrend_test()
    assert wald.statistic * wald.df_num == pytest.approx(expected["W"], rel=se_rtol)
    assert wald.pvalue == pytest.approx(expected["Wpval"], abs=1e-5)


def _compare_aggregation(res, kind: str, expected: dict, se_rtol: float = SE_RTOL) -> None:
    agg = res.aggregate(kind)
    assert agg.overall[0] == pytest.approx(expected["overall_att"], abs=ATT_ATOL)
    assert agg.overall[1] == pytest.approx(expected["overall_se"], rel=se_rtol)
    if "egt" not in expected:
        return
    # did lists the universal base's reference event time (att 0, no se); goodwill omits it.
    shown = [e != agg.event.ref for e in expected["egt"]]
    labels = [e for e, keep in zip(expected["egt"], shown, strict=True) if keep]
    assert list(agg.event.event_times) == labels
    att, se = _values(expected["att_egt"])[shown], _values(expected["se_egt"])[shown]
    np.testing.assert_allclose(agg.params, att, rtol=0, atol=ATT_ATOL)
    np.testing.assert_allclose(agg.bse, se, rtol=se_rtol)


DESIGNS = [
    "never_varying",
    "notyet_varying",
    "never_universal",
    "notyet_universal",
    "never_varying_dr_lpop",
    "never_varying_ipw_lpop",
    "never_varying_reg_lpop",
]


@pytest.mark.parametrize("clustered", [False, True], ids=["unclustered", "state"])
@pytest.mark.parametrize("name", DESIGNS)
def test_weighted_fit_matches_csdid(weighted, reference, name, clustered):
    design = reference["designs"][name]
    expected = design["clustered" if clustered else "unclustered"]
    res = _fit(weighted, design, "state" if clustered else None)
    _compare_att_gt(res, expected["att_gt"])
    for kind in ("simple", "dynamic", "group"):
        _compare_aggregation(res, kind, expected[kind])


@pytest.mark.filterwarnings("ignore::models.exceptions.UnbalancedPanelWarning")
@pytest.mark.parametrize("clustered", [False, True], ids=["unclustered", "state"])
@pytest.mark.parametrize(
    "name",
    [
        "never_varying",
        "notyet_varying",
        "never_universal",
        "never_varying_row_weights",
        "notyet_universal_row_weights",
        "never_varying_reg_x",
        "notyet_varying_ipw_x",
        "never_varying_dr_x",
        "notyet_universal_dr_x",
    ],
)
def test_unbalanced_row_weights_match_csdid(weighted, reference, name, clustered):
    """did's repeated cross-section estimators with each row's weight (which may vary within a
    county), and each county weighted by its mean row weight in the aggregations; with a
    covariate x that varies by period, DRDID's weighted reg, ipw and dr estimators."""
    unbalanced = reference["unbalanced"]
    design = unbalanced[name]
    df = weighted.drop(index=unbalanced["dropped_rows"]).reset_index(drop=True)
    df["row_weight"] = df["weight"] * (1 + (df["year"] - 2003) / 10)
    df["x"] = df["lpop"] + 0.1 * np.sin(df["countyreal"] + df["year"])
    options = {}
    if design["xformla"] is not None:
        options = {"covariates": ["x"], "method": design["est_method"]}
    res = CallawaySantAnna(
        df, "lemp", "countyreal", "year", "cohort", control=CONTROLS[design["control_group"]],
        base_period=design["base_period"], weights=design["weights"],
        cluster="state" if clustered else None, allow_unbalanced_panel=True, **options,
    ).fit()  # fmt: skip
    expected = design["clustered" if clustered else "unclustered"]
    _compare_att_gt(res, expected["att_gt"])
    for kind in ("simple", "dynamic", "group"):
        _compare_aggregation(res, kind, expected[kind])


@pytest.mark.parametrize("name", ["never_varying", "notyet_varying"])
def test_clusters_of_five_counties_match_csdid(weighted, reference, name):
    design = reference["designs"][name]
    res = _fit(weighted, design, "pair5")
    _compare_att_gt(res, design["clustered_pair5"]["att_gt"])
    for kind in ("simple", "dynamic", "group"):
        _compare_aggregation(res, kind, design["clustered_pair5"][kind])


def test_analytic_clustered_ses_agree_with_csdid_clustered_bootstrap(weighted, reference):
    """did's multiplier bootstrap draws one Mammen weight per cluster sum and reports the
    normalised interquartile range, not a variance: with few clusters carrying a cell (29
    unequal states; 100 clusters of 5 counties of which 4 hold the 2004 cohort) its
    distribution is skewed and that scale exceeds the analytic SE by up to about 23%."""
    ratios = []
    for name in ("never_varying", "notyet_varying"):
        design = reference["designs"][name]
        for cluster, analytic in (("state", "clustered"), ("pair5", "clustered_pair5")):
            res = _fit(weighted, design, cluster)
            boot = design[f"bootstrap_{cluster}"]
            ratios.append(res.att_gt["se"].to_numpy() / _values(boot["att_gt"]["se"]))
            for kind in ("simple", "dynamic", "group"):
                ratios.append([res.aggregate(kind).overall[1] / boot[kind]["overall_se"]])
            # the analytic reference is the same fit's, to the usual tolerance
            _compare_att_gt(res, design[analytic]["att_gt"])
    ratios = np.concatenate([np.ravel(r) for r in ratios])
    np.testing.assert_allclose(ratios, 1.0, rtol=BOOTSTRAP_RTOL)
    assert np.median(ratios) == pytest.approx(1.0, rel=BOOTSTRAP_MEDIAN_RTOL)


def _same_fit(a, b, kinds=("simple", "dynamic", "group", "calendar")) -> None:
    np.testing.assert_allclose(a.att_gt["att"], b.att_gt["att"], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(a.att_gt["se"], b.att_gt["se"], rtol=EXACT)
    for kind in kinds:
        x, y = a.aggregate(kind), b.aggregate(kind)
        np.testing.assert_allclose(x.params, y.params, rtol=EXACT, atol=EXACT)
        np.testing.assert_allclose(x.bse, y.bse, rtol=EXACT)
        assert x.overall[1] == pytest.approx(y.overall[1], rel=EXACT)


@pytest.mark.parametrize(
    "options",
    [{}, {"control": "notyet", "base_period": "universal"}, {"covariates": ["lpop"]}],
    ids=["never", "notyet-universal", "covariates"],
)
def test_equal_weights_are_the_unweighted_fit(weighted, options):
    plain = CallawaySantAnna(weighted, "lemp", "countyreal", "year", "cohort", **options).fit()
    equal = CallawaySantAnna(
        weighted.assign(weight=2.5), "lemp", "countyreal", "year", "cohort", weights="weight",
        **options,
    ).fit()  # fmt: skip
    _same_fit(equal, plain)


def _duplicated(df: pd.DataFrame, copies: pd.Series) -> pd.DataFrame:
    """Each county's rows repeated ``copies`` times, every copy a unit of its own."""
    out = df.loc[df.index.repeat(copies)].copy()
    copy = out.groupby(["countyreal", "year"]).cumcount()
    return out.assign(copy_id=out["countyreal"] * 10 + copy)


@pytest.mark.parametrize(
    "options", [{}, {"control": "notyet"}, {"covariates": ["lpop"], "method": "dr"}]
)
def test_integer_weights_are_duplicated_units_clustered_by_county(weighted, options):
    """Weight w_i = w_i copies of unit i: the same points; and, clustering the copies by the
    county they copy (so that each county's influence is counted once, w_i times over), the
    same analytic standard errors."""
    df = weighted.assign(copies=1 + weighted["countyreal"].astype(int) % 3)
    res = CallawaySantAnna(
        df, "lemp", "countyreal", "year", "cohort", weights="copies", **options
    ).fit()
    copies = _duplicated(df, df["copies"])
    clustered = CallawaySantAnna(
        copies, "lemp", "copy_id", "year", "cohort", cluster="countyreal", **options
    ).fit()
    _same_fit(res, clustered, kinds=("simple", "dynamic", "group"))
    unclustered = CallawaySantAnna(copies, "lemp", "copy_id", "year", "cohort", **options).fit()
    np.testing.assert_allclose(res.params, unclustered.params, rtol=EXACT, atol=EXACT)


def test_row_order_does_not_matter(weighted, reference):
    design = reference["designs"]["never_varying_dr_lpop"]
    shuffled = weighted.sample(frac=1.0, random_state=5)
    _same_fit(_fit(shuffled, design, "state"), _fit(weighted, design, "state"))


def test_clustering_by_the_unit_is_no_clustering(weighted):
    plain = CallawaySantAnna(weighted, "lemp", "countyreal", "year", "cohort").fit()
    by_unit = CallawaySantAnna(
        weighted, "lemp", "countyreal", "year", "cohort", cluster="countyreal"
    ).fit()
    own = CallawaySantAnna(
        weighted.assign(own=weighted["countyreal"].astype(str)),
        "lemp", "countyreal", "year", "cohort", cluster="own",
    ).fit()  # fmt: skip
    _same_fit(by_unit, plain)
    _same_fit(own, plain)
    assert by_unit.covariance.n_clusters == (500,)
    assert own.covariance.request.clusters == ("own",)


@pytest.mark.filterwarnings("ignore::models.exceptions.UnbalancedPanelWarning")
def test_clusters_flow_into_the_unbalanced_path(weighted):
    """Without covariates and with them (DRDID's repeated cross-section estimators), a cluster
    of one unit each is no clustering, and clustering by state changes the standard errors."""
    unbalanced = weighted.drop(weighted.index[weighted["countyreal"] % 11 == 0][::3])
    unique = unbalanced.assign(own=unbalanced["countyreal"] + 0.5)
    for options in ({}, {"covariates": ["lpop"]}):
        model = {"allow_unbalanced_panel": True, **options}
        plain, own, state = (
            CallawaySantAnna(
                frame, "lemp", "countyreal", "year", "cohort", cluster=cluster, **model
            ).fit()
            for frame, cluster in ((unbalanced, None), (unique, "own"), (unbalanced, "state"))
        )
        _same_fit(own, plain, kinds=("simple", "dynamic"))
        np.testing.assert_allclose(state.params, plain.params, rtol=EXACT)
        assert not np.allclose(state.bse, plain.bse, rtol=1e-3)
        assert state.covariance.n_clusters == (29,)


def test_uniform_band_uses_the_clustered_covariance(weighted, reference):
    res = _fit(weighted, reference["designs"]["never_varying"], "state")
    dynamic = res.aggregate("dynamic", uniform_band=True, seed=3)
    expected = reference["designs"]["never_varying"]["clustered"]["dynamic"]
    np.testing.assert_allclose(dynamic.bse, expected["se_egt"], rtol=SE_RTOL)
    critical = sup_t_critical_value(dynamic.covariance.matrix, 0.05, 1000, 3)
    assert dynamic.event.uniform_band[1] == pytest.approx(critical, rel=EXACT)
    band = dynamic.uniform_conf_int()
    np.testing.assert_allclose(band["upper"] - dynamic.params, critical * dynamic.bse)


@pytest.fixture(scope="module")
def dosed(weighted) -> pd.DataFrame:
    """Weighted mpdta with a dose per county: its 2003 log population."""
    pop = weighted.loc[weighted["year"] == 2003].set_index("countyreal")["lpop"]
    return weighted.assign(dose=weighted["countyreal"].map(pop))


def _weighted_per_dose(df: pd.DataFrame) -> pd.DataFrame:
    """ATT_v(g, t) = sum_{i in g} w_i v_i (dY_i - m_C) / sum_{i in g} w_i v_i^2, m_C the
    never-treated's weighted mean change, computed cell by cell."""
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    units = df.groupby("countyreal")[["cohort", "dose", "weight"]].first().reindex(wide.index)
    cohort = units["cohort"].fillna(np.inf).to_numpy()
    dose, weight = units["dose"].to_numpy(), units["weight"].to_numpy()
    rows = []
    for g in np.unique(cohort[np.isfinite(cohort)]):
        for t in wide.columns[1:]:
            change = (wide[t] - wide[g - 1 if t >= g else t - 1]).to_numpy()
            never, treated = np.isinf(cohort), cohort == g
            m = np.average(change[never], weights=weight[never])
            w, v, d = weight[treated], dose[treated], change[treated]
            rows.append((int(g), int(t), (w * v * (d - m)).sum() / (w * v**2).sum()))
    return pd.DataFrame(rows, columns=["cohort", "time", "att"])


def test_weighted_per_dose_effects_match_a_direct_computation(dosed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(
            dosed, "lemp", "countyreal", "year", "cohort", intensity="dose", weights="weight"
        ).fit()
        plain = CallawaySantAnna(dosed, "lemp", "countyreal", "year", "cohort", intensity="dose")
        equal = CallawaySantAnna(
            dosed.assign(weight=3.0), "lemp", "countyreal", "year", "cohort", intensity="dose",
            weights="weight",
        )  # fmt: skip
        _same_fit(equal.fit(), plain.fit())
    merged = res.att_gt.merge(_weighted_per_dose(dosed), on=["cohort", "time"])
    assert len(merged) == len(res.att_gt)
    np.testing.assert_allclose(merged["att_x"], merged["att_y"], rtol=EXACT, atol=EXACT)


def test_integer_weighted_per_dose_effects_are_duplicated_units(dosed):
    df = dosed.assign(copies=1 + dosed["countyreal"].astype(int) % 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(
            df, "lemp", "countyreal", "year", "cohort", intensity="dose", weights="copies"
        ).fit()
        copies = CallawaySantAnna(
            _duplicated(df, df["copies"]), "lemp", "copy_id", "year", "cohort",
            intensity="dose", cluster="countyreal",
        ).fit()  # fmt: skip
    _same_fit(res, copies, kinds=("simple", "dynamic", "group"))


def test_bad_inputs_raise_clear_errors(weighted):
    args = ("lemp", "countyreal", "year", "cohort")
    varying = weighted.assign(state=weighted["state"] + (weighted["year"] == 2007))
    with pytest.raises(ValueError, match=r"cluster column 'state': expected one value per unit"):
        CallawaySantAnna(varying, *args, cluster="state")
    missing = weighted.assign(state=weighted["state"].where(weighted["year"] > 2003))
    with pytest.raises(ValueError, match=r"cluster column 'state': expected a value on every"):
        CallawaySantAnna(missing, *args, cluster="state")
    drifting = weighted.assign(weight=weighted["weight"] + weighted["year"] - 2003)
    with pytest.raises(ValueError, match=r"column 'weight': expected one value per unit"):
        CallawaySantAnna(drifting, *args, weights="weight")
    with pytest.raises(ValueError, match=r"weights column 'weight': expected positive"):
        CallawaySantAnna(weighted.assign(weight=-1.0), *args, weights="weight")
    with pytest.raises(ValueError, match=r"weights: expected a column name"):
        CallawaySantAnna(weighted, *args, weights=["weight"])
    with pytest.raises(ValueError, match=r"give the column as CallawaySantAnna\(\.\.\., cluster="):
        CallawaySantAnna(weighted, *args).fit(vcov={"CRV1": "state"})


@pytest.mark.parametrize("option", [{"weights": "weight"}, {"cluster": "state"}])
@pytest.mark.parametrize("fit", [{"vcov": "CR3"}, {"pretrend": "bootstrap"}])
def test_jackknife_and_bootstrap_are_refused(weighted, option, fit):
    model = CallawaySantAnna(weighted, "lemp", "countyreal", "year", "cohort", **option)
    name = next(iter(option))
    with pytest.raises(ValueError, match=rf"not available with {name}="):
        model.fit(**fit)
