"""A run directory's outputs as the report reads them.

:func:`read_run` reads, through :mod:`sim.rundir`, what a run (``goodwill run``) or a fit
(``goodwill fit --out``) wrote: ``estimates.nc``, ``projection.nc`` (summarised by
:func:`sim.costs.projection_summary` exactly as ``projection_summary.csv``), ``manifest.json``
and ``config.json``, each when present. The HTML report (:mod:`sim.report.html`) and the LaTeX
tables (:mod:`sim.report.latex`) are both functions of the :class:`RunOutputs` it returns, and
share the note on reference periods (:func:`reference_note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from sim.costs import optimal_intensity, projection_summary
from sim.estimators import label
from sim.formatting import format_number
from sim.rundir import (
    read_breakeven,
    read_config,
    read_estimates,
    read_manifest,
    read_projection,
    read_sensitivity,
    read_trend_sensitivity,
)


@dataclass(frozen=True)
class Projection:
    """What the report shows of a goodwill projection (``projection.nc``).

    Attributes
    ----------
    costs : pandas.DataFrame
        :func:`sim.costs.projection_summary`: cost by intensity, yuan, present value.
    optimum : dict
        :func:`sim.costs.optimal_intensity`: the intensity of lowest mean cost (on a
        continuum) and the across-draw distribution of each draw's cheapest intensity, when
        the market opens at the status quo ("should the platform stop?").
    started : dict
        The same when the market opens with no programme ("should it have started?").
    estimator : str
        The estimator whose response path was projected.
    response_multiplier : float
        Its cumulative per-yuan multiplier.
    n_draws, n_weeks : int
        Monte-Carlo draws and weeks projected.
    """

    costs: pd.DataFrame
    optimum: dict[str, float]
    started: dict[str, float]
    estimator: str
    response_multiplier: float
    n_draws: int
    n_weeks: int


@dataclass(frozen=True)
class RunOutputs:
    """The outputs of a run directory that the report reads; None where not written."""

    directory: Path
    estimates: xr.Dataset | None
    projection: Projection | None
    manifest: dict[str, object] | None
    config: str | None  # config.json, pretty-printed
    breakeven: xr.Dataset | None = None  # breakeven.nc (a run with [decision])
    sensitivity: xr.Dataset | None = None  # sensitivity.nc
    trend_sensitivity: pd.DataFrame | None = None  # trend_sensitivity.csv


def _projection(ds: xr.Dataset) -> Projection:
    return Projection(
        costs=projection_summary(ds),
        optimum=optimal_intensity(ds),
        started=optimal_intensity(ds, "no_programme"),
        estimator=str(ds.attrs["estimator"]),
        response_multiplier=float(ds.attrs["response_multiplier"]),
        n_draws=ds.sizes["draw"],
        n_weeks=ds.sizes["week"],
    )


def read_run(directory: Path) -> RunOutputs:
    """Read what a report shows from a run directory (through :mod:`sim.rundir`).

    Raises
    ------
    ValueError
        If the directory has neither ``estimates.nc`` nor ``projection.nc``.
    """
    directory = Path(directory)
    estimates, projection = read_estimates(directory), read_projection(directory)
    if estimates is None and projection is None:
        raise ValueError(
            f"{directory}: no estimates.nc or projection.nc to report on; run "
            "`goodwill run CONFIG` first (or `goodwill fit PANEL --out DIR`)"
        )
    config = read_config(directory)
    return RunOutputs(
        directory=directory,
        estimates=estimates,
        projection=None if projection is None else _projection(projection),
        manifest=read_manifest(directory),
        config=None if config is None else config.model_dump_json(indent=2),
        breakeven=read_breakeven(directory),
        sensitivity=read_sensitivity(directory),
        trend_sensitivity=read_trend_sensitivity(directory),
    )


def reference_note(estimates: xr.Dataset) -> str:
    """The note under a table of estimates by event time: reference periods, blanks and the
    window of each estimator whose end points pool the event times beyond them."""
    note = "An estimate of 0 without SE is a reference period. Blank: not estimated."
    for name in estimates["estimator"].to_numpy().tolist():
        one = estimates.sel(estimator=name)
        if one["bin_endpoints"]:
            low, high = (format_number(int(one[end]), 0) for end in ("window_low", "window_high"))
            note += (
                f" {label(name)}: event times {low} to {high}, earlier and later ones pooled "
                "into the end points."
            )
    return note
