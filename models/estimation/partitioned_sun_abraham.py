"""Sun and Abraham's interaction-weighted event study (:class:`~models.SunAbraham`) from
partitions of a panel, combined exactly: the pure statistics behind
:func:`sim.fit_partitioned_sun_abraham` (arrays and DataFrames, no I/O).

The saturated regression is an indicator design (:mod:`models.estimation.partitioned_indicators`)
whose columns are the cohort x event-time cells: a treated row of cohort g at period t has the
column of cell (g, t - g) unless t - g is the reference, with value 1 or the unit's dose. Three
passes read each partition:

0. :func:`partition_structure`: its units, cohorts, periods and the treated rows' (cohort,
   period) counts. :func:`plan_fit` combines them into the control group (``control="last"``
   makes the last cohort a control and drops the periods from its treatment on) and fixest's
   ``sunab`` rules (a cohort never observed from its treatment on is a control; one never
   observed before it is dropped with an :class:`~models.exceptions.AlwaysTreatedWarning`), as
   :class:`~models.SunAbraham` finds them on the whole panel;
1. :func:`partition_moments`: the cross-products on the partition's own cells and periods;
   :func:`solve_moments` scatters them into the union of the cells (ordered by event time, then
   cohort, as in memory) and solves for the CATT(g, e);
2. :func:`partition_scores`: the unit scores' outer products (CRV1 by unit), the HC1 meat (only
   when asked for: it costs rows x cells^2) and e'e.

:func:`sun_abraham_results` turns them into :class:`~models.estimation.interaction_weighted.\
SunAbrahamResults`: the cohort shares of each event time are the cells' sums of ``w v^2`` (1,
the squared dose, times the sampling weight), summed over partitions, and the aggregation is
:func:`~models.estimation.interaction_weighted.interaction_weighted`, the in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.estimation.arguments import observed_event_time, strict_bool
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.interaction_weighted import (
    Cells,
    SunAbrahamResults,
    cell_names,
    interaction_weighted,
)
from models.estimation.ols import DEFAULT_COLLIN_TOL
from models.estimation.partitioned_indicators import (
    IndicatorRows,
    Moments,
    Scores,
    Solution,
    indicator_moments,
    indicator_rows,
    indicator_scores,
    solve_indicators,
)
from models.estimation.partitioned_inference import partitioned_estimates
from models.estimation.partitioned_panel import (
    PartitionPanel,
    check_units,
    effective_treated,
    read_partition,
)
from models.estimation.regression_weights import weights_note
from models.estimation.results import Results
from models.estimation.sun_abraham import (
    CONTROLS,
    control_group,
    fixest_cohorts,
    warn_always_treated,
)
from models.estimation.vcov import VcovRequest

OWNER = "fit_partitioned_sun_abraham"
"""The public function, first in messages."""


@dataclass(frozen=True)
class SunAbrahamSpec:
    """What an out-of-core Sun-Abraham fit is: :class:`~models.SunAbraham`'s arguments that
    scale out (no covariates).

    Attributes
    ----------
    outcome, unit, time, cohort : str
        Columns, as for :class:`~models.SunAbraham`.
    ref : int
        The reference event time (< 0).
    control : {"never", "last"}
        The control group.
    intensity, weights : str or None
        Dose and sampling-weight columns.
    drop_singletons, nonnegative_outcome : bool
        As for :class:`~models.SunAbraham`.
    """

    outcome: str
    unit: str
    time: str
    cohort: str
    ref: int = -1
    control: str = "never"
    intensity: str | None = None
    weights: str | None = None
    drop_singletons: bool = True
    nonnegative_outcome: bool = False

    def __post_init__(self) -> None:
        ref = self.ref
        if isinstance(ref, bool) or not isinstance(ref, int | np.integer) or ref >= 0:
            raise ValueError(f"ref: expected a negative integer event time, got {ref!r}")
        object.__setattr__(self, "ref", int(ref))
        if self.control not in CONTROLS:
            raise ValueError(f"control: expected 'never' or 'last', got {self.control!r}")
        strict_bool("drop_singletons", self.drop_singletons, OWNER)
        strict_bool("nonnegative_outcome", self.nonnegative_outcome, OWNER)

    @property
    def columns(self) -> list[str]:
        """The columns a partition must have."""
        named = [self.outcome, self.unit, self.time, self.cohort, self.intensity, self.weights]
        return [c for c in named if c is not None]

    def read(self, df: pd.DataFrame) -> PartitionPanel:
        """One partition's columns, checked (:func:`read_partition`)."""
        return read_partition(
            df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            self.weights,
            self.nonnegative_outcome,
        )


@dataclass(frozen=True)
class Structure:
    """Pass 0 of one partition: units, cohorts (+inf: never treated), periods, the treated rows'
    (cohort, period, rows) counts, the treated units by cohort and the dose tally."""

    units: np.ndarray
    cohorts: np.ndarray
    periods: np.ndarray
    cohort_periods: np.ndarray
    cohort_units: np.ndarray
    dose_tally: np.ndarray


def partition_structure(df: pd.DataFrame, spec: SunAbrahamSpec) -> Structure:
    """Pass 0 on one partition (a DataFrame holding whole units)."""
    panel = spec.read(df)
    treated = panel.treated
    pairs, counts = np.unique(
        np.column_stack([panel.cohort[treated], panel.time[treated]]), axis=0, return_counts=True
    )
    cohorts, units = np.unique(panel.unit_cohorts, return_counts=True)
    finite = np.isfinite(cohorts)
    return Structure(
        units=panel.units,
        cohorts=cohorts,
        periods=np.unique(panel.time),
        cohort_periods=np.column_stack([pairs.reshape(-1, 2), counts]),
        cohort_units=np.column_stack([cohorts[finite], units[finite]]),
        dose_tally=panel.dose_tally,
    )


@dataclass(frozen=True)
class Plan:
    """Pass 0 combined: which cohorts get indicators, which are controls, which are dropped.

    Attributes
    ----------
    spec : SunAbrahamSpec
        The fit.
    cohorts : numpy.ndarray
        The cohorts with indicators, sorted.
    controls : numpy.ndarray
        Treated cohorts counted as controls (the last one with ``control="last"``, those never
        observed from their treatment on).
    dropped : numpy.ndarray
        Cohorts never observed before their treatment: their units are dropped.
    before : float
        Periods from this one on are dropped (+inf: none).
    lowest : int
        The lowest event time; the column key of cell (g, e) is
        ``(e - lowest) * len(cohorts) + index of g``.
    treated_units : EffectiveTreated or None
        With an intensity: the effective number of treated units.
    """

    spec: SunAbrahamSpec
    cohorts: np.ndarray
    controls: np.ndarray
    dropped: np.ndarray
    before: float
    lowest: int
    treated_units: EffectiveTreated | None


def plan_fit(structures: list[Structure], spec: SunAbrahamSpec, labels: list[str]) -> Plan:
    """Combine pass 0: the checks and cohort rules :class:`~models.SunAbraham` applies.

    Raises
    ------
    ValueError
        If a unit straddles partitions (naming it and both ``labels``), no unit is treated, a
        cohort is not a period, the control group is empty or no treated cohort is observed
        both before and after its treatment.
    """
    check_units([s.units for s in structures], labels)
    cohorts = np.unique(np.concatenate([s.cohorts for s in structures]))
    if np.isinf(cohorts).all():
        raise ValueError(
            f"column {spec.cohort!r}: no treated units (the cohort is NaN or +inf for every unit)"
        )
    periods = np.unique(np.concatenate([s.periods for s in structures]))
    unknown = np.setdiff1d(cohorts[np.isfinite(cohorts)], periods)
    if unknown.size:
        raise ValueError(
            f"column {spec.cohort!r}: cohort(s) {', '.join(f'{c:g}' for c in unknown[:5])} "
            f"are not periods of column {spec.time!r}"
        )
    effective = None
    if spec.intensity is not None:
        effective = effective_treated([s.dose_tally for s in structures], spec.weights is not None)
        warn_few_effective(effective, OWNER, spec.intensity)
    treated = cohorts[np.isfinite(cohorts)]
    kept, last = control_group(cohorts, spec.control, spec.cohort)
    before = np.inf if last is None else last
    pairs = np.concatenate([s.cohort_periods for s in structures])
    pairs = pairs[np.isfinite(kept[np.searchsorted(cohorts, pairs[:, 0])]) & (pairs[:, 1] < before)]
    candidates = np.unique(pairs[:, 0])
    ruled, always = fixest_cohorts(
        candidates, np.searchsorted(candidates, pairs[:, 0]), pairs[:, 1]
    )
    if always.size:
        units = np.concatenate([s.cohort_units for s in structures])
        warn_always_treated(
            always,
            int(units[np.isin(units[:, 0], always), 1].sum()),
            int(pairs[np.isin(pairs[:, 0], always), 2].sum()),
            spec.cohort,
            stacklevel=4,
        )
    indicated = ruled[np.isfinite(ruled) & ~np.isin(ruled, always)]
    if not indicated.size:
        raise ValueError(
            f"column {spec.cohort!r}: no treated cohort is observed both before and after "
            "its treatment"
        )
    return Plan(
        spec=spec,
        cohorts=indicated,
        controls=np.setdiff1d(treated, np.concatenate([indicated, always])),
        dropped=always,
        before=float(before),
        lowest=int(periods.min() - indicated.max()),
        treated_units=effective,
    )


def _sample(df: pd.DataFrame, plan: Plan) -> tuple[IndicatorRows, dict[str, np.ndarray]]:
    """A partition's sample (columns: the cells) and the event times of its treated rows."""
    spec = plan.spec
    panel = spec.read(df)
    cohort = np.where(np.isin(panel.cohort, plan.controls), np.inf, panel.cohort)
    sample = ~np.isin(cohort, plan.dropped) & (panel.time < plan.before)
    treated = np.isfinite(cohort) & sample
    event_time = np.where(treated, panel.time - cohort, 0).astype(np.int64)
    index = np.searchsorted(plan.cohorts, np.where(treated, cohort, plan.cohorts[0]))
    key = (event_time - plan.lowest) * plan.cohorts.size + index
    key = np.where(treated & (event_time != spec.ref), key, -1)
    rows = indicator_rows(
        panel.unit_codes,
        panel.time,
        key,
        panel.dose,
        panel.y,
        panel.weights,
        sample,
        spec.drop_singletons,
    )
    return rows, {"event_times": np.unique(event_time[treated & rows.kept])}


def partition_moments(df: pd.DataFrame, plan: Plan) -> Moments:
    """Pass 1 on one partition: the cross-products on its cells and periods."""
    rows, tallies = _sample(df, plan)
    return indicator_moments(rows, tallies)


def solve_moments(
    moments: list[Moments], plan: Plan, collin_tol: float = DEFAULT_COLLIN_TOL
) -> Solution:
    """Combine pass 1 over partitions (in the given order) and solve for the CATT(g, e).

    Raises
    ------
    ValueError
        If no treated cohort is observed both before and after its treatment, no treated row
        has event time ``ref``, a period has a single row, or nothing can be estimated.
    """
    spec = plan.spec
    event_times = np.unique(np.concatenate([m.tallies["event_times"] for m in moments]))
    if not event_times.size:
        raise ValueError(
            f"column {spec.cohort!r}: no treated cohort is observed both before and after "
            "its treatment"
        )
    observed_event_time("ref", spec.ref, event_times, OWNER)
    keys = np.unique(np.concatenate([m.keys for m in moments]))
    names = list(cell_names(*_cells_of(keys, plan)))
    return solve_indicators(
        moments,
        keys,
        names,
        spec.unit,
        spec.time,
        collin_tol,
        plan.treated_units,
        singletons_dropped=spec.drop_singletons,
    )


def _cells_of(keys: np.ndarray, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """The event times and cohorts of the cells with these column keys."""
    return keys // plan.cohorts.size + plan.lowest, plan.cohorts[keys % plan.cohorts.size]


def partition_scores(
    df: pd.DataFrame, plan: Plan, solution: Solution, hetero: bool = False
) -> Scores:
    """Pass 2 on one partition: the unit scores' outer products and e'e, and the HC1 meat if
    ``hetero``."""
    rows, _ = _sample(df, plan)
    return indicator_scores(rows, solution, hetero)


def sun_abraham_results(
    plan: Plan, solution: Solution, scores: list[Scores], request: VcovRequest
) -> SunAbrahamResults:
    """:meth:`models.SunAbraham.fit`'s results from the combined passes: the saturated
    regression and its interaction-weighted aggregation by event time.

    ``request`` is iid, HC1 or CRV1 clustered by the unit.
    """
    spec = plan.spec
    estimates, statistics = partitioned_estimates(solution, scores, request, (spec.unit, spec.time))
    saturated = Results("SunAbraham (cohort x event time)", spec.outcome, estimates, statistics)
    event_time, cohort = _cells_of(solution.keys, plan)
    cells = Cells(cohort, event_time, solution.raw_sumsq, cell_names(event_time, cohort))
    return interaction_weighted(
        saturated,
        cells,
        spec.ref,
        spec.intensity,
        spec.control,
        plan.treated_units,
        notes=(*weights_note(spec.weights), ("Fit", f"out of core, {len(scores)} partitions")),
    )
