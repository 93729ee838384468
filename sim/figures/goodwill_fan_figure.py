"""The fan chart: cumulative goodwill loss over the projected weeks at chosen intensities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.config import FigureSettings
from sim.figures.style import (
    BAND_ALPHA,
    BAND_QUANTILES,
    INTENSITY_COLOURS,
    new_figure,
    shade_bands,
    styled,
)
from sim.formatting import money_unit


def _intensity_label(intensity: float, status_quo: float) -> str:
    label = f"{intensity:g}× the 2016 programme"
    if intensity == 0:
        return "No enforcement"
    if intensity == status_quo:
        return label + " (status quo)"
    return label


def default_fan_intensities(projection: xr.Dataset) -> list[float]:
    """The fan chart's default intensities: the lowest, the status quo (when projected) and
    the highest."""
    grid = projection["intensity"].to_numpy()
    status_quo = float(projection.attrs.get("status_quo_intensity", np.nan))
    chosen = [grid.min(), status_quo, grid.max()]
    return [float(x) for x in dict.fromkeys(chosen) if x in grid]


def goodwill_fan_figure(
    projection: xr.Dataset,
    intensities: Sequence[float] | None = None,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Fan chart of the cumulative goodwill loss over the projected weeks, the market opening
    at the status quo (the question "should the platform stop?").

    Parameters
    ----------
    projection : xarray.Dataset
        A run's ``projection.nc``.
    intensities : sequence of float, optional
        Intensities drawn, each one of the projection's (default:
        :func:`default_fan_intensities`).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure of your own) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Per intensity x, the median line ``median:x`` and bands ``band_50:x`` and
        ``band_90:x`` across draws.
    """
    chosen = default_fan_intensities(projection) if intensities is None else list(intensities)
    grid = projection["intensity"].to_numpy()
    missing = [x for x in chosen if x not in grid]
    if missing:
        raise ValueError(
            f"goodwill_fan_figure: intensity {missing[0]:g} was not projected "
            f"(projected: {', '.join(f'{x:g}' for x in grid)})"
        )
    stored = projection["goodwill_loss_cumulative"].sel(opening="status_quo", intensity=chosen)
    loss = stored.sel(quantile=list(BAND_QUANTILES)).transpose("intensity", "quantile", "week")
    loss = loss.to_numpy()
    scale, unit = money_unit(loss[:, -1, -1])
    weeks = projection["week"].to_numpy() + 1  # cumulative to the end of each week
    in_years = weeks[-1] >= 104
    if in_years:
        weeks = weeks / 52
    status_quo = float(projection.attrs.get("status_quo_intensity", np.nan))
    with styled(settings):
        ax = new_figure(settings).axes[0] if ax is None else ax
        for i, intensity in enumerate(chosen):
            colour = INTENSITY_COLOURS[i % len(INTENSITY_COLOURS)]
            median = shade_bands(ax, weeks, loss[i] / scale, colour, f":{intensity:g}")
            ax.plot(
                weeks,
                median,
                color=colour,
                label=_intensity_label(intensity, status_quo),
                gid=f"median:{intensity:g}",
            )
        handles, labels = ax.get_legend_handles_labels()
        handles += [
            Patch(color="0.5", alpha=BAND_ALPHA[50]),
            Patch(color="0.5", alpha=BAND_ALPHA[90]),
        ]
        labels += ["50% of draws", "90% of draws"]
        ax.legend(handles, labels, loc="upper left", handlelength=1.4)
        ax.set_xlim(0, weeks[-1])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("Years projected" if in_years else "Weeks projected")
        ax.set_ylabel(f"Cumulative goodwill loss\n({unit}, present value)")
    return ax.figure
