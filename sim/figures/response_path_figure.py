"""The response-path figure: the fitted per-yuan path and the projection's draws of it."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.estimators import label
from sim.figures.style import (
    OKABE_ITO,
    ONSET_LABEL,
    effect_label,
    estimator_style,
    new_figure,
    quantile_bands,
    styled,
)
from sim.formatting import format_number
from sim.rundir import response_estimand, response_event_times, select_estimand


def response_path_figure(
    projection: xr.Dataset,
    estimates: xr.Dataset | None = None,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The per-yuan response path the projection used, with its Monte-Carlo draws as bands.

    Parameters
    ----------
    projection : xarray.Dataset
        A run's ``projection.nc`` (``sim.project_goodwill``).
    estimates : xarray.Dataset, optional
        The run's ``estimates.nc``; the fitted path of the projection's estimator and
        estimand is drawn over the bands (default: the mean of the draws).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure of your own) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``band_90`` and ``band_50`` across draws, the ``median`` of the draws and the
        ``fitted`` path; the legend gives the cumulative multiplier and its 90% range.
    """
    paths = projection["response_path"].to_numpy()  # (draw, event_week)
    times = response_event_times(projection)
    estimator = projection.attrs["estimator"]
    if estimates is not None:
        estimates = select_estimand(estimates, response_estimand(projection))
        fitted = estimates["estimate"].sel(estimator=estimator, event_time=times).to_numpy()
    else:
        fitted = paths.mean(axis=0)
    sums = paths.sum(axis=1)
    colour, marker = estimator_style(estimator, fallback=OKABE_ITO["blue"])
    with styled(settings):
        ax = new_figure(settings).axes[0] if ax is None else ax
        ax.axhline(0, color="0.6", linewidth=0.6, zorder=0)
        median = quantile_bands(ax, times, paths, colour, labelled=True)
        ax.plot(
            times,
            median,
            color=colour,
            linewidth=0.8,
            linestyle="--",
            label="Median draw",
            gid="median",
        )
        multiplier = float(projection.attrs["response_multiplier"])
        low, high = np.quantile(sums, [0.05, 0.95])
        ax.plot(
            times,
            fitted,
            color=colour,
            marker=marker,
            label=f"{label(estimator)} estimate",
            gid="fitted",
        )
        ax.legend(
            loc="upper left",
            title=f"{times.size}-week multiplier {format_number(multiplier, 2)}\n"
            f"(90% of draws {format_number(low, 2)} to {format_number(high, 2)})",
            alignment="left",
        )
        ax.set_xlabel(ONSET_LABEL)
        ax.set_ylabel(effect_label(True))
    return ax.figure
