"""CR3 for Callaway and Sant'Anna: the leave-one-unit-out jackknife of their ratio estimates.

Every ATT(g, t) and every aggregation of them is a ratio ``R = sum_k w_k N_k / sum_k w_k D_k``
of the cells' numerators N and denominators D (:mod:`models.estimation.influence`). The
influence-function variance sums each unit's squared influence. A treated unit with a large
share of its cohort's sum of squared doses pulls R towards itself, so its influence (a residual
times its dose) understates how far R moves without it. Left out, with never-treated controls,
the ratio moves by exactly

* ``psi_i / (1 - h_i)`` for a treated unit i of cohort g, ``psi_i`` its influence and
  ``h_i = v_i^2 W_g / sum_k w_k S_k`` its leverage in R (``S_k`` the sum of squared doses of
  cell k's cohort, ``W_g`` the weight of cohort g's cells);
* ``psi_j n_C / (n_C - 1)`` for a control j (it moves the controls' mean change, n_C controls);

and not at all for other units. So the jackknife ``sum_i (R_(-i) - R)^2`` (CR3, without a
small-sample factor, as :mod:`models.estimation.jackknife` for the regressions) is the
influence-function variance with each treated unit's influence scaled by ``1 / (1 - h_i)``,
computed from the treated units' rows (a tenth of a panel's units) and, for the controls, from
their block moments scaled by ``(n_C / (n_C - 1))^2``. A linear combination of ratios (the
mean over event times of the dynamic aggregation) gets the same combination of the scaled
influences. With not-yet-treated controls a unit plays both parts, so this exact form needs
never-treated controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.estimation.influence import BlockMoments, Functionals, UnitRows, ratios

MAX_LEVERAGE = 1 - 1e-8
"""A unit with a larger share of an estimate's sum of squared doses alone determines it."""


@dataclass(frozen=True)
class LeaveOneOut:
    """What the jackknife needs beyond the block moments: the treated units' rows.

    Attributes
    ----------
    features : numpy.ndarray
        The treated units' feature rows (:class:`~models.estimation.influence.UnitRows`), by
        block.
    blocks : tuple of (int, int, int)
        Each treated block with the start and stop of its rows in ``features``.
    dose_squared : int
        The feature column of v^2.
    control_block : int
        The block of never-treated units.
    cell_blocks : numpy.ndarray
        The treated block of each ATT(g, t).
    """

    features: np.ndarray
    blocks: tuple[tuple[int, int, int], ...]
    dose_squared: int
    control_block: int
    cell_blocks: np.ndarray

    @classmethod
    def of(cls, rows: UnitRows, cell_blocks: np.ndarray) -> LeaveOneOut:
        """From the fit's unit rows and the treated block of each cell (never-treated
        controls: exactly one block has cohort +inf)."""
        slices = rows.block_slices()
        treated = [h for h, cohort in enumerate(rows.block_cohorts) if np.isfinite(cohort)]
        starts = np.cumsum([0] + [slices[h].stop - slices[h].start for h in treated])
        features = np.concatenate([rows.features[slices[h]] for h in treated])
        return cls(
            features=features,
            blocks=tuple(
                (h, int(a), int(b))
                for h, a, b in zip(treated, starts[:-1], starts[1:], strict=True)
            ),
            dose_squared=rows.dose_squared,
            control_block=int(np.flatnonzero(np.isinf(rows.block_cohorts))[0]),
            cell_blocks=np.asarray(cell_blocks, dtype=np.intp),
        )

    def covariance(
        self,
        functionals: Functionals,
        moments: BlockMoments,
        weights: np.ndarray,
        combine: np.ndarray | None = None,
    ) -> np.ndarray:
        """The jackknife covariance of the ratios with the columns of ``weights`` (cells x r),
        or of their combinations ``combine.T @ ratios`` (r x m) if given.

        Raises
        ------
        ValueError
            If a unit alone determines an estimate (leverage 1), so it cannot be left out.
        """
        n_cells = weights.shape[0]
        _, combination = ratios(functionals.value, weights)
        n_functionals, n_blocks, p = functionals.slope.shape
        r = weights.shape[1]
        slopes = (combination.T @ functionals.slope.reshape(n_functionals, -1)).reshape(
            r, n_blocks, p
        )
        shifts = functionals.shift.T @ combination
        n = moments.sizes.sum()
        c = self.control_block
        at_mean = moments.means[c] @ slopes[:, c, :].T + shifts[c]
        n_controls = moments.sizes[c]
        total = (n_controls / (n_controls - 1)) ** 2 * (
            n_controls * np.outer(at_mean, at_mean)
            + slopes[:, c, :] @ moments.scatter[c] @ slopes[:, c, :].T
        )
        dose_squared_total = n * (weights.T @ functionals.value[n_cells:])
        own = np.zeros((n_blocks, r))
        np.add.at(own, self.cell_blocks, weights)
        for block, start, stop in self.blocks:
            # With never-treated controls a treated unit moves only its own cohort's cells.
            used = np.flatnonzero(own[block])
            rows = self.features[start:stop]
            influence = rows @ slopes[used, block, :].T + shifts[block, used]
            leverage = rows[:, [self.dose_squared]] * (own[block, used] / dose_squared_total[used])
            if (leverage > MAX_LEVERAGE).any():
                raise ValueError(
                    "vcov: CR3 leaves out one unit at a time, but a unit alone determines an "
                    "estimate (leverage 1: the only unit of a cohort with a dose); use CRV1"
                )
            scaled = influence / (1.0 - leverage)
            total[np.ix_(used, used)] += scaled.T @ scaled
        total /= n**2
        return total if combine is None else combine.T @ total @ combine
