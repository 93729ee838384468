"""Regressor matrices after absorbing fixed effects, and the sums the estimators need.

Every estimator works with the within-transformed (and, with weights, square-root-weighted)
regressors X~ and outcome y~. A design provides the few reductions the least-squares fit and
the variance estimators need, so that a sparse design never has to be made dense:

* ``gram()``: X~'X~, and ``cross(y~)``: X~'y~;
* ``residuals(y~, beta)``: y~ - X~ beta, overwriting y~;
* ``cluster_meat(e, codes, G)``: sum over clusters of s_g s_g', with s_g the sum of
  X~_i e_i within cluster g;
* ``hetero_meat(e)``: the sum of e_i^2 X~_i X~_i'.

:class:`DenseDesign` holds X~ as a matrix. :class:`IndicatorDesign` is the event-study case:
each row has at most one non-zero regressor (its event-time bin, equal to 1 or to the
intensity). On a balanced two-way panel it never materialises X~: with unit sums U, period
sums S and total s of X (N units, T periods),
``X~'X~ = X'X - U'U/T - S'S/N + s s'/(NT)`` and ``X~_i = X_i - U_unit(i)/T - S_period(i)/N +
s/(NT)``, which turns every reduction above into a few ``bincount`` calls. On other panels whose
fixed effects are one large one and small others (rows missing, weights, segment x week),
:meth:`IndicatorDesign.absorb` returns the equally sparse
:class:`~models.estimation.sparse_unbalanced_design.UnbalancedIndicatorDesign`; beyond that, a
:class:`DenseDesign`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

from models.estimation.absorb import DEFAULT_MAXITER, DEFAULT_TOL, FixedEffects

if TYPE_CHECKING:
    from models.estimation.sparse_unbalanced_design import UnbalancedIndicatorDesign

_ROW_CHUNK = 262_144
_SPARSE_DENSITY = 0.1
"""Below this share of non-zero entries, a table's cross-product is taken as a sparse one."""


@dataclass(frozen=True)
class DenseDesign:
    """Within-transformed regressors held as a dense matrix.

    Parameters
    ----------
    names : tuple of str
        Regressor names, one per column.
    matrix : numpy.ndarray, shape (n, k)
        X~: demeaned regressors, multiplied by the square root of the weights if any.
    raw_sumsq : numpy.ndarray, shape (k,)
        Weighted sum of squares of each regressor before demeaning (collinearity scale).
    """

    names: tuple[str, ...]
    matrix: np.ndarray
    raw_sumsq: np.ndarray

    @classmethod
    def absorb(
        cls,
        names: Sequence[str],
        x: np.ndarray,
        fe: FixedEffects,
        *,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        overwrite: bool = False,
    ) -> DenseDesign:
        """Demean the columns of ``x`` by ``fe`` and apply its weights.

        ``overwrite=True`` demeans a Fortran-ordered float64 ``x`` in place (no second copy
        of a large matrix); ``x`` then holds the design's matrix.
        """
        x = np.asfortranarray(x, dtype=float).reshape(fe.n_obs, len(names), order="F")
        root_w = None if fe.weights is None else np.sqrt(fe.weights)
        raw_sumsq = np.array(
            [
                float(column @ column) if root_w is None else float((column * fe.weights) @ column)
                for column in x.T
            ]
        )
        if overwrite:
            matrix = fe.demean(x, tol=tol, maxiter=maxiter, out=x)
        else:
            matrix = fe.demean(x, tol=tol, maxiter=maxiter)
        if root_w is not None:
            matrix *= root_w[:, None]
        return cls(tuple(names), matrix, raw_sumsq)

    def select(self, keep: np.ndarray) -> DenseDesign:
        """The design restricted to the columns where ``keep`` is True."""
        return DenseDesign(
            tuple(n for n, k in zip(self.names, keep, strict=True) if k),
            self.matrix[:, keep],
            self.raw_sumsq[keep],
        )

    def gram(self) -> np.ndarray:
        """X~'X~."""
        return self.matrix.T @ self.matrix

    def cross(self, y: np.ndarray) -> np.ndarray:
        """X~'y for a within-transformed outcome y."""
        return self.matrix.T @ y

    def residuals(self, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """y - X~ beta, computed in the memory of ``y`` (which it overwrites)."""
        y -= self.matrix @ beta
        return y

    def cluster_meat(self, e: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sum over clusters of s_g s_g', s_g the sum of X~_i e_i within cluster g."""
        k = self.matrix.shape[1]
        scores = np.empty((n_groups, k))
        codes = codes.astype(np.intp, copy=False)  # converted once, not in every bincount
        for j in range(k):
            scores[:, j] = np.bincount(codes, weights=self.matrix[:, j] * e, minlength=n_groups)
        return scores.T @ scores

    def hetero_meat(self, e: np.ndarray) -> np.ndarray:
        """Sum over observations of e_i^2 X~_i X~_i'."""
        k = self.matrix.shape[1]
        meat = np.zeros((k, k))
        for start in range(0, e.size, _ROW_CHUNK):
            rows = self.matrix[start : start + _ROW_CHUNK]
            meat += (rows * (e[start : start + _ROW_CHUNK] ** 2)[:, None]).T @ rows
        return meat


@dataclass(frozen=True)
class IndicatorDesign:
    """Regressors with at most one non-zero entry per row (event-time indicators).

    Parameters
    ----------
    names : tuple of str
        Regressor names.
    column : numpy.ndarray of integers, shape (n,)
        The column of each row's non-zero entry, or -1 for a row of zeros.
    value : numpy.ndarray, shape (n,)
        The entry's value (1 for indicators, the intensity for per-unit-of-dose indicators).
    fe : FixedEffects
        A balanced, unweighted two-way set (unit first): use :meth:`absorb`, which picks another
        design for every other case.
    """

    names: tuple[str, ...]
    column: np.ndarray
    value: np.ndarray
    fe: FixedEffects
    _active: np.ndarray = field(init=False, repr=False)
    _unit_row: np.ndarray = field(init=False, repr=False)
    _treated_units: np.ndarray = field(init=False, repr=False)
    _active_unit_row: np.ndarray = field(init=False, repr=False)
    _unit_means: np.ndarray = field(init=False, repr=False)
    _period_means: np.ndarray = field(init=False, repr=False)
    _grand_mean: np.ndarray = field(init=False, repr=False)
    _raw_sumsq: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        active = np.flatnonzero(self.column >= 0)
        unit, period = self.fe.codes
        n_units, n_periods = self.fe.sizes
        k = len(self.names)
        column, value = self.column[active], self.value[active]
        # Unit means of X are zero except for treated units: keep a compact table of those,
        # with a final row of zeros that every other unit points to.
        treated_units, compact = np.unique(unit[active], return_inverse=True)
        unit_row = np.full(n_units, treated_units.size, dtype=np.intp)
        unit_row[treated_units] = np.arange(treated_units.size)
        unit_sums = np.bincount(
            compact * k + column, weights=value, minlength=(treated_units.size + 1) * k
        ).reshape(-1, k)
        period_sums = np.bincount(
            period[active].astype(np.int64) * k + column, weights=value, minlength=n_periods * k
        ).reshape(n_periods, k)
        fields = {
            "_active": active,
            "_unit_row": unit_row,
            "_treated_units": treated_units,
            "_active_unit_row": compact,
            "_unit_means": unit_sums / n_periods,
            "_period_means": period_sums / n_units,
            "_grand_mean": period_sums.sum(axis=0) / (n_units * n_periods),
            "_raw_sumsq": np.bincount(column, weights=value**2, minlength=k),
        }
        for name, array in fields.items():
            object.__setattr__(self, name, array)

    @classmethod
    def absorb(
        cls,
        names: Sequence[str],
        column: np.ndarray,
        value: np.ndarray,
        fe: FixedEffects,
        *,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
    ) -> IndicatorDesign | UnbalancedIndicatorDesign | DenseDesign:
        """The exact sparse design on a balanced two-way panel; on other panels whose fixed
        effects are one large one and small others (weighted or not), the exact
        :class:`~models.estimation.sparse_unbalanced_design.UnbalancedIndicatorDesign`; else a
        dense one.

        ``value`` is read only where ``column >= 0``.
        """
        # Imported here: that module builds on this one's helpers.
        from models.estimation.sparse_unbalanced_design import UnbalancedIndicatorDesign

        if fe.balanced_two_way:
            return cls(tuple(names), column, value, fe)
        if UnbalancedIndicatorDesign.applies(fe):
            return UnbalancedIndicatorDesign.absorb(names, column, value, fe)
        return DenseDesign.absorb(
            names,
            _dense_indicators(column, value, len(names)),
            fe,
            tol=tol,
            maxiter=maxiter,
            overwrite=True,
        )

    @property
    def raw_sumsq(self) -> np.ndarray:
        """Sum of squares of each regressor before demeaning."""
        return self._raw_sumsq

    @property
    def period_means(self) -> np.ndarray:
        """The mean of each regressor in each period (periods x k): on a balanced panel
        ``X~_i = J (X_i - period_means)`` for unit i's periods x k block, J the centring."""
        return self._period_means

    def select(self, keep: np.ndarray) -> IndicatorDesign:
        """The design restricted to the columns where ``keep`` is True."""
        renumber = np.where(keep, np.cumsum(keep) - 1, -1)
        column = np.where(self.column >= 0, renumber[self.column], -1)
        names = tuple(n for n, k in zip(self.names, keep, strict=True) if k)
        return IndicatorDesign(names, column, self.value, self.fe)

    def gram(self) -> np.ndarray:
        """X~'X~ from the unit, period and grand sums (exact on a balanced panel)."""
        n_units, n_periods = self.fe.sizes
        unit_means, period_means = self._unit_means, self._period_means
        return (
            np.diag(self._raw_sumsq)
            - n_periods * _cross_product(unit_means)
            - n_units * period_means.T @ period_means
            + n_units * n_periods * np.outer(self._grand_mean, self._grand_mean)
        )

    def cross(self, y: np.ndarray) -> np.ndarray:
        """X~'y = X'y for a within-transformed outcome y."""
        active = self._active
        return np.bincount(
            self.column[active], weights=self.value[active] * y[active], minlength=len(self.names)
        )

    def residuals(self, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """y - X~ beta for a within-transformed outcome y, computed in the memory of ``y``.

        ``X~ beta = X beta - a[unit] - b[period] + c`` with a = U beta / T, b = S beta / N and
        c the grand mean of X beta.
        """
        active = self._active
        e = y
        e[active] -= self.value[active] * beta[self.column[active]]
        unit_part = (self._unit_means @ beta)[self._unit_row]
        period_part = self._period_means @ beta - self._grand_mean @ beta
        if self.fe.grid:
            table = e.reshape(self.fe.sizes)
            table += unit_part[:, None]
            table += period_part[None, :]
        else:
            unit, period = self.fe.codes
            e += unit_part[unit]
            e += period_part[period]
        return e

    def cluster_meat(self, e: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sum over clusters of s_g s_g', s_g the sum of X~_i e_i within cluster g.

        Uses that the residuals sum to zero within every unit and every period. Clustered by
        unit on a grid, s_u = A_u - E_u P with A the treated units' sums of X e, E the units x
        periods residuals and P the period means of X, so the meat is
        ``A'A - A'(E_t P) - (E_t P)'A + P'(E'E)P`` (E_t: treated units' rows), without the
        units x k matrix of scores.
        """
        unit = self.fe.codes[0]
        if self.fe.grid and codes is unit:
            k = len(self.names)
            active = self._active
            n_treated = self._treated_units.size
            treated_sums = np.bincount(
                self._active_unit_row * k + self.column[active],
                weights=self.value[active] * e[active],
                minlength=(n_treated + 1) * k,
            ).reshape(-1, k)[:n_treated]
            residuals = e.reshape(self.fe.sizes)
            cross = (treated_sums.T @ residuals[self._treated_units]) @ self._period_means
            return (
                _cross_product(treated_sums)
                - cross
                - cross.T
                + self._period_means.T @ (residuals.T @ residuals) @ self._period_means
            )
        scores = self.cluster_scores(e, codes, n_groups)
        return scores.T @ scores

    def cluster_scores(self, e: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sums of X~_i e_i within each cluster, shape (n_groups, k).

        Uses that the residuals sum to zero within every unit and every period.
        """
        k = len(self.names)
        unit, period = self.fe.codes
        n_units, n_periods = self.fe.sizes
        active = self._active
        if self.fe.grid and codes is unit:
            residual_by_period = e.reshape(n_units, n_periods)
        else:
            residual_by_period = np.bincount(
                codes.astype(np.int64) * n_periods + period,
                weights=e,
                minlength=n_groups * n_periods,
            ).reshape(n_groups, n_periods)
        scores = residual_by_period @ -self._period_means
        weighted_residuals = self.value[active] * e[active]
        if codes is unit:  # X e summed by unit: only treated units have any
            by_unit = np.bincount(
                self._active_unit_row * k + self.column[active],
                weights=weighted_residuals,
                minlength=(self._treated_units.size + 1) * k,
            ).reshape(-1, k)
            scores[self._treated_units] += by_unit[: self._treated_units.size]
        else:
            scores += np.bincount(
                codes[active].astype(np.int64) * k + self.column[active],
                weights=weighted_residuals,
                minlength=n_groups * k,
            ).reshape(n_groups, k)
        if not self.fe.is_nested(0, codes):
            residual_by_unit = coo_matrix(
                (e, (codes, self._unit_row[unit])),
                shape=(n_groups, self._unit_means.shape[0]),
            ).tocsr()
            scores -= residual_by_unit @ self._unit_means
            residual_by_cluster = np.bincount(codes, weights=e, minlength=n_groups)
            scores += np.outer(residual_by_cluster, self._grand_mean)
        return scores

    def hetero_meat(self, e: np.ndarray) -> np.ndarray:
        """Sum over observations of e_i^2 X~_i X~_i', building X~ in row chunks."""
        k = len(self.names)
        unit, period = self.fe.codes
        meat = np.zeros((k, k))
        for start in range(0, e.size, _ROW_CHUNK):
            rows = slice(start, start + _ROW_CHUNK)
            block = _dense_indicators(self.column[rows], self.value[rows], k)
            block -= self._unit_means[self._unit_row[unit[rows]]]
            block -= self._period_means[period[rows]]
            block += self._grand_mean
            meat += (block * (e[rows] ** 2)[:, None]).T @ block
        return meat


def _cross_product(table: np.ndarray) -> np.ndarray:
    """``table' table``, through a sparse product when most entries are zero.

    A units x columns table of cohort x event-time indicators is mostly zeros (a unit has
    entries only in its own cohort's columns); a dense product would spend its time on them.
    """
    if np.count_nonzero(table) < _SPARSE_DENSITY * table.size:
        sparse = csr_matrix(table)
        return (sparse.T @ sparse).toarray()
    return table.T @ table


def _dense_indicators(column: np.ndarray, value: np.ndarray, k: int) -> np.ndarray:
    """The n x k matrix with ``value`` at ``column`` in each row (zeros where column is -1)."""
    dense = np.zeros((column.size, k), order="F")
    rows = np.flatnonzero(column >= 0)
    active_columns = column[rows]
    for j in range(k):  # column by column: contiguous writes
        selected = rows[active_columns == j]
        dense[selected, j] = value[selected]
    return dense
