"""The pieces of the direct solve for one large fixed effect and small others.

:class:`models.estimation.absorb.FixedEffects` projects a variable on the dummies D1 of its largest
fixed effect and D of the others exactly when the others have few levels in total:
``M x = M1 x - M1 D (D'W M1 D)^+ D'W M1 x`` (Frisch-Waugh-Lovell), with M1 the (weighted) within
transformation of the large effect. This module builds what that needs once per set of fixed
effects: the small matrix ``(D'W M1 D)^+``, and each row's combination of small levels (a
consumer x week x segment-week panel has as many combinations as segment-weeks), through which
every product with D is one ``bincount`` or one ``take`` over the rows.

``D'W M1 D = D'W D - sum_g C_g C_g' / W_g`` with C_g the weights of large level g's rows in each
combination and W_g their total: the sum is taken over blocks of large levels, each a small
dense matrix whose cross-product is a symmetric rank-k update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

_BLOCK_CELLS = 1_000_000
"""Entries of one block of the large levels' weights by combination (8 MB)."""


@dataclass(frozen=True)
class SmallEffects:
    """The direct solve's pieces: which effect is large, ``(D'W M1 D)^+`` of the others and the
    rows' combinations of small levels.

    Parameters
    ----------
    large : int
        Position of the large fixed effect.
    small : tuple of int
        Positions of the small ones.
    inverse : numpy.ndarray, shape (L, L)
        ``(D'W M1 D)^+`` over the L small levels, the small effects' levels one after another.
    combination : numpy.ndarray of intp, shape (n,)
        Each row's combination of small levels, ``0..C-1``.
    levels : numpy.ndarray of intp, shape (C, number of small effects)
        The small level (numbered as in ``inverse``) of each combination in each small effect.
    """

    large: int
    small: tuple[int, ...]
    inverse: np.ndarray
    combination: np.ndarray
    levels: np.ndarray

    @property
    def n_combinations(self) -> int:
        """The number of combinations C."""
        return self.levels.shape[0]

    def totals(self, x: np.ndarray) -> np.ndarray:
        """``D'x``: the sum of ``x`` in each small level (length L)."""
        by_combination = np.bincount(self.combination, weights=x, minlength=self.n_combinations)
        return self.incidence.T @ by_combination

    def per_combination(self, solution: np.ndarray) -> np.ndarray:
        """``D solution`` for one row of each combination (``solution``: L or L x k)."""
        return self.incidence @ solution

    @property
    def incidence(self) -> csr_matrix:
        """Q, combinations x small levels, one 1 per small effect in each row: ``D = Q[c(i)]``."""
        return _incidence(self.levels, self.inverse.shape[0])


# Thin and tiny products: a second BLAS thread gains little and, on a busy machine, loses much
# (it spins, taking a core from the counting between products).
@threadpool_limits.wrap(limits=1, user_api="blas")
def small_effects(
    codes: Sequence[np.ndarray],
    sizes: Sequence[int],
    large: int,
    weights: np.ndarray | None,
    large_weights: np.ndarray,
    large_starts: np.ndarray | None,
) -> SmallEffects:
    """Build the direct solve's pieces.

    Parameters
    ----------
    codes, sizes : sequences
        Codes (intp) and number of levels of every fixed effect.
    large : int
        Position of the large fixed effect.
    weights : numpy.ndarray or None
        Observation weights.
    large_weights : numpy.ndarray
        Total weight (or count) of each large level.
    large_starts : numpy.ndarray or None
        Where each large level's run of rows starts, when the rows are sorted by it.

    Returns
    -------
    SmallEffects
    """
    small = tuple(j for j in range(len(codes)) if j != large)
    offsets = np.concatenate([[0], np.cumsum([sizes[j] for j in small])])
    rows_combination, levels = _combinations([codes[j] for j in small], [sizes[j] for j in small])
    n_combinations = levels.shape[0]
    levels += offsets[:-1]
    n_levels = int(offsets[-1])
    incidence = _incidence(levels, n_levels)
    combination_weights = np.bincount(rows_combination, weights=weights, minlength=n_combinations)
    gram = (incidence.T @ incidence.multiply(combination_weights[:, None])).toarray()
    if n_combinations <= n_levels:  # the blocks by combination are the narrower ones
        columns = [(rows_combination, 0)]
        products = _large_level_products(
            codes[large], columns, n_combinations, weights, large_weights, large_starts
        )
        gram -= incidence.T @ (incidence.T @ products).T  # Q' P Q, P symmetric
    else:
        columns = [(codes[j], int(offsets[a])) for a, j in enumerate(small)]
        gram -= _large_level_products(
            codes[large], columns, n_levels, weights, large_weights, large_starts
        )
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    keep = values > 1e-10 * values.max(initial=0.0)  # relative: weights' scale is free
    inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return SmallEffects(large, small, inverse, rows_combination, levels)


def _incidence(levels: np.ndarray, n_levels: int) -> csr_matrix:
    """The combinations x levels matrix with a 1 at each combination's level in each effect."""
    n_combinations, n_effects = levels.shape
    return csr_matrix(
        (
            np.ones(levels.size),
            levels.ravel(),
            np.arange(0, n_combinations * n_effects + 1, n_effects),
        ),
        shape=(n_combinations, n_levels),
    )


def _combinations(
    codes: Sequence[np.ndarray], sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's combination of levels of the effects ``codes`` (intp, every level present),
    numbered ``0..C-1``, and the level in each effect of every combination (C x effects)."""
    combination = codes[0]
    levels = np.arange(sizes[0])[:, None]
    for effect, size in zip(codes[1:], sizes[1:], strict=True):
        combination, present = _pairs(combination, levels.shape[0], effect, size)
        levels = np.column_stack([levels[present // size], present % size])
    return combination, levels


def _pairs(
    first: np.ndarray, n_first: int, second: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's pair of levels of two effects (intp codes, ``size`` levels of the second, all
    present), numbered in sorted order of the pairs ``first * size + second`` that occur, and
    those pairs."""
    first_of = np.zeros(size, dtype=np.intp)
    first_of[second] = first
    if np.array_equal(np.take(first_of, second), first):  # one pair by level of the second
        present = first_of * size + np.arange(size)
        order = np.argsort(present)
        rank = np.empty(size, dtype=np.intp)
        rank[order] = np.arange(size)
        return np.take(rank, second), present[order]
    pairs = first * size + second
    n_pairs = n_first * size
    if n_pairs <= 4 * pairs.size + 1024:  # a lookup table of the pairs that occur
        present = np.flatnonzero(np.bincount(pairs, minlength=n_pairs))
        lookup = np.empty(n_pairs, dtype=np.intp)
        lookup[present] = np.arange(present.size)
        return lookup[pairs], present
    present, combination = np.unique(pairs, return_inverse=True)
    return combination, present


def _large_level_products(
    large_codes: np.ndarray,
    columns: Sequence[tuple[np.ndarray, int]],
    width: int,
    weights: np.ndarray | None,
    large_weights: np.ndarray,
    large_starts: np.ndarray | None,
) -> np.ndarray:
    """``sum_g C_g C_g' / W_g`` (width x width), C_g the weight of large level g's rows in each
    column, each row counted in the column of each (codes, offset) pair; built in blocks of large
    levels."""
    n_large = large_weights.size
    n_obs = large_codes.size
    block = max(1, _BLOCK_CELLS // width)
    root_inverse = 1.0 / np.sqrt(large_weights)
    products = np.zeros((width, width))
    for low in range(0, n_large, block):
        high = min(low + block, n_large)
        if large_starts is not None:  # rows sorted by the large effect: a slice
            end = large_starts[high] if high < n_large else n_obs
            rows = slice(large_starts[low], end)
        else:
            rows = np.flatnonzero((large_codes >= low) & (large_codes < high))
        local = (large_codes[rows] - low) * width
        row_weights = None if weights is None else weights[rows]
        counts = sum(
            np.bincount(
                local + (codes[rows] + offset),
                weights=row_weights,
                minlength=(high - low) * width,
            )
            for codes, offset in columns
        ).reshape(high - low, width)  # integers if unweighted
        counts = counts * root_inverse[low:high, None]
        products += counts.T @ counts  # numpy calls the symmetric rank-k update
    return products
