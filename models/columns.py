"""Checks and extraction of the DataFrame columns an estimator uses.

Estimators validate their input here, at construction, so that a bad panel fails with one
message naming the column, what was found and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.absorb import combine_codes, encode


def require_columns(df: pd.DataFrame, columns: Iterable[str], role: str = "column") -> None:
    """Raise KeyError-free ValueError when a column is missing from ``df``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"data: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{role} {', '.join(repr(c) for c in missing)} not in the data "
            f"(columns: {', '.join(map(str, df.columns[:20]))}"
            f"{', ...' if len(df.columns) > 20 else ''})"
        )


def numeric_values(df: pd.DataFrame, column: str, *, allow_nan: bool = False) -> np.ndarray:
    """The column as float64, checked to be numeric and (unless allowed) free of NaN/inf."""
    require_columns(df, [column])
    series = df[column]
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"column {column!r}: expected numbers, got dtype {series.dtype}")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    if not allow_nan:
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"column {column!r}: expected finite numbers, found {int(bad.sum()):,} "
                f"missing or infinite value(s) (first at row {df.index[np.argmax(bad)]!r})"
            )
    return values


def categorical_codes(df: pd.DataFrame, name: str) -> tuple[np.ndarray, int]:
    """Integer codes of a categorical column, or of an interaction ``a^b`` of columns."""
    parts = [p.strip() for p in name.split("^")]
    require_columns(df, parts)
    codes, size = None, 0
    for part in parts:
        series = df[part]
        if not pd.api.types.is_integer_dtype(series) and series.isna().any():
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
