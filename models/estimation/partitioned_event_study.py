"""The two-way event study of :class:`~models.EventStudy` from partitions of a panel, combined
exactly: the pure statistics behind :func:`sim.fit_partitioned` (arrays and DataFrames, no I/O).

The regression is :class:`~models.EventStudy`'s with unit and period fixed effects: an indicator
design whose columns are the event times of the window (without the reference), each treated
row's event time clipped to the window (``bin_endpoints``) or the row dropped outside it. The
algebra, shared with the out-of-core Sun-Abraham fit, is
:mod:`models.estimation.partitioned_indicators`: pass 1 (:func:`partition_moments`) returns each
partition's cross-products of the unit-demeaned [X~, D~, y~] ((k + T + 1)^2 on its columns and
periods) and the checks' tallies; :func:`solve_moments` checks the tallies (units in one
partition, cohorts, the reference) and solves; pass 2 (:func:`partition_scores`) returns the unit
scores' outer products (CRV1 by unit), the HC1 meat (if asked for) and e'e (iid).
:func:`~models.estimation.partitioned_inference.partitioned_results` turns them into
:class:`~models.Results` with goodwill's (fixest's) small-sample factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.estimation.arguments import event_window, strict_bool
from models.estimation.effective_treated import warn_few_effective
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
from models.estimation.partitioned_panel import check_units, effective_treated, read_partition


@dataclass(frozen=True)
class EventSpec:
    """What an out-of-core event study is: :class:`~models.EventStudy`'s arguments.

    Attributes
    ----------
    outcome, unit, time, cohort : str
        Columns, as for :class:`~models.EventStudy`.
    window : (int, int)
        Lowest and highest event time with a coefficient.
    ref : int
        The omitted event time.
    intensity : str or None
        Dose column the effects are per unit of.
    bin_endpoints : bool
        Pool event times beyond the window into its end points (else drop those rows).
    """

    outcome: str
    unit: str
    time: str
    cohort: str
    window: tuple[int, int] = (-4, 12)
    ref: int = -1
    intensity: str | None = None
    bin_endpoints: bool = True

    def __post_init__(self) -> None:
        window, ref = event_window(self.window, self.ref)
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "ref", ref)
        strict_bool("bin_endpoints", self.bin_endpoints, "fit_partitioned")

    @property
    def event_times(self) -> tuple[int, ...]:
        """Event times with a coefficient: the window without the reference."""
        lo, hi = self.window
        return tuple(k for k in range(lo, hi + 1) if k != self.ref)

    @property
    def columns(self) -> list[str]:
        """The columns a partition must have."""
        named = [self.outcome, self.unit, self.time, self.cohort, self.intensity]
        return [c for c in named if c is not None]


def _sample(df: pd.DataFrame, spec: EventSpec) -> tuple[IndicatorRows, dict[str, np.ndarray]]:
    """Check a partition and build its sample (columns: the event times); also the checks'
    tallies."""
    panel = read_partition(df, spec.outcome, spec.unit, spec.time, spec.cohort, spec.intensity)
    treated = panel.treated
    lo, hi = spec.window
    event_time = np.where(treated, panel.time - panel.cohort, 0.0)
    outside = treated & ((event_time < lo) | (event_time > hi))
    inside = ~outside if not spec.bin_endpoints else np.ones(panel.y.size, dtype=bool)
    tallies = {
        "units": panel.units,
        "periods": np.unique(panel.time),
        "event_times": np.unique(np.clip(event_time, lo, hi)[treated & inside]),
        "cohorts": np.unique(panel.unit_cohorts),
        "doses": panel.dose_tally,
    }
    column = np.where(treated, np.clip(event_time, lo, hi).astype(np.int64) - lo, -1)
    column = np.where(column == spec.ref - lo, -1, column - (column > spec.ref - lo))
    rows = indicator_rows(panel.unit_codes, panel.time, column, panel.dose, panel.y, None, inside)
    return rows, tallies


def partition_moments(df: pd.DataFrame, spec: EventSpec) -> Moments:
    """Pass 1 on one partition (a DataFrame holding whole units): the cross-products of
    :func:`~models.estimation.partitioned_indicators.indicator_moments`."""
    rows, tallies = _sample(df, spec)
    return indicator_moments(rows, tallies)


def solve_moments(
    moments: list[Moments],
    spec: EventSpec,
    labels: list[str],
    collin_tol: float = DEFAULT_COLLIN_TOL,
) -> Solution:
    """Combine pass 1 over partitions (in the given order) and solve for the coefficients.

    Raises
    ------
    ValueError
        If a unit straddles partitions, a period has a single row, no treated row has event
        time ``ref``, every unit is treated in one period, or nothing can be estimated.
    """
    check_units([m.tallies["units"] for m in moments], labels)
    tally = {
        name: np.concatenate([m.tallies[name] for m in moments]) for name in moments[0].tallies
    }
    cohorts = np.unique(tally["cohorts"])
    if np.isinf(cohorts).all():
        raise ValueError(f"column {spec.cohort!r}: no treated units (the cohort is NaN for all)")
    if np.isfinite(cohorts).all() and cohorts.size == 1:
        raise ValueError(
            f"column {spec.cohort!r}: every unit is treated, all in period {cohorts[0]:g}; the "
            "event times cannot be told apart from the periods (add never-treated units)"
        )
    unknown = np.setdiff1d(cohorts[np.isfinite(cohorts)], tally["periods"])
    if unknown.size:
        raise ValueError(
            f"column {spec.cohort!r}: cohort(s) {', '.join(f'{c:g}' for c in unknown[:5])} "
            f"are not periods of column {spec.time!r}"
        )
    if spec.ref not in tally["event_times"]:
        raise ValueError(f"ref: no treated row has event time {spec.ref} in the sample")
    effective = None
    if spec.intensity is not None:
        effective = effective_treated([m.tallies["doses"] for m in moments], weighted=False)
        warn_few_effective(effective, "fit_partitioned", spec.intensity)
    k = len(spec.event_times)
    names = [f"event_time::{e}" for e in spec.event_times]
    return solve_indicators(
        moments, np.arange(k), names, spec.unit, spec.time, collin_tol, effective
    )


def partition_scores(
    df: pd.DataFrame, spec: EventSpec, solution: Solution, hetero: bool = True
) -> Scores:
    """Pass 2 on one partition: unit scores of the two-way residuals, summed as outer products,
    and the HC1 meat if ``hetero``
    (:func:`~models.estimation.partitioned_indicators.indicator_scores`)."""
    rows, _ = _sample(df, spec)
    return indicator_scores(rows, solution, hetero)
