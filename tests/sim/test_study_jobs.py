"""``goodwill study`` end to end (sim.study_jobs, the CLI): its files, its errors, and a study
killed by SIGKILL that resumes to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from sim.cli import main
from sim.config import load_config
from sim.config_files import ConfigError
from sim.study_jobs import study
from tests.sim.report.report_helpers import assert_tables_compile, needs_pdflatex

STUDY_TOML = """
seed = 5
[panel]
n_consumers = {n_consumers}
n_weeks = 14
[estimation]
estimators = ["twfe", "sun_abraham"]
cumulative = [0, 3]
[estimation.twfe]
window = [-3, 6]
[figures]
formats = ["png", "svg"]
dpi = 80
[output]
directory = "{directory}"
[study]
replications = {replications}
block_size = 1
estimators = ["twfe", "sun_abraham", "sun_abraham_hc1"]
[study.variants.sun_abraham_hc1]
estimator = "sun_abraham"
label = "Sun-Abraham, HC1"
options = {{ vcov = "HC1" }}
[study.scenarios.default]
description = "the default model"
[study.scenarios.no_churn]
description = "no victim stops buying"
consumer.churn.probability = 0.0
"""


def _write(tmp_path: Path, name: str = "study.toml", **values: object) -> Path:
    values = {"n_consumers": 1500, "replications": 2, "directory": tmp_path / "out", **values}
    path = tmp_path / name
    path.write_text(STUDY_TOML.format(**values))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("study")
    config = _write(tmp_path)
    assert main(["study", str(config)]) == 0
    return tmp_path / "out"


def test_study_writes_its_files_manifest_last(finished):
    manifest = json.loads((finished / "manifest.json").read_text())
    assert manifest["commands"] == ["study"]
    assert manifest["files"] == sorted(
        [
            "figures/study.png",
            "figures/study.svg",
            "study.nc",
            "study_diagnosis.csv",
            "study_report.html",
            "tables/study_diagnosis.tex",
        ]
    )
    assert not (finished / ".study-checkpoint").exists()
    ds = xr.load_dataset(finished / "study.nc")
    assert ds["estimator"].values.tolist() == ["twfe", "sun_abraham", "sun_abraham_hc1"]
    assert ds["registered"].values.tolist() == ["twfe", "sun_abraham", "sun_abraham"]
    hc1 = ds["cumulative_se"].sel(estimator="sun_abraham_hc1")
    crv1 = ds["cumulative_se"].sel(estimator="sun_abraham")
    assert (hc1 != crv1).all()  # the variant's option reached the fit
    xr.testing.assert_equal(
        ds["cumulative_estimate"].sel(estimator="sun_abraham_hc1", drop=True),
        ds["cumulative_estimate"].sel(estimator="sun_abraham", drop=True),
    )


def test_report_and_table_hold_every_scenario_and_estimator(finished):
    html = (finished / "study_report.html").read_text()
    tex = (finished / "tables" / "study_diagnosis.tex").read_text()
    assert html.count("data:image/png;base64,") == 1
    for text in (html, tex):
        for name in ("default", "no", "Sun-Abraham, HC1", "TWFE"):
            assert name.replace("_", r"\_") in text or name in text
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2  # one per estimand
    assert tex.count(r"\begin{tabular}") == 2


def test_study_again_replaces_its_own_files_only(finished):
    """A second study into the same (goodwill's) directory replaces its own files, removes the
    figure format it no longer writes, and keeps a file it did not write."""
    mine = finished / "notes.txt"
    mine.write_text("a file goodwill did not write")
    text = _write(finished.parent, name="again.toml").read_text()
    path = finished.parent / "again.toml"
    path.write_text(text.replace('formats = ["png", "svg"]', 'formats = ["svg"]'))
    study(path, progress=False)
    assert mine.read_text() == "a file goodwill did not write"
    assert not (finished / "figures" / "study.png").exists()
    assert (finished / "figures" / "study.svg").exists()
    manifest = json.loads((finished / "manifest.json").read_text())
    assert "figures/study.png" not in manifest["files"] and "notes.txt" not in manifest["files"]


def test_a_config_without_a_study_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "plain.toml"
    path.write_text('seed = 1\n[estimation]\nestimators = ["twfe"]\n')
    assert main(["study", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no [study] section" in error


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "consumer.churn.probability = 0.0",
            "consumer.churn.probability = 2.0",
            "study.scenarios.no_churn.consumer.churn.probability",
        ),
        (
            "consumer.churn.probability = 0.0",
            "consumer.churn.chance = 0.0",
            "study.scenarios.no_churn.consumer.churn.chance: unknown key",
        ),
        (
            'options = { vcov = "HC1" }',
            'options = { vcov = "CR9" }',
            "study.variants.sun_abraham_hc1.options.vcov",
        ),
        ('"sun_abraham_hc1"]', '"sun_abraham_hc2"]', "'sun_abraham_hc2' is neither"),
        (
            "[study.scenarios.no_churn]",
            "[study.scenarios.No-churn]",
            "study: scenarios.No-churn: a name must be",
        ),
        ("replications = 2", "replications = 1", "study.replications"),
    ],
)
def test_bad_study_keys_are_named(tmp_path, old, new, key):
    path = _write(tmp_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert key in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_killed_study_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL a real `goodwill study` once a block is saved; the next run resumes from the
    checkpoint and writes what an uninterrupted run writes (three processes, about 40 s; the
    fast suite resumes in-process: tests/sim/test_study.py)."""
    killed = _write(tmp_path, name="killed.toml", directory=tmp_path / "killed", replications=4)
    whole = _write(tmp_path, name="whole.toml", directory=tmp_path / "whole", replications=4)
    command = [sys.executable, "-m", "sim.cli", "study"]
    process = subprocess.Popen([*command, str(killed)], stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / ".study-checkpoint"
    deadline = time.monotonic() + 120
    while not list(checkpoint.glob("block-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = len(list(checkpoint.glob("block-*.npz")))
    assert 1 <= saved < 8 and not (tmp_path / "killed" / "manifest.json").exists()
    subprocess.run([*command, str(killed)], check=True, capture_output=True)
    subprocess.run([*command, str(whole)], check=True, capture_output=True)
    a = xr.load_dataset(tmp_path / "killed" / "study.nc")
    b = xr.load_dataset(tmp_path / "whole" / "study.nc")
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    killed_table = (tmp_path / "killed" / "study_diagnosis.csv").read_bytes()
    assert killed_table == (tmp_path / "whole" / "study_diagnosis.csv").read_bytes()


@needs_pdflatex
def test_study_table_compiles(finished, tmp_path):
    assert_tables_compile([finished / "tables" / "study_diagnosis.tex"], tmp_path)
