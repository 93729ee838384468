"""Checks and extraction of the DataFrame columns an estimator uses.

Estimators validate their input here, at construction, so that a bad panel fails with one
message naming the column, what was found and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.estimation.absorb import combine_codes, encode


def require_columns(df: pd.DataFrame, columns: Iterable[str], role: str = "column") -> None:
    """Raise a ValueError naming any column that is missing from ``df`` or not unique."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"data: expected a pandas DataFrame, got {type(df).__name__}")
    columns = list(columns)
    missing = [c for c in columns if c not in df.columns]
    repeated = [c for c in columns if c in df.columns and (df.columns == c).sum() > 1]
    if repeated:
        raise ValueError(
            f"{role} {', '.join(repr(c) for c in repeated)} appears more than once in the data"
        )
    if missing:
        raise ValueError(
            f"{role} {', '.join(repr(c) for c in missing)} not in the data "
            f"(columns: {', '.join(map(str, df.columns[:20]))}"
            f"{', ...' if len(df.columns) > 20 else ''})"
        )


def numeric_values(df: pd.DataFrame, column: str, *, allow_nan: bool = False) -> np.ndarray:
    """The column as float64, checked to be numeric and (unless allowed) free of NaN/inf.

    A float64 column is returned without copying: treat the result as read-only.
    """
    require_columns(df, [column])
    series = df[column]
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"column {column!r}: expected numbers, got dtype {series.dtype}")
    if series.dtype == np.float64:
        values = series.to_numpy(copy=False)  # a (read-only) view, no copy of a large column
    else:
        values = series.to_numpy(dtype=float, na_value=np.nan)
    if not allow_nan and not np.isfinite(values).all():
        bad = ~np.isfinite(values)
        raise ValueError(
            f"column {column!r}: expected finite numbers, found {int(bad.sum()):,} "
            f"missing or infinite value(s) (first at row {df.index[np.argmax(bad)]!r})"
        )
    return values


def require_cohorts_in_periods(
    unit_cohorts: np.ndarray, period_values: np.ndarray, cohort: str, time: str
) -> None:
    """Raise if a finite cohort (first treated period) is not a period of the panel."""
    unknown = np.setdiff1d(unit_cohorts[np.isfinite(unit_cohorts)], period_values)
    if unknown.size:
        raise ValueError(
            f"column {cohort!r}: cohort(s) {', '.join(f'{c:g}' for c in unknown[:5])} "
            f"are not periods of column {time!r}"
        )


def unit_constants(
    df: pd.DataFrame,
    column: str,
    unit: str,
    unit_codes: np.ndarray,
    n_units: int,
    grid_periods: int | None = None,
) -> np.ndarray:
    """Each unit's value of a column that must be constant within units (NaN allowed).

    ``grid_periods``: the panel is stored unit by unit with this many periods each, so the
    check is done on a units x periods view instead of by gathering.
    """
    values = numeric_values(df, column, allow_nan=True)
    result = np.empty(n_units)
    if grid_periods is not None:
        by_unit = values.reshape(n_units, grid_periods)
        result[:] = by_unit[:, 0]
        same = by_unit == result[:, None]
        same |= np.isnan(by_unit) & np.isnan(result)[:, None]
        varying = np.repeat(~same.all(axis=1), grid_periods)
    else:
        result[unit_codes] = values
        row_value = result[unit_codes]
        varying = (row_value != values) & ~(np.isnan(row_value) & np.isnan(values))
    if varying.any():
        raise ValueError(
            f"column {column!r}: expected one value per unit, but unit "
            f"{df[unit].iloc[np.argmax(varying)]!r} has several"
        )
    return result


def unit_cohorts(
    df: pd.DataFrame,
    cohort: str,
    unit: str,
    unit_codes: np.ndarray,
    n_units: int,
    grid_periods: int | None = None,
) -> np.ndarray:
    """Each unit's cohort (first treated period, +inf if never), checked to be one per unit."""
    if (numeric_values(df, cohort, allow_nan=True) == -np.inf).any():
        raise ValueError(f"column {cohort!r}: -inf is not a cohort (never treated is NaN or +inf)")
    result = unit_constants(df, cohort, unit, unit_codes, n_units, grid_periods)
    result[np.isnan(result)] = np.inf
    return result


def fixed_effect_columns(names: Iterable[str]) -> list[str]:
    """The data columns behind fixed-effect names (``"a^b"`` is columns a and b)."""
    return [part.strip() for name in names for part in name.split("^")]


def categorical_codes(df: pd.DataFrame, name: str) -> tuple[np.ndarray, int]:
    """Integer codes of a categorical column, or of an interaction ``a^b`` of columns."""
    parts = fixed_effect_columns([name])
    require_columns(df, parts)
    codes, size = None, 0
    for part in parts:
        series = df[part]
        plain_integers = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"
        if not plain_integers and series.isna().any():
            raise ValueError(
                f"column {part!r}: expected no missing values (used as a fixed effect or "
                f"cluster), found {int(series.isna().sum()):,}"
            )
        part_codes, part_size = encode(series)
        if codes is None:
            codes, size = part_codes, part_size
        else:
            codes, size = combine_codes(codes, part_codes, part_size)
    return codes, size


def periods_and_cohorts(
    df: pd.DataFrame,
    time: str,
    cohort: str,
    unit: str,
    codes: tuple[np.ndarray, np.ndarray],
    sizes: tuple[int, int],
    grid: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The integer value of each period code and each unit's cohort, checked.

    ``codes`` and ``sizes`` are the unit and period codes and counts. ``grid``: the panel is
    stored unit by unit with every period in order, so the periods are read from the first
    unit's rows and the cohorts from a units x periods view. Raises if a period is not an
    integer, a unit has several cohorts or a cohort is not a period of the panel.
    """
    (unit_codes, period_codes), (n_units, n_periods) = codes, sizes
    first_rows = slice(0, n_periods) if grid else slice(None)
    periods = np.empty(n_periods)
    periods[period_codes[first_rows]] = numeric_values(df.iloc[first_rows], time)
    if (periods != np.round(periods)).any():
        raise ValueError(f"column {time!r}: expected integer periods")
    cohorts = unit_cohorts(df, cohort, unit, unit_codes, n_units, n_periods if grid else None)
    require_cohorts_in_periods(cohorts, periods, cohort, time)
    return periods, cohorts


def unit_doses(
    df: pd.DataFrame,
    dose: str,
    unit: str,
    unit_codes: np.ndarray,
    cohorts: np.ndarray,
    grid_periods: int | None = None,
) -> np.ndarray:
    """Each unit's dose (one value per unit), positive and finite for treated units (finite
    ``cohorts``) and 0 for the others."""
    doses = unit_constants(df, dose, unit, unit_codes, cohorts.size, grid_periods)
    treated = np.isfinite(cohorts)
    bad = treated & ~(np.isfinite(doses) & (doses > 0))
    if bad.any():
        first_row = int(np.argmax(bad[unit_codes]))
        raise ValueError(
            f"column {dose!r}: expected a positive finite dose for every treated unit, got "
            f"{doses[unit_codes[first_row]]:g} for unit {df[unit].iloc[first_row]!r} "
            f"({int(bad.sum()):,} unit(s) in all)"
        )
    return np.where(treated, doses, 0.0)
