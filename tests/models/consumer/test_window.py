"""Observation windows (models.consumer.window): consumers who join after the panel's first week
or leave before its last. The draw against its design, the unbalanced panel it leaves, and the
truth over the victims observed at each event time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.consumer.groups import Activity
from models.consumer.window import draw_windows
from tests.models.consumer.consumer_helpers import _replace

N_WEEKS = 22


def _uniform_counts_agree(values: np.ndarray, low: int, high: int) -> bool:
    """Counts of each integer low..high within 5 binomial sd of a uniform law."""
    counts = np.bincount(values - low, minlength=high - low + 1)
    if counts.size != high - low + 1:
        return False
    p = 1 / counts.size
    return bool(np.all(np.abs(counts - p * values.size) < 5 * np.sqrt(values.size * p * (1 - p))))


def test_windows_follow_their_design():
    """Joiners start uniformly in 1..T-2 (1..T-3 if they also leave), leavers end uniformly
    in start+1..T-2, everyone keeps at least two weeks; shares within 4 binomial sd."""
    n = 200_000
    start, end = draw_windows(Activity(join_share=0.3, leave_share=0.4), 3, 0, n, N_WEEKS)
    joins, leaves = start > 0, end < N_WEEKS - 1
    assert joins.mean() == pytest.approx(0.3, abs=4 * np.sqrt(0.21 / n))
    assert leaves.mean() == pytest.approx(0.4, abs=4 * np.sqrt(0.24 / n))
    assert (end - start >= 1).all()
    assert _uniform_counts_agree(start[joins & ~leaves], 1, N_WEEKS - 2)
    assert _uniform_counts_agree(start[joins & leaves], 1, N_WEEKS - 3)
    assert _uniform_counts_agree(end[leaves & ~joins], 1, N_WEEKS - 2)
    # given the start, the end is uniform: its position in start+1..T-2 is uniform on [0, 1)
    both = joins & leaves
    position = (end[both] - start[both] - 1 + 0.5) / (N_WEEKS - 2 - start[both])
    assert abs(position.mean() - 0.5) < 4 * np.sqrt(1 / 12 / both.sum())


def test_a_larger_share_adds_joiners_and_keeps_everyones_weeks():
    low = draw_windows(Activity(join_share=0.2), 3, 5, 5_000, N_WEEKS)
    high = draw_windows(Activity(join_share=0.5), 3, 5, 5_000, N_WEEKS)
    joined = low[0] > 0
    assert ((high[0] > 0) | ~joined).all() and (high[0] > 0).sum() > 2 * joined.sum()
    np.testing.assert_array_equal(low[0][joined], high[0][joined])
    balanced = draw_windows(Activity(), 3, 5, 5_000, N_WEEKS)
    assert (balanced[0] == 0).all() and (balanced[1] == N_WEEKS - 1).all()


def _missing_share(join: float, leave: float, n_weeks: int) -> float:
    """Expected share of a consumer's weeks outside its window, by enumerating the design."""
    last = n_weeks - 1
    only_join = np.mean(np.arange(1, n_weeks - 1))
    only_leave = np.mean(last - np.arange(1, n_weeks - 1))
    both = np.mean(
        [np.mean([a + last - b for b in range(a + 1, n_weeks - 1)]) for a in range(1, last - 1)]
    )
    weeks = join * (1 - leave) * only_join + leave * (1 - join) * only_leave
    return (weeks + join * leave * both) / n_weeks


@pytest.fixture(scope="module")
def unbalanced(baseline_model):
    """Joining and leaving shares of 0.3 each, and the balanced panel of the same seed."""
    model = _replace(baseline_model, activity={"join_share": 0.3, "leave_share": 0.3})
    return (
        model.simulate(n_consumers=10_000, n_weeks=N_WEEKS, seed=12),
        baseline_model.simulate(n_consumers=10_000, n_weeks=N_WEEKS, seed=12),
    )


def test_the_panel_holds_exactly_each_consumers_window(unbalanced):
    """Rows are each consumer's window, contiguous; the share of missing rows is the design's
    (z < 4 with the per-consumer sd of missing weeks)."""
    (panel, truth), _ = unbalanced
    consumers = truth.consumers
    rows = panel.groupby("consumer_id")["week"].agg(["min", "max", "size"])
    np.testing.assert_array_equal(rows["min"], consumers["first_observed_week"])
    np.testing.assert_array_equal(rows["max"], consumers["last_observed_week"])
    np.testing.assert_array_equal(rows["size"], rows["max"] - rows["min"] + 1)
    assert panel.equals(panel.sort_values(["consumer_id", "week"]))
    missing = (N_WEEKS - rows["size"]) / N_WEEKS
    expected = _missing_share(0.3, 0.3, N_WEEKS)
    assert missing.mean() == pytest.approx(expected, abs=4 * missing.std() / np.sqrt(len(rows)))
    assert 0.2 < expected < 0.3


def test_counterfeits_happen_inside_windows_only(unbalanced):
    (panel, truth), _ = unbalanced
    victims = truth.victims
    assert (
        victims["fake_week"]
        .between(victims["first_observed_week"], victims["last_observed_week"])
        .all()
    )
    # every fake (first and repeat) sits in a row the panel holds
    counted = (panel["fake_spend"] > 0).groupby(panel["consumer_id"]).sum()
    np.testing.assert_array_equal(counted.to_numpy(), truth.consumers["n_fakes"].to_numpy())
    # the truth is NaN exactly where a victim is not observed
    week = victims["fake_week"].to_numpy()[:, None] - 1 + np.arange(N_WEEKS)
    unseen = week > victims["last_observed_week"].to_numpy()[:, None] - 1
    np.testing.assert_array_equal(np.isnan(truth.expected), unseen)
    np.testing.assert_array_equal(np.isnan(truth.realized), unseen)


def test_windows_keep_the_counterfactual_of_the_rows_they_keep(unbalanced):
    """Common random numbers: a kept row's counterfactual spend is the balanced panel's."""
    (panel, _), (balanced, _) = unbalanced
    kept = balanced.merge(panel[["consumer_id", "week"]], on=["consumer_id", "week"])
    np.testing.assert_array_equal(kept["spend_cf"], panel["spend_cf"])
    assert len(panel) < 0.8 * len(balanced)


def test_event_time_counts_only_observed_victims(unbalanced):
    """n_treated at each event time is the number of recorded victims with a row there."""
    (panel, truth), _ = unbalanced
    treated = panel.dropna(subset=["fake_week"])
    counts = (treated["week"] - treated["fake_week"]).astype(int).value_counts().sort_index()
    effects = truth.event_time_effects()
    pd.testing.assert_series_equal(
        effects["n_treated"], counts.rename("n_treated"), check_names=False, check_dtype=False
    )
    assert effects.loc[0, "n_treated"] == len(truth.victims)
    assert effects.loc[11, "n_treated"] < 0.75 * effects.loc[0, "n_treated"]
