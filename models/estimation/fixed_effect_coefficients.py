"""The coefficients of fixed effects: normal equations of their dummies with any totals.

:mod:`models.estimation.absorb` removes fixed effects without ever estimating them. Predicting an
outcome on observations outside the estimation sample (the untreated outcome of treated
observations in :mod:`models.estimation.two_stage`) needs the coefficients themselves, and the
variance of such a prediction needs solves with totals that are not those of any outcome. Both
are the normal equations of the dummies D (one column per level of each fixed effect, weights W)

    D'WD a = t,

solved here by conjugate gradients preconditioned by the level counts (Jacobi). The matrix is
singular (one redundant level per fixed effect after the first, per connected piece of the
sample), so ``a`` is one solution among many; the fitted values ``D a`` are unique, and so are
the predictions ``a_1[l_1] + ... + a_m[l_m]`` of an observation outside the sample whose levels
all lie in one connected piece of it (for two fixed effects; with more, that is necessary only).
When ``t`` is not a combination of the sample's rows (a prediction that the sample does not
identify) the equations have no solution: :meth:`FixedEffectEquations.solve` says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, diags
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import cg

from models.exceptions import ConvergenceWarning

SOLVE_RTOL = 1e-12
"""Relative residual ||D'WD a - t|| / ||t|| at which the conjugate gradients stop."""

CONSISTENCY_RTOL = 1e-7
"""Relative residual above which the totals are declared not a combination of the sample's rows."""


@dataclass(frozen=True)
class FixedEffectEquations:
    """Normal equations of the dummies of several fixed effects on one sample.

    Levels are numbered over a wider set of observations than the sample (``sizes`` levels per
    fixed effect); levels absent from the sample have no equation and coefficient 0.

    Attributes
    ----------
    offsets : numpy.ndarray
        Where each fixed effect's levels start in the stacked coefficient vector.
    gram : scipy.sparse.csr_matrix
        ``D'WD`` over the stacked levels.
    piece : numpy.ndarray of int
        Connected piece of the sample of every level (levels linked by shared observations),
        -1 for a level absent from the sample.

    Examples
    --------
    >>> unit, time = np.array([0, 0, 1]), np.array([0, 1, 0])
    >>> equations = FixedEffectEquations.from_codes([unit, time], [2, 2])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> a = equations.solve(equations.totals([unit, time], y))
    >>> float(equations.predict(a, [np.array([1]), np.array([1])])[0])  # unit 1 at time 1
    4.0
    """

    offsets: np.ndarray
    gram: csr_matrix
    piece: np.ndarray

    @classmethod
    def from_codes(
        cls,
        codes: Sequence[np.ndarray],
        sizes: Sequence[int],
        weights: np.ndarray | None = None,
    ) -> FixedEffectEquations:
        """Equations of the sample whose levels are ``codes`` (0..size-1 for each effect)."""
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n = codes[0].size
        rows = np.repeat(np.arange(n), len(codes))
        columns = np.column_stack([c + o for c, o in zip(codes, offsets, strict=False)]).ravel()
        values = np.ones(n) if weights is None else np.sqrt(weights)
        dummies = csr_matrix(
            (np.repeat(values, len(codes)), (rows, columns)), shape=(n, int(offsets[-1]))
        )
        gram = (dummies.T @ dummies).tocsr()
        present = gram.diagonal() > 0
        _, labels = connected_components(gram, directed=False)
        piece = np.where(present, labels, -1)
        return cls(offsets, gram, piece)

    def totals(
        self, codes: Sequence[np.ndarray], values: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """``D'W x`` of observations with levels ``codes``, for the columns of ``values``."""
        weighted = (
            values
            if weights is None
            else values * (weights if values.ndim == 1 else weights[:, None])
        )
        columns = weighted.reshape(weighted.shape[0], -1)
        size = int(self.offsets[-1])
        out = np.zeros((size, columns.shape[1]))
        for fe_codes, offset in zip(codes, self.offsets, strict=False):
            for j in range(columns.shape[1]):
                out[:, j] += np.bincount(fe_codes + offset, weights=columns[:, j], minlength=size)
        return out.reshape((size, *weighted.shape[1:]))

    def identified(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        """Whether each observation with levels ``codes`` has every level in the sample and all
        of them in one connected piece (its prediction is then unique with two fixed effects)."""
        pieces = [self.piece[c + o] for c, o in zip(codes, self.offsets, strict=False)]
        ok = pieces[0] >= 0
        for other in pieces[1:]:
            ok &= other == pieces[0]
        return ok

    def solve(self, totals: np.ndarray, maxiter: int = 10_000) -> np.ndarray:
        """Coefficients ``a`` with ``D'WD a = t`` for ``totals`` t (a vector or columns).

        Raises a ValueError when ``t`` is not a combination of the sample's rows (no solution).
        """
        diagonal = self.gram.diagonal()
        preconditioner = diags(
            np.divide(1.0, diagonal, out=np.zeros_like(diagonal), where=diagonal > 0)
        )
        columns = totals.reshape(totals.shape[0], -1)
        solution = np.zeros_like(columns)
        for j in range(columns.shape[1]):
            t = columns[:, j]
            if not t.any():
                continue
            with np.errstate(all="ignore"):  # totals without solution can break CG down
                a, info = cg(
                    self.gram, t, rtol=SOLVE_RTOL, atol=0.0, M=preconditioner, maxiter=maxiter
                )
                residual = np.linalg.norm(self.gram @ a - t) / np.linalg.norm(t)
            if not residual <= CONSISTENCY_RTOL:  # also NaN
                raise ValueError(
                    "fixed effects: the estimation sample does not identify the prediction "
                    f"asked for (normal equations without solution, relative residual "
                    f"{residual:.1e}); an observation's levels lie in different connected "
                    "pieces of the sample"
                )
            if info > 0:
                warnings.warn(
                    f"fixed-effect coefficients: conjugate gradients stopped after {maxiter} "
                    f"iterations at relative residual {residual:.1e}",
                    ConvergenceWarning,
                    stacklevel=2,
                )
            solution[:, j] = a
        return solution.reshape(totals.shape)

    def predict(self, coefficients: np.ndarray, codes: Sequence[np.ndarray]) -> np.ndarray:
        """``a_1[l_1] + ... + a_m[l_m]`` for observations with levels ``codes``."""
        return sum(coefficients[c + o] for c, o in zip(codes, self.offsets, strict=False))
