"""Imputation difference-in-differences: Borusyak, Jaravel and Spiess (2024).

Estimand. Observations are untreated (never-treated units, and treated units before
``g - anticipation`` for cohort g) or treated. The untreated outcome is modelled as
``Y_it(0) = alpha_i + lambda_t``; the unit and period effects are fit by least squares on the
untreated observations only, each treated observation's ``Y_it(0)`` is imputed from them and
``tau_it = Y_it - alpha_i - lambda_t``. At event time e = t - g the estimate is

    theta_e = sum_i omega_i tau_{i,g_i+e} / sum_i omega_i^2

over the treated observations at e, with ``omega_i = 1`` (the mean effect, didimputation's
``horizon``) or, with ``intensity``, ``omega_i = d_i`` the unit's dose (e.g. the yuan value of its
first counterfeit): the effect per unit of dose weighted by dose, the target of a regression of
the effects on the dose and of models/truth.py's ``weighting="intensity"``. Both are BJS
estimators with weights ``w_it = omega_i / sum_j omega_j^2`` on the treated observations at e.
The ``overall`` estimate is the static one: the same formula over every treated observation with
e >= 0 (didimputation's default, static estimate). With anticipation, the observations at
e = -anticipation..-1 are treated (left out of the first stage) and get estimates only when
``horizons`` asks for them.

Sampling weights (``weights``, didimputation's ``wname``). The first stage is weighted least
squares on the untreated observations, and each treated observation's weight is scaled by its
sampling weight s_it: ``w_it = s_it omega_i / sum_j s_j omega_j^2``. Without ``intensity`` this is
didimputation's ``wtr * wname`` renormalised to sum to one (the s-weighted mean effect); with
``intensity`` it is the s-weighted regression of the effects on the dose through the origin.

Variance (BJS Theorem 3, the conservative estimator, clustered by unit or by ``cluster``). Each
estimate is linear in the outcomes, ``theta = sum_it v_it Y_it``, with ``v_it = w_it`` on treated
observations and ``v^0 = -S0 Z0 (Z0'S0Z0)^- Z1' w1`` on untreated ones (Z the unit and period
dummies, S the sampling weights (1 without), 0/1 the untreated/treated rows). With residuals
``eps~_it = Y_it - alpha_i - lambda_t`` on untreated observations and ``eps~_it = tau_it -
tau~_it`` on treated ones, where ``tau~_it`` averages the tau of the observation's cohort x
event-time cell with weights ``v_it^2`` (didimputation's choice; BJS also propose a leave-out
average, not used here),

    Var(theta) = sum_i (sum_t v_it eps~_it)^2,

or with ``cluster`` (didimputation's ``cluster_var``) the same sum over the clusters g of
``(sum_{it in g} v_it eps~_it)^2``; like didimputation, any partition of the rows is accepted
(a unit may change cluster). One deliberate difference: with weights that vary, didimputation
multiplies the dummies by the weights (not their square roots) before forming ``Z0'Z0`` and
``Z1' w1``, so its ``v^0`` is ``-S0 Z0 (Z0'S0^2 Z0)^- Z1'S1 w1``, which is not the estimator's own
weight on the untreated outcomes; goodwill uses the ``v^0`` above, for which ``theta = sum v Y``
holds (the two agree when the weights are constant).

Within a cohort x event-time cell every estimate's weights are proportional to the same
``s_it omega_i``, so ``tau~`` (hence ``eps~``) is the same for every estimate. The covariance of two
estimates is therefore ``sum_i S_i S'_i`` with the unit scores ``S_i = sum_t v_it eps~_it`` of
each: the cross terms of the same formula, which makes ``cumulative(0, 11)``'s standard error
that of the sum's own weights ``v^0 + ... + v^11`` (didimputation reports standard errors only).

Computation. ``v^0`` never builds Z: eliminating the unit effects of the normal equations (one
division per unit) leaves a periods x periods system, solved once for every estimate at once
(:class:`TwoWayNormalEquations`); the first stage is the same solve with the outcome's totals.
Memory is a few arrays of units x periods.

Treated observations whose ``Y_it(0)`` cannot be imputed (a unit with no untreated period, a
period in which every observed unit is treated, or a unit and period in different connected
pieces of the untreated sample) are dropped, as didimputation drops their missing predictions,
but with an :class:`ImputationWarning` that counts them.

Reference: Borusyak, K., Jaravel, X. and Spiess, J. (2024), "Revisiting event-study designs:
robust and efficient estimation", Review of Economic Studies 91(6), 3253-3285. Checked against
the R package didimputation (Butts; 0.3.0 README numbers on its df_het panel).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from models.estimation.arguments import at_least, strict_bool
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.imputation_event_study import imputation_event_study
from models.estimation.imputation_pretrends import imputation_pretrends
from models.estimation.imputation_variance import (
    Clusters,
    TreatedObservations,
    cluster_scores,
    memberships,
)
from models.estimation.inference import LinearCombination
from models.estimation.panel_data import PanelData, categorical_codes, require_columns
from models.estimation.results import Estimates, EventTimes, Results
from models.estimation.two_way_equations import TwoWayNormalEquations
from models.estimation.vcov import (
    Covariance,
    VcovRequest,
    VcovSpec,
    parse_unit_clustered,
    parse_vcov,
)
from models.exceptions import ImputationWarning


@dataclass(frozen=True)
class _Panel:
    """The checked panel as units x periods arrays."""

    outcome: np.ndarray
    periods: np.ndarray
    cohorts: np.ndarray
    doses: np.ndarray | None
    effective_treated: EffectiveTreated | None
    weights: np.ndarray | None
    clusters: Clusters | None


class ImputationDiD:
    """Borusyak, Jaravel and Spiess's imputation estimator of effects by event time.

    See the module docstring for the estimand, the variance and the handling of treated
    observations that cannot be imputed.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period (balanced or not).
    outcome, unit, time, cohort : str
        Columns: outcome (e.g. weekly spend in yuan), unit id, integer period, first treated
        period (NaN or +inf: never treated).
    horizons : sequence of int, optional
        Event times to estimate; by default every event time >= 0 with an imputable treated
        observation. Event times from ``-anticipation`` to -1 are the anticipation periods.
    anticipation : int
        Periods before treatment in which units may already react: those observations are left
        out of the untreated sample.
    intensity : str, optional
        Column with each unit's dose (e.g. ``"fake_value"``), constant within a unit and > 0 for
        treated units; the effects are then per unit of dose, dose-weighted (module docstring).
    weights : str, optional
        Column of positive sampling weights s_it (didimputation's ``wname``): the first stage is
        weighted least squares and each treated observation's weight in an estimate is scaled
        by s_it (module docstring).
    cluster : str, optional
        Column of the clusters of the variance (didimputation's ``cluster_var``), e.g. a region
        above the unit; by default the unit.
    nonnegative_outcome : bool
        Refuse a negative outcome (for spend); False by default (log spend may be negative).

    Examples
    --------
    >>> from models import ConsumerSpendModel
    >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=22, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ImputationWarning)  # week-1 victims: no pre-period
    ...     res = ImputationDiD(panel, "spend", "consumer_id", "week", "fake_week",
    ...                         intensity="fake_value").fit()
    >>> res.event_times[:3], res.window
    ((0, 1, 2), (0, 20))
    >>> estimate, se = res.cumulative(0, 11)  # 12-week spend change per yuan of counterfeit
    """

    VCOV: ClassVar[tuple[str, ...]] = ("CRV1",)
    """The variance ``fit(vcov=...)`` supports: clustered by the unit (BJS's conservative)."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        *,
        horizons: Sequence[int] | None = None,
        anticipation: int = 0,
        intensity: str | None = None,
        weights: str | None = None,
        cluster: str | None = None,
        nonnegative_outcome: bool = False,
    ) -> None:
        anticipation = at_least("anticipation", anticipation, 0, "ImputationDiD")
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.cohort = cohort
        self.anticipation = int(anticipation)
        self.horizons = None if horizons is None else self._check_horizons(horizons)
        self.intensity = intensity
        self.weights = weights
        self.cluster = cluster
        self.nonnegative_outcome = strict_bool(
            "nonnegative_outcome", nonnegative_outcome, "ImputationDiD"
        )
        self._panel = self._check_panel()

    def _check_horizons(self, horizons: Sequence[int]) -> tuple[int, ...]:
        values = np.asarray(horizons)
        if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu":
            raise ValueError(f"horizons: expected a non-empty list of integers, got {horizons!r}")
        if values.min() < -self.anticipation:
            raise ValueError(
                f"horizons: event times below -anticipation ({-self.anticipation}) are untreated "
                f"observations, got {int(values.min())}"
            )
        return tuple(int(h) for h in np.unique(values))

    def _check_panel(self) -> _Panel:
        """The outcome as a units x periods array (NaN where a row is missing), checked."""
        data = PanelData.read(
            self.df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            weights=self.weights,
            nonnegative_outcome=self.nonnegative_outcome,
        )
        warn_few_effective(data.effective_treated, "ImputationDiD", self.intensity)
        periods, cohorts = data.periods, data.cohorts
        untreated = periods[data.period_codes] < cohorts[data.unit_codes] - self.anticipation
        if not untreated.any():
            raise ValueError(
                f"column {self.cohort!r}: no untreated observations (rows of never-treated units "
                f"or before a unit's cohort - anticipation) to fit the unit and period effects"
            )
        weights = None if data.row_weights is None else data.to_grid(data.row_weights)
        clusters = None
        if self.cluster is not None:
            require_columns(self.df, [self.cluster], "cluster")
            codes, size = categorical_codes(self.df, self.cluster)
            grid = np.nan_to_num(data.to_grid(codes.astype(float)), nan=0.0)
            clusters = Clusters(grid.astype(np.int64), size)
        return _Panel(
            data.to_grid(data.y), periods, cohorts, data.doses, data.effective_treated, weights,
            clusters,
        )  # fmt: skip

    def fit(self, vcov: VcovSpec = "CRV1") -> Results:
        """Impute the untreated outcomes, average the effects and estimate their covariance.

        Parameters
        ----------
        vcov : str or dict
            ``"CRV1"`` (or ``{"CRV1": cluster}``): BJS's conservative variance, clustered by
            ``cluster`` (the unit by default), the only one available.

        Returns
        -------
        Results
            ``params`` named ``event_time::e``, the covariance of BJS's conservative variance
            (clustered, normal critical values), ``overall`` = the static estimate and
            its standard error.
        """
        self._check_vcov(vcov)
        panel = self._panel
        observed = ~np.isnan(panel.outcome)
        start = (panel.cohorts - self.anticipation)[:, None]
        untreated = observed & (panel.periods[None, :] < start)
        equations = TwoWayNormalEquations.from_mask(untreated, panel.weights)
        y0 = np.where(untreated, panel.outcome, 0.0)
        if panel.weights is not None:
            y0 = equations.mask * y0
        alpha, lam = equations.solve(y0.sum(axis=1), y0.sum(axis=0))
        residual = np.where(untreated, panel.outcome - alpha[:, None] - lam[None, :], 0.0)
        if panel.weights is not None:
            residual = equations.mask * residual
        treated = self._imputable(observed & ~untreated, equations)
        units, periods = np.nonzero(treated)
        dose = np.ones(units.size) if panel.doses is None else panel.doses[units]
        effects = TreatedObservations(
            unit_index=units,
            period_index=periods,
            event=(panel.periods[periods] - panel.cohorts[units]).astype(np.int64),
            effect=panel.outcome[units, periods] - alpha[units] - lam[periods],
            weight=dose if panel.weights is None else panel.weights[units, periods] * dose,
            dose=dose,
        )
        horizons = self._horizons(effects.event)
        member, column = memberships(effects.event, horizons)
        totals = np.bincount(column, weights=effects.weight[member] * effects.dose[member])
        w = effects.weight[member] / totals[column]
        estimates = np.bincount(column, weights=w * effects.effect[member])
        scores = cluster_scores(
            equations, residual, effects, panel.cohorts, member, column, w, panel.clusters
        )
        return self._results(horizons, estimates, scores, untreated, treated, equations)

    def _check_vcov(self, vcov: VcovSpec) -> None:
        """Only BJS's conservative variance, clustered by ``cluster`` (the unit by default)."""
        if self.cluster is None:
            parse_unit_clustered(vcov, self.unit, "ImputationDiD")
            return
        request = parse_vcov(vcov, [self.cluster], self.VCOV, "ImputationDiD")
        if request.clusters != (self.cluster,):
            raise ValueError(
                f"ImputationDiD: vcov: clustered by the column given as cluster, "
                f"{self.cluster!r}, got clusters {', '.join(map(repr, request.clusters))}"
            )

    def pretrends(self, leads: Sequence[int], vcov: VcovSpec = "CRV1") -> Results:
        """BJS's pre-trend regression on the untreated observations (didimputation's
        ``pretrends``): the lead coefficients and their joint test (``pretrend_test()``).

        Parameters
        ----------
        leads : sequence of int
            Event times below ``-anticipation`` to test, e.g. ``range(-5, 0)``.
        vcov : str or dict
            Clustered by ``cluster`` (the unit by default), weighted by ``weights``; see
            :func:`~models.estimation.imputation_pretrends.imputation_pretrends`.
        """
        return imputation_pretrends(
            self.df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            leads,
            anticipation=self.anticipation,
            weights=self.weights,
            cluster=self.cluster,
            vcov=vcov,
        )

    def event_study(self, leads: Sequence[int], ref: int | None = -1) -> Results:
        """Pre-trend leads and effects from one imputation model, with their joint covariance,
        for HonestDiD (:func:`~models.estimation.honest_did.honest_did_from_results`).

        The untreated outcome model adds the lead dummies (times the dose, with ``intensity``)
        to the unit and period effects, the regression of :meth:`pretrends`, and the effects
        are imputed from it, so leads and effects share one baseline; all are normalised at
        ``ref``. The covariance stacks the leads' CRV1 and the effects' BJS cluster scores.
        The effects differ from :meth:`fit`'s, whose unit effects also use the lead periods.
        See :mod:`~models.estimation.imputation_event_study` for the design and its limits.

        Parameters
        ----------
        leads : sequence of int
            Event times below ``-anticipation``, e.g. ``range(-5, 0)``.
        ref : int or None, default -1
            The lead every coefficient is measured against (dropped); None: raw coefficients.

        Examples
        --------
        >>> from models import ConsumerSpendModel, honest_did_from_results
        >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=300, n_weeks=12, seed=2)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", ImputationWarning)
        ...     model = ImputationDiD(panel, "spend", "consumer_id", "week", "fake_week")
        ...     res = model.event_study(leads=range(-3, 0))
        >>> res.event_times[:3]
        (-3, -2, 0)
        >>> sd = honest_did_from_results(res, "SD", grid=[0.0, 1.0])
        """
        return imputation_event_study(self, leads, ref)

    def _imputable(self, treated: np.ndarray, equations: TwoWayNormalEquations) -> np.ndarray:
        """Treated observations whose unit and period effects are identified; warn of the rest."""
        unit_piece = equations.unit_piece[:, None]
        period_piece = equations.period_piece[None, :]
        imputable = treated & (unit_piece == period_piece) & (unit_piece >= 0)
        dropped = treated & ~imputable
        if not imputable.any():
            raise ValueError(
                f"column {self.cohort!r}: no treated observation can be imputed (each needs a "
                f"cohort inside the panel, an untreated period of its unit and untreated units "
                f"in its period)"
            )
        if dropped.any():
            no_unit = dropped & (unit_piece < 0)
            no_period = dropped & ~no_unit & (period_piece < 0)
            reasons = {
                "in units with no untreated period": no_unit,
                "in periods with no untreated unit": no_period,
                "in a unit and period not linked by untreated observations": dropped
                & ~no_unit
                & ~no_period,
            }
            detail = ", ".join(f"{int(m.sum()):,} {why}" for why, m in reasons.items() if m.any())
            warnings.warn(
                f"ImputationDiD: dropped {int(dropped.sum()):,} treated observation(s) whose "
                f"untreated outcome cannot be imputed ({detail})",
                ImputationWarning,
                stacklevel=3,
            )
        return imputable

    def _horizons(self, event: np.ndarray) -> np.ndarray:
        """The event times to estimate, checked to have imputable treated observations."""
        if not (event >= 0).any():
            raise ValueError(
                f"column {self.cohort!r}: no imputable treated observation at event time >= 0"
            )
        if self.horizons is None:
            return np.unique(event[event >= 0])
        horizons = np.array(self.horizons)
        missing = horizons[~np.isin(horizons, event)]
        if missing.size:
            raise ValueError(
                f"horizons: no imputable treated observation at event time(s) "
                f"{', '.join(map(str, missing))} (observed: {event.min()}..{event.max()})"
            )
        return horizons

    def _results(
        self,
        horizons: np.ndarray,
        estimates: np.ndarray,
        scores: np.ndarray,
        untreated: np.ndarray,
        treated: np.ndarray,
        equations: TwoWayNormalEquations,
    ) -> Results:
        covariance = scores.T @ scores
        n_horizons = horizons.size
        used = untreated | treated
        clusters = self._panel.clusters
        if clusters is None:
            n_clusters = int(used.any(axis=1).sum())
        else:
            n_clusters = int(np.unique(clusters.codes[used]).size)
        n_units_fe = int((equations.unit_piece >= 0).sum())
        n_periods_fe = int((equations.period_piece >= 0).sum())
        n_untreated = int(untreated.sum())
        return Results(
            model_name="ImputationDiD",
            outcome=self.outcome,
            estimates=Estimates(
                names=tuple(f"event_time::{h}" for h in horizons),
                coefficients=estimates[:n_horizons],
                covariance=Covariance(
                    matrix=covariance[:n_horizons, :n_horizons],
                    df_t=np.inf,
                    request=VcovRequest("BJS conservative", (self.cluster or self.unit,)),
                    n_clusters=(n_clusters,),
                ),
                nobs=n_untreated + int(treated.sum()),
            ),
            event=EventTimes(
                event_times=tuple(int(h) for h in horizons),
                window=(int(horizons[0]), int(horizons[-1])),
                intensity=self.intensity,
            ),
            overall=LinearCombination(float(estimates[-1]), float(np.sqrt(covariance[-1, -1]))),
            notes=(
                ("Untreated observations", f"{n_untreated:,}"),
                (
                    "Their fixed effects",
                    f"{self.unit} ({n_units_fe:,}), {self.time} ({n_periods_fe:,})",
                ),
                *((("Sampling weights", self.weights),) if self.weights else ()),
            ),
            treated_units=self._panel.effective_treated,
        )
