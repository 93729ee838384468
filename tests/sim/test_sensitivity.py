"""The decision's Sobol sensitivity and value of information on the projection's costs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models import ResponsePath
from models.market.cost_paths import cost_paths
from models.market.enforcement import WEEKS_PER_YEAR
from sim.decision_settings import DECISION_INPUTS, DecisionSettings
from sim.sensitivity import (
    MARKET,
    check_bounds,
    decision_costs,
    describe_sensitivity,
    sensitivity,
)

PATH = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 1e-4)


@pytest.fixture(scope="module")
def settings(baseline_config):
    return baseline_config.projection.model_copy(
        update={"intensities": [0.0, 0.5, 1.0, 2.0], "n_weeks": 26}
    )


def test_decision_costs_equal_the_cost_paths(settings):
    # the platform's other channels switched on, so every channel is exercised
    platform = settings.platform.model_copy(
        update={"legal_cost_per_store": 5.0, "fake_take_rate": 0.02, "legal_cost_per_fake": 3.0}
    )
    settings = settings.model_copy(update={"platform": platform})
    rng = np.random.default_rng(1)
    bounds = DecisionSettings().bounds
    rows = np.array([[rng.uniform(*bounds[n]) for n in DECISION_INPUTS] for _ in range(4)])
    grid = np.array(settings.intensities)
    got, cost = decision_costs(settings, PATH.mean, rows, grid)
    for i, row in enumerate(rows):
        v = dict(zip(DECISION_INPUTS, row, strict=True))
        names = ("take_rate", "reputation_loss", "discount_rate", "churn_probability",
                 "spillover_contacts")  # fmt: skip
        want = cost_paths(
            settings.market.market(**{n: v[n] for n in MARKET}),
            platform.platform(brand_cost_per_fake=v["cost_per_fake"], **{n: v[n] for n in names}),
            PATH.mean * v["response_scale"],
            grid,
            np.array([settings.status_quo, 0.0])[:, None],
            settings.n_weeks,
            settings.market.programme_cost / WEEKS_PER_YEAR,
        ).total_cost()
        np.testing.assert_allclose(got[i], want, rtol=1e-12)
    np.testing.assert_allclose(cost(np.broadcast_to(grid, (4, 2, 4))), got, rtol=1e-14)


def test_sensitivity_is_reproducible_and_complete(settings):
    decision = DecisionSettings(sobol_samples=16, resamples=10, chunk_size=50)
    one = sensitivity(settings, PATH, decision, seed=7)
    two = sensitivity(settings, PATH, decision, seed=7)
    xr.testing.assert_identical(one, two)
    assert one["ST"].sizes == {"opening": 2, "output": 4, "input": 12}
    assert int(one.attrs["evaluations"]) == 16 * 14
    assert (one["evpi"] >= 0).all() and (one["evpi_se"] > 0).all()
    assert "EVPI" in describe_sensitivity(one)
    other = sensitivity(settings, PATH, decision, seed=8)
    assert not np.array_equal(one["S1"].to_numpy(), other["S1"].to_numpy())


def test_ranges_that_break_the_market_are_rejected(settings):
    bounds = {**DecisionSettings().bounds, "detection_2016": (0.05, 0.09)}
    with pytest.raises(ValueError, match=r"detection_2016 up to 0\.09 must stay below"):
        check_bounds(bounds, settings.market)
    bounds = {**DecisionSettings().bounds, "take_rate": (0.1, 1.5)}
    with pytest.raises(ValueError, match=r"decision.ranges.take_rate = \[0.1, 1.5\]"):
        check_bounds(bounds, settings.market)


def test_decision_settings_reject_bad_keys():
    with pytest.raises(ValueError, match=r"ranges\.speed: not an input"):
        DecisionSettings(ranges={"speed": (0.0, 1.0)})
    with pytest.raises(ValueError, match="expected low < high"):
        DecisionSettings(ranges={"take_rate": (0.5, 0.1)})
    with pytest.raises(ValueError, match=r"sobol_samples = 100: expected a power of 2"):
        DecisionSettings(sobol_samples=100)
