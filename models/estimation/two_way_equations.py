"""Normal equations of unit and period dummies on a units x periods sample.

The imputation estimator (:mod:`models.estimation.imputation`) fits unit and period effects on
its untreated observations and needs the same solve again for the weights of its variance;
:class:`TwoWayNormalEquations` does both without building the dummies. With sampling weights the
sample's 0/1 mask becomes the weight of each observation (zero outside the sample): the normal
equations of weighted least squares have the same form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class TwoWayNormalEquations:
    """Normal equations of unit and period dummies on a units x periods sample.

    With Z the dummies of the observations of the sample and W their weights (1 without
    weights), :meth:`solve` finds coefficients ``(a, l)`` with ``Z'WZ (a, l) = (unit_totals,
    period_totals)``. The unit block is eliminated by dividing by each unit's (weighted) count,
    leaving the periods x periods matrix ``diag(c) - M' diag(1/n) M`` (M the mask, n and c its
    row and column sums), whose
    pseudo-inverse is computed once. When the totals are ``Z' x`` for some x the fitted values
    ``a_i + l_t`` are unique (the weighted projection of x on the dummies), whatever the
    normalisation of the effects.

    Attributes
    ----------
    mask : numpy.ndarray of float, shape (n_units, n_periods)
        The weight of each observation of the sample (1.0 without weights), 0.0 elsewhere.
    unit_counts : numpy.ndarray, shape (n_units,)
        Observations of each unit in the sample (the sum of their weights).
    period_inverse : numpy.ndarray, shape (n_periods, n_periods)
        Pseudo-inverse of the reduced periods x periods matrix.
    unit_piece, period_piece : numpy.ndarray of int
        Connected piece of the sample (units and periods linked by observations) of each unit and
        period, -1 for those with no observation in the sample.

    Examples
    --------
    >>> sample = np.array([[True, True], [True, False]])
    >>> equations = TwoWayNormalEquations.from_mask(sample)
    >>> a, l = equations.solve(np.array([3.0, 1.0]), np.array([2.0, 2.0]))
    >>> (a[:, None] + l[None, :]).round(12).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """

    mask: np.ndarray
    unit_counts: np.ndarray
    period_inverse: np.ndarray
    unit_piece: np.ndarray
    period_piece: np.ndarray

    @classmethod
    def from_mask(
        cls, sample: np.ndarray, weights: np.ndarray | None = None
    ) -> TwoWayNormalEquations:
        """Build from a boolean units x periods array of the sample's observations and, for
        weighted least squares, a units x periods array of positive weights."""
        mask = sample.astype(float) if weights is None else np.where(sample, weights, 0.0)
        unit_counts = mask.sum(axis=1)
        period_counts = mask.sum(axis=0)
        divisor = np.where(unit_counts > 0, unit_counts, 1.0)
        shared = mask.T @ (mask / divisor[:, None])
        reduced = np.diag(period_counts) - shared
        period_piece = _period_pieces(shared, period_counts > 0)
        unit_piece = np.where(unit_counts > 0, period_piece[np.argmax(sample, axis=1)], -1)
        n_pieces = int(period_piece.max(initial=-1)) + 1
        rank = int((period_counts > 0).sum()) - n_pieces
        values, vectors = np.linalg.eigh((reduced + reduced.T) / 2)
        kept = vectors[:, values.size - rank :]
        inverse = (kept / values[values.size - rank :]) @ kept.T
        return cls(mask, unit_counts, inverse, unit_piece, period_piece)

    def solve(
        self, unit_totals: np.ndarray, period_totals: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unit and period coefficients for totals of shape (n_units[, k]) and (n_periods[, k]).

        Units with no observation in the sample get coefficient 0 (their totals must be 0).
        """
        counts = self.unit_counts if unit_totals.ndim == 1 else self.unit_counts[:, None]
        per_unit = np.divide(unit_totals, counts, out=np.zeros_like(unit_totals), where=counts > 0)
        period_coef = self.period_inverse @ (period_totals - self.mask.T @ per_unit)
        unit_coef = per_unit - np.divide(
            self.mask @ period_coef, counts, out=np.zeros_like(per_unit), where=counts > 0
        )
        return unit_coef, period_coef


def _period_pieces(shared: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Connected pieces of the periods linked by a common unit (-1 for inactive periods)."""
    links = csr_matrix((shared > 0) & active[:, None] & active[None, :])
    _, labels = connected_components(links, directed=False)
    pieces = np.full(active.size, -1)
    _, pieces[active] = np.unique(labels[active], return_inverse=True)
    return pieces
