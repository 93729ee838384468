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
    design: IndicatorDesign, residuals: np.ndarray, bread: np.ndarray
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

    Returns
    -------
    numpy.ndarray
        Units x periods, still summing to zero within each unit.

    Raises
    ------
    ValueError
        When a unit alone determines a coefficient (leverage 1).
    """
    unit = design.fe.codes[0]
    n_units, n_periods = residuals.shape
    unit_name = design.fe.names[0]
    centre = np.eye(n_periods) - 1.0 / n_periods
    means = design.period_means
    common = means @ bread @ means.T
    adjusted = np.empty_like(residuals)
    active = design.column >= 0
    treated = np.zeros(n_units, dtype=bool)
    treated[unit[active]] = True
    controls = np.flatnonzero(~treated)
    if controls.size:
        hat = centre @ common @ centre + centre / n_units
        _require_leverage_below_one(hat[None], unit_name)
        adjusted[controls] = residuals[controls] @ np.linalg.inv(np.eye(n_periods) - hat)
    units = np.flatnonzero(treated)
    columns, values = _treated_regressors(design, active, units, n_units, n_periods)
    k = bread.shape[0]
    padded = np.zeros((k + 1, k + 1))  # column k stands for "no regressor in this period"
    padded[:k, :k] = bread
    bread_means = np.zeros((k + 1, n_periods))
    bread_means[:k] = bread @ means.T
    for start in range(0, units.size, UNIT_BATCH):
        batch = slice(start, start + UNIT_BATCH)
        c, x = columns[batch], values[batch]
        own = x[:, :, None] * x[:, None, :] * padded[c[:, :, None], c[:, None, :]]
        mixed = x[:, :, None] * bread_means[c]
        blocks = own - mixed - mixed.transpose(0, 2, 1) + common
        hat = centre @ blocks @ centre + centre / n_units
        _require_leverage_below_one(hat, unit_name)
        solved = np.linalg.solve(np.eye(n_periods) - hat, residuals[units[batch], :, None])
        adjusted[units[batch]] = solved[:, :, 0]
    return adjusted


def _unit_grid(
    e: np.ndarray, unit: np.ndarray, period: np.ndarray, n_units: int, n_periods: int
) -> np.ndarray:
    """Row values as a units x periods array (a balanced panel: one row per cell)."""
    grid = np.empty((n_units, n_periods))
    grid[unit, period] = e
    return grid


def _treated_regressors(
    design: IndicatorDesign, active: np.ndarray, units: np.ndarray, n_units: int, n_periods: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each treated unit's regressor column by period (k where none) and its value (0)."""
    unit, period = design.fe.codes
    position = np.full(n_units, -1, dtype=np.intp)
    position[units] = np.arange(units.size)
    k = len(design.names)
    columns = np.full((units.size, n_periods), k, dtype=np.intp)
    values = np.zeros((units.size, n_periods))
    rows = np.flatnonzero(active)
    columns[position[unit[rows]], period[rows]] = design.column[rows]
    values[position[unit[rows]], period[rows]] = design.value[rows]
    return columns, values


def _require_leverage_below_one(hat: np.ndarray, unit_name: str) -> None:
    """Raise if a unit's hat block has an eigenvalue of 1: without it, a coefficient is not
    identified, so it cannot be left out."""
    largest = np.linalg.eigvalsh(hat)[:, -1]
    n_alone = int((largest > MAX_LEVERAGE).sum())
    if n_alone:
        raise ValueError(
            f"vcov: CR3 leaves out one {unit_name} at a time, but {n_alone} "
            f"{unit_name}(s) alone determine a coefficient (leverage 1, such as the only unit of "
            "a cohort) and cannot be left out; use CRV1"
        )
