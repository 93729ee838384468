"""EventStudy: two-way fixed-effects event study with leads and lags, optionally per unit of dose.

The regression (the 2017 Taobao study's design) is

    y_it = alpha_i + lambda_t + sum_{k in window, k != ref} beta_k D_it^k + e_it,

where ``D_it^k = 1`` (or the unit's intensity, e.g. the yuan value of its first counterfeit)
when unit i is k periods from its first treatment at period t, and 0 otherwise. Units that are
never treated (cohort NaN or +inf) are controls with all indicators zero. Event times beyond the
window are pooled into its end points (``bin_endpoints=True``, the default), or those rows are
dropped from the sample. With ``intensity``, beta_k is the effect per unit of the intensity, so
``cumulative(0, 11)`` of a per-yuan study is the 12-week spend change per yuan of counterfeit.

On a balanced panel with only unit and period fixed effects the fit is exact with no iteration and
never builds the indicator matrix (:class:`models.estimation.design.IndicatorDesign`); any other
panel goes through the general absorption of :mod:`models.estimation.absorb` (exact for one large
fixed effect plus small ones, alternating projections otherwise). With sampling weights
(``weights=``) the fit is weighted least squares on that general path
(:mod:`models.estimation.regression_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from models.estimation.absorb import DEFAULT_MAXITER, DEFAULT_TOL, FixedEffects, encode
from models.estimation.arguments import (
    convergence,
    event_window,
    observed_event_time,
    strict_bool,
)
from models.estimation.design import IndicatorDesign
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.ols import DEFAULT_COLLIN_TOL, fit_within, singletons_kept
from models.estimation.panel_data import (
    PanelData,
    categorical_codes,
    fixed_effect_columns,
    require_columns,
)
from models.estimation.regression_weights import (
    refuse_with_weights,
    weighted_effects,
    weights_note,
)
from models.estimation.results import EventTimes, Results
from models.estimation.small_sample import SmallSample
from models.estimation.vcov import VARIANCE_ESTIMATORS, VcovSpec, parse_vcov
from models.estimation.wild_bootstrap import bootstrap_requested, lead_bootstrap


@dataclass(frozen=True)
class _EventPanel:
    """What :class:`EventStudy` computes once from the panel."""

    codes: dict[str, tuple[np.ndarray, int]]
    fe: FixedEffects
    outcome: np.ndarray
    intensity: np.ndarray | None
    column: np.ndarray
    inside: np.ndarray | None
    effective_treated: EffectiveTreated | None
    weights: np.ndarray | None


class EventStudy:
    """Two-way fixed-effects event study around a staggered treatment.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period.
    outcome : str
        Outcome column (e.g. weekly spend in yuan).
    unit, time : str
        Unit identifier and period columns. Periods are integers (e.g. week numbers).
    cohort : str
        First treated period of each row's unit; NaN or +inf for never-treated units.
    window : (int, int)
        Lowest and highest event time with its own coefficient.
    ref : int
        Omitted reference event time, inside the window; some treated row must have it (with
        ``bin_endpoints``, an end point of the window stands for every event time beyond it).
    intensity : str, optional
        Column of a dose multiplying the indicators (e.g. ``"fake_value"``): the effects are
        then per unit of it. One positive finite value per treated unit (any value on
        never-treated units' rows).
    bin_endpoints : bool
        Pool event times below/above the window into its end points (default); if False, drop
        those rows of treated units from the sample.
    fixed_effects : sequence of str, optional
        Fixed effects to absorb instead of ``[unit, time]`` (e.g. add ``"segment^week"``).
    drop_singletons : bool
        Drop observations alone in a level of a fixed effect, repeatedly, as
        :class:`models.FixedEffectsOLS` does (a balanced panel has none).
    nonnegative_outcome : bool
        Refuse a panel with a negative outcome (for spend); False by default, since an outcome
        such as log spend or a difference may be negative.
    weights : str, optional
        Column of positive sampling weights, one per row (they may vary within a unit): the
        regression is then weighted least squares, as fixest's ``feols(..., weights = ~w)``
        (analytic weights), and iid, HC1 and CRV1 use the weighted scores with fixest's
        small-sample factor (n counts rows, not weights). The CR3 jackknife and the bootstrap
        pre-trend test are not available with weights.

    Raises
    ------
    ValueError
        For a bad panel (:class:`~models.estimation.panel_data.PanelData`), a ``ref`` that no
        treated row has, a panel whose units are all treated in one period (no contrast), and
        arguments out of range or not strictly boolean (:mod:`models.estimation.arguments`).

    Examples
    --------
    >>> from models import ConsumerSpendModel
    >>> panel, truth = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=22, seed=1)
    >>> study = EventStudy(panel, outcome="spend", unit="consumer_id", time="week",
    ...                    cohort="fake_week", window=(-4, 12), ref=-1, intensity="fake_value")
    >>> res = study.fit(vcov="CRV1")
    >>> res.event_time_effects().columns.tolist()
    ['estimate', 'se', 'ci_low', 'ci_high']
    """

    VCOV: ClassVar[tuple[str, ...]] = tuple(VARIANCE_ESTIMATORS)
    """The variance estimators ``fit(vcov=...)`` supports."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        *,
        window: tuple[int, int] = (-4, 12),
        ref: int = -1,
        intensity: str | None = None,
        bin_endpoints: bool = True,
        fixed_effects: Sequence[str] | None = None,
        drop_singletons: bool = True,
        nonnegative_outcome: bool = False,
        weights: str | None = None,
    ) -> None:
        if fixed_effects is not None and (
            isinstance(fixed_effects, str) or len(fixed_effects) == 0
        ):
            raise ValueError("fixed_effects: expected a non-empty list of column names")
        require_columns(df, fixed_effect_columns(fixed_effects or []), "fixed effect")
        checked_window, checked_ref = event_window(window, ref)
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.cohort = cohort
        self.window = checked_window
        self.ref = checked_ref
        self.intensity = intensity
        self.bin_endpoints = strict_bool("bin_endpoints", bin_endpoints, "EventStudy")
        self.fixed_effects = tuple(fixed_effects) if fixed_effects is not None else (unit, time)
        self.drop_singletons = strict_bool("drop_singletons", drop_singletons, "EventStudy")
        self.nonnegative_outcome = strict_bool(
            "nonnegative_outcome", nonnegative_outcome, "EventStudy"
        )
        self.weights = weights
        self._panel = self._check_panel()

    def _check_panel(self) -> _EventPanel:
        """Validate the panel once (:class:`PanelData`); keep what every fit needs.

        Event times are computed for treated units' rows only (a tenth of the study's panel).
        """
        panel = PanelData.read(
            self.df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            weights=self.weights,
            nonnegative_outcome=self.nonnegative_outcome,
        )
        _require_a_contrast(panel.cohorts, self.cohort)
        warn_few_effective(panel.effective_treated, "EventStudy", self.intensity)
        rows, event_time = panel.treated_rows()
        n_rows = panel.y.size
        k = len(self.event_times)
        column = np.full(n_rows, -1, dtype=np.int8 if k < 127 else np.int32)
        column[rows] = self._indicator_columns(event_time)
        lo, hi = self.window
        outside = (event_time < lo) | (event_time > hi)
        used = np.clip(event_time, lo, hi) if self.bin_endpoints else event_time[~outside]
        observed_event_time("ref", self.ref, used, "EventStudy")
        inside = None
        if not self.bin_endpoints:
            if outside.any():
                inside = np.ones(n_rows, dtype=bool)
                inside[rows[outside]] = False
        return _EventPanel(
            codes={
                self.unit: (panel.unit_codes, panel.n_units),
                self.time: (panel.period_codes, panel.n_periods),
            },
            fe=panel.fe,
            outcome=panel.y,
            intensity=panel.row_doses,
            column=column,
            inside=inside,
            effective_treated=panel.effective_treated,
            weights=panel.row_weights,
        )

    def _indicator_columns(self, event_time: np.ndarray) -> np.ndarray:
        """The coefficient column of each treated row from its event time (-1: reference)."""
        lo, hi = self.window
        columns = np.array(
            [-1 if k == self.ref else k - lo - (k > self.ref) for k in range(lo, hi + 1)],
            dtype=np.int32,
        )
        return columns[np.clip(event_time, lo, hi).astype(np.intp) - lo]

    def _codes(self, name: str, sample: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Codes and number of levels of a categorical column on the sample (all if None)."""
        if name not in self._panel.codes:
            return categorical_codes(self.df if sample is None else self.df.loc[sample], name)
        codes, size = self._panel.codes[name]
        return (codes, size) if sample is None else encode(codes[sample])

    def _fixed_effects(self, sample: np.ndarray | None) -> FixedEffects:
        """The absorbed fixed effects on the rows where ``sample`` is True (all if None)."""
        if sample is None and self.fixed_effects == self._panel.fe.names:
            return self._panel.fe
        # Codes from _codes are 0..G-1 with every level present: no need to renumber them.
        encoded = [self._codes(name, sample) for name in self.fixed_effects]
        return FixedEffects(
            names=self.fixed_effects,
            codes=tuple(codes for codes, _ in encoded),
            sizes=tuple(size for _, size in encoded),
            n_obs=len(self.df) if sample is None else int(sample.sum()),
        )

    @property
    def event_times(self) -> tuple[int, ...]:
        """Event times with a coefficient: the window without the reference."""
        lo, hi = self.window
        return tuple(k for k in range(lo, hi + 1) if k != self.ref)

    def fit(
        self,
        vcov: VcovSpec = "CRV1",
        *,
        ssc: SmallSample | None = None,
        pretrend: str = "wald",
        pretrend_draws: int = 999,
        seed: int = 0,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        collin_tol: float = DEFAULT_COLLIN_TOL,
    ) -> Results:
        """Estimate the event-time effects.

        Parameters
        ----------
        vcov : str or dict
            ``"CRV1"`` (clustered by unit, the default), ``"iid"``, ``"HC1"``,
            ``{"CRV1": "col"}`` / ``{"CRV1": "a+b"}``, or ``"CR3"``, the leave-one-unit-out
            jackknife (balanced panel, no covariates, weights or other fixed effects; robust to
            a few dominant doses, :mod:`models.estimation.jackknife`); see
            :mod:`models.estimation.vcov`.
        ssc : SmallSample, optional
            Small-sample factor and t degrees of freedom, :func:`models.estimation.small_sample.ssc`
            (fixest's ``ssc()``; default: fixest's default).
        pretrend : {"wald", "bootstrap"}
            The test ``pretrend_test()`` returns: the Wald test from the covariance, or the wild
            cluster bootstrap of it with the null imposed (balanced panel without weights,
            clustered by unit; :mod:`models.estimation.wild_bootstrap`), which keeps its size
            when a few units dominate the leads.
        pretrend_draws, seed : int
            Draws of the bootstrap and the seed of its Rademacher signs.
        tol, maxiter, collin_tol
            As for :meth:`models.estimation.ols.FixedEffectsOLS.fit`.

        Returns
        -------
        Results
            Effects by event time (coefficients ``event_time::k``) with the regression
            statistics.
        """
        convergence("EventStudy", tol, maxiter, collin_tol)
        request = parse_vcov(vcov, [self.unit], self.VCOV, "EventStudy", ssc)
        bootstrap = bootstrap_requested("EventStudy", pretrend, pretrend_draws, seed)
        refuse_with_weights("EventStudy", self.weights, request, bootstrap)
        panel = self._panel
        sample = panel.inside
        fe = self._fixed_effects(sample)
        keep = singletons_kept(fe) if self.drop_singletons else None
        n_singletons = 0 if keep is None else int(keep.size - keep.sum())
        if keep is not None:
            if sample is None:
                sample = keep
            else:
                sample = sample.copy()
                sample[sample] = keep
            fe = self._fixed_effects(sample)
        fe = weighted_effects(fe, panel.weights, sample)
        column, outcome, intensity = panel.column, panel.outcome, panel.intensity
        if sample is not None:
            column, outcome = column[sample], outcome[sample]
            intensity = None if intensity is None else intensity[sample]

        # With intensity, NaN only on never-treated rows, which have no indicator.
        value = np.ones(column.size) if intensity is None else intensity
        names = [f"event_time::{k}" for k in self.event_times]
        design = IndicatorDesign.absorb(names, column, value, fe, tol=tol, maxiter=maxiter)
        event_time_of = dict(zip(names, self.event_times, strict=True))
        fitted = fit_within(
            y=outcome,
            design=design,
            fe=fe,
            request=request,
            cluster_values=lambda name: self._codes(name, sample),
            tol=tol,
            maxiter=maxiter,
            collin_tol=collin_tol,
            n_singletons=n_singletons,
        )
        event_times = np.array([event_time_of[name] for name in fitted.estimates.names])
        lead_test = None
        if bootstrap:
            leads = np.eye(event_times.size)[event_times < 0]
            lead_test = lead_bootstrap(fitted, pretrend_draws, seed)(leads)
        event = EventTimes(
            event_times=tuple(int(e) for e in event_times),
            ref=self.ref,
            window=self.window,
            intensity=self.intensity,
            bin_endpoints=self.bin_endpoints,
            pretrend=lead_test,
        )
        return Results(
            "EventStudy",
            self.outcome,
            fitted.estimates,
            fitted.statistics,
            event,
            notes=weights_note(self.weights),
            treated_units=panel.effective_treated,
        )


def _require_a_contrast(cohorts: np.ndarray, column: str) -> None:
    """Raise if every unit is treated, all in one period: event time is then period minus a
    constant, so the indicators are collinear with the period effects."""
    if np.isfinite(cohorts).all() and (cohorts == cohorts[0]).all():
        raise ValueError(
            f"EventStudy: column {column!r}: every unit is treated, all in period "
            f"{cohorts[0]:g}; the event times cannot be told apart from the periods (add "
            "never-treated units)"
        )
