"""`goodwill run` on a panel of one's own ([data]): an ingested order log through estimation,
projection, figures and report, with every part that only a simulation knows absent."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from markupsafe import escape

from models import ConsumerSpendModel
from sim import run
from sim.cli import main
from sim.figures import CAPTIONS
from sim.figures.run_figures import SIMULATED_PARTS
from sim.ingest import ingest_log
from sim.jobs import fit_panel, project, report, validate
from tests.sim.test_ingest import _simulated_log, settings

ROOT = Path(__file__).resolve().parents[2]
ESTIMATORS = '["twfe", "sun_abraham", "imputation"]'
"""The estimators that give per-yuan effects on an unbalanced panel (an ingested panel is one:
a consumer's weeks run from their first order to their last)."""
TRUTH_FILES = ("panel.parquet", "consumers.parquet", "truth_event_time.csv")


def own_data_config(directory: Path, panel: Path, extra: str = "") -> Path:
    """configs/quick.toml with a small projection, no decision analysis, the estimators above
    and ``[data] panel``; ``extra`` is appended."""
    text = (ROOT / "configs" / "quick.toml").read_text()
    text = text.replace('directory = "runs/quick"', f'directory = "{directory / "run"}"')
    text = re.sub(r"\n\[decision\]\n(.*\n)*?\n", "\n", text)  # the section up to a blank line
    replacements = {
        'estimators = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]': (
            f"estimators = {ESTIMATORS}"
        ),
        "n_draws = 200 ": "n_draws = 40 ",
        "block_size = 50 ": "block_size = 20 ",
        'formats = ["png", "pdf", "svg"]': 'formats = ["png"]',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    assert "[decision]" not in text
    path = directory / "own.toml"
    path.write_text(f'{text}\n[data]\npanel = "{panel}"\n{extra}')
    return path


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """A simulated panel's order log ingested back into a panel (Parquet)."""
    base = tmp_path_factory.mktemp("own_data")
    simulated, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=22, seed=5)
    log = base / "orders.parquet"
    _simulated_log(simulated).to_parquet(log)
    panel, _ = ingest_log(log, settings(n_weeks=22))
    path = base / "panel.parquet"
    panel.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def own_run(ingested, tmp_path_factory):
    base = tmp_path_factory.mktemp("own_run")
    config = own_data_config(base, ingested)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few effective treated units on a small panel
        result = run(config, progress=False)
    return config, result


def test_the_run_writes_estimates_projection_figures_and_no_truth(own_run):
    _, result = own_run
    directory = result.directory
    written = {path.name for path in result.files}
    assert {"estimates.nc", "multipliers.csv", "projection.nc", "summary.txt"} <= written
    assert {"spend_trajectories.csv", "config.json", "manifest.json"} <= written
    assert not any((directory / name).exists() for name in TRUTH_FILES)
    drawn = ["event_study", "spend_trajectories", "response_path", "goodwill_fan"]
    drawn.append("cost_by_intensity")
    assert {path.name for path in result.figures} == {f"{kind}.png" for kind in drawn}
    assert result.truth is None
    assert "truth" not in pd.read_csv(directory / "estimates.csv").columns
    assert "truth" not in pd.read_csv(directory / "multipliers.csv").columns
    assert "counterfactual" not in pd.read_csv(directory / "spend_trajectories.csv").columns
    estimates = xr.load_dataset(directory / "estimates.nc")
    assert "truth" not in estimates and estimates.attrs["panel"].endswith("panel.parquet")
    assert "truth" not in result.summary


def test_the_manifest_records_the_panel_file_and_no_truth(own_run, ingested):
    _, result = own_run
    manifest = json.loads((result.directory / "manifest.json").read_text())
    panel = pd.read_parquet(ingested)
    assert manifest["data"] == {
        "panel": str(ingested),
        "bytes": ingested.stat().st_size,
        "sha256": hashlib.sha256(ingested.read_bytes()).hexdigest(),
        "rows": len(panel),
        "units": panel["consumer_id"].nunique(),
        "periods": panel["week"].nunique(),
    }
    simulated_only = {"n_consumers", "n_weeks", "loss_per_yuan", "calibration"}
    simulated_only |= {"true_multiplier", "realized_multiplier", "intensity_multiplier"}
    assert not simulated_only & set(manifest)
    assert set(manifest["estimates"]["value"]) == set(json.loads(ESTIMATORS))
    assert manifest["projection"] is not None


def test_the_estimates_are_goodwill_fit_s_on_the_same_panel(own_run, ingested, tmp_path):
    config, result = own_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_panel(ingested, config, seed=20170301, out=tmp_path / "fit")
    for name in ("estimates.csv", "multipliers.csv"):
        assert (tmp_path / "fit" / name).read_bytes() == (result.directory / name).read_bytes()


def test_the_report_shows_no_truth_and_captions_what_is_drawn(own_run):
    _, result = own_run
    report(result.directory)
    html = (result.directory / "report.html").read_text(encoding="utf-8")
    assert "simulated truth" not in html.lower() and "Truth in CI" not in html
    assert str(escape(CAPTIONS["event_study"])) in html  # as jinja escapes it
    for _, sentence in SIMULATED_PARTS.values():
        assert str(escape(sentence)) not in html


def test_project_reprojects_an_own_data_run(own_run):
    config, result = own_run
    before = xr.load_dataset(result.directory / "projection.nc")
    project(config, progress=False)
    after = xr.load_dataset(result.directory / "projection.nc")
    xr.testing.assert_identical(before, after)  # same config and seed: the same draws
    assert not (result.directory / "consumers.parquet").exists()


def test_validate_reads_the_schema_and_counts_the_rows(own_run, ingested):
    config, _ = own_run
    message = validate(config).message
    assert f"{len(pd.read_parquet(ingested)):,} rows" in message
    assert "for the panel" not in message  # its memory is its file's, not estimated


def test_weights_are_allowed_on_one_s_own_panel(ingested, tmp_path):
    panel = pd.read_parquet(ingested)
    panel["w"] = 1.0 + (panel["consumer_id"].to_numpy() % 3)
    weighted = tmp_path / "weighted.parquet"
    panel.to_parquet(weighted, index=False)
    config = tmp_path / "weighted.toml"
    config.write_text(
        f'seed = 1\n[data]\npanel = "{weighted}"\n[estimation]\nintensity = "fake_value"\n'
        f'weights = "w"\n[figures]\nformats = ["png"]\n[output]\ndirectory = "{tmp_path / "r"}"\n'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(config, progress=False)
    assert "weighted by sampling weights 'w'" in result.summary
    assert result.projection is None
    assert np.isfinite(result.estimates["value"]["twfe"].params).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "panel file not found"),
        ("directory", "a directory, not a Parquet file (`goodwill fit DIR` fits"),
        ("column", "column(s) 'fake_value' not in the panel"),
        ("window", "estimation.twfe.window = [-4, 12] reaches beyond the event times a 8-week"),
    ],
)
def test_bad_panels_are_one_line_and_exit_2(ingested, tmp_path, capsys, change, message):
    panel = pd.read_parquet(ingested)
    path = tmp_path / "bad.parquet"
    if change == "directory":
        path.mkdir()
    if change == "column":
        panel.drop(columns="fake_value").to_parquet(path)
    elif change == "window":
        short = panel[panel["week"] <= 8]
        short.assign(fake_week=short["fake_week"].where(short["fake_week"] <= 8)).to_parquet(path)
    config = own_data_config(tmp_path, path)
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_data_needs_estimation(tmp_path, capsys):
    config = tmp_path / "data_only.toml"
    config.write_text(f'seed = 1\n[data]\npanel = "{tmp_path / "p.parquet"}"\n')
    assert main(["validate", str(config)]) == 2
    assert "data needs an [estimation] section" in capsys.readouterr().err
