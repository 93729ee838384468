"""The frontier and tornado figures draw from stored break-even and sensitivity files."""

from __future__ import annotations

import numpy as np
import pytest

from models import ResponsePath
from sim.breakeven import breakeven
from sim.decision_settings import DecisionSettings
from sim.figures import frontier_figure, save_figure, tornado_figure
from sim.sensitivity import sensitivity

PATH = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 1e-4)


@pytest.fixture(scope="module")
def settings(baseline_config):
    return baseline_config.projection.model_copy(
        update={"intensities": [0.0, 0.5, 1.0, 2.0], "n_weeks": 26}
    )


def test_frontier_figure(settings, tmp_path):
    found = breakeven(settings, PATH, decision=DecisionSettings(max_horizon=52))
    figure = frontier_figure(found)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and "take rate" in ax.get_ylabel()
    mesh = next(c for c in ax.collections if c.get_gid() == "frontier")
    np.testing.assert_array_equal(
        np.sort(np.unique(mesh.get_array())), np.unique(found["frontier_intensity"][0])
    )
    assert save_figure(figure, tmp_path / "frontier.png", 80).stat().st_size > 1000


def test_tornado_figure(settings, tmp_path):
    found = sensitivity(settings, PATH, DecisionSettings(sobol_samples=16, resamples=10), 3)
    figure = tornado_figure(found)
    ax = figure.axes[0]
    total = found["ST"].sel(opening="status_quo", output="saving").to_numpy()
    widths = [bar.get_width() for bar in ax.patches]
    np.testing.assert_allclose(widths, np.sort(total))  # largest at the top
    assert save_figure(figure, tmp_path / "tornado.png", 80).stat().st_size > 1000
