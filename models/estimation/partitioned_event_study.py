"""The two-way event study of :class:`~models.EventStudy` from partitions of a panel, combined
exactly: the pure statistics behind :func:`sim.fit_partitioned` (arrays and DataFrames, no I/O).

The regression is :class:`~models.EventStudy`'s with unit and period fixed effects. When no unit
straddles two partitions, the unit fixed effects are absorbed inside each partition exactly:
demeaning by unit needs only the unit's own rows (balanced or not). Within a partition, y, the
event-time regressors X (k columns) and the period dummies D (T columns) are demeaned by unit
(``~``); by Frisch-Waugh-Lovell, beta and the period effects gamma solve the least squares of
y~ on Z = [X~, D~], whose normal equations are sums over partitions:

* pass 1 (:func:`partition_moments`): each partition's cross-products of [X~, D~, y~] (a
  (k + T + 1)^2 matrix, its periods scattered into the panel's; D~ is never built: its
  products come from period sums and the unit x period incidence), row and unit counts, and
  the checks' tallies. :func:`solve_moments` sums them, drops the first period dummy (the unit
  effects absorb the constant), partials D~ out of X~ through the T x k matrix
  ``Gamma = (D~'D~)^-1 D~'X~`` (the two-way-demeaned ``X~~ = X~ - D~ Gamma``, with Gram matrix
  ``X~'X~ - X~'D~ Gamma``), drops collinear regressors as :func:`~models.estimation.ols.fit_within`
  does and solves for beta and gamma;
* pass 2 (:func:`partition_scores`): with beta, gamma and Gamma broadcast, each partition
  computes its residuals ``e = y~ - X~ beta - D~ gamma`` (the two-way residuals), the unit
  scores ``s_u = sum_i X~~_i e_i`` and returns ``sum_u s_u s_u'`` (CRV1 by unit),
  ``sum_i e_i^2 X~~_i X~~_i'`` (HC1) and ``e'e`` (iid).
  :func:`~models.estimation.partitioned_inference.partitioned_results` sums them into the
  sandwich with goodwill's (fixest's) small-sample factor: n rows, K = k + T for CRV1 (the
  unit effects, nested in the clusters, count as one) and k + N + T - 1 for iid and HC1, and
  G / (G - 1).

Singletons are dropped as the in-memory fit drops them: a unit with one row in the sample is
left out (alone in its level); a period left with one row after that is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix

from models.estimation.arguments import event_window, shown, strict_bool
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.ols import DEFAULT_COLLIN_TOL, collinear_columns
from models.estimation.panel_data import numeric_values, require_columns
from models.exceptions import CollinearityWarning, SingletonWarning

TALLIES = ("units", "periods", "event_times", "cohorts", "doses")
"""What each partition reports for the checks: its units, periods in the sample, event times
used, cohorts, and (count, sum v^2, sum v^4) of its treated units' doses."""


@dataclass(frozen=True)
class EventSpec:
    """What an out-of-core event study is: :class:`~models.EventStudy`'s arguments.

    Attributes
    ----------
    outcome, unit, time, cohort : str
        Columns, as for :class:`~models.EventStudy`.
    window : (int, int)
        Lowest and highest event time with a coefficient.
    ref : int
        The omitted event time.
    intensity : str or None
        Dose column the effects are per unit of.
    bin_endpoints : bool
        Pool event times beyond the window into its end points (else drop those rows).
    """

    outcome: str
    unit: str
    time: str
    cohort: str
    window: tuple[int, int] = (-4, 12)
    ref: int = -1
    intensity: str | None = None
    bin_endpoints: bool = True

    def __post_init__(self) -> None:
        window, ref = event_window(self.window, self.ref)
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "ref", ref)
        strict_bool("bin_endpoints", self.bin_endpoints, "fit_partitioned")

    @property
    def event_times(self) -> tuple[int, ...]:
        """Event times with a coefficient: the window without the reference."""
        lo, hi = self.window
        return tuple(k for k in range(lo, hi + 1) if k != self.ref)

    @property
    def columns(self) -> list[str]:
        """The columns a partition must have."""
        named = [self.outcome, self.unit, self.time, self.cohort, self.intensity]
        return [c for c in named if c is not None]


@dataclass(frozen=True)
class _Rows:
    """A partition's estimation sample: ``z`` is [X~, y~], unit-demeaned; the period dummies
    D stay implicit in the period codes (``members`` sums rows by unit)."""

    unit_codes: np.ndarray
    unit_rows: np.ndarray
    members: csr_matrix
    periods: np.ndarray
    period_codes: np.ndarray
    z: np.ndarray
    raw_sumsq: np.ndarray
    n_singletons: int

    def unit_demeaned(self, table: np.ndarray) -> np.ndarray:
        """``table`` (rows first) minus its unit means, in place."""
        means = self.members @ table
        means /= self.unit_rows if table.ndim == 1 else self.unit_rows[:, None]
        table -= means[self.unit_codes]
        return table


def _sample(df: pd.DataFrame, spec: EventSpec) -> tuple[_Rows, dict[str, np.ndarray]]:
    """Check a partition and build its unit-demeaned sample; also the checks' tallies."""
    require_columns(df, spec.columns)
    y = numeric_values(df, spec.outcome)
    time = numeric_values(df, spec.time)
    if (time != np.round(time)).any():
        raise ValueError(f"column {spec.time!r}: expected integer periods")
    cohort = numeric_values(df, spec.cohort, allow_nan=True)
    if (cohort == -np.inf).any():
        raise ValueError(f"column {spec.cohort!r}: -inf is not a cohort (never treated is NaN)")
    cohort = np.where(np.isnan(cohort), np.inf, cohort)
    if df[spec.unit].isna().any():
        raise ValueError(f"column {spec.unit!r}: expected no missing unit ids")
    codes, units = pd.factorize(df[spec.unit], sort=True)
    units = np.asarray(units)
    first = np.zeros(units.size, dtype=np.intp)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    _constant_within_units(cohort, codes, first, units, spec.cohort)
    if pd.MultiIndex.from_arrays([codes, time]).has_duplicates:
        raise ValueError(f"columns {spec.unit!r}, {spec.time!r}: repeated (unit, period) rows")
    treated = np.isfinite(cohort)
    value = np.ones(y.size)
    doses = np.empty(0)
    if spec.intensity is not None:
        value = numeric_values(df, spec.intensity, allow_nan=True)
        unit_dose = value[first][np.isfinite(cohort[first])]
        bad = ~(np.isfinite(unit_dose) & (unit_dose > 0))
        if bad.any():
            raise ValueError(
                f"column {spec.intensity!r}: expected one positive finite dose per treated unit"
            )
        _constant_within_units(np.where(treated, value, 0.0), codes, first, units, spec.intensity)
        doses = unit_dose
    lo, hi = spec.window
    event_time = np.where(treated, time - cohort, 0.0)
    outside = treated & ((event_time < lo) | (event_time > hi))
    inside = ~outside if not spec.bin_endpoints else np.ones(y.size, dtype=bool)
    used = np.clip(event_time, lo, hi)[treated & inside]
    counts = np.bincount(codes[inside], minlength=units.size)
    keep = inside & (counts[codes] > 1)  # a unit alone in its level is a singleton
    tallies = {
        "units": units,
        "periods": np.unique(time),
        "event_times": np.unique(used),
        "cohorts": np.unique(cohort[first]),
        "doses": np.array([doses.size, (doses**2).sum(), (doses**4).sum()]),
    }
    column = np.where(treated, np.clip(event_time, lo, hi).astype(np.int64) - lo, -1)
    k = len(spec.event_times)
    column = np.where(column == spec.ref - lo, -1, column - (column > spec.ref - lo))
    codes, time, column, value, y = (a[keep] for a in (codes, time, column, value, y))
    codes, kept_units = pd.factorize(codes, sort=True)
    periods, period_codes = np.unique(time, return_inverse=True)
    x = np.zeros((y.size, k + 1))
    active = np.flatnonzero(column >= 0)
    x[active, column[active]] = value[active]
    x[:, -1] = y
    raw_sumsq = (x[:, :k] ** 2).sum(axis=0)
    members = csr_matrix(
        (np.ones(y.size), (codes, np.arange(y.size))), shape=(kept_units.size, y.size)
    )
    n_singletons = int(inside.sum() - keep.sum())
    rows = _Rows(
        codes, np.bincount(codes).astype(float), members, periods, period_codes, x, raw_sumsq,
        n_singletons,
    )  # fmt: skip
    rows.unit_demeaned(rows.z)
    return rows, tallies


def _constant_within_units(
    values: np.ndarray, codes: np.ndarray, first: np.ndarray, units: np.ndarray, column: str
) -> None:
    """Raise naming the first unit whose ``values`` change across its rows."""
    reference = values[first][codes]
    changed = ~((values == reference) | (np.isnan(values) & np.isnan(reference)))
    if changed.any():
        unit = units[codes[np.argmax(changed)]]
        raise ValueError(f"column {column!r}: changes within unit {shown(unit)}")


@dataclass(frozen=True)
class Moments:
    """Pass 1 of one partition: cross-products of [X~, D~, y~] on its periods, and tallies."""

    cross: np.ndarray
    periods: np.ndarray
    raw_sumsq: np.ndarray
    n_rows: int
    n_units: int
    n_singletons: int
    period_rows: np.ndarray
    tallies: dict[str, np.ndarray]


def partition_moments(df: pd.DataFrame, spec: EventSpec) -> Moments:
    """Pass 1 on one partition (a DataFrame holding whole units).

    With D~ the unit-demeaned period dummies, ``D~'[X~, y~] = D'[X~, y~]`` (period sums) and
    ``D~'D~ = diag(period rows) - M' diag(1 / unit rows) M``, M the units x periods incidence.
    """
    rows, tallies = _sample(df, spec)
    n, n_periods = rows.period_codes.size, rows.periods.size
    by_period = csr_matrix((np.ones(n), (rows.period_codes, np.arange(n))), shape=(n_periods, n))
    period_rows = np.bincount(rows.period_codes, minlength=n_periods)
    incidence = csr_matrix(
        (np.ones(n), (rows.unit_codes, rows.period_codes)), shape=(rows.unit_rows.size, n_periods)
    )
    dd = (
        np.diag(period_rows.astype(float))
        - (incidence.T @ (incidence.multiply(1.0 / rows.unit_rows[:, None]))).toarray()
    )
    dz = by_period @ rows.z
    zz = rows.z.T @ rows.z
    k = zz.shape[0] - 1
    cross = np.block(
        [
            [zz[:k, :k], dz[:, :k].T, zz[:k, k:]],
            [dz[:, :k], dd, dz[:, k:]],
            [zz[k:, :k], dz[:, k:].T, zz[k:, k:]],
        ]
    )
    return Moments(
        cross=cross,
        periods=rows.periods,
        raw_sumsq=rows.raw_sumsq,
        n_rows=n,
        n_units=rows.unit_rows.size,
        n_singletons=rows.n_singletons,
        period_rows=period_rows,
        tallies=tallies,
    )


@dataclass(frozen=True)
class Solution:
    """Pass 1 combined: the coefficients and what pass 2 and the variance need.

    Attributes
    ----------
    names : tuple of str
        The estimated coefficients (collinear ones dropped).
    keep : numpy.ndarray of bool
        Which of the k event-time columns are estimated.
    beta : numpy.ndarray
        The event-time coefficients.
    periods : numpy.ndarray
        The panel's periods (in the sample), in order.
    gamma : numpy.ndarray, shape (T,)
        The period effects of the unit-demeaned regression (0 for the first period).
    partial : numpy.ndarray, shape (T, k kept)
        ``Gamma``: X~~ = X~ - D~ Gamma (its first row 0).
    bread : numpy.ndarray
        ``(X~~'X~~)^-1``.
    n_rows, n_units, n_singletons : int
        Rows, units and singleton rows dropped, over all partitions.
    tss_within : float
        The two-way-demeaned outcome's sum of squares.
    collinear : tuple of str
        Regressors dropped as collinear.
    treated_units : EffectiveTreated or None
        With an intensity: the effective number of treated units.
    """

    names: tuple[str, ...]
    keep: np.ndarray
    beta: np.ndarray
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


def check_units(units: list[np.ndarray], labels: list[str]) -> None:
    """Raise a ValueError naming a unit that is in two partitions (and the two partitions)."""
    where = np.repeat(np.arange(len(units)), [u.size for u in units])
    every = pd.Series(np.concatenate(units) if units else np.empty(0))
    repeated = every.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = np.flatnonzero(repeated)[0]
        unit = every.iloc[first]
        pair = where[repeated & (every == unit).to_numpy()][:2]
        raise ValueError(
            f"unit {shown(unit)} straddles partitions {labels[pair[0]]} and {labels[pair[1]]}: "
            "every unit's rows must be in one partition (partition the panel by the unit)"
        )


def solve_moments(
    moments: list[Moments],
    spec: EventSpec,
    labels: list[str],
    collin_tol: float = DEFAULT_COLLIN_TOL,
) -> Solution:
    """Combine pass 1 over partitions (in the given order) and solve for the coefficients.

    Raises
    ------
    ValueError
        If a unit straddles partitions, a period has a single row, no treated row has event
        time ``ref``, every unit is treated in one period, or nothing can be estimated.
    """
    check_units([m.tallies["units"] for m in moments], labels)
    tally = {
        name: np.concatenate([m.tallies[name] for m in moments]) for name in moments[0].tallies
    }
    cohorts = np.unique(tally["cohorts"])
    if np.isinf(cohorts).all():
        raise ValueError(f"column {spec.cohort!r}: no treated units (the cohort is NaN for all)")
    if np.isfinite(cohorts).all() and cohorts.size == 1:
        raise ValueError(
            f"column {spec.cohort!r}: every unit is treated, all in period {cohorts[0]:g}; the "
            "event times cannot be told apart from the periods (add never-treated units)"
        )
    unknown = np.setdiff1d(cohorts[np.isfinite(cohorts)], tally["periods"])
    if unknown.size:
        raise ValueError(
            f"column {spec.cohort!r}: cohort(s) {', '.join(f'{c:g}' for c in unknown[:5])} "
            f"are not periods of column {spec.time!r}"
        )
    if spec.ref not in tally["event_times"]:
        raise ValueError(f"ref: no treated row has event time {spec.ref} in the sample")
    periods = np.unique(np.concatenate([m.periods for m in moments]))
    k, n_periods = len(spec.event_times), periods.size
    size = k + n_periods + 1
    cross, period_rows = np.zeros((size, size)), np.zeros(n_periods, dtype=np.int64)
    raw_sumsq = np.zeros(k)
    for m in moments:  # one partition at a time, in order: the sums do not depend on the cluster
        at = np.searchsorted(periods, m.periods)
        index = np.concatenate([np.arange(k), k + at, [size - 1]])
        cross[np.ix_(index, index)] += m.cross
        period_rows[at] += m.period_rows
        raw_sumsq += m.raw_sumsq
    if (period_rows == 1).any():
        lonely = periods[np.argmax(period_rows == 1)]
        raise ValueError(
            f"column {spec.time!r}: period {lonely:g} has a single row once singleton units are "
            "dropped; fit it in memory (EventStudy), which drops such rows repeatedly"
        )
    x, d = np.arange(k), k + 1 + np.arange(n_periods - 1)  # the first period dummy dropped
    c = cross[np.ix_(d, d)]
    b = cross[np.ix_(x, d)]
    partial = np.linalg.solve(c, b.T)
    gram = cross[np.ix_(x, x)] - b @ partial
    keep = collinear_columns(gram, raw_sumsq, collin_tol)
    names = [f"event_time::{e}" for e in spec.event_times]
    if not keep.any():
        raise ValueError("the design cannot be estimated: every regressor is collinear")
    dropped = tuple(n for n, kept in zip(names, keep, strict=True) if not kept)
    if dropped:
        warnings.warn(
            f"dropped regressors, collinear or zero: {', '.join(dropped)}",
            CollinearityWarning,
            stacklevel=3,
        )
    dy = cross[d, -1]
    c_dy = np.linalg.solve(c, dy)
    factor = cho_factor(gram[np.ix_(keep, keep)], lower=True)
    beta = cho_solve(factor, (cross[x, -1] - b @ c_dy)[keep])
    gamma = np.concatenate([[0.0], c_dy - partial[:, keep] @ beta])
    n_singletons = sum(m.n_singletons for m in moments)
    if n_singletons:
        warnings.warn(
            f"dropped {n_singletons:,} singleton observation(s) (alone in a level of {spec.unit})",
            SingletonWarning,
            stacklevel=3,
        )
    treated, squares, fourth = tally["doses"].reshape(-1, 3).sum(axis=0)
    effective = None
    if spec.intensity is not None:
        effective = EffectiveTreated(float(squares**2 / fourth), int(treated))
        warn_few_effective(effective, "fit_partitioned", spec.intensity)
    return Solution(
        names=tuple(n for n, kept in zip(names, keep, strict=True) if kept),
        keep=keep,
        beta=beta,
        periods=periods,
        gamma=gamma,
        partial=np.vstack([np.zeros((1, int(keep.sum()))), partial[:, keep]]),
        bread=cho_solve(factor, np.eye(int(keep.sum()))),
        n_rows=sum(m.n_rows for m in moments),
        n_units=sum(m.n_units for m in moments),
        n_singletons=n_singletons,
        tss_within=float(cross[-1, -1] - dy @ c_dy),
        collinear=dropped,
        treated_units=effective,
    )


@dataclass(frozen=True)
class Scores:
    """Pass 2 of one partition: the meats' sums and the residual sum of squares."""

    cluster: np.ndarray
    hetero: np.ndarray
    rss: float


def partition_scores(df: pd.DataFrame, spec: EventSpec, solution: Solution) -> Scores:
    """Pass 2 on one partition: unit scores of the two-way residuals, summed as outer products."""
    rows, _ = _sample(df, spec)
    k = len(spec.event_times)
    at = np.searchsorted(solution.periods, rows.periods)[rows.period_codes]
    x = rows.z[:, :k][:, solution.keep]
    e = rows.z[:, -1] - x @ solution.beta - rows.unit_demeaned(solution.gamma[at])
    x -= rows.unit_demeaned(solution.partial[at])
    scores = rows.members @ (x * e[:, None])
    return Scores(scores.T @ scores, (x * (e**2)[:, None]).T @ x, float(e @ e))
