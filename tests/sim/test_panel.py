"""sim.panel.spend_trajectories against a direct pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.panel import spend_trajectories


def reference_trajectories(panel: pd.DataFrame) -> pd.DataFrame:
    """The same table by merge and groupby, row by row."""
    treated = panel[panel["fake_week"].notna()].copy()
    never = panel[panel["fake_week"].isna()]
    weekly = never.groupby("week")["spend"].mean().rename("never_treated")
    treated = treated.merge(weekly, left_on="week", right_index=True, how="left")
    treated["event_time"] = (treated["week"] - treated["fake_week"]).astype(int)
    grouped = treated.groupby("event_time")
    table = grouped[["spend", "spend_cf", "never_treated"]].mean()
    table.columns = ["treated", "counterfactual", "never_treated"]
    table["n_treated"] = grouped.size()
    return table


def test_matches_a_direct_computation(small_panel):
    panel, _ = small_panel
    table = spend_trajectories(panel, counterfactual="spend_cf")
    expected = reference_trajectories(panel)
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, rtol=1e-12)
    assert table.index.min() == -21 and table.index.max() == 21  # a 22-week panel
    assert table["n_treated"].sum() == panel["fake_week"].notna().sum()


def test_before_the_fake_buyers_match_their_counterfactual(small_panel):
    panel, _ = small_panel
    table = spend_trajectories(panel, counterfactual="spend_cf")
    before, after = table.loc[:-1], table.loc[0:11]
    np.testing.assert_array_equal(before["treated"], before["counterfactual"])
    assert (after["treated"] < after["counterfactual"]).all()  # the fake cuts spend


def test_a_calendar_effect_moves_both_groups_alike():
    """Outcome = a function of the calendar week only: at every event time the never-treated
    comparison, taken in the treated rows' own weeks, equals the treated mean exactly."""
    rng = np.random.default_rng(0)
    n_units, n_weeks = 300, 10
    week_effect = rng.normal(100, 30, n_weeks + 1)
    cohort = rng.choice([3.0, 5.0, 8.0, np.nan], n_units)
    panel = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n_units), n_weeks),
            "t": np.tile(np.arange(1, n_weeks + 1), n_units),
            "first": np.repeat(cohort, n_weeks),
        }
    )
    panel["y"] = week_effect[panel["t"]]
    table = spend_trajectories(panel, outcome="y", time="t", cohort="first")
    np.testing.assert_allclose(table["treated"], table["never_treated"], rtol=1e-12)
    assert "counterfactual" not in table


def test_without_never_treated_the_comparison_is_missing():
    panel = pd.DataFrame(
        {"t": [1, 2, 1, 2], "first": [2.0, 2.0, np.inf, np.inf], "y": [1.0, 2.0, 3.0, 4.0]}
    )
    table = spend_trajectories(panel, outcome="y", time="t", cohort="first")
    assert table["treated"].tolist() == [1.0, 2.0]
    assert table["never_treated"].tolist() == [3.0, 4.0]  # +inf is never treated too
    panel["first"] = 2.0
    assert spend_trajectories(panel, "y", "t", "first")["never_treated"].isna().all()


def test_a_missing_column_is_named(small_panel):
    panel, _ = small_panel
    with pytest.raises(ValueError, match="'spend_counterfactual'"):
        spend_trajectories(panel, counterfactual="spend_counterfactual")
