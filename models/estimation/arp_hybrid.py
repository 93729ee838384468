"""The conditional least-favourable hybrid test of moment inequalities with nuisance parameters.

For Delta = {delta : A delta <= d} and theta = l'tau_post, HonestDiD tests
``H0: theta = theta0`` by changing the post-period coordinates to (theta, nuisance) with an
invertible Gamma whose first row is l'. The hypothesis becomes ``E[y - X nu] <= 0`` for some
nuisance nu, with ``y = A betahat - d - a theta0``; the statistic is the linear programme
``eta = min_nu max_i (y - X nu)_i / sd_i``. The conditional test (Andrews, Roth and Pakes, 2023)
compares eta with a truncated-normal quantile given the binding moments; the least-favourable
hybrid first rejects when eta exceeds the ``1 - kappa`` quantile of eta under the least
favourable null (simulated from R's ``set.seed(seed)`` draws, as HonestDiD does) and then runs
the conditional test at level ``(alpha - kappa) / (1 - kappa)`` with the truncation capped at
that critical value.

Many programmes share few optimal bases, so each basis found by HiGHS is kept and certified
(primal and dual feasible) for the other right-hand sides in one matrix product; HiGHS is
called only where no kept basis is optimal.

References: Andrews, I., Roth, J. and Pakes, A. (2023), "Inference for Linear Conditional
Moment Inequalities", Review of Economic Studies 90(6), 2763-2791; Rambachan, A. and Roth, J.
(2023), "A More Credible Approach to Parallel Trends", Review of Economic Studies 90(5),
2555-2591, section 5.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.stats import truncnorm

from models.estimation.r_normal import r_multivariate_normal

LF_SIMULATIONS = 1000
"""Draws behind the least-favourable critical value (HonestDiD's ``sims``)."""
_TOL_LAMBDA = 1e-6  # HonestDiD's threshold for a binding moment
_TOL_EQUALITY = 1e-6  # HonestDiD's tolerance in the dual bisection
_TOL_BISECTION = 1e-6


class _MomentProgram:
    """``eta(y) = min_{eta, nu} eta`` s.t. ``sd * eta + X nu >= y``, for many right-hand sides y."""

    def __init__(self, x: np.ndarray, sd: np.ndarray) -> None:
        self.w = np.column_stack([sd, x])
        n_rows, n_var = self.w.shape
        self.rows = np.empty((0, n_var), dtype=int)  # each kept basis: its binding rows,
        self.inverses = np.empty((0, n_var, n_var))  # the inverse of W on them
        self.vertices = np.empty((0, n_rows))  # and its dual vertex

    def _highs(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        n_var = self.w.shape[1]
        result = linprog(
            np.eye(n_var)[0],
            A_ub=-self.w,
            b_ub=-y,
            bounds=[(None, None)] * n_var,
            method="highs-ds",
        )
        if result.status != 0:
            return np.nan, np.full(y.size, np.nan)
        dual = -result.ineqlin.marginals
        self._keep_basis(dual, self.w @ result.x - y)
        return float(result.fun), dual

    def _keep_basis(self, dual: np.ndarray, slack: np.ndarray) -> None:
        """Keep the optimal basis: the dual's support, completed by other binding rows."""
        n_var = self.w.shape[1]
        order = np.lexsort((np.abs(slack), -dual))
        chosen: list[int] = []
        if dual[order[n_var - 1]] > 0 and np.linalg.cond(self.w[order[:n_var]]) < 1e12:
            chosen = order[:n_var].tolist()  # the usual, non-degenerate vertex
            order = order[n_var:]
        for row in order:
            if len(chosen) == n_var or abs(slack[row]) > 1e-9 * (1 + np.abs(self.w[row]).sum()):
                break
            if np.linalg.matrix_rank(self.w[[*chosen, row]]) == len(chosen) + 1:
                chosen.append(int(row))
        if len(chosen) == n_var:
            inverse = np.linalg.inv(self.w[chosen])
            vertex = np.zeros(self.w.shape[0])
            vertex[chosen] = inverse[0]  # W_B' lambda_B = e_1
            if vertex.min() >= -1e-12:
                self.rows = np.vstack([self.rows, chosen])
                self.inverses = np.concatenate([self.inverses, inverse[None]])
                self.vertices = np.vstack([self.vertices, np.clip(vertex, 0, None)])

    def _certify(self, ys: np.ndarray, first: int) -> np.ndarray:
        """For each row of ys, the first kept basis from ``first`` on that is optimal (-1: none)."""
        rows, inverses = self.rows[first:], self.inverses[first:]
        found = np.full(len(ys), -1)
        for start in range(0, len(ys), 64):
            block = ys[start : start + 64]
            solution = np.einsum("nbj,bij->nbi", block[:, rows], inverses)
            slack = np.einsum("nbi,mi->nbm", solution, self.w) - block[:, None, :]
            scale = 1e-10 * (1 + np.abs(block).max(axis=1))
            optimal = slack.min(axis=2) >= -scale[:, None]
            hit = optimal.any(axis=1)
            found[start : start + 64][hit] = first + optimal[hit].argmax(axis=1)
        return found

    def solve(self, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """eta and the dual vertex lambda (``lambda'y = eta``) for each row of ``ys``."""
        n = ys.shape[0]
        eta = np.full(n, np.nan)
        dual = np.full(ys.shape, np.nan)
        todo = np.arange(n)
        checked = 0
        while todo.size:
            if len(self.rows) > checked:
                basis = self._certify(ys[todo], checked)
                done, basis = todo[basis >= 0], basis[basis >= 0]
                eta[done] = np.einsum("nj,nj->n", ys[done], self.vertices[basis])
                dual[done] = self.vertices[basis]
                todo = todo[np.isin(todo, done, invert=True)]
                checked = len(self.rows)
            if todo.size:
                eta[todo[0]], dual[todo[0]] = self._highs(ys[todo[0]])
                todo = todo[1:]
        return eta, dual


def _quantile_type7(values: np.ndarray, p: float) -> float:
    return float(np.quantile(values[~np.isnan(values)], p))


def least_favorable_cv(
    x: np.ndarray | None, sigma: np.ndarray, kappa: float, seed: int = 0
) -> float:
    """The ``1 - kappa`` quantile of eta under the least favourable null (y ~ N(0, sigma)).

    Without nuisance parameters (``x`` None) eta is the largest standardised moment.
    """
    draws = r_multivariate_normal(LF_SIMULATIONS, sigma, seed)
    sd = np.sqrt(np.diag(sigma))
    if x is None:
        return _quantile_type7((draws / sd).max(axis=1), 1 - kappa)
    eta, _ = _MomentProgram(x, sd).solve(draws)
    return _quantile_type7(eta, 1 - kappa)


def _truncated_quantile(p: float, lower: float, upper: float) -> float:
    return float(truncnorm.ppf(p, lower, upper))


def _conditional_reject(stat: float, lower: float, upper: float, size: float) -> bool:
    """Reject iff the statistic exceeds max(0, the truncated-normal 1 - size quantile)."""
    if not lower <= stat <= upper:
        return False
    return stat > max(0.0, _truncated_quantile(1 - size, lower, upper))


def _primal_truncation(
    y: np.ndarray, w: np.ndarray, sigma: np.ndarray, binding: np.ndarray, vertex: np.ndarray
) -> tuple[float, float, float]:
    """sd of v'y and the truncation (vlo, vup) of v'y given the binding moments (primal case)."""
    slack_rows = ~binding
    gamma = (
        w[slack_rows] @ np.linalg.solve(w[binding], np.eye(len(y))[binding])
        - np.eye(len(y))[slack_rows]
    )
    variance = float(vertex @ sigma @ vertex)
    rho = gamma @ sigma @ vertex / variance
    with np.errstate(divide="ignore"):
        bound = -(gamma @ y) / rho + vertex @ y
    lower = bound[rho > 0].max() if np.any(rho > 0) else -np.inf
    upper = bound[rho < 0].min() if np.any(rho < 0) else np.inf
    return np.sqrt(variance), lower, upper


def _dual_truncation(
    y: np.ndarray, program: _MomentProgram, sigma: np.ndarray, eta: float, vertex: np.ndarray
) -> tuple[float, float]:
    """HonestDiD's search for (vlo, vup) conditioning on the dual vertex (ARP, appendix D).

    c lies in the truncation set iff ``max_{lambda in dual polytope} lambda'(r + b c) = c``; that
    maximum is the moment programme at right-hand side ``r + b c``.
    """
    variance = float(vertex @ sigma @ vertex)
    direction = sigma @ vertex / variance
    residual = y - direction * (vertex @ y)

    def best(c: float) -> tuple[bool, np.ndarray]:
        value, solution = program.solve((residual + direction * c)[None, :])
        return abs(c - value[0]) <= _TOL_EQUALITY, solution[0]

    def shortcut(solution: np.ndarray) -> float:
        numerator = solution @ residual
        numerator = 0.0 if abs(numerator) < np.finfo(float).eps ** 0.75 else numerator
        return numerator / (1 - solution @ direction)

    if not best(eta)[0]:
        return eta, np.inf
    sd = np.sqrt(variance)
    bounds = []
    for start, sign in ((max(100.0, eta + 20 * sd), 1), (min(-100.0, eta - 20 * sd), -1)):
        found, solution = best(start)
        if found:
            bounds.append(sign * np.inf)
            continue
        mid = shortcut(solution)
        for attempt in range(9):  # HonestDiD switches to bisection after nine misses
            found, solution = best(mid)
            if found:
                break
            if attempt < 8:
                mid = shortcut(solution)
        if not found:
            inside, outside = eta, mid
            while abs(outside - inside) > _TOL_BISECTION:
                mid = (inside + outside) / 2
                if best(mid)[0]:
                    inside = mid
                else:
                    outside = mid
        bounds.append(mid)
    return bounds[1], bounds[0]


def lf_hybrid_accepts(
    ys: np.ndarray,
    x: np.ndarray,
    sigma: np.ndarray,
    alpha: float,
    kappa: float,
    lf_cv: float,
) -> np.ndarray:
    """Whether the conditional least-favourable hybrid test accepts each row of ``ys``.

    Parameters
    ----------
    ys : numpy.ndarray
        Moments ``A betahat - d - a theta0``, one row per tested theta0.
    x : numpy.ndarray
        The moments' loadings on the nuisance parameters.
    sigma : numpy.ndarray
        Covariance matrix of the moments.
    alpha, kappa : float
        Size of the test and of its least-favourable first stage.
    lf_cv : float
        The least-favourable critical value (:func:`least_favorable_cv`).
    """
    sd = np.sqrt(np.diag(sigma))
    program = _MomentProgram(x, sd)
    etas, duals = program.solve(ys)
    size = (alpha - kappa) / (1 - kappa)
    n_nuisance = x.shape[1]
    accept = np.zeros(len(ys), dtype=bool)
    for i, (y, eta, vertex) in enumerate(zip(ys, etas, duals, strict=True)):
        if np.isnan(eta):
            accept[i] = True  # HonestDiD does not reject when the programme fails
            continue
        if eta > lf_cv:
            continue
        binding = vertex > _TOL_LAMBDA
        x_binding = x[binding]
        full_rank = min(x_binding.shape) > 0 and np.linalg.matrix_rank(x_binding) == min(
            x_binding.shape
        )
        if binding.sum() == n_nuisance + 1 and full_rank:
            sd_b, lower, upper = _primal_truncation(y, program.w, sigma, binding, vertex)
        else:
            sd_b = np.sqrt(float(vertex @ sigma @ vertex))
            if sd_b**2 < np.finfo(float).eps:
                accept[i] = eta <= 0
                continue
            lower, upper = _dual_truncation(y, program, sigma, eta, vertex)
        stat = eta / sd_b
        accept[i] = not _conditional_reject(stat, lower / sd_b, min(upper, lf_cv) / sd_b, size)
    return accept


def lf_hybrid_accepts_no_nuisance(
    ys: np.ndarray, sigma: np.ndarray, alpha: float, kappa: float, lf_cv: float
) -> np.ndarray:
    """The least-favourable hybrid without nuisance parameters (one post period).

    Rows of ``ys`` are the moments ``A beta(theta0)`` (with d = 0, as in Delta^RM) and
    ``sigma`` their covariance. The statistic is the largest standardised moment; the second
    stage conditions on which moment is largest (ARP, section 3) and, as in HonestDiD's
    ``.testInIdentifiedSet_LF_Hybrid``, does not cap the truncation at the first-stage value.
    """
    sd = np.sqrt(np.diag(sigma))
    correlation = sigma / np.outer(sd, sd)
    size = (alpha - kappa) / (1 - kappa)
    accept = np.zeros(len(ys), dtype=bool)
    for i, y in enumerate(ys):
        moments = y / sd
        top = int(np.argmax(moments))
        if moments[top] > lf_cv:
            continue
        loading = correlation[:, top] - correlation[top, top]
        residual = moments - correlation[:, top] * moments[top]
        residual = residual - residual[top]
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = -residual / loading
        lower = bound[loading < 0].max() if np.any(loading < 0) else -np.inf
        upper = bound[loading > 0].min() if np.any(loading > 0) else np.inf
        accept[i] = moments[top] <= max(0.0, _truncated_quantile(1 - size, lower, upper))
    return accept
