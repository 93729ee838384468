"""Atomic writes leave a complete file or nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.store import atomic_path, write_csv, write_parquet, write_text


def test_failed_write_leaves_nothing_and_names_the_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(OSError, match=r"out\.txt: cannot write the file: disk on fire"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk on fire")  # what netCDF4 raises on a full disk
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path):
    target = write_text(tmp_path / "out.txt", "old")
    with pytest.raises(ValueError, match="bad value"):  # not a write error: passes through
        with atomic_path(target) as tmp:
            tmp.write_text("new, half written")
            raise ValueError("bad value")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_writers_round_trip(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})
    pd.testing.assert_frame_equal(pd.read_parquet(write_parquet(tmp_path / "f.parquet", frame)),
                                  frame)  # fmt: skip
    back = pd.read_csv(write_csv(tmp_path / "f.csv", frame, index=False))
    pd.testing.assert_frame_equal(back, frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.parquet"]


def test_parent_directories_are_created(tmp_path):
    target = write_text(tmp_path / "a" / "b" / "c.txt", "x")
    assert target.read_text() == "x"
