"""Figures of a run: one module per kind, each function returning a matplotlib Figure.

Every figure is drawn from a run's stored outputs (``estimates.nc``, ``spend_trajectories.csv``,
``projection.nc``), so ``goodwill figures RUN_DIR`` redraws them without recomputing anything.
They share one style (:mod:`sim.figures.style`: the Okabe-Ito palette, a marker per estimator,
by default one column of a two-column paper) and label every axis with its units; sizes, type
size, resolution and file formats come from ``[figures]``.

The functions build ``matplotlib.figure.Figure`` objects directly, without pyplot, so they hold
no global state and need no display. Key artists carry a ``gid`` (``estimate:twfe``,
``optimum``, ...), which names them in SVG output and lets a program find them.
"""

from sim.figures.cost_by_intensity_figure import cost_by_intensity_figure
from sim.figures.event_study_figure import event_study_figure
from sim.figures.frontier_figure import frontier_figure
from sim.figures.goodwill_fan_figure import default_fan_intensities, goodwill_fan_figure
from sim.figures.response_path_figure import response_path_figure
from sim.figures.run_figures import (
    CAPTIONS,
    draw_run_figures,
    figure_caption,
    save_figure,
    write_run_figures,
)
from sim.figures.spend_trajectories_figure import spend_trajectories_figure
from sim.figures.tornado_figure import tornado_figure
from sim.figures.trend_sensitivity_figure import trend_sensitivity_figure

__all__ = [
    "CAPTIONS",
    "cost_by_intensity_figure",
    "default_fan_intensities",
    "draw_run_figures",
    "event_study_figure",
    "figure_caption",
    "frontier_figure",
    "goodwill_fan_figure",
    "response_path_figure",
    "save_figure",
    "spend_trajectories_figure",
    "tornado_figure",
    "trend_sensitivity_figure",
    "write_run_figures",
]
