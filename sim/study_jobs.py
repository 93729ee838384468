"""``goodwill study``: simulate an estimator study, diagnose it and write its outputs.

The study's directory (``[output] directory``) is claimed and locked like a run's
(:class:`sim.rundir.RunDirectory`). Finished blocks of replications are checkpointed in it as
they finish, so a killed study resumes where it stopped; the outputs are written once every
replication is done, the manifest last: ``study.nc`` (every replication's fits and truths),
``study_diagnosis.csv`` (:func:`sim.study_diagnosis.diagnose`), ``tables/study_diagnosis.tex``,
``figures/study.<format>`` and ``study_report.html``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from sim.checkpoint import remove_checkpoint
from sim.config import Config, load_config
from sim.figures.run_figures import save_figure
from sim.figures.study_figure import study_figure
from sim.job_result import JobResult
from sim.report.study_report import study_html, study_latex, study_summary
from sim.resources import check_memory
from sim.rundir import STUDY_CHECKPOINT, STUDY_FIGURE, RunDirectory
from sim.study import simulate_study
from sim.study_diagnosis import diagnose
from sim.version import recorded_versions


def study(config: Config | str | Path, progress: bool = True, *, adopt: bool = False) -> JobResult:
    """Run the estimator study a config's ``[study]`` describes.

    Parameters
    ----------
    config : Config, str or pathlib.Path
        A validated config or the path of a TOML config, with a ``[study]`` section.
    progress : bool
        Show a progress bar on a terminal.
    adopt : bool
        Write into a non-empty directory that goodwill did not create (its files are kept).

    Returns
    -------
    JobResult
        The summary of the cumulative effect's diagnosis and the files written.

    Raises
    ------
    ValueError
        If the config has no ``[study]`` section.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    if config.study is None:
        raise ValueError(
            "config has no [study] section: nothing to study (see configs/estimator_study.toml)"
        )
    check_memory(config, parts=("study",))
    started = time.perf_counter()
    with RunDirectory(config.output.directory, adopt=adopt) as directory:
        checkpoint = directory.path / STUDY_CHECKPOINT
        ds = simulate_study(config, checkpoint=checkpoint, progress=progress)
        simulated = time.perf_counter() - started
        diagnosis = diagnose(ds)
        directory.begin("study")
        directory.write("study.nc", ds)
        directory.write("study_diagnosis.csv", diagnosis)
        directory.write("tables/study_diagnosis.tex", study_latex(diagnosis, ds))
        figure_files, figure = _write_figure(directory, ds, diagnosis, config)
        directory.write("study_report.html", study_html(ds, diagnosis, figure))
        remove_checkpoint(checkpoint)
        manifest = {
            **recorded_versions(),
            "seed": config.seed,
            "scenarios": list(ds["scenario"].values.tolist()),
            "estimators": list(ds["estimator"].values.tolist()),
            "replications": ds.sizes["replication"],
            "timings": {"study_s": simulated, "total_s": time.perf_counter() - started},
        }
        files = [*directory.written, *figure_files, directory.finish("study", manifest)]
    names = ", ".join(str(f.relative_to(directory.path)) for f in files)
    message = (
        f"{describe_study(diagnosis, ds)}\nwrote {directory.path}/ ({names}) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return JobResult(message=message, files=tuple(files))


def _write_figure(
    directory: RunDirectory, ds: xr.Dataset, diagnosis: pd.DataFrame, config: Config
) -> tuple[list[Path], Figure]:
    """Save the study figure in every configured format; remove those of other formats."""
    registered = dict(zip(ds["estimator"].values, ds["registered"].values, strict=True))
    figure = study_figure(diagnosis, float(ds.attrs["alpha"]), registered, config.figures)
    settings = config.figures
    names = [f"{STUDY_FIGURE}{fmt}" for fmt in settings.formats]
    written = [save_figure(figure, directory.owned.own(name), settings.dpi) for name in names]
    directory.owned.discard(lambda name: name.startswith(STUDY_FIGURE) and name not in names)
    return written, figure


def describe_study(diagnosis: pd.DataFrame, ds: xr.Dataset) -> str:
    """A plain-text summary: per estimand, scenario and estimator, the cumulative effect's
    bias, coverage and the placebo pre-trend rejection rate, with Monte-Carlo SEs."""
    alpha = float(ds.attrs["alpha"])
    lines = [
        f"estimator study: {ds.sizes['scenario']} scenarios x {ds.sizes['replication']} "
        f"replications of {int(ds.attrs['n_consumers']):,} consumers x {ds.attrs['n_weeks']} "
        f"weeks; cumulative effect, Monte-Carlo SEs in parentheses"
    ]
    width = {
        name: max(len(heading), *map(len, diagnosis[name]))
        for name, heading in (("scenario", "scenario"), ("label", "estimator"))
    }
    for estimand in dict.fromkeys(diagnosis["estimand"]):
        summary = study_summary(diagnosis, estimand)
        lines.append(
            f"{estimand}: {'scenario':<{width['scenario']}} {'estimator':<{width['label']}} "
            f"{'bias':>16} "
            f"{'coverage':>14} {'placebo pre-test':>17}"
        )
        for _, row in summary.iterrows():
            lines.append(
                f"{'':<{len(estimand) + 2}}{row['scenario']:<{width['scenario']}} "
                f"{row['label']:<{width['label']}} "
                f"{_with_se(row, 'bias', 3):>16} {_with_se(row, 'coverage', 2):>14} "
                f"{_with_se(row, 'pretrend_placebo', 2):>17}"
            )
    lines.append(f"(coverage of the {1 - alpha:.0%} CI; pre-tests at {alpha:g})")
    failures = ds.attrs.get("failures", "{}")
    if failures != "{}":
        lines.append(f"failed fits: {failures}")
    return "\n".join(lines)


def _with_se(row: pd.Series, name: str, decimals: int) -> str:
    value, se = row[name], row[f"{name}_mcse"]
    if pd.isna(value):
        return "-"
    return (
        f"{value:+.{decimals}f} ({se:.{decimals}f})"
        if name == "bias"
        else (f"{value:.{decimals}f} ({se:.{decimals}f})")
    )
