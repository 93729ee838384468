"""A run directory's outputs as the report reads them, and the formatting its tables share.

:func:`read_run` reads what a run (``goodwill run``) or a fit (``goodwill fit --out``) wrote:
``estimates.nc``, ``projection.nc`` (summarised by :func:`sim.goodwill.projection_summary`
exactly as ``projection_summary.csv``), ``manifest.json`` and ``config.json``, each when
present. The HTML report (:mod:`sim.report`) and the LaTeX tables (:mod:`sim.latex`) are both
functions of the :class:`RunOutputs` it returns, and show numbers the same way: the functions
here give the cumulative multipliers, the units, the estimates by event time and the note on
reference periods to both, and format numbers with :func:`format_number` to the decimals of
:func:`estimate_decimals`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim.estimation import ESTIMATOR_NAMES
from sim.goodwill import optimal_intensity, projection_summary

MINUS = "\u2212"
"""The minus sign of numbers in HTML (LaTeX uses ``$-$``)."""


@dataclass(frozen=True)
class Projection:
    """What the report shows of a goodwill projection (``projection.nc``).

    Attributes
    ----------
    costs : pandas.DataFrame
        :func:`sim.goodwill.projection_summary`: cost by intensity, yuan, present value.
    optimum : dict
        :func:`sim.goodwill.optimal_intensity`: the intensity of lowest mean cost and the
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


def display_name(estimator: str) -> str:
    """The estimator's name in the report (``ESTIMATOR_NAMES``, else its own name)."""
    return ESTIMATOR_NAMES.get(estimator, estimator)


def format_number(value: float, decimals: int, minus: str = MINUS, missing: str = "—") -> str:
    """A number for reading: thousands separators, ``decimals`` places, a real minus sign.

    Examples
    --------
    >>> format_number(-1234.5678, 2)
    '−1,234.57'
    >>> format_number(-0.0001, 2), format_number(float("nan"), 2)
    ('0.00', '—')
    """
    if not np.isfinite(value):
        return missing
    rounded = round(float(value), decimals) or 0.0  # no negative zero
    return f"{rounded:,.{decimals}f}".replace("-", minus)


def format_interval(low: float, high: float, decimals: int, minus: str = MINUS) -> str:
    """A confidence interval as ``[low, high]``, both ends formatted by :func:`format_number`.

    Examples
    --------
    >>> format_interval(-3.19751, -2.65718, 3)
    '[−3.198, −2.657]'
    """
    return f"[{format_number(low, decimals, minus)}, {format_number(high, decimals, minus)}]"


def estimate_decimals(se: np.ndarray | pd.Series | xr.DataArray) -> int:
    """Decimal places that give the median standard error three significant digits (0 to 4).

    Examples
    --------
    >>> estimate_decimals(np.array([0.0138, 0.0142, np.nan])), estimate_decimals(np.array([1.2]))
    (4, 2)
    """
    values = np.abs(np.asarray(se, dtype=float))
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 3
    return int(np.clip(2 - np.floor(np.log10(np.median(values))), 0, 4))


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
    event times TWFE estimates (when it is one of the estimators)."""
    note = "An estimate of 0 without SE is a reference period. Blank: not estimated."
    if "twfe" not in estimates["estimator"].to_numpy().tolist():
        return note
    low, high = (format_number(t, 0) for t in estimates.attrs["twfe_window"])
    note += f" TWFE: event times {low} to {high}"
    if estimates.attrs.get("twfe_bin_endpoints"):
        note += ", earlier and later ones pooled into the end points"
    return note + "."
