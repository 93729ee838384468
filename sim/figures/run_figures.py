"""A run's figures: draw every kind its stored outputs allow, and save them atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from sim.config import FIGURE_FORMATS, FigureSettings
from sim.figures.cost_by_intensity_figure import cost_by_intensity_figure
from sim.figures.event_study_figure import event_study_figure
from sim.figures.frontier_figure import frontier_figure
from sim.figures.goodwill_fan_figure import goodwill_fan_figure
from sim.figures.response_path_figure import response_path_figure
from sim.figures.spend_trajectories_figure import spend_trajectories_figure
from sim.figures.style import styled
from sim.figures.tornado_figure import tornado_figure
from sim.figures.trend_sensitivity_figure import trend_sensitivity_figure
from sim.owned_directory import OwnedDirectory
from sim.rundir import (
    FIGURES,
    binned_window,
    per_yuan,
    read_breakeven,
    read_config,
    read_estimates,
    read_projection,
    read_sensitivity,
    read_trajectories,
    read_trend_sensitivity,
)
from sim.store import atomic_path

CAPTIONS = {
    "event_study": "Event study of weekly spend around a consumer's first counterfeit "
    "purchase: each estimator's effects with pointwise 95% confidence intervals (thin bars) "
    "and, where the estimator has one, the 95% uniform band (wide bars); hollow markers are "
    "reference periods, fixed at zero. The legend gives each estimator's cumulative "
    "multiplier with its 95% CI.",
    "trend_sensitivity": "Sensitivity to violations of parallel trends (Rambachan and Roth "
    "2023, HonestDiD): confidence intervals (95% by default) of the target that stay valid "
    "when the post-treatment violation may differ from the pre-treatment one by up to M "
    "(smoothness: the slope of the differential trend changes by at most M a week) or up to "
    "M-bar times the largest pre-period change (relative magnitudes), beside the original "
    "interval, which assumes parallel trends exactly. The dashed line marks the breakdown "
    "value, the smallest M whose interval includes zero.",
    "spend_trajectories": "Mean weekly spend of counterfeit buyers by weeks since their first "
    "counterfeit, and of never-treated consumers in the same calendar weeks.",
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
    "frontier": "The cost-minimising enforcement intensity (of the grid) by take rate and "
    "horizon, should the platform stop: expected costs given the config's other parameters "
    "and the mean response path. Dashed and dotted lines: the config's take rate and horizon.",
    "tornado": "Sobol indices of the saving of the status quo over no programme (should the "
    "platform stop): total index (bars) and first-order index (dots) with their intervals, "
    "over the [decision] ranges.",
}
"""Caption of each figure kind, in the order a run draws them (:func:`figure_caption` adds what
only a simulated run draws)."""

SIMULATED_PARTS = {
    "event_study": ("truth", "The dashed line is the simulated truth."),
    "spend_trajectories": (
        "counterfactual",
        "The dashed line is the same buyers' simulated spend had they not met the fake; the "
        "shaded area is the spend lost.",
    ),
}
"""Figure kind -> (the artist's gid, the sentence the caption adds when it is drawn)."""


def figure_caption(kind: str, figure: Figure) -> str:
    """A figure's caption: :data:`CAPTIONS`'s, and what the figure draws of the simulated
    truth (absent from a run on one's own panel)."""
    caption = CAPTIONS.get(kind, kind)
    if kind in SIMULATED_PARTS:
        gid, sentence = SIMULATED_PARTS[kind]
        if figure.findobj(lambda artist: artist.get_gid() == gid):
            caption += " " + sentence
    return caption


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
        the sensitivity to parallel trends (``trend_sensitivity.csv``), the spend
        trajectories (``spend_trajectories.csv``), the response path, fan chart and cost by
        intensity (``projection.nc``).

    Raises
    ------
    ValueError
        If the directory holds none of those outputs.
    """
    if settings is None:
        settings = _run_settings(directory)
    figures: dict[str, Figure] = {}
    window = None
    estimates = read_estimates(directory)
    if estimates is not None:
        window = binned_window(estimates)
        figures["event_study"] = event_study_figure(estimates, settings=settings)
    trends = read_trend_sensitivity(directory)
    if trends is not None:
        unit = estimates is None or per_yuan(estimates)
        figures["trend_sensitivity"] = trend_sensitivity_figure(trends, unit, settings)
    trajectories = read_trajectories(directory)
    if trajectories is not None:
        figures["spend_trajectories"] = spend_trajectories_figure(
            trajectories, window=window, settings=settings
        )
    projection = read_projection(directory)
    if projection is not None:
        figures["response_path"] = response_path_figure(projection, estimates, settings)
        figures["goodwill_fan"] = goodwill_fan_figure(
            projection, settings.fan_intensities, settings
        )
        figures["cost_by_intensity"] = cost_by_intensity_figure(projection, settings)
    found = read_breakeven(directory)
    if found is not None:
        figures["frontier"] = frontier_figure(found, settings)
    found = read_sensitivity(directory)
    if found is not None:
        figures["tornado"] = tornado_figure(found, settings)
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
    *,
    owner: OwnedDirectory | None = None,
) -> list[Path]:
    """Draw a run's figures and save each in every format, atomically.

    Parameters
    ----------
    directory : str or pathlib.Path
        The run directory.
    output : str or pathlib.Path, optional
        Where the files go (default: ``figures/`` in the run directory). Figures of a kind or
        format drawn there before but not this time are removed, so it never mixes runs;
        nothing else is (:class:`sim.owned_directory.OwnedDirectory`).
    settings : FigureSettings, optional
        Size, type size, resolution and formats (default: the run's ``[figures]``).
    formats : sequence of str, optional
        File formats, overriding those of ``settings``.
    owner : OwnedDirectory, optional
        The claimed directory the files go into, when the caller holds it: the run
        directory (``output`` None) or ``output``. Default: claimed (and locked) here while
        the files are written.

    Returns
    -------
    list of pathlib.Path
        The files written, ``KIND.FORMAT``.
    """
    if settings is None:
        settings = _run_settings(directory)
    formats = list(settings.formats if formats is None else formats)
    figures = draw_run_figures(directory, settings)
    folder = f"{FIGURES}/" if output is None else ""
    if owner is None:
        with OwnedDirectory(directory if output is None else output) as claimed:
            return _save_all(figures, claimed, folder, formats, settings.dpi)
    return _save_all(figures, owner, folder, formats, settings.dpi)


def _save_all(
    figures: dict[str, Figure],
    owner: OwnedDirectory,
    folder: str,
    formats: Sequence[str],
    dpi: int,
) -> list[Path]:
    """Save every figure in every format into ``owner``'s ``folder``; remove the figures
    it holds from before that were not saved this time."""
    written = [
        save_figure(figure, owner.own(f"{folder}{kind}.{fmt}"), dpi)
        for kind, figure in figures.items()
        for fmt in formats
    ]
    kinds = {f"{folder}{kind}.{fmt}" for kind in CAPTIONS for fmt in FIGURE_FORMATS}
    owner.discard(lambda name: name in kinds)
    return written


def _run_settings(directory: str | Path) -> FigureSettings:
    """The ``[figures]`` a run stored with its config, or the defaults (a fit directory)."""
    config = read_config(directory)
    return config.figures if config is not None else FigureSettings()
