"""Atomic, durable writes: every output appears complete or not at all.

Each writer writes to a temporary file in the target's directory, flushes it to the disk
(``fsync``), renames it over the target (``os.replace`` is atomic on POSIX) and flushes the
directory, so a complete file survives a crash or power loss; the temporary file is removed
if anything fails. A process killed mid-write (SIGKILL) cannot remove its temporary file:
:func:`remove_stale_temporaries` removes such leftovers, which the next command that owns the
folder calls (:mod:`sim.owned_directory`). A write that fails names its file and, when the
disk is full, says so.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import xarray as xr

TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
"""The names of :func:`atomic_path`'s temporary files: ``.NAME.<32 hex digits>.tmp``."""


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_failure(path: Path, exc: Exception) -> OSError:
    """The error of a failed write, naming the file (and a full disk, whatever the library
    reporting it called it: netCDF says ``HDF error``)."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if getattr(exc, "errno", None) == errno.ENOSPC or free == 0:
        reason = "no space left on the device"
    else:
        reason = " ".join(str(exc).split()) or type(exc).__name__
    return OSError(f"{path}: cannot write the file: {reason}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success flush it and rename it to ``path``.

    Raises
    ------
    OSError
        Naming ``path``, if the write fails with an OSError or a library's RuntimeError (a
        netCDF or HDF5 error); other exceptions pass through. The temporary file is removed
        and an existing ``path`` is left as it was.

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            yield tmp
            _fsync(tmp)
            os.replace(tmp, path)
            _fsync(path.parent)
        except (OSError, RuntimeError) as exc:
            raise _write_failure(path, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files that writes killed midway left in ``folder`` and below.

    Only files named as :func:`atomic_path` names them are removed. Call it only on a folder
    no other process is writing (one whose lock is held).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    removed = []
    for path in sorted(Path(folder).rglob(".*.tmp")):
        if TEMPORARY.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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
