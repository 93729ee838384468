"""The goodwill command: subcommands, run directory, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from sim import load_config, simulate_panel
from sim.cli import main
from tests.conftest import NO_CALIBRATION, TINY


def test_validate(write_config, capsys):
    path = write_config(**TINY)
    assert main(["validate", str(path)]) == 0
    assert "valid (1,500 consumers x 22 weeks, seed 20170301)" in capsys.readouterr().out


def test_simulate_writes_the_panel(write_config, tmp_path, capsys):
    path = write_config(**TINY)
    out = tmp_path / "panel.parquet"
    assert main(["simulate", str(path), "--out", str(out), "--n-consumers", "900"]) == 0
    expected, truth = simulate_panel(load_config(path), n_consumers=900)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    assert f"{truth.multiplier:+.4f}" in capsys.readouterr().out


def test_calibrate_prints_the_scale(write_config, capsys):
    path = write_config(**TINY)
    assert main(["calibrate", str(path), "--target", "-2"]) == 0
    assert "consumer.response.loss_per_yuan = " in capsys.readouterr().out


def test_run_writes_a_complete_run_directory(write_config, tmp_path, capsys):
    path = write_config(**TINY)
    assert main(["run", str(path)]) == 0
    directory = tmp_path / "run"
    names = sorted(p.name for p in directory.iterdir())  # no checkpoint left behind
    assert names == sorted(
        [".goodwill-run.json", ".goodwill-run.lock",
         "panel.parquet", "consumers.parquet", "truth_event_time.csv", "spend_trajectories.csv",
         "estimates.csv", "multipliers.csv", "estimates.nc", "projection.nc",
         "projection_summary.csv", "breakeven.nc", "sensitivity.nc", "summary.txt",
         "config.json", "figures", "manifest.json"]
    )  # fmt: skip
    figures = sorted(p.name for p in (directory / "figures").iterdir())
    assert figures == sorted(
        f"{kind}.png"
        for kind in ("event_study", "spend_trajectories", "response_path", "goodwill_fan",
                     "cost_by_intensity", "frontier", "tornado")
    )  # fmt: skip
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["seed"] == 20170301 and manifest["n_consumers"] == 1500
    assert manifest["true_multiplier"] == pytest.approx(-3.57, abs=1e-8)
    truth = pd.read_csv(directory / "truth_event_time.csv", index_col="event_time")
    assert truth.loc[0:11, "per_yuan"].sum() == pytest.approx(-3.57, abs=1e-8)
    panel = pd.read_parquet(directory / "panel.parquet")
    assert len(panel) == 1500 * 22
    assert "truth: 12-week spend change per yuan of counterfeit -3.5700" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "missing.toml"], "missing.toml: config file not found"),
        (["simulate", "CONFIG"], "the following arguments are required: --out"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["calibrate", "CONFIG"], "no calibration.target_multiplier; pass --target"),
        (
            ["simulate", "CONFIG", "--out", "x.parquet", "--n-consumers", "0"],
            "argument --n-consumers: must be a positive integer, got 0",
        ),
        (
            ["simulate", "CONFIG", "--out", "x.parquet", "--seed", "-3"],
            "argument --seed: must be a non-negative integer, got -3",
        ),
        (
            ["calibrate", "CONFIG", "--target", "0.5"],
            "argument --target: must be a finite negative number (a loss), got 0.5",
        ),
        (
            ["calibrate", "CONFIG", "--target", "nan"],
            "argument --target: must be a finite negative number (a loss), got nan",
        ),
        (
            ["breakeven", "CONFIG", "--intensity", "-1"],
            "argument --intensity: must be a finite intensity >= 0, got -1",
        ),
        (
            ["breakeven", "CONFIG", "--multiplier", "2"],
            "argument --multiplier: must be a finite negative number (a loss), got 2",
        ),
        (["breakeven", "CONFIG"], "estimates not found; run `goodwill run CONFIG` first"),
    ],
)
def test_errors_are_one_line_with_exit_2(write_config, capsys, argv, message):
    path = write_config(**NO_CALIBRATION)
    argv = [str(path) if a == "CONFIG" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_reports_config_errors_without_traceback(write_config):
    path = write_config(**{"fake_rate = 0.01": "fake_rate = 2"})
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"goodwill: error: {path}: consumer.exposure.fake_rate: Input should be less than or "
        "equal to 1, got 2\n"
    )
    assert not (path.parent / "run").exists()  # nothing written


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "simulate" in capsys.readouterr().out


def test_run_on_a_panel_shorter_than_the_horizon(write_config, tmp_path, capsys):
    """Without calibration a short panel still runs; it just has no 12-week multiplier."""
    # 1,500 consumers in 8 weeks leave single-consumer cohorts: only the event study
    only_twfe = {'"twfe", "callaway_santanna", "sun_abraham", "imputation"': '"twfe"'}
    path = write_config(**TINY, **NO_CALIBRATION, **only_twfe, **{"n_weeks = 22": "n_weeks = 8",
                                                     "week = 16": "week = 5",
                                                     "window = [-4, 12]": "window = [-3, 6]",
                                                     "cumulative = [0, 11]": "cumulative = [0, 5]",
                                                     })  # fmt: skip
    assert main(["run", str(path)]) == 0
    assert "so it has no 12-week multiplier" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["true_multiplier"] is None and manifest["n_weeks"] == 8


COMMANDS = [
    (["validate", "C"], "validate", ("C",)),
    (["simulate", "C", "--out", "P", "--seed", "4"], "simulate", ("C", "P", None, 4)),
    (["calibrate", "C", "--target", "-2"], "calibrate", ("C", -2.0)),
    (["run", "C"], "run", ("C",)),
    (["project", "C"], "project", ("C",)),
    (["figures", "R", "--format", "pdf"], "draw_figures", ("R", None, ["pdf"], None)),
    (["report", "R"], "report", ("R",)),
    (["damages", "--fake-sales", "9", "--config", "C"], "estimate_damages", (9.0, "C", 0.9)),
    (["calibrate-market", "--config", "C"], "calibrate_market", (None, "C")),
    (
        ["fit", "P", "--estimators", "twfe", "--window", "-2", "5", "--vcov", "HC1"],
        "fit_panel",
        ("P", None, {"estimators": ["twfe"]}, {"vcov": "HC1", "window": (-2, 5)}),
    ),
]


@pytest.mark.parametrize(("argv", "job", "arguments"), COMMANDS)
def test_each_command_is_one_job_call_and_a_print(monkeypatch, capsys, argv, job, arguments):
    from pathlib import Path

    from sim import jobs

    calls = []

    def record(name):
        def job_function(*args, **kwargs):
            calls.append((name, args, kwargs))
            return jobs.JobResult(f"message of {name}")

        return job_function

    for name in {c[1] for c in COMMANDS}:
        monkeypatch.setattr(jobs, name, record(name))
    assert main(argv) == 0
    assert capsys.readouterr().out == f"message of {job}\n"
    ((called, args, kwargs),) = calls
    values = [str(a) if isinstance(a, Path) else a for a in [*args, *kwargs.values()]]
    if job == "calibrate_market":  # its --data defaults to the shipped CSV
        values[0] = None
    assert called == job and values[: len(arguments)] == list(arguments)


def test_breakeven_prints_the_intervals(write_config, capsys):
    path = write_config(**{"n_weeks = 52": "n_weeks = 26"})
    assert main(["breakeven", str(path), "--multiplier", "-3.57", "--intensity", "2"]) == 0
    out = capsys.readouterr().out
    assert "Break-even of intensity 2:" in out and "response multiplier -3.570" in out
    assert out.count("take_rate") == 2  # one row per opening


def test_each_distinct_warning_is_one_line_once(monkeypatch, capsys):
    import warnings

    from sim import jobs

    def noisy(config):
        for _ in range(2):  # as a run fits each estimator once per estimand
            warnings.warn("dropped 3 singleton\nobservation(s)", UserWarning, stacklevel=1)
            warnings.warn("dropped 4 singleton observation(s)", UserWarning, stacklevel=1)
        return jobs.JobResult("done")

    monkeypatch.setattr(jobs, "validate", noisy)
    assert main(["validate", "C"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "goodwill: warning: dropped 3 singleton observation(s)",
        "goodwill: warning: dropped 4 singleton observation(s)",
    ]
    assert main(["validate", "C"]) == 0  # a second command shows them again
    assert len(capsys.readouterr().err.splitlines()) == 2
