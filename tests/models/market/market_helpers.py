"""Helpers shared by the market-model tests (tests/models/market)."""

from __future__ import annotations

import numpy as np

from models import EnforcementModel
from tests.conftest import ROOT

ENFORCEMENT_DATA = ROOT / "sim" / "data" / "alibaba_enforcement.csv"


def random_cov(rng: np.random.Generator, size: int, rank: int | None = None) -> np.ndarray:
    factor = rng.normal(size=(size, size if rank is None else rank))
    return factor @ factor.T


def expected_sanction(model: EnforcementModel) -> float:
    """S: takedown + civil suit + conviction (probation or prison), in yuan."""
    sentence = (
        model.probation_share * model.probation_cost
        + (1 - model.probation_share) * model.prison_cost
    )
    return (
        model.takedown_loss
        + model.civil_probability * model.civil_damages
        + model.conviction_probability * sentence
    )


def hand_relative_value(h: np.ndarray, delta: float, sanction_weeks: float) -> np.ndarray:
    """R = V(x) / V(0) = max(1 - h S / pi, 0) * delta / (delta + h)."""
    return np.maximum(1 - h * sanction_weeks, 0.0) * delta / (delta + h)


def peak_share_by_hand(model: EnforcementModel) -> float:
    """Fakes per 10,000 orders at x = 0: f_2016 (R(0) / R(h_1)) ** eta (delta + h_1) / delta."""
    h1, delta = model.detection_2016, model.exit_rate
    weeks = expected_sanction(model) / model.profit_per_week
    ratio = hand_relative_value(0.0, delta, weeks) / hand_relative_value(h1, delta, weeks)
    return model.fake_share_2016 * ratio**model.entry_elasticity * (delta + h1) / delta
