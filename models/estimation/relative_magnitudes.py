"""Confidence sets for theta = l'tau_post under relative magnitudes, Delta^RM(Mbar).

Delta^RM(Mbar) allows each post-period change of the differential trend,
``|delta_{t+1} - delta_t|`` for t >= 0, to be at most Mbar times the largest pre-period change
(delta_0 = 0 at the reference period). It is a union over which pre-period change s is the
largest and over its sign of polyhedra ``{A_s delta <= 0}``; the confidence set is the union of
the conditional least-favourable hybrid sets for each piece, each found by testing a grid of
theta values (HonestDiD's ``computeConditionalCS_DeltaRM`` with its defaults: 1,000 points
within 20 standard deviations of l'betahat_post either side of zero, or of the identified set
(:func:`theta_grid_bounds`), only the moments involving post periods, kappa = alpha / 10).

Reference: Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel Trends",
Review of Economic Studies 90(5), 2555-2591, sections 2.4.2 and 5.3.
"""

from __future__ import annotations

import warnings
from typing import Literal, NamedTuple

import numpy as np

from models.estimation.arp_hybrid import (
    least_favorable_cv,
    lf_hybrid_accepts,
    lf_hybrid_accepts_no_nuisance,
)

GRID_POINTS = 1000
"""HonestDiD's default number of theta values tested for Delta^RM."""

GridCentre = Literal["zero", "identified"]


def relative_magnitude_constraints(
    n_pre: int, n_post: int, mbar: float, s: int, positive: bool
) -> np.ndarray:
    """The matrix A with ``A delta <= 0`` iff delta is in the (s, sign) piece of Delta^RM(Mbar).

    Parameters
    ----------
    n_pre, n_post : int
        Numbers of pre- and post-period coefficients (the reference period excluded).
    mbar : float
        The relative-magnitude bound.
    s : int
        Which pre-period change is the largest: ``delta_s - delta_{s-1}``, s in
        ``-(n_pre - 1), ..., 0``.
    positive : bool
        Whether that change is positive.

    Returns
    -------
    numpy.ndarray
        One row per constraint, one column per coefficient (pre periods first).
    """
    n_diff = n_pre + n_post
    differences = np.zeros((n_diff, n_diff + 1))
    differences[np.arange(n_diff), np.arange(n_diff)] = -1.0
    differences[np.arange(n_diff), np.arange(n_diff) + 1] = 1.0
    largest = np.zeros(n_diff + 1)
    largest[n_pre + s - 1 : n_pre + s + 1] = (-1.0, 1.0) if positive else (1.0, -1.0)
    scale = np.r_[np.ones(n_pre), np.full(n_post, mbar)]
    upper = np.outer(scale, largest)
    a = np.vstack([differences - upper, -differences - upper])
    a = a[(a * a).sum(axis=1) > 1e-10]
    return np.delete(a, n_pre, axis=1)


def _change_of_basis(l_vec: np.ndarray) -> np.ndarray:
    """Invertible Gamma with first row l': l, then the unit vectors except the last nonzero of l."""
    last = int(np.flatnonzero(l_vec)[-1])
    units = np.delete(np.eye(l_vec.size), last, axis=0)
    return np.vstack([l_vec, units])


def _piece_accepts(
    betahat: np.ndarray,
    sigma: np.ndarray,
    a: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    grid: np.ndarray,
    alpha: float,
    kappa: float,
    seed: int,
) -> np.ndarray:
    """Which grid values the hybrid test accepts for one polyhedral piece ``{A delta <= 0}``."""
    post_rows = np.flatnonzero(np.any(a[:, n_pre:] != 0, axis=1))
    if l_vec.size == 1:
        a = a[post_rows]
        sigma_y = a @ sigma @ a.T
        lf_cv = least_favorable_cv(None, sigma_y, kappa, seed)
        moments = (a @ betahat)[None, :] - np.outer(grid, a[:, n_pre])
        return lf_hybrid_accepts_no_nuisance(moments, sigma_y, alpha, kappa, lf_cv)
    transformed = a[:, n_pre:] @ np.linalg.inv(_change_of_basis(l_vec))
    sigma_y = (a @ sigma @ a.T)[np.ix_(post_rows, post_rows)]
    nuisance = transformed[post_rows, 1:]
    lf_cv = least_favorable_cv(nuisance, sigma_y, kappa, seed)
    moments = (a @ betahat)[post_rows][None, :] - np.outer(grid, transformed[post_rows, 0])
    return lf_hybrid_accepts(moments, nuisance, sigma_y, alpha, kappa, lf_cv)


def theta_grid_bounds(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    centre: GridCentre = "zero",
) -> tuple[float, float]:
    """The range of theta values tested: 20 standard deviations of l'betahat_post either side.

    ``"zero"`` centres it on 0 (HonestDiD's ``computeConditionalCS_DeltaRM``); ``"identified"``
    widens the identified set of Delta^RM(Mbar) at betahat, ``l'betahat_post -/+ Mbar
    sum_s s |l_s| max_t |pre change_t|``, by 20 standard deviations (HonestDiD's branch
    ``1period_issue``, commit 888de5e "Fixed grid to match Stata's improvement", which made the
    tables printed in HonestDiD's README; never merged into its master).
    """
    post = slice(n_pre, None)
    sd_theta = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    if centre == "zero":
        return -20 * sd_theta, 20 * sd_theta
    largest_pre_change = float(np.abs(np.diff(np.r_[betahat[:n_pre], 0.0])).max())
    steps = np.arange(1, l_vec.size + 1)
    half = mbar * float(steps @ np.abs(l_vec)) * largest_pre_change + 20 * sd_theta
    estimate = float(l_vec @ betahat[post])
    return estimate - half, estimate + half


class RobustInterval(NamedTuple):
    """A robust confidence interval on a tested range of theta values.

    ``lb_open`` (``ub_open``) is True when the first (last) value of the range is accepted:
    the set may then extend beyond that end, and the bound is the range's end, not the set's.
    """

    lb: float
    ub: float
    lb_open: bool = False
    ub_open: bool = False


def relative_magnitude_ci(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float = 0.05,
    grid_points: int = GRID_POINTS,
    grid_centre: GridCentre = "zero",
    seed: int = 0,
) -> RobustInterval:
    """The conditional least-favourable hybrid confidence interval under Delta^RM(Mbar).

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study coefficients, pre periods first, the reference period omitted.
    sigma : numpy.ndarray
        Their covariance matrix.
    n_pre : int
        Number of pre-period coefficients (at least 1).
    l_vec : numpy.ndarray
        Weights on the post-period coefficients defining theta.
    mbar : float
        The relative-magnitude bound.
    alpha : float, default 0.05
        One minus the coverage; the first stage has size alpha / 10.
    grid_points : int, default 1000
        Number of theta values tested.
    grid_centre : {"zero", "identified"}, default "zero"
        The tested range (:func:`theta_grid_bounds`).
    seed : int, default 0
        R seed of the least-favourable critical values.

    Returns
    -------
    RobustInterval
        The smallest and largest accepted grid values, NaN when none is; an end is open when
        the range's end value is accepted.

    Warns
    -----
    UserWarning
        When an end of the grid is accepted: the interval may extend beyond it (HonestDiD's
        "CI is open at one of the endpoints").
    """
    n_post = l_vec.size
    lower, upper = theta_grid_bounds(betahat, sigma, n_pre, l_vec, mbar, grid_centre)
    grid = np.linspace(lower, upper, grid_points)
    accept = np.zeros(grid_points, dtype=bool)
    for s in range(-(n_pre - 1), 1):
        for positive in (True, False):
            a = relative_magnitude_constraints(n_pre, n_post, mbar, s, positive)
            accept |= _piece_accepts(betahat, sigma, a, n_pre, l_vec, grid, alpha, alpha / 10, seed)
    if not accept.any():
        return RobustInterval(np.nan, np.nan)
    if accept[0] or accept[-1]:
        warnings.warn(
            f"Delta^RM(Mbar={mbar:g}): the confidence set reaches the end of the tested range "
            f"[{lower:.6g}, {upper:.6g}] and may extend beyond it; widen it with "
            "grid_centre='identified'",
            UserWarning,
            stacklevel=2,
        )
    return RobustInterval(
        float(grid[accept].min()), float(grid[accept].max()), bool(accept[0]), bool(accept[-1])
    )
