"""Shared fixtures: small simulated panels of the baseline model, a small run, and the
small projections of the goodwill-loss Monte Carlo (sim tests and models.market tests)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models import ConsumerSpendModel, ResponsePath
from sim import load_config, run
from sim.config import ProjectionSettings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
"""Reference files of the tests (sources and the commands that made them: README.md there)."""

collect_ignore_glob = ["data/*.py"]
"""The scripts in tests/data made reference files with the peers (csdid, ...), which the tests
do not install: they are records of how a file was made, not tests."""


@pytest.fixture(scope="session")
def baseline_config():
    return load_config(ROOT / "configs" / "baseline.toml")


@pytest.fixture(scope="session")
def baseline_model(baseline_config) -> ConsumerSpendModel:
    return baseline_config.consumer


@pytest.fixture(scope="session")
def small_panel(baseline_model):
    """5,000 consumers x 22 weeks of the baseline model (about 430 counterfeit buyers)."""
    return baseline_model.simulate(n_consumers=5_000, n_weeks=22, seed=11)


@pytest.fixture
def write_config(tmp_path):
    """Write a variant of configs/quick.toml: ``write_config(old=new, ...)`` edits its text."""

    def write(name: str = "config.toml", **replace: str) -> Path:
        text = (ROOT / "configs" / "quick.toml").read_text()
        text = text.replace('directory = "runs/quick"', f'directory = "{tmp_path / "run"}"')
        for old, new in replace.items():
            assert old in text, f"{old!r} is not in configs/quick.toml"
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


TINY = {
    "n_consumers = 20000": "n_consumers = 1500",
    'formats = ["png", "pdf", "svg"]': 'formats = ["png"]',
    "dpi = 300 ": "dpi = 80 ",
}
"""Replacements that make the quick config tiny: 1,500 consumers, figures as small PNGs."""

NO_CALIBRATION = {
    "[calibration]\n": "",
    "target_multiplier = -3.57\n": "",
    'weighting = "value"\n': "",
}
"""Replacements that drop the calibration section of the quick config."""


SMALL_RUN = {
    "n_consumers = 20000": "n_consumers = 4000",
    "n_draws = 200 ": "n_draws = 40 ",
    "block_size = 50 ": "block_size = 20 ",
}
"""Replacements that make the quick config a small complete run (about 2 s): all four
estimators and a 40-draw projection."""


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The run directory of a small complete run of configs/quick.toml (``SMALL_RUN``),
    written once per session; tests must not modify it."""
    base = tmp_path_factory.mktemp("small_run")
    text = (ROOT / "configs" / "quick.toml").read_text()
    text = text.replace('directory = "runs/quick"', f'directory = "{base / "run"}"')
    for old, new in SMALL_RUN.items():
        assert old in text, f"{old!r} is not in configs/quick.toml"
        text = text.replace(old, new)
    path = base / "config.toml"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropped always-treated cohort, expected here
        return run(path, progress=False).directory


@pytest.fixture(scope="session")
def mpdta() -> pd.DataFrame:
    """The mpdta panel (tests/data/README.md) with cohort NaN for never-treated counties."""
    df = pd.read_csv(DATA / "mpdta.csv")
    df["cohort"] = df["first.treat"].where(df["first.treat"] > 0)
    return df


# --- small projections (tests/sim/test_projection.py, test_checkpoint.py, test_costs.py,
# test_executors.py and tests/models/market/test_loss_draws.py) ---------------------------

HORIZON = 12
PATH = -3.57 * 0.85 ** np.arange(HORIZON) / (0.85 ** np.arange(HORIZON)).sum()
"""The study's multiplier spread over 12 weeks with a 15% weekly decay."""


def response(scale: float = 1.0, se: float = 0.04) -> ResponsePath:
    return ResponsePath(scale * PATH, np.eye(HORIZON) * se**2)


def config_with(**projection):
    """configs/quick.toml with its [projection] replaced by small settings."""
    config = load_config(ROOT / "configs" / "quick.toml")
    settings = {
        "intensities": [0.0, 0.5, 1.0, 2.5],
        "n_draws": 30,
        "n_weeks": 26,
        "block_size": 7,
        "priors": {"entry_elasticity": 0.25, "detection_max": 0.25, "exit_rate": 0.3},
        "market": config.projection.market,
        "platform": config.projection.platform,
    }
    settings.update(projection)
    return config.model_copy(update={"projection": ProjectionSettings(**settings)})


def assert_identical(a: xr.Dataset, b: xr.Dataset, same_config: bool = True) -> None:
    """Bit-identical data, coordinates and attrs (but the config's execution settings, with
    ``same_config=False``)."""
    if not same_config:
        a, b = a.copy(), b.copy()
        a.attrs.pop("config"), b.attrs.pop("config")
    assert a.identical(b)
    for name in a.data_vars:
        assert np.array_equal(a[name].to_numpy(), b[name].to_numpy(), equal_nan=True), name
