"""The cost summary of a projection (sim.costs): the summary table and the optimum follow
from the draws."""

from __future__ import annotations

import numpy as np
import pytest

from sim.costs import optimal_intensity, projection_summary
from sim.projection import project_goodwill
from tests.conftest import config_with, response


def test_summary_and_optimum_follow_from_the_draws():
    ds = project_goodwill(config_with(), response())
    total = ds["goodwill_loss"].sum("week") + ds["enforcement_cost"].sum("week")
    np.testing.assert_allclose(ds["total_cost"].sum("week"), total, rtol=1e-12)
    table = projection_summary(ds)
    cost = total.to_numpy()  # (intensity, draw)
    np.testing.assert_allclose(table["total_cost_mean"], cost.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(table["total_cost_q5"], np.quantile(cost, 0.05, axis=1))
    np.testing.assert_allclose(table["total_cost_q95"], np.quantile(cost, 0.95, axis=1))
    intensities = ds["intensity"].to_numpy()
    per_draw = intensities[cost.argmin(axis=0)]
    np.testing.assert_array_equal(ds["optimal_intensity"], per_draw)
    assert table["optimal_share"].sum() == pytest.approx(1.0)
    best = optimal_intensity(ds)
    assert best["intensity"] == intensities[cost.mean(axis=1).argmin()]
    assert best["draws_median"] == np.quantile(per_draw, 0.5)
