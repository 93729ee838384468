"""Least squares on an indicator design with unit and period fixed effects, from partitions of a
panel combined exactly: the engine of :mod:`models.estimation.partitioned_event_study` and
:mod:`models.estimation.partitioned_sun_abraham`.

An indicator design gives each row at most one regressor: a column (from a per-row integer key,
-1 for none) and a value (1, or the unit's dose). The event study's columns are its event times,
Sun and Abraham's its cohort x event-time cells; :class:`~models.estimation.design.IndicatorDesign`
is the in-memory twin. When no unit straddles two partitions, (weighted) demeaning by unit is
exact inside each partition (``~``); by Frisch-Waugh-Lovell, beta and the period effects gamma
solve the weighted least squares of y~ on [X~, D~] (D the period dummies), whose normal
equations are sums over partitions. Neither X~ nor D~ is ever built: with W the sampling weights
(1 without), M the units x rows matrix of W, S = M X and W_u a unit's total weight,

* ``X~'WX~ = diag(sum w v^2) - S' diag(1/W_u) S``, ``X~'Wy~ = X'Wy~``;
* ``D~'WD~ = diag(period weight) - M_t' diag(1/W_u) M_t`` (M_t: units x periods of W) and
  ``D~'WX~ = D'WX - M_t' diag(1/W_u) S``, ``D~'Wy~ = D'Wy~``.

Pass 1 (:func:`indicator_moments`) returns these on the partition's own columns and periods;
:func:`solve_indicators` scatters them into the panel's, drops the first period dummy, partials
D~ out of X~ through ``Gamma = (D~'WD~)^-1 D~'WX~``, drops collinear columns as
:func:`~models.estimation.ols.fit_within` does, and solves. Pass 2 (:func:`indicator_scores`)
computes the two-way residuals e; as e sums to zero (weighted) within each unit, a unit's score
is ``s_u = sum_i w_i e_i (X_i - Gamma[t_i])``: it returns ``sum_u s_u s_u'`` (CRV1 by unit,
expanded into sparse products so that no units x k table is built),
``sum_i w_i^2 e_i^2 X~~_i X~~_i'`` (HC1, ``X~~ = X~ - D~ Gamma`` built a block of rows at a
time) and ``sum_i w_i e_i^2`` (iid).

Singletons: a unit with one row in the sample is dropped (alone in its level); a period left
with one row is refused (the in-memory fit drops such rows repeatedly).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix

from models.estimation.effective_treated import EffectiveTreated
from models.estimation.ols import collinear_columns
from models.exceptions import CollinearityWarning, SingletonWarning

HC1_BLOCK = 2**21
"""Entries of X~~ built at a time for the HC1 meat (16 MiB)."""


@dataclass(frozen=True)
class IndicatorRows:
    """A partition's estimation sample: units, local periods and columns, y~ and the weights;
    ``kept`` marks the partition's rows in it."""

    kept: np.ndarray
    unit_codes: np.ndarray
    unit_weight: np.ndarray
    periods: np.ndarray
    period_codes: np.ndarray
    keys: np.ndarray
    column: np.ndarray
    value: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    n_singletons: int

    def by_unit(
        self,
        values: np.ndarray,
        columns: np.ndarray,
        n_columns: int,
        rows: np.ndarray | slice = slice(None),
    ) -> csr_matrix:
        """Units x columns sums of ``values`` (one per row of ``rows``) at their rows' units and
        ``columns``."""
        return csr_matrix(
            (values, (self.unit_codes[rows], columns)), shape=(self.unit_weight.size, n_columns)
        )

    def unit_demeaned(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per row) minus their weighted unit means."""
        means = np.bincount(self.unit_codes, self.weights * values) / self.unit_weight
        return values - means[self.unit_codes]


def indicator_rows(
    unit_codes: np.ndarray,
    time: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    sample: np.ndarray,
    drop_singletons: bool = True,
) -> IndicatorRows:
    """The estimation sample of a partition from its rows (all arrays by row).

    ``key`` is the global column of each row's regressor (-1: none), ``sample`` the rows the
    fit uses; units with one row in it are then dropped (with ``drop_singletons``).
    """
    keep = sample
    if drop_singletons:
        keep = sample & (np.bincount(unit_codes[sample], minlength=unit_codes.max() + 1) > 1)[
            unit_codes
        ]  # fmt: skip
    w = np.ones(int(keep.sum())) if weights is None else weights[keep]
    codes = np.unique(unit_codes[keep], return_inverse=True)[1]
    unit_weight = np.bincount(codes, w)
    y = y[keep]
    y = y - (np.bincount(codes, w * y) / unit_weight)[codes]
    periods, period_codes = np.unique(time[keep], return_inverse=True)
    key = key[keep]
    keys = np.unique(key[key >= 0])
    return IndicatorRows(
        kept=keep,
        unit_codes=codes,
        unit_weight=unit_weight,
        periods=periods,
        period_codes=period_codes,
        keys=keys,
        column=np.where(key >= 0, np.searchsorted(keys, key), -1),
        value=np.where(key >= 0, value[keep], 0.0),
        y=y,
        weights=w,
        n_singletons=int(sample.sum() - keep.sum()),
    )


@dataclass(frozen=True)
class Moments:
    """Pass 1 of one partition: the cross-products of [X~, D~, y~] (weighted) on its columns
    ``keys`` and ``periods``, the columns' weighted raw sums of squares, counts and tallies."""

    cross: np.ndarray
    keys: np.ndarray
    periods: np.ndarray
    raw_sumsq: np.ndarray
    n_rows: int
    n_units: int
    n_singletons: int
    period_rows: np.ndarray
    tallies: dict[str, np.ndarray]


def indicator_moments(rows: IndicatorRows, tallies: dict[str, np.ndarray]) -> Moments:
    """Pass 1 on one partition's sample (see the module docstring for the algebra)."""
    n, n_periods, k = rows.y.size, rows.periods.size, rows.keys.size
    active = np.flatnonzero(rows.column >= 0)
    w, y, inverse = rows.weights, rows.y, 1.0 / rows.unit_weight[:, None]
    wv = w[active] * rows.value[active]
    raw_sumsq = np.bincount(rows.column[active], wv * rows.value[active], minlength=k)
    s = rows.by_unit(wv, rows.column[active], k, active)
    m_t = rows.by_unit(w, rows.period_codes, n_periods)
    xx = np.diag(raw_sumsq) - (s.T @ s.multiply(inverse)).toarray()
    xy = np.bincount(rows.column[active], wv * y[active], minlength=k)
    dx = (
        csr_matrix(
            (wv, (rows.period_codes[active], rows.column[active])), shape=(n_periods, k)
        ).toarray()
        - (m_t.T @ s.multiply(inverse)).toarray()
    )
    dd = (
        np.diag(np.bincount(rows.period_codes, w, minlength=n_periods))
        - (m_t.T @ m_t.multiply(inverse)).toarray()
    )
    dy = np.bincount(rows.period_codes, w * y, minlength=n_periods)
    cross = np.block(
        [
            [xx, dx.T, xy[:, None]],
            [dx, dd, dy[:, None]],
            [xy[None, :], dy[None, :], np.array([[w @ (y * y)]])],
        ]
    )
    return Moments(
        cross=cross,
        keys=rows.keys,
        periods=rows.periods,
        raw_sumsq=raw_sumsq,
        n_rows=n,
        n_units=rows.unit_weight.size,
        n_singletons=rows.n_singletons,
        period_rows=np.bincount(rows.period_codes, minlength=n_periods),
        tallies=tallies,
    )


@dataclass(frozen=True)
class Solution:
    """Pass 1 combined: the coefficients and what pass 2 and the variance need.

    Attributes
    ----------
    names : tuple of str
        The estimated coefficients (collinear ones dropped).
    keys : numpy.ndarray
        The global key of every column, estimated or not.
    keep : numpy.ndarray of bool
        Which of those columns are estimated.
    beta : numpy.ndarray
        Their coefficients.
    raw_sumsq : numpy.ndarray
        Every column's weighted sum of squared values, ``sum w v^2``.
    periods : numpy.ndarray
        The panel's periods (in the sample), in order.
    gamma : numpy.ndarray, shape (T,)
        The period effects of the unit-demeaned regression (0 for the first period).
    partial : numpy.ndarray, shape (T, k kept)
        ``Gamma``: X~~ = X~ - D~ Gamma (its first row 0).
    bread : numpy.ndarray
        ``(X~~'WX~~)^-1``.
    n_rows, n_units, n_singletons : int
        Rows, units and singleton rows dropped, over all partitions.
    tss_within : float
        The two-way-demeaned outcome's (weighted) sum of squares.
    collinear : tuple of str
        Columns dropped as collinear or zero.
    treated_units : EffectiveTreated or None
        With an intensity: the effective number of treated units.
    """

    names: tuple[str, ...]
    keys: np.ndarray
    keep: np.ndarray
    beta: np.ndarray
    raw_sumsq: np.ndarray
    periods: np.ndarray
    gamma: np.ndarray
    partial: np.ndarray
    bread: np.ndarray
    n_rows: int
    n_units: int
    n_singletons: int
    tss_within: float
    collinear: tuple[str, ...]
    treated_units: EffectiveTreated | None


def solve_indicators(
    moments: list[Moments],
    keys: np.ndarray,
    names: list[str],
    unit: str,
    time: str,
    collin_tol: float,
    treated_units: EffectiveTreated | None = None,
    singletons_dropped: bool = True,
) -> Solution:
    """Combine pass 1 over partitions (in the given order) and solve.

    ``keys`` are the global columns (sorted; every partition's keys among them) and ``names``
    their names; ``unit`` and ``time`` name the fixed effects in messages.

    Raises
    ------
    ValueError
        If a period has a single row once singleton units are dropped (with
        ``singletons_dropped``) or every column is collinear.
    """
    periods = np.unique(np.concatenate([m.periods for m in moments]))
    k, n_periods = keys.size, periods.size
    size = k + n_periods + 1
    cross, period_rows = np.zeros((size, size)), np.zeros(n_periods, dtype=np.int64)
    raw_sumsq = np.zeros(k)
    for m in moments:  # one partition at a time, in order: the sums do not depend on the cluster
        at_key, at = np.searchsorted(keys, m.keys), np.searchsorted(periods, m.periods)
        index = np.concatenate([at_key, k + at, [size - 1]])
        cross[np.ix_(index, index)] += m.cross
        period_rows[at] += m.period_rows
        raw_sumsq[at_key] += m.raw_sumsq
    if singletons_dropped and (period_rows == 1).any():
        lonely = periods[np.argmax(period_rows == 1)]
        raise ValueError(
            f"column {time!r}: period {lonely:g} has a single row once singleton units are "
            "dropped; fit it in memory, which drops such rows repeatedly"
        )
    x, d = np.arange(k), k + 1 + np.arange(n_periods - 1)  # the first period dummy dropped
    c = cross[np.ix_(d, d)]
    b = cross[np.ix_(x, d)]
    partial = np.linalg.solve(c, b.T)
    gram = cross[np.ix_(x, x)] - b @ partial
    keep = collinear_columns(gram, raw_sumsq, collin_tol)
    if not keep.any():
        raise ValueError("the design cannot be estimated: every regressor is collinear")
    dropped = tuple(n for n, kept in zip(names, keep, strict=True) if not kept)
    if dropped:
        warnings.warn(
            f"dropped regressors, collinear or zero: {', '.join(dropped)}",
            CollinearityWarning,
            stacklevel=4,
        )
    dy = cross[d, -1]
    c_dy = np.linalg.solve(c, dy)
    factor = cho_factor(gram[np.ix_(keep, keep)], lower=True)
    beta = cho_solve(factor, (cross[x, -1] - b @ c_dy)[keep])
    n_singletons = sum(m.n_singletons for m in moments)
    if n_singletons:
        warnings.warn(
            f"dropped {n_singletons:,} singleton observation(s) (alone in a level of {unit})",
            SingletonWarning,
            stacklevel=4,
        )
    return Solution(
        names=tuple(n for n, kept in zip(names, keep, strict=True) if kept),
        keys=keys,
        keep=keep,
        beta=beta,
        raw_sumsq=raw_sumsq,
        periods=periods,
        gamma=np.concatenate([[0.0], c_dy - partial[:, keep] @ beta]),
        partial=np.vstack([np.zeros((1, int(keep.sum()))), partial[:, keep]]),
        bread=cho_solve(factor, np.eye(int(keep.sum()))),
        n_rows=sum(m.n_rows for m in moments),
        n_units=sum(m.n_units for m in moments),
        n_singletons=n_singletons,
        tss_within=float(cross[-1, -1] - dy @ c_dy),
        collinear=dropped,
        treated_units=treated_units,
    )


@dataclass(frozen=True)
class Scores:
    """Pass 2 of one partition: the meats' sums and the (weighted) residual sum of squares."""

    cluster: np.ndarray
    hetero: np.ndarray
    rss: float


def indicator_scores(rows: IndicatorRows, solution: Solution, hetero: bool = True) -> Scores:
    """Pass 2 on one partition's sample: the two-way residuals' unit scores, summed as outer
    products, and (with ``hetero``) the HC1 meat."""
    k = solution.beta.size
    kept = np.full(solution.keys.size, -1)
    kept[solution.keep] = np.arange(k)
    column = np.full(rows.column.shape, -1)
    active = rows.column >= 0
    column[active] = kept[np.searchsorted(solution.keys, rows.keys)][rows.column[active]]
    active = np.flatnonzero(column >= 0)
    gamma = solution.partial[np.searchsorted(solution.periods, rows.periods)]
    fitted = solution.gamma[np.searchsorted(solution.periods, rows.periods)][rows.period_codes]
    fitted[active] += rows.value[active] * solution.beta[column[active]]
    e = rows.y - rows.unit_demeaned(fitted)
    we = rows.weights * e
    # s_u = a_u - E_u Gamma (a: sum of w e X by unit, sparse; E: w e by unit and period), so
    # sum_u s_u s_u' = A'A - A'E Gamma - (A'E Gamma)' + Gamma' E'E Gamma: never units x k dense.
    a = rows.by_unit(we[active] * rows.value[active], column[active], k, active)
    by_period = rows.by_unit(we, rows.period_codes, rows.periods.size)
    mixed = (a.T @ by_period).toarray() @ gamma
    cluster = (a.T @ a).toarray() - mixed - mixed.T
    cluster += gamma.T @ (by_period.T @ by_period).toarray() @ gamma
    meat = np.zeros((k, k))
    if hetero:
        meat = _hetero_meat(rows, column, active, gamma, we * we)
    return Scores(cluster, meat, float(we @ e))


def _hetero_meat(
    rows: IndicatorRows,
    column: np.ndarray,
    active: np.ndarray,
    gamma: np.ndarray,
    h: np.ndarray,
) -> np.ndarray:
    """``sum_i h_i X~~_i X~~_i'`` with ``X~~_i = X_i - Gamma[t_i] - (PX)_i + (P D Gamma)_i``
    (P: the weighted unit means), built a block of rows at a time."""
    k = gamma.shape[1]
    inverse = 1.0 / rows.unit_weight[:, None]
    w = rows.weights
    unit_x = rows.by_unit(w[active] * rows.value[active], column[active], k, active).multiply(
        inverse
    )
    unit_x = unit_x.tocsr()
    unit_gamma = (rows.by_unit(w, rows.period_codes, rows.periods.size) @ gamma) * inverse
    x = csr_matrix((rows.value[active], (active, column[active])), shape=(rows.y.size, k))
    meat = np.zeros((k, k))
    step = max(1, HC1_BLOCK // max(k, 1))
    for start in range(0, rows.y.size, step):
        block = slice(start, start + step)
        units = rows.unit_codes[block]
        tilde = x[block].toarray() - unit_x[units].toarray()
        tilde -= gamma[rows.period_codes[block]] - unit_gamma[units]
        meat += (tilde * h[block, None]).T @ tilde
    return meat
