"""Fault injection: ``goodwill run`` and ``goodwill project`` killed (SIGKILL) at random points,
then run again. After each kill no file is partial (every output goodwill names loads); after
the next command no temporary file is left and the outputs equal those of an uninterrupted run
bit for bit.

Slow: ``python -m pytest -m slow tests/sim/test_fault_injection.py``. ``GOODWILL_FAULTS``
sets the number of kills of each command (default 10); the kill times are drawn from a seeded
generator, uniform over the uninterrupted command's duration, so a run is repeatable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.store import TEMPORARY
from tests.conftest import TINY

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("GOODWILL_FAULTS", "10"))

PROJECTION = {"n_draws = 200 ": "n_draws = 400 ", "block_size = 50 ": "block_size = 20 "}
"""A projection of 20 blocks, so that kills land in it and resume from its checkpoint."""

COMPARED = (
    "panel.parquet",
    "consumers.parquet",
    "truth_event_time.csv",
    "spend_trajectories.csv",
    "estimates.csv",
    "multipliers.csv",
    "estimates.nc",
    "projection.nc",
    "projection_summary.csv",
    "breakeven.nc",
    "sensitivity.nc",
    "config.json",
    "figures/event_study.png",
    "figures/goodwill_fan.png",
)
"""The outputs compared with the uninterrupted run (the summary and manifest hold timings)."""


def goodwill(*argv: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sim.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def killed(argv: list[str], after: float) -> None:
    """Start a command and SIGKILL it ``after`` seconds later (if it is still running)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


def content(directory: Path, name: str) -> object:
    """A file's content as compared: datasets loaded, other files' bytes; the run directory's
    own path (in the stored config) replaced by a placeholder."""
    path = directory / name
    if path.suffix == ".nc":
        dataset = xr.load_dataset(path)
        if "config" in dataset.attrs:
            dataset.attrs["config"] = dataset.attrs["config"].replace(str(directory), "RUN")
        return dataset
    return path.read_bytes().replace(str(directory).encode(), b"RUN")


def same(a: object, b: object) -> bool:
    return a.identical(b) if isinstance(a, xr.Dataset) else a == b


def assert_nothing_partial(directory: Path) -> None:
    """Every file goodwill names (all but its temporaries) reads completely."""
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".nc": xr.load_dataset,
        ".json": lambda p: json.loads(p.read_text()),
        ".png": lambda p: p.read_bytes().startswith(b"\x89PNG") or pytest.fail(f"{p}"),
    }
    for path in directory.rglob("*"):
        if path.is_file() and not TEMPORARY.match(path.name) and path.suffix in readers:
            readers[path.suffix](path)


def stale(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if TEMPORARY.match(p.name)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its config, outputs and the durations of run and project."""
    base = tmp_path_factory.mktemp("fault_reference")
    config = write(base, base / "run")
    started = time.perf_counter()
    assert goodwill("run", str(config)).returncode == 0
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    assert goodwill("project", str(config)).returncode == 0
    project_s = time.perf_counter() - started
    outputs = {name: content(base / "run", name) for name in COMPARED}
    return outputs, run_s, project_s


def write(base: Path, directory: Path) -> Path:
    root = Path(__file__).resolve().parents[2]
    text = (root / "configs" / "quick.toml").read_text()
    text = text.replace('directory = "runs/quick"', f'directory = "{directory}"')
    for old, new in {**TINY, **PROJECTION}.items():
        assert old in text
        text = text.replace(old, new)
    path = base / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", ["run", "project"])
def test_killed_commands_leave_no_partial_file_and_resume_bit_identically(
    reference, tmp_path, command
):
    outputs, run_s, project_s = reference
    config = write(tmp_path, tmp_path / "run")
    directory = tmp_path / "run"
    if command == "project":
        assert goodwill("run", str(config)).returncode == 0
    duration = run_s if command == "run" else project_s
    rng = np.random.default_rng(17)
    results = []
    for kill, after in enumerate(rng.uniform(0.5, duration, size=KILLS)):
        killed([command, str(config)], after)
        assert_nothing_partial(directory)
        left = len(stale(directory))
        finished = goodwill(command, str(config))
        assert finished.returncode == 0, f"kill {kill} at {after:.1f} s: {finished.stderr}"
        assert stale(directory) == [], f"kill {kill} at {after:.1f} s"
        differ = [n for n in COMPARED if not same(content(directory, n), outputs[n])]
        assert differ == [], f"kill {kill} at {after:.1f} s: {differ} differ"
        results.append((round(float(after), 1), left))
    print(f"{command}: {KILLS} kills at (s, stale temporaries left): {results}")
