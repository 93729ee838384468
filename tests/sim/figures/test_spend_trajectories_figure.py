"""The spend-trajectories figure (sim.figures.spend_trajectories_figure), drawn from a real run's
stored means: the artists read back are compared with the stored file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.figures import spend_trajectories_figure
from tests.sim.figures.figure_helpers import by_gid, one, polygon_y_range


def test_spend_trajectories_draw_the_stored_means(small_run):
    table = pd.read_csv(small_run / "spend_trajectories.csv", index_col="event_time")
    figure = spend_trajectories_figure(table, window=(-4, 12))
    shown = table.loc[-4:12]
    for column in ("treated", "counterfactual", "never_treated"):
        x, y = one(figure, column).get_data()
        np.testing.assert_array_equal(x, shown.index.to_numpy())
        np.testing.assert_allclose(y, shown[column].to_numpy())
    low, high = polygon_y_range(one(figure, "lost_spend"))
    after = shown.loc[0:]
    np.testing.assert_allclose(low, np.minimum(after["treated"], after["counterfactual"]))
    np.testing.assert_allclose(high, np.maximum(after["treated"], after["counterfactual"]))
    assert figure.axes[0].get_ylabel() == "Mean weekly spend (yuan)"


def test_spend_trajectories_without_a_counterfactual_draw_two_lines(small_run):
    table = pd.read_csv(small_run / "spend_trajectories.csv", index_col="event_time")
    figure = spend_trajectories_figure(table.drop(columns="counterfactual"))
    lines = [line.get_gid() for line in figure.axes[0].get_lines()]
    assert lines == ["onset", "treated", "never_treated"]
    assert not by_gid(figure, "lost_spend")
