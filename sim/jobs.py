"""One function per command: each does one job of ``goodwill`` and returns what it did.

A script calls these exactly as the command line does (``sim/cli.py`` is argparse, one call and
a print): each returns a :class:`JobResult`, the text the command prints (``message``) and the
files it wrote. :func:`run` is the main job: simulate, fit the configured estimators, project the
goodwill loss, draw the figures and write the run directory (:mod:`sim.rundir`), manifest last.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models import (
    ResponsePath,
    SpendTruth,
    compare,
    damages,
)
from models.consumer.calibration import calibrate_loss_per_yuan
from sim.breakeven import breakeven, describe_breakeven
from sim.config import (
    Config,
    EstimationSettings,
    ProjectionSettings,
    load_config,
    override_estimation,
)
from sim.costs import describe_projection, optimal_intensity
from sim.decision_settings import DecisionSettings
from sim.figures import write_run_figures
from sim.fit import (
    Fits,
    describe_fit,
    fit_estimators,
    multipliers_table,
    read_panel,
    write_estimates,
)
from sim.market_draws import (
    ENFORCEMENT_DATA,
    read_enforcement_data,
)
from sim.market_summary import describe_market_calibration
from sim.panel import (
    describe_panel,
    horizon_multipliers,
    simulate_panel,
    spend_trajectories,
    truth_table,
)
from sim.projection import run_projection
from sim.report import write_report
from sim.rundir import RunDirectory, read_response_path
from sim.sensitivity import describe_sensitivity, sensitivity
from sim.store import write_parquet
from sim.version import package_version


@dataclass(frozen=True)
class JobResult:
    """What a command did.

    Attributes
    ----------
    message : str
        What the command prints.
    files : tuple of pathlib.Path
        The files it wrote.
    """

    message: str
    files: tuple[Path, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RunResult(JobResult):
    """What :func:`run` produced.

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
    truth : SpendTruth
        The simulated truth.
    estimates : dict or None
        The fitted estimators by estimand ("intensity", "value"), then name
        (:data:`sim.fit.Fits`), when the config has ``[estimation]``.
    projection : xarray.Dataset or None
        The goodwill-loss Monte Carlo, when the config has ``[projection]``.
    """

    directory: Path
    figures: tuple[Path, ...]
    summary: str
    truth: SpendTruth
    estimates: Fits | None = None
    projection: xr.Dataset | None = None


def _wrote(files: Sequence[Path], started: float) -> str:
    return f"wrote {', '.join(str(f) for f in files)} in {time.perf_counter() - started:.1f} s"


def validate(config_path: str | Path) -> JobResult:
    """Check a config and describe the panel it simulates (``goodwill validate``)."""
    config = load_config(config_path)
    panel = config.panel
    return JobResult(
        f"{config_path}: valid ({panel.n_consumers:,} consumers x {panel.n_weeks} weeks, "
        f"seed {config.seed})"
    )


def simulate(
    config_path: str | Path,
    out: str | Path,
    n_consumers: int | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> JobResult:
    """Simulate a config's panel (calibrated if it asks) and write it as Parquet
    (``goodwill simulate``)."""
    started = time.perf_counter()
    config = load_config(config_path)
    panel, truth = simulate_panel(config, n_consumers=n_consumers, seed=seed, progress=progress)
    path = write_parquet(out, panel)
    return JobResult(f"{describe_panel(panel, truth)}\n{_wrote([path], started)}", (path,))


def calibrate(config_path: str | Path, target: float | None = None) -> JobResult:
    """The ``loss_per_yuan`` that hits a target multiplier on the config's own panel
    (``goodwill calibrate``); the target defaults to ``calibration.target_multiplier``."""
    config = load_config(config_path)
    calibration = config.calibration
    if target is None and calibration is None:
        raise ValueError(
            f"{config_path}: no calibration.target_multiplier; pass --target (e.g. -3.57)"
        )
    target = calibration.target_multiplier if target is None else target
    panel = config.panel
    loss_per_yuan = calibrate_loss_per_yuan(
        config.consumer,
        target,
        panel.n_consumers,
        panel.n_weeks,
        config.seed,
        panel.chunk_size,
        weighting="value" if calibration is None else calibration.weighting,
    )
    return JobResult(f"consumer.response.loss_per_yuan = {loss_per_yuan:.6f}  # hits {target:+g}")


def fit_panel(
    panel_path: str | Path,
    config_path: str | Path | None = None,
    shared: dict[str, object] | None = None,
    options: dict[str, object] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
) -> JobResult:
    """Fit the estimators to a Parquet panel (``goodwill fit``).

    Parameters
    ----------
    panel_path : str or pathlib.Path
        The panel, one row per unit and period.
    config_path : str or pathlib.Path, optional
        A config whose ``[estimation]`` gives the settings (default: the defaults).
    shared, options : dict, optional
        Overrides of ``[estimation]``'s shared keys and of the estimators' options; see
        :func:`sim.config.override_estimation`.
    seed : int
        Seed of the uniform band's draws.
    out : str or pathlib.Path, optional
        Directory for ``estimates.csv``, ``multipliers.csv`` and ``estimates.nc``.
    """
    settings = EstimationSettings()
    if config_path is not None:
        config = load_config(config_path)
        if config.estimation is not None:
            settings = config.estimation
    settings = override_estimation(settings, shared or {}, options or {})
    started = time.perf_counter()
    results = fit_estimators(read_panel(panel_path, settings), settings, seed=seed)
    lines = [compare(fits).summary().as_text() for fits in results.values()]
    lines.append(describe_fit(results, settings))
    files: list[Path] = []
    if out is not None:
        attrs = {"panel": str(panel_path), "goodwill_version": package_version()}
        files = write_estimates(RunDirectory(out), results, settings, attrs=attrs)
        lines.append(f"wrote {', '.join(str(f) for f in files)}")
    lines.append(f"fitted in {time.perf_counter() - started:.1f} s")
    return JobResult("\n".join(lines), tuple(files))


def _projected(config_path: str | Path) -> tuple[Config, RunDirectory]:
    """A config with ``[projection]`` and its run directory."""
    config = load_config(config_path)
    if config.projection is None:
        raise ValueError(f"{config_path}: no [projection] section")
    return config, RunDirectory(config.output.directory)


def _stored_response(config: Config, directory: RunDirectory) -> ResponsePath:
    first, last = config.estimation.cumulative
    projection = config.projection
    return read_response_path(
        directory.path, projection.estimator, first, last, estimand=projection.estimand
    )


def project(config_path: str | Path, progress: bool = True) -> JobResult:
    """The goodwill projection alone, on the response path a previous run stored, and the
    figures redrawn (``goodwill project``); resumes from its checkpoint."""
    config, directory = _projected(config_path)
    response = _stored_response(config, directory)
    started = time.perf_counter()
    ds = run_projection(config, response, directory, progress)
    summary = describe_projection(ds)
    if config.decision is not None:
        summary += "\n" + _write_decision(config, response, directory)
    files = [*directory.written, *write_run_figures(directory.path)]
    names = ", ".join(f.name for f in files)
    return JobResult(
        f"{summary}\nwrote {directory.path}/ ({names}) in {time.perf_counter() - started:.1f} s",
        tuple(files),
    )


def _write_decision(config: Config, response: ResponsePath, directory: RunDirectory) -> str:
    """Break-even and sensitivity of the config's ``[decision]`` on a response path, written
    to the run directory; their printed summaries."""
    found = breakeven(config.projection, response, decision=config.decision)
    directory.write("breakeven.nc", found)
    spread = sensitivity(config.projection, response, config.decision, config.seed)
    directory.write("sensitivity.nc", spread)
    return describe_breakeven(found) + "\n" + describe_sensitivity(spread)


def draw_figures(
    run_dir: str | Path,
    output: str | Path | None = None,
    formats: Sequence[str] | None = None,
    config_path: str | Path | None = None,
) -> JobResult:
    """Redraw a run's figures from its stored outputs (``goodwill figures``), in the run's
    ``[figures]`` settings or those of ``config_path``."""
    started = time.perf_counter()
    settings = None if config_path is None else load_config(config_path).figures
    files = write_run_figures(run_dir, output, settings, formats)
    names = ", ".join(f.name for f in files)
    return JobResult(
        f"wrote {files[0].parent}/ ({names}) in {time.perf_counter() - started:.1f} s",
        tuple(files),
    )


def report(run_dir: str | Path) -> JobResult:
    """Write a run's HTML report and LaTeX tables (``goodwill report``)."""
    started = time.perf_counter()
    files = write_report(Path(run_dir))
    return JobResult(_wrote(files, started), tuple(files))


def estimate_damages(
    fake_sales: float, config_path: str | Path, interval: float = 0.90
) -> JobResult:
    """The platform's goodwill loss from one seller's counterfeit sales, with an interval
    (``goodwill damages``), on the response path the config's run stored."""
    config, directory = _projected(config_path)
    response = _stored_response(config, directory)
    loss = damages(config.projection.platform, response, fake_sales, interval)
    return JobResult(
        f"{fake_sales:,.0f} yuan of counterfeit sales cost the platform "
        f"{loss.goodwill_loss:,.0f} yuan of goodwill (present value of lost revenue; "
        f"{loss.interval:.0%} interval {loss.low:,.0f} to {loss.high:,.0f}, SE {loss.se:,.0f}) "
        f"through {loss.lost_spend:,.0f} yuan of lost consumer spend "
        f"({config.projection.estimator} {config.projection.estimand}-weighted response "
        f"{response.multiplier:+.3f} per yuan over "
        f"{response.mean.size} weeks)"
    )


def decision_analysis(
    config_path: str | Path,
    intensity: float | None = None,
    multiplier: float | None = None,
    with_sensitivity: bool = False,
) -> JobResult:
    """Break-even values of an intensity, and optionally the Sobol sensitivity and value of
    information (``goodwill breakeven``): expected costs given the config's parameters and
    the response path the config's run stored, or, with ``multiplier``, a flat path that sums
    to it over the response's event times (``estimation.cumulative``)."""
    config = load_config(config_path)
    if config.projection is None:
        raise ValueError(f"{config_path}: no [projection] section")
    if multiplier is None:
        response = _stored_response(config, RunDirectory(config.output.directory))
    else:
        first, last = config.estimation.cumulative
        weeks = last - first + 1
        response = ResponsePath(np.full(weeks, multiplier / weeks), np.zeros((weeks, weeks)))
    decision = config.decision or DecisionSettings()
    lines = [describe_breakeven(breakeven(config.projection, response, intensity, decision))]
    if with_sensitivity:
        found = sensitivity(config.projection, response, decision, config.seed)
        lines.append(describe_sensitivity(found))
    return JobResult("\n\n".join(lines))


def calibrate_market(
    data: str | Path = ENFORCEMENT_DATA, config_path: str | Path | None = None
) -> JobResult:
    """Calibrate the enforcement market to Alibaba's published series and show the fit
    (``goodwill calibrate-market``).

    ``config_path``'s ``[projection.market]`` fixes the other parameters and its
    ``[projection.market_uncertainty]`` the intensity index, the posterior's settings and, with
    the config's seed (0 without a config), its draws. Shows the fit by year, the fit with each
    intensity index, the profile of the best fit over ``detection_max`` (the ridge) and the
    posterior's diagnostics next to the independent priors'.
    """
    settings = ProjectionSettings(intensities=[1.0])
    seed = 0
    if config_path is not None:
        config = load_config(config_path)
        seed = config.seed
        if config.projection is not None:
            settings = config.projection
    return JobResult(describe_market_calibration(settings, read_enforcement_data(data), seed))


def _manifest_multipliers(results: Fits, config: Config) -> dict[str, dict]:
    """The multipliers by estimand, then estimator, for the manifest."""
    table = multipliers_table(results, config.estimation)
    return {
        estimand: rows.drop(columns="estimand").T.to_dict()
        for estimand, rows in table.groupby("estimand", sort=False)
    }


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
        The run directory, files written, summary and results.

    Examples
    --------
    >>> result = run("configs/quick.toml")  # doctest: +SKIP
    >>> print(result.summary)  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        config = load_config(config)
    timings: dict[str, float] = {}
    started = begun = time.perf_counter()
    panel, truth = simulate_panel(config, progress=progress)
    timings["simulate_s"] = time.perf_counter() - started
    summary = describe_panel(panel, truth)
    results = None
    if config.estimation is not None:
        fitted = time.perf_counter()
        results = fit_estimators(panel, config.estimation, seed=config.seed)
        timings["estimate_s"] = time.perf_counter() - fitted
        summary += "\n" + describe_fit(results, config.estimation, truth)

    directory = RunDirectory(config.output.directory)
    directory.begin()
    written = time.perf_counter()
    if config.output.save_panel:
        directory.write("panel.parquet", panel)
    directory.write("consumers.parquet", truth.consumers)
    directory.write("truth_event_time.csv", truth_table(truth))
    directory.write("spend_trajectories.csv", spend_trajectories(panel, counterfactual="spend_cf"))
    if results is not None:
        attrs = {"seed": config.seed, "goodwill_version": package_version()}
        write_estimates(directory, results, config.estimation, truth, attrs)
    timings["write_s"] = time.perf_counter() - written
    projection = None
    if config.projection is not None:
        projected = time.perf_counter()
        response = results[config.projection.estimand][config.projection.estimator]
        projection = run_projection(config, response, directory, progress)
        summary += "\n" + describe_projection(projection)
        timings["project_s"] = time.perf_counter() - projected
        if config.decision is not None:
            decided = time.perf_counter()
            first, last = config.estimation.cumulative
            path = ResponsePath.from_results(response, first, last)
            summary += "\n" + _write_decision(config, path, directory)
            timings["decision_s"] = time.perf_counter() - decided
    written = time.perf_counter()
    directory.write("summary.txt", summary + "\n")
    directory.write("config.json", config)
    timings["write_s"] += time.perf_counter() - written
    drawn = time.perf_counter()
    figures = write_run_figures(directory.path)
    timings["figures_s"] = time.perf_counter() - drawn
    files = list(directory.written)
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
        "estimates": None if results is None else _manifest_multipliers(results, config),
        "projection": None
        if projection is None
        else {
            str(opening): optimal_intensity(projection, str(opening))
            for opening in projection["opening"].to_numpy()
        },
        "timings": timings,
        "files": [f.name for f in files],
        "figures": [f.name for f in figures],
    }
    files.append(directory.finish(manifest))
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
