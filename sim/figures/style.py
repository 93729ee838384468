"""goodwill's figure style, in one place: palette, markers, type, figure size and shared marks.

The Okabe-Ito palette stays distinguishable with any colour-vision deficiency; each estimator
also has its own marker, so a greyscale print still separates them. Type size and figure size
come from ``[figures]`` (``sim.config.FigureSettings``): by default 8-point type on one column
of a two-column paper (3.5 x 2.6 inches). PDFs embed TrueType fonts, as journals ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.estimators import ESTIMATORS

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
"""Okabe and Ito's colour-blind-safe palette (Color Universal Design, 2008)."""


INTENSITY_COLOURS = (
    OKABE_ITO["vermillion"],
    OKABE_ITO["blue"],
    OKABE_ITO["green"],
    OKABE_ITO["orange"],
    OKABE_ITO["purple"],
    OKABE_ITO["sky_blue"],
)
"""Colours of the intensities of a fan chart, in order."""


def estimator_style(name: str, fallback: str = OKABE_ITO["black"]) -> tuple[str, str]:
    """The colour and marker of an estimator, the same in every figure (from the registry,
    :data:`sim.estimators.ESTIMATORS`); ``fallback`` and a circle for an unregistered one."""
    if name not in ESTIMATORS:
        return fallback, "o"
    entry = ESTIMATORS[name]
    return OKABE_ITO[entry.colour], entry.marker


def figure_style(settings: FigureSettings | None = None) -> dict[str, object]:
    """The rcParams of goodwill's figures for ``settings`` (type size; defaults otherwise)."""
    size = (settings or FigureSettings()).font_size
    return {
        "font.family": "DejaVu Sans",
        "font.size": size,
        "axes.titlesize": size,
        "axes.labelsize": size,
        "xtick.labelsize": size - 1,
        "ytick.labelsize": size - 1,
        "legend.fontsize": size - 1,
        "legend.title_fontsize": size - 1,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 0.6,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "lines.linewidth": 1.2,
        "lines.markersize": 3.5,
        "axes.prop_cycle": cycler(color=list(INTENSITY_COLOURS)),
        "pdf.fonttype": 42,  # TrueType in PDFs, as journals ask
        "svg.hashsalt": "goodwill",  # fixed salt for the SVG ids matplotlib hashes from content
    }


@contextmanager
def styled(settings: FigureSettings | None = None) -> Iterator[None]:
    """Within this block, matplotlib uses :func:`figure_style`'s rcParams."""
    with mpl.rc_context(figure_style(settings)):
        yield


def new_figure(
    settings: FigureSettings | None, rows: int = 1, legend_lines: int = 0, **gridspec: object
) -> Figure:
    """A new figure of ``settings``' size (constrained layout, ``rows`` axes sharing x, tick
    labels in the style's size), taller by ``legend_lines`` lines of legend text placed below
    the axes."""
    settings = settings or FigureSettings()
    extra = legend_lines * 1.45 * (settings.font_size - 1) / 72  # inches
    figure = Figure(figsize=(settings.width, settings.height + extra), layout="constrained")
    if rows == 1:
        figure.add_subplot()
    else:
        figure.subplots(rows, 1, sharex=True, gridspec_kw=gridspec)
    for ax in figure.axes:  # ticks are made at draw time: fix their size now
        ax.tick_params(labelsize=settings.font_size - 1)
    return figure


ONSET_LABEL = "Weeks since the first counterfeit purchase"
"""The x-axis label of every figure by event time."""


def mark_onset(ax: Axes) -> None:
    """The dotted line between event times -1 and 0, where the first counterfeit arrives."""
    ax.axvline(-0.5, color="0.45", linestyle=":", linewidth=0.8, gid="onset", zorder=0)


def effect_label(per_yuan: bool) -> str:
    """The y-axis label of effects on weekly spend, per yuan of counterfeit or per buyer."""
    unit = "yuan per yuan of counterfeit" if per_yuan else "yuan per buyer"
    return f"Effect on weekly spend\n({unit})"


BAND_ALPHA = {90: 0.18, 50: 0.35}
"""Opacity of the 90% and 50% bands across Monte-Carlo draws."""


BAND_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""The quantiles across draws that the 90% and 50% bands and the median are drawn from."""


def quantile_bands(
    ax: Axes, x: np.ndarray, draws: np.ndarray, colour: str, gid: str = "", labelled: bool = False
) -> np.ndarray:
    """Shade the 90% and 50% bands of ``draws`` (draw, x) over ``x`` (gids ``band_90`` and
    ``band_50`` plus ``gid``); return the median across draws."""
    quantiles = np.quantile(draws, BAND_QUANTILES, axis=0)
    return shade_bands(ax, x, quantiles, colour, gid, labelled)


def shade_bands(
    ax: Axes,
    x: np.ndarray,
    quantiles: np.ndarray,
    colour: str,
    gid: str = "",
    labelled: bool = False,
) -> np.ndarray:
    """Shade the 90% and 50% bands given the :data:`BAND_QUANTILES` of draws, shape (5, x);
    return the median."""
    q05, q25, q50, q75, q95 = quantiles
    for level, low, high in ((90, q05, q95), (50, q25, q75)):
        ax.fill_between(
            x,
            low,
            high,
            color=colour,
            alpha=BAND_ALPHA[level],
            linewidth=0,
            label=f"{level}% of draws" if labelled else None,
            gid=f"band_{level}{gid}",
        )
    return q50
