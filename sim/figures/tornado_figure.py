"""The tornado figure: each input's Sobol indices for one output of the decision."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.figures.style import OKABE_ITO, new_figure, styled


def tornado_figure(
    sensitivity: xr.Dataset,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
    opening: str = "status_quo",
    output: str = "saving",
) -> Figure:
    """Total and first-order Sobol indices of one output, inputs sorted by total index.

    Parameters
    ----------
    sensitivity : xarray.Dataset
        A run's ``sensitivity.nc`` (:func:`sim.sensitivity.sensitivity`).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.
    opening, output : str
        Which indices: an opening and one of :data:`sim.sensitivity.OUTPUTS`.

    Returns
    -------
    matplotlib.figure.Figure
        Bars (``total``): the total index ST with its interval; markers (``first``): the
        first-order index S1 with its interval. The largest total index is at the top.
    """
    one = sensitivity.sel(opening=opening, output=output)
    order = np.argsort(one["ST"].to_numpy())
    names = one["input"].to_numpy()[order]
    y = np.arange(names.size)
    level = f"{float(sensitivity.attrs['confidence']):.0%}"
    with styled(settings):
        figure = new_figure(settings) if ax is None else ax.figure
        ax = figure.axes[0] if ax is None else ax
        total, first = one["ST"].to_numpy()[order], one["S1"].to_numpy()[order]
        ax.barh(
            y,
            total,
            xerr=one["ST_conf"].to_numpy()[order],
            color=OKABE_ITO["sky_blue"],
            label=f"total ({level} interval)",
            gid="total",
        )
        ax.errorbar(
            first,
            y,
            xerr=one["S1_conf"].to_numpy()[order],
            fmt="o",
            color=OKABE_ITO["black"],
            ms=3,
            label="first order",
            gid="first",
        )
        ax.set_yticks(y, [str(name).replace("_", " ") for name in names])
        ax.axvline(0.0, color=OKABE_ITO["black"], lw=0.5)
        ax.set_xlabel(f"Sobol index of {output.replace('_', ' ')} (share of variance)")
        ax.legend(loc="lower right", frameon=False)
    return figure
