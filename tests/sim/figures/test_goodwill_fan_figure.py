"""The goodwill fan chart (sim.figures.goodwill_fan_figure), drawn from a real run's stored
projection: the artists read back are compared with quantiles computed here."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.lines import Line2D

from sim.figures import default_fan_intensities, goodwill_fan_figure
from tests.sim.figures.figure_helpers import (
    by_gid,
    one,
    polygon_y_range,
    projection_fixture,  # noqa: F401 (a fixture)
)


def test_fan_chart_draws_median_and_bands_of_the_cumulative_loss(projection):
    assert default_fan_intensities(projection) == [0.0, 1.0, 4.75]
    figure = goodwill_fan_figure(projection, intensities=[0.0, 2.0])
    medians = [a for a in figure.findobj(Line2D) if str(a.get_gid()).startswith("median:")]
    assert [m.get_gid() for m in medians] == ["median:0", "median:2"]
    stored = projection["goodwill_loss_cumulative"].sel(opening="status_quo")
    ylabel = figure.axes[0].get_ylabel()
    scale = 1e6 if "million yuan" in ylabel else 1e9 if "billion yuan" in ylabel else None
    assert scale is not None, ylabel
    for intensity, line in zip([0.0, 2.0], medians, strict=True):
        quantiles = stored.sel(intensity=intensity) / scale
        np.testing.assert_allclose(line.get_ydata(), quantiles.sel(quantile=0.5), rtol=1e-12)
        weeks = projection["week"].to_numpy() + 1
        years = weeks[-1] >= 104  # long projections are drawn in years
        np.testing.assert_array_equal(line.get_xdata(), weeks / 52 if years else weeks)
        low, high = polygon_y_range(one(figure, f"band_50:{intensity:g}"))
        np.testing.assert_allclose(low, quantiles.sel(quantile=0.25))
        np.testing.assert_allclose(high, quantiles.sel(quantile=0.75))
        assert by_gid(figure, f"band_90:{intensity:g}")
    assert "present value" in ylabel
    with pytest.raises(ValueError, match=r"intensity 0\.33 was not projected"):
        goodwill_fan_figure(projection, intensities=[0.33])
