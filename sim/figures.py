"""Figures of a run: one function per kind, each returning a matplotlib Figure.

Every figure is drawn from a run's stored outputs (``estimates.nc``, ``spend_trajectories.csv``,
``projection.nc``), so ``goodwill figures RUN_DIR`` redraws them without recomputing anything.
They share one style (:mod:`sim.figure_style`: the Okabe-Ito palette, a marker per estimator,
by default one column of a two-column paper) and label every axis with its units; sizes, type
size, resolution and file formats come from ``[figures]``.

The functions build ``matplotlib.figure.Figure`` objects directly, without pyplot, so they hold
no global state and need no display. Key artists carry a ``gid`` (``estimate:twfe``,
``optimum``, ...), which names them in SVG output and lets a program find them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.config import FIGURE_FORMATS, Config, FigureSettings
from sim.estimation import ESTIMATOR_NAMES
from sim.figure_style import (
    ESTIMATOR_STYLES,
    INTENSITY_COLOURS,
    OKABE_ITO,
    money_unit,
    new_figure,
    styled,
)
from sim.goodwill import projection_summary
from sim.run_outputs import format_number
from sim.store import atomic_path

ONSET_LABEL = "Weeks since the first counterfeit purchase"

CAPTIONS = {
    "event_study": "Event study of weekly spend around a consumer's first counterfeit "
    "purchase: each estimator's effects with pointwise 95% confidence intervals (thin bars) "
    "and, where the estimator has one, the 95% uniform band (wide bars); hollow markers are "
    "reference periods, fixed at zero; the dashed line is the simulated truth. The legend "
    "gives each estimator's cumulative multiplier with its 95% CI.",
    "spend_trajectories": "Mean weekly spend of counterfeit buyers by weeks since their first "
    "counterfeit, their simulated spend had they not met it, and never-treated consumers in "
    "the same calendar weeks. The shaded area is the spend lost.",
    "response_path": "The per-yuan response path the projection uses: the fitted estimates "
    "and the median, 50% and 90% bands of the Monte-Carlo draws from their sampling "
    "distribution.",
    "goodwill_fan": "Cumulative goodwill loss (present value of the platform revenue the "
    "counterfeits cost) over the projected weeks at selected enforcement intensities: "
    "median across draws with 50% and 90% bands.",
    "cost_by_intensity": "Total cost (goodwill loss plus enforcement cost, present value) "
    "by enforcement intensity: mean with 90% interval across draws, its two parts, and the "
    "intensity with the lowest mean cost (star). Lower panel: the share of draws in which "
    "each intensity is the cheapest.",
}
"""Caption of each figure kind, in the order a run draws them."""


def _mark_onset(ax: Axes) -> None:
    """The dotted line between event times -1 and 0, where the first counterfeit arrives."""
    ax.axvline(-0.5, color="0.45", linestyle=":", linewidth=0.8, gid="onset", zorder=0)


def _per_yuan(estimates: xr.Dataset) -> bool:
    return bool(estimates.attrs.get("intensity"))


def _effect_label(per_yuan: bool) -> str:
    unit = "yuan per yuan of counterfeit" if per_yuan else "yuan per buyer"
    return f"Effect on weekly spend\n({unit})"


def event_study_figure(
    estimates: xr.Dataset,
    estimators: Sequence[str] | None = None,
    window: tuple[int, int] | None = None,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Event-study estimates of several estimators side by side.

    Parameters
    ----------
    estimates : xarray.Dataset
        A run's ``estimates.nc`` (``sim.estimation.estimates_dataset``).
    estimators : sequence of str, optional
        Estimators to draw, in order (default: all in the file).
    window : (int, int), optional
        Event times shown (default: the TWFE window stored with the estimates).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure of your own) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Dodged markers with pointwise 95% CIs (``estimate:NAME`` error bars), uniform bands
        where stored (``uniform_band:NAME``), hollow reference periods (``reference:NAME``),
        the simulated truth if stored (``truth``), the onset line (``onset``); the legend
        gives each estimator's cumulative multiplier and 95% CI.
    """
    names = list(estimates["estimator"].values) if estimators is None else list(estimators)
    fitted = set(estimates["estimator"].values.tolist())
    unknown = [name for name in names if name not in fitted]
    if unknown:
        raise ValueError(
            f"event_study_figure: estimator(s) {', '.join(unknown)} not in the estimates "
            f"(fitted: {', '.join(sorted(fitted))})"
        )
    times = estimates["event_time"].to_numpy()
    lo, hi = window or tuple(estimates.attrs.get("twfe_window", (times.min(), times.max())))
    shown = estimates.sel(event_time=(times >= lo) & (times <= hi))
    times = shown["event_time"].to_numpy()
    first, last = (int(t) for t in estimates.attrs["cumulative_event_times"])
    step = min(0.2, 0.75 / max(len(names), 1))
    offsets = (np.arange(len(names)) - (len(names) - 1) / 2) * step
    has_truth = "truth" in shown
    banded = [n for n in names if shown["band_low"].sel(estimator=n).notnull().any()]
    legend_lines = 1 + len(names) + has_truth + len(banded)
    with styled(settings):
        own = ax is None
        ax = new_figure(settings, legend_lines=legend_lines).axes[0] if own else ax
        ax.axhline(0, color="0.6", linewidth=0.6, zorder=0)
        _mark_onset(ax)
        for name, offset in zip(names, offsets, strict=True):
            one = shown.sel(estimator=name)
            colour, marker = ESTIMATOR_STYLES.get(name, (OKABE_ITO["black"], "o"))
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
                label=f"{ESTIMATOR_NAMES.get(name, name)}: {format_number(multiplier, 2)} "
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
            total = float(estimates["truth"].sel(event_time=slice(first, last)).sum())
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
            colour = ESTIMATOR_STYLES.get(name, (OKABE_ITO["black"], "o"))[0]
            handles.append(Line2D([], [], color=colour, alpha=0.3, linewidth=3.2))
            labels.append(f"{ESTIMATOR_NAMES.get(name, name)}: 95% uniform band")
        weeks = last - first + 1
        unit = "per yuan" if _per_yuan(estimates) else "yuan per buyer"
        (ax.figure.legend if own else ax.legend)(
            handles,
            labels,
            loc="outside lower left" if own else "best",
            title=f"Effect summed over weeks {first} to {last} ({weeks} weeks), {unit} [95% CI]",
            alignment="left",
            handlelength=1.4,
        )
        ax.set_xlabel(ONSET_LABEL)
        ax.set_ylabel(_effect_label(_per_yuan(estimates)))
        ax.set_xlim(lo - 0.6, hi + 0.6)
    return ax.figure


def spend_trajectories_figure(
    trajectories: pd.DataFrame,
    window: tuple[int, int] | None = None,
    settings: FigureSettings | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Mean weekly spend of counterfeit buyers by event time against the never-treated.

    Parameters
    ----------
    trajectories : pandas.DataFrame
        ``sim.panel.spend_trajectories`` (a run's ``spend_trajectories.csv``), indexed by
        event time.
    window : (int, int), optional
        Event times shown (default: all).
    settings : FigureSettings, optional
        Size and type size.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure of your own) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Lines ``treated``, ``never_treated`` and, when the table has it, ``counterfactual``
        with the lost spend shaded (``lost_spend``); the onset line (``onset``).
    """
    table = trajectories.sort_index()
    if window is not None:
        table = table.loc[window[0] : window[1]]
    times = table.index.to_numpy()
    with styled(settings):
        ax = new_figure(settings).axes[0] if ax is None else ax
        _mark_onset(ax)
        ax.plot(
            times,
            table["treated"],
            color=OKABE_ITO["blue"],
            marker="o",
            label="Counterfeit buyers",
            gid="treated",
        )
        if "counterfactual" in table:
            ax.plot(
                times,
                table["counterfactual"],
                color=OKABE_ITO["blue"],
                linestyle="--",
                label="Same buyers without the fake (simulated)",
                gid="counterfactual",
            )
            after = times >= 0
            ax.fill_between(
                times[after],
                table["treated"].to_numpy()[after],
                table["counterfactual"].to_numpy()[after],
                color=OKABE_ITO["sky_blue"],
                alpha=0.3,
                linewidth=0,
                label="Spend lost",
                gid="lost_spend",
            )
        if table["never_treated"].notna().any():
            ax.plot(
                times,
                table["never_treated"],
                color=OKABE_ITO["orange"],
                marker="s",
                label="Never treated, same weeks",
                gid="never_treated",
            )
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower left", handlelength=1.8)
        ax.set_xlabel(ONSET_LABEL)
        ax.set_ylabel("Mean weekly spend (yuan)")
    return ax.figure


BAND_ALPHA = {90: 0.18, 50: 0.35}
"""Opacity of the 90% and 50% bands across Monte-Carlo draws."""


def _quantile_bands(
    ax: Axes, x: np.ndarray, draws: np.ndarray, colour: str, gid: str = "", labelled: bool = False
) -> np.ndarray:
    """Shade the 90% and 50% bands of ``draws`` (draw, x) over ``x`` (gids ``band_90`` and
    ``band_50`` plus ``gid``); return the median across draws."""
    q05, q25, q50, q75, q95 = np.quantile(draws, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
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


def _config_of(projection: xr.Dataset) -> dict:
    return json.loads(projection.attrs["config"])


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
        The run's ``estimates.nc``; its fitted path is drawn over the bands
        (default: the mean of the draws).
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
    first, last = _config_of(projection)["estimation"]["cumulative"]
    times = np.arange(first, last + 1)
    estimator = projection.attrs["estimator"]
    if estimates is not None:
        fitted = estimates["estimate"].sel(estimator=estimator, event_time=times).to_numpy()
    else:
        fitted = paths.mean(axis=0)
    sums = paths.sum(axis=1)
    colour = ESTIMATOR_STYLES.get(estimator, (OKABE_ITO["blue"], "o"))[0]
    with styled(settings):
        ax = new_figure(settings).axes[0] if ax is None else ax
        ax.axhline(0, color="0.6", linewidth=0.6, zorder=0)
        median = _quantile_bands(ax, times, paths, colour, labelled=True)
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
            marker=ESTIMATOR_STYLES.get(estimator, (colour, "o"))[1],
            label=f"{ESTIMATOR_NAMES.get(estimator, estimator)} estimate",
            gid="fitted",
        )
        ax.legend(
            loc="upper left",
            title=f"{times.size}-week multiplier {format_number(multiplier, 2)}\n"
            f"(90% of draws {format_number(low, 2)} to {format_number(high, 2)})",
            alignment="left",
        )
        ax.set_xlabel(ONSET_LABEL)
        ax.set_ylabel(_effect_label(True))
    return ax.figure


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
    """Fan chart of the cumulative goodwill loss over the projected weeks.

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
    loss = projection["goodwill_loss"].sel(intensity=chosen).cumsum("week").to_numpy()
    scale, unit = money_unit(loss[..., -1])
    weeks = projection["week"].to_numpy() + 1  # cumulative to the end of each week
    status_quo = float(projection.attrs.get("status_quo_intensity", np.nan))
    with styled(settings):
        ax = new_figure(settings).axes[0] if ax is None else ax
        for i, intensity in enumerate(chosen):
            colour = INTENSITY_COLOURS[i % len(INTENSITY_COLOURS)]
            median = _quantile_bands(ax, weeks, loss[i] / scale, colour, f":{intensity:g}")
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
        ax.set_xlabel("Weeks projected")
        ax.set_ylabel(f"Cumulative goodwill loss\n({unit}, present value)")
    return ax.figure


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


def stored_config(directory: Path) -> Config | None:
    """The config a run stored in ``config.json``, or None (``goodwill fit --out``)."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        return None
    return Config.model_validate_json(path.read_text(encoding="utf-8"))


def draw_run_figures(
    directory: str | Path, settings: FigureSettings | None = None
) -> dict[str, Figure]:
    """Draw every figure a run directory's stored outputs allow, recomputing nothing.

    Parameters
    ----------
    directory : str or pathlib.Path
        A run directory (``goodwill run``) or a directory of estimates (``goodwill fit
        --out``).
    settings : FigureSettings, optional
        Size and type size (default: the run's ``[figures]``).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        By kind, in the order of :data:`CAPTIONS`: the event study (with ``estimates.nc``),
        the spend trajectories (``spend_trajectories.csv``), the response path, fan chart and
        cost by intensity (``projection.nc``).

    Raises
    ------
    ValueError
        If the directory holds none of those outputs.
    """
    directory = Path(directory)
    config = stored_config(directory)
    if settings is None:
        settings = config.figures if config is not None else FigureSettings()
    window = config.estimation.window if config is not None and config.estimation else None
    figures: dict[str, Figure] = {}
    estimates = None
    if (directory / "estimates.nc").is_file():
        estimates = xr.load_dataset(directory / "estimates.nc")
        figures["event_study"] = event_study_figure(estimates, settings=settings)
    if (directory / "spend_trajectories.csv").is_file():
        trajectories = pd.read_csv(directory / "spend_trajectories.csv", index_col="event_time")
        figures["spend_trajectories"] = spend_trajectories_figure(
            trajectories, window=window, settings=settings
        )
    if (directory / "projection.nc").is_file():
        with xr.open_dataset(directory / "projection.nc") as projection:
            figures["response_path"] = response_path_figure(projection, estimates, settings)
            figures["goodwill_fan"] = goodwill_fan_figure(
                projection, settings.fan_intensities, settings
            )
            figures["cost_by_intensity"] = cost_by_intensity_figure(projection, settings)
    if not figures:
        raise ValueError(
            f"{directory}: nothing to draw (no estimates.nc, spend_trajectories.csv or "
            "projection.nc); run `goodwill run CONFIG` first"
        )
    return figures


def save_figure(figure: Figure, path: str | Path, dpi: int = 300) -> Path:
    """Save a figure atomically; the format follows the suffix (.png, .pdf or .svg).

    PDF and SVG files carry no creation date, so the same figure gives the same file.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"{path}: expected a .png, .pdf or .svg file")
    metadata = {"png": {}, "pdf": {"CreationDate": None}, "svg": {"Date": None}}[fmt]
    with styled(None), atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
    return path


def write_run_figures(
    directory: str | Path,
    output: str | Path | None = None,
    settings: FigureSettings | None = None,
    formats: Sequence[str] | None = None,
) -> list[Path]:
    """Draw a run's figures and save each in every format, atomically.

    Parameters
    ----------
    directory : str or pathlib.Path
        The run directory.
    output : str or pathlib.Path, optional
        Where the files go (default: ``figures/`` in the run directory). Files of a kind or
        format not drawn this time are removed from it, so it never mixes runs.
    settings : FigureSettings, optional
        Size, type size, resolution and formats (default: the run's ``[figures]``).
    formats : sequence of str, optional
        File formats, overriding those of ``settings``.

    Returns
    -------
    list of pathlib.Path
        The files written, ``KIND.FORMAT``.
    """
    directory = Path(directory)
    if settings is None:
        config = stored_config(directory)
        settings = config.figures if config is not None else FigureSettings()
    formats = list(settings.formats if formats is None else formats)
    output = directory / "figures" if output is None else Path(output)
    figures = draw_run_figures(directory, settings)
    written = [
        save_figure(figure, output / f"{kind}.{fmt}", settings.dpi)
        for kind, figure in figures.items()
        for fmt in formats
    ]
    for kind in CAPTIONS:
        for fmt in FIGURE_FORMATS:
            stale = output / f"{kind}.{fmt}"
            if stale not in written:
                stale.unlink(missing_ok=True)
    return written
