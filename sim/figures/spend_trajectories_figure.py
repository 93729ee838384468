"""The spend-trajectories figure: counterfeit buyers, their counterfactual, the never-treated."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import FigureSettings
from sim.figures.style import OKABE_ITO, ONSET_LABEL, mark_onset, new_figure, styled


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
        mark_onset(ax)
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
