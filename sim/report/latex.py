"""A run's estimates and costs as LaTeX tables for a paper (``tables/*.tex``).

Each table is a ``table`` float in the usual economics layout (booktabs rules, standard errors
in parentheses beneath their estimate, a note under the table) that needs only
``\\usepackage{booktabs}`` and is plain ASCII, so pdflatex takes it without ``inputenc``:

- ``estimates.tex``: :func:`estimates_latex`, the estimates by event time in the window of the
  estimators that bin their end points (the TWFE window; ``estimates.csv`` has every event
  time), then the cumulative effect;
- ``multipliers.tex``: :func:`multipliers_latex`, each estimator's cumulative effect;
- ``costs.tex``: :func:`costs_latex`, the cost of counterfeits by enforcement intensity.

Numbers are those of the HTML report (:mod:`sim.report.html`), formatted by
:func:`sim.formatting.format_number` with ``$-$`` for the minus sign.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sim.estimators import label
from sim.formatting import MINUS, estimate_decimals, format_interval, format_number
from sim.report.outputs import Projection, RunOutputs, reference_note
from sim.rundir import (
    binned_window,
    by_event_time,
    cumulative_columns,
    cumulative_times,
    cumulative_truth,
    estimate_units,
    estimator_estimand_label,
    multipliers_by_estimand,
    select_estimand,
)

LATEX_MINUS = "$-$"
"""The minus sign of numbers in LaTeX tables (text mode, no package needed)."""

LATEX_SPECIALS = {  # character -> LaTeX
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u2013": "--",
    "\u2014": "---",
    MINUS: LATEX_MINUS,
}


def latex_escape(text: str) -> str:
    r"""Escape LaTeX's special characters (and write dashes and minus signs its way).

    Examples
    --------
    >>> print(latex_escape("CRV1 by consumer_id, 5% & more – Callaway–Sant'Anna"))
    CRV1 by consumer\_id, 5\% \& more -- Callaway--Sant'Anna
    """
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)


def stacked(text: str, width: int = 10) -> str:
    r"""A cell longer than ``width`` characters on two lines (``\shortstack``), broken after
    its first dash pair or at the space nearest its middle, so a table fits a page column.

    Examples
    --------
    >>> print(stacked("Callaway--Sant'Anna"), stacked("N obs"))
    \shortstack{Callaway--\\Sant'Anna} N obs
    """
    if len(text) <= width:
        return text
    if "--" in text:
        head, _, tail = text.partition("--")
        return rf"\shortstack{{{head}--\\{tail}}}"
    spaces = [i for i, character in enumerate(text) if character == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return rf"\shortstack{{{text[:cut]}\\{text[cut + 1 :]}}}"


def _latex_row(cells: list[str]) -> str:
    return "    " + " & ".join(cells) + r" \\"


def latex_table(
    caption: str,
    label: str,
    header: list[str],
    body: list[list[str] | str],
    note: str,
) -> str:
    r"""A booktabs ``table`` float: first column left, the others centred.

    ``body`` holds rows of LaTeX cells and rule commands (``\midrule``) as strings.
    """
    lines = [
        r"\begin{table}[htbp]",
        r"  \centering",
        r"  \small",
        r"  \setlength{\tabcolsep}{4pt}",
        rf"  \caption{{{caption}}}",
        rf"  \label{{{label}}}",
        rf"  \begin{{tabular}}{{l{'c' * (len(header) - 1)}}}",
        r"    \toprule",
        _latex_row([stacked(cell) for cell in header]),
        r"    \midrule",
        *(f"    {row}" if isinstance(row, str) else _latex_row(row) for row in body),
        r"    \bottomrule",
        r"  \end{tabular}",
        r"  \par\smallskip",
        rf"  \parbox{{\linewidth}}{{\footnotesize \emph{{Note:}} {note}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def tex_number(value: float, decimals: int) -> str:
    return format_number(value, decimals, minus=LATEX_MINUS, missing="")


def tex_se(value: float, decimals: int) -> str:
    return f"({tex_number(value, decimals)})" if np.isfinite(value) else ""


def _window_rows(estimates: xr.Dataset, window: tuple[int, int] | None) -> np.ndarray:
    """The positions of the event times inside ``window`` (default:
    :func:`sim.rundir.binned_window`, else every event time)."""
    times = estimates["event_time"].to_numpy()
    window = window or binned_window(estimates)
    if window is None:
        return np.arange(times.size)
    lo, hi = (int(t) for t in window)
    if lo > hi:
        raise ValueError(f"window = [{lo}, {hi}]: expected lo <= hi")
    rows = np.flatnonzero((times >= lo) & (times <= hi))
    if rows.size == 0:
        raise ValueError(
            f"window = [{lo}, {hi}] holds none of the estimated event times "
            f"({times.min()} to {times.max()})"
        )
    return rows


def estimates_latex(estimates: xr.Dataset, window: tuple[int, int] | None = None) -> str:
    """``estimates.tex``: event times in rows (estimate, SE beneath), estimators in columns,
    then the cumulative effect, observations and variance estimator.

    Parameters
    ----------
    estimates : xarray.Dataset
        A run's ``estimates.nc`` (:func:`sim.fit.estimates_dataset`).
    window : tuple of int, optional
        The first and last event time shown (inclusive); default the window of the
        estimators that bin their end points (:func:`sim.rundir.binned_window`), else every
        event time. The note says which event times the table shows when it leaves some out.
        The cumulative rows are the stored cumulative effects whatever the window.

    Returns
    -------
    str
        A booktabs ``table`` float.

    Raises
    ------
    ValueError
        If ``window`` is not ``lo <= hi`` or holds none of the event times.

    Examples
    --------
    >>> tex = estimates_latex(xr.load_dataset("runs/quick/estimates.nc"))  # doctest: +SKIP
    >>> tex = estimates_latex(estimates, window=(-2, 6))  # doctest: +SKIP
    """
    estimates = select_estimand(estimates)
    rows = _window_rows(estimates, window)
    names = estimates["estimator"].to_numpy().tolist()
    times = estimates["event_time"].to_numpy()
    truth = estimates["truth"].to_numpy() if "truth" in estimates else None
    decimals = estimate_decimals(estimates["se"])  # of every event time, as in the HTML
    estimate, se = by_event_time(estimates, "estimate"), by_event_time(estimates, "se")
    body: list[list[str] | str] = []
    for j in rows:
        truth_cells = [] if truth is None else [tex_number(truth[j], decimals)]
        body += [
            [
                tex_number(times[j], 0),
                *(tex_number(v, decimals) for v in estimate[j]),
                *truth_cells,
            ],
            ["", *(tex_se(v, decimals) for v in se[j]), *([""] * len(truth_cells))],
        ]
    cumulative = cumulative_columns(estimates)
    cumulative_decimals = estimate_decimals(cumulative["se"])
    first, last = cumulative_times(estimates)
    total_truth = cumulative_truth(estimates)
    extra = [] if total_truth is None else [tex_number(total_truth, cumulative_decimals)]
    blank = [""] * len(extra)
    vcov = [str(v).partition(" by ") for v in cumulative["vcov"]]
    body += [
        r"\midrule",
        [
            rf"\shortstack[l]{{Cumulative,\\{tex_number(first, 0)} to {tex_number(last, 0)}}}",
            *(tex_number(v, cumulative_decimals) for v in cumulative["estimate"]),
            *extra,
        ],
        ["", *(tex_se(v, cumulative_decimals) for v in cumulative["se"]), *blank],
        r"\midrule",
        ["N obs", *(tex_number(v, 0) for v in cumulative["nobs"]), *blank],
        ["Variance", *(stacked(latex_escape(kind)) for kind, _, _ in vcov), *blank],
    ]
    clusters = {by for _, _, by in vcov}
    if len(clusters) > 1:
        body.append(["Clusters", *(latex_escape(by) for _, _, by in vcov), *blank])
    header = ["Event time", *(latex_escape(label(n)) for n in names)]
    header += [] if truth is None else ["Truth"]
    note = f"Estimates in {estimate_units(estimates)}; standard errors in parentheses"
    (by,) = clusters if len(clusters) == 1 else ("",)
    note += f", clustered by {latex_escape(by)}. " if by else ". "
    if rows.size < times.size:
        note += (
            f"The table shows event times {tex_number(times[rows[0]], 0)} to "
            f"{tex_number(times[rows[-1]], 0)}; estimates.csv has every event time. "
        )
    note += (
        f"Cumulative: the sum of the effects over event times {tex_number(first, 0)} to "
        f"{tex_number(last, 0)}. {latex_escape(reference_note(estimates))}"
    )
    if truth is not None:
        note += " Truth: the simulated effect."
    return latex_table(
        "Event-study estimates of the effect of a counterfeit purchase on spend",
        "tab:goodwill-estimates",
        header,
        body,
        note,
    )


def multipliers_latex(estimates: xr.Dataset) -> str:
    """``multipliers.tex``: each estimator's cumulative effect by estimand with SE, 95% CI and
    the estimand's truth."""
    table = multipliers_by_estimand(estimates)
    decimals = estimate_decimals(table["se"])
    truth = table["truth"].notna().all() or None
    body = [
        [
            latex_escape(estimator_estimand_label(label(name), row["estimand"], estimates)),
            tex_number(row["estimate"], decimals),
            tex_number(row["se"], decimals),
            format_interval(row["ci_low"], row["ci_high"], decimals, minus=LATEX_MINUS),
            *([] if truth is None else [tex_number(row["truth"], decimals)]),
        ]
        for name, row in table.iterrows()
    ]
    first, last = cumulative_times(estimates)
    note = (
        f"The sum of the effects over event times {tex_number(first, 0)} to "
        f"{tex_number(last, 0)}, in {estimate_units(estimates)}."
    )
    if truth is not None:
        note += (
            " Truth: the simulated effect summed over the same event times, weighted as the "
            "estimand says (value-weighted: the spend lost per yuan sold)."
        )
    return latex_table(
        "Cumulative effect of a counterfeit purchase on spend",
        "tab:goodwill-multipliers",
        ["Estimator", "Estimate", "SE", "95\\% CI", *([] if truth is None else ["Truth"])],
        body,
        note,
    )


def costs_latex(projection: Projection) -> str:
    """``costs.tex``: cost by intensity (million yuan), the cheapest intensity in bold."""
    costs = projection.costs
    best = costs.index.get_loc(projection.optimum["grid_intensity"])
    body = []
    for i, intensity in enumerate(costs.index):
        row = costs.loc[intensity]
        cells = [
            f"{intensity:g}",
            tex_number(row["total_cost_mean"] / 1e6, 1),
            f"{tex_number(row['total_cost_q5'] / 1e6, 1)}--"
            f"{tex_number(row['total_cost_q95'] / 1e6, 1)}",
            tex_number(row["goodwill_loss_mean"] / 1e6, 1),
            tex_number(row["enforcement_cost"] / 1e6, 1),
            tex_number(row["fake_share_mean"], 2),
            tex_number(100 * row["optimal_share"], 1),
        ]
        body.append([rf"\textbf{{{c}}}" for c in cells] if i == best else cells)
    note = (
        f"Million yuan, present value, over {projection.n_weeks} weeks and the stores left open "
        f"at the horizon, the market opening at the status quo; means and 90\\% intervals "
        f"across {projection.n_draws:,} draws. Intensity in multiples of the 2016 programme. "
        "Goodwill loss: every channel and the terminal value. Fakes: suspected counterfeits per "
        "10,000 orders. Cheapest: the share of draws in which the intensity has the lowest cost "
        "of the grid. Bold: the lowest mean cost of the grid."
    )
    return latex_table(
        "Cost of counterfeits to the platform by enforcement intensity",
        "tab:goodwill-costs",
        [
            "Intensity",
            "Mean cost",
            "90\\% interval",
            "Goodwill loss",
            "Enforcement",
            "Fakes",
            "Cheapest (\\%)",
        ],
        body,
        note,
    )


def latex_tables(outputs: RunOutputs) -> dict[str, str]:
    """The LaTeX tables of a run by file name."""
    tables = {}
    if outputs.estimates is not None:
        tables["estimates.tex"] = estimates_latex(outputs.estimates)
        tables["multipliers.tex"] = multipliers_latex(outputs.estimates)
    if outputs.projection is not None:
        tables["costs.tex"] = costs_latex(outputs.projection)
    return tables
