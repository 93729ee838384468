"""The break-even frontier: the cost-minimising intensity by take rate and horizon."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.figures.style import new_figure, styled


def frontier_figure(
    breakeven: xr.Dataset,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
    opening: str = "status_quo",
) -> Figure:
    """The cost-minimising intensity of the grid over take rate (log scale) and horizon.

    Parameters
    ----------
    breakeven : xarray.Dataset
        A run's ``breakeven.nc`` (:func:`sim.breakeven.breakeven`).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.
    opening : str
        ``status_quo`` (should the platform stop?) or ``no_programme`` (should it have
        started?).

    Returns
    -------
    matplotlib.figure.Figure
        Shading (``frontier``): ``frontier_intensity``, expected costs given the config's
        other parameters and the mean response path; a dashed line (``take_rate``) at the
        config's take rate, a dotted one (``horizon``) at its horizon.
    """
    grid = breakeven["frontier_intensity"].sel(opening=opening)
    weeks = breakeven["horizon"].to_numpy()
    take = breakeven["take_rate"].to_numpy()
    baseline = breakeven["baseline"].sel(opening=opening)
    with styled(settings):
        figure = new_figure(settings) if ax is None else ax.figure
        ax = figure.axes[0] if ax is None else ax
        mesh = ax.pcolormesh(
            weeks / 52, take, grid.to_numpy().T, shading="nearest", cmap="viridis", gid="frontier"
        )
        ax.set_yscale("log")
        ax.axhline(float(baseline.sel(parameter="take_rate")), color="white", ls="--", lw=0.8,
                   gid="take_rate")  # fmt: skip
        ax.axvline(float(baseline.sel(parameter="n_weeks")) / 52, color="white", ls=":", lw=0.8,
                   gid="horizon")  # fmt: skip
        ax.set_xlabel("horizon (years)")
        ax.set_ylabel("take rate (share of lost spend counted)")
        bar = figure.colorbar(mesh, ax=ax)
        bar.set_label("cost-minimising intensity")
        levels = np.unique(grid.to_numpy())
        if levels.size <= 6:
            bar.set_ticks(levels)
    return figure
