"""A run directory's outputs as the report reads them, and the tables it builds from them.

:func:`read_run` reads what a run (``goodwill run``) or a fit (``goodwill fit --out``) wrote:
``estimates.nc``, ``projection.nc`` (summarised by :func:`sim.costs.projection_summary`
exactly as ``projection_summary.csv``), ``manifest.json`` and ``config.json``, each when
present. The HTML report (:mod:`sim.report.html`) and the LaTeX tables
(:mod:`sim.report.latex`) are both functions of the :class:`RunOutputs` it returns, and show
numbers the same way: the functions here give the cumulative multipliers, the units, the
estimates by event time and the note on reference periods to both, formatted by
:mod:`sim.formatting`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim.costs import optimal_intensity, projection_summary
from sim.estimators import label
from sim.formatting import format_number


@dataclass(frozen=True)
class Projection:
    """What the report shows of a goodwill projection (``projection.nc``).

    Attributes
    ----------
    costs : pandas.DataFrame
        :func:`sim.costs.projection_summary`: cost by intensity, yuan, present value.
    optimum : dict
        :func:`sim.costs.optimal_intensity`: the intensity of lowest mean cost and the
        across-draw distribution of each draw's cheapest intensity.
    estimator : str
        The estimator whose response path was projected.
    response_multiplier : float
        Its cumulative per-yuan multiplier.
    n_draws, n_weeks : int
        Monte-Carlo draws and weeks projected.
    """

    costs: pd.DataFrame
    optimum: dict[str, float]
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


def _read_json(path: Path) -> dict[str, object] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_projection(path: Path) -> Projection:
    with xr.open_dataset(path) as ds:
        return Projection(
            costs=projection_summary(ds),
            optimum=optimal_intensity(ds),
            estimator=str(ds.attrs["estimator"]),
            response_multiplier=float(ds.attrs["response_multiplier"]),
            n_draws=ds.sizes["draw"],
            n_weeks=ds.sizes["week"],
        )


def read_run(directory: Path) -> RunOutputs:
    """Read what a report shows from a run directory.

    Raises
    ------
    ValueError
        If the directory has neither ``estimates.nc`` nor ``projection.nc``.
    """
    directory = Path(directory)
    estimates_path, projection_path = directory / "estimates.nc", directory / "projection.nc"
    if not estimates_path.is_file() and not projection_path.is_file():
        raise ValueError(
            f"{directory}: no estimates.nc or projection.nc to report on; run "
            "`goodwill run CONFIG` first (or `goodwill fit PANEL --out DIR`)"
        )
    config = _read_json(directory / "config.json")
    return RunOutputs(
        directory=directory,
        estimates=xr.load_dataset(estimates_path) if estimates_path.is_file() else None,
        projection=_read_projection(projection_path) if projection_path.is_file() else None,
        manifest=_read_json(directory / "manifest.json"),
        config=None if config is None else json.dumps(config, indent=2),
    )


def estimate_units(estimates: xr.Dataset) -> str:
    """The units of the estimates: per yuan of counterfeit (intensity) or per consumer."""
    if estimates.attrs.get("intensity"):
        return "yuan of spend per yuan of counterfeit"
    return "yuan per treated consumer"


def cumulative_times(estimates: xr.Dataset) -> tuple[int, int]:
    """The first and last event time summed into the cumulative effect."""
    first, last = (int(t) for t in estimates.attrs["cumulative_event_times"])
    return first, last


def cumulative_truth(estimates: xr.Dataset) -> float | None:
    """The simulated truth summed over the cumulative event times (None if not simulated)."""
    if "truth" not in estimates:
        return None
    first, last = cumulative_times(estimates)
    return float(estimates["truth"].sel(event_time=slice(first, last)).sum())


def cumulative_columns(estimates: xr.Dataset) -> pd.DataFrame:
    """Each estimator's cumulative effect: estimate, se, ci_low, ci_high, vcov, nobs."""
    columns = ("estimate", "se", "ci_low", "ci_high")
    table = pd.DataFrame(
        {c: estimates[f"cumulative_{c}"].to_numpy() for c in columns},
        index=estimates["estimator"].to_numpy(),
    )
    table["vcov"] = estimates["vcov"].to_numpy()
    table["nobs"] = estimates["nobs"].to_numpy()
    return table


def by_event_time(estimates: xr.Dataset, name: str) -> np.ndarray:
    """A variable of the estimates as an array, event times in rows, estimators in columns."""
    return estimates[name].transpose("event_time", "estimator").to_numpy()


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
