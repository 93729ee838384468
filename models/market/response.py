"""The per-yuan spend response a projection multiplies counterfeit sales by: ``ResponsePath``.

A fake bought in week w with value v changes its buyer's spend in week w + k by v * r_k for
the response horizon k = 0..H-1. The path r and its sampling covariance come from a fitted
event study with an intensity (the per-yuan effects at event times 0..H-1, signed: a loss is
negative); the projection draws paths from the normal distribution they define.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.estimation.results import EventStudyResults


@dataclass(frozen=True)
class ResponsePath:
    """The per-yuan spend response by event week with its sampling covariance.

    Attributes
    ----------
    mean : ndarray, shape (horizon,)
        Estimated effect per yuan of counterfeit at event weeks 0..horizon-1 (signed).
    cov : ndarray, shape (horizon, horizon)
        Covariance matrix of the estimates.
    """

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=float)  # copies: the path does not change later
        cov = np.array(self.cov, dtype=float)
        if mean.ndim != 1 or mean.size == 0:
            raise ValueError(f"response path: expected a 1-d mean, got shape {mean.shape}")
        if cov.shape != (mean.size, mean.size):
            raise ValueError(
                f"response path: covariance shape {cov.shape} does not match {mean.size} weeks"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise ValueError("response path: mean and covariance must be finite")
        if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12):
            raise ValueError("response path: covariance is not symmetric")
        smallest = np.linalg.eigvalsh(cov).min() if cov.size else 0.0
        if smallest < -1e-10 * max(np.abs(cov).max(), 1e-300):
            raise ValueError(
                f"response path: covariance is not positive semi-definite (eigenvalue "
                f"{smallest:.3g})"
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)

    @classmethod
    def from_results(cls, results: EventStudyResults, first: int, last: int) -> ResponsePath:
        """Effects at event times ``first..last`` of a fitted event study (per yuan)."""
        if results.intensity is None:
            raise ValueError(
                f"{results.model_name}: the projection needs per-yuan effects (fit with an "
                "intensity, e.g. estimation.intensity = 'fake_value')"
            )
        times = list(results.event_times)
        wanted = list(range(first, last + 1))
        missing = [t for t in wanted if t not in times]
        if missing:
            raise ValueError(
                f"{results.model_name}: no estimate at event time(s) "
                f"{', '.join(map(str, missing))} of the response path {first}..{last}"
            )
        where = [times.index(t) for t in wanted]
        return cls(results.coefficients[where], results.covariance.matrix[np.ix_(where, where)])

    @property
    def multiplier(self) -> float:
        """Sum of the path: the spend change over the horizon per yuan of counterfeit."""
        return float(self.mean.sum())

    def root(self) -> np.ndarray:
        """A square root R of the covariance (R R' = cov), valid when it is singular."""
        values, vectors = np.linalg.eigh(self.cov)
        return vectors * np.sqrt(np.clip(values, 0.0, None))

    def draw(self, normals: np.ndarray, root: np.ndarray | None = None) -> np.ndarray:
        """Paths mean + R z for standard normals z of shape (..., horizon).

        An explicit loop of elementwise operations, so a draw does not depend on how many
        are computed together.
        """
        root = self.root() if root is None else root
        paths = np.broadcast_to(self.mean, normals.shape).copy()
        for j in range(self.mean.size):
            paths += normals[..., j, None] * root[:, j]
        return paths
