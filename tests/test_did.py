"""Callaway and Sant'Anna against csdid's and the R package did's numbers on mpdta, and
against a direct computation of the 2x2 comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna

DATA = Path(__file__).parent / "data"
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
    for row in res.att_gt.itertuples():
        base = row.cohort - 1
        control = (cohorts > max(row.time, base)) & (cohorts != row.cohort)
        expected = _direct_att(mpdta, row.cohort, row.time, base, control)
        assert row.att == pytest.approx(expected, rel=1e-12, abs=1e-14)
    # the universal base period itself (t = g - 1) is not estimated: it is the reference
    assert not (res.att_gt["time"] == res.att_gt["cohort"] - 1).any()


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
        (lambda d: d.assign(cohort=np.where(d["countyreal"] == d["countyreal"].iloc[0], 2005,
                                            d["cohort"])), {},
         r"cohort 2005 has a single unit"),
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


def test_unknown_aggregation(fitted):
    with pytest.raises(ValueError, match=r"aggregate: expected one of simple, dynamic"):
        fitted.aggregate("cohort")
