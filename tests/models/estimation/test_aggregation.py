"""Callaway and Sant'Anna's results (models/estimation/aggregation.py): the universal base's
ATT(g, t) table and aggregations, and the dynamic aggregation's balance_e, min_e and max_e,
against csdid (tests/data/mpdta_cs_universal_csdid.json), the numbers printed in did's vignette
and the aggregation formula applied to the ATT(g, t) table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna
from tests.conftest import DATA

ATT_RTOL = 1e-6  # issue 19: point estimates to 1e-6
SE_RTOL = 1e-4  # and analytic standard errors to 1e-4 (relative)
PRINTED = 5e-5  # half the last digit did prints (4 decimals)

DESIGNS = {  # the reference file's designs: goodwill's arguments
    "universal_never": {"base_period": "universal"},
    "universal_notyet": {"base_period": "universal", "control": "notyet"},
    "universal_never_anticipation1": {"base_period": "universal", "anticipation": 1},
    "varying_never": {},
}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DATA / "mpdta_cs_universal_csdid.json").read_text())["designs"]


@pytest.fixture(scope="module")
def fits(mpdta) -> dict:
    return {
        design: CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort", **kwargs).fit()
        for design, kwargs in DESIGNS.items()
    }


def _values(values: list) -> np.ndarray:
    """A reference column with None (did's NA) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _with_reference(res) -> pd.DataFrame:
    """The effects as did lists them: the reference event time as 0 with no standard error."""
    effects = res.event_time_effects()[["estimate", "se"]]
    if res.ref is not None:
        effects.loc[res.ref] = [0.0, np.nan]
    return effects.sort_index()


def _assert_matches(res, expected: dict) -> None:
    estimate, se = res.overall
    assert estimate == pytest.approx(expected["overall_att"], rel=ATT_RTOL)
    assert se == pytest.approx(expected["overall_se"], rel=SE_RTOL)
    if "egt" in expected:
        effects = _with_reference(res)
        assert effects.index.tolist() == expected["egt"]
        np.testing.assert_allclose(
            effects["estimate"], expected["att_egt"], rtol=ATT_RTOL, atol=1e-12
        )
        np.testing.assert_allclose(effects["se"], _values(expected["se_egt"]), rtol=SE_RTOL)


@pytest.mark.parametrize("design", [d for d in DESIGNS if d.startswith("universal")])
def test_universal_base_att_gt_matches_csdid(fits, reference, design):
    expected = reference[design]["att_gt"]
    got = fits[design].att_gt
    pairs = [list(pair) for pair in zip(expected["group"], expected["time"], strict=True)]
    assert got[["cohort", "time"]].to_numpy().tolist() == pairs
    np.testing.assert_allclose(got["att"], expected["att"], rtol=ATT_RTOL, atol=1e-12)
    np.testing.assert_allclose(got["se"], _values(expected["se"]), rtol=SE_RTOL)
    # the reference cells: 0 with no standard error, and not among the estimates
    anticipation = DESIGNS[design].get("anticipation", 0)
    reference_cells = got["time"] == got["cohort"] - 1 - anticipation
    assert (got.loc[reference_cells, "att"] == 0).all()
    assert got.loc[reference_cells, "se"].isna().all()
    assert len(fits[design].params) == (~reference_cells).sum()


@pytest.mark.parametrize("design", [d for d in DESIGNS if d.startswith("universal")])
@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_universal_base_aggregations_match_csdid(fits, reference, design, kind):
    _assert_matches(fits[design].aggregate(kind), reference[design][kind])


def test_the_universal_reference_is_the_dynamic_aggregations_ref(fits):
    dynamic = fits["universal_never"].aggregate("dynamic")
    assert dynamic.ref == -1
    assert -1 not in dynamic.event_times
    assert dynamic.window == (-4, 3)
    # the reference contributes 0 to a sum over event times
    estimate, se = dynamic.cumulative(-2, 0)
    names = ["event_time::-2", "event_time::0"]
    assert estimate == pytest.approx(dynamic.params[names].sum(), rel=1e-12)
    assert se == pytest.approx(np.sqrt(dynamic.cov_params().loc[names, names].to_numpy().sum()))
    assert fits["universal_never_anticipation1"].aggregate("dynamic").ref == -2
    assert fits["varying_never"].aggregate("dynamic").ref is None


def _options_cases() -> list[tuple[str, int]]:
    return [(design, k) for design in ("universal_never", "varying_never") for k in range(6)]


@pytest.mark.parametrize(("design", "case"), _options_cases())
def test_dynamic_options_match_csdid(fits, reference, design, case):
    expected = reference[design]["dynamic_options"][case]
    res = fits[design].aggregate("dynamic", **expected["options"])
    _assert_matches(res, expected)


def test_balance_e_matches_the_did_vignette(fits):
    printed = json.loads((DATA / "mpdta_did_vignette_balance_e.json").read_text())
    res = fits["varying_never"].aggregate("dynamic", balance_e=1)
    assert res.overall[0] == pytest.approx(printed["overall_att"], abs=PRINTED)
    effects = res.event_time_effects()
    assert effects.index.tolist() == [row["e"] for row in printed["event_time"]]
    expected = [row["att"] for row in printed["event_time"]]
    np.testing.assert_allclose(effects["estimate"], expected, atol=PRINTED)


@pytest.mark.parametrize("design", ["universal_never", "varying_never"])
def test_balance_e_averages_the_balanced_cohorts_by_size(mpdta, fits, design):
    """By hand from the ATT(g, t) table: with balance_e = 1 only cohorts 2004 and 2006 (treated
    at least a year before 2007) enter, each event time weighted by cohort size, and the overall
    average is the mean of e = 0 and e = 1."""
    sizes = mpdta.groupby("cohort")["countyreal"].nunique()
    table = fits[design].att_gt
    table = table[table["cohort"].isin([2004, 2006])].assign(e=lambda t: t["time"] - t["cohort"])
    table = table.assign(size=table["cohort"].map(sizes))
    by_e = table.groupby("e").apply(
        lambda t: (t["att"] * t["size"]).sum() / t["size"].sum(), include_groups=False
    )
    res = fits[design].aggregate("dynamic", balance_e=1)
    effects = _with_reference(res)["estimate"]
    lowest = 1 - (2007 - 2003)
    expected = by_e[(by_e.index >= lowest) & (by_e.index <= 1)]
    pd.testing.assert_series_equal(effects, expected, check_names=False, check_index_type=False)
    assert res.overall[0] == pytest.approx((by_e[0] + by_e[1]) / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"balance_e": -1}, r"aggregate: balance_e = -1: expected an integer >= 0"),
        ({"min_e": 0.5}, r"aggregate: min_e = 0.5: expected None or an integer"),
        ({"max_e": True}, r"aggregate: max_e = True: expected None or an integer"),
        ({"kind": "group", "max_e": 2}, r"max_e apply to kind='dynamic' only, not 'group'"),
        ({"max_e": -1}, r"no event time e >= 0 is left with balance_e=None, min_e=None, max_e=-1"),
        ({"balance_e": 4}, r"no event time e >= 0 is left with balance_e=4"),
    ],
)
def test_bad_dynamic_options_raise_clear_errors(fits, kwargs, message):
    kwargs = {"kind": "dynamic", **kwargs}
    with pytest.raises(ValueError, match=message):
        fits["universal_never"].aggregate(**kwargs)


def test_options_are_noted_in_the_summary(fits):
    res = fits["universal_never"].aggregate("dynamic", balance_e=1, max_e=1)
    text = res.summary().as_text()
    assert "balance_e=1, max_e=1" in text
    assert "(ref -1)" in text


def test_the_universal_pretest_is_did_readmes(fits):
    """Within a cohort the universal base's pre-treatment cells are an invertible linear map of
    the varying base's short differences (Y_t - Y_{g-1} sums them), so did's Wald pre-test is the
    same statistic: the README's p = 0.16812 (5 cells: cohorts 2006 and 2007)."""
    published = json.loads((DATA / "mpdta_did_published.json").read_text())
    universal = fits["universal_never"].pretrend_test()
    varying = fits["varying_never"].pretrend_test()
    assert universal.df_num == varying.df_num == 5
    assert universal.statistic == pytest.approx(varying.statistic, rel=1e-10)
    assert universal.pvalue == pytest.approx(published["pretrend_pvalue"], abs=5e-6)
