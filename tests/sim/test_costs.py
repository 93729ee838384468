"""The cost summary of a projection (sim.costs): the summary table and the optimum follow
from the draws."""

from __future__ import annotations

import numpy as np
import pytest

from models.market.cost_paths import CHANNELS
from sim.costs import describe_projection, optimal_intensity, projection_summary
from sim.projection import project_goodwill
from tests.conftest import config_with, response


@pytest.mark.parametrize("opening", ["status_quo", "no_programme"])
def test_summary_and_optimum_follow_from_the_draws(opening):
    ds = project_goodwill(config_with(), response())
    one = ds.sel(opening=opening)
    table = projection_summary(ds, opening)
    cost = one["total_cost"].to_numpy()  # (intensity, draw)
    np.testing.assert_allclose(table["total_cost_mean"], cost.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(table["total_cost_q5"], np.quantile(cost, 0.05, axis=1))
    np.testing.assert_allclose(table["total_cost_q95"], np.quantile(cost, 0.95, axis=1))
    loss = sum(one[f"loss_{c}"] for c in CHANNELS) + one["terminal_value"]
    np.testing.assert_allclose(table["goodwill_loss_mean"], loss.mean("draw"), rtol=1e-12)
    np.testing.assert_allclose(
        table["total_cost_mean"],
        table["goodwill_loss_mean"] + table["enforcement_cost"],
        rtol=1e-12,
    )
    intensities = ds["intensity"].to_numpy()
    grid_best = intensities[cost.argmin(axis=0)]
    assert table["optimal_share"].to_numpy() == pytest.approx(
        [(grid_best == x).mean() for x in intensities]
    )
    best = optimal_intensity(ds, opening)
    assert best["grid_intensity"] == intensities[cost.mean(axis=1).argmin()]
    per_draw = one["optimal_intensity"].to_numpy()
    assert best["draws_median"] == np.quantile(per_draw, 0.5)
    assert best["draws_zero_share"] == (per_draw == 0).mean()
    # the continuum's optimum is no dearer than the grid's, draw by draw and on average
    assert np.all(one["optimal_cost"].to_numpy() <= cost.min(axis=0) * (1 + 1e-12))
    assert best["cost"] <= cost.mean(axis=1).min() * (1 + 1e-12)


def test_description_answers_both_questions():
    text = describe_projection(project_goodwill(config_with(), response()))
    assert "should the platform stop?" in text and "should it have started?" in text
    assert text.count("cost-minimising intensity") == 2
