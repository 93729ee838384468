"""Issue 17's defects, each reproduced: concurrency with real processes, directories that are
not goodwill's, commands that leave a run incomplete, damaged checkpoints, leftovers of killed
writes, signals and a full disk. Each test failed on the code before the run directory was
owned (git b77586b)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from filelock import FileLock, Timeout

from models import CheckpointWarning
from sim import jobs, load_config
from sim.cli import main
from sim.owned_directory import LOCK, MARKER
from sim.projection import project_goodwill
from sim.rundir import CHECKPOINT, MANIFEST
from tests.conftest import ROOT, TINY, assert_identical, config_with, response

GOODWILL = [sys.executable, "-m", "sim.cli"]

LONG_PROJECTION = {
    "n_draws = 200 ": "n_draws = 2000 ",
    "block_size = 50 ": "block_size = 20 ",
    "n_weeks = 520 ": "n_weeks = 104 ",
}
"""A projection of 100 blocks over two years, long enough to kill or to overlap with another
process."""


def quick_config(write_config, name: str = "config.toml", **replace: str) -> Path:
    """The tiny quick config without [decision] (its Sobol analysis only adds time)."""
    path = write_config(name, **TINY, **replace)
    text = path.read_text()
    start, end = text.index("[decision]"), text.index("[output]")
    path.write_text(text[:start] + text[end:])
    return path


def goodwill(*argv: str, cwd: Path = ROOT) -> subprocess.Popen:
    """``goodwill`` in a child process that takes Ctrl-C as from a terminal: a test run
    started in the background (``.ci/run &``) has SIGINT ignored, the child would inherit
    that, and Python then never raises KeyboardInterrupt."""
    return subprocess.Popen(
        [*GOODWILL, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_until_locked(directory: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until another process holds the directory's lock."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the process never locked the directory"
        if (directory / LOCK).exists():
            try:
                FileLock(directory / LOCK, timeout=0).acquire()
            except Timeout:
                return
            FileLock(directory / LOCK).release(force=True)
        time.sleep(0.05)


def wait_for_blocks(checkpoint: Path, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 300
    while len(list(checkpoint.glob("block-*.npz"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


def served(checkpoint: Path) -> str | None:
    """The fingerprint of the inputs a checkpoint serves (None while it is replaced)."""
    try:
        return (checkpoint / "fingerprint").read_text()
    except FileNotFoundError:
        return None


def listing(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_a_second_run_into_a_directory_in_use_is_refused_at_once(write_config, tmp_path):
    first = quick_config(write_config, **LONG_PROJECTION)
    second = quick_config(write_config, "other.toml", **{"n_draws = 200 ": "n_draws = 50 "})
    running = goodwill("run", str(first))
    wait_until_locked(tmp_path / "run", running)
    started = time.monotonic()
    refused = subprocess.run([*GOODWILL, "run", str(second)], capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "run: in use by another goodwill process" in refused.stderr
    assert time.monotonic() - started < 60  # at once: before any simulation
    assert running.wait() == 0, running.stderr.read()
    manifest = json.loads((tmp_path / "run" / MANIFEST).read_text())
    assert manifest["seed"] == 20170301 and manifest["commands"] == ["run"]


def test_a_killed_projection_resumes_exactly_after_a_concurrent_and_a_foreign_attempt(
    write_config, tmp_path
):
    """The issue's corruption: two projections of one run (here: other draws), both killed,
    then one resumed. The second is refused while the first runs; the first's checkpoint is
    discarded by the other's, never mixed; the resumed projection equals an uninterrupted
    one."""
    path = quick_config(write_config, **LONG_PROJECTION)
    other = quick_config(write_config, "other.toml", **{**LONG_PROJECTION, "n_draws = 2000 ":
                                                        "n_draws = 1500 "})  # fmt: skip
    run_dir = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jobs.run(path, progress=False)
    checkpoint = run_dir / CHECKPOINT
    first = goodwill("project", str(path))
    wait_for_blocks(checkpoint, first, 5)
    refused = subprocess.run([*GOODWILL, "project", str(other)], capture_output=True, text=True)
    assert refused.returncode == 2 and "in use by another goodwill process" in refused.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    # Killed while computing, the projection had changed nothing but its checkpoint.
    assert json.loads((run_dir / MANIFEST).read_text())["commands"] == ["run"]
    stamp = (checkpoint / "fingerprint").read_text()
    second = goodwill("project", str(other))
    deadline = time.monotonic() + 300
    while served(checkpoint) in (stamp, None):  # until it took the checkpoint over
        assert second.poll() is None, second.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    wait_for_blocks(checkpoint, second, 3)
    second.send_signal(signal.SIGKILL)
    second.wait()
    resumed = subprocess.run([*GOODWILL, "project", str(path)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "checkpoint" in resumed.stderr and "other inputs" in resumed.stderr
    assert not checkpoint.exists()
    projected = xr.load_dataset(run_dir / "projection.nc")
    config = load_config(path)
    fresh = project_goodwill(config, jobs.stored_response(config), progress=False)
    assert_identical(projected, fresh)
    manifest = json.loads((run_dir / MANIFEST).read_text())
    assert manifest["commands"] == ["run", "project"]


def test_project_rewrites_the_config_the_summary_and_the_manifest(write_config, tmp_path):
    path = quick_config(write_config)
    run_dir = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jobs.run(path, progress=False)
        jobs.report(run_dir)
        assert (run_dir / "report.html").is_file()
        more = quick_config(write_config, "more.toml", **{"n_draws = 200 ": "n_draws = 60 "})
        jobs.project(more, progress=False)
    assert json.loads((run_dir / "config.json").read_text())["projection"]["n_draws"] == 60
    assert xr.load_dataset(run_dir / "projection.nc").sizes["draw"] == 60
    manifest = json.loads((run_dir / MANIFEST).read_text())
    assert manifest["commands"] == ["run", "report", "project"]
    assert not (run_dir / "report.html").exists()  # it described the earlier projection
    assert "report.html" not in manifest["files"]
    changed = quick_config(write_config, "seed.toml", **{"seed = 20170301": "seed = 7"})
    with pytest.raises(ValueError, match=r"seed.toml: seed differ\(s\) from the run's"):
        jobs.project(changed, progress=False)


def test_report_on_an_incomplete_run_is_an_error_or_marked(small_run, tmp_path, capsys):
    directory = tmp_path / "run"
    directory.mkdir()
    for name, content in listing(small_run).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)
    (directory / MANIFEST).unlink()
    assert main(["report", str(directory)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "incomplete run (no manifest.json" in error
    assert "--allow-incomplete" in error and not (directory / "report.html").exists()
    assert main(["report", str(directory), "--allow-incomplete"]) == 0
    html = (directory / "report.html").read_text(encoding="utf-8")
    assert "Incomplete run" in html
    assert not (directory / MANIFEST).exists()  # nothing vouches for an incomplete run


@pytest.mark.parametrize("with_files", [True, False])
def test_a_directory_that_is_not_goodwills_loses_nothing(write_config, tmp_path, with_files):
    """A non-empty directory without goodwill's marker is refused before any work; with
    --adopt goodwill writes there but deletes nothing of its own."""
    target = tmp_path / "run"
    target.mkdir()
    (target / "figures").mkdir()
    (target / "figures" / "event_study.png").write_bytes(b"another application's")
    (target / "report.html").write_text("another application's")
    if with_files:
        (target / "data.csv").write_text("a,b\n1,2\n")
    before = listing(target)
    path = quick_config(write_config)
    started = time.monotonic()
    refused = subprocess.run([*GOODWILL, "run", str(path)], capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "not a goodwill directory" in refused.stderr and "--adopt" in refused.stderr
    assert time.monotonic() - started < 60
    assert listing(target) == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jobs.run(path, progress=False, adopt=True)
        jobs.run(path, progress=False)  # adopted: now goodwill's, and its own files go
    after = listing(target)
    assert after["report.html"] == before["report.html"]  # goodwill did not write it
    if with_files:
        assert after["data.csv"] == before["data.csv"]
    assert MARKER in after and MANIFEST in after


def test_the_repository_and_system_folders_are_refused_before_any_work(tmp_path, capsys):
    text = (ROOT / "configs" / "quick.toml").read_text()
    for directory, reason in [
        (".", "goodwill's repository itself"),
        ("figures", "inside goodwill's own figures/ folder"),
        ("/etc", "inside the system directory /etc"),
        ("/", "a system or home directory itself"),
        ("~", "a system or home directory itself"),
        ("", "expected a path, got an empty one"),
    ]:
        path = tmp_path / "config.toml"
        path.write_text(text.replace('directory = "runs/quick"', f'directory = "{directory}"'))
        os.chdir(ROOT)
        assert main(["validate", str(path)]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "output.directory" in error and reason in error, error
    before = listing(ROOT / "figures")
    assert main(["fit", "missing.parquet", "--out", "figures"]) == 2
    assert "inside goodwill's own figures/ folder" in capsys.readouterr().err
    assert listing(ROOT / "figures") == before


def test_home_is_expanded_not_a_literal_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "configs" / "quick.toml").read_text()
    path = tmp_path / "config.toml"
    path.write_text(text.replace('directory = "runs/quick"', 'directory = "~/runs/x"'))
    assert load_config(path).output.directory == tmp_path / "runs" / "x"
    assert not (tmp_path / "~").exists()


def test_a_damaged_checkpoint_block_is_discarded_and_named(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    config = config_with()
    project_goodwill(config, response(), checkpoint=checkpoint)
    blocks = sorted(checkpoint.glob("block-*.npz"))
    blocks[2].write_bytes(blocks[2].read_bytes()[:100])  # a block cut short
    with pytest.warns(CheckpointWarning, match=rf"{blocks[2].name}.*damaged"):
        resumed = project_goodwill(config, response(), checkpoint=checkpoint)
    assert_identical(resumed, project_goodwill(config, response()))


def test_the_next_run_removes_leftovers_of_killed_writes(write_config, tmp_path):
    path = quick_config(write_config, **{"n_draws = 200 ": "n_draws = 40 "})
    run_dir = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jobs.run(path, progress=False)
        stale = [
            run_dir / f".panel.parquet.{'a' * 32}.tmp",
            run_dir / "figures" / f".tornado.png.{'0' * 32}.tmp",
            run_dir / CHECKPOINT / f".block-000001.npz.{'f' * 32}.tmp",
        ]
        for file in stale:
            file.parent.mkdir(exist_ok=True)
            file.write_bytes(b"half written")
        kept = run_dir / ".notes.tmp"  # not named as goodwill names its temporaries
        kept.write_text("the user's")
        jobs.report(run_dir)
    assert not any(file.exists() for file in stale)
    assert kept.read_text() == "the user's"


@pytest.mark.parametrize(
    ("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_an_interrupted_projection_says_how_to_resume_in_one_line(
    write_config, tmp_path, sent, status
):
    path = quick_config(write_config, **LONG_PROJECTION)
    process = goodwill("run", str(path))
    wait_for_blocks(tmp_path / "run" / CHECKPOINT, process, 2)
    process.send_signal(sent)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status
    lines = err.splitlines()  # the warnings of the fit, then one line
    assert lines[-1] == f"goodwill: interrupted; resume with: goodwill run {path}"
    assert all(line.startswith("goodwill: warning: ") for line in lines[:-1])
    leftovers = [p for p in (tmp_path / "run").rglob(".*.tmp")]
    assert leftovers == []
    assert FileLock(tmp_path / "run" / LOCK, timeout=0).acquire()  # released


def test_a_full_disk_names_the_file(small_run, tmp_path, monkeypatch, capsys):
    """netCDF reports a full disk as 'NetCDF: HDF error'; goodwill names the file and the
    cause, and the previous file stays."""
    directory = tmp_path / "run"
    directory.mkdir()
    for name, content in listing(small_run).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)
    before = (directory / "estimates.nc").read_bytes()

    def full(*args, **kwargs):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    monkeypatch.setattr(
        "sim.store.shutil.disk_usage", lambda path: SimpleNamespace(total=1, used=1, free=0)
    )
    panel = directory / "panel.parquet"
    assert main(["fit", str(panel), "--out", str(tmp_path / "fit")]) == 2
    lines = capsys.readouterr().err.splitlines()  # the fit's warnings, then one error line
    error = lines[-1]
    assert all(line.startswith("goodwill: warning: ") for line in lines[:-1])
    assert "estimates.nc: cannot write the file: no space left on the device" in error
    assert (directory / "estimates.nc").read_bytes() == before
    assert not list((tmp_path / "fit").glob(".*.tmp"))
    assert np.isfinite(xr.load_dataset(directory / "estimates.nc")["estimate"]).any()
