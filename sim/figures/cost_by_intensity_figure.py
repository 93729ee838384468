"""The cost figure: total cost by enforcement intensity, its optimum and its spread."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from sim.config import FigureSettings
from sim.costs import optimal_intensity, projection_summary
from sim.figures.style import OKABE_ITO, new_figure, styled
from sim.formatting import money_unit


def cost_by_intensity_figure(
    projection: xr.Dataset,
    settings: FigureSettings | None = None,
    axes: tuple[Axes, Axes] | None = None,
    opening: str = "status_quo",
) -> Figure:
    """Total cost by enforcement intensity, its optimum and the per-draw optimum's spread.

    The intensity axis is on a square-root scale, so the low intensities where the optimum
    usually lies are readable (0 to 1 takes about half of a 0-4.75 axis).

    Parameters
    ----------
    projection : xarray.Dataset
        A run's ``projection.nc``.
    settings : FigureSettings, optional
        Size and type size.
    axes : (matplotlib.axes.Axes, matplotlib.axes.Axes), optional
        Draw the costs and the optima into these two axes (of a figure of your own) instead
        of a new figure.
    opening : str
        The question: ``status_quo`` (should the platform stop?) or ``no_programme`` (should it
        have started?).

    Returns
    -------
    matplotlib.figure.Figure
        Upper axes: the mean total cost (``total_cost``) with its 90% interval across draws
        (``interval``), the mean goodwill loss with the terminal value (``goodwill_loss``) and
        the enforcement cost (``enforcement_cost``), and a star at the lowest mean cost on a
        continuum (``optimum``). Lower axes: a histogram of each draw's own cost-minimising
        intensity (``optimal_share``). The numbers are those of ``projection_summary`` and
        ``optimal_intensity``.
    """
    table = projection_summary(projection, opening)
    best = optimal_intensity(projection, opening)
    x = table.index.to_numpy()
    low_column, high_column = table.columns[1], table.columns[2]
    scale, unit = money_unit(table[high_column].to_numpy())
    per_draw = projection["optimal_intensity"].sel(opening=opening).to_numpy()
    edges = np.linspace(0.0, np.sqrt(x.max()), 25) ** 2
    share, _ = np.histogram(per_draw, bins=edges)
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
            markersize=3,
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
            [best["intensity"]],
            [best["cost"] / scale],
            marker="*",
            markersize=10,
            color=OKABE_ITO["black"],
            linestyle="none",
            label=f"Lowest mean cost: {best['intensity']:.2f}×",
            gid="optimum",
            zorder=3,
        )
        top.set_ylim(bottom=0)
        top.legend(loc="upper left", handlelength=1.8)
        years = projection.sizes["week"] / 52
        horizon = f"{years:g}-year" if years >= 2 else f"{projection.sizes['week']}-week"
        top.set_ylabel(f"{horizon} cost\n({unit}, present value)")
        bottom.bar(
            edges[:-1],
            100 * share / per_draw.size,
            width=np.diff(edges),
            align="edge",
            color=OKABE_ITO["blue"],
            gid="optimal_share",
        )
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("Draws with\noptimum (%)")
        bottom.set_xlabel("Intensity (× the 2016 programme; square-root scale)")
        for ax in (top, bottom):
            ax.set_xscale("function", functions=(_sqrt, np.square))
            ax.set_xlim(0, x.max())
        bottom.set_xticks(_ticks(x.max()))
        bottom.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    return top.figure


def _sqrt(values: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(values, 0.0))


def _ticks(top: float) -> list[float]:
    """Tick marks that read well on a square-root axis up to ``top``."""
    return [t for t in (0, 0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 8, 10) if t <= top]
