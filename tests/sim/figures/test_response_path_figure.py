"""The response-path figure (sim.figures.response_path_figure), drawn from a real run's stored
projection and estimates: the artists read back are compared with quantiles computed here."""

from __future__ import annotations

import numpy as np

from sim.figures import response_path_figure
from tests.sim.figures.figure_helpers import (
    estimates_fixture,  # noqa: F401 (a fixture)
    one,
    polygon_y_range,
    projection_fixture,  # noqa: F401 (a fixture)
)


def test_response_path_shows_the_fitted_path_and_the_draws(projection, estimates):
    figure = response_path_figure(projection, estimates)
    x, y = one(figure, "fitted").get_data()
    np.testing.assert_array_equal(x, np.arange(0, 12))
    np.testing.assert_allclose(
        y, estimates["estimate"].sel(estimator="twfe", event_time=slice(0, 11)).to_numpy()
    )
    paths = projection["response_path"].to_numpy()
    low, high = polygon_y_range(one(figure, "band_90"))
    np.testing.assert_allclose(low, np.quantile(paths, 0.05, axis=0))
    np.testing.assert_allclose(high, np.quantile(paths, 0.95, axis=0))
    np.testing.assert_allclose(one(figure, "median").get_ydata(), np.median(paths, axis=0))
    title = figure.axes[0].get_legend().get_title().get_text().replace("\u2212", "-")
    assert f"{projection.attrs['response_multiplier']:.2f}" in title
