"""Event-time indicators on an unbalanced or weighted panel with small extra fixed effects.

:class:`~models.estimation.design.IndicatorDesign` is exact on balanced, unweighted two-way
panels. This module covers the case :mod:`models.estimation.absorb` solves directly: one large
fixed effect (the unit) and small others (period, segment x period, ... with at most
``SMALL_LEVELS`` levels in total), balanced or not, weighted or not. Each row of X has at most
one non-zero entry (its event-time bin, equal to 1 or to the intensity), and the n x k matrix of
within-transformed regressors is never built.

With W the weights, M1 the (weighted) within transformation of the large effect, D the dummies of
the small effects and M the within transformation of all of them (Frisch-Waugh-Lovell,
``M x = M1 x - M1 D (D'W M1 D)^+ D'W M1 x``):

* ``F = D'W M1 X = D'W X - D'W P1 X`` (small levels x k) and ``B = (D'W M1 D)^+ F``: X's unit
  means are zero except in the few treated units, so both are sparse sums;
* ``M X = M1 (X - D B)``: row i of ``D B`` depends only on the combination of small levels of
  row i (a few hundred combinations), and the unit means of ``X - D B`` are those of X minus
  those of ``D B``;
* ``X~'X~ = X'W M X = X'W X - sum_g W_g m_g m_g' - F'B`` with m_g the weighted means of X in the
  treated unit g and W_g its weight;
* with X~ and y~ multiplied by the square root of the weights, ``X~'y~ = X' W^(1/2) y~``, and a
  cluster's score ``s_c = sum_{i in c} X~_i e_i`` is ``A_c - E_c (DB) - R_c U`` with A the
  clusters' sums of X W^(1/2) e, E their sums of W^(1/2) e by combination of small levels, R
  their sums by unit and U the units' means of ``X - D B``. The residuals sum to zero (weighted)
  within every unit, so the last term vanishes when the clusters hold whole units.

Every reduction is a few ``bincount`` calls and sparse products over the n rows plus dense
algebra on tables of treated units, small levels or clusters; the heteroskedastic meat builds X~
in chunks of rows.

Not covered here, as before: the CR3 jackknife and the wild bootstrap pre-trend test, which need
the balanced design's units x periods structure (they are refused with a message), covariates
(SunAbraham's dense design), and fixed effects without a direct solve (several large ones, or a
single one), which take the dense design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from models.estimation.absorb import FixedEffects
from models.estimation.design import _ROW_CHUNK, _cross_product, _dense_indicators
from models.estimation.direct_solve import SmallEffects


@dataclass(frozen=True)
class UnbalancedIndicatorDesign:
    """Indicator regressors absorbed by one large fixed effect and small others, exactly.

    Build with :meth:`absorb` (or through
    :meth:`models.estimation.design.IndicatorDesign.absorb`, which picks this design when the
    panel is not a balanced, unweighted two-way one but the fixed effects are solved directly).

    Parameters
    ----------
    names : tuple of str
        Regressor names, one per column.
    column : numpy.ndarray of integers, shape (n,)
        The column of each row's non-zero entry, or -1 for a row of zeros.
    value : numpy.ndarray, shape (n,)
        The entry's value (1 for indicators, the intensity for per-unit-of-dose indicators).
    fe : FixedEffects
        The absorbed fixed effects, with the weights if any.
    active : numpy.ndarray of intp
        The rows with a non-zero entry.
    level_row : numpy.ndarray of intp, shape (levels of the large effect,)
        Each large level's row in ``level_means`` (the last, of zeros, for untreated levels).
    level_means : numpy.ndarray, shape (treated levels + 1, k)
        Weighted means of X in each treated level of the large effect, then a row of zeros.
    shift : numpy.ndarray, shape (C, k)
        Row ``c`` of ``D B`` for every row of combination ``c`` of small levels
        (:attr:`models.estimation.direct_solve.SmallEffects.combination`).
    gram_matrix : numpy.ndarray, shape (k, k)
        X~'X~.
    raw_sumsq : numpy.ndarray, shape (k,)
        Weighted sum of squares of each regressor before demeaning (collinearity scale).

    Examples
    --------
    >>> unit = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    >>> week = np.array([0, 1, 2, 0, 2, 0, 1, 2])
    >>> fe = FixedEffects.from_codes(["unit", "week"], [unit, week])
    >>> column = np.array([-1, 0, 1, -1, -1, -1, -1, -1])
    >>> design = UnbalancedIndicatorDesign.absorb(["k0", "k1"], column, np.ones(8), fe)
    >>> design.gram().round(4).tolist()
    [[0.3333, -0.1667], [-0.1667, 0.4167]]
    """

    names: tuple[str, ...]
    column: np.ndarray
    value: np.ndarray
    fe: FixedEffects
    active: np.ndarray
    level_row: np.ndarray
    level_means: np.ndarray
    shift: np.ndarray
    gram_matrix: np.ndarray
    raw_sumsq: np.ndarray

    @staticmethod
    def applies(fe: FixedEffects) -> bool:
        """Whether ``fe`` is absorbed by the direct solve (and is not a balanced, unweighted
        two-way panel, which :class:`~models.estimation.design.IndicatorDesign` covers)."""
        return not fe.balanced_two_way and fe._small_effects is not None

    @classmethod
    def absorb(
        cls,
        names: Sequence[str],
        column: np.ndarray,
        value: np.ndarray,
        fe: FixedEffects,
    ) -> UnbalancedIndicatorDesign:
        """The exact design from the sums of X over treated units and small levels.

        ``value`` is read only where ``column >= 0``; ``fe`` must satisfy :meth:`applies`.
        """
        pieces = fe._small_effects
        large = fe.index_codes[pieces.large]
        k = len(names)
        weights = fe.weights
        active = np.flatnonzero(column >= 0)
        active_column = column[active].astype(np.intp)
        active_value = value[active]
        weighted_value = active_value if weights is None else active_value * weights[active]
        # Weighted unit sums of X are zero except in treated units: a compact table of those,
        # with a final row of zeros that every other unit points to.
        treated, compact = np.unique(large[active], return_inverse=True)
        level_row = np.full(fe.sizes[pieces.large], treated.size, dtype=np.intp)
        level_row[treated] = np.arange(treated.size)
        level_sums = np.bincount(
            compact * k + active_column, weights=weighted_value, minlength=(treated.size + 1) * k
        ).reshape(-1, k)
        level_weight = fe._group_weights[pieces.large][treated]
        level_means = level_sums / np.append(level_weight, 1.0)[:, None]
        raw_sumsq = np.bincount(active_column, weights=weighted_value * active_value, minlength=k)
        # F = D'W X - D'W P1 X, summed by combination of small levels, then by level.
        combination = pieces.combination
        direct = np.bincount(
            combination[active] * k + active_column,
            weights=weighted_value,
            minlength=pieces.n_combinations * k,
        ).reshape(-1, k)
        is_treated = np.zeros(level_row.size, dtype=bool)
        is_treated[treated] = True
        treated_rows = np.flatnonzero(is_treated[large])
        treated_weights = np.ones(treated_rows.size) if weights is None else weights[treated_rows]
        by_level = _sums_by(
            treated_weights,
            level_row[large[treated_rows]],
            treated.size,
            combination[treated_rows],
            pieces.n_combinations,
        )
        f = pieces.incidence.T @ (direct - by_level.T @ level_means[:-1])
        b = pieces.inverse @ f
        gram = (
            np.diag(raw_sumsq)
            - _cross_product(level_sums[:-1] / np.sqrt(level_weight)[:, None])
            - f.T @ b
        )
        return cls(
            names=tuple(names),
            column=column,
            value=value,
            fe=fe,
            active=active,
            level_row=level_row,
            level_means=level_means,
            shift=pieces.per_combination(b),
            gram_matrix=(gram + gram.T) / 2,
            raw_sumsq=raw_sumsq,
        )

    def select(self, keep: np.ndarray) -> UnbalancedIndicatorDesign:
        """The design restricted to the columns where ``keep`` is True (every table is linear
        in the columns of X, so its columns are kept as they are)."""
        renumber = np.where(keep, np.cumsum(keep) - 1, -1)
        column = np.where(self.column >= 0, renumber[self.column], -1)
        return replace(
            self,
            names=tuple(n for n, k in zip(self.names, keep, strict=True) if k),
            column=column,
            active=np.flatnonzero(column >= 0),
            level_means=self.level_means[:, keep],
            shift=self.shift[:, keep],
            gram_matrix=self.gram_matrix[np.ix_(keep, keep)],
            raw_sumsq=self.raw_sumsq[keep],
        )

    def gram(self) -> np.ndarray:
        """X~'X~."""
        return self.gram_matrix

    def cross(self, y: np.ndarray) -> np.ndarray:
        """X~'y = X' W^(1/2) y for a within-transformed, square-root-weighted outcome y."""
        active = self.active
        weighted = self._root_weighted(y, active)
        return np.bincount(
            self.column[active], weights=self.value[active] * weighted, minlength=len(self.names)
        )

    def residuals(self, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """y - X~ beta, computed in the memory of ``y`` (which it overwrites).

        ``M X beta = X beta - (D B beta) - u[unit]``, u the units' means of ``X beta - D B beta``.
        """
        large = self._pieces.large
        shifted = (self.shift @ beta)[self._pieces.combination]
        unit_part = (self.level_means @ beta)[self.level_row] - self.fe.group_means(shifted, large)
        fitted = np.negative(shifted, out=shifted)
        fitted -= unit_part[self.fe.index_codes[large]]
        active = self.active
        fitted[active] += self.value[active] * beta[self.column[active]]
        if self.fe.weights is not None:
            fitted *= np.sqrt(self.fe.weights)
        y -= fitted
        return y

    def cluster_meat(self, e: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sum over clusters of s_g s_g', s_g the sum of X~_i e_i within cluster g."""
        scores = self.cluster_scores(e, codes, n_groups)
        with threadpool_limits(limits=1, user_api="blas"):  # thin: see direct_solve
            return scores.T @ scores

    def cluster_scores(self, e: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sums of X~_i e_i within each cluster, shape (n_groups, k) (module docstring)."""
        k = len(self.names)
        active = self.active
        large = self._pieces.large
        whole_units = self.fe.is_nested(large, codes)  # before a copy loses the codes' identity
        if codes is self.fe.codes[large]:  # clustered by the large effect: its intp codes
            codes = self.fe.index_codes[large]
        codes = codes.astype(np.intp, copy=False)
        root_e = self._root_weighted(e, slice(None))
        scores = np.bincount(
            codes[active] * k + self.column[active],
            weights=self.value[active] * root_e[active],
            minlength=n_groups * k,
        ).reshape(n_groups, k)
        combination = self._pieces.combination
        scores -= _sums_by(root_e, codes, n_groups, combination, self.shift.shape[0]) @ self.shift
        if not whole_units:
            unit = self.fe.index_codes[large]
            by_unit = _sums_by(root_e, codes, n_groups, unit, self.fe.sizes[large])
            scores -= by_unit @ self._unit_means()
        return scores

    def hetero_meat(self, e: np.ndarray) -> np.ndarray:
        """Sum over observations of e_i^2 X~_i X~_i', building X~ in chunks of rows."""
        k = len(self.names)
        unit = self.fe.index_codes[self._pieces.large]
        unit_means = self._unit_means()
        root_e = self._root_weighted(e, slice(None))
        meat = np.zeros((k, k))
        for start in range(0, e.size, _ROW_CHUNK):
            rows = slice(start, start + _ROW_CHUNK)
            block = _dense_indicators(self.column[rows], self.value[rows], k)
            block -= self.shift[self._pieces.combination[rows]]
            block -= unit_means[unit[rows]]
            block *= root_e[rows, None]
            meat += block.T @ block
        return meat

    def _unit_means(self) -> np.ndarray:
        """Weighted means of ``X - D B`` in every level of the large effect (levels x k)."""
        large = self._pieces.large
        unit = self.fe.index_codes[large]
        weights = np.ones(unit.size) if self.fe.weights is None else self.fe.weights
        by_combination = _sums_by(
            weights, unit, self.fe.sizes[large], self._pieces.combination, self.shift.shape[0]
        )
        shifted = (by_combination @ self.shift) / self.fe._group_weights[large][:, None]
        return self.level_means[self.level_row] - shifted

    @property
    def _pieces(self) -> SmallEffects:
        """The direct solve's pieces of the fixed effects."""
        return self.fe._small_effects

    def _root_weighted(self, x: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        """``x[rows]`` times the square root of the weights of those rows (``x[rows]`` itself
        without weights)."""
        if self.fe.weights is None:
            return x[rows]
        return x[rows] * np.sqrt(self.fe.weights[rows])


def _sums_by(
    values: np.ndarray, rows: np.ndarray, n_rows: int, columns: np.ndarray, n_columns: int
) -> csr_matrix:
    """The sparse n_rows x n_columns matrix of the sums of ``values`` by (row, column) codes.

    When the observations are sorted by ``rows`` (a panel stored unit by unit), the matrix is
    built without sorting them, repeated entries left to be summed by the products.
    """
    if rows.size and bool((rows[1:] >= rows[:-1]).all()):
        pointers = np.zeros(n_rows + 1, dtype=np.intp)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=pointers[1:])
        return csr_matrix((values, columns, pointers), shape=(n_rows, n_columns))
    return csr_matrix((values, (rows, columns)), shape=(n_rows, n_columns))
