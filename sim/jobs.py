"""One function per command: each does one job of ``goodwill`` and returns what it did.

A script calls these exactly as the command line does (``sim/cli.py`` is argparse, one call and
a print): each returns a :class:`JobResult`, the text the command prints (``message``) and the
files it wrote. :func:`run` is the main job: simulate, fit the configured estimators, project the
goodwill loss, draw the figures and write the run directory (:mod:`sim.rundir`), manifest last.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from models import compare
from sim.config import Config, load_config
from sim.costs import describe_projection
from sim.decision_jobs import (
    calibrate,
    calibrate_market,
    decision_analysis,
    estimate_damages,
    projected_config,
    stored_response,
)
from sim.estimation_settings import EstimationSettings, override_estimation
from sim.figures import write_run_figures
from sim.fit import (
    check_panel_file,
    describe_fit,
    fit_estimators,
    fit_partitioned_estimators,
    read_panel,
    write_estimates,
)
from sim.job_result import JobResult, wrote
from sim.main_job import RunResult, optima, run_on_data, run_simulated, write_decision
from sim.output_paths import output_path
from sim.owned_directory import OwnedDirectory
from sim.panel import (
    describe_panel,
    simulate_panel,
)
from sim.projection import project_goodwill, write_projection
from sim.report import write_report
from sim.resources import check_memory, describe_memory
from sim.rundir import CHECKPOINT, RunDirectory, read_config
from sim.store import write_parquet
from sim.study_jobs import study
from sim.trend_sensitivity import describe_trend_sensitivity, fitted_trend_sensitivity
from sim.version import package_version, recorded_versions

__all__ = [
    "JobResult",
    "RunResult",
    "calibrate",
    "calibrate_market",
    "decision_analysis",
    "draw_figures",
    "estimate_damages",
    "fit_panel",
    "project",
    "report",
    "run",
    "simulate",
    "study",
    "validate",
]


def validate(config_path: str | Path) -> JobResult:
    """Check a config and describe the panel it simulates, or the columns and rows of the
    panel of its ``[data]`` (its schema is read, not its data) (``goodwill validate``)."""
    config = load_config(config_path)
    panel = config.panel
    study = ""
    if config.study is not None:
        study = (
            f"; a study of {len(config.study.scenarios)} scenarios x "
            f"{config.study.replications} replications"
        )
    if config.data is None:
        source = f"{panel.n_consumers:,} consumers x {panel.n_weeks} weeks"
    else:
        rows = check_panel_file(config.data.panel, config.estimation)
        source = f"data.panel {config.data.panel}: {rows:,} rows with the columns it needs"
    return JobResult(
        f"{config_path}: valid ({source}, seed {config.seed}{study}); {describe_memory(config)}"
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
    out = output_path(out, "--out")
    if n_consumers is not None:
        panel_settings = config.panel.model_copy(update={"n_consumers": n_consumers})
        config = config.model_copy(update={"panel": panel_settings})
    check_memory(config, parts=("panel",))
    panel, truth = simulate_panel(config, n_consumers=n_consumers, seed=seed, progress=progress)
    path = write_parquet(out, panel)
    return JobResult(f"{describe_panel(panel, truth)}\n{wrote([path], started)}", (path,))


def fit_panel(
    panel_path: str | Path,
    config_path: str | Path | None = None,
    shared: dict[str, object] | None = None,
    options: dict[str, object] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    adopt: bool = False,
) -> JobResult:
    """Fit the estimators to a Parquet panel (``goodwill fit``).

    Parameters
    ----------
    panel_path : str or pathlib.Path
        The panel, one row per unit and period: a Parquet file, or a directory of Parquet
        partitions (each holding whole units), fitted out of core where
        ``[estimation.out_of_core]`` says (:func:`sim.fit.fit_partitioned_estimators`).
    config_path : str or pathlib.Path, optional
        A config whose ``[estimation]`` gives the settings (default: the defaults).
    shared, options : dict, optional
        Overrides of ``[estimation]``'s shared keys and of the estimators' options; see
        :func:`sim.config.override_estimation`.
    seed : int
        Seed of the uniform band's draws.
    out : str or pathlib.Path, optional
        Directory for ``estimates.csv``, ``multipliers.csv``, ``estimates.nc`` (and
        ``trend_sensitivity.csv`` with ``[estimation.sensitivity]``) and the manifest
        (:class:`sim.rundir.RunDirectory`): claimed before the fit.
    adopt : bool
        Write ``out`` even if it is a non-empty directory that is not goodwill's.
    """
    settings = EstimationSettings()
    if config_path is not None:
        config = load_config(config_path)
        if config.estimation is not None:
            settings = config.estimation
    settings = override_estimation(settings, shared or {}, options or {})
    if out is None:
        return _fit_panel(panel_path, settings, seed, None)
    with RunDirectory(output_path(out, "--out"), adopt=adopt) as directory:
        return _fit_panel(panel_path, settings, seed, directory)


def _fit_panel(
    panel_path: str | Path,
    settings: EstimationSettings,
    seed: int,
    directory: RunDirectory | None,
) -> JobResult:
    started = time.perf_counter()
    partitioned = Path(panel_path).is_dir()
    if partitioned:
        results = fit_partitioned_estimators(panel_path, settings)
    else:
        results = fit_estimators(read_panel(panel_path, settings), settings, seed=seed)
    lines = [compare(fits).summary().as_text() for fits in results.values()]
    lines.append(describe_fit(results, settings))
    if partitioned and settings.intensity is not None:
        lines.append(
            "fitted out of core: the intensity-weighted estimand only (the value-weighted one "
            "needs the panel in memory)"
        )
    trends = fitted_trend_sensitivity(results, settings)
    if trends is not None:
        lines.append(describe_trend_sensitivity(trends))
    files: list[Path] = []
    if directory is not None:
        directory.begin("fit")
        attrs = {"panel": str(panel_path), "goodwill_version": package_version()}
        files = write_estimates(directory, results, settings, attrs=attrs)
        if trends is not None:
            files.append(directory.write("trend_sensitivity.csv", trends))
        manifest = {**recorded_versions(), "panel": str(panel_path), "seed": seed}
        files.append(directory.finish("fit", manifest))
        lines.append(f"wrote {', '.join(str(f) for f in files)}")
    lines.append(f"fitted in {time.perf_counter() - started:.1f} s")
    return JobResult("\n".join(lines), tuple(files))


PROJECT_MAY_CHANGE = ("projection", "decision", "figures", "output", "ingest")
"""The config sections ``goodwill project`` may change from the run's: the rest made the
panel and the estimates it reuses."""


def _require_same_run(config: Config, config_path: str | Path, directory: Path) -> None:
    """Refuse to project a run made with another panel, model, seed or estimation."""
    stored = read_config(directory)
    if stored is None:
        raise ValueError(f"{directory}: no config.json; run `goodwill run {config_path}` first")
    exclude = set(PROJECT_MAY_CHANGE)
    changed = _changed_keys(stored.model_dump(exclude=exclude), config.model_dump(exclude=exclude))
    if changed:
        shown = ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
        raise ValueError(
            f"{config_path}: {shown} differ(s) from the run's {directory / 'config.json'}; "
            "`goodwill project` reuses the run's panel and estimates, so only "
            f"[{'], ['.join(PROJECT_MAY_CHANGE[:3])}] may change: run `goodwill run "
            f"{config_path}` instead"
        )


def _changed_keys(old: object, new: object, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            key
            for name in sorted(set(old) | set(new))
            for key in _changed_keys(old.get(name), new.get(name), f"{prefix}{name}.")
        ]
    return [] if old == new else [prefix.rstrip(".")]


def project(config_path: str | Path, progress: bool = True) -> JobResult:
    """The goodwill projection alone, on the response path a previous run stored, and the
    figures redrawn (``goodwill project``); resumes from its checkpoint.

    The run directory is locked throughout. Only the config's ``[projection]``,
    ``[decision]`` and ``[figures]`` may differ from the run's; the projection's files, the
    summary, ``config.json``, the figures and, last, the manifest are rewritten, and a report
    of the earlier projection is removed.
    """
    config = projected_config(config_path)
    check_memory(config, parts=("projection", "decision"))
    with RunDirectory(config.output.directory, create=False) as directory:
        previous = directory.previous("project")
        _require_same_run(config, config_path, directory.path)
        response = stored_response(config)
        started = time.perf_counter()
        ds = project_goodwill(
            config, response, checkpoint=directory.path / CHECKPOINT, progress=progress
        )
        directory.begin("project")
        write_projection(directory, ds)
        summary = describe_projection(ds)
        if config.decision is not None:
            summary += "\n" + write_decision(config, response, directory)
        directory.write("summary.txt", f"{previous.get('run_summary', '')}\n{summary}\n".lstrip())
        directory.write("config.json", config)
        figures = write_run_figures(directory.path, owner=directory.owned)
        timings = {**previous.get("timings", {}), "project_s": time.perf_counter() - started}
        manifest = {
            **previous,
            **recorded_versions(),
            "projection": optima(ds),
            "timings": timings,
        }
        files = [*directory.written, *figures, directory.finish("project", manifest)]
    names = ", ".join(f.name for f in files)
    return JobResult(
        f"{summary}\nwrote {directory.path}/ ({names}) in {time.perf_counter() - started:.1f} s",
        tuple(files),
    )


def draw_figures(
    run_dir: str | Path,
    output: str | Path | None = None,
    formats: Sequence[str] | None = None,
    config_path: str | Path | None = None,
    allow_incomplete: bool = False,
    adopt: bool = False,
) -> JobResult:
    """Redraw a run's figures from its stored outputs (``goodwill figures``), in the run's
    ``[figures]`` settings or those of ``config_path``.

    Into the run's own ``figures/`` the run directory is locked and its manifest rewritten
    last; an incomplete run (no manifest) is refused unless ``allow_incomplete`` (then no
    manifest is written). Into ``output`` that folder is claimed instead
    (:class:`sim.owned_directory.OwnedDirectory`; ``adopt`` for a non-empty folder that is
    not goodwill's).
    """
    started = time.perf_counter()
    settings = None if config_path is None else load_config(config_path).figures
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(
            f"{run_dir}: no such run directory; run `goodwill run CONFIG` first"
        )
    if output is not None:
        output = output_path(output, "--output", readme_figures=True)
        with OwnedDirectory(output, adopt=adopt) as owned:
            files = write_run_figures(run_dir, output, settings, formats, owner=owned)
    else:
        with RunDirectory(run_dir, create=False) as directory:
            previous = directory.previous("figures", allow_incomplete)
            if previous is not None:
                directory.begin("figures")
            files = write_run_figures(run_dir, None, settings, formats, owner=directory.owned)
            if previous is not None:
                directory.finish("figures", {**previous, **recorded_versions()})
    names = ", ".join(f.name for f in files)
    return JobResult(
        f"wrote {files[0].parent}/ ({names}) in {time.perf_counter() - started:.1f} s",
        tuple(files),
    )


def report(run_dir: str | Path, allow_incomplete: bool = False) -> JobResult:
    """Write a run's HTML report and LaTeX tables (``goodwill report``), the run directory
    locked and its manifest rewritten last. An incomplete run (no manifest) is refused unless
    ``allow_incomplete``: then the report says so at its top, and no manifest is written."""
    started = time.perf_counter()
    with RunDirectory(run_dir, create=False) as directory:
        previous = directory.previous("report", allow_incomplete)
        if previous is not None:
            directory.begin("report")
        files = write_report(Path(run_dir), owner=directory)
        if previous is not None:
            files.append(directory.finish("report", {**previous, **recorded_versions()}))
    return JobResult(wrote(files, started), tuple(files))


def run(config: Config | str | Path, progress: bool = True, *, adopt: bool = False) -> RunResult:
    """Run the main job of a config: simulate the panel (or read ``[data] panel``, your own),
    fit, project, draw and write the run directory.

    The run directory (``output.directory``) is claimed and locked before anything is
    computed (:class:`sim.rundir.RunDirectory`): another process writing it, or a non-empty
    directory that is not goodwill's, is refused at once, and so is a config whose run would
    not fit in the memory available (:func:`sim.resources.check_memory`; with ``[data]``, the
    projection's part: the panel's size is its file's).

    Parameters
    ----------
    config : Config, str or pathlib.Path
        A validated config or the path of a TOML config.
    progress : bool
        Show progress bars on a terminal.
    adopt : bool
        Write into a non-empty directory that goodwill did not create (its files are kept).

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
    check_memory(config)
    with RunDirectory(config.output.directory, adopt=adopt) as directory:
        if config.data is None:
            return run_simulated(config, directory, progress)
        return run_on_data(config, directory, progress)
