"""The run directory: every file a run may hold, its writer and its reader; the manifest last.

:data:`FILES` is the one table of the files a run directory may hold: each file's name, the
command that writes it, how it is written (atomically, :mod:`sim.store`) and how it is read.
:class:`RunDirectory` writes through it: :meth:`~RunDirectory.begin` drops the manifest (a
manifest vouches for the files beside it), :meth:`~RunDirectory.finish` removes the files of
the finishing command that were not written this time (so a directory never mixes runs) and
writes the manifest last, so its presence marks a complete run. The typed readers
(:func:`read_estimates`, :func:`read_trend_sensitivity`, :func:`read_projection`,
:func:`read_config`, :func:`read_manifest`, :func:`read_trajectories`,
:func:`read_response_path`) are how the figures, the report, the projection and the damages
read a run; the functions of the stored estimates below interpret
their metadata for them. The estimates are by ``estimand`` ("intensity" and, with an
intensity, "value"; :func:`select_estimand` picks one, and the functions below it read one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models import ResponsePath
from sim.config import Config
from sim.owned_directory import OwnedDirectory
from sim.store import write_csv, write_json, write_netcdf, write_parquet, write_text


@dataclass(frozen=True)
class RunFile:
    """A file a run directory may hold.

    Attributes
    ----------
    name : str
        Its path in the run directory.
    stage : str
        What writes it: ``run`` (``goodwill run``; ``goodwill fit --out`` writes the
        estimates' in a directory of its own), ``projection`` (``goodwill run``, and
        ``goodwill project`` again) or ``report`` (``goodwill report``).
    write : callable
        Writes a value to a path atomically and returns the path.
    read : callable
        Reads the file back.
    """

    name: str
    stage: str
    write: Callable[[Path, object], Path]
    read: Callable[[Path], object]


def _csv(index: bool, index_col: str | None) -> tuple[Callable, Callable]:
    return (
        lambda path, frame: write_csv(path, frame, index=index),
        lambda path: pd.read_csv(path, index_col=index_col),
    )


_PARQUET = (write_parquet, pd.read_parquet)
_NETCDF = (write_netcdf, xr.load_dataset)
_TEXT = (write_text, lambda path: path.read_text(encoding="utf-8"))
_JSON = (write_json, lambda path: json.loads(path.read_text(encoding="utf-8")))

FILES: dict[str, RunFile] = {
    entry.name: entry
    for entry in (
        RunFile("panel.parquet", "run", *_PARQUET),
        RunFile(
            "consumers.parquet",
            "run",
            lambda path, frame: write_parquet(path, frame, index=True),
            pd.read_parquet,
        ),
        RunFile("truth_event_time.csv", "run", *_csv(True, "event_time")),
        RunFile("spend_trajectories.csv", "run", *_csv(True, "event_time")),
        RunFile("estimates.csv", "run", *_csv(False, None)),
        RunFile("multipliers.csv", "run", *_csv(True, "estimator")),  # column estimand
        RunFile("estimates.nc", "run", *_NETCDF),
        RunFile("trend_sensitivity.csv", "run", *_csv(False, None)),  # [estimation.sensitivity]
        RunFile("projection.nc", "projection", *_NETCDF),
        RunFile("projection_summary.csv", "projection", *_csv(True, "intensity")),
        RunFile("breakeven.nc", "projection", *_NETCDF),
        RunFile("sensitivity.nc", "projection", *_NETCDF),
        RunFile("summary.txt", "projection", *_TEXT),
        RunFile(
            "config.json",
            "projection",
            lambda path, config: write_text(path, config.model_dump_json(indent=2) + "\n"),
            lambda path: Config.model_validate_json(path.read_text(encoding="utf-8")),
        ),
        RunFile("report.html", "report", *_TEXT),
        RunFile("tables/estimates.tex", "report", *_TEXT),
        RunFile("tables/multipliers.tex", "report", *_TEXT),
        RunFile("tables/costs.tex", "report", *_TEXT),
        RunFile("study.nc", "study", *_NETCDF),
        RunFile("study_diagnosis.csv", "study", *_csv(False, None)),
        RunFile("tables/study_diagnosis.tex", "study", *_TEXT),
        RunFile("study_report.html", "study", *_TEXT),
        RunFile("manifest.json", "run", *_JSON),
    )
}
"""Every file a run directory may hold, in the order a run writes them."""

MANIFEST = "manifest.json"

PREVIOUS_MANIFEST = ".manifest-previous.json"
"""Where a command sets the manifest aside while it changes the directory."""

FIGURES = "figures"
"""The run's figures folder (``sim.figures`` writes and tidies it)."""

CHECKPOINT = ".projection-checkpoint"
"""The projection's checkpoint folder, removed once its outputs are written."""

STUDY_CHECKPOINT = ".study-checkpoint"
"""The estimator study's checkpoint folder, removed once its outputs are written."""

STUDY_FIGURE = f"{FIGURES}/study."
"""The start of the study figure's files (``figures/study.png``, ...), the study's own."""

REPLACES = {
    "run": ("run", "projection", "report", FIGURES),
    "fit": ("run", "projection", "report", FIGURES),
    "project": ("projection", "report", FIGURES),
    "figures": (FIGURES,),
    "report": ("report",),
    "study": ("study",),
}
"""What each command replaces: the stages of :data:`FILES` (and the figures) whose earlier
files it deletes when it does not write them again. A projection makes the report stale."""


def stage(name: str) -> str | None:
    """The stage of a run-directory file (``figures`` for a figure), None for another."""
    if name in FILES:
        return FILES[name].stage
    if name.startswith(STUDY_FIGURE):
        return "study"
    return FIGURES if name.startswith(f"{FIGURES}/") else None


class RunDirectory:
    """A run directory being written: claimed and locked while entered
    (:class:`sim.owned_directory.OwnedDirectory`), every file through :data:`FILES`, the
    manifest last.

    Parameters
    ----------
    path : str or pathlib.Path
        The directory.
    adopt : bool
        Write into a non-empty directory that is not goodwill's (nothing of it is deleted).
    create : bool
        Create the directory if missing (False for the commands that change an existing run).

    Examples
    --------
    >>> with RunDirectory("runs/quick") as directory:  # doctest: +SKIP
    ...     directory.begin()
    ...     directory.write("summary.txt", "...")
    ...     directory.finish("run", {"seed": 1})
    """

    def __init__(self, path: str | Path, *, adopt: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        self.owned = OwnedDirectory(self.path, adopt=adopt, create=create)
        self.written: list[Path] = []

    def __enter__(self) -> RunDirectory:
        self.owned.claim()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        """Release the directory. A command that fails or is interrupted after
        :meth:`begin` but before writing anything puts the manifest back: it changed
        nothing."""
        try:
            kept = self.path / PREVIOUS_MANIFEST
            unchanged = not (self.owned.touched - {PREVIOUS_MANIFEST})
            if kind is not None and self.owned.pending and unchanged and kept.is_file():
                os.replace(kept, self.file(MANIFEST))
                self.owned.set_pending(None)
        finally:
            self.owned.release()

    def file(self, name: str) -> Path:
        """The path of a declared file."""
        if name not in FILES:
            raise KeyError(f"{name!r} is not a run directory file (files: {', '.join(FILES)})")
        return self.path / name

    def write(self, name: str, value: object) -> Path:
        """Write a declared file atomically (recorded in the ledger first) and record it as
        written."""
        path = self.file(name)
        self.owned.own(name)
        FILES[name].write(path, value)
        self.written.append(path)
        return path

    def previous(self, command: str, allow_incomplete: bool = False) -> dict | None:
        """The manifest of the complete run that ``command`` builds on.

        A directory without a manifest is incomplete. ``command`` may still go on if the
        command interrupted there replaced only what it replaces itself (a killed ``goodwill
        project`` is resumed by the next, which finds the run's manifest as it was before);
        otherwise it is an error, or None with ``allow_incomplete``.

        Raises
        ------
        ValueError
            If the run is incomplete and cannot be resumed by ``command``.
        """
        manifest = read_manifest(self.path)
        if manifest is not None:
            return manifest
        pending = self.owned.pending
        kept = self.path / PREVIOUS_MANIFEST
        if pending and set(REPLACES[pending]) <= set(REPLACES[command]) and kept.is_file():
            return json.loads(kept.read_text(encoding="utf-8"))
        if allow_incomplete:
            return None
        cause = f"`goodwill {pending}` was interrupted or failed" if pending else "never finished"
        raise ValueError(
            f"{self.path}: incomplete run (no {MANIFEST}: {cause}); finish it with `goodwill "
            "run CONFIG`, or pass --allow-incomplete to use it anyway"
        )

    def begin(self, command: str) -> None:
        """Start changing the directory: set the manifest aside (it vouches for the files
        beside it, which are about to change; :meth:`previous` still reads it if the command
        is killed) and record ``command`` as under way."""
        manifest = self.file(MANIFEST)
        if manifest.is_file() and MANIFEST in self.owned.files:
            self.owned.own(PREVIOUS_MANIFEST)
            os.replace(manifest, self.path / PREVIOUS_MANIFEST)
        self.owned.set_pending(command)
        self.written = []

    def finish(self, command: str, manifest: dict[str, object]) -> Path:
        """Delete the files ``command`` replaces (:data:`REPLACES`) that it did not write
        (an earlier run's), then write the manifest, last, listing every file goodwill holds
        in the directory and the commands that made them."""
        stages = REPLACES[command]
        self.owned.discard(lambda name: stage(name) in stages)
        manifest = {
            **manifest,
            "commands": [*manifest.get("commands", ()), command],
            "files": sorted(n for n in self.owned.files if n not in (MANIFEST, PREVIOUS_MANIFEST)),
        }
        path = self.write(MANIFEST, manifest)
        self.owned.remove(PREVIOUS_MANIFEST)
        self.owned.set_pending(None)
        return path


def _read(directory: str | Path, name: str) -> object | None:
    path = Path(directory) / name
    if not path.is_file():
        return None
    try:
        return FILES[name].read(path)
    except (ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ValueError(f"{path}: damaged or unreadable ({reason})") from None


def read_estimates(directory: str | Path) -> xr.Dataset | None:
    """A run's (or a fit's) ``estimates.nc``, loaded, or None."""
    return _read(directory, "estimates.nc")


def read_projection(directory: str | Path) -> xr.Dataset | None:
    """A run's ``projection.nc``, loaded, or None."""
    return _read(directory, "projection.nc")


def read_breakeven(directory: str | Path) -> xr.Dataset | None:
    """A run's ``breakeven.nc`` (:func:`sim.breakeven.breakeven`), loaded, or None."""
    return _read(directory, "breakeven.nc")


def read_sensitivity(directory: str | Path) -> xr.Dataset | None:
    """A run's ``sensitivity.nc`` (:func:`sim.sensitivity.sensitivity`), loaded, or None."""
    return _read(directory, "sensitivity.nc")


def read_trend_sensitivity(directory: str | Path) -> pd.DataFrame | None:
    """A run's ``trend_sensitivity.csv`` (:func:`sim.trend_sensitivity.trend_sensitivity_table`),
    or None (no ``[estimation.sensitivity]``)."""
    return _read(directory, "trend_sensitivity.csv")


def read_config(directory: str | Path) -> Config | None:
    """The config a run stored in ``config.json``, validated, or None (a fit directory)."""
    return _read(directory, "config.json")


def read_manifest(directory: str | Path) -> dict[str, object] | None:
    """A run's ``manifest.json``, or None (an incomplete run or a fit directory)."""
    return _read(directory, MANIFEST)


def read_trajectories(directory: str | Path) -> pd.DataFrame | None:
    """A run's ``spend_trajectories.csv`` indexed by event time, or None."""
    return _read(directory, "spend_trajectories.csv")


def read_response_path(
    directory: str | Path, estimator: str, first: int, last: int, *, estimand: str = "value"
) -> ResponsePath:
    """The per-yuan response path of one estimator and estimand from a run's ``estimates.nc``.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing, the estimator or estimand was not fitted, the estimates are
        not per yuan or an event time of ``first..last`` has no estimate.
    """
    path = Path(directory) / "estimates.nc"
    estimates = read_estimates(directory)
    if estimates is None:
        raise FileNotFoundError(
            f"{path}: estimates not found; run `goodwill run CONFIG` first (the projection "
            "uses the fitted response path)"
        )
    fitted = estimates["estimator"].values.tolist()
    if estimator not in fitted:
        raise ValueError(
            f"{path}: estimator {estimator!r} was not fitted (fitted: {', '.join(fitted)})"
        )
    if not per_yuan(estimates):
        raise ValueError(f"{path}: the estimates are not per yuan (no intensity)")
    estimates = select_estimand(estimates, estimand, path)
    times = list(range(first, last + 1))
    one = estimates.sel(estimator=estimator)
    available = set(estimates["event_time"].values.tolist())
    mean = one["estimate"].reindex(event_time=times).to_numpy()
    cov = one["cov"].reindex(event_time_row=times, event_time_col=times).to_numpy()
    missing = [t for t, m in zip(times, mean, strict=True) if t not in available or np.isnan(m)]
    if missing:
        raise ValueError(
            f"{path}: {estimator} has no estimate at event time(s) {', '.join(map(str, missing))}"
        )
    return ResponsePath(mean, cov)


# -- the stored estimates' metadata -----------------------------------------------------------
def estimands(estimates: xr.Dataset) -> list[str]:
    """The estimands stored ("intensity", and "value" with an intensity)."""
    if "estimand" not in estimates.dims:
        return [str(estimates.attrs.get("estimand", "intensity"))]
    return [str(e) for e in estimates["estimand"].to_numpy()]


def select_estimand(
    estimates: xr.Dataset, estimand: str | None = None, source: str | Path = "estimates"
) -> xr.Dataset:
    """One estimand's estimates, without the ``estimand`` dimension (its name in the attrs
    ``estimand``); every function below reads such a selection.

    ``estimand`` None picks "value" when stored, else "intensity" (the value-weighted path
    is what a projection uses). A selection is returned as it is.

    Raises
    ------
    ValueError
        If the estimand was not stored.
    """
    stored = estimands(estimates)
    if estimand is None:
        estimand = "value" if "value" in stored else stored[0]
    if estimand not in stored:
        raise ValueError(
            f"{source}: estimand {estimand!r} was not fitted (fitted: {', '.join(stored)}; "
            "'value' needs estimation.intensity)"
        )
    if "estimand" not in estimates.dims:
        return estimates
    selected = estimates.sel(estimand=estimand, drop=True)
    selected.attrs = {**estimates.attrs, "estimand": estimand}
    return selected


ESTIMAND_NAMES = {"intensity": "intensity-weighted", "value": "value-weighted"}
"""How tables and figures name an estimand of per-yuan estimates."""


def per_yuan(estimates: xr.Dataset) -> bool:
    """Whether the estimates are per unit of a dose (per yuan of counterfeit)."""
    return bool(estimates.attrs.get("intensity"))


def estimate_units(estimates: xr.Dataset) -> str:
    """The units of one estimand's estimates: per yuan of counterfeit (with its weighting)
    or per consumer."""
    if per_yuan(estimates):
        weighting = ESTIMAND_NAMES.get(str(estimates.attrs.get("estimand")), "")
        return "yuan of spend per yuan of counterfeit" + (f", {weighting}" if weighting else "")
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


def multipliers_by_estimand(estimates: xr.Dataset) -> pd.DataFrame:
    """Every estimand's :func:`cumulative_columns`, one row per estimand and estimator, with
    columns ``estimand``, ``name`` (the estimator and, per yuan, the estimand, as tables show
    them) and ``truth`` (the estimand's cumulative truth, NaN if not simulated)."""
    tables = []
    for estimand in estimands(estimates):
        one = select_estimand(estimates, estimand)
        table = cumulative_columns(one)
        truth = cumulative_truth(one)
        table.insert(0, "estimand", estimand)
        table["truth"] = np.nan if truth is None else truth
        tables.append(table)
    return pd.concat(tables)


def estimator_estimand_label(label: str, estimand: str, estimates: xr.Dataset) -> str:
    """An estimator's label with its estimand, when the estimates are per yuan."""
    return f"{label}, {ESTIMAND_NAMES[estimand]}" if per_yuan(estimates) else label


def by_event_time(estimates: xr.Dataset, name: str) -> np.ndarray:
    """A variable of the estimates as an array, event times in rows, estimators in columns."""
    return estimates[name].transpose("event_time", "estimator").to_numpy()


def response_event_times(projection: xr.Dataset) -> np.ndarray:
    """The event times of a projection's response path (the estimates' cumulative range)."""
    first, last = json.loads(projection.attrs["config"])["estimation"]["cumulative"]
    return np.arange(first, last + 1)


def response_estimand(projection: xr.Dataset) -> str:
    """The estimand of a projection's response path (projections before it: "intensity")."""
    settings = json.loads(projection.attrs["config"])["projection"]
    return str(settings.get("estimand", "intensity"))


def binned_window(estimates: xr.Dataset) -> tuple[int, int] | None:
    """The event times shown by default: the span of the windows of the estimators whose end
    points pool every event time beyond them (their end points are bins, not event times),
    or None when no estimator bins (then every event time is shown)."""
    binned = estimates["bin_endpoints"].to_numpy().astype(bool)
    if not binned.any():
        return None
    low = int(estimates["window_low"].to_numpy()[binned].min())
    high = int(estimates["window_high"].to_numpy()[binned].max())
    return low, high
