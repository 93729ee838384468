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
    one_opening = projection.sel(opening="status_quo")
    total = one_opening["total_cost"]  # (intensity, draw)
    mean = total.mean("draw")
    x, y = one(figure, "optimum").get_data()
    best = float(one_opening["mean_optimal_intensity"])
    assert x.tolist() == [best]
    assert 0 < best < float(projection["intensity"].max())
    scale = 1e9 if "billion" in top.get_ylabel() else 1e6
    np.testing.assert_allclose(y, [float(one_opening["mean_optimal_cost"]) / scale])
    assert float(one_opening["mean_optimal_cost"]) <= float(mean.min())
    np.testing.assert_allclose(one(figure, "total_cost").get_ydata(), mean.to_numpy() / scale)
    low, high = polygon_y_range(one(figure, "interval"))
    np.testing.assert_allclose(low, total.quantile(0.05, "draw").to_numpy() / scale)
    np.testing.assert_allclose(high, total.quantile(0.95, "draw").to_numpy() / scale)
    enforcement = projection["enforcement_cost"].sum("week").to_numpy() / scale
    np.testing.assert_allclose(one(figure, "enforcement_cost").get_ydata(), enforcement)
    loss = (mean - projection["enforcement_cost"].sum("week")).to_numpy() / scale
    np.testing.assert_allclose(one(figure, "goodwill_loss").get_ydata(), loss, rtol=1e-10)
    # The bars: a histogram of each draw's own cheapest intensity on the continuum.
    per_draw = one_opening["optimal_intensity"].to_numpy()
    bars = [patch.get_height() for patch in bottom.patches]
    lefts = np.array([patch.get_x() for patch in bottom.patches])
    widths = np.array([patch.get_width() for patch in bottom.patches])
    counted = [
        100 * np.mean((per_draw >= a) & ((per_draw < a + w) | (i == len(lefts) - 1)))
        for i, (a, w) in enumerate(zip(lefts, widths, strict=True))
    ]
    np.testing.assert_allclose(bars, counted)
    assert sum(bars) == pytest.approx(100)
    assert "Lowest mean cost" in top.get_legend().get_texts()[-1].get_text()
    assert "square-root" in bottom.get_xlabel() and "%" in bottom.get_ylabel()
    assert [t.get_text() for t in bottom.get_xticklabels()][:3] == ["0", "0.1", "0.25"]
    assert top.get_xscale() == "function"
