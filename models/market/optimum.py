"""The cost-minimising intensity on a continuum: ``continuous_minimum``.

A projection computes each draw's cost on a grid of intensities (for tables and figures). The
optimum between grid points is found by golden-section search, elementwise over any leading
axes (draws, openings), in the bracket around the grid's cheapest point: the two neighbouring
grid points (one at the ends of the grid). The cost is assumed unimodal within that bracket
(the grid should be fine enough for that); the search never leaves the grid's range, and the
grid point itself is kept when no point of the bracket is cheaper, so an optimum at zero
enforcement is reported as exactly zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

INVERSE_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
TOLERANCE = 1e-5
"""Width, in intensity units, to which the bracket is narrowed."""


def continuous_minimum(
    cost: Callable[[np.ndarray], np.ndarray],
    grid: np.ndarray,
    grid_cost: np.ndarray,
    tolerance: float = TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """The minimiser of ``cost`` between the grid points next to the grid's cheapest.

    Parameters
    ----------
    cost : callable
        Maps intensities of shape ``(..., 1)`` to costs of the same shape, elementwise.
    grid : ndarray, shape (n,)
        Intensities, increasing.
    grid_cost : ndarray, shape (..., n)
        The cost at each grid point.
    tolerance : float
        Width of the final bracket.

    Returns
    -------
    intensity, minimum : ndarray, shape (...)
        The cost-minimising intensity and its cost.
    """
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or np.any(np.diff(grid) <= 0):
        raise ValueError("continuous_minimum: the grid must be 1-d and increasing")
    best = np.argmin(grid_cost, axis=-1)
    best_x, best_cost = grid[best], np.take_along_axis(grid_cost, best[..., None], -1)[..., 0]
    if grid.size == 1:
        return best_x, best_cost
    low = grid[np.maximum(best - 1, 0)]
    high = grid[np.minimum(best + 1, grid.size - 1)]
    # the number of steps depends on the grid only, so each element's result does not depend
    # on the others computed with it
    width = float(np.max(grid[2:] - grid[:-2])) if grid.size > 2 else float(grid[1] - grid[0])
    n_steps = max(int(np.ceil(np.log(tolerance / width) / np.log(INVERSE_GOLDEN))), 0)
    inner_low = high - INVERSE_GOLDEN * (high - low)
    inner_high = low + INVERSE_GOLDEN * (high - low)
    cost_low = _evaluate(cost, inner_low)
    cost_high = _evaluate(cost, inner_high)
    for _ in range(n_steps):
        left = cost_low < cost_high  # the minimum lies in [low, inner_high]
        low, high = np.where(left, low, inner_low), np.where(left, inner_high, high)
        kept = np.where(left, inner_low, inner_high)
        kept_cost = np.where(left, cost_low, cost_high)
        new = np.where(
            left, high - INVERSE_GOLDEN * (high - low), low + INVERSE_GOLDEN * (high - low)
        )
        new_cost = _evaluate(cost, new)
        inner_low, cost_low = np.where(left, new, kept), np.where(left, new_cost, kept_cost)
        inner_high, cost_high = np.where(left, kept, new), np.where(left, kept_cost, new_cost)
    found = np.where(cost_low < cost_high, inner_low, inner_high)
    found_cost = np.minimum(cost_low, cost_high)
    keep_grid = best_cost <= found_cost
    return np.where(keep_grid, best_x, found), np.where(keep_grid, best_cost, found_cost)


def _evaluate(cost: Callable[[np.ndarray], np.ndarray], intensity: np.ndarray) -> np.ndarray:
    return cost(intensity[..., None])[..., 0]
