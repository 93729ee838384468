"""One reader of a long panel: outcome, unit, period, cohort and dose, coded and checked once.

Every panel estimator reads its data through :class:`PanelData` (in the spirit of
linearmodels' ``PanelData``), so the same bad input gets the same message from each of them:
a missing or repeated column, an empty panel, an outcome that is not a finite number (or, with
``nonnegative_outcome=True``, is negative), missing unit or period ids, ids of several types
in one column (5 and "5"), repeated (unit, period) rows, periods that are not integers, a cohort
that is -inf, changes within a unit or is not a period of the panel, a panel without treated
units, a dose that is not one positive finite number per treated unit, and sampling weights that
are not positive finite numbers. Rules that belong to
one estimator (an event window, a balanced panel, fixest's cohort rules) stay in that estimator.

The lower-level readers of single columns (:func:`numeric_values`, :func:`categorical_codes`)
serve the regressors, fixed effects and clusters of :class:`~models.estimation.ols
.FixedEffectsOLS` and the estimators' further columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from models.estimation.absorb import FixedEffects, combine_codes, encode
from models.estimation.arguments import shown, strict_bool
from models.estimation.effective_treated import EffectiveTreated


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
    if pd.api.types.is_complex_dtype(series):  # numeric to pandas, but to_numpy(float) drops .imag
        raise ValueError(f"column {column!r}: expected real numbers, got dtype {series.dtype}")
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(
            f"column {column!r}: expected numbers, got dtype {series.dtype}{_example(series)}"
        )
    if series.dtype == np.float64:
        values = series.to_numpy(copy=False)  # a (read-only) view, no copy of a large column
    else:
        values = series.to_numpy(dtype=float, na_value=np.nan)
    if not allow_nan and not np.isfinite(values).all():
        bad = ~np.isfinite(values)
        raise ValueError(
            f"column {column!r}: expected finite numbers, found {int(bad.sum()):,} "
            f"missing or infinite value(s) (first at row {shown(df.index[np.argmax(bad)])})"
        )
    return values


def _example(series: pd.Series) -> str:
    """The types of a column of objects or text and its first value that is no number, as
    ``" (values of types float, str; e.g. 'abc' in row 3)"`` ("" for other dtypes)."""
    if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
        return ""
    present = series[series.notna()]
    if present.empty:
        return ""
    types = sorted({kind.__name__ for kind in present.map(type).unique()})
    try:
        bad = pd.to_numeric(present, errors="coerce").isna().to_numpy()
    except (TypeError, ValueError):  # values pandas cannot even try to convert (lists, ...)
        bad = np.ones(len(present), dtype=bool)
    where = int(np.argmax(bad)) if bad.any() else 0
    kinds = f"type {types[0]}" if len(types) == 1 else f"types {', '.join(types)}"
    return (
        f" (values of {kinds}; e.g. {shown(present.iloc[where])} in row "
        f"{shown(present.index[where])})"
    )


def require_one_type(series: pd.Series, column: str) -> None:
    """Raise a ValueError if a column of objects (or a categorical's categories) holds values
    of several types, such as unit ids 5 and "5", which would be two different ids.

    The check is pandas' ``infer_dtype`` (one pass in compiled code); only a column it finds
    mixed is looked at further, to name its types and an example of each.
    """
    dtype = series.dtype
    values = series.cat.categories if isinstance(dtype, pd.CategoricalDtype) else series
    if values.dtype != object:
        return
    if not pd.api.types.infer_dtype(values, skipna=True).startswith("mixed"):
        return
    present = pd.Series(np.asarray(values[pd.notna(values)]), dtype=object)
    kinds = present.map(type).map(lambda kind: kind.__name__)
    first = kinds.drop_duplicates()
    found = " and ".join(
        f"{kind} (e.g. {shown(present.iloc[i])})"
        for i, kind in zip(first.index, first, strict=True)
    )
    expected = "values of one type" if first.size > 1 else "numbers or text as ids"
    raise ValueError(f"column {column!r}: expected {expected}, found {found}")


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
        require_one_type(series, part)
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


@dataclass(frozen=True)
class PanelData:
    """A long panel read once: one row per unit and period, treated units with their cohort
    (first treated period) and, with a dose column, their dose.

    Build it with :meth:`read`, which checks everything an estimator may assume.

    Attributes
    ----------
    df : pandas.DataFrame
        The data (not copied).
    outcome, unit, time, cohort, dose : str
        The column names (``dose`` None without a dose).
    y : numpy.ndarray
        The outcome of each row, float64 (a read-only view of a float64 column).
    fe : FixedEffects
        Unit and period codes of each row, as the two-way fixed effects ``(unit, time)``.
    periods : numpy.ndarray
        The integer value of each period code (float64).
    cohorts : numpy.ndarray
        Each unit's cohort, +inf for never-treated units.
    doses : numpy.ndarray or None
        Each unit's dose: positive and finite for treated units, 0 for the others.
    row_doses : numpy.ndarray or None
        The dose column by row (any value on never-treated units' rows; a read-only view).
    weights : str or None
        The column of sampling weights (None without weights).
    row_weights : numpy.ndarray or None
        The weight of each row, positive and finite (a read-only view); None without weights.
        :meth:`unit_weights` gives one weight per unit where an estimator needs that.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "i": [1, 1, 2, 2], "t": [1, 2, 1, 2],
    ...                    "g": [2.0, 2.0, np.nan, np.nan]})
    >>> panel = PanelData.read(df, "y", "i", "t", "g")
    >>> panel.cohorts.tolist(), panel.grid
    ([2.0, inf], True)
    """

    df: pd.DataFrame
    outcome: str
    unit: str
    time: str
    cohort: str
    dose: str | None
    y: np.ndarray
    fe: FixedEffects
    periods: np.ndarray
    cohorts: np.ndarray
    doses: np.ndarray | None
    row_doses: np.ndarray | None
    weights: str | None = None
    row_weights: np.ndarray | None = None

    @classmethod
    def read(
        cls,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        dose: str | None = None,
        *,
        weights: str | None = None,
        nonnegative_outcome: bool = False,
    ) -> PanelData:
        """Read and check the panel's columns.

        Parameters
        ----------
        df : pandas.DataFrame
            The long panel.
        outcome, unit, time, cohort : str
            Its columns (see the class docstring).
        dose : str, optional
            The column of each treated unit's dose.
        weights : str, optional
            The column of sampling weights: positive and finite on every row.
        nonnegative_outcome : bool
            Refuse negative outcomes (spend): an option, since a generic outcome such as log
            spend or a difference may be negative.

        Raises
        ------
        ValueError
            Naming the column (and the first unit or row at fault) for any of the bad inputs
            of the module docstring; TypeError if ``df`` is not a DataFrame.
        """
        require_columns(df, [outcome, unit, time, cohort] + ([dose] if dose else []))
        if weights is not None:
            require_columns(df, [weights], "weights")
        if len(df) == 0:
            raise ValueError("data: the panel has no rows")
        y = numeric_values(df, outcome)
        if strict_bool("nonnegative_outcome", nonnegative_outcome):
            _require_nonnegative(df, outcome, y)
        unit_codes, n_units = categorical_codes(df, unit)
        period_codes, n_periods = categorical_codes(df, time)
        fe = FixedEffects((unit, time), (unit_codes, period_codes), (n_units, n_periods), len(df))
        _require_unique_rows(df, fe)
        first_rows = slice(0, n_periods) if fe.grid else slice(None)
        periods = np.empty(n_periods)
        periods[period_codes[first_rows]] = numeric_values(df.iloc[first_rows], time)
        if (periods != np.round(periods)).any():
            example = periods[np.argmax(periods != np.round(periods))]
            raise ValueError(f"column {time!r}: expected integer periods, got {example:g}")
        cohort_values = numeric_values(df, cohort, allow_nan=True)
        if (cohort_values == -np.inf).any():
            raise ValueError(
                f"column {cohort!r}: -inf is not a cohort (never treated is NaN or +inf)"
            )
        cohorts = _unit_values(df, fe, cohort, cohort_values, None)
        cohorts[np.isnan(cohorts)] = np.inf
        if np.isinf(cohorts).all():
            raise ValueError(
                f"column {cohort!r}: no treated units (the cohort is NaN or +inf for every unit)"
            )
        unknown = np.setdiff1d(cohorts[np.isfinite(cohorts)], periods)
        if unknown.size:
            raise ValueError(
                f"column {cohort!r}: cohort(s) {', '.join(f'{c:g}' for c in unknown[:5])} "
                f"are not periods of column {time!r}"
            )
        doses = row_doses = None
        if dose is not None:
            row_doses = numeric_values(df, dose, allow_nan=True)
            doses = _treated_doses(df, fe, dose, row_doses, np.isfinite(cohorts))
        row_weights = None if weights is None else _positive_weights(df, weights)
        return cls(
            df,
            outcome,
            unit,
            time,
            cohort,
            dose,
            y,
            fe,
            periods,
            cohorts,
            doses,
            row_doses,
            weights,
            row_weights,
        )

    @cached_property
    def unit_weights(self) -> np.ndarray | None:
        """Each unit's sampling weight, for estimators that weight units (did's
        ``weightsname``): the weights must then be constant within a unit (a ValueError naming
        the first unit whose weight changes). None without weights."""
        if self.row_weights is None:
            return None
        return _unit_values(self.df, self.fe, self.weights, self.row_weights, None)

    @property
    def unit_codes(self) -> np.ndarray:
        """The unit code (0..n_units-1) of each row."""
        return self.fe.codes[0]

    @property
    def period_codes(self) -> np.ndarray:
        """The period code (0..n_periods-1, in period order) of each row."""
        return self.fe.codes[1]

    @property
    def n_units(self) -> int:
        return self.fe.sizes[0]

    @property
    def n_periods(self) -> int:
        return self.fe.sizes[1]

    @property
    def grid(self) -> bool:
        """True when the rows are stored unit by unit, every period in order."""
        return self.fe.grid

    @property
    def balanced(self) -> bool:
        """True when every unit is observed in every period (rows are unique)."""
        return len(self.df) == self.n_units * self.n_periods

    @cached_property
    def treated(self) -> np.ndarray:
        """Whether each unit is ever treated (a finite cohort)."""
        return np.isfinite(self.cohorts)

    @cached_property
    def effective_treated(self) -> EffectiveTreated | None:
        """The effective number of treated units of a per-dose fit, ``(sum v^2)^2 / sum v^4``
        over every treated unit's dose v (:mod:`models.estimation.effective_treated`), of
        ``w v^2`` with sampling weights w (a unit's mean weight over its rows); None without a
        dose."""
        if self.doses is None:
            return None
        sampling = None if self.row_weights is None else self.mean_unit_weights[self.treated]
        return EffectiveTreated.of_doses(self.doses[self.treated], sampling)

    @cached_property
    def mean_unit_weights(self) -> np.ndarray | None:
        """Each unit's mean sampling weight over its rows (None without weights)."""
        if self.row_weights is None:
            return None
        codes = self.unit_codes
        total = np.bincount(codes, weights=self.row_weights, minlength=self.n_units)
        return total / np.bincount(codes, minlength=self.n_units)

    def treated_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows of treated units (in row order) and their event times, period - cohort.

        On a grid only the treated units' blocks of rows are touched.
        """
        if self.grid:
            n_periods = self.n_periods
            units = np.flatnonzero(self.treated)
            rows = (units[:, None] * n_periods + np.arange(n_periods)).reshape(-1)
            event_time = (self.periods[None, :] - self.cohorts[units][:, None]).reshape(-1)
            return rows, event_time
        rows = np.flatnonzero(self.treated[self.unit_codes])
        event_time = self.periods[self.period_codes[rows]] - self.cohorts[self.unit_codes[rows]]
        return rows, event_time

    def to_grid(
        self, values: np.ndarray, out: np.ndarray | None = None, order: np.ndarray | None = None
    ) -> np.ndarray:
        """Row values as a units x periods array, NaN where a unit has no row in a period.

        ``order`` puts the units in that order (row k is unit ``order[k]``); ``out`` is
        filled instead of a new array.
        """
        if out is None:
            out = np.empty((self.n_units, self.n_periods))
        if self.grid:
            grid = values.reshape(self.n_units, self.n_periods)
            out[:] = grid if order is None else grid[order]
            return out
        out[:] = np.nan
        position = self.unit_codes
        if order is not None:
            inverse = np.empty(self.n_units, dtype=np.intp)
            inverse[order] = np.arange(self.n_units)
            position = inverse[self.unit_codes]
        out[position, self.period_codes] = values
        return out


def _require_nonnegative(df: pd.DataFrame, column: str, y: np.ndarray) -> None:
    """Raise if the outcome has negative values, with their count and the first one."""
    negative = y < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise ValueError(
            f"outcome column {column!r}: {int(negative.sum()):,} negative value(s) (e.g. "
            f"{shown(y[first])} in row {shown(df.index[first])}); expected {column} >= 0 "
            "(nonnegative_outcome=True)"
        )


def _positive_weights(df: pd.DataFrame, column: str) -> np.ndarray:
    """The weights column by row, checked to be positive and finite."""
    values = numeric_values(df, column)
    bad = values <= 0
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            f"weights column {column!r}: expected positive weights, found {int(bad.sum()):,} "
            f"zero or negative value(s) (e.g. {shown(values[first])} in row "
            f"{shown(df.index[first])})"
        )
    return values


def _unit_id(df: pd.DataFrame, fe: FixedEffects, code: int) -> str:
    """The id of the unit with this code, as a message shows it."""
    return shown(df[fe.names[0]].iloc[int(np.argmax(fe.codes[0] == code))])


def _require_unique_rows(df: pd.DataFrame, fe: FixedEffects) -> None:
    """Raise if a (unit, period) pair has more than one row."""
    if fe.grid:
        return
    cells = fe.codes[0].astype(np.int64) * fe.sizes[1] + fe.codes[1]
    seen = np.zeros(fe.sizes[0] * fe.sizes[1], dtype=bool)
    seen[cells] = True
    if np.count_nonzero(seen) == cells.size:  # as many distinct cells as rows
        return
    counts = np.bincount(cells)
    first = int(np.argmax(counts[cells] > 1))
    unit, time = fe.names
    raise ValueError(
        f"columns {unit!r}, {time!r}: expected one row per unit and period, found "
        f"{int((counts > 1).sum()):,} repeated pair(s), e.g. unit "
        f"{shown(df[unit].iloc[first])} in period {shown(df[time].iloc[first])}"
    )


def _unit_values(
    df: pd.DataFrame, fe: FixedEffects, column: str, values: np.ndarray, units: np.ndarray | None
) -> np.ndarray:
    """Each unit's value of a column that must be constant within a unit (NaN allowed),
    checked for the units where ``units`` is True (every unit if None)."""
    n_units, n_periods = fe.sizes
    result = np.empty(n_units)
    if fe.grid:
        by_unit = values.reshape(n_units, n_periods)
        result[:] = by_unit[:, 0]
        same = by_unit == result[:, None]
        same |= np.isnan(by_unit) & np.isnan(result)[:, None]
        varying_unit = ~same.all(axis=1)
    else:
        unit_codes = fe.codes[0]
        result[unit_codes] = values
        row_value = result[unit_codes]
        if np.array_equal(row_value.view(np.int64), values.view(np.int64)):
            return result  # bit for bit one value per unit (NaN too): nothing varies
        varying_row = (row_value != values) & ~(np.isnan(row_value) & np.isnan(values))
        varying_unit = np.zeros(n_units, dtype=bool)
        varying_unit[unit_codes[varying_row]] = True
    if units is not None:
        varying_unit &= units
    if varying_unit.any():
        which = "unit" if units is None else "treated unit"
        raise ValueError(
            f"column {column!r}: expected one value per {which}, but unit "
            f"{_unit_id(df, fe, int(np.argmax(varying_unit)))} has several"
        )
    return result


def _treated_doses(
    df: pd.DataFrame, fe: FixedEffects, column: str, values: np.ndarray, treated: np.ndarray
) -> np.ndarray:
    """Each unit's dose: one positive finite value per treated unit, 0 for the others."""
    doses = _unit_values(df, fe, column, values, treated)
    bad = treated & ~(np.isfinite(doses) & (doses > 0))
    if bad.any():
        code = int(np.argmax(bad))
        raise ValueError(
            f"column {column!r}: expected a positive finite dose for every treated unit, got "
            f"{doses[code]:g} for unit {_unit_id(df, fe, code)} "
            f"({int(bad.sum()):,} unit(s) in all)"
        )
    return np.where(treated, doses, 0.0)
