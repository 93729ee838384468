"""The run directory: one table of its files, the manifest last, stale files removed, readers."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest

from sim import jobs, run
from sim.config import load_config
from sim.owned_directory import LOCK, MARKER
from sim.rundir import (
    FIGURES,
    FILES,
    MANIFEST,
    RunDirectory,
    read_config,
    read_estimates,
    read_manifest,
    read_projection,
    read_response_path,
    read_trajectories,
)
from tests.conftest import TINY


def test_the_table_holds_every_file_a_run_and_its_report_write(small_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    jobs.report(directory)
    files = {
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file() and path.relative_to(directory).parts[0] != FIGURES
    }
    runs = {name for name, entry in FILES.items() if entry.stage != "study"}  # goodwill study's
    runs.discard("trend_sensitivity.csv")  # only with [estimation.sensitivity]: its own tests
    assert files == runs | {MARKER, LOCK}
    manifest = read_manifest(directory)
    figures = sorted(f"{FIGURES}/{p.name}" for p in (directory / FIGURES).iterdir())
    listed = sorted(name for name in [*runs, *figures] if name != MANIFEST)
    assert manifest["files"] == listed  # the report's too, after it
    assert manifest["commands"] == ["run", "report"]


def test_readers_read_what_a_run_wrote(small_run):
    config = read_config(small_run)
    assert config.model_dump_json(indent=2) + "\n" == (small_run / "config.json").read_text()
    assert list(read_estimates(small_run)["estimator"].values) == config.estimation.estimators
    assert read_projection(small_run).sizes["draw"] == config.projection.n_draws
    assert read_trajectories(small_run).index.name == "event_time"
    path = read_response_path(small_run, "twfe", 0, 11)  # the value-weighted path by default
    estimate = read_estimates(small_run)["estimate"].sel(
        estimand="value", estimator="twfe", event_time=[0, 11]
    )
    assert path.mean[[0, -1]].tolist() == estimate.values.tolist()


def test_readers_say_none_where_nothing_was_written(tmp_path):
    for reader in (read_estimates, read_projection, read_config, read_manifest, read_trajectories):
        assert reader(tmp_path) is None
    with pytest.raises(FileNotFoundError, match=r"estimates.nc: estimates not found; run"):
        read_response_path(tmp_path, "twfe", 0, 11)


def test_only_declared_files_are_written(tmp_path):
    with RunDirectory(tmp_path) as directory:
        with pytest.raises(KeyError, match=r"'notes.txt' is not a run directory file"):
            directory.write("notes.txt", "x")


def test_begin_sets_the_manifest_aside_and_finish_writes_it_last(tmp_path):
    with RunDirectory(tmp_path) as directory:
        directory.begin("run")
        directory.finish("run", {"seed": 0})
    with RunDirectory(tmp_path) as directory:
        assert directory.previous("project") == read_manifest(tmp_path)
        directory.begin("project")
        assert not (tmp_path / MANIFEST).exists()
        directory.write("summary.txt", "text\n")
        path = directory.finish("project", {"seed": 1})
    manifest = json.loads(path.read_text())
    assert directory.written[-1] == path
    assert manifest == {"seed": 1, "commands": ["project"], "files": ["summary.txt"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER, LOCK, MANIFEST, "summary.txt"]


def test_a_command_that_fails_before_writing_leaves_the_run_complete(tmp_path):
    with RunDirectory(tmp_path) as directory:
        directory.begin("run")
        directory.finish("run", {"seed": 0})
    with pytest.raises(RuntimeError, match="no figures"):
        with RunDirectory(tmp_path) as directory:
            directory.begin("figures")
            raise RuntimeError("no figures")
    assert read_manifest(tmp_path)["seed"] == 0


def test_an_interrupted_projection_is_resumed_but_an_interrupted_run_is_not(tmp_path):
    with RunDirectory(tmp_path) as directory:
        directory.begin("run")
        directory.finish("run", {"seed": 0})
    for interrupted, allowed in (("project", True), ("report", True), ("run", False)):
        with RunDirectory(tmp_path) as directory:
            directory.begin(interrupted)
            directory.write("summary.txt", "half of it")  # then killed
        with RunDirectory(tmp_path) as directory:
            if allowed:
                assert directory.previous("project")["seed"] == 0
            else:
                with pytest.raises(ValueError, match=r"incomplete run .*`goodwill run` was"):
                    directory.previous("project")
                assert directory.previous("project", allow_incomplete=True) is None


def test_a_run_removes_an_earlier_runs_files_and_nothing_else(write_config, tmp_path):
    directory = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(write_config(**TINY), progress=False)
        jobs.report(directory)  # the earlier run's report, in the ledger
        assert (directory / "tables/costs.tex").is_file()
        (directory / "notes.txt").write_text("the user's own")
        (directory / "tables/mine.tex").write_text("the user's own")
        text = write_config(**TINY).read_text()
        start = text.index("[projection]")
        end = text.index("[figures]")
        path = tmp_path / "unprojected.toml"
        text = text[:start] + text[end:].replace("fan_intensities", "# fan")
        start, end = text.index("[decision]"), text.index("[output]")  # it analyses projections
        path.write_text(text[:start] + text[end:])
        run(load_config(path), progress=False)
    assert not (directory / "projection.nc").exists()
    assert not (directory / "breakeven.nc").exists() and not (directory / "sensitivity.nc").exists()
    assert not (directory / "projection_summary.csv").exists()
    assert (
        not (directory / "report.html").exists() and not (directory / "tables/costs.tex").exists()
    )
    assert (directory / "notes.txt").read_text() == "the user's own"
    assert (directory / "tables/mine.tex").read_text() == "the user's own"
    assert (directory / "estimates.nc").exists() and (directory / MANIFEST).exists()
