"""Shared fixtures: small simulated panels of the baseline model."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import ConsumerSpendModel
from sim import load_config

ROOT = Path(__file__).resolve().parents[1]


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
