"""Reading one batch of an order log's columns into numbers, marking what cannot be read.

Every reader takes a pyarrow array (Parquet's native types, or text from a CSV) and returns a
NumPy array, with a marker value where a row's entry is missing or unreadable: the caller
counts those rows as bad (:mod:`sim.ingest_report`). Nothing here loops over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NO_TIME = np.iinfo(np.int64).min
"""The marker of a missing or unreadable time (NumPy's NaT as an integer)."""

OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d*)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
"""How a text timestamp ends when it carries its UTC offset (ISO 8601): a time of day,
then ``Z`` or ``+hh:mm``."""

TRUE = ("1", "true", "t", "yes", "y")
FALSE = ("0", "false", "f", "no", "n")


def _text(array: pa.Array) -> pd.Series:
    """A text column as a pandas Series of str (missing entries NaN)."""
    return pd.Series(array.cast(pa.string()).to_pandas(), dtype="str")


def missing_ids(array: pa.Array) -> np.ndarray:
    """True where an id is missing: null, or text that is empty or blank."""
    missing = array.is_null()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        blank = pc.equal(pc.utf8_trim_whitespace(array), "")
        missing = pc.or_kleene(missing, blank)
    return np.asarray(missing.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)


def wall_clock(array: pa.Array, time_zone: str, column: str) -> np.ndarray:
    """Times as microseconds of wall-clock time in ``time_zone`` (:data:`NO_TIME` if unread).

    A time with a zone or a UTC offset is converted to ``time_zone``; a naive one is read as
    wall-clock time there already. Text is parsed as ISO 8601 (``2017-03-06``,
    ``2017-03-06 14:05:00``, ``2017-03-06T06:05:00Z``, ``...+08:00``); dates and integers
    are not times and raise.

    Raises
    ------
    ValueError
        Naming ``column``, if its type is not a timestamp, a date or text.
    """
    kind = array.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            array = pc.local_timestamp(array.cast(pa.timestamp(kind.unit, time_zone)))
        return _microseconds(array.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
    if pa.types.is_date(kind):
        return _microseconds(array.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ValueError(f"column {column!r} holds {kind}, expected timestamps or ISO 8601 text")
    text = _text(array).str.strip()
    aware = text.str.contains(OFFSET, regex=True, na=False).to_numpy()
    times = np.full(len(text), NO_TIME, dtype=np.int64)
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
        times[~aware] = _microseconds(naive.to_numpy())
    if aware.any():
        converted = pd.to_datetime(text[aware], format="ISO8601", errors="coerce", utc=True)
        local = converted.dt.tz_convert(time_zone).dt.tz_localize(None)
        times[aware] = _microseconds(local.to_numpy())
    return times


def _microseconds(values: np.ndarray) -> np.ndarray:
    """datetime64 values as int64 microseconds (NaT: :data:`NO_TIME`)."""
    return values.astype("datetime64[us]").astype(np.int64)


def amounts(array: pa.Array, column: str) -> np.ndarray:
    """Amounts as float64; NaN where missing, non-numeric or infinite.

    Raises
    ------
    ValueError
        Naming ``column``, if its type is neither numbers nor text.
    """
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = pd.to_numeric(_text(array).str.strip(), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    else:
        raise ValueError(f"column {column!r} holds {kind}, expected amounts (numbers)")
    return np.where(np.isfinite(values), values, np.nan)


def flags(array: pa.Array, column: str) -> np.ndarray:
    """Counterfeit flags as int8: 1 counterfeit, 0 genuine, -1 missing or unreadable.

    Booleans are read as they are; integers 1 and 0; text ``true/false``, ``t/f``,
    ``yes/no``, ``y/n`` or ``1/0`` in any case.

    Raises
    ------
    ValueError
        Naming ``column``, if its type is not boolean, integer or text.
    """
    kind = array.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        values = array.cast(pa.int64()).fill_null(-1).to_numpy(zero_copy_only=False)
        return np.where((values == 0) | (values == 1), values, -1).astype(np.int8)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ValueError(f"column {column!r} holds {kind}, expected true/false flags")
    text = _text(array).str.strip().str.lower()
    return np.select([text.isin(TRUE).to_numpy(), text.isin(FALSE).to_numpy()], [1, 0], -1).astype(
        np.int8
    )


def order_keys(array: pa.Array) -> np.ndarray:
    """Order ids as uint64 keys for finding repeats: integers as they are, text hashed.

    Text ids are hashed with ``pandas.util.hash_array`` (64 bits): two distinct ids share a
    key with probability about n**2 / 2**65 (7e-5 for 50 million orders), which would count
    the later one as a duplicate.
    """
    if pa.types.is_integer(array.type):
        return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64)
    return pd.util.hash_array(_text(array).to_numpy(dtype=object))
