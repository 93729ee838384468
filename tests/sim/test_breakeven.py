"""Break-even values: closed forms from the cost's linearity against brute-force searches."""

from __future__ import annotations

import numpy as np
import pytest

from models import ResponsePath
from sim.breakeven import (
    breakeven,
    cheapest_interval,
    describe_breakeven,
    expected_costs,
    linear_coefficients,
)
from sim.decision_settings import DecisionSettings

PATH = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 1e-4)


@pytest.fixture(scope="module")
def settings(baseline_config):
    return baseline_config.projection.model_copy(
        update={"intensities": [0.0, 0.5, 1.0, 2.0, 4.0], "n_weeks": 52}
    )


@pytest.fixture(scope="module")
def found(settings):
    return breakeven(settings, PATH, decision=DecisionSettings(max_horizon=39))


def test_cheapest_interval_matches_a_brute_force_scan():
    rng = np.random.default_rng(0)
    slope, intercept = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    s = np.linspace(0.0, 5.0, 20_001)
    for chosen in range(6):
        low, high = cheapest_interval(slope, intercept, chosen, 0.0, 5.0)
        costs = slope[:, None, :] * s[:, None] + intercept[:, None, :]
        best = costs[..., chosen] <= costs.min(axis=-1)
        for row in range(50):
            where = s[best[row]]
            if where.size == 0:  # a window narrower than the scan's step may be missed
                assert np.isnan(low[row]) or high[row] - low[row] < 2.5e-4
            else:
                assert abs(where[0] - low[row]) <= 2.5e-4 and abs(where[-1] - high[row]) <= 2.5e-4


def test_the_cost_is_linear_in_each_assumption(settings):
    x = np.array([0.0, 1.0, 2.0])
    for name, value in (("take_rate", 0.37), ("cost_per_fake", 250.0),
                        ("spillover_contacts", 2.5), ("programme_cost", 3e8)):  # fmt: skip
        slope, intercept = linear_coefficients(settings, PATH.mean, x, name)
        direct = expected_costs(settings, PATH.mean, x, **{name: value})
        np.testing.assert_allclose(slope * value + intercept, direct, rtol=1e-10)


@pytest.mark.parametrize("name", ["take_rate", "cost_per_fake", "programme_cost"])
def test_breakeven_equals_a_grid_search(settings, found, name):
    grid = np.array(settings.intensities)
    row = found.sel(parameter=name)
    high = {"take_rate": 1.0, "cost_per_fake": 1500.0, "programme_cost": 3e9}[name]
    values = np.linspace(0.0, high, 301)
    costs = np.stack([expected_costs(settings, PATH.mean, grid, **{name: v}) for v in values])
    chosen = list(grid).index(1.0)
    optimal = costs[..., chosen] <= costs.min(axis=-1)  # (value, opening)
    beats = costs[..., chosen] <= costs[..., 0]
    step = values[1]
    for k in range(2):
        for key, holds in (("optimal", optimal[:, k]), ("beats_none", beats[:, k])):
            low, upper = float(row[f"{key}_low"][k]), float(row[f"{key}_high"][k])
            assert holds.any()
            assert abs(values[holds][0] - low) <= step
            assert values[holds][-1] == pytest.approx(min(upper, high), abs=step)


def test_horizon_is_searched_week_by_week(settings, found):
    grid = np.array(settings.intensities)
    weeks = np.arange(1, 40)
    costs = np.stack([expected_costs(settings, PATH.mean, grid, int(w)) for w in weeks])
    optimal = costs[..., 2] <= costs.min(axis=-1)
    row = found.sel(parameter="n_weeks")
    for k in range(2):
        if optimal[:, k].any():
            assert row["optimal_low"][k] == weeks[optimal[:, k]][0]
            assert row["optimal_high"][k] == weeks[optimal[:, k]][-1]
        else:
            assert np.isnan(row["optimal_low"][k])


def test_frontier_and_description(settings, found):
    frontier = found["frontier_intensity"]
    assert frontier.sizes == {"opening": 2, "horizon": 3, "take_rate": 61}
    # more of each lost yuan counted never asks for less enforcement
    assert (frontier.diff("take_rate") >= 0).all()
    text = describe_breakeven(found)
    assert "should the platform stop?" in text and "take_rate" in text
    # the model's own value per avoided fake order: positive and the same in both openings
    value = found["model_value_per_fake"].to_numpy()
    assert value[0] > 0 and value[0] == pytest.approx(value[1], rel=1e-6)


def test_bad_intensity_is_rejected(settings):
    with pytest.raises(ValueError, match="intensity must be a finite number >= 0, got -1"):
        breakeven(settings, PATH, -1.0)
