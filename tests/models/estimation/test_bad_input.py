"""Bad panels and bad arguments get one clear error from every estimator (issue 17).

One test per kind of defect, parametrized over the estimators: a negative outcome where the
outcome must be >= 0, id columns holding values of several types, doses that are not positive,
a reference event time that no treated row has, arguments out of range or not strictly boolean,
and bad panels that used to end in a library's own words (no treated unit, text in a numeric
column). Each asserts the error type and that the message names the column or argument.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from models import (
    CallawaySantAnna,
    ConsumerSpendModel,
    EventStudy,
    FixedEffectsOLS,
    ImputationDiD,
    SunAbraham,
)

COLUMNS = {"outcome": "spend", "unit": "consumer_id", "time": "week", "cohort": "fake_week"}
ESTIMATORS: dict[str, Callable[..., object]] = {
    "EventStudy": lambda df, **kw: EventStudy(df, **COLUMNS, **{"window": (-3, 5), **kw}),
    "CallawaySantAnna": lambda df, **kw: CallawaySantAnna(df, **COLUMNS, **kw),
    "SunAbraham": lambda df, **kw: SunAbraham(df, **COLUMNS, **kw),
    "ImputationDiD": lambda df, **kw: ImputationDiD(df, **COLUMNS, **kw),
}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """A balanced panel of the default model without the consumers cheated in week 1 (no
    week before: Sun-Abraham and imputation would drop them with a warning)."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_000, n_weeks=10, seed=5)
    return panel[panel["fake_week"] != 1].reset_index(drop=True)


def build_and_fit(name: str, df: pd.DataFrame, **kwargs: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ESTIMATORS[name](df, **kwargs).fit()


def _first_treated(df: pd.DataFrame) -> pd.Series:
    """The rows of the first treated unit."""
    return df["consumer_id"] == df.loc[df["fake_week"].notna(), "consumer_id"].iloc[0]


# 1. negative outcome --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_negative_outcome_is_refused_when_the_outcome_is_spend(panel, name):
    bad = panel.copy()
    bad.loc[[17, 40, 41], "spend"] = [-5.0, -1.0, -2.0]
    with pytest.raises(
        ValueError,
        match=r"^outcome column 'spend': 3 negative value\(s\) \(e.g. -5.0 in row 17\); "
        r"expected spend >= 0 \(nonnegative_outcome=True\)$",
    ):
        build_and_fit(name, bad, nonnegative_outcome=True)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_negative_outcome_is_accepted_by_default(panel, name):
    """A generic estimation library: log spend or differences may be negative."""
    shifted = panel.assign(spend=panel["spend"] - 1_000.0)
    build_and_fit(name, shifted)


# 2. id columns of several types ---------------------------------------------------------------


def _mixed(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """The column as objects, with one unit's (or period's) values as strings: 5 and "5"."""
    out = df.assign(**{column: df[column].astype(object)})
    rows = out[column] == out[column].iloc[-1]
    out.loc[rows, column] = out.loc[rows, column].map(str)
    return out


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("column", ["consumer_id", "week"])
def test_an_id_column_with_values_of_several_types_is_refused(panel, name, column):
    with pytest.raises(
        ValueError, match=rf"^column '{column}': expected values of one type, found int \(e.g. "
    ) as error:
        build_and_fit(name, _mixed(panel, column))
    assert "and str (e.g. '" in str(error.value)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_cohort_column_of_objects_names_the_types_and_a_bad_value(panel, name):
    bad = panel.assign(fake_week=panel["fake_week"].astype(object))
    bad.loc[_first_treated(bad), "fake_week"] = "abc"
    with pytest.raises(
        ValueError,
        match=r"^column 'fake_week': expected numbers, got dtype object \(values of types "
        r"float, str; e.g. 'abc' in row \d+\)$",
    ):
        build_and_fit(name, bad)


# 3. doses of treated units --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("dose", [-100.0, 0.0, np.nan, np.inf])
def test_a_treated_unit_needs_a_positive_finite_dose(panel, name, dose):
    bad = panel.copy()
    bad.loc[_first_treated(bad), "fake_value"] = dose
    with pytest.raises(
        ValueError,
        match=r"^column 'fake_value': expected a positive finite dose for every treated unit, "
        rf"got {dose:g} for unit \d+ \(1 unit\(s\) in all\)$",
    ):
        build_and_fit(name, bad, intensity="fake_value")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_doses_of_never_treated_units_are_ignored(panel, name):
    """Any value on never-treated rows, negative or missing, as the docstrings say."""
    never = panel["fake_week"].isna()
    odd = panel.assign(fake_value=np.where(never, -1.0, panel["fake_value"]))
    odd.loc[never & (panel["week"] == 3), "fake_value"] = np.nan
    build_and_fit(name, odd, intensity="fake_value")


# 4. a reference event time that no treated row has --------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SunAbraham", {"ref": -30}),
        ("EventStudy", {"window": (-30, 30), "ref": -25}),
        ("EventStudy", {"window": (-30, 30), "ref": -25, "bin_endpoints": False}),
    ],
)
def test_a_reference_that_is_no_event_time_is_refused(panel, name, kwargs):
    with pytest.raises(
        ValueError,
        match=rf"^{name}: ref = {kwargs['ref']}: expected an event time of the treated rows "
        r"\(observed: -\d+\.\.\d+\)$",
    ):
        build_and_fit(name, panel, **kwargs)


def test_a_reference_at_a_binned_end_point_counts_the_rows_beyond_it(panel):
    """With bin_endpoints, ref = lo pools every event time <= lo, so it exists."""
    res = build_and_fit("EventStudy", panel, window=(-5, 5), ref=-5)  # pools -9..-5
    assert res.ref == -5
    with pytest.raises(ValueError, match=r"^EventStudy: ref = -12: expected an event time"):
        build_and_fit("EventStudy", panel, window=(-12, 5), ref=-12)  # no row at -12 or below


# 5. arguments in range, booleans strictly boolean ----------------------------------------------


def _ols(df: pd.DataFrame, **kw: object) -> FixedEffectsOLS:
    data = df.assign(x=df["week"] * 1.0 + (df["consumer_id"] % 3))
    return FixedEffectsOLS(data, "spend", ["x"], ["consumer_id", "week"], **kw)


BOOL = "expected True or False"
BAD_ARGUMENTS = [
    ("EventStudy", {"bin_endpoints": "no"}, {}, f"EventStudy: bin_endpoints = 'no': {BOOL}"),
    ("EventStudy", {"drop_singletons": 1}, {}, f"EventStudy: drop_singletons = 1: {BOOL}"),
    ("EventStudy", {"ref": True}, {}, "ref: expected an integer event time in the window"),
    ("EventStudy", {}, {"tol": -1}, "EventStudy: tol = -1: expected a finite number > 0"),
    ("EventStudy", {}, {"maxiter": 0}, "EventStudy: maxiter = 0: expected an integer >= 1"),
    ("EventStudy", {}, {"maxiter": 2.5}, "EventStudy: maxiter = 2.5: expected an integer >= 1"),
    (
        "EventStudy",
        {},
        {"collin_tol": np.nan},
        "EventStudy: collin_tol = nan: expected a number > 0 and < 1",
    ),
    ("SunAbraham", {"drop_singletons": "yes"}, {}, f"SunAbraham: drop_singletons = 'yes': {BOOL}"),
    ("SunAbraham", {"ref": True}, {}, "ref: expected a negative integer event time, got True"),
    ("SunAbraham", {}, {"tol": 0.0}, "SunAbraham: tol = 0.0: expected a finite number > 0"),
    ("SunAbraham", {}, {"maxiter": -3}, "SunAbraham: maxiter = -3: expected an integer >= 1"),
    (
        "SunAbraham",
        {},
        {"collin_tol": 2.0},
        "SunAbraham: collin_tol = 2.0: expected a number > 0 and < 1",
    ),
    (
        "CallawaySantAnna",
        {"anticipation": True},
        {},
        "CallawaySantAnna: anticipation = True: expected an integer >= 0",
    ),
    (
        "ImputationDiD",
        {"anticipation": True},
        {},
        "ImputationDiD: anticipation = True: expected an integer >= 0",
    ),
    (
        "FixedEffectsOLS",
        {"drop_singletons": "no"},
        {},
        f"FixedEffectsOLS: drop_singletons = 'no': {BOOL}",
    ),
    (
        "FixedEffectsOLS",
        {},
        {"tol": -1},
        "FixedEffectsOLS: tol = -1: expected a finite number > 0",
    ),
    (
        "FixedEffectsOLS",
        {},
        {"maxiter": 0},
        "FixedEffectsOLS: maxiter = 0: expected an integer >= 1",
    ),
    (
        "FixedEffectsOLS",
        {},
        {"collin_tol": -1e-10},
        "FixedEffectsOLS: collin_tol = -1e-10: expected a number > 0",
    ),
    *(
        (name, {"nonnegative_outcome": "yes"}, {}, f"{name}: nonnegative_outcome = 'yes': {BOOL}")
        for name in ESTIMATORS
    ),
]


@pytest.mark.parametrize(("name", "init", "fit", "message"), BAD_ARGUMENTS)
def test_arguments_out_of_range_or_not_strictly_boolean_are_refused(
    panel, name, init, fit, message
):
    build = _ols if name == "FixedEffectsOLS" else ESTIMATORS[name]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        build(panel, **init).fit(**fit)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 2}, r"aggregate: alpha = 2: expected a number > 0 and < 1"),
        ({"alpha": "5%"}, r"aggregate: alpha = '5%': expected a number > 0 and < 1"),
        ({"uniform_band": "no"}, r"aggregate: uniform_band = 'no': expected True or False"),
        ({"uniform_band": True, "seed": -1}, r"aggregate: seed = -1: expected an integer >= 0"),
        (
            {"uniform_band": True, "n_draws": 10},
            r"aggregate: n_draws = 10: expected an integer >= 100",
        ),
    ],
)
def test_callaway_santanna_aggregation_arguments_are_checked(panel, kwargs, message):
    fitted = build_and_fit("CallawaySantAnna", panel)
    with pytest.raises(ValueError, match=f"^{message}$"):
        fitted.aggregate("dynamic", **kwargs)


def test_a_confidence_level_that_is_no_number_is_refused(panel):
    res = build_and_fit("EventStudy", panel)
    with pytest.raises(ValueError, match=r"^alpha must be between 0 and 1, got 'x'$"):
        res.conf_int(alpha="x")


# 6. clear messages instead of a library's words -----------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("never", [np.nan, np.inf])
def test_a_panel_without_treated_units_is_refused_in_one_line(panel, name, never):
    with pytest.raises(
        ValueError,
        match=r"^column 'fake_week': no treated units \(the cohort is NaN or \+inf for every "
        r"unit\)$",
    ):
        build_and_fit(name, panel.assign(fake_week=never))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_text_in_the_outcome_column_names_the_column_and_a_bad_value(panel, name):
    bad = panel.assign(spend=panel["spend"].astype(object))
    bad.loc[3, "spend"] = "abc"
    with pytest.raises(
        ValueError,
        match=r"^column 'spend': expected numbers, got dtype object \(values of types float, "
        r"str; e.g. 'abc' in row 3\)$",
    ):
        build_and_fit(name, bad)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_complex_outcome_is_refused(panel, name):
    """pandas counts complex numbers as numeric; reading them as floats would drop .imag."""
    with pytest.raises(
        ValueError, match=r"^column 'spend': expected real numbers, got dtype complex128$"
    ):
        build_and_fit(name, panel.assign(spend=panel["spend"] + 1j))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_numbers_stored_as_text_are_refused_with_a_hint(panel, name):
    bad = panel.assign(spend=panel["spend"].map(repr))
    with pytest.raises(
        ValueError,
        match=r"^column 'spend': expected numbers, got dtype (object|str) \(values of type str; "
        r"e.g. '.*' in row 0\)$",
    ):
        build_and_fit(name, bad)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_missing_column_is_named_with_the_columns_there_are(panel, name):
    with pytest.raises(
        ValueError, match=r"^column 'week' not in the data \(columns: consumer_id, "
    ):
        build_and_fit(name, panel.drop(columns="week"))


def test_every_unit_treated_in_one_period_is_refused_in_one_line(panel):
    """No unit is untreated at any event time, so the two-way event study has no contrast."""
    with pytest.raises(
        ValueError,
        match=r"^EventStudy: column 'fake_week': every unit is treated, all in period 5; the "
        r"event times cannot be told apart from the periods \(add never-treated units\)$",
    ):
        build_and_fit("EventStudy", panel.assign(fake_week=5.0))


# 7. valid panels fit as before ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_the_checks_do_not_change_a_valid_fit(panel, name):
    plain = build_and_fit(name, panel, intensity="fake_value")
    checked = build_and_fit(name, panel, intensity="fake_value", nonnegative_outcome=True)
    np.testing.assert_array_equal(plain.coefficients, checked.coefficients)
    np.testing.assert_array_equal(plain.covariance.matrix, checked.covariance.matrix)
