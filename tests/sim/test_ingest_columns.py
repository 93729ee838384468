"""Reading an order log's columns: what counts as missing or unreadable."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sim.ingest_columns import NO_TIME, amounts, flags, missing_ids, order_keys, wall_clock


def test_flags_read_booleans_integers_and_words():
    text = pa.array([" TRUE", "no", "Y", "f", "1", "0", "2", "maybe", None, ""])
    assert flags(text, "c").tolist() == [1, 0, 1, 0, 1, 0, -1, -1, -1, -1]
    assert flags(pa.array([True, False, None]), "c").tolist() == [1, 0, -1]
    assert flags(pa.array([1, 0, 2, None]), "c").tolist() == [1, 0, -1, -1]
    with pytest.raises(ValueError, match="column 'c' holds double, expected true/false flags"):
        flags(pa.array([1.0]), "c")


def test_amounts_are_finite_numbers():
    text = pa.array(["12.5", " 1e3 ", "-4", "inf", "nan", "twelve", None])
    np.testing.assert_array_equal(
        amounts(text, "a"), [12.5, 1000.0, -4.0, np.nan, np.nan, np.nan, np.nan]
    )
    np.testing.assert_array_equal(amounts(pa.array([3, None]), "a"), [3.0, np.nan])
    with pytest.raises(ValueError, match="column 'a' holds bool, expected amounts"):
        amounts(pa.array([True]), "a")


def test_missing_ids_are_null_or_blank():
    assert missing_ids(pa.array(["a", "", "  ", None])).tolist() == [False, True, True, True]
    assert missing_ids(pa.array([0, None])).tolist() == [False, True]


def test_times_with_an_offset_are_converted_and_naive_ones_kept():
    text = pa.array(
        ["2017-01-02", "2017-01-02 10:00", "2017-01-02T02:00:00Z", "2017-01-02T10:00:00+08:00"]
    )
    expected = np.array(["2017-01-02T00:00", *["2017-01-02T10:00"] * 3], dtype="datetime64[us]")
    np.testing.assert_array_equal(wall_clock(text, "Asia/Shanghai", "t"), expected.astype(int))
    assert (wall_clock(pa.array(["soon", None]), "UTC", "t") == NO_TIME).all()
    stamps = pa.array([0], pa.timestamp("s", "UTC"))  # 1970-01-01 00:00 UTC
    assert wall_clock(stamps, "Asia/Shanghai", "t")[0] == 8 * 3600 * 10**6
    with pytest.raises(ValueError, match="column 't' holds int64, expected timestamps"):
        wall_clock(pa.array([1]), "UTC", "t")


def test_order_keys_of_equal_ids_are_equal():
    keys = order_keys(pa.array(["a1", "b2", "a1"]))
    assert keys[0] == keys[2] != keys[1]
    assert order_keys(pa.array([5, 5, 6])).tolist() == [5, 5, 6]
