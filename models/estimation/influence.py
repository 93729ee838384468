"""The influence-function algebra behind Callaway and Sant'Anna's inference.

Every ATT(g, t) and every aggregation of them is a ratio of two sample means over the n units,
N / D with N = sum_{i in g} v_i (dY_i - m_C) / n and D = sum_{i in g} v_i^2 / n (v_i the unit's
dose, 1 without one). Without covariates, a unit's influence on N or D is an affine function of
its row of outcomes (and dose) with coefficients that depend only on its cohort, so the
variance of any linear combination of the N and D is a small quadratic form in the per-cohort
sizes, means and scatter matrices of those rows (:class:`BlockMoments`): the panel is read once
and no n x cells matrix is built. :class:`Functionals` holds the affine coefficients and
computes those covariances; :func:`moment_functionals` builds them from the moments.

Sampling weights w_i (did's ``weightsname``, normalised to mean 1 over the units) multiply every
unit's row: the means become weighted sums, m_C = sum_{i in C} w_i dY_i / sum_{i in C} w_i,
N = sum_{i in g} w_i v_i (dY_i - m_C) / n and D = sum_{i in g} w_i v_i^2 / n (D, without a dose,
is did's weighted cohort share pg). Clusters above the unit (did's ``clustervars``) sum the
units' influence functions by cluster before their outer products (:class:`ClusteredMoments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.estimation.drdid import CellEstimationError, did_2x2
from models.estimation.panel_data import PanelData
from models.estimation.vcov import Covariance, VcovRequest


@dataclass(frozen=True)
class UnitRows:
    """The panel as one row per unit, units sorted by cohort ("block").

    ``features`` holds each unit's outcomes by period, then (with a dose v) v times them, v and
    v^2 and a column of ones; without a dose, a final column of ones stands for v, v^2 and 1.
    With sampling weights every feature is multiplied by the unit's weight (the column of ones
    becomes the weights, ``weight``) when there are no covariates; with covariates the rows
    stay unweighted and the 2x2 estimators weight them. ``covariates`` holds
    the covariates by unit, period and covariate, if any; ``order`` the unit code (the
    panel's unit numbering) of each row. On an ``unbalanced`` panel (no dose) an outcome is 0
    and a covariate NaN where the unit has no row, and the column of ones is followed by one
    column per period of 1 where the unit has a row (:mod:`models.estimation.unbalanced`;
    with row weights: weighted outcomes, the unit's mean row weight, the row weights, then
    the indicators).
    ``weights`` holds each row's sampling weight (None: unweighted), ``clusters`` each row's
    cluster code (None: clustered by unit).
    """

    features: np.ndarray
    periods: np.ndarray
    block_cohorts: np.ndarray
    block_sizes: np.ndarray
    has_dose: bool
    covariates: np.ndarray | None = None
    order: np.ndarray | None = None
    unbalanced: bool = False
    weights: np.ndarray | None = None
    clusters: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.periods.size)

    def outcome(self, j: int) -> int:
        """Feature column of the outcome in period j."""
        return j

    def dosed_outcome(self, j: int) -> int:
        """Feature column of v times the outcome in period j."""
        return self.n_periods + j if self.has_dose else j

    def present(self, j: int) -> int:
        """Feature column of the indicator that the unit has a row in period j (unbalanced)."""
        return self.n_periods + 1 + j + (self.n_periods if self.weights is not None else 0)

    def weighted_present(self, j: int | np.ndarray) -> int | np.ndarray:
        """Feature column of the unit's row weight in period j, 0 without a row (unbalanced;
        the presence indicator itself when unweighted)."""
        return self.n_periods + 1 + j

    @property
    def dose(self) -> int:
        """Feature column of v."""
        return 2 * self.n_periods if self.has_dose else self.n_periods

    @property
    def dose_squared(self) -> int:
        """Feature column of v^2."""
        return 2 * self.n_periods + 1 if self.has_dose else self.n_periods

    @property
    def weight(self) -> int:
        """Feature column of the sampling weight (ones when unweighted)."""
        return 2 * self.n_periods + 2 if self.has_dose else self.n_periods

    def unit_weights(self) -> np.ndarray:
        """The rows' sampling weights (ones when unweighted)."""
        return np.ones(self.n_units) if self.weights is None else self.weights

    def block_slices(self) -> list[slice]:
        ends = np.cumsum(self.block_sizes)
        return [slice(int(e - s), int(e)) for s, e in zip(self.block_sizes, ends, strict=True)]

    def cell_members(self, g: int, control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of a cell's units, treated block ``g`` first, then its control blocks,
        and which of them are treated."""
        blocks = self.block_slices()
        members = np.concatenate(
            [np.arange(blocks[h].start, blocks[h].stop) for h in [g, *control]]
        )
        return members, np.arange(members.size) < self.block_sizes[g]

    def moments(self, features: np.ndarray | None = None) -> BlockMoments:
        """Per-block sizes, means and centred scatter matrices of the features (or of other
        unit rows in the same order), clustered if the rows are."""
        features = self.features if features is None else features
        if self.clusters is None:
            return BlockMoments.of(features, self.block_slices())
        return ClusteredMoments.of(features, self.block_slices(), self.clusters)


def balanced_features(
    data: PanelData, order: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The :class:`UnitRows` features of a balanced panel, units in ``order``: outcomes by
    period, then (with a dose v) v times them, v, v^2 and ones, or (without) a column of ones;
    every column multiplied by the units' sampling weights (in ``order``), if any."""
    n_periods, dose = data.n_periods, data.doses
    n_features = 2 * n_periods + 3 if dose is not None else n_periods + 1
    features = np.ones((data.n_units, n_features))
    data.to_grid(data.y, out=features[:, :n_periods], order=order)
    if dose is not None:
        sorted_dose = dose[order]
        features[:, n_periods : 2 * n_periods] = features[:, :n_periods] * sorted_dose[:, None]
        features[:, 2 * n_periods] = sorted_dose
        features[:, 2 * n_periods + 1] = sorted_dose**2
    if weights is not None:
        features *= weights[:, None]  # the block means become weighted sums
    return features


@dataclass(frozen=True)
class BlockMoments:
    """Sizes, means (blocks x p) and centred scatter matrices (blocks x p x p) of unit rows."""

    sizes: np.ndarray
    means: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray, blocks: list[slice]) -> BlockMoments:
        p = features.shape[1]
        sizes = np.array([b.stop - b.start for b in blocks], dtype=float)
        means = np.empty((len(blocks), p))
        scatter = np.empty((len(blocks), p, p))
        for h, block in enumerate(blocks):
            rows = features[block]
            means[h] = rows.mean(axis=0)
            centred = rows - means[h]
            scatter[h] = centred.T @ centred
        return cls(sizes, means, scatter)

    def outer(self, slopes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Sum over units of the outer products of influence functions ``F_i @ slopes[:, h] +
        shifts[h]`` (m of them; slopes m x blocks x p, shifts blocks x m): per block,
        ``A' S A + n_h c c'`` with A the slopes, S the centred scatter and c the influence at
        the block mean."""
        at_mean = np.einsum("hp,mhp->hm", self.means, slopes) + shifts
        total = (at_mean.T * self.sizes) @ at_mean
        for h in range(self.sizes.size):
            total += slopes[:, h, :] @ self.scatter[h] @ slopes[:, h, :].T
        return total


@dataclass(frozen=True)
class ClusteredMoments(BlockMoments):
    """Block moments that also keep the unit rows and their clusters: the outer products are
    those of the influence functions summed by cluster (did's ``clustervars``: sum over
    clusters c of S_c S_c', S_c the sum of the influence functions of c's units)."""

    features: np.ndarray
    blocks: tuple[slice, ...]
    clusters: np.ndarray

    @classmethod
    def of(
        cls, features: np.ndarray, blocks: list[slice], clusters: np.ndarray
    ) -> ClusteredMoments:
        moments = BlockMoments.of(features, blocks)
        return cls(moments.sizes, moments.means, moments.scatter, features, tuple(blocks), clusters)

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1

    def outer(self, slopes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        sums = np.zeros((self.n_clusters, slopes.shape[0]))
        for h, block in enumerate(self.blocks):
            influence = self.features[block] @ slopes[:, h, :].T + shifts[h]
            np.add.at(sums, self.clusters[block], influence)
        return sums.T @ sums


@dataclass(frozen=True)
class Functionals:
    """Influence functions that are affine in the unit rows, block by block.

    Functional j's influence on a unit i of block h is ``F_i @ slope[j, h] + shift[j, h]``, with
    F_i the unit's features; ``value[j]`` is the estimate it belongs to.
    """

    value: np.ndarray
    slope: np.ndarray
    shift: np.ndarray

    def covariance(self, combination: np.ndarray, moments: BlockMoments) -> np.ndarray:
        """Covariance of ``combination.T @ estimates`` (columns = linear combinations).

        Sum over units (or clusters) of the combined influence functions' outer products,
        divided by n^2 (:meth:`BlockMoments.outer`).
        """
        n_functionals, n_blocks, p = self.slope.shape
        slopes = (combination.T @ self.slope.reshape(n_functionals, -1)).reshape(-1, n_blocks, p)
        total = moments.outer(slopes, self.shift.T @ combination)
        return total / moments.sizes.sum() ** 2


def moment_functionals(
    rows: UnitRows, moments: BlockMoments, cells: list[tuple[int, int, int, np.ndarray]]
) -> tuple[Functionals, Functionals]:
    """The N and D functionals of every cell, from the per-block moments (no covariates)."""
    n_cells, n_blocks = len(cells), rows.block_sizes.size
    p = rows.features.shape[1]
    numerators = Functionals(
        np.empty(n_cells), np.zeros((n_cells, n_blocks, p)), np.zeros((n_cells, n_blocks))
    )
    denominators = Functionals(
        np.empty(n_cells), np.zeros((n_cells, n_blocks, p)), np.zeros((n_cells, n_blocks))
    )
    for k, cell in enumerate(cells):
        _cell_functionals(rows, moments, cell, numerators, denominators, k)
    return numerators, denominators


def _cell_functionals(
    rows: UnitRows,
    moments: BlockMoments,
    cell: tuple[int, int, int, np.ndarray],
    numerators: Functionals,
    denominators: Functionals,
    k: int,
) -> None:
    """Write cell k's N = sum_{i in g} w_i v_i (dY_i - m_C) / n and D = sum_{i in g} w_i v_i^2 / n
    (w_i = 1 unweighted; the rows are already multiplied by it).

    Influence of a unit i: ``1[i in g] w_i v_i (dY_i - m_C) - N - A_g 1[i in C] w_i (dY_i - m_C)
    / pi_C`` for N (A_g = sum_{i in g} w_i v_i / n, pi_C = sum_{i in C} w_i / n the control share)
    and ``1[i in g] w_i v_i^2 - D`` for D.
    """
    g, t, base, control = cell
    sizes, means = moments.sizes, moments.means
    n = sizes.sum()
    control_share = sizes[control] @ means[control, rows.weight] / n
    control_change = (
        sizes[control] @ (means[control, rows.outcome(t)] - means[control, rows.outcome(base)])
    ) / (control_share * n)
    treated_share = sizes[g] / n
    dose_total = treated_share * means[g, rows.dose]
    dosed_change = means[g, rows.dosed_outcome(t)] - means[g, rows.dosed_outcome(base)]
    numerator = treated_share * dosed_change - dose_total * control_change
    numerators.value[k] = numerator
    slope, shift = numerators.slope[k], numerators.shift[k]
    slope[g, rows.dosed_outcome(t)] += 1.0
    slope[g, rows.dosed_outcome(base)] -= 1.0
    slope[g, rows.dose] -= control_change
    shift -= numerator
    scale = dose_total / control_share
    slope[control, rows.outcome(t)] -= scale
    slope[control, rows.outcome(base)] += scale
    slope[control, rows.weight] += scale * control_change
    denominator = treated_share * means[g, rows.dose_squared]
    denominators.value[k] = denominator
    denominators.slope[k, g, rows.dose_squared] = 1.0
    denominators.shift[k] -= denominator


def covariate_functionals(
    rows: UnitRows, cells: list[tuple[int, int, int, np.ndarray]], method: str
) -> tuple[BlockMoments, Functionals, Functionals]:
    """With covariates: every cell's ATT from :func:`models.estimation.drdid.did_2x2` (by
    ``method``, with the units' sampling weights), its influence function on the units as a
    column, and the N = pi_g ATT, D = pi_g functionals on those columns.

    The covariates are those of the earlier of the cell's two periods, as did does.
    """
    n, n_cells = rows.n_units, len(cells)
    influence = np.zeros((n, n_cells))
    att = np.empty(n_cells)
    weights = rows.unit_weights()
    for k, (g, t, base, control) in enumerate(cells):
        members, treated = rows.cell_members(g, control)
        change = rows.features[members, t] - rows.features[members, base]
        covariates = rows.covariates[members, min(t, base), :]
        try:
            att[k], psi = did_2x2(change, treated, covariates, method, weights[members])
        except CellEstimationError as exc:
            raise ValueError(
                f"ATT(g={rows.block_cohorts[g]:g}, t={rows.periods[t]:g}) with "
                f"method={method!r}: {exc}"
            ) from None
        influence[members, k] = psi * (n / members.size)
    numerators, denominators = column_functionals(rows, cells, att)
    return column_moments(rows, influence), numerators, denominators


def column_moments(rows: UnitRows, influence: np.ndarray) -> BlockMoments:
    """The block moments of the cells' influence columns (units x cells) followed by the units'
    sampling weights, the rows :func:`column_functionals` reads."""
    return rows.moments(np.column_stack([influence, rows.unit_weights()]))


def column_functionals(
    rows: UnitRows, cells: list[tuple[int, int, int, np.ndarray]], att: np.ndarray
) -> tuple[Functionals, Functionals]:
    """The N = pi_g ATT and D = pi_g functionals of cells whose influence functions are the
    columns of a units x cells matrix, followed by a column of the units' weights w (the
    "features" of :func:`column_moments`; scaled so that Var = sum psi^2 / n^2).

    pi_g = sum_{i in g} w_i / n is the cell's cohort's (weighted) share, with influence
    ``1[i in g] w_i - pi_g``; N's is ``pi_g psi_i + ATT (1[i in g] w_i - pi_g)``.
    """
    n, n_cells, n_blocks = rows.n_units, len(cells), rows.block_sizes.size
    weights = rows.unit_weights()
    share = np.array([weights[block].sum() for block in rows.block_slices()]) / n
    cell_block = np.array([cell[0] for cell in cells])
    cell_share = share[cell_block]
    everywhere = np.ones((n_cells, n_blocks))
    numerators = Functionals(
        cell_share * att,
        np.zeros((n_cells, n_blocks, n_cells + 1)),
        -(att * cell_share)[:, None] * everywhere,
    )
    numerators.slope[np.arange(n_cells), :, np.arange(n_cells)] = cell_share[:, None]
    numerators.slope[np.arange(n_cells), cell_block, n_cells] = att
    denominators = Functionals(
        cell_share.copy(),
        np.zeros((n_cells, n_blocks, n_cells + 1)),
        -cell_share[:, None] * everywhere,
    )
    denominators.slope[np.arange(n_cells), cell_block, n_cells] = 1.0
    return numerators, denominators


def ratios(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates sum_k w_k N_k / sum_k w_k D_k, one per column of ``weights`` (cells x m),
    from the functionals' values (the N of every cell, then the D).

    Returns the estimates and the coefficients of their influence functions on the numerator
    and denominator functionals (2 cells x m).
    """
    k = weights.shape[0]
    numerator = weights.T @ values[:k]
    denominator = weights.T @ values[k:]
    estimate = numerator / denominator
    combination = np.vstack([weights / denominator, -weights * (estimate / denominator)])
    return estimate, combination


def influence_covariance(
    matrix: np.ndarray, cluster: str, n_clusters: int, request: VcovRequest | None = None
) -> Covariance:
    """A covariance from the influence functions summed by cluster (the unit, or did's
    ``clustervars``), or, with ``request`` CR3, their jackknife: normal inference."""
    return Covariance(
        matrix=matrix,
        df_t=np.inf,
        request=request or VcovRequest("influence function", (cluster,)),
        n_clusters=(n_clusters,),
    )
