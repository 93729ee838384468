"""Callaway and Sant'Anna against csdid's and the R package did's numbers on mpdta, and
against a direct computation of the 2x2 comparisons."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna
from models.exceptions import SmallCohortWarning
from tests.conftest import DATA

ATT_RTOL = 1e-6  # issue 4: point estimates to 1e-6
SE_RTOL = 1e-4  # and analytic standard errors to 1e-4 (relative)


@pytest.fixture(scope="module")
def csdid() -> dict:
    return json.loads((DATA / "mpdta_cs_csdid.json").read_text())


@pytest.fixture(scope="module")
def fitted(mpdta):
    return CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort").fit()


def test_att_gt_matches_csdid(fitted, csdid):
    expected = pd.DataFrame(csdid["att_gt"])
    got = fitted.att_gt
    assert (
        got[["cohort", "time"]].to_numpy().tolist()
        == expected[["group", "time"]].to_numpy().tolist()
    )
    np.testing.assert_allclose(got["att"], expected["att"], rtol=ATT_RTOL, atol=1e-12)
    np.testing.assert_allclose(got["se"], expected["se"], rtol=SE_RTOL)


@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_aggregations_match_csdid(fitted, csdid, kind):
    expected = csdid[kind]
    res = fitted.aggregate(kind)
    estimate, se = res.overall
    assert estimate == pytest.approx(expected["overall_att"], rel=ATT_RTOL)
    assert se == pytest.approx(expected["overall_se"], rel=SE_RTOL)
    if "egt" in expected:
        assert list(res.event_times) == expected["egt"]
        np.testing.assert_allclose(res.params, expected["att_egt"], rtol=ATT_RTOL, atol=1e-12)
        np.testing.assert_allclose(res.bse, expected["se_egt"], rtol=SE_RTOL)


def test_point_estimates_match_the_did_readme(fitted):
    published = json.loads((DATA / "mpdta_did_published.json").read_text())
    expected = pd.DataFrame(published["att_gt"])
    np.testing.assert_allclose(fitted.att_gt["att"], expected["att"], atol=5e-5)
    dynamic = fitted.aggregate("dynamic")
    assert dynamic.overall[0] == pytest.approx(published["dynamic"]["overall_att"], abs=5e-5)
    group = fitted.aggregate("group")
    assert group.overall[0] == pytest.approx(published["group"]["overall_att"], abs=5e-5)


def _direct_att(df: pd.DataFrame, g: int, t: int, base: int, control: pd.Series) -> float:
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    cohorts = df.groupby("countyreal")["cohort"].first()
    change = wide[t] - wide[base]
    return change[cohorts == g].mean() - change[control.reindex(change.index)].mean()


def test_not_yet_treated_controls_and_universal_base_match_direct_differences(mpdta):
    res = CallawaySantAnna(
        mpdta, "lemp", "countyreal", "year", "cohort", control="notyet",
        base_period="universal",
    ).fit()  # fmt: skip
    cohorts = mpdta.groupby("countyreal")["cohort"].first().fillna(np.inf)
    reference = res.att_gt["time"] == res.att_gt["cohort"] - 1
    for row in res.att_gt[~reference].itertuples():
        base = row.cohort - 1
        control = (cohorts > max(row.time, base)) & (cohorts != row.cohort)
        expected = _direct_att(mpdta, row.cohort, row.time, base, control)
        assert row.att == pytest.approx(expected, rel=1e-12, abs=1e-14)
    # every period is compared with g - 1, the first one included (did's cells) ...
    assert res.att_gt.groupby("cohort")["time"].apply(list).to_dict() == {
        g: [2003, 2004, 2005, 2006, 2007] for g in (2004, 2006, 2007)
    }
    # ... and the reference period itself is reported as did does: 0, with no standard error
    assert (res.att_gt.loc[reference, "att"] == 0).all()
    assert res.att_gt.loc[reference, "se"].isna().all()


def test_dynamic_results_have_the_common_api(fitted):
    dynamic = fitted.aggregate("dynamic")
    effects = dynamic.event_time_effects()
    assert effects.index.tolist() == [-3, -2, -1, 0, 1, 2, 3]
    estimate, se = dynamic.cumulative(0, 3)
    weights = (np.array(dynamic.event_times) >= 0).astype(float)
    assert estimate == pytest.approx(weights @ dynamic.params.to_numpy(), rel=1e-12)
    assert se == pytest.approx(np.sqrt(weights @ dynamic.cov_params().to_numpy() @ weights))
    # normal critical values, as did's analytic intervals
    low, high = dynamic.conf_int().iloc[3]
    assert (high - low) / 2 == pytest.approx(1.959964 * dynamic.bse.iloc[3], rel=1e-6)
    assert "CallawaySantAnna (dynamic)" in dynamic.summary().as_text()


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (lambda d: d.assign(cohort=d["cohort"].fillna(2007)), {},
         r"control='never' needs never-treated units"),
        (lambda d: d.assign(cohort=d["cohort"].replace(2004, 2010)), {},
         r"cohort\(s\) 2010 are not periods of column 'year'"),
        (lambda d: d.iloc[1:], {}, r"expected a balanced panel"),
        (lambda d: d, {"control": "last"}, r"control: expected 'never' or 'notyet'"),
        (lambda d: d, {"base_period": "fixed"}, r"base_period: expected 'varying' or"),
    ],
)  # fmt: skip
def test_bad_input_raises_clear_errors(mpdta, mutate, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CallawaySantAnna(mutate(mpdta.copy()), "lemp", "countyreal", "year", "cohort", **kwargs)


def _single_unit_cohort(mpdta: pd.DataFrame) -> pd.DataFrame:
    """mpdta with one never-treated county moved into a cohort of its own, 2005."""
    county = mpdta.loc[mpdta["cohort"].isna(), "countyreal"].iloc[0]
    return mpdta.assign(cohort=mpdta["cohort"].mask(mpdta["countyreal"] == county, 2005))


def test_a_single_unit_cohort_is_estimated_with_a_warning(mpdta):
    """As did: estimated, with a warning naming the cohort. Its ATT(g, t) is the county's own
    change minus the controls' mean change; its standard error comes from the controls alone
    (a single treated unit has no variance of its own)."""
    df = _single_unit_cohort(mpdta)
    with pytest.warns(SmallCohortWarning, match=r"fewer than 5 units: 2005 \(1 unit\)"):
        model = CallawaySantAnna(df, "lemp", "countyreal", "year", "cohort")
    att_gt = model.fit().att_gt.set_index(["cohort", "time"])
    cohorts = df.groupby("countyreal")["cohort"].first()
    for t in (2005, 2006, 2007):
        expected = _direct_att(df, 2005, t, 2004, cohorts.isna())
        assert att_gt.loc[(2005, t), "att"] == pytest.approx(expected, rel=1e-12)
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    change = (wide[2007] - wide[2004])[cohorts.isna()]
    n, n_controls = len(wide), len(change)
    # the controls' influence on the cell, psi_j = -(n / n_controls) (dY_j - mean), summed
    se = np.sqrt(((change - change.mean()) ** 2).sum()) / n_controls
    assert att_gt.loc[(2005, 2007), "se"] == pytest.approx(se, rel=1e-10)
    assert n > n_controls
    # a cohort treated in the first period is not estimated (as did): no warning for it
    first = df.assign(cohort=df["cohort"].replace(2005, 2003))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallCohortWarning)
        CallawaySantAnna(first, "lemp", "countyreal", "year", "cohort")


def test_unknown_aggregation(fitted):
    with pytest.raises(ValueError, match=r"aggregate: expected one of simple, dynamic"):
        fitted.aggregate("cohort")


def test_row_order_does_not_matter(mpdta, fitted):
    shuffled = mpdta.sample(frac=1.0, random_state=3)
    res = CallawaySantAnna(shuffled, "lemp", "countyreal", "year", "cohort").fit()
    pd.testing.assert_frame_equal(res.att_gt, fitted.att_gt, rtol=1e-12)


@pytest.fixture(scope="module")
def dosed(mpdta):
    """mpdta with a dose per county: its 2003 log population (positive, varies by county)."""
    pop = mpdta.loc[mpdta["year"] == 2003].set_index("countyreal")["lpop"]
    return mpdta.assign(dose=mpdta["countyreal"].map(pop))


def _dense_per_dose(df: pd.DataFrame, control: str) -> pd.DataFrame:
    """ATT_v(g, t) and its SE from unit-level influence functions, computed densely.

    ATT_v = N / D with N = sum_{i in g} v_i (dY_i - m_C) / n and D = sum_{i in g} v_i^2 / n.
    """
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    units = df.groupby("countyreal")[["cohort", "dose"]].first().reindex(wide.index)
    cohort, dose = units["cohort"].fillna(np.inf).to_numpy(), units["dose"].to_numpy()
    n, rows = len(wide), []
    for g in np.unique(cohort[np.isfinite(cohort)]):
        for t in wide.columns[1:]:
            base = g - 1 if t >= g else t - 1
            change = (wide[t] - wide[base]).to_numpy()
            treated = cohort == g
            later = (cohort > max(t, base)) & ~treated
            controls = np.isinf(cohort) if control == "never" else later
            m = change[controls].mean()
            v = np.where(treated, dose, 0.0)
            numerator, denominator = (v * (change - m)).sum() / n, (v**2).sum() / n
            att = numerator / denominator
            psi = (
                v * (change - m)
                - numerator
                - v.sum() / n * controls * (change - m) / controls.mean()
                - att * (v**2 - denominator)
            ) / denominator
            rows.append((int(g), int(t), att, np.sqrt((psi**2).sum()) / n))
    return pd.DataFrame(rows, columns=["cohort", "time", "att", "se"])


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_per_dose_effects_match_a_dense_computation(dosed, control):
    res = CallawaySantAnna(
        dosed, "lemp", "countyreal", "year", "cohort", control=control, intensity="dose"
    ).fit()
    expected = _dense_per_dose(dosed, control)
    merged = res.att_gt.merge(expected, on=["cohort", "time"], suffixes=("", "_dense"))
    assert len(merged) == len(res.att_gt) == len(expected)
    np.testing.assert_allclose(merged["att"], merged["att_dense"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(merged["se"], merged["se_dense"], rtol=1e-10)


def test_a_constant_dose_rescales_every_estimate(mpdta, fitted):
    res = CallawaySantAnna(
        mpdta.assign(dose=4.0), "lemp", "countyreal", "year", "cohort", intensity="dose"
    ).fit()
    np.testing.assert_allclose(res.att_gt["att"], fitted.att_gt["att"] / 4, rtol=1e-12)
    np.testing.assert_allclose(res.att_gt["se"], fitted.att_gt["se"] / 4, rtol=1e-10)
    for kind in ("simple", "dynamic", "group", "calendar"):
        a, b = res.aggregate(kind), fitted.aggregate(kind)
        np.testing.assert_allclose(a.params, b.params / 4, rtol=1e-12)
        np.testing.assert_allclose(a.bse, b.bse / 4, rtol=1e-10)
        assert a.overall[1] == pytest.approx(b.overall[1] / 4, rel=1e-10)


def test_dose_is_checked(dosed):
    bad = dosed.assign(dose=np.where(dosed["cohort"] == 2004, -1.0, dosed["dose"]))
    with pytest.raises(ValueError, match=r"column 'dose': expected a positive finite dose"):
        CallawaySantAnna(bad, "lemp", "countyreal", "year", "cohort", intensity="dose")
    varying = dosed.assign(dose=dosed["dose"] + dosed["year"])
    with pytest.raises(ValueError, match=r"column 'dose': expected one value per treated unit"):
        CallawaySantAnna(varying, "lemp", "countyreal", "year", "cohort", intensity="dose")


def test_uniform_band_is_seeded_and_wider_than_pointwise(fitted):
    dynamic = fitted.aggregate("dynamic", uniform_band=True, seed=7)
    again = fitted.aggregate("dynamic", uniform_band=True, seed=7)
    assert dynamic.uniform_band == again.uniform_band
    alpha, critical = dynamic.uniform_band
    # Bounded by the pointwise value and Bonferroni over the 7 event times.
    assert alpha == 0.05
    assert 1.959964 < critical < 2.690
    effects = dynamic.event_time_effects()
    np.testing.assert_allclose(
        effects["band_high"] - effects["estimate"], critical * effects["se"], rtol=1e-12
    )
    with pytest.raises(ValueError, match=r"no uniform band was computed"):
        fitted.aggregate("dynamic").uniform_conf_int()


@pytest.mark.parametrize(
    ("correlation", "expected"),
    [
        # independent: the (1 - 0.05)^(1/5) quantile of |Z|, Sidak's value
        (0.0, 2.5684),
        # perfectly correlated: the pointwise value
        (1.0, 1.9600),
    ],
)
def test_sup_t_critical_value_in_known_cases(correlation, expected):
    from models.estimation.inference import sup_t_critical_value as _sup_t_critical_value

    se = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    covariance = np.outer(se, se) * (correlation + (1 - correlation) * np.eye(5))
    critical = _sup_t_critical_value(covariance, 0.05, 200_000, seed=1)
    assert critical == pytest.approx(expected, abs=0.01)


@pytest.fixture(scope="module")
def covariate_reference() -> dict:
    return json.loads((DATA / "mpdta_cs_covariates_csdid.json").read_text())


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_covariate_att_gt_match_csdid(mpdta, covariate_reference, method):
    res = CallawaySantAnna(
        mpdta, "lemp", "countyreal", "year", "cohort", covariates=["lpop"], method=method
    ).fit()
    expected = pd.DataFrame(covariate_reference["att_gt"][method])
    assert res.att_gt[["cohort", "time"]].to_numpy().tolist() == (
        expected[["group", "time"]].to_numpy().tolist()
    )
    np.testing.assert_allclose(res.att_gt["att"], expected["att"], rtol=ATT_RTOL, atol=1e-12)
    np.testing.assert_allclose(res.att_gt["se"], expected["se"], rtol=SE_RTOL)


def test_covariate_dynamic_aggregation_matches_did_formula(mpdta):
    """did's aggte on dense influence functions: weights pg / sum pg plus their influence."""
    from models.estimation.drdid import did_2x2

    res = CallawaySantAnna(
        mpdta, "lemp", "countyreal", "year", "cohort", covariates=["lpop"], method="dr"
    ).fit()
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    units = mpdta.groupby("countyreal")[["cohort", "lpop"]].first().reindex(wide.index)
    cohort = units["cohort"].fillna(np.inf).to_numpy()
    n = len(wide)
    influence = []
    for row in res.att_gt.itertuples():
        base = row.cohort - 1 if row.time >= row.cohort else row.time - 1
        sample = (cohort == row.cohort) | np.isinf(cohort)
        change = (wide[row.time] - wide[base]).to_numpy()[sample]
        x = units["lpop"].to_numpy()[sample][:, None]  # time-invariant in mpdta
        att, psi = did_2x2(change, cohort[sample] == row.cohort, x, "dr")
        assert att == pytest.approx(row.att, rel=1e-12)
        full = np.zeros(n)
        full[sample] = psi * n / sample.sum()
        influence.append(full)
    influence = np.column_stack(influence)
    att = res.att_gt["att"].to_numpy()
    event = (res.att_gt["time"] - res.att_gt["cohort"]).to_numpy()
    pg = np.array([np.mean(cohort == g) for g in res.att_gt["cohort"]])
    dynamic = res.aggregate("dynamic")
    for e, estimate, se in zip(dynamic.event_times, dynamic.params, dynamic.bse, strict=True):
        keep = event == e
        weights = pg[keep] / pg[keep].sum()
        members = (cohort[:, None] == res.att_gt["cohort"].to_numpy()[keep][None, :]) - pg[keep]
        wif = (
            members / pg[keep].sum() - np.outer(members.sum(axis=1), pg[keep]) / pg[keep].sum() ** 2
        )
        psi = influence[:, keep] @ weights + wif @ att[keep]
        assert estimate == pytest.approx(weights @ att[keep], rel=1e-12)
        assert se == pytest.approx(np.sqrt((psi**2).sum()) / n, rel=1e-10)


def test_covariate_options_are_checked(mpdta):
    with pytest.raises(ValueError, match=r"method: expected one of dr, reg, ipw"):
        CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort", covariates=["lpop"],
                         method="aipw")  # fmt: skip
    with pytest.raises(ValueError, match=r"covariates: expected a non-empty list"):
        CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort", covariates="lpop")
    with pytest.raises(ValueError, match=r"per-dose effects are not available with covariates"):
        CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort", covariates=["lpop"],
                         intensity="lpop")  # fmt: skip
    collinear = mpdta.assign(twice=2 * mpdta["lpop"])
    with pytest.raises(ValueError, match=r"ATT\(g=2004, t=2004\) with method='reg'"):
        CallawaySantAnna(collinear, "lemp", "countyreal", "year", "cohort",
                         covariates=["lpop", "twice"], method="reg").fit()  # fmt: skip


def test_pretrend_test_matches_the_did_readme(fitted):
    published = json.loads((DATA / "mpdta_did_published.json").read_text())
    test = fitted.pretrend_test()
    assert test.df_num == 5  # the pre-treatment ATT(g, t) of cohorts 2006 and 2007
    assert test.pvalue == pytest.approx(published["pretrend_pvalue"], abs=5e-6)


def test_wald_test_with_normal_inference_uses_chi_squared(fitted):
    from scipy import stats

    dynamic = fitted.aggregate("dynamic")
    leads = np.array(dynamic.event_times) < 0
    theta = dynamic.params.to_numpy()[leads]
    covariance = dynamic.cov_params().to_numpy()[np.ix_(leads, leads)]
    chi2 = theta @ np.linalg.solve(covariance, theta)
    test = dynamic.pretrend_test()
    assert test.statistic == pytest.approx(chi2 / 3, rel=1e-10)
    assert test.pvalue == pytest.approx(stats.chi2.sf(chi2, 3), rel=1e-10)
