"""The conservative variance of the imputation estimator (BJS Theorem 3), as cluster scores.

Each estimate is linear in the outcomes, ``theta = sum_it v_it Y_it``: ``v_it = w_it`` on the
treated observations and ``v^0 = -S0 Z0 (Z0'S0Z0)^- Z1' w1`` on the untreated ones (Z the unit
and period dummies, S the sampling weights, 1 without weights). With the residuals ``eps~``
(the first stage's on untreated observations, ``tau_it - tau~_it`` on treated ones) the variance
is ``sum_g (sum_{it in g} v_it eps~_it)^2`` over the clusters g. This module computes the scores
``sum_{it in g} v_it eps~_it`` of every cluster for every estimate at once (see
:mod:`models.estimation.imputation` for the estimand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from models.estimation.two_way_equations import TwoWayNormalEquations


@dataclass(frozen=True)
class TreatedObservations:
    """The imputable treated observations, in long form.

    Attributes
    ----------
    unit_index, period_index : numpy.ndarray of int
        Position of each observation in the units x periods grid.
    event : numpy.ndarray of int
        Its event time.
    effect : numpy.ndarray
        Its imputed effect ``tau_it``.
    weight : numpy.ndarray
        Its weight before normalisation, ``s_it omega_i`` (sampling weight times dose, each 1
        when absent): an estimate's ``w_it`` is ``weight / sum(weight * dose)`` over its members.
    dose : numpy.ndarray
        ``omega_i`` (1 without ``intensity``).
    """

    unit_index: np.ndarray
    period_index: np.ndarray
    event: np.ndarray
    effect: np.ndarray
    weight: np.ndarray
    dose: np.ndarray


@dataclass(frozen=True)
class Clusters:
    """Clusters above (or across) the units: a code for every observation of the grid.

    Attributes
    ----------
    codes : numpy.ndarray of int, shape (n_units, n_periods)
        The cluster of each observation (any code where a unit has no row).
    size : int
        The number of codes.
    """

    codes: np.ndarray
    size: int


def memberships(event: np.ndarray, horizons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which treated observations enter which estimate: (observation, estimate column) pairs.

    Columns ``0..H-1`` are the horizons, column H the static estimate (every event time >= 0).
    """
    position = np.minimum(np.searchsorted(horizons, event), horizons.size - 1)
    in_horizon = np.flatnonzero(horizons[position] == event)
    static = np.flatnonzero(event >= 0)
    member = np.concatenate([in_horizon, static])
    column = np.concatenate([position[in_horizon], np.full(static.size, horizons.size)])
    return member, column


def cluster_scores(
    equations: TwoWayNormalEquations,
    residual: np.ndarray,
    effects: TreatedObservations,
    cohorts: np.ndarray,
    member: np.ndarray,
    column: np.ndarray,
    w: np.ndarray,
    clusters: Clusters | None = None,
) -> np.ndarray:
    """Scores ``sum_{it in g} v_it eps~_it`` of every cluster g (rows) for every estimate.

    ``residual`` is ``s_it eps_it`` on the untreated observations (0 elsewhere), ``w`` the
    weight of each (observation ``member``, estimate ``column``) pair. Without ``clusters`` the
    clusters are the units.
    """
    n_units, n_periods = residual.shape
    k = int(column.max()) + 1
    unit_cell = effects.unit_index[member] * k + column
    unit_coef, period_coef = untreated_weights(equations, effects, member, column, w)
    centred = w * (effects.effect - _cell_means(effects, cohorts))[member]
    if clusters is None:
        # The a_i part of sum_t v^0_it eps_it vanishes: the weighted first-stage residuals of
        # each unit sum to zero (its normal equation for alpha_i).
        untreated_part = -(residual @ period_coef)
        treated_part = np.bincount(unit_cell, weights=centred, minlength=n_units * k)
        return untreated_part + treated_part.reshape(n_units, k)
    units = np.repeat(np.arange(n_units), n_periods)
    periods = np.tile(np.arange(n_periods), n_units)
    codes, size = clusters.codes.ravel(), clusters.size
    by_unit = csr_matrix((residual.ravel(), (units, codes)), shape=(n_units, size))
    by_period = csr_matrix((residual.ravel(), (periods, codes)), shape=(n_periods, size))
    untreated_part = -(by_unit.T @ unit_coef + by_period.T @ period_coef)
    cell = clusters.codes[effects.unit_index, effects.period_index][member] * k + column
    treated_part = np.bincount(cell, weights=centred, minlength=size * k)
    return untreated_part + treated_part.reshape(size, k)


def untreated_weights(
    equations: TwoWayNormalEquations,
    effects: TreatedObservations,
    member: np.ndarray,
    column: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``(a, l)`` of every estimate's weights on the untreated observations.

    They solve ``Z0'S0Z0 (a, l) = Z1'w1``, so that ``v^0_it = -s_it (a_i + l_t)``; shapes
    (n_units, k) and (n_periods, k) for the k estimate columns.
    """
    n_units, n_periods = equations.mask.shape
    k = int(column.max()) + 1
    unit_cell = effects.unit_index[member] * k + column
    period_cell = effects.period_index[member] * k + column
    unit_totals = np.bincount(unit_cell, weights=w, minlength=n_units * k).reshape(n_units, k)
    period_totals = np.bincount(period_cell, weights=w, minlength=n_periods * k).reshape(
        n_periods, k
    )
    return equations.solve(unit_totals, period_totals)


def _cell_means(effects: TreatedObservations, cohorts: np.ndarray) -> np.ndarray:
    """tau~: each treated observation's cohort x event-time mean effect, weighted by
    ``v_it^2``, proportional within a cell to ``(s_it omega_i)^2``."""
    _, cohort_code = np.unique(cohorts[effects.unit_index], return_inverse=True)
    event_code = effects.event - effects.event.min()
    _, cell = np.unique(cohort_code * (int(event_code.max()) + 1) + event_code, return_inverse=True)
    weight = effects.weight**2
    means = np.bincount(cell, weights=weight * effects.effect) / np.bincount(cell, weights=weight)
    return means[cell]
