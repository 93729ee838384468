"""Atomic writes: every output appears complete or not at all.

Each writer writes to a temporary file in the target's directory and renames it over the
target (``os.replace`` is atomic on POSIX), removing the temporary file if anything fails.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import xarray as xr


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: object) -> Path:
    """Write JSON atomically (indented, keys in insertion order)."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_parquet(path: str | Path, frame: pd.DataFrame, index: bool = False) -> Path:
    """Write a DataFrame as Parquet atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=index)
    return Path(path)


def write_netcdf(path: str | Path, dataset: xr.Dataset) -> Path:
    """Write an xarray Dataset as netCDF atomically."""
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp)
    return Path(path)


def write_csv(path: str | Path, frame: pd.DataFrame, index: bool = True) -> Path:
    """Write a DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index)
    return Path(path)
