"""The cost figure: total cost by enforcement intensity, its optimum and its spread."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.costs import projection_summary
from sim.figures.style import OKABE_ITO, new_figure, styled
from sim.formatting import money_unit


def cost_by_intensity_figure(
    projection: xr.Dataset,
    settings: FigureSettings | None = None,
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Total cost by enforcement intensity, its optimum and the per-draw optimum's spread.

    Parameters
    ----------
    projection : xarray.Dataset
        A run's ``projection.nc``.
    settings : FigureSettings, optional
        Size and type size.
    axes : (matplotlib.axes.Axes, matplotlib.axes.Axes), optional
        Draw the costs and the shares into these two axes (of a figure of your own) instead
        of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Upper axes: the mean total cost (``total_cost``) with its 90% interval across draws
        (``interval``), the mean goodwill loss (``goodwill_loss``) and the enforcement cost
        (``enforcement_cost``), and a star at the lowest mean cost (``optimum``). Lower axes:
        bars of the share of draws in which each intensity is the cheapest
        (``optimal_share``). The numbers are those of ``projection_summary``.
    """
    table = projection_summary(projection)
    x = table.index.to_numpy()
    low_column, high_column = table.columns[1], table.columns[2]
    scale, unit = money_unit(table[high_column].to_numpy())
    best = table["total_cost_mean"].idxmin()
    spacing = np.diff(x).min() if x.size > 1 else 1.0
    with styled(settings):
        if axes is None:
            axes = tuple(new_figure(settings, rows=2, height_ratios=[3, 1]).axes)
        top, bottom = axes
        top.fill_between(
            x,
            table[low_column] / scale,
            table[high_column] / scale,
            color=OKABE_ITO["blue"],
            alpha=0.2,
            linewidth=0,
            label="90% of draws",
            gid="interval",
        )
        top.plot(
            x,
            table["total_cost_mean"] / scale,
            color=OKABE_ITO["blue"],
            marker="o",
            label="Total cost (mean)",
            gid="total_cost",
        )
        top.plot(
            x,
            table["goodwill_loss_mean"] / scale,
            color=OKABE_ITO["vermillion"],
            linestyle="--",
            label="Goodwill loss",
            gid="goodwill_loss",
        )
        top.plot(
            x,
            table["enforcement_cost"] / scale,
            color=OKABE_ITO["green"],
            linestyle=":",
            label="Enforcement cost",
            gid="enforcement_cost",
        )
        top.plot(
            [best],
            [table.loc[best, "total_cost_mean"] / scale],
            marker="*",
            markersize=10,
            color=OKABE_ITO["black"],
            linestyle="none",
            label=f"Lowest mean cost: {best:g}×",
            gid="optimum",
            zorder=3,
        )
        top.set_ylim(bottom=0)
        top.legend(loc="upper left", handlelength=1.8)
        top.set_ylabel(f"{projection.sizes['week']}-week cost\n({unit}, present value)")
        bottom.bar(
            x,
            100 * table["optimal_share"],
            width=0.7 * spacing,
            color=OKABE_ITO["blue"],
            gid="optimal_share",
        )
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("Draws where\ncheapest (%)")
        bottom.set_xlabel("Enforcement intensity (× the 2016 programme)")
    return top.figure
