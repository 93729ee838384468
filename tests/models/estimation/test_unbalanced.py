"""Callaway and Sant'Anna on unbalanced panels (did's allow_unbalanced_panel = TRUE): against
csdid's numbers on mpdta with rows dropped, a hand computation of the four means and the
influence functions by unit on a tiny panel, and did's rule on a balanced panel."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna, UnbalancedPanelWarning
from tests.conftest import DATA

ATT_RTOL = 1e-6  # issue 19: point estimates to 1e-6
SE_RTOL = 1e-4  # and analytic standard errors to 1e-4 (relative)


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DATA / "mpdta_unbalanced_csdid.json").read_text())


@pytest.fixture(scope="module")
def unbalanced(mpdta, reference) -> pd.DataFrame:
    """mpdta without the rows the reference dropped (15% of them, seed 19), with the
    reference's covariate x = lpop + 0.1 sin(countyreal + year), which varies by period."""
    df = mpdta.drop(index=reference["dropped_rows"]).reset_index(drop=True)
    return df.assign(x=df["lpop"] + 0.1 * np.sin(df["countyreal"] + df["year"]))


def _fit(df: pd.DataFrame, columns=("lemp", "countyreal", "year", "cohort"), **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnbalancedPanelWarning)
        model = CallawaySantAnna(df, *columns, allow_unbalanced_panel=True, **kwargs)
        return model.fit()


TINY = ("y", "i", "t", "g")


def _design(design: dict) -> dict:
    return {
        "control": {"nevertreated": "never", "notyettreated": "notyet"}[design["control_group"]],
        "base_period": design["base_period"],
        "anticipation": design["anticipation"],
    }


def _values(values: list) -> np.ndarray:
    """A reference column with None (did's NA) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _assert_aggregate(res, expected: dict) -> None:
    estimate, se = res.overall
    assert estimate == pytest.approx(expected["overall_att"], rel=ATT_RTOL, abs=1e-12)
    assert se == pytest.approx(expected["overall_se"], rel=SE_RTOL)
    if "egt" in expected:
        effects = res.event_time_effects()[["estimate", "se"]]
        if res.ref is not None:  # did lists the universal base's reference: 0, no SE
            effects.loc[res.ref] = [0.0, np.nan]
        effects = effects.sort_index()
        assert effects.index.tolist() == expected["egt"]
        np.testing.assert_allclose(
            effects["estimate"], expected["att_egt"], rtol=ATT_RTOL, atol=1e-12
        )
        np.testing.assert_allclose(effects["se"], _values(expected["se_egt"]), rtol=SE_RTOL)


DESIGNS = {  # the reference's designs and goodwill's further arguments
    "varying_never": {},
    "varying_notyet": {},
    "universal_never": {},
    "universal_notyet": {},
    "varying_never_anticipation1": {},
    "varying_never_reg_x": {"covariates": ["x"], "method": "reg"},
    "universal_notyet_reg_x": {"covariates": ["x"], "method": "reg"},
    "varying_notyet_ipw_x": {"covariates": ["x"], "method": "ipw"},
    "varying_never_dr_x": {"covariates": ["x"], "method": "dr"},
    "universal_notyet_dr_x": {"covariates": ["x"], "method": "dr"},
}


@pytest.mark.parametrize("name", DESIGNS)
def test_att_gt_and_aggregations_match_csdid(unbalanced, reference, name):
    """Without covariates and with a covariate that varies by period (each row's own, as did),
    never and not-yet-treated controls, varying and universal base, anticipation."""
    design = reference["designs"][name]
    res = _fit(unbalanced, **_design(design), **DESIGNS[name])
    expected = pd.DataFrame(design["att_gt"])
    got = res.att_gt
    assert got[["cohort", "time"]].to_numpy().tolist() == (
        expected[["group", "time"]].to_numpy().tolist()
    )
    np.testing.assert_allclose(got["att"], expected["att"], rtol=ATT_RTOL, atol=1e-12)
    np.testing.assert_allclose(got["se"], _values(design["att_gt"]["se"]), rtol=SE_RTOL)
    for kind in ("simple", "dynamic", "group", "calendar"):
        _assert_aggregate(res.aggregate(kind), design[kind])
    for entry in design.get("dynamic_options", []):
        _assert_aggregate(res.aggregate("dynamic", **entry["options"]), entry)


@pytest.mark.parametrize("method", ["dr", "ipw"])
def test_without_covariates_every_method_is_the_difference_of_four_means(
    unbalanced, reference, method
):
    """csdid's drdid_rc and std_ipw_did_rc give reg_did_rc's numbers without covariates, as
    goodwill's one estimator for all three (method has no effect without covariates)."""
    design = reference["designs"][f"varying_never_{method}"]
    res = _fit(unbalanced, method=method)
    np.testing.assert_allclose(res.att_gt["att"], design["att_gt"]["att"], rtol=ATT_RTOL)
    np.testing.assert_allclose(res.att_gt["se"], design["att_gt"]["se"], rtol=SE_RTOL)


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    """18 units x 4 periods: units 0-5 in cohort 3, 6-11 in cohort 4, 12-17 never treated;
    11 rows missing (row 4 i + t - 1 is unit i in period t)."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "i": np.repeat(np.arange(18), 4),
            "t": np.tile(np.arange(1, 5), 18),
            "g": np.repeat([3.0, 4.0, np.nan], 24),
            "y": rng.normal(size=72) + np.repeat(rng.normal(size=18) * 3, 4),
        }
    )
    missing = [1, 6, 10, 15, 24, 35, 49, 54, 60, 68, 69]
    return df.drop(index=missing).reset_index(drop=True)


def _hand_cell(df: pd.DataFrame, g: float, t: int, base: int, controls: np.ndarray):
    """ATT(g, t) as did's reg_did_rc without covariates, and its influence function by unit:
    each of the four groups' mean over the rows it has in that period, and
    psi_i = n sum over the unit's rows of +-(Y - mean) / (rows in that group and period)."""
    units = np.sort(df["i"].unique())
    n = units.size
    cohort = df.groupby("i")["g"].first().reindex(units).fillna(np.inf).to_numpy()
    psi = pd.Series(0.0, index=units)
    att = 0.0
    for sign, members in ((1.0, units[cohort == g]), (-1.0, controls)):
        for period_sign, period in ((1.0, t), (-1.0, base)):
            rows = df[df["i"].isin(members) & (df["t"] == period)]
            mean = rows["y"].mean()
            att += sign * period_sign * mean
            contribution = sign * period_sign * n * (rows["y"] - mean) / len(rows)
            psi = psi.add(pd.Series(contribution.to_numpy(), index=rows["i"]), fill_value=0.0)
    return att, psi.to_numpy()


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cells_match_a_hand_computation_of_four_means(tiny, control):
    res = _fit(tiny, TINY, control=control)
    cohort = tiny.groupby("i")["g"].first().fillna(np.inf)
    psis = []
    for row in res.att_gt.itertuples():
        base = row.cohort - 1 if row.time >= row.cohort else row.time - 1
        later = (cohort > max(row.time, base)) & (cohort != row.cohort)
        controls = cohort.index[np.isinf(cohort) if control == "never" else later].to_numpy()
        att, psi = _hand_cell(tiny, row.cohort, row.time, base, controls)
        assert row.att == pytest.approx(att, rel=1e-12, abs=1e-14)
        assert row.se == pytest.approx(np.sqrt(psi @ psi) / psi.size, rel=1e-10)
        psis.append(psi)
    psis = np.column_stack(psis)
    n = psis.shape[0]
    np.testing.assert_allclose(res.cov_params().to_numpy(), psis.T @ psis / n**2, rtol=1e-10)


def test_the_warning_counts_absent_units_per_cell(tiny):
    with pytest.warns(UnbalancedPanelWarning) as record:
        CallawaySantAnna(tiny, *TINY, allow_unbalanced_panel=True).fit()
    message = str(record[0].message)
    assert "6 of 6 ATT(g, t) have units without a row in t or the base period" in message
    # ATT(g=3, t=3), base 2: of cohort 3 (units 0-5), unit 0 has no row in period 2 (row 1),
    # units 1 and 2 none in 3 (rows 6, 10); of the never treated (12-17), units 12 and 17 none
    # in 2 (rows 49, 69), unit 13 none in 3 (row 54).
    assert (
        "ATT(g=3, t=3) (base 2): treated 3 of 6 absent (0 in neither period), controls 3 of 6 "
        "absent (0 in neither)"
    ) in message
    # ATT(g=3, t=2), base 1: unit 0 again; units 12 (no 2), 15 (no 1, row 60) and 17 (neither)
    assert (
        "ATT(g=3, t=2) (base 1): treated 1 of 6 absent (0 in neither period), controls 3 of 6 "
        "absent (1 in neither)"
    ) in message
    assert "(and 3 more)" in message


def test_a_balanced_panel_uses_the_panel_estimator_as_did_does(mpdta):
    """did switches allow_unbalanced_panel off on a balanced panel (pre_process_did): the
    numbers are the panel estimator's, csdid's reference for mpdta, with no warning."""
    expected = json.loads((DATA / "mpdta_cs_csdid.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnbalancedPanelWarning)
        res = CallawaySantAnna(
            mpdta, "lemp", "countyreal", "year", "cohort", allow_unbalanced_panel=True
        ).fit()
    default = CallawaySantAnna(mpdta, "lemp", "countyreal", "year", "cohort").fit()
    pd.testing.assert_frame_equal(res.att_gt, default.att_gt, rtol=0, atol=0)
    table = pd.DataFrame(expected["att_gt"])
    np.testing.assert_allclose(res.att_gt["att"], table["att"], rtol=ATT_RTOL, atol=1e-12)
    np.testing.assert_allclose(res.att_gt["se"], table["se"], rtol=SE_RTOL)
    for kind in ("simple", "dynamic", "group", "calendar"):
        _assert_aggregate(res.aggregate(kind), expected[kind])


def test_an_unbalanced_panel_is_refused_by_default_naming_the_option(unbalanced):
    with pytest.raises(ValueError, match=r"expected a balanced panel .* allow_unbalanced_panel"):
        CallawaySantAnna(unbalanced, "lemp", "countyreal", "year", "cohort")


@pytest.mark.parametrize(
    ("kwargs", "fit", "message"),
    [
        ({"intensity": "lpop"}, {}, r"intensity: per-dose effects are not available on an "),
        ({}, {"vcov": "CR3"}, r"vcov='CR3' needs a balanced panel; use vcov='CRV1'"),
        ({}, {"pretrend": "bootstrap"}, r"pretrend='bootstrap' needs a balanced panel"),
        ({"allow_unbalanced_panel": "yes"}, {}, r"allow_unbalanced_panel"),
    ],
)
def test_unsupported_options_are_refused(unbalanced, kwargs, fit, message):
    options = {"allow_unbalanced_panel": True, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnbalancedPanelWarning)
            CallawaySantAnna(unbalanced, "lemp", "countyreal", "year", "cohort", **options).fit(
                **fit
            )


def test_a_cell_without_rows_in_a_period_is_na_as_did_reports_it(tiny):
    """did warns "No units in group 3 in time period 2" and reports the ATT as NA; aggte
    refuses unless na.rm = TRUE. Cohort 3 without rows in period 2 loses every cell (2 is
    the base of its post cells); cohort 4's cells are the four means by hand."""
    gone = tiny[~((tiny["g"] == 3) & (tiny["t"] == 2))].reset_index(drop=True)
    with pytest.warns(UnbalancedPanelWarning, match=r"3 of 6 ATT\(g, t\) cannot be estimated .*"
                      r"ATT\(g=3, t=2\): no units of cohort 3 in period 2"):  # fmt: skip
        res = CallawaySantAnna(gone, *TINY, allow_unbalanced_panel=True).fit()
    assert res.missing == ((3, 2), (3, 3), (3, 4))
    table = res.att_gt.set_index(["cohort", "time"])
    assert table.loc[3, ["att", "se"]].isna().all().all() and len(table) == 6
    cohort = gone.groupby("i")["g"].first()
    never = cohort.index[cohort.isna()].to_numpy()
    for t, base in ((2, 1), (3, 2), (4, 3)):
        att, psi = _hand_cell(gone, 4.0, t, base, never)
        assert table.loc[(4, t), "att"] == pytest.approx(att, rel=1e-12)
        assert table.loc[(4, t), "se"] == pytest.approx(np.sqrt(psi @ psi) / psi.size, rel=1e-10)
    with pytest.raises(ValueError, match=r"ATT\(g=3, t=2\), ATT\(g=3, t=3\), ATT\(g=3, "
                       r"t=4\) could not be estimated .* na_rm=True"):  # fmt: skip
        res.aggregate("dynamic")
    # With one cohort left, every average of post cells is its ATT(4, 4), with its SE.
    for kind in ("simple", "group", "dynamic"):
        averaged = res.aggregate(kind, na_rm=True)
        assert averaged.overall.estimate == pytest.approx(table.loc[(4, 4), "att"], rel=1e-12)
        assert averaged.overall.se == pytest.approx(table.loc[(4, 4), "se"], rel=1e-10)


def test_no_cell_left_is_an_error(tiny):
    gone = tiny[tiny["g"].isna() | ~tiny["t"].isin([2, 3])]  # every cell uses period 2 or 3
    with pytest.raises(ValueError, match=r"no ATT\(g, t\) can be estimated on this unbalanced"):
        _fit(gone, TINY)


def test_a_cell_with_collinear_covariates_is_an_error_naming_it(unbalanced):
    collinear = unbalanced.assign(twice=2 * unbalanced["x"])
    message = r"ATT\(g=2004, t=2004\) with method='reg': covariates are collinear among the \d+"
    with pytest.raises(ValueError, match=message):
        _fit(collinear, covariates=["x", "twice"], method="reg")


def test_fits_are_repeatable_leave_the_model_unchanged_and_pickle(unbalanced):
    model = CallawaySantAnna(
        unbalanced, "lemp", "countyreal", "year", "cohort", allow_unbalanced_panel=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnbalancedPanelWarning)
        first, second = model.fit(), model.fit()
    pd.testing.assert_frame_equal(first.att_gt, second.att_gt, rtol=0, atol=0)
    restored = pickle.loads(pickle.dumps(first))
    assert restored.aggregate("group").overall == first.aggregate("group").overall
    assert ("Panel", "unbalanced (rows present in t and the base period)") in first.notes


def test_a_cohort_with_small_weights_is_estimated(tiny):
    """Weights constant within each group leave every mean, hence every ATT(g, t), as
    unweighted, however small they are (normalised, cohort 3's rows weigh under 0.5 in
    all)."""
    weighted = tiny.assign(w=np.where(tiny["g"] == 3, 0.001, 10.0))
    got = _fit(weighted, TINY, weights="w").att_gt
    np.testing.assert_allclose(got["att"], _fit(tiny, TINY).att_gt["att"], rtol=1e-10)
