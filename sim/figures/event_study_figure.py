"""The event-study figure: every estimator's effects by event time against the truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.config import FigureSettings
from sim.estimators import label
from sim.figures.style import (
    OKABE_ITO,
    ONSET_LABEL,
    effect_label,
    estimator_style,
    mark_onset,
    new_figure,
    styled,
)
from sim.formatting import format_number
from sim.rundir import (
    ESTIMAND_NAMES,
    binned_window,
    cumulative_times,
    cumulative_truth,
    per_yuan,
    select_estimand,
)


def event_study_figure(
    estimates: xr.Dataset,
    estimators: Sequence[str] | None = None,
    window: tuple[int, int] | None = None,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
    estimand: str | None = None,
) -> Figure:
    """Event-study estimates of several estimators side by side, for one estimand.

    Parameters
    ----------
    estimates : xarray.Dataset
        A run's ``estimates.nc`` (``sim.fit.estimates_dataset``).
    estimators : sequence of str, optional
        Estimators to draw, in order (default: all in the file).
    window : (int, int), optional
        Event times shown (default: :func:`sim.rundir.binned_window`, else all).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure of your own) instead of a new figure.
    estimand : {"value", "intensity"}, optional
        The estimand drawn (default: "value" when stored, the projection's input; see
        :func:`sim.rundir.select_estimand`).

    Returns
    -------
    matplotlib.figure.Figure
        Dodged markers with pointwise 95% CIs (``estimate:NAME`` error bars), uniform bands
        where stored (``uniform_band:NAME``), hollow reference periods (``reference:NAME``),
        the simulated truth if stored (``truth``), the onset line (``onset``); the legend
        gives each estimator's cumulative multiplier and 95% CI.
    """
    estimates = select_estimand(estimates, estimand)
    names = list(estimates["estimator"].values) if estimators is None else list(estimators)
    fitted = set(estimates["estimator"].values.tolist())
    unknown = [name for name in names if name not in fitted]
    if unknown:
        raise ValueError(
            f"event_study_figure: estimator(s) {', '.join(unknown)} not in the estimates "
            f"(fitted: {', '.join(sorted(fitted))})"
        )
    times = estimates["event_time"].to_numpy()
    lo, hi = window or binned_window(estimates) or (times.min(), times.max())
    shown = estimates.sel(event_time=(times >= lo) & (times <= hi))
    times = shown["event_time"].to_numpy()
    first, last = cumulative_times(estimates)
    step = min(0.2, 0.75 / max(len(names), 1))
    offsets = (np.arange(len(names)) - (len(names) - 1) / 2) * step
    has_truth = "truth" in shown
    banded = [n for n in names if shown["band_low"].sel(estimator=n).notnull().any()]
    legend_lines = 1 + len(names) + has_truth + len(banded)
    with styled(settings):
        own = ax is None
        ax = new_figure(settings, legend_lines=legend_lines).axes[0] if own else ax
        ax.axhline(0, color="0.6", linewidth=0.6, zorder=0)
        mark_onset(ax)
        for name, offset in zip(names, offsets, strict=True):
            one = shown.sel(estimator=name)
            colour, marker = estimator_style(name)
            estimate, se = one["estimate"].to_numpy(), one["se"].to_numpy()
            low, high = one["ci_low"].to_numpy(), one["ci_high"].to_numpy()
            reference = (estimate == 0) & np.isnan(se)
            point = ~np.isnan(estimate) & ~reference
            x = times + offset
            band_low, band_high = one["band_low"].to_numpy(), one["band_high"].to_numpy()
            band = point & ~np.isnan(band_low)
            if band.any():
                ax.vlines(
                    x[band],
                    band_low[band],
                    band_high[band],
                    color=colour,
                    alpha=0.3,
                    linewidth=3.2,
                    gid=f"uniform_band:{name}",
                )
            multiplier = float(one["cumulative_estimate"])
            ci = float(one["cumulative_ci_low"]), float(one["cumulative_ci_high"])
            ax.errorbar(
                x[point],
                estimate[point],
                yerr=np.vstack([estimate[point] - low[point], high[point] - estimate[point]]),
                fmt=marker,
                color=colour,
                elinewidth=0.8,
                capsize=0,
                label=f"{label(name)}: {format_number(multiplier, 2)} "
                f"[{format_number(ci[0], 2)}, {format_number(ci[1], 2)}]",
                gid=f"estimate:{name}",
            )
            if reference.any():
                ax.plot(
                    x[reference],
                    estimate[reference],
                    marker,
                    color=colour,
                    markerfacecolor="white",
                    gid=f"reference:{name}",
                )
        if has_truth:
            total = cumulative_truth(estimates)
            ax.plot(
                times,
                shown["truth"].to_numpy(),
                color=OKABE_ITO["black"],
                linestyle="--",
                linewidth=0.9,
                drawstyle="steps-mid",  # constant within each week, steps at the half weeks
                label=f"Simulated truth: {format_number(total, 2)}",
                gid="truth",
                zorder=1,
            )
        handles, labels = ax.get_legend_handles_labels()
        for name in banded:
            colour = estimator_style(name)[0]
            handles.append(Line2D([], [], color=colour, alpha=0.3, linewidth=3.2))
            labels.append(f"{label(name)}: 95% uniform band")
        weeks = last - first + 1
        unit = "yuan per buyer"
        if per_yuan(estimates):
            unit = f"per yuan, {ESTIMAND_NAMES[estimates.attrs.get('estimand', 'intensity')]}"
        (ax.figure.legend if own else ax.legend)(
            handles,
            labels,
            loc="outside lower left" if own else "best",
            title=f"Sum over weeks {first} to {last} ({weeks} weeks),\n{unit} [95% CI]",
            alignment="left",
            handlelength=1.4,
        )
        ax.set_xlabel(ONSET_LABEL)
        ax.set_ylabel(effect_label(per_yuan(estimates)))
        ax.set_xlim(lo - 0.6, hi + 0.6)
    return ax.figure
