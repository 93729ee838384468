"""The stage formulas of TwoStageDiD: fixest's i() and R's spellings, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.estimation.two_stage_formula import StageFormula, stage_design


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rel": [-2.0, -1.0, 0.0, 1.0, np.inf, np.nan],
            "treat": [False, False, True, True, False, False],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )


@pytest.mark.parametrize(
    "formula",
    ["~ i(rel, ref = c(-1, Inf))", "~ i(rel, ref=[-1, inf])", "~ i(rel, ref=[-1.0, np.inf])"],
)
def test_i_makes_one_indicator_per_level_but_the_references(df, formula):
    names, matrix = stage_design(formula, df, "second_stage")
    assert names == ("rel::-2", "rel::0", "rel::1")
    expected = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(matrix, expected)  # a missing rel gets no indicator


def test_i_of_a_boolean_and_other_terms(df):
    names, matrix = stage_design("~ i(treat, ref = FALSE) + x", df, "second_stage")
    assert names == ("treat::True", "x")
    np.testing.assert_array_equal(matrix[:, 0], df["treat"].to_numpy(dtype=float))
    np.testing.assert_array_equal(matrix[:, 1], df["x"].to_numpy())


def test_no_intercept_and_an_empty_formula(df):
    assert stage_design("~ x", df, "first_stage")[0] == ("x",)
    names, matrix = stage_design("0", df, "first_stage")
    assert names == () and matrix.shape == (len(df), 0)


def test_stage_formulas_split_at_the_bar():
    assert StageFormula.parse("~ 0 | sid + year", "first_stage") == StageFormula(
        "0", ("sid", "year")
    )
    assert StageFormula.parse("~ x + z | unit + a^b", "first_stage") == StageFormula(
        "x + z", ("unit", "a^b")
    )


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("x", "first_stage: expected a one-sided formula"),
        ("y ~ x", "first_stage: expected a one-sided formula"),
    ],
)
def test_bad_formulas_are_refused(formula, message):
    with pytest.raises(ValueError, match=message):
        StageFormula.parse(formula, "first_stage")


def test_missing_values_outside_i_are_refused(df):
    with pytest.raises(ValueError, match=r"column 'rel' \(second_stage\): expected no missing"):
        stage_design("~ rel", df, "second_stage")
    with pytest.raises(ValueError, match="second_stage '~ nope'"):
        stage_design("~ nope", df, "second_stage")
