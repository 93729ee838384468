"""The trend-sensitivity figure: HonestDiD's robust intervals against M, one panel per
restriction (``trend_sensitivity.csv``, a run with ``[estimation.sensitivity]``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.config import FigureSettings
from sim.figures.style import OKABE_ITO, styled

RESTRICTION_TITLES = {"SD": "Smoothness (FLCI)", "RM": "Relative magnitudes (C-LF)"}
"""Panel title of each restriction."""

GRID_LABELS = {"SD": "M (change of trend slope per week)", "RM": "M̄ (× largest pre-period change)"}
"""x-axis label of each restriction's grid."""

OPEN_LABEL = "Set reaches the tested range's end"
LEGEND_ORDER = ("Original CI", "Robust CI", OPEN_LABEL, "Breakdown value")
"""The legend's entries, in order."""

ORIGINAL_LABEL = "Orig."
"""Tick label of the original interval, left of the grid."""


def target_label(target: str, per_yuan: bool = True) -> str:
    """The y-axis label of the target theta (``trend_sensitivity.csv``'s ``target``)."""
    if target.startswith("cumulative"):
        first, last = target.split()[1].split("..")
        what = f"Sum of effects, weeks {first} to {last}"
    else:
        what = f"{target.capitalize()} post-reference effect"
    unit = "yuan per yuan of counterfeit" if per_yuan else "yuan per buyer"
    return f"{what}\n({unit})"


def trend_sensitivity_figure(
    table: pd.DataFrame,
    per_yuan: bool = True,
    settings: FigureSettings | None = None,
    axes: list[Axes] | None = None,
) -> Figure:
    """Robust confidence intervals of the target against M (Mbar), the original beside them.

    Parameters
    ----------
    table : pandas.DataFrame
        A run's ``trend_sensitivity.csv`` (:func:`sim.trend_sensitivity.trend_sensitivity_table`).
    per_yuan : bool
        Whether the effects are per yuan of counterfeit (else per buyer), for the y label.
    settings : FigureSettings, optional
        Size and type size; a figure of two restrictions is twice as wide.
    axes : list of matplotlib.axes.Axes, optional
        One axes per restriction (of a figure of your own) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Per restriction R: the ``original:R`` interval at the left, the ``robust:R``
        intervals at each grid value (error bars; an arrow, ``open:R``, at a bound that is
        the end of the theta values tested, since the set may extend beyond it), the
        ``breakdown:R`` line (when a grid value's interval includes zero; the title gives its
        value) and the ``zero`` line; a legend below.
    """
    settings = settings or FigureSettings()
    restrictions = list(dict.fromkeys(table["restriction"]))
    with styled(settings):
        if axes is None:
            extra = 1.6 * (settings.font_size - 1) / 72  # a legend line, inches
            figure = Figure(
                figsize=(settings.width * len(restrictions), settings.height + extra),
                layout="constrained",
            )
            axes = list(figure.subplots(1, len(restrictions), squeeze=False)[0])
        for ax, restriction in zip(axes, restrictions, strict=True):
            rows = table[table["restriction"] == restriction]
            _draw_restriction(ax, restriction, rows)
        axes[0].set_ylabel(target_label(str(table["target"].iloc[0]), per_yuan))
        entries: dict[str, object] = {}  # every panel's entries, each label once
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(label, handle)
        handles, labels = list(entries.values()), list(entries)
        order = sorted(range(len(labels)), key=lambda i: LEGEND_ORDER.index(labels[i]))
        handles, labels = [handles[i] for i in order], [labels[i] for i in order]
        axes[0].figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return axes[0].figure


def _mark_open_ends(ax: Axes, restriction: str, robust: pd.DataFrame, grid: np.ndarray) -> None:
    """Arrows pointing outwards at the bounds that are the end of the tested range (a table
    from before those columns existed has none)."""
    label = OPEN_LABEL
    for side, marker in (("lb", "v"), ("ub", "^")):
        is_open = robust.get(f"{side}_open", pd.Series(False, robust.index)).to_numpy(dtype=bool)
        if not is_open.any():
            continue
        ax.plot(
            grid[is_open],
            robust[side].to_numpy()[is_open],
            linestyle="none",
            marker=marker,
            markersize=5,
            color=OKABE_ITO["blue"],
            label=label,
            gid=f"open:{restriction}",
        )
        label = None


def _draw_restriction(ax: Axes, restriction: str, rows: pd.DataFrame) -> None:
    """One panel: the original interval, the robust ones, the breakdown value and zero."""
    original = rows[rows["method"] == "original"].iloc[0]
    robust = rows[rows["method"] != "original"]
    grid = robust["M"].to_numpy(dtype=float)
    low, high = grid.min(), grid.max()
    step = np.diff(grid).min() if grid.size > 1 else 0.0
    gap = max(1.5 * step, 0.15 * (high - low)) or 0.1 * max(high, 1.0)
    left = low - gap
    ax.axhline(0, color="0.6", linewidth=0.6, zorder=0, gid="zero")
    bars = {"fmt": "none", "capsize": 2.0, "elinewidth": 1.4, "capthick": 1.0}
    ax.errorbar(
        [left],
        [(original["lb"] + original["ub"]) / 2],
        yerr=[[(original["ub"] - original["lb"]) / 2]],
        color=OKABE_ITO["black"],
        label="Original CI",
        gid=f"original:{restriction}",
        **bars,
    )
    ax.errorbar(
        grid,
        (robust["lb"] + robust["ub"]).to_numpy() / 2,
        yerr=(robust["ub"] - robust["lb"]).to_numpy() / 2,
        color=OKABE_ITO["blue"],
        label="Robust CI",
        gid=f"robust:{restriction}",
        **bars,
    )
    _mark_open_ends(ax, restriction, robust, grid)
    breakdown = float(original["breakdown"])
    name = "M" if restriction == "SD" else "M̄"
    if np.isnan(breakdown):
        note = f"no breakdown value on the grid of {name}"
    else:
        ax.axvline(
            breakdown,
            color=OKABE_ITO["vermillion"],
            linestyle="--",
            linewidth=0.8,
            zorder=0,
            label="Breakdown value",
            gid=f"breakdown:{restriction}",
        )
        note = f"breakdown value {name} = {breakdown:g}"
    ticks = grid if grid.size <= 6 else MaxNLocator(5).tick_values(low, high)
    ticks = [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]
    ax.set_xticks([left, *ticks], [ORIGINAL_LABEL, *(f"{t:g}" for t in ticks)])
    ax.set_xlim(left - 0.6 * gap, high + 0.6 * gap)
    ax.set_xlabel(GRID_LABELS[restriction])
    ax.set_title(f"{RESTRICTION_TITLES[restriction]}\n{note}")
