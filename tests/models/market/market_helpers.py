"""Helpers shared by the market-model tests (tests/models/market)."""

from __future__ import annotations

import numpy as np


def random_cov(rng: np.random.Generator, size: int, rank: int | None = None) -> np.ndarray:
    factor = rng.normal(size=(size, size if rank is None else rank))
    return factor @ factor.T
