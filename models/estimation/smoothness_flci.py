"""The fixed-length confidence interval (FLCI) for theta = l'tau_post under Delta^SD(M).

Delta^SD(M) bounds the change in slope of the differential trend delta between consecutive
periods by M: ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M`` (with delta_0 = 0 at
the reference period). The FLCI is the affine estimator ``a + v'betahat`` with v = (v_pre, l)
and half-length ``chi * sd`` that is shortest while covering theta at least ``1 - alpha`` for
every delta in Delta^SD(M), where chi is the ``1 - alpha`` quantile of |N(b/sd, 1)| and b the
worst-case bias (Armstrong and Kolesar, 2018; Rambachan and Roth, 2023, section 4.1).

Following HonestDiD's ``findOptimalFLCI``, the pre-period weights are parameterised by their
cumulative sums u (``v_pre = second differences of u``); the worst-case bias per unit of M is
``sum_{i<K} |u_i| + |u_K| + c_l`` with ``u_K = sum_s s l_s`` fixed, and the variance is
quadratic in u. For each bound h on the standard deviation the smallest bias is a convex
problem; the half-length, a convex function of h, is minimised by bisection on its numerical
derivative between the minimum-variance estimator (hMin) and the estimator that only
extrapolates the last pre-period slope (h0), with a 100-point grid search as HonestDiD's
fall-back. The folded-normal quantile is simulated from R's ``set.seed(seed); rnorm(1e6)``, so
the intervals equal HonestDiD's.

References: Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel Trends",
Review of Economic Studies 90(5), 2555-2591; Armstrong, T. B. and Kolesar, M. (2018),
"Optimal inference in a class of regression models", Econometrica 86(2), 655-683.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize

from models.estimation.r_normal import r_standard_normal

FOLDED_NORMAL_DRAWS = 1_000_000
"""Draws behind the simulated folded-normal quantile (HonestDiD's ``.qfoldednormal``)."""


@dataclass(frozen=True)
class FLCI:
    """One fixed-length confidence interval under Delta^SD(M).

    Attributes
    ----------
    lb, ub : float
        The interval's bounds, ``estimate -/+ half_length``.
    estimate : float
        The affine estimate ``weights @ betahat``.
    half_length : float
        Half the interval's length.
    weights : numpy.ndarray
        The estimator's weights on (pre, post) coefficients; the post block is l.
    sd : float
        The estimator's standard deviation (HonestDiD's optimal h).
    max_bias : float
        Its worst-case bias over Delta^SD(M).
    """

    lb: float
    ub: float
    estimate: float
    half_length: float
    weights: np.ndarray
    sd: float
    max_bias: float


class _SmoothnessProblem:
    """The FLCI's pieces in the cumulative-sum parameterisation u of the pre-period weights."""

    def __init__(self, sigma: np.ndarray, n_pre: int, l_vec: np.ndarray) -> None:
        n_post = l_vec.size
        steps = np.arange(1, n_post + 1, dtype=float)
        self.n_pre = n_pre
        self.last = float(steps @ l_vec)
        reversed_sums = [
            abs(np.arange(1, s + 1) @ l_vec[n_post - s :]) for s in range(1, n_post + 1)
        ]
        self.bias_constant = float(sum(reversed_sums)) - self.last
        first_difference = np.eye(n_pre) - np.eye(n_pre, k=-1)
        self.to_weights = first_difference @ first_difference  # u -> v_pre
        quadratic = self.to_weights.T @ sigma[:n_pre, :n_pre] @ self.to_weights
        linear = self.to_weights.T @ sigma[:n_pre, n_pre:] @ l_vec
        constant = float(l_vec @ sigma[n_pre:, n_pre:] @ l_vec)
        # Variance as a function of the free sums x = u[:-1], with u[-1] = self.last.
        self.quad = quadratic[:-1, :-1]
        self.lin = 2.0 * (quadratic[:-1, -1] * self.last + linear[:-1])
        self.const = quadratic[-1, -1] * self.last**2 + 2.0 * linear[-1] * self.last + constant

    def variance(self, free: np.ndarray) -> float:
        return float(free @ self.quad @ free + self.lin @ free + self.const)

    def bias(self, free: np.ndarray) -> float:
        """Worst-case bias per unit of M."""
        return float(np.abs(free).sum() + abs(self.last) + self.bias_constant)

    def pre_weights(self, free: np.ndarray) -> np.ndarray:
        return self.to_weights @ np.append(free, self.last)

    def minimum_variance(self) -> np.ndarray:
        if self.n_pre == 1:
            return np.empty(0)
        return np.linalg.solve(self.quad, -0.5 * self.lin)

    def least_bias(self, h: float, start: np.ndarray) -> np.ndarray:
        """The free sums with the smallest bias among estimators with sd <= h."""
        k = start.size
        if k == 0 or self.variance(start) >= h * h:
            return start
        split = np.concatenate([np.clip(start, 0, None), np.clip(-start, 0, None)])

        def slack(z: np.ndarray) -> float:
            return h * h - self.variance(z[:k] - z[k:])

        def slack_gradient(z: np.ndarray) -> np.ndarray:
            gradient = -(2.0 * self.quad @ (z[:k] - z[k:]) + self.lin)
            return np.concatenate([gradient, -gradient])

        solution = minimize(
            lambda z: z.sum(),
            split,
            jac=lambda z: np.ones_like(z),
            bounds=[(0.0, None)] * (2 * k),
            constraints=[{"type": "ineq", "fun": slack, "jac": slack_gradient}],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 1000},
        )
        free = solution.x[:k] - solution.x[k:]
        return free if self.variance(free) <= h * h * (1 + 1e-9) else start


@lru_cache(maxsize=4)
def _sorted_draws(seed: int) -> np.ndarray:
    return np.sort(r_standard_normal(FOLDED_NORMAL_DRAWS, seed))


def _folded_order_statistic(draws: np.ndarray, mean: float, k: int) -> float:
    """The k-th smallest (0-based) of |z + mean| over sorted draws z, in O(log n).

    |z + mean| is the union of two sorted sequences: z + mean for z >= -mean (ascending) and
    -(z + mean) for z < -mean (ascending as z decreases); take the k-th of their union.
    """
    split = int(np.searchsorted(draws, -mean))
    n_up, n_down = draws.size - split, split

    def up(i: int) -> float:
        return draws[split + i] + mean if i < n_up else np.inf

    def down(i: int) -> float:
        return -(draws[split - 1 - i] + mean) if i < n_down else np.inf

    lo, hi = max(0, k + 1 - n_down), min(k + 1, n_up)
    while lo < hi:  # i = how many of the k + 1 smallest come from the upper sequence
        i = (lo + hi) // 2
        if up(i) < down(k - i):
            lo = i + 1
        else:
            hi = i
    last_up = up(lo - 1) if lo > 0 else -np.inf
    last_down = down(k - lo) if k - lo >= 0 else -np.inf
    return max(last_up, last_down)


def _folded_normal_quantile(p: float, mean: float, seed: int) -> float:
    """The p-quantile of |Z + mean| over R's simulated draws (R's quantile type 7)."""
    draws = _sorted_draws(seed)
    position = (draws.size - 1) * p
    below = int(np.floor(position))
    low = _folded_order_statistic(draws, mean, below)
    if position == below:
        return float(low)
    high = _folded_order_statistic(draws, mean, below + 1)
    return float(low + (position - below) * (high - low))


def _bisect_convex(half_length, a: float, b: float, n_points: int) -> float:
    """HonestDiD's bisection for the h minimising the convex half-length; NaN if it fails."""
    fail_tol = np.finfo(float).eps ** 0.5
    step = min((b - a) / n_points, abs(b) * np.finfo(float).eps ** (1 / 3))
    fa, fb = half_length(a), half_length(b)
    slope_a = (half_length(a + step) - fa) / step
    slope_b = (half_length(b - step) - fb) / -step
    if slope_a > slope_b or np.isnan(fa) or np.isnan(fb):
        return np.nan
    if slope_b < 0:
        return b
    if slope_a > 0:
        return a
    max_iter = 10 * int(np.ceil(np.log(abs(b - a) / step) / np.log(2)))
    iteration = 1
    while abs(b - a) > step:
        iteration += 1
        mid = (a + b) / 2
        slope = (half_length(mid + step) - half_length(mid - step)) / (2 * step)
        if slope > slope_b + fail_tol or slope + fail_tol < slope_a or iteration > max_iter:
            return np.nan
        if slope > 0:
            b = mid
        else:
            a = mid
    return (a + b) / 2


def optimal_flci(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    m: float,
    alpha: float = 0.05,
    n_points: int = 100,
    seed: int = 0,
) -> FLCI:
    """The shortest fixed-length confidence interval for l'tau_post under Delta^SD(M).

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study coefficients, pre periods first, the reference period omitted.
    sigma : numpy.ndarray
        Their covariance matrix.
    n_pre : int
        Number of pre-period coefficients.
    l_vec : numpy.ndarray
        Weights on the post-period coefficients defining theta.
    m : float
        The smoothness bound M (in the coefficients' units per period squared).
    alpha : float, default 0.05
        One minus the coverage.
    n_points : int, default 100
        HonestDiD's ``numPoints``: sets the bisection's step and the fall-back grid.
    seed : int, default 0
        R seed of the simulated folded-normal quantile.

    Returns
    -------
    FLCI

    Examples
    --------
    >>> import numpy as np
    >>> ci = optimal_flci(np.array([0.0, 0.0, 1.0]), np.eye(3) * 0.01, 2, np.array([1.0]), m=0.0)
    >>> round(ci.estimate, 6), round(ci.half_length, 3)
    (1.0, 0.215)
    """
    problem = _SmoothnessProblem(sigma, n_pre, l_vec)
    start = problem.minimum_variance()
    h_min = np.sqrt(problem.variance(start))
    h_zero = np.sqrt(problem.variance(np.zeros(n_pre - 1)))

    def half_length(h: float) -> float:
        free = problem.least_bias(h, start)
        return _folded_normal_quantile(1 - alpha, m * problem.bias(free) / h, seed) * h

    h_star = _bisect_convex(half_length, h_min, h_zero, n_points) if h_zero > h_min else h_min
    if np.isnan(h_star):
        grid = np.linspace(h_min, h_zero, n_points)
        h_star = grid[int(np.argmin([half_length(h) for h in grid]))]
    free = problem.least_bias(h_star, start)
    max_bias = m * problem.bias(free)
    length = _folded_normal_quantile(1 - alpha, max_bias / h_star, seed) * float(h_star)
    weights = np.concatenate([problem.pre_weights(free), l_vec])
    estimate = float(weights @ betahat)
    return FLCI(
        estimate - length, estimate + length, estimate, length, weights, float(h_star), max_bias
    )
