"""The run report: ``write_report`` turns a run directory into HTML and LaTeX tables.

``report.html`` is one self-contained file (inline CSS, figures embedded as PNG data URIs, no
script, no external resource) that reads top to bottom: the run, a summary of the cumulative
multipliers next to the simulated truth and of the cost-minimising enforcement intensity, the
figures of :mod:`sim.figures`, the tables of estimates (and, with ``[estimation.sensitivity]``,
of sensitivity to parallel trends beside its figure) and of cost by intensity, and what
reproduces the run (seed, versions, timings, the complete config), rendered with the jinja2
template ``sim/report/templates/report.html.j2``. ``tables/*.tex`` are the same estimates and costs
as LaTeX tables for a paper (:mod:`sim.report.latex`).

Everything is read from the files the run wrote (:func:`sim.report.outputs.read_run`). A
directory written by ``goodwill fit --out`` (estimates only) gives a report without the
projection.
"""

from __future__ import annotations

import base64
import io
import platform
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import xarray as xr
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from matplotlib.figure import Figure

from sim.estimators import label
from sim.figures import draw_run_figures, figure_caption
from sim.formatting import estimate_decimals, format_interval, format_number
from sim.report.decision_tables import breakeven_html, sensitivity_html
from sim.report.latex import latex_tables
from sim.report.outputs import Projection, RunOutputs, read_run, reference_note
from sim.report.table import Table
from sim.report.trend_sensitivity_table import trend_sensitivity_html
from sim.rundir import (
    RunDirectory,
    by_event_time,
    cumulative_times,
    estimate_units,
    estimator_estimand_label,
    multipliers_by_estimand,
    select_estimand,
)
from sim.version import package_version

FIGURE_DPI = 200
"""Resolution of the PNG figures embedded in the report."""

SCREEN_PX_PER_INCH = 128
"""CSS pixels per inch of figure on screen: figures sized for a paper column (3.5 inches,
8-point type) read at about 1.3 times their printed size."""

RUN_VERSIONS = {
    "goodwill": "goodwill_version",
    "python": "python",
    "numpy": "numpy",
    "pandas": "pandas",
}
"""Package -> its key in ``manifest.json``."""

REPORT_PACKAGES = ("numpy", "pandas", "scipy", "xarray", "matplotlib")
"""Packages whose installed version the report records beside the run's."""


TREND_FIGURE = "trend_sensitivity"
"""The figure shown in the section of sensitivity to parallel trends, beside its table."""


@dataclass(frozen=True)
class EmbeddedFigure:
    """A figure as a PNG data URI, with its caption and on-screen size in CSS pixels."""

    kind: str
    caption: str
    src: str
    width: int
    height: int


def multipliers_html(estimates: xr.Dataset) -> Table:
    """The cumulative multiplier of each estimator and estimand with SE, 95% CI and the
    estimand's truth."""
    table = multipliers_by_estimand(estimates)
    decimals = estimate_decimals(table["se"])
    has_truth = bool(table["truth"].notna().all())
    rows = []
    for name, row in table.iterrows():
        cells = [
            estimator_estimand_label(label(name), row["estimand"], estimates),
            format_number(row["estimate"], decimals),
            format_number(row["se"], decimals),
            format_interval(row["ci_low"], row["ci_high"], decimals),
        ]
        if has_truth:
            inside = row["ci_low"] <= row["truth"] <= row["ci_high"]
            cells += [format_number(row["truth"], decimals), "yes" if inside else "no"]
        rows.append([*cells, str(row["vcov"]), format_number(row["nobs"], 0)])
    columns = ["Estimator", "Estimate", "SE", "95% CI"]
    columns += ["Truth", "Truth in CI"] if has_truth else []
    first, last = cumulative_times(estimates)
    return Table(
        id="multipliers",
        title="Cumulative multipliers",
        caption=f"Cumulative effect over event times {first} to {last} "
        f"({estimate_units(estimates)})",
        columns=[*columns, "Variance", "N obs"],
        rows=rows,
        numeric=[False, True, True, True] + [True, False] * has_truth + [False, True],
        note="Truth: the simulated effect summed over the same event times, weighted as the "
        "estimand says (intensity-weighted: the per-yuan regression's target; value-weighted: "
        "the spend lost per yuan sold, the projection's input)."
        if has_truth
        else "",
    )


def estimates_html(estimates: xr.Dataset) -> Table:
    """Estimates by event time: per estimator the estimate and its SE, then the truth, of the
    projection's default estimand (:func:`sim.rundir.select_estimand`; both are in
    ``estimates.csv``)."""
    estimates = select_estimand(estimates)
    names = estimates["estimator"].to_numpy().tolist()
    decimals = estimate_decimals(estimates["se"])
    has_truth = "truth" in estimates
    estimate, se = by_event_time(estimates, "estimate"), by_event_time(estimates, "se")
    truth = estimates["truth"].to_numpy() if has_truth else None
    rows = []
    for j, t in enumerate(estimates["event_time"].to_numpy()):
        cells = [format_number(t, 0)]
        for i in range(len(names)):
            cells += [
                format_number(estimate[j, i], decimals, missing=""),
                format_number(se[j, i], decimals, missing=""),
            ]
        if truth is not None:
            cells.append(format_number(truth[j], decimals))
        rows.append(cells)
    groups = [("", 1)] + [(label(n), 2) for n in names] + [("", 1)] * has_truth
    return Table(
        id="event-time-estimates",
        title="Estimates by event time",
        caption=f"Estimates by event time ({estimate_units(estimates)})",
        columns=["Event time"] + ["Estimate", "SE"] * len(names) + ["Truth"] * has_truth,
        rows=rows,
        numeric=[True] * len(rows[0]),
        note=reference_note(estimates),
        groups=groups,
    )


def costs_html(projection: Projection) -> Table:
    """Cost by enforcement intensity in million yuan, the cheapest intensity highlighted."""
    costs = projection.costs
    millions = costs.drop(columns=["fake_share_mean", "optimal_share"]) / 1e6
    rows = [
        [
            f"{intensity:g}",
            format_number(millions.at[intensity, "total_cost_mean"], 1),
            f"{format_number(millions.at[intensity, 'total_cost_q5'], 1)} – "
            f"{format_number(millions.at[intensity, 'total_cost_q95'], 1)}",
            format_number(millions.at[intensity, "goodwill_loss_mean"], 1),
            format_number(millions.at[intensity, "enforcement_cost"], 1),
            format_number(costs.at[intensity, "fake_share_mean"], 2),
            format_number(100 * costs.at[intensity, "optimal_share"], 1),
        ]
        for intensity in costs.index
    ]
    return Table(
        id="costs",
        title="Cost by enforcement intensity",
        caption=f"Cost of counterfeits by enforcement intensity over {projection.n_weeks} "
        "weeks and the stores left open at the horizon, the market opening at the status quo "
        "(million yuan, present value)",
        columns=[
            "Intensity (× 2016 programme)",
            "Mean",
            "90% interval",
            "Goodwill loss",
            "Enforcement",
            "Fakes per 10,000 orders",
            "Cheapest (% of draws)",
        ],
        groups=[("", 1), ("Total cost", 2), ("Parts (means)", 2), ("", 2)],
        rows=rows,
        numeric=[True] * 7,
        note=f"Across {projection.n_draws:,} draws. Highlighted: the grid intensity with the "
        "lowest mean total cost. Goodwill loss: what the counterfeits cost the platform, every "
        "channel and the terminal value included (mean). Cheapest: the share of draws in which "
        "the intensity is the cheapest of the grid.",
        highlight=costs.index.get_loc(projection.optimum["grid_intensity"]),
    )


def versions_html(recorded: dict[str, str]) -> Table:
    """Package versions recorded by the run and installed at report time."""
    installed = {
        "goodwill": package_version(),
        "python": platform.python_version(),
        **{name: version(name) for name in REPORT_PACKAGES},
    }
    rows = [[name, recorded.get(name, "not recorded"), installed[name]] for name in installed]
    return Table(
        id="versions",
        title="Versions",
        caption="Versions",
        columns=["Package", "Run (recorded)", "This report (installed)"],
        rows=rows,
        numeric=[False, False, False],
    )


def timings_html(timings: dict[str, float]) -> Table:
    """The run's timings by stage (``simulate_s``: simulate, ...) in seconds, and their total."""
    rows = [[key.removesuffix("_s"), format_number(value, 2)] for key, value in timings.items()]
    rows.append(["total", format_number(sum(timings.values()), 2)])
    return Table(
        id="timings",
        title="Timings",
        caption="Timings (seconds)",
        columns=["Stage", "Seconds"],
        rows=rows,
        numeric=[False, True],
    )


def embed_figure(kind: str, figure: Figure) -> EmbeddedFigure:
    """A figure as a PNG data URI at ``FIGURE_DPI``, shown at ``SCREEN_PX_PER_INCH``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    width, height = figure.get_size_inches() * SCREEN_PX_PER_INCH
    return EmbeddedFigure(
        kind=kind,
        caption=figure_caption(kind, figure),
        src="data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
        width=round(width),
        height=round(height),
    )


def _run_attribute(outputs: RunOutputs, key: str) -> str:
    """A value the manifest records, else an attribute of the estimates, else not recorded."""
    if outputs.manifest is not None and outputs.manifest.get(key) is not None:
        return str(outputs.manifest[key])
    if outputs.estimates is not None and key in outputs.estimates.attrs:
        return str(outputs.estimates.attrs[key])
    return "not recorded"


def _recorded_versions(outputs: RunOutputs) -> dict[str, str]:
    """The versions the run recorded: the manifest's, or goodwill's in the estimates."""
    versions = {
        name: str(outputs.manifest[key])
        for name, key in RUN_VERSIONS.items()
        if outputs.manifest is not None and key in outputs.manifest
    }
    return {**versions, "goodwill": _run_attribute(outputs, "goodwill_version")}


def _multiplier_summary(estimates: xr.Dataset) -> list[dict[str, str | bool | None]]:
    table = multipliers_by_estimand(estimates)
    decimals = estimate_decimals(table["se"])
    return [
        {
            "name": estimator_estimand_label(label(name), row["estimand"], estimates),
            "estimate": format_number(row["estimate"], decimals),
            "ci": format_interval(row["ci_low"], row["ci_high"], decimals),
            "truth": None if np.isnan(row["truth"]) else format_number(row["truth"], decimals),
            "inside": bool(row["ci_low"] <= row["truth"] <= row["ci_high"]),
        }
        for name, row in table.iterrows()
    ]


def _projection_summary(projection: Projection) -> dict[str, str]:
    best = projection.optimum
    return {
        "intensity": format_number(best["intensity"], 3),
        "cost": format_number(best["cost"] / 1e6, 1),
        "median": format_number(best["draws_median"], 3),
        "interval": format_interval(best["draws_q5"], best["draws_q95"], 3),
        "mean": format_number(best["draws_mean"], 3),
        "zero": format_number(100 * best["draws_zero_share"], 1),
        "started": format_number(projection.started["intensity"], 3),
        "started_median": format_number(projection.started["draws_median"], 3),
        "draws": f"{projection.n_draws:,}",
        "weeks": str(projection.n_weeks),
        "estimator": label(projection.estimator),
        "multiplier": format_number(projection.response_multiplier, 3),
    }


def report_context(outputs: RunOutputs, figures: list[EmbeddedFigure]) -> dict[str, object]:
    """Everything the HTML template shows, formatted."""
    estimates, projection, manifest = outputs.estimates, outputs.projection, outputs.manifest
    tables = []
    if estimates is not None:
        tables += [multipliers_html(estimates), estimates_html(estimates)]
    if outputs.trend_sensitivity is not None:
        tables.append(trend_sensitivity_html(outputs.trend_sensitivity))
    if projection is not None:
        tables.append(costs_html(projection))
    if outputs.breakeven is not None:
        tables += breakeven_html(outputs.breakeven)
    if outputs.sensitivity is not None:
        tables.append(sensitivity_html(outputs.sensitivity))
    timings = (manifest or {}).get("timings")
    return {
        "title": f"goodwill report: {outputs.directory.resolve().name}",
        "incomplete": manifest is None,
        "directory": str(outputs.directory.resolve()),
        "made": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "seed": _run_attribute(outputs, "seed"),
        "version": _run_attribute(outputs, "goodwill_version"),
        "panel": None if estimates is None else estimates.attrs.get("panel"),
        "units": None if estimates is None else estimate_units(estimates),
        "cumulative": None if estimates is None else cumulative_times(estimates),
        "multipliers": None if estimates is None else _multiplier_summary(estimates),
        "projection": None if projection is None else _projection_summary(projection),
        "figures": [figure for figure in figures if figure.kind != TREND_FIGURE],
        "trend_figure": next((f for f in figures if f.kind == TREND_FIGURE), None),
        "tables": tables,
        "versions": versions_html(_recorded_versions(outputs)),
        "timings": None if not timings else timings_html(timings),
        "config": outputs.config,
    }


def template_environment() -> Environment:
    """The jinja2 environment of the report pages (``sim/report/templates``)."""
    return Environment(
        loader=PackageLoader("sim.report", "templates"),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(outputs: RunOutputs, figures: list[EmbeddedFigure]) -> str:
    """The report as one self-contained HTML page."""
    environment = template_environment()
    return environment.get_template("report.html.j2").render(report_context(outputs, figures))


def write_report(
    directory: Path,
    figures: dict[str, Figure] | None = None,
    *,
    owner: RunDirectory | None = None,
) -> list[Path]:
    """Write a run directory's report: ``report.html`` and LaTeX tables in ``tables/``.

    Parameters
    ----------
    directory : pathlib.Path
        A run directory (``goodwill run``) or a directory of estimates (``goodwill fit
        --out``).
    figures : dict of str to matplotlib.figure.Figure, optional
        Figures by kind (captions from ``sim.figures.figure_caption``), in report order; default
        :func:`sim.figures.draw_run_figures` of the directory.
    owner : RunDirectory, optional
        The run directory, claimed by the caller (``goodwill report`` holds it to rewrite
        the manifest after). Default: claimed (and locked) here while the files are written.

    Returns
    -------
    list of pathlib.Path
        The files written: ``tables/estimates.tex`` and ``tables/multipliers.tex`` (with
        estimates), ``tables/costs.tex`` (with a projection), then ``report.html``.

    Raises
    ------
    ValueError
        If the directory has neither ``estimates.nc`` nor ``projection.nc``.

    Notes
    -----
    Everything is computed before anything is written, and each file is written atomically,
    ``report.html`` last: a report that fails leaves the previous report or none.

    Examples
    --------
    >>> write_report(Path("runs/quick"))  # doctest: +SKIP
    """
    outputs = read_run(directory)
    if figures is None:
        figures = draw_run_figures(directory)
    embedded = [embed_figure(kind, figure) for kind, figure in figures.items()]
    html = render_html(outputs, embedded)
    tables = latex_tables(outputs)
    if owner is None:
        with RunDirectory(directory, create=False) as claimed:
            return _write_report(claimed, html, tables)
    return _write_report(owner, html, tables)


def _write_report(run: RunDirectory, html: str, tables: dict[str, str]) -> list[Path]:
    """Write the tables, remove an earlier report's other tables, then write the HTML."""
    written = [run.write(f"tables/{name}", text) for name, text in tables.items()]
    run.owned.discard(lambda name: name.startswith("tables/"))
    written.append(run.write("report.html", html))
    return written
