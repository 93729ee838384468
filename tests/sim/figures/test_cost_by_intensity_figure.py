"""The cost-by-intensity figure (sim.figures.cost_by_intensity_figure), drawn from a real run's
stored projection: the artists read back are compared with numbers computed here."""

from __future__ import annotations

import numpy as np
import pytest

from sim.figures import cost_by_intensity_figure
from tests.sim.figures.figure_helpers import (
    one,
    polygon_y_range,
    projection_fixture,  # noqa: F401 (a fixture)
)


def test_cost_figure_marks_the_optimum_and_the_per_draw_optima(projection):
    figure = cost_by_intensity_figure(projection)
    top, bottom = figure.axes
    total = projection["total_cost"].sum("week")  # (intensity, draw)
    mean = total.mean("draw")
    best = float(projection["intensity"][int(mean.argmin("intensity"))])
    x, y = one(figure, "optimum").get_data()
    assert x.tolist() == [best]
    scale = 1e9 if "billion" in top.get_ylabel() else 1e6
    np.testing.assert_allclose(y, [float(mean.min()) / scale])
    np.testing.assert_allclose(one(figure, "total_cost").get_ydata(), mean.to_numpy() / scale)
    low, high = polygon_y_range(one(figure, "interval"))
    np.testing.assert_allclose(low, total.quantile(0.05, "draw").to_numpy() / scale)
    np.testing.assert_allclose(high, total.quantile(0.95, "draw").to_numpy() / scale)
    enforcement = projection["enforcement_cost"].sum("week").to_numpy() / scale
    np.testing.assert_allclose(one(figure, "enforcement_cost").get_ydata(), enforcement)
    # The bars: each draw's own cheapest intensity, counted here from total_cost.
    cheapest = projection["intensity"].to_numpy()[total.argmin("intensity").to_numpy()]
    share = [100 * np.mean(cheapest == x) for x in projection["intensity"].to_numpy()]
    bars = [patch.get_height() for patch in bottom.patches]
    np.testing.assert_allclose(bars, share)
    assert sum(bars) == pytest.approx(100)
    assert "Lowest mean cost" in top.get_legend().get_texts()[-1].get_text()
    assert "intensity" in bottom.get_xlabel() and "%" in bottom.get_ylabel()
