"""A wild cluster bootstrap of a joint Wald test, with the null imposed, for event studies.

When a few units dominate the coefficients (large doses in small cohorts), the clustered
covariance of the leads is estimated from a few effective units: the Wald statistic
``theta' V^-1 theta`` then inverts a nearly singular, noisy matrix and is far from its
chi-squared distribution, and a pre-trend test rejects too often (correcting the variance, as
CR3 does, does not cure the noise of its inverse). The wild cluster restricted bootstrap (WCR:
Cameron, Gelbach and Miller, 2008; MacKinnon, Nielsen and Webb, 2023) reproduces that noise: it
refits the model to outcomes ``y* = fit_r + eta_i e~_i`` built from the fit under the null
(``R b = 0`` by restricted least squares) with one Rademacher sign ``eta_i`` per unit,
recomputes the Wald statistic with its own clustered variance each time, and reports the share
of draws at least as large as the data's, ``(1 + #{W* >= W}) / (B + 1)``.

The residuals ``e~_i`` are those unit i would have if it were left out of the fit under the
null, ``(I - H_ii)^-1 e_r,i`` (:func:`models.estimation.jackknife.leave_one_out_residuals`
with the restricted bread ``B - B R' (R B R')^-1 R B``; MacKinnon, Nielsen and Webb's
jackknife-transformed bootstrap residuals). A dominant unit's own residuals understate its
noise, by its leverage; with the plain residuals the draws understate how far the leads can
move and the test still rejects too often (17% at the 5% level on the baseline process with
20,000 consumers, against 6% with the transformed ones; README, Standard errors).

The refits are never run. The model is linear, so a draw's coefficients move by
``d* = B sum_i eta_i u_i`` (``u_i = X~_i' e~_i``, B the bread) and its residuals are
``e*_i = eta_i e~_i - p* - X~_i d*`` (p* the change of the period effects: the period means of
``eta e~``). On a balanced panel ``X~_i = J (X_i - P)`` (J the centring matrix, P the
regressors' period means) and ``X_i = v_i E_g`` for a treated unit of cohort g with dose v_i
(``E_g`` its cohort's indicator pattern; a control has ``X_i = 0``), so each unit's projected
score ``z*_i = R B X~_i' e*_i`` is ``eta_i a_i + c* + v_i m_g* - v_i^2 l_g*`` with
``a_i = R B u_i`` and q-vectors c*, m_g*, l_g* common to a draw (and cohort). The draw's
clustered variance ``sum_i z*_i z*_i'`` then needs only the per-cohort sums
``sum_i eta_i v_i^p a_i`` (p = 0, 1, 2) and fixed moments, since ``eta_i^2 = 1``: per batch of
draws, a few products of the signs (draws x units) with units x periods (or q) arrays.

The statistic uses the unit-clustered sandwich without a small-sample factor (a constant that
cancels in the bootstrap p-value) and is reported as W / q.

References: Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008), "Bootstrap-based
improvements for inference with clustered errors", Review of Economics and Statistics 90(3),
414-427; MacKinnon, J. G., Nielsen, M. O. and Webb, M. D. (2023), "Fast and reliable jackknife
and bootstrap methods for cluster-robust inference", Journal of Applied Econometrics 38(5),
671-694.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.estimation.arguments import at_least
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.inference import WaldTest
from models.estimation.jackknife import TreatedPatterns, leave_one_out_residuals
from models.estimation.ols import WithinFit

DRAW_BATCH = 128
"""Batch b of the bootstrap's draws takes its signs from ``SeedSequence([seed, b])``."""

MAX_SIGNS = 2**23
"""Signs (draws x units, 8 bytes each) handled at once: 64 MB."""


PRETRENDS = ("wald", "bootstrap")
"""The pre-trend tests a fit offers: the analytic Wald test, or its wild bootstrap."""


def bootstrap_requested(owner: str, pretrend: str, n_draws: int, seed: int) -> bool:
    """Check a fit's ``pretrend``, ``pretrend_draws`` (>= 19) and ``seed`` (>= 0) arguments;
    True for ``pretrend="bootstrap"``."""
    if pretrend not in PRETRENDS:
        raise ValueError(f"{owner}: pretrend = {pretrend!r}: expected 'wald' or 'bootstrap'")
    at_least("pretrend_draws", n_draws, 19, owner)
    at_least("seed", seed, 0, owner)
    return pretrend == "bootstrap"


def lead_bootstrap(fitted: WithinFit, n_draws: int, seed: int) -> Callable[[np.ndarray], WaldTest]:
    """The bootstrap test of the leads ``R b = 0`` of a fit, as a function of R."""

    def test(restrictions: np.ndarray) -> WaldTest:
        if restrictions.shape[0] == 0:
            raise ValueError("pretrend: the fit has no leads (event times < 0) to test")
        return wild_bootstrap_wald(
            fitted.design,
            fitted.residuals,
            fitted.bread,
            fitted.estimates.coefficients,
            restrictions,
            n_draws,
            seed,
        )

    return test


def rademacher_signs(n_draws: int, n_units: int, seed: int, first: int = 0) -> np.ndarray:
    """Draws ``first .. first + n_draws - 1`` of the bootstrap's signs (+1 or -1), draws x units.

    Draw d is row ``d % DRAW_BATCH`` of batch ``d // DRAW_BATCH``, which comes from
    ``SeedSequence([seed, batch])``: a draw's signs do not depend on how draws are grouped.

    Examples
    --------
    >>> signs = rademacher_signs(200, 5, seed=1)
    >>> bool((rademacher_signs(72, 5, seed=1, first=128) == signs[128:]).all())
    True
    """
    rows = []
    last = first + n_draws
    for batch in range(first // DRAW_BATCH, -(-last // DRAW_BATCH)):
        rng = np.random.default_rng(np.random.SeedSequence([seed, batch]))
        bytes_ = rng.integers(0, 256, size=(DRAW_BATCH, -(-n_units // 8)), dtype=np.uint8)
        start = batch * DRAW_BATCH
        wanted = bytes_[max(first - start, 0) : last - start]
        rows.append(np.unpackbits(wanted, axis=1, count=n_units))  # 8 fair coins per byte
    return np.concatenate(rows) * 2.0 - 1.0


def draw_chunks(n_draws: int, n_units: int) -> list[tuple[int, int]]:
    """(first draw, number of draws) of each chunk of draws processed at once: at most
    :data:`DRAW_BATCH` draws and, beyond 16 draws, :data:`MAX_SIGNS` signs."""
    size = int(np.clip(MAX_SIGNS // max(n_units, 1), 16, DRAW_BATCH))
    return [(first, min(size, n_draws - first)) for first in range(0, n_draws, size)]


def wild_bootstrap_wald(
    design: DenseDesign | IndicatorDesign,
    residuals: np.ndarray,
    bread: np.ndarray,
    coefficients: np.ndarray,
    restrictions: np.ndarray,
    n_draws: int,
    seed: int,
) -> WaldTest:
    """The wild cluster restricted bootstrap test of ``restrictions @ beta = 0``, by unit.

    Parameters
    ----------
    design : IndicatorDesign
        The indicators (times the dose) of a balanced two-way panel.
    residuals, bread, coefficients : numpy.ndarray
        The fit's within residuals, ``(X~'X~)^-1`` and coefficients.
    restrictions : numpy.ndarray
        R, q x k: the linear combinations of the coefficients tested jointly (the leads).
    n_draws : int
        Bootstrap draws B.
    seed : int
        Seed of the signs (:func:`rademacher_signs`).

    Returns
    -------
    WaldTest
        ``statistic`` W / q, the bootstrap p-value, ``df_num`` q, ``df_denom`` inf and
        ``n_draws`` B.

    Raises
    ------
    ValueError
        For a design other than the balanced two-way one.
    """
    statistic, draws = bootstrap_statistics(
        design, residuals, bread, coefficients, restrictions, n_draws, seed
    )
    q = restrictions.shape[0]
    pvalue = (1 + int((draws >= statistic).sum())) / (n_draws + 1)
    return WaldTest(statistic / q, pvalue, q, np.inf, n_draws)


def bootstrap_statistics(
    design: DenseDesign | IndicatorDesign,
    residuals: np.ndarray,
    bread: np.ndarray,
    coefficients: np.ndarray,
    restrictions: np.ndarray,
    n_draws: int,
    seed: int,
) -> tuple[float, np.ndarray]:
    """The data's Wald statistic W and those of the bootstrap draws (arguments as for
    :func:`wild_bootstrap_wald`)."""
    if not isinstance(design, IndicatorDesign):
        raise ValueError(
            "pretrend: the bootstrap is available for event studies on a balanced panel with "
            "unit and period fixed effects only (no covariates, weights or other fixed "
            "effects); use pretrend='wald'"
        )
    units = _Units.of(design)
    projection = _Projection.of(units, restrictions, bread)
    grid = units.grid(residuals)
    theta = restrictions @ coefficients
    scores = projection.scores(units, grid)
    statistic = float(theta @ np.linalg.solve(scores.T @ scores, theta))
    # The fit under the null, b_r = b - shift, its residuals e_r = e + X~ shift, and the
    # residuals each unit would have if left out of it.
    r_bread = restrictions @ bread
    shift = bread @ restrictions.T @ np.linalg.solve(r_bread @ restrictions.T, theta)
    restricted_bread = bread - r_bread.T @ np.linalg.solve(r_bread @ restrictions.T, r_bread)
    left_out = leave_one_out_residuals(
        design, grid + units.fitted(shift), restricted_bread, units.treated
    )
    draws = _Draws.of(units, projection, left_out, bread)
    batches = [
        draws.statistics(rademacher_signs(size, units.n_units, seed, first))
        for first, size in draw_chunks(n_draws, units.n_units)
    ]
    return statistic, np.concatenate(batches)


@dataclass(frozen=True)
class _Units:
    """The units of a balanced two-way event study by the pattern of their regressors
    (:class:`~models.estimation.jackknife.TreatedPatterns`), with the regressors' period means
    P (periods x k) and each row's unit and period codes."""

    treated: TreatedPatterns
    means: np.ndarray
    unit: np.ndarray
    period: np.ndarray

    @classmethod
    def of(cls, design: IndicatorDesign) -> _Units:
        unit, period = design.fe.codes
        return cls(TreatedPatterns.of(design), design.period_means, unit, period)

    @property
    def patterns(self) -> np.ndarray:
        return self.treated.patterns

    @property
    def members(self) -> tuple[np.ndarray, ...]:
        return self.treated.members

    @property
    def controls(self) -> np.ndarray:
        return self.treated.controls

    @property
    def doses(self) -> np.ndarray:
        return self.treated.doses

    @property
    def n_units(self) -> int:
        return self.doses.size

    @property
    def centre(self) -> np.ndarray:
        """J, the periods x periods centring matrix."""
        n_periods = self.means.shape[0]
        return np.eye(n_periods) - 1.0 / n_periods

    def grid(self, values: np.ndarray) -> np.ndarray:
        """Row values as units x periods."""
        grid = np.empty((self.n_units, self.means.shape[0]))
        grid[self.unit, self.period] = values
        return grid

    def fitted(self, coefficients: np.ndarray) -> np.ndarray:
        """``X~_i b`` of every unit (units x periods), with ``X~_i = J (v_i E_g - P)``."""
        out = np.tile(-(self.centre @ (self.means @ coefficients)), (self.n_units, 1))
        for pattern, members in zip(self.patterns, self.members, strict=True):
            out[members] += np.outer(self.doses[members], self.centre @ (pattern @ coefficients))
        return out

    def dose_powers(self, g: int) -> np.ndarray:
        """``sum_i v_i^p`` over pattern g's units, p = 0..4."""
        return (self.doses[self.members[g], None] ** np.arange(5)).sum(axis=0)


@dataclass(frozen=True)
class _Projection:
    """``R B`` times the fixed parts of the units' scores (q restrictions).

    Attributes
    ----------
    by_period : numpy.ndarray
        ``R B P'`` (q x periods).
    by_pattern : numpy.ndarray
        ``R B E_g'`` of each pattern (patterns x q x periods).
    common : numpy.ndarray
        ``R B P' J P`` (q x k).
    linear, squared : numpy.ndarray
        ``R B (E_g' J P + P' J E_g)`` and ``R B E_g' J E_g`` of each pattern (patterns x q x k).
    restrictions : numpy.ndarray
        R.
    """

    by_period: np.ndarray
    by_pattern: np.ndarray
    common: np.ndarray
    linear: np.ndarray
    squared: np.ndarray
    restrictions: np.ndarray

    @classmethod
    def of(cls, units: _Units, restrictions: np.ndarray, bread: np.ndarray) -> _Projection:
        r_bread = restrictions @ bread
        means, centre, patterns = units.means, units.centre, units.patterns
        by_period = r_bread @ means.T
        by_pattern = np.einsum("qk,gtk->gqt", r_bread, patterns)
        centred = np.einsum("ts,gsk->gtk", centre, patterns)  # J E_g
        return cls(
            by_period=by_period,
            by_pattern=by_pattern,
            common=by_period @ centre @ means,
            linear=by_pattern @ (centre @ means) + np.einsum("qt,gtk->gqk", by_period, centred),
            squared=np.einsum("gqt,gtk->gqk", by_pattern, centred),
            restrictions=restrictions,
        )

    def scores(self, units: _Units, grid: np.ndarray) -> np.ndarray:
        """``R B X~_i' e_i`` of every unit (units x q) for residuals e that sum to zero within
        each unit: ``v_i R B E_g' e_i - R B P' e_i``."""
        out = grid @ -self.by_period.T
        for g, members in enumerate(units.members):
            out[members] += units.doses[members, None] * (grid[members] @ self.by_pattern[g].T)
        return out


@dataclass(frozen=True)
class _Draws:
    """What every draw's Wald statistic is computed from (see the module docstring).

    Attributes
    ----------
    by_unit : numpy.ndarray
        Units x (periods + q): the bootstrap's residuals ``e~_i`` (each unit's, left out of the
        fit under the null) and, on the controls' rows, their projected scores ``a_i``.
    by_member : tuple of numpy.ndarray
        For each pattern, its units x (periods + 3 q): ``v_i e~_i``, ``a_i``, ``v_i a_i``,
        ``v_i^2 a_i``.
    weights : numpy.ndarray
        For each pattern, the 6 x 6 coefficients of ``sum_i z*_i z*_i' = Y' C Y`` over its units
        in the vectors ``Y = (S_0, S_1, S_2, c*, m_g*, l_g*)``, ``S_p = sum_i eta_i v_i^p a_i``.
    fixed : numpy.ndarray
        ``sum_i a_i a_i'`` (q x q).
    """

    units: _Units
    projection: _Projection
    bread: np.ndarray
    by_unit: np.ndarray
    by_member: tuple[np.ndarray, ...]
    weights: np.ndarray
    fixed: np.ndarray

    @classmethod
    def of(
        cls, units: _Units, projection: _Projection, residuals: np.ndarray, bread: np.ndarray
    ) -> _Draws:
        projected = projection.scores(units, residuals)  # a_i
        on_controls = np.zeros_like(projected)
        on_controls[units.controls] = projected[units.controls]
        by_member = []
        weights = np.zeros((len(units.members), 6, 6))
        for g, members in enumerate(units.members):
            doses = units.doses[members, None]
            own = projected[members]
            by_member.append(
                np.hstack([doses * residuals[members], own, doses * own, doses**2 * own])
            )
            s0, s1, s2, s3, s4 = units.dose_powers(g)
            pairs = {(0, 3): 1.0, (1, 4): 1.0, (2, 5): -1.0, (3, 4): s1, (3, 5): -s2, (4, 5): -s3}
            for (x, y), value in pairs.items():
                weights[g, x, y] = weights[g, y, x] = value
            weights[g, 3, 3], weights[g, 4, 4], weights[g, 5, 5] = s0, s2, s4
        return cls(
            units=units,
            projection=projection,
            bread=bread,
            by_unit=np.hstack([residuals, on_controls]),
            by_member=tuple(by_member),
            weights=weights,
            fixed=projected.T @ projected,
        )

    def statistics(self, signs: np.ndarray) -> np.ndarray:
        """The Wald statistic ``theta*' (sum_i z*_i z*_i')^-1 theta*`` of each draw (a row of
        ``signs``)."""
        units, projection = self.units, self.projection
        n_periods = units.means.shape[0]
        q = projection.restrictions.shape[0]
        sums = signs @ self.by_unit
        totals, control_sum = sums[:, :n_periods], sums[:, n_periods:]  # sum eta e~, eta a
        period_shift = totals / units.n_units  # p*
        member_sums = [
            signs[:, members] @ by
            for members, by in zip(units.members, self.by_member, strict=True)
        ]
        score_sum = -(totals @ units.means)  # sum_i eta_i u_i
        for g, member_sum in enumerate(member_sums):
            score_sum += member_sum[:, :n_periods] @ units.patterns[g]
        moved = score_sum @ self.bread  # d*
        theta = moved @ projection.restrictions.T
        common = period_shift @ projection.by_period.T - moved @ projection.common.T  # c*
        variance = self.fixed + _outer(control_sum, common) + _outer(common, control_sum)
        variance += units.controls.size * _outer(common, common)
        n_patterns = len(units.members)
        linear = (moved @ projection.linear.reshape(n_patterns * q, -1).T).reshape(
            -1, n_patterns, q
        )
        linear -= (period_shift @ projection.by_pattern.reshape(n_patterns * q, -1).T).reshape(
            -1, n_patterns, q
        )
        squared = (moved @ projection.squared.reshape(n_patterns * q, -1).T).reshape(
            -1, n_patterns, q
        )
        for g, member_sum in enumerate(member_sums):
            vectors = np.stack(
                [
                    member_sum[:, n_periods : n_periods + q],
                    member_sum[:, n_periods + q : n_periods + 2 * q],
                    member_sum[:, n_periods + 2 * q :],
                    common,
                    linear[:, g],
                    squared[:, g],
                ],
                axis=1,
            )  # draws x 6 x q
            variance += vectors.transpose(0, 2, 1) @ (self.weights[g] @ vectors)
        solved = np.linalg.solve(variance, theta[:, :, None])[:, :, 0]
        return np.einsum("bq,bq->b", theta, solved)


def _outer(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise outer products: draws x q x q."""
    return left[:, :, None] * right[:, None, :]
