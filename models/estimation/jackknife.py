"""CR3: the leave-one-unit-out (jackknife) variance of an event study on a balanced panel.

The clustered variance CRV1 sums each unit's score ``X~_i' e_i``. A unit that weighs heavily
in a coefficient (with a per-dose design, a unit with a large share of its cohort's sum of
squared doses) pulls the fit towards itself, so its residuals understate its errors, by a
factor ``1 - h`` for a leverage h; when a few large doses dominate, CRV1 is too small exactly
where it matters. CR3 uses the residuals each unit would have if it were left out of the fit,
``(I - H_ii)^-1 e_i`` with ``H_ii`` the unit's block of the hat matrix, which makes it the
jackknife

    V_CR3 = sum_i (b_(-i) - b)(b_(-i) - b)'
          = B [sum_i X~_i' (I - H_ii)^-1 e_i e_i' (I - H_ii)^-1 X~_i] B,

with ``b_(-i)`` the fit without unit i (its rows and its unit effect) and ``B = (X~'X~)^-1``
(Bell and McCaffrey, 2002; MacKinnon, Nielsen and Webb, 2023). No small-sample factor is
applied; inference uses t with G - 1 degrees of freedom, as for CRV1.

On a balanced panel with unit and period effects (:class:`~models.estimation.design
.IndicatorDesign`) the hat block is exact and cheap: with J the T x T centring matrix, P the
period means of the regressors and N the number of units,

    H_ii = J (X_i - P) B (X_i - P)' J + J / N,

the first term the regressors' leverage (``X~_i = J (X_i - P)``), the second the period
effects'. A unit without any non-zero regressor (a control) has ``X_i = 0``, so every control
shares one H; for a treated unit ``X_i`` has one entry per period, so ``X_i B X_i'`` and
``X_i B P'`` are gathers from B and ``B P'``. The T x T systems are solved in batches: no loop
over units, a few T x T x (treated units) arrays at a time. Since ``H_ii 1 = 0`` the adjusted
residuals still sum to zero within each unit, so the design's clustered meat applies to them.

References: Bell, R. M. and McCaffrey, D. F. (2002), "Bias reduction in standard errors for linear
regression with multi-stage samples", Survey Methodology 28(2), 169-181; MacKinnon, J. G.,
Nielsen, M. O. and Webb, M. D. (2023), "Fast and reliable jackknife and bootstrap methods for
cluster-robust inference", Journal of Applied Econometrics 38(5), 671-694.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.estimation.absorb import FixedEffects
from models.estimation.design import DenseDesign, IndicatorDesign

UNIT_BATCH = 4_096
"""Treated units whose T x T hat blocks are formed and solved at once."""

MAX_LEVERAGE = 1 - 1e-8
"""A unit whose hat block has an eigenvalue above this alone determines a coefficient."""


def cr3(
    design: DenseDesign | IndicatorDesign,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
) -> tuple[np.ndarray, float, tuple[int, ...]]:
    """The CR3 covariance, clustered by the unit, its t degrees of freedom and cluster count.

    Parameters
    ----------
    design : IndicatorDesign
        The event-time (or cohort x event-time) indicators of a balanced two-way panel.
    e : numpy.ndarray
        Within residuals of the fit.
    bread : numpy.ndarray
        ``(X~'X~)^-1``.
    fe : FixedEffects
        The unit and period effects (unit first).
    clusters : sequence of (numpy.ndarray, int)
        One cluster variable: the unit's codes.

    Raises
    ------
    ValueError
        For any other design (a dense one: unbalanced panel, covariates, weights or other
        fixed effects) or cluster variable, and when a unit alone determines a coefficient
        (it cannot be left out).
    """
    if not isinstance(design, IndicatorDesign):
        raise ValueError(
            "vcov: CR3 is available for event studies on a balanced panel with unit and period "
            "fixed effects only (no covariates, weights or other fixed effects); use CRV1"
        )
    if len(clusters) != 1 or not np.array_equal(clusters[0][0], fe.codes[0]):
        raise ValueError(f"vcov: CR3 clusters by the unit ({fe.names[0]!r}) only")
    unit, period = design.fe.codes
    n_units, n_periods = design.fe.sizes
    adjusted = leave_one_out_residuals(
        design, _unit_grid(e, unit, period, n_units, n_periods), bread
    )
    flat = adjusted.reshape(-1) if design.fe.grid else adjusted[unit, period]
    meat = design.cluster_meat(flat, unit, n_units)
    return bread @ meat @ bread, n_units - 1, (n_units,)


def leave_one_out_residuals(
    design: IndicatorDesign,
    residuals: np.ndarray,
    bread: np.ndarray,
    patterns: TreatedPatterns | None = None,
) -> np.ndarray:
    """Each unit's residuals had it been left out of the fit, ``(I - H_ii)^-1 e_i``.

    Parameters
    ----------
    design : IndicatorDesign
        The indicators of a balanced two-way panel.
    residuals : numpy.ndarray
        Units x periods residuals, summing to zero within each unit.
    bread : numpy.ndarray
        ``(X~'X~)^-1`` of the fit (or, for a fit under linear restrictions, its restricted
        counterpart ``B - B R' (R B R')^-1 R B``).
    patterns : TreatedPatterns, optional
        The design's treated units by pattern, if already at hand.

    Returns
    -------
    numpy.ndarray
        Units x periods, still summing to zero within each unit.

    Raises
    ------
    ValueError
        When a unit alone determines a coefficient (leverage 1).
    """
    patterns = patterns or TreatedPatterns.of(design)
    n_units, n_periods = residuals.shape
    unit_name = design.fe.names[0]
    identity = np.eye(n_periods)
    means = design.period_means
    period_part = _centred(means @ bread @ means.T) + _centred(identity) / n_units
    adjusted = np.empty_like(residuals)
    controls = patterns.controls
    if controls.size:
        _require_leverage_below_one(period_part[None], unit_name)
        adjusted[controls] = residuals[controls] @ np.linalg.inv(identity - period_part)
    # H_ii = J (v E - P) B (v E - P)' J + J / N: a quadratic in the unit's dose v.
    for pattern, members in zip(patterns.patterns, patterns.members, strict=True):
        squared = _centred(pattern @ bread @ pattern.T)
        mixed = pattern @ bread @ means.T
        linear = _centred(mixed + mixed.T)
        for start in range(0, members.size, UNIT_BATCH):
            batch = members[start : start + UNIT_BATCH]
            dose = patterns.doses[batch, None, None]
            hat = dose**2 * squared - dose * linear + period_part
            _require_leverage_below_one(hat, unit_name)
            solved = np.linalg.solve(identity - hat, residuals[batch, :, None])
            adjusted[batch] = solved[:, :, 0]
    return adjusted


@dataclass(frozen=True)
class TreatedPatterns:
    """The units of a balanced two-way event study by the pattern of their regressors: a
    treated unit of cohort g with dose v has ``X_i = v E_g`` (``E_g``: periods x k, a 1 in each
    period with an indicator, in its column), a control ``X_i = 0``.

    Attributes
    ----------
    patterns : numpy.ndarray
        ``E_g`` of each pattern (patterns x periods x k).
    members : tuple of numpy.ndarray
        The units (codes) of each pattern.
    controls : numpy.ndarray
        The units without a regressor.
    doses : numpy.ndarray
        Each unit's dose (the indicators' value; 0 for controls).
    """

    patterns: np.ndarray
    members: tuple[np.ndarray, ...]
    controls: np.ndarray
    doses: np.ndarray

    @classmethod
    def of(cls, design: IndicatorDesign) -> TreatedPatterns:
        unit, period = design.fe.codes
        n_units, n_periods = design.fe.sizes
        k = len(design.names)
        active = np.flatnonzero(design.column >= 0)
        columns = np.full((n_units, n_periods), k, dtype=np.intp)  # k: no regressor
        columns[unit[active], period[active]] = design.column[active]
        doses = np.zeros(n_units)
        doses[unit[active]] = design.value[active]  # one dose per unit (PanelData checks it)
        treated = np.zeros(n_units, dtype=bool)
        treated[unit[active]] = True
        kinds, pattern_of = np.unique(columns[treated], axis=0, return_inverse=True)
        n_patterns = kinds.shape[0]
        patterns = np.zeros((n_patterns, n_periods, k + 1))
        patterns[np.arange(n_patterns)[:, None], np.arange(n_periods)[None, :], kinds] = 1.0
        treated_units = np.flatnonzero(treated)
        pattern_of = pattern_of.ravel()
        return cls(
            patterns=patterns[:, :, :k],
            members=tuple(treated_units[pattern_of == g] for g in range(n_patterns)),
            controls=np.flatnonzero(~treated),
            doses=doses,
        )


def _centred(matrix: np.ndarray) -> np.ndarray:
    """``J M J``: a square matrix with its row and column means removed."""
    return matrix - matrix.mean(axis=0) - matrix.mean(axis=1)[:, None] + matrix.mean()


def _unit_grid(
    e: np.ndarray, unit: np.ndarray, period: np.ndarray, n_units: int, n_periods: int
) -> np.ndarray:
    """Row values as a units x periods array (a balanced panel: one row per cell)."""
    grid = np.empty((n_units, n_periods))
    grid[unit, period] = e
    return grid


def _require_leverage_below_one(hat: np.ndarray, unit_name: str) -> None:
    """Raise if a unit's hat block has an eigenvalue of (nearly) 1: without the unit, a
    coefficient is not identified, so it cannot be left out. (``(1 - 1e-8) I - H`` has a
    Cholesky factor exactly when every eigenvalue of H is below ``MAX_LEVERAGE``.)"""
    try:
        np.linalg.cholesky(MAX_LEVERAGE * np.eye(hat.shape[-1]) - hat)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"vcov: CR3 leaves out one {unit_name} at a time, but a {unit_name} alone "
            "determines a coefficient (leverage 1, such as the only unit of a cohort) and "
            "cannot be left out; use CRV1"
        ) from None
