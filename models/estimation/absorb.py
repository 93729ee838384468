"""Fixed-effect absorption: the within transformation for any number of fixed effects.

A fixed effect is a categorical column. Absorbing a set of fixed effects replaces every
variable by its residual from a least-squares projection on the fixed-effect dummies
(Frisch-Waugh-Lovell), so regressions on the residuals give the coefficients of the full
dummy-variable regression without building the dummies.

Two ways to compute the projection:

* **Exact, balanced two-way panels.** With two fixed effects and exactly one unweighted row
  for every pair of levels (a balanced unit x period panel), the residual is
  ``x - mean_unit - mean_period + mean_all``: no iteration.
* **Exact, one large fixed effect and small ones.** When the fixed effects other than the one
  with the most levels have at most ``SMALL_LEVELS`` levels in total (consumer + week, or
  consumer + week + segment x week, balanced or not, weighted or not), the projection is
  solved directly: with D1 the large effect's dummies, M1 its within transformation and D the
  small effects' dummies, ``M x = M1 x - M1 D (D' M1 D)^+ D' M1 x`` (Frisch-Waugh-Lovell),
  where ``D' M1 D`` is a small matrix built once from counts
  (:mod:`models.estimation.direct_solve`). Two group-mean passes of the large effect and one
  pass over the rows' combinations of small levels replace dozens of sweeps.
* **Alternating projections** (method of alternating projections, MAP) for everything else:
  subtract the group means of each fixed effect in turn until nothing changes, accelerated
  by Irons-Tuck extrapolation every third sweep (Irons and Tuck, 1969; the scheme fixest uses,
  Berge 2018). The iteration stops when the largest absolute change of any element in one
  sweep is below ``tol`` (default 1e-8; pyfixest uses 1e-6), and warns with
  :class:`ConvergenceWarning` if ``maxiter`` sweeps do not get there.

Singleton removal follows fixest: an observation that is alone in its level of some fixed
effect is fit perfectly and carries no information about the coefficients, so it can be dropped;
dropping one can create another, so removal repeats until none is left. The estimators do it
by default (as pyfixest and fixest >= 0.13 do) and report the count with
:class:`SingletonWarning`.

The tolerance bounds the last sweep's change, not the error: with a slowly converging design
the remaining error is about ``tol / (1 - rate)`` for the sweep's contraction rate, so lower
``tol`` when the absorbed variables must be accurate to a given absolute precision.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from models.estimation.direct_solve import SmallEffects, small_effects
from models.exceptions import ConvergenceWarning

DEFAULT_TOL = 1e-8
DEFAULT_MAXITER = 10_000
SMALL_LEVELS = 1_000
"""Most levels, summed over all fixed effects but the largest, for the exact direct solve."""


def encode(values: np.ndarray | pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` for the levels of a categorical variable.

    Parameters
    ----------
    values : array-like
        One value per observation, without missing values.

    Returns
    -------
    codes : numpy.ndarray of int32 (int64 beyond 2**31 levels)
        The level of each observation, numbered in sorted order of the levels. Ids that are
        already ``0..G-1`` in an int32 or int64 array are returned as they are, without a
        copy: treat the codes as read-only. Multiply codes only after casting to int64.
    n_levels : int
        Number of distinct levels G.

    Examples
    --------
    >>> codes, n = encode(np.array([30, 10, 30, 20]))
    >>> codes.tolist(), n
    ([2, 0, 2, 1], 3)
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if high - low < 4 * array.size + 1024 and high <= np.iinfo(np.intp).max:
            # Dense integer ids (unit and period numbers): a lookup table beats hashing.
            dtype = _code_dtype(high - low + 1)
            if low == 0 and array.dtype in (np.int32, np.int64):
                offset = array
            else:
                offset = np.subtract(array, low, dtype=dtype)
            present = np.zeros(high - low + 1, dtype=bool)
            present[offset] = True
            if present.all():
                return offset, present.size
            lookup = (np.cumsum(present, dtype=np.int64) - 1).astype(dtype)
            return lookup[offset], int(present.sum())
    codes, levels = pd.factorize(array, sort=True)
    return codes.astype(_code_dtype(len(levels)), copy=False), len(levels)


def _code_dtype(n_levels: int) -> type[np.signedinteger]:
    """The integer type of codes for ``n_levels`` levels: int32 when they fit."""
    return np.int32 if n_levels < 2**31 else np.int64


def combine_codes(
    first: np.ndarray, second: np.ndarray, second_levels: int
) -> tuple[np.ndarray, int]:
    """Codes of the interaction of two categorical variables (``a^b`` in fixest)."""
    return encode(first.astype(np.int64) * second_levels + second)


def singleton_mask(
    codes: Sequence[np.ndarray],
    sizes: Sequence[int],
    counts: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Observations that survive iterated removal of fixed-effect singletons.

    Parameters
    ----------
    codes, sizes : sequences
        Codes and number of levels of each fixed effect.
    counts : sequence of numpy.ndarray, optional
        Number of observations in each level of each fixed effect, when already counted.

    Returns
    -------
    numpy.ndarray of bool
        True for observations to keep.
    """
    keep = np.ones(codes[0].size, dtype=bool)
    every_row = True  # keep is all True: count without selecting rows
    while True:
        dropped = 0
        for which, (fe_codes, size) in enumerate(zip(codes, sizes, strict=True)):
            if every_row and counts is not None:
                level_counts = counts[which]
            else:
                level_counts = np.bincount(
                    fe_codes if every_row else fe_codes[keep], minlength=size
                )
            if not (level_counts == 1).any():
                continue
            alone = keep & (level_counts[fe_codes] == 1)
            dropped += int(alone.sum())
            keep &= ~alone
            every_row = every_row and dropped == 0
        if dropped == 0:
            return keep


@dataclass(frozen=True)
class FixedEffects:
    """A set of fixed effects over the observations of one estimation sample.

    Parameters
    ----------
    names : tuple of str
        Names of the fixed effects (column names, ``a^b`` for interactions).
    codes : tuple of numpy.ndarray
        Level of each observation for each fixed effect, ``0..G-1``, every level present.
    sizes : tuple of int
        Number of levels of each fixed effect.
    n_obs : int
        Number of observations.
    weights : numpy.ndarray or None
        Observation weights (positive), or None for unweighted.

    Examples
    --------
    >>> fe = FixedEffects.from_codes(
    ...     ["unit", "time"], [np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])]
    ... )
    >>> fe.demean(np.array([1.0, 2.0, 3.0, 6.0])).tolist()
    [0.5, -0.5, -0.5, 0.5]
    >>> fe.dof
    3
    """

    names: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]
    n_obs: int
    weights: np.ndarray | None = None

    @classmethod
    def from_codes(
        cls,
        names: Sequence[str],
        codes: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        n_obs: int | None = None,
    ) -> FixedEffects:
        """Build from raw codes, renumbering so that every level is present.

        ``n_obs`` is needed only when there is no fixed effect (and no weights).
        """
        encoded = [encode(c) for c in codes]
        if n_obs is None:
            n_obs = codes[0].size if len(codes) else (0 if weights is None else weights.size)
        return cls(
            names=tuple(names),
            codes=tuple(c for c, _ in encoded),
            sizes=tuple(g for _, g in encoded),
            n_obs=int(n_obs),
            weights=weights,
        )

    def subset(self, keep: np.ndarray) -> FixedEffects:
        """The same fixed effects on the observations where ``keep`` is True."""
        return FixedEffects.from_codes(
            self.names,
            [c[keep] for c in self.codes],
            None if self.weights is None else self.weights[keep],
            n_obs=int(keep.sum()),
        )

    @cached_property
    def grid(self) -> bool:
        """True for a balanced two-way panel stored unit by unit, periods in order.

        Then the observations reshape to a units x periods matrix, the fastest layout.
        """
        if len(self.codes) != 2 or self.weights is not None:
            return False
        n_first, n_second = self.sizes
        if self.n_obs != n_first * n_second:
            return False
        first, second = (c.reshape(n_first, n_second) for c in self.codes)
        return bool(
            (first == np.arange(n_first)[:, None]).all()
            and (second == np.arange(n_second)[None, :]).all()
        )

    @cached_property
    def balanced_two_way(self) -> bool:
        """True when there are two fixed effects, no weights and one row per pair of levels."""
        if self.grid:
            return True
        if len(self.codes) != 2 or self.weights is not None:
            return False
        n_pairs = self.sizes[0] * self.sizes[1]
        if self.n_obs != n_pairs:
            return False
        # n rows on n distinct cells: every cell is hit exactly once.
        seen = np.zeros(n_pairs, dtype=bool)
        seen[self.codes[0].astype(np.int64) * self.sizes[1] + self.codes[1]] = True
        return bool(seen.all())

    @cached_property
    def level_counts(self) -> tuple[np.ndarray, ...]:
        """Number of observations in each level of each fixed effect (int64)."""
        return tuple(
            np.bincount(c, minlength=g) for c, g in zip(self.index_codes, self.sizes, strict=True)
        )

    @cached_property
    def _group_weights(self) -> tuple[np.ndarray, ...]:
        """Number (or total weight) of observations in each level of each fixed effect."""
        if self.weights is None:
            return tuple(counts.astype(float) for counts in self.level_counts)
        return tuple(
            np.bincount(c, weights=self.weights, minlength=g).astype(float)
            for c, g in zip(self.index_codes, self.sizes, strict=True)
        )

    @cached_property
    def dof(self) -> int:
        """Number of fixed-effect coefficients counted in the degrees of freedom.

        fixest's and pyfixest's default count (fixest ``K.exact = FALSE``): the levels of
        every fixed effect, minus one for each fixed effect after the first. It does not look
        for further redundant levels (such as a unit x period graph that falls apart into
        disconnected pieces), so in such designs it can exceed the rank of the dummies.
        """
        if not self.codes:
            return 0
        return sum(self.sizes) - (len(self.sizes) - 1)

    def is_nested(self, which: int, clusters: np.ndarray) -> bool:
        """Whether every level of fixed effect ``which`` lies inside one cluster."""
        fe_codes = self.codes[which]
        if clusters is fe_codes:
            return True
        if self.sizes[which] < np.max(clusters, initial=0) + 1:
            return False  # each cluster holds whole levels, so there are at least as many levels
        cluster_of_level = np.empty(self.sizes[which], dtype=clusters.dtype)
        cluster_of_level[fe_codes] = clusters
        return bool((cluster_of_level[fe_codes] == clusters).all())

    @cached_property
    def index_codes(self) -> tuple[np.ndarray, ...]:
        """The codes as intp, the type numpy indexes and counts with without converting them
        on every call (the iterative and direct solvers index with them many times)."""
        return tuple(c.astype(np.intp, copy=False) for c in self.codes)

    @cached_property
    def _segment_starts(self) -> tuple[np.ndarray | None, ...]:
        """For each fixed effect stored in sorted order (levels in runs), where each run starts.

        Sums over runs (``np.add.reduceat``) are about three times faster than ``bincount``.
        """
        starts = []
        for which, fe_codes in enumerate(self.index_codes):
            spaced = fe_codes[::4096]  # most unsorted codes are told apart on a sample
            ordered = bool((spaced[1:] >= spaced[:-1]).all())
            ordered = ordered and fe_codes.size > 0 and bool((fe_codes[1:] >= fe_codes[:-1]).all())
            if ordered:
                starts.append(np.concatenate([[0], np.cumsum(self.level_counts[which])[:-1]]))
            else:
                starts.append(None)
        return tuple(starts)

    def group_means(self, x: np.ndarray, which: int) -> np.ndarray:
        """Weighted mean of a vector ``x`` within each level of fixed effect ``which``."""
        weighted = x if self.weights is None else x * self.weights
        starts = self._segment_starts[which]
        if starts is not None:
            sums = np.add.reduceat(weighted, starts)
        else:
            sums = np.bincount(
                self.index_codes[which], weights=weighted, minlength=self.sizes[which]
            )
        return sums / self._group_weights[which]

    def demean(
        self,
        x: np.ndarray,
        *,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Residuals of ``x`` (a vector or the columns of a matrix) after absorbing the effects.

        Parameters
        ----------
        x : numpy.ndarray, shape (n,) or (n, k)
            Variables to transform; not modified.
        tol : float
            Stop when one sweep changes no element by more than ``tol`` (absolute).
        maxiter : int
            Maximum number of sweeps per column.
        out : numpy.ndarray, optional
            For a matrix: a Fortran-ordered float64 array of the same shape to write into; it
            may be ``x`` itself, which then holds the result (saves a copy of a large matrix).

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, float64.
        """
        x = np.asarray(x, dtype=float)
        if x.ndim == 2:
            out = np.empty(x.shape, order="F") if out is None else out
            if not self.balanced_two_way and self._small_effects is not None:
                work = (np.empty(x.shape[0]), np.empty(x.shape[0]))  # reused for every column
                for j in range(x.shape[1]):
                    self._direct(np.ascontiguousarray(x[:, j]), out[:, j], work)
                return out
            for j in range(x.shape[1]):
                out[:, j] = self.demean(np.ascontiguousarray(x[:, j]), tol=tol, maxiter=maxiter)
            return out
        if not self.codes:
            return x.copy()
        if len(self.codes) == 1:
            return x - self.group_means(x, 0)[self.codes[0]]
        if self.grid:
            n_first, n_second = self.sizes
            table = x.reshape(n_first, n_second)
            first_means = table @ np.full(n_second, 1.0 / n_second)
            second_means = np.full(n_first, 1.0 / n_first) @ table
            within = table - first_means[:, None]
            within -= second_means - second_means.mean()
            return within.reshape(-1)
        if self.balanced_two_way:
            first, second = self.codes
            return x - self.group_means(x, 0)[first] - self.group_means(x, 1)[second] + x.mean()
        if self._small_effects is not None:
            return self._direct(x, np.empty_like(x), (np.empty_like(x), np.empty_like(x)))
        return self._alternating_projections(x, tol, maxiter)

    @cached_property
    def _small_effects(self) -> SmallEffects | None:
        """The direct solve's pieces, when the fixed effects besides the largest are small."""
        if len(self.codes) < 2:
            return None
        large = int(np.argmax(self.sizes))
        small = [j for j in range(len(self.codes)) if j != large]
        if sum(self.sizes[j] for j in small) > SMALL_LEVELS:
            return None
        return small_effects(
            self.index_codes,
            self.sizes,
            large,
            self.weights,
            self._group_weights[large],
            self._segment_starts[large],
        )

    def _direct(
        self, x: np.ndarray, out: np.ndarray, work: tuple[np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """Exact projection with one large fixed effect and small others (module docstring),
        written into ``out``; ``work`` holds two scratch vectors of the same length."""
        pieces = self._small_effects
        large_codes = self.index_codes[pieces.large]
        fitted, scratch = work
        np.take(self.group_means(x, pieces.large), large_codes, out=scratch, mode="clip")
        within = np.subtract(x, scratch, out=out)  # out may be x itself
        weighted = within if self.weights is None else within * self.weights
        solution = pieces.inverse @ pieces.totals(weighted)
        np.take(pieces.per_combination(solution), pieces.combination, out=fitted, mode="clip")
        within -= fitted
        fitted_means = self.group_means(fitted, pieces.large)
        within += np.take(fitted_means, large_codes, out=scratch, mode="clip")
        return within

    def _sweep(self, x: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
        """One pass of the projections into ``out``: subtract each effect's means in turn."""
        out[:] = x
        for which, fe_codes in enumerate(self.index_codes):
            np.take(self.group_means(out, which), fe_codes, out=scratch, mode="clip")
            out -= scratch

    def _alternating_projections(self, x: np.ndarray, tol: float, maxiter: int) -> np.ndarray:
        current, once, twice = x.copy(), np.empty_like(x), np.empty_like(x)
        first_step, second_step = np.empty_like(x), np.empty_like(x)

        def largest(step: np.ndarray) -> float:
            return max(float(step.max(initial=0.0)), -float(step.min(initial=0.0)))

        for sweeps in range(1, maxiter + 1):
            self._sweep(current, once, first_step)
            np.subtract(once, current, out=first_step)
            if largest(first_step) < tol:
                return once
            self._sweep(once, twice, second_step)
            np.subtract(twice, once, out=second_step)
            if largest(second_step) < tol:
                return twice
            # Irons-Tuck: extrapolate along the last two steps of the linear iteration.
            curvature = np.subtract(second_step, first_step, out=first_step)
            denominator = float(curvature @ curvature)
            coefficient = float(second_step @ curvature) / denominator if denominator > 0 else 0.0
            second_step *= coefficient
            np.subtract(twice, second_step, out=current)
            if 2 * sweeps >= maxiter:
                break
        warnings.warn(
            f"fixed effects {' + '.join(self.names)}: alternating projections did not reach "
            f"tol={tol:g} in {maxiter} sweeps; results may be inaccurate",
            ConvergenceWarning,
            stacklevel=3,
        )
        return current
