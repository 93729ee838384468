"""The estimator study's figure: bias, coverage and pre-trend rejection by scenario and estimator.

One row per estimand, three panels each: the bias of the cumulative effect, the coverage of its
confidence interval and the rejection rate of the joint pre-trend test on the placebo panel,
each with its 95% Monte-Carlo interval (+- 1.96 Monte-Carlo SEs), scenarios down the side and
each estimator in its colour and marker (a variant of an estimator hollow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.figures.style import estimator_style, styled
from sim.rundir import ESTIMAND_NAMES

MC_Z = 1.96
"""Half-width of the Monte-Carlo intervals, in Monte-Carlo SEs."""

PANELS = (
    ("bias", "observed", "Bias of the cumulative effect"),
    ("coverage", "observed", "Coverage of its {level} CI"),
    ("pretrend_rejection", "placebo", "Pre-trend test rejections\n(placebo panel)"),
)
"""The figure's columns: diagnosand, panel it is read on, title."""


def study_figure(
    diagnosis: pd.DataFrame,
    alpha: float,
    registered: dict[str, str],
    settings: FigureSettings | None = None,
) -> Figure:
    """Draw the study figure from a diagnosis table (:func:`sim.study_diagnosis.diagnose`).

    Parameters
    ----------
    diagnosis : pandas.DataFrame
        The diagnosis table.
    alpha : float
        The study's level: coverage is compared with 1 - alpha, rejections with alpha.
    registered : dict of str to str
        Each estimator's registered estimator (itself, or the one a variant changes), for
        its colour and marker.
    settings : FigureSettings, optional
        Type size; the figure is twice the configured width (a page's) and grows with the
        scenarios.

    Returns
    -------
    matplotlib.figure.Figure
        Axes with gids ``<diagnosand>_<estimand>``; each estimator's points have gid
        ``<estimator>``.
    """
    settings = settings or FigureSettings()
    table = diagnosis[diagnosis["target"] == "cumulative"]
    scenarios = list(dict.fromkeys(table["scenario"]))
    estimators = list(dict.fromkeys(table["estimator"]))
    estimands = list(dict.fromkeys(table["estimand"]))
    height = len(estimands) * (0.22 * len(scenarios) * max(1, len(estimators) / 4) + 0.7) + 0.5
    with styled(settings):
        figure = Figure(figsize=(2 * settings.width, height), layout="constrained")
        axes = figure.subplots(len(estimands), len(PANELS), sharey=True, squeeze=False)
        for row, estimand in enumerate(estimands):
            for column, (name, panel, title) in enumerate(PANELS):
                ax = axes[row, column]
                ax.set_gid(f"{name}_{estimand}")
                rows = table[(table["estimand"] == estimand) & (table["panel"] == panel)]
                _draw(ax, rows, name, scenarios, estimators, registered)
                _reference(ax, name, alpha)
                if row == 0:
                    ax.set_title(title.format(level=f"{1 - alpha:.0%}"))
                ax.tick_params(labelsize=settings.font_size - 1)
            axes[row, 0].set_yticks(np.arange(len(scenarios)), scenarios)
            axes[row, 0].set_ylabel(ESTIMAND_NAMES.get(estimand, estimand))
        axes[0, 0].invert_yaxis()  # the first scenario on top (the axes share y)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5))
    return figure


def _draw(
    ax: Axes,
    rows: pd.DataFrame,
    name: str,
    scenarios: list[str],
    estimators: list[str],
    registered: dict[str, str],
) -> None:
    """Each estimator's points with their Monte-Carlo intervals, offset within a scenario."""
    offsets = np.linspace(-0.3, 0.3, len(estimators)) if len(estimators) > 1 else [0.0]
    for estimator, offset in zip(estimators, offsets, strict=True):
        one = rows[rows["estimator"] == estimator].set_index("scenario").reindex(scenarios)
        colour, marker = estimator_style(registered.get(estimator, estimator))
        variant = registered.get(estimator, estimator) != estimator
        ax.errorbar(
            one[name].to_numpy(),
            np.arange(len(scenarios)) + offset,
            xerr=MC_Z * one[f"{name}_mcse"].to_numpy(),
            fmt=marker,
            color=colour,
            markerfacecolor="white" if variant else colour,
            elinewidth=0.8,
            capsize=0,
            label=str(one["label"].dropna().iloc[0]) if one["label"].notna().any() else estimator,
            gid=estimator,
        )


def _reference(ax: Axes, name: str, alpha: float) -> None:
    """The value a good estimator hits: no bias, nominal coverage, rejections at alpha."""
    target = {"bias": 0.0, "coverage": 1 - alpha, "pretrend_rejection": alpha}[name]
    ax.axvline(target, color="0.45", linestyle="--", linewidth=0.8, zorder=0)
    if name != "bias":
        ax.set_xlim(-0.02, 1.02)
