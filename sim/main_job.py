"""The main job, ``goodwill run``, in a claimed run directory: a simulated panel and its truth,
or, with ``[data]``, the user's own panel and no truth; the configured estimators, the goodwill
projection and the decision analysis, the figures and the manifest, written last
(:mod:`sim.rundir`). :func:`sim.jobs.run` claims the directory and calls :func:`run_simulated`
or :func:`run_on_data`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from models import ResponsePath, SpendTruth
from sim.breakeven import breakeven, describe_breakeven
from sim.config import Config
from sim.costs import describe_projection, optimal_intensity
from sim.figures import write_run_figures
from sim.fit import Fits, describe_fit, fit_estimators, multipliers_table, write_estimates
from sim.job_result import JobResult
from sim.own_panel import describe_own_panel, own_panel_record, read_own_panel
from sim.panel import (
    describe_panel,
    horizon_multipliers,
    simulate_panel,
    spend_trajectories,
    truth_table,
)
from sim.projection import project_goodwill, write_projection
from sim.rundir import CHECKPOINT, RunDirectory
from sim.sensitivity import describe_sensitivity, sensitivity
from sim.trend_sensitivity import describe_trend_sensitivity, fitted_trend_sensitivity
from sim.version import package_version, recorded_versions


@dataclass(frozen=True, kw_only=True)
class RunResult(JobResult):
    """What :func:`sim.run` produced.

    Attributes
    ----------
    message : str
        What ``goodwill run`` prints: the summary and the files written.
    directory : pathlib.Path
        The run directory.
    files : tuple of pathlib.Path
        Files written, the manifest last.
    figures : tuple of pathlib.Path
        Figure files written into ``figures/``.
    summary : str
        Human-readable summary (also in ``summary.txt``).
    truth : SpendTruth or None
        The simulated truth; None for a run on one's own panel (``[data]``).
    estimates : dict or None
        The fitted estimators by estimand ("intensity", "value"), then name
        (:data:`sim.fit.Fits`), when the config has ``[estimation]``.
    projection : xarray.Dataset or None
        The goodwill-loss Monte Carlo, when the config has ``[projection]``.
    """

    directory: Path
    figures: tuple[Path, ...]
    summary: str
    truth: SpendTruth | None
    estimates: Fits | None = None
    projection: xr.Dataset | None = None


def run_simulated(config: Config, directory: RunDirectory, progress: bool) -> RunResult:
    """The main job on the config's simulated panel, in a claimed run directory."""
    timings: dict[str, float] = {}
    started = begun = time.perf_counter()
    panel, truth = simulate_panel(config, progress=progress)
    timings["simulate_s"] = time.perf_counter() - started
    summary = describe_panel(panel, truth)
    results, trends, fit_summary = _estimate(panel, config, truth, timings)
    summary += fit_summary
    run_summary = summary

    directory.begin("run")
    written = time.perf_counter()
    if config.output.save_panel:
        directory.write("panel.parquet", panel)
    directory.write("consumers.parquet", truth.consumers)
    directory.write("truth_event_time.csv", truth_table(truth))
    directory.write("spend_trajectories.csv", spend_trajectories(panel, counterfactual="spend_cf"))
    if results is not None:
        attrs = {"seed": config.seed, "goodwill_version": package_version()}
        write_estimates(directory, results, config.estimation, truth, attrs)
        if trends is not None:
            directory.write("trend_sensitivity.csv", trends)
    timings["write_s"] = time.perf_counter() - written
    projection, projection_summary = _project(config, results, directory, timings, progress)
    summary += projection_summary
    described = {
        "n_consumers": len(truth.consumers),
        "n_weeks": truth.n_weeks,
        "loss_per_yuan": truth.model.response.loss_per_yuan,
        "calibration": None if config.calibration is None else config.calibration.model_dump(),
        **horizon_multipliers(truth),
    }
    return _finish(
        config,
        directory,
        summary,
        run_summary,
        described,
        truth,
        results,
        projection,
        timings,
        begun,
    )


def run_on_data(config: Config, directory: RunDirectory, progress: bool) -> RunResult:
    """The main job on ``[data] panel``, in a claimed run directory: the files of
    :func:`run_simulated` but the panel and the truth (``panel.parquet``,
    ``consumers.parquet``, ``truth_event_time.csv``), with the trajectories' counterfactual
    and every truth column absent; the manifest records the panel's file."""
    timings: dict[str, float] = {}
    started = begun = time.perf_counter()
    settings, path = config.estimation, config.data.panel
    panel = read_own_panel(path, settings)
    timings["read_s"] = time.perf_counter() - started
    summary = describe_own_panel(panel, settings, path)
    results, trends, fit_summary = _estimate(panel, config, None, timings)
    summary += fit_summary
    run_summary = summary

    directory.begin("run")
    written = time.perf_counter()
    trajectories = spend_trajectories(panel, settings.outcome, settings.time, settings.cohort)
    directory.write("spend_trajectories.csv", trajectories)
    attrs = {"seed": config.seed, "goodwill_version": package_version(), "panel": str(path)}
    write_estimates(directory, results, settings, None, attrs)
    if trends is not None:
        directory.write("trend_sensitivity.csv", trends)
    timings["write_s"] = time.perf_counter() - written
    projection, projection_summary = _project(config, results, directory, timings, progress)
    summary += projection_summary
    described = {"data": own_panel_record(panel, settings, path)}
    return _finish(
        config,
        directory,
        summary,
        run_summary,
        described,
        None,
        results,
        projection,
        timings,
        begun,
    )


def _estimate(
    panel: pd.DataFrame, config: Config, truth: SpendTruth | None, timings: dict[str, float]
) -> tuple[Fits | None, pd.DataFrame | None, str]:
    """The configured estimators' fits, HonestDiD's table if configured, and their summary
    lines (each after a newline); nothing without ``[estimation]``."""
    if config.estimation is None:
        return None, None, ""
    fitted = time.perf_counter()
    results = fit_estimators(panel, config.estimation, seed=config.seed)
    timings["estimate_s"] = time.perf_counter() - fitted
    summary = "\n" + describe_fit(results, config.estimation, truth)
    trends = None
    if config.estimation.sensitivity is not None:
        fitted = time.perf_counter()
        trends = fitted_trend_sensitivity(results, config.estimation)
        timings["trend_sensitivity_s"] = time.perf_counter() - fitted
        summary += "\n" + describe_trend_sensitivity(trends)
    return results, trends, summary


def _project(
    config: Config,
    results: Fits | None,
    directory: RunDirectory,
    timings: dict[str, float],
    progress: bool,
) -> tuple[xr.Dataset | None, str]:
    """The projection and decision analysis written to the run directory, and their summary
    lines (each after a newline); nothing without ``[projection]``."""
    if config.projection is None:
        return None, ""
    projected = time.perf_counter()
    response = results[config.projection.estimand][config.projection.estimator]
    projection = project_goodwill(
        config, response, checkpoint=directory.path / CHECKPOINT, progress=progress
    )
    write_projection(directory, projection)
    summary = "\n" + describe_projection(projection)
    timings["project_s"] = time.perf_counter() - projected
    if config.decision is not None:
        decided = time.perf_counter()
        first, last = config.estimation.cumulative
        path = ResponsePath.from_results(response, first, last)
        summary += "\n" + write_decision(config, path, directory)
        timings["decision_s"] = time.perf_counter() - decided
    return projection, summary


def _finish(
    config: Config,
    directory: RunDirectory,
    summary: str,
    run_summary: str,
    described: dict[str, object],
    truth: SpendTruth | None,
    results: Fits | None,
    projection: xr.Dataset | None,
    timings: dict[str, float],
    begun: float,
) -> RunResult:
    """The summary, config, figures and, last, the manifest (with ``described``: the panel
    and, when simulated, its truth); what the run printed and wrote."""
    written = time.perf_counter()
    directory.write("summary.txt", summary + "\n")
    directory.write("config.json", config)
    timings["write_s"] += time.perf_counter() - written
    drawn = time.perf_counter()
    figures = write_run_figures(directory.path, owner=directory.owned)
    timings["figures_s"] = time.perf_counter() - drawn
    files = list(directory.written)
    manifest = {
        **recorded_versions(),
        "seed": config.seed,
        **described,
        "estimates": None if results is None else _manifest_multipliers(results, config),
        "projection": None if projection is None else optima(projection),
        "timings": timings,
        "run_summary": run_summary,
    }
    files.append(directory.finish("run", manifest))
    names = ", ".join(f.name for f in files)
    message = (
        f"{summary}\nwrote {directory.path}/ ({names}) and figures/ ({len(figures)} files) in "
        f"{time.perf_counter() - begun:.1f} s"
    )
    return RunResult(
        message=message,
        directory=directory.path,
        files=tuple(files),
        figures=tuple(figures),
        summary=summary,
        truth=truth,
        estimates=results,
        projection=projection,
    )


def write_decision(config: Config, response: ResponsePath, directory: RunDirectory) -> str:
    """Break-even and sensitivity of the config's ``[decision]`` on a response path, written
    to the run directory; their printed summaries."""
    found = breakeven(config.projection, response, decision=config.decision)
    directory.write("breakeven.nc", found)
    spread = sensitivity(config.projection, response, config.decision, config.seed)
    directory.write("sensitivity.nc", spread)
    return describe_breakeven(found) + "\n" + describe_sensitivity(spread)


def _manifest_multipliers(results: Fits, config: Config) -> dict[str, dict]:
    """The multipliers by estimand, then estimator, for the manifest."""
    table = multipliers_table(results, config.estimation)
    return {
        estimand: rows.drop(columns="estimand").T.to_dict()
        for estimand, rows in table.groupby("estimand", sort=False)
    }


def optima(projection: xr.Dataset) -> dict[str, dict]:
    """The cost-minimising intensity of each opening, for the manifest."""
    return {
        str(opening): optimal_intensity(projection, str(opening))
        for opening in projection["opening"].to_numpy()
    }
