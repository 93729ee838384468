"""The wild bootstrap of Callaway and Sant'Anna's pre-trend test, with the null imposed.

The pre-trend test of Callaway and Sant'Anna's dynamic aggregation (or did's pre-test of the
pre-treatment ATT(g, t)) is a Wald test of q lead estimates, each a ratio
``R_m = sum_{k in m} N_k / S_m`` over cells k (one per cohort and lead), ``S_m`` their cohorts'
sum of squared doses. With few effective treated units per lead, the covariance of the leads is
nearly singular and noisy and the test rejects too often; as for the regressions
(:mod:`models.estimation.wild_bootstrap`), a wild bootstrap of the units that recomputes the
statistic with its own influence-function covariance reproduces that noise.

The bootstrap's data. Under the null every lead is zero: each lead cell's slope becomes
``tau^r_k = tau_k - R_m`` (the restricted least squares of the cells' slopes, weighted by their
sums of squared doses), so a treated unit i of the cell's cohort has the restricted residual
``r_ik = dY_ik - m_k - tau^r_k v_i`` (m_k the controls' mean change) and a control j has
``r_jk = dY_jk - m_k``. As for the regressions, the draws use the residuals each unit would have
if left out of that fit: ``r~_ik = r_ik / (1 - h_ik)`` with the leverage
``h_ik = v_i^2 (1 / S_g - 1 / S_m)`` of a treated unit, ``r~_jk = r_jk n_C / (n_C - 1)`` for a
control (n_C controls). A draw keeps the fit and multiplies every residual of unit i by one
Rademacher sign ``eta_i``: ``dY*_ik = m_k + tau^r_k v_i + eta_i r~_ik`` and
``dY*_jk = m_k + eta_j r~_jk`` (the changes of outcome levels ``fit + eta e~`` along a path).
Its controls' mean moves by ``delta*_k = sum_j eta_j r~_jk / n_C``, its leads by
``R*_m = sum_{k in m} (sum_i eta_i v_i r~_ik - A_k delta*_k) / S_m`` (``A_k`` the cohort's dose
total), and its influence functions are those of CS on that data:
``v_i (v_i (tau^r_k - R*_m) + eta_i r~_ik - delta*_k) / S_m`` for a treated unit and
``-sum_{k in m} A_k (eta_j r~_jk - delta*_k) / (n_C S_m)`` for a control. Their sums of outer
products need, per cohort, ``sum_i eta_i v_i^p r~_ik`` (p = 1, 2, 3) and fixed moments, and for
the controls only ``delta*`` (from ``sum_j eta_j Y_jt``), since ``eta^2 = 1``: per batch of
draws a few products of the signs with units x periods arrays. Needs never-treated controls.

The statistic uses the influence-function covariance (did's analytic one) in the data and in
every draw; the p-value is ``(1 + #{W* >= W}) / (B + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.estimation.inference import WaldTest
from models.estimation.influence import UnitRows
from models.estimation.wild_bootstrap import draw_chunks, rademacher_signs


@dataclass(frozen=True)
class LeadBootstrap:
    """The units' outcome rows and the cells, for the wild bootstrap of lead tests.

    Attributes
    ----------
    outcomes : numpy.ndarray
        Units x periods, in unit-code order (the order of the draws' signs).
    doses : numpy.ndarray
        Each unit's dose (1 without one; the controls' are not used).
    blocks : tuple of numpy.ndarray
        The unit codes of each block (:class:`~models.estimation.influence.UnitRows`).
    control_block : int
        The never-treated block.
    cells : numpy.ndarray
        Per ATT(g, t): its treated block, period column and base column (cells x 3).
    n_draws, seed : int
        Bootstrap draws and the seed of their signs.
    """

    outcomes: np.ndarray
    doses: np.ndarray
    blocks: tuple[np.ndarray, ...]
    control_block: int
    cells: np.ndarray
    n_draws: int
    seed: int

    @classmethod
    def of(
        cls,
        rows: UnitRows,
        cells: list[tuple[int, int, int, np.ndarray]],
        n_draws: int,
        seed: int,
    ) -> LeadBootstrap:
        """From the fit's unit rows and cells (never-treated controls)."""
        outcomes = np.empty((rows.n_units, rows.n_periods))
        outcomes[rows.order] = rows.features[:, : rows.n_periods]
        doses = np.empty(rows.n_units)
        doses[rows.order] = rows.features[:, rows.dose]
        return cls(
            outcomes=outcomes,
            doses=doses,
            blocks=tuple(rows.order[block] for block in rows.block_slices()),
            control_block=int(np.flatnonzero(np.isinf(rows.block_cohorts))[0]),
            cells=np.array([cell[:3] for cell in cells], dtype=np.intp),
            n_draws=n_draws,
            seed=seed,
        )

    def test(self, values: np.ndarray, weights: np.ndarray, covariance: np.ndarray) -> WaldTest:
        """The bootstrap test that every lead ``weights' N / weights' D`` is zero.

        Parameters
        ----------
        values : numpy.ndarray
            The cells' N and D functionals (:class:`~models.estimation.influence.Functionals`).
        weights : numpy.ndarray
            Cells x q, 0 or 1: which cells each lead sums, each cell in at most one lead and
            each cohort at most once per lead.
        covariance : numpy.ndarray
            The leads' influence-function covariance (the data's Wald statistic's).
        """
        statistic, draws = self.statistics(values, weights, covariance)
        q = weights.shape[1]
        pvalue = (1 + int((draws >= statistic).sum())) / (self.n_draws + 1)
        return WaldTest(statistic / q, pvalue, q, np.inf, self.n_draws)

    def statistics(
        self, values: np.ndarray, weights: np.ndarray, covariance: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """The data's Wald statistic W and those of the draws (arguments of :meth:`test`)."""
        leads = _Leads.of(self, values, weights)
        statistic = float(leads.estimates @ np.linalg.solve(covariance, leads.estimates))
        n_units = self.doses.size
        batches = [
            leads.statistics(rademacher_signs(size, n_units, self.seed, first))
            for first, size in draw_chunks(self.n_draws, n_units)
        ]
        return statistic, np.concatenate(batches)


@dataclass(frozen=True)
class _Leads:
    """The lead cells and what every draw needs of them (see the module docstring).

    ``lead`` is each lead cell's lead (``incidence``: cells x leads, 0 or 1), ``lead_total``
    each lead's sum of squared doses S_m and ``dose_total`` each cell's cohort's A_k.
    ``control_levels`` holds the controls' outcomes and a column of ones (zero on other
    units' rows), ``differences`` the periods x cells map from levels to the cells' changes.
    Per treated block, ``members`` holds its units and lead cells, ``by_member`` its units'
    ``[v r, v^2 r, v^3 r]`` over those cells, ``fixed`` their ``sum v^2 r r'`` and ``powers``
    the block's ``sum v^p``, p = 0..4.
    """

    estimates: np.ndarray
    lead: np.ndarray
    incidence: np.ndarray
    restricted_slope: np.ndarray
    control_mean: np.ndarray
    dose_total: np.ndarray
    lead_total: np.ndarray
    control_levels: np.ndarray
    differences: np.ndarray
    members: tuple[tuple[np.ndarray, np.ndarray], ...]
    by_member: tuple[np.ndarray, ...]
    fixed: tuple[np.ndarray, ...]
    powers: tuple[np.ndarray, ...]
    control_fixed: np.ndarray
    n_controls: int

    @classmethod
    def of(cls, data: LeadBootstrap, values: np.ndarray, weights: np.ndarray) -> _Leads:
        n_cells, q = weights.shape
        cohort_cells = np.zeros((len(data.blocks), q))
        np.add.at(cohort_cells, data.cells[:, 0], weights)
        if (
            not np.isin(weights, (0.0, 1.0)).all()
            or (weights.sum(axis=1) > 1).any()
            or (cohort_cells > 1).any()
        ):
            raise ValueError("pretrend: the bootstrap tests leads that sum one cell per cohort")
        cells = np.flatnonzero(weights.sum(axis=1) > 0)
        lead = np.argmax(weights[cells], axis=1)
        incidence = np.zeros((cells.size, q))
        incidence[np.arange(cells.size), lead] = 1.0
        block, periods, bases = data.cells[cells].T
        differences = np.zeros((data.outcomes.shape[1], cells.size))
        differences[periods, np.arange(cells.size)] += 1.0
        differences[bases, np.arange(cells.size)] -= 1.0
        slope = values[cells] / values[n_cells + cells]  # each cell's tau_k
        scaled_total = np.bincount(lead, weights=values[n_cells + cells], minlength=q)
        estimates = np.bincount(lead, weights=values[cells], minlength=q) / scaled_total
        restricted_slope = slope - estimates[lead]
        controls = data.blocks[data.control_block]
        control_outcomes = data.outcomes[controls]
        control_mean = control_outcomes.mean(axis=0) @ differences  # m_k
        dose_total = np.zeros(cells.size)  # A_k
        squared_total = np.zeros(cells.size)  # S_g of the cell's cohort
        treated = [(h, units) for h, units in enumerate(data.blocks) if h != data.control_block]
        for h, units in treated:
            dose_total[block == h] = data.doses[units].sum()
            squared_total[block == h] = (data.doses[units] ** 2).sum()
        lead_total = squared_total @ incidence  # S_m
        members, by_member, fixed, powers = [], [], [], []
        for h, units in treated:
            own = np.flatnonzero(block == h)
            if own.size == 0:
                continue
            doses = data.doses[units, None]
            # Left out of the fit under the null, a unit's residual in a lead cell grows by
            # 1 / (1 - h), its leverage h = v^2 (1 / S_g - 1 / S_m).
            leverage = doses**2 * (1.0 / squared_total[own] - 1.0 / lead_total[lead[own]])
            if (leverage > 1 - 1e-8).any():
                raise ValueError(
                    "pretrend: a unit alone determines a lead (leverage 1); the bootstrap cannot "
                    "leave it out: use pretrend='wald'"
                )
            residual = (
                data.outcomes[units] @ differences[:, own]
                - control_mean[own]
                - doses * restricted_slope[own]
            ) / (1.0 - leverage)
            members.append((units, own))
            by_member.append(
                np.hstack([doses * residual, doses**2 * residual, doses**3 * residual])
            )
            fixed.append((doses**2 * residual).T @ residual)
            powers.append((doses ** np.arange(5)).sum(axis=0))
        # The controls' rho_j = sum_{k in m} A_k r~_jk, from their outcome levels; left out,
        # a control's residual grows by n_C / (n_C - 1) (it no longer moves the mean).
        n_controls = controls.size
        left_out = n_controls / (n_controls - 1)
        to_leads = differences @ (incidence * dose_total[:, None])
        rho = left_out * (
            control_outcomes @ to_leads - control_mean @ (incidence * dose_total[:, None])
        )
        control_levels = np.zeros((data.doses.size, data.outcomes.shape[1] + 1))
        control_levels[controls, :-1] = left_out * control_outcomes
        control_levels[controls, -1] = left_out
        return cls(
            estimates=estimates,
            lead=lead,
            incidence=incidence,
            restricted_slope=restricted_slope,
            control_mean=control_mean,
            dose_total=dose_total,
            lead_total=lead_total,
            control_levels=control_levels,
            differences=differences,
            members=tuple(members),
            by_member=tuple(by_member),
            fixed=tuple(fixed),
            powers=tuple(powers),
            control_fixed=rho.T @ rho,
            n_controls=n_controls,
        )

    def statistics(self, signs: np.ndarray) -> np.ndarray:
        """The Wald statistic of each draw (a row of ``signs``, units in code order)."""
        sums = signs @ self.control_levels  # sum_j eta_j Y_jt, sum_j eta_j
        shift = (
            sums[:, :-1] @ self.differences - sums[:, -1:] * self.control_mean
        ) / self.n_controls  # delta*, draws x lead cells
        spread = (self.dose_total * shift) @ self.incidence  # Delta*_m = sum A_k delta*_k
        block_sums = []
        lead_sum = -spread
        for (units, own), by in zip(self.members, self.by_member, strict=True):
            block_sums.append(signs[:, units] @ by)
            lead_sum[:, self.lead[own]] += block_sums[-1][:, : own.size]  # sum eta v r
        theta = lead_sum / self.lead_total  # R*, draws x q
        # Controls: (sum_j rho_j rho_j' - n_C Delta* Delta*') / n_C^2.
        variance = self.control_fixed - self.n_controls * (spread[:, :, None] * spread[:, None, :])
        variance /= self.n_controls**2
        for (_, own), block_sum, fixed, powers in zip(
            self.members, block_sums, self.fixed, self.powers, strict=True
        ):
            k = own.size
            vectors = np.stack(
                [
                    block_sum[:, 2 * k :],  # sum eta v^3 r
                    block_sum[:, k : 2 * k],  # sum eta v^2 r
                    self.restricted_slope[own] - theta[:, self.lead[own]],  # alpha*
                    shift[:, own],  # delta*
                ],
                axis=1,
            )
            s2, s3, s4 = powers[2], powers[3], powers[4]
            weights = np.array(
                [
                    [0.0, 0.0, 1.0, 0.0],
                    [0.0, 0.0, 0.0, -1.0],
                    [1.0, 0.0, s4, -s3],
                    [0.0, -1.0, -s3, s2],
                ]
            )
            where = self.lead[own]
            variance[:, where[:, None], where[None, :]] += fixed + vectors.transpose(0, 2, 1) @ (
                weights @ vectors
            )
        variance /= np.outer(self.lead_total, self.lead_total)
        solved = np.linalg.solve(variance, theta[:, :, None])[:, :, 0]
        return np.einsum("bq,bq->b", theta, solved)
