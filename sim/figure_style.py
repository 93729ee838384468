"""goodwill's figure style, in one place: palette, markers, type and figure size.

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
from matplotlib.figure import Figure

from sim.config import FigureSettings

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

ESTIMATOR_STYLES = {
    "twfe": (OKABE_ITO["blue"], "o"),
    "callaway_santanna": (OKABE_ITO["vermillion"], "s"),
    "sun_abraham": (OKABE_ITO["green"], "^"),
    "imputation": (OKABE_ITO["purple"], "D"),
}
"""Colour and marker of each estimator, the same in every figure."""

INTENSITY_COLOURS = (
    OKABE_ITO["vermillion"],
    OKABE_ITO["blue"],
    OKABE_ITO["green"],
    OKABE_ITO["orange"],
    OKABE_ITO["purple"],
    OKABE_ITO["sky_blue"],
)
"""Colours of the intensities of a fan chart, in order."""


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


def money_unit(values: np.ndarray) -> tuple[float, str]:
    """A divisor and its name that keep yuan amounts readable (billion, million, ...).

    Examples
    --------
    >>> money_unit(np.array([3.2e8, 4.7e9])), money_unit(np.array([950.0]))
    ((1000000000.0, 'billion yuan'), (1.0, 'yuan'))
    """
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    for scale, name in ((1e9, "billion yuan"), (1e6, "million yuan"), (1e3, "thousand yuan")):
        if top >= scale:
            return scale, name
    return 1.0, "yuan"
