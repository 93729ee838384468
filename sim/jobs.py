"""The main job: ``run(config)`` simulates, summarises and writes a run directory.

With an ``[estimation]`` section, the run then fits the event study to the simulated panel
and compares it with the truth. A run directory holds:

* ``panel.parquet``: the simulated panel (if ``output.save_panel``);
* ``consumers.parquet``: one row per consumer with the drawn traits and counterfeit events;
* ``truth_event_time.csv``: the true effects by event time, per yuan and in yuan;
* ``spend_trajectories.csv``: mean weekly spend by event time of the counterfeit buyers, their
  counterfactual without the fake, and the never-treated in the same weeks;
* ``estimates.csv`` and ``estimates.nc``: the event-study estimates by event time with the
  truth (netCDF adds the covariance matrix and the fit's metadata), with ``[estimation]``;
* ``projection.nc`` and ``projection_summary.csv``: the goodwill-loss Monte Carlo by
  intensity, draw and week, and total cost by intensity, with ``[projection]``;
* ``summary.txt``: the printed summary; ``config.json``: the complete validated config;
* ``figures/``: every figure of the run (``sim.figures``) in the ``[figures]`` formats;
* ``manifest.json``: written last, so its presence marks a complete run: seed, versions,
  timings, the calibrated response scale, the true multipliers and the files written.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models import EventStudyResults, SpendTruth
from sim.config import Config, load_config
from sim.costs import describe_projection, optimal_intensity
from sim.figures import write_run_figures
from sim.fit import describe_fit, fit_estimators, multipliers_table, write_estimates
from sim.panel import describe_panel, simulate_panel, spend_trajectories
from sim.projection import run_projection
from sim.store import write_csv, write_json, write_parquet, write_text
from sim.version import package_version


@dataclass(frozen=True)
class RunResult:
    """What ``run`` produced.

    Attributes
    ----------
    directory : pathlib.Path
        The run directory.
    files : tuple of pathlib.Path
        Files written, the manifest last.
    figures : tuple of pathlib.Path
        Figure files written into ``figures/``.
    summary : str
        Human-readable summary (also in ``summary.txt``).
    truth : SpendTruth
        The simulated truth.
    estimates : dict of EventStudyResults or None
        The fitted estimators by name, when the config has ``[estimation]``.
    projection : xarray.Dataset or None
        The goodwill-loss Monte Carlo, when the config has ``[projection]``.
    """

    directory: Path
    files: tuple[Path, ...]
    figures: tuple[Path, ...]
    summary: str
    truth: SpendTruth
    estimates: dict[str, EventStudyResults] | None = None
    projection: xr.Dataset | None = None


def horizon_multipliers(truth: SpendTruth) -> dict[str, float | None]:
    """The true multipliers, or None where the panel is too short for the horizon."""
    observed = truth.horizon_observed
    return {
        "true_multiplier": truth.multiplier if observed else None,
        "realized_multiplier": truth.realized_multiplier if observed else None,
        "intensity_multiplier": truth.intensity_multiplier if observed else None,
        "spillover_multiplier": truth.spillover_multiplier,
    }


def truth_table(truth: SpendTruth) -> pd.DataFrame:
    """True effects by event time: per yuan of counterfeit (value and intensity weighting)
    and in yuan per victim."""
    per_yuan = truth.event_time_effects(per_yuan=True)
    intensity = truth.event_time_effects(per_yuan=True, weighting="intensity")
    in_yuan = truth.event_time_effects(per_yuan=False)
    return pd.DataFrame(
        {
            "per_yuan": per_yuan["estimate"],
            "per_yuan_realized": per_yuan["realized"],
            "per_yuan_intensity": intensity["estimate"],
            "yuan": in_yuan["estimate"],
            "yuan_realized": in_yuan["realized"],
            "n_treated": per_yuan["n_treated"],
        }
    )


def run(config: Config | str | Path, progress: bool = True) -> RunResult:
    """Run the main job of a config: simulate the panel and write the run directory.

    Parameters
    ----------
    config : Config, str or pathlib.Path
        A validated config or the path of a TOML config.
    progress : bool
        Show progress bars on a terminal.

    Returns
    -------
    RunResult
        The run directory, files written and summary.

    Examples
    --------
    >>> result = run("configs/quick.toml")  # doctest: +SKIP
    >>> print(result.summary)  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        config = load_config(config)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    panel, truth = simulate_panel(config, progress=progress)
    timings["simulate_s"] = time.perf_counter() - started
    summary = describe_panel(panel, truth)
    results = None
    if config.estimation is not None:
        fitted = time.perf_counter()
        results = fit_estimators(panel, config.estimation, seed=config.seed)
        timings["estimate_s"] = time.perf_counter() - fitted
        summary += "\n" + describe_fit(results, config.estimation, truth)

    directory = config.output.directory
    directory.mkdir(parents=True, exist_ok=True)
    # A manifest vouches for the files beside it: drop a previous run's before rewriting them.
    (directory / "manifest.json").unlink(missing_ok=True)
    written = time.perf_counter()
    files = []
    if config.output.save_panel:
        files.append(write_parquet(directory / "panel.parquet", panel))
    else:
        (directory / "panel.parquet").unlink(missing_ok=True)  # not a previous run's
    files.append(write_parquet(directory / "consumers.parquet", truth.consumers, index=True))
    files.append(write_csv(directory / "truth_event_time.csv", truth_table(truth)))
    trajectories = spend_trajectories(panel, counterfactual="spend_cf")
    files.append(write_csv(directory / "spend_trajectories.csv", trajectories))
    if results is not None:
        attrs = {"seed": config.seed, "goodwill_version": package_version()}
        files += write_estimates(directory, results, config.estimation, truth, attrs)
    else:
        for name in ("estimates.csv", "multipliers.csv", "estimates.nc"):
            (directory / name).unlink(missing_ok=True)  # not a previous run's
    timings["write_s"] = time.perf_counter() - written
    projection = None
    if config.projection is not None:
        projected = time.perf_counter()
        response = results[config.projection.estimator]
        projection, projection_files = run_projection(config, response, directory, progress)
        files += projection_files
        summary += "\n" + describe_projection(projection)
        timings["project_s"] = time.perf_counter() - projected
    else:
        for name in ("projection.nc", "projection_summary.csv"):
            (directory / name).unlink(missing_ok=True)  # not a previous run's
    written = time.perf_counter()
    files.append(write_text(directory / "summary.txt", summary + "\n"))
    files.append(write_text(directory / "config.json", config.model_dump_json(indent=2) + "\n"))
    timings["write_s"] += time.perf_counter() - written
    drawn = time.perf_counter()
    figures = write_run_figures(directory)
    timings["figures_s"] = time.perf_counter() - drawn
    manifest = {
        "goodwill_version": package_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "seed": config.seed,
        "n_consumers": len(truth.consumers),
        "n_weeks": truth.n_weeks,
        "loss_per_yuan": truth.model.response.loss_per_yuan,
        "calibration": None if config.calibration is None else config.calibration.model_dump(),
        **horizon_multipliers(truth),
        "estimates": None
        if results is None
        else multipliers_table(results, config.estimation).T.to_dict(),
        "projection": None if projection is None else optimal_intensity(projection),
        "timings": timings,
        "files": [f.name for f in files],
        "figures": [f.name for f in figures],
    }
    files.append(write_json(directory / "manifest.json", manifest))
    return RunResult(
        directory=directory,
        files=tuple(files),
        figures=tuple(figures),
        summary=summary,
        truth=truth,
        estimates=results,
        projection=projection,
    )
