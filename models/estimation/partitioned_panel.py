"""One partition of a panel read for an out-of-core fit: its columns checked as the in-memory
estimators check them, shared by :mod:`models.estimation.partitioned_event_study` and
:mod:`models.estimation.partitioned_sun_abraham`.

A partition holds whole units (checked across partitions by :func:`check_units`), so every
per-unit check is exact inside it: a cohort, dose (and its tally for the effective number of
treated units) and sampling weight are read from the unit's own rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.estimation.arguments import shown
from models.estimation.effective_treated import EffectiveTreated
from models.estimation.panel_data import numeric_values, require_columns


@dataclass(frozen=True)
class PartitionPanel:
    """A partition's rows, checked.

    Attributes
    ----------
    units : numpy.ndarray
        The partition's unit ids, sorted; ``unit_codes`` index them.
    unit_codes : numpy.ndarray
        Each row's unit.
    y, time, cohort : numpy.ndarray
        Outcome, period and first treated period (+inf for never treated) by row.
    dose : numpy.ndarray
        Each row's dose (1 without an intensity; only treated units' rows are read).
    weights : numpy.ndarray or None
        Each row's sampling weight (None without weights).
    unit_cohorts : numpy.ndarray
        Each unit's cohort.
    dose_tally : numpy.ndarray
        ``(treated units, sum s, sum s^2)`` with ``s = w v^2`` per treated unit (v its dose, w
        its mean sampling weight, 1 without): summed over partitions, the effective number of
        treated units.
    """

    units: np.ndarray
    unit_codes: np.ndarray
    y: np.ndarray
    time: np.ndarray
    cohort: np.ndarray
    dose: np.ndarray
    weights: np.ndarray | None
    unit_cohorts: np.ndarray
    dose_tally: np.ndarray

    @property
    def treated(self) -> np.ndarray:
        """Whether each row's unit is ever treated."""
        return np.isfinite(self.cohort)


def read_partition(
    df: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    intensity: str | None = None,
    weights: str | None = None,
    nonnegative_outcome: bool = False,
) -> PartitionPanel:
    """Check a partition's columns and read them.

    Raises
    ------
    ValueError
        Naming the column (and the unit) for a non-numeric or missing value, non-integer
        periods, a -inf cohort, a cohort, dose or weight that changes within a unit, a
        repeated (unit, period) row, a negative outcome (with ``nonnegative_outcome``), a dose
        that is not positive and finite or a weight that is not positive.
    """
    named = [outcome, unit, time, cohort, intensity, weights]
    require_columns(df, [c for c in named if c is not None])
    y = numeric_values(df, outcome)
    if nonnegative_outcome and (y < 0).any():
        raise ValueError(
            f"outcome column {outcome!r}: {int((y < 0).sum()):,} negative value(s); expected "
            f"{outcome} >= 0 (nonnegative_outcome=True)"
        )
    periods = numeric_values(df, time)
    if (periods != np.round(periods)).any():
        raise ValueError(f"column {time!r}: expected integer periods")
    cohorts = numeric_values(df, cohort, allow_nan=True)
    if (cohorts == -np.inf).any():
        raise ValueError(f"column {cohort!r}: -inf is not a cohort (never treated is NaN)")
    cohorts = np.where(np.isnan(cohorts), np.inf, cohorts)
    if df[unit].isna().any():
        raise ValueError(f"column {unit!r}: expected no missing unit ids")
    codes, units = pd.factorize(df[unit], sort=True)
    units = np.asarray(units)
    first = np.zeros(units.size, dtype=np.intp)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    _constant_within_units(cohorts, codes, first, units, cohort)
    if pd.MultiIndex.from_arrays([codes, periods]).has_duplicates:
        raise ValueError(f"columns {unit!r}, {time!r}: repeated (unit, period) rows")
    treated = np.isfinite(cohorts)
    dose, unit_dose = np.ones(y.size), np.ones(int(treated[first].sum()))
    if intensity is not None:
        dose = numeric_values(df, intensity, allow_nan=True)
        unit_dose = dose[first][treated[first]]
        if not (np.isfinite(unit_dose) & (unit_dose > 0)).all():
            raise ValueError(
                f"column {intensity!r}: expected one positive finite dose per treated unit"
            )
        _constant_within_units(np.where(treated, dose, 0.0), codes, first, units, intensity)
    row_weights = None
    squared = unit_dose**2
    if weights is not None:
        row_weights = numeric_values(df, weights)
        if (row_weights <= 0).any():
            raise ValueError(
                f"weights column {weights!r}: expected positive weights, found "
                f"{int((row_weights <= 0).sum()):,} zero or negative value(s)"
            )
        mean_weight = np.bincount(codes, row_weights) / np.bincount(codes)
        squared = squared * mean_weight[treated[first]]
    return PartitionPanel(
        units=units,
        unit_codes=codes,
        y=y,
        time=periods,
        cohort=cohorts,
        dose=dose,
        weights=row_weights,
        unit_cohorts=cohorts[first],
        dose_tally=np.array([squared.size, squared.sum(), squared @ squared]),
    )


def _constant_within_units(
    values: np.ndarray, codes: np.ndarray, first: np.ndarray, units: np.ndarray, column: str
) -> None:
    """Raise naming the first unit whose ``values`` change across its rows."""
    reference = values[first][codes]
    changed = ~((values == reference) | (np.isnan(values) & np.isnan(reference)))
    if changed.any():
        unit = units[codes[np.argmax(changed)]]
        raise ValueError(f"column {column!r}: changes within unit {shown(unit)}")


def effective_treated(tallies: list[np.ndarray], weighted: bool) -> EffectiveTreated:
    """The effective number of treated units from the partitions' ``dose_tally``."""
    treated, total, squares = np.sum(tallies, axis=0)
    label = "dose squared x sampling" if weighted else "dose squared"
    return EffectiveTreated(float(total**2 / squares), int(treated), label)


def check_units(units: list[np.ndarray], labels: list[str]) -> None:
    """Raise a ValueError naming a unit that is in two partitions (and the two partitions)."""
    where = np.repeat(np.arange(len(units)), [u.size for u in units])
    every = pd.Series(np.concatenate(units) if units else np.empty(0))
    repeated = every.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = np.flatnonzero(repeated)[0]
        unit = every.iloc[first]
        pair = where[repeated & (every == unit).to_numpy()][:2]
        raise ValueError(
            f"unit {shown(unit)} straddles partitions {labels[pair[0]]} and {labels[pair[1]]}: "
            "every unit's rows must be in one partition (partition the panel by the unit)"
        )
