"""The event study of a panel stored as partitioned Parquet, fit out of core on dask.distributed.

:func:`fit_partitioned` gives :class:`~models.EventStudy`'s results (coefficients, clustered
standard errors, every method of :class:`~models.Results`) without ever holding the panel in
one process: each Parquet file is one partition, read by one task, and only small matrices
come back (:mod:`models.estimation.partitioned_event_study` has the algebra). Two passes read
each partition: the first returns its cross-products, the second, given the coefficients, its
unit scores. The partitions are combined in file order on the client, so the result does not
depend on the cluster, its workers or the order tasks finish in: a LocalCluster gives the bit
for bit result of the serial executor.

Every unit's rows must be in one partition (write the panel partitioned by the unit); a unit
found in two partitions is refused, naming it and both files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from models.estimation.ols import DEFAULT_COLLIN_TOL
from models.estimation.partitioned_event_study import (
    EventSpec,
    Moments,
    Scores,
    Solution,
    partition_moments,
    partition_scores,
    solve_moments,
)
from models.estimation.partitioned_inference import partitioned_results
from models.estimation.results import Results
from models.estimation.small_sample import SmallSample
from models.estimation.vcov import VcovSpec, parse_vcov
from sim.executors import Executor, dask_client

VCOV = ("CRV1", "iid", "HC1")
"""The variance estimators :func:`fit_partitioned` offers (CRV1 clustered by the unit only)."""


def partition_files(path: str | Path) -> list[Path]:
    """The partitions: the ``*.parquet`` files under a directory (sorted), or one file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a directory holds no Parquet file.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such partitioned Parquet panel (file or directory)")
    files = sorted(path.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{path}: no *.parquet partition in this directory")
    return files


def _require_columns(files: list[Path], columns: list[str]) -> None:
    """Raise a one-line ValueError for a file that is not Parquet or lacks a column (footers
    only: no rows are read)."""
    for file in files:
        try:
            available = pq.read_schema(file).names
        except Exception as exc:  # pyarrow raises several types for a non-Parquet file
            raise ValueError(f"{file}: not a Parquet file ({exc})") from None
        missing = [c for c in columns if c not in available]
        if missing:
            raise ValueError(
                f"{file}: column(s) {', '.join(map(repr, missing))} not in the partition "
                f"(columns: {', '.join(available)})"
            )


def _read(file: Path, spec: EventSpec) -> pd.DataFrame:
    """One partition's columns of the event study."""
    return pq.read_table(file, columns=spec.columns).to_pandas()


def _moments(file: Path, spec: EventSpec) -> Moments:
    """Pass 1 task: read a partition and return its cross-products."""
    return partition_moments(_read(file, spec), spec)


def _scores(file: Path, spec: EventSpec, solution: Solution) -> Scores:
    """Pass 2 task: read a partition again and return its score sums."""
    return partition_scores(_read(file, spec), spec, solution)


def fit_partitioned(
    path: str | Path,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    window: tuple[int, int] = (-4, 12),
    ref: int = -1,
    intensity: str | None = None,
    bin_endpoints: bool = True,
    vcov: VcovSpec = "CRV1",
    ssc: SmallSample | None = None,
    collin_tol: float = DEFAULT_COLLIN_TOL,
    executor: Executor = "dask",
    scheduler: str | None = None,
    n_workers: int = 2,
) -> Results:
    """Fit :class:`~models.EventStudy` (unit and period fixed effects) to partitioned Parquet.

    Parameters
    ----------
    path : str or Path
        A directory of Parquet files (every ``*.parquet`` under it, sorted, one partition
        each) or a single file. Each file holds whole units.
    outcome, unit, time, cohort, window, ref, intensity, bin_endpoints
        As for :class:`~models.EventStudy`.
    vcov : str or dict
        ``"CRV1"`` (clustered by the unit, the default), ``"iid"`` or ``"HC1"``.
    ssc : SmallSample, optional
        Small-sample settings (:func:`models.ssc`; default fixest's).
    collin_tol : float
        As for :meth:`models.EventStudy.fit`.
    executor : {"dask", "serial"}
        One dask task per partition (the default), or every partition in this process.
    scheduler : str, optional
        Address of a running dask scheduler; by default a LocalCluster of ``n_workers``
        processes is started for the fit and closed after it.
    n_workers : int
        Workers of that LocalCluster.

    Returns
    -------
    Results
        As :meth:`models.EventStudy.fit` returns (coefficients ``event_time::k``).

    Raises
    ------
    FileNotFoundError
        For a missing path or a directory without Parquet files.
    ValueError
        For a file that is not Parquet or lacks a column, a unit in two partitions (named with
        both files), a bad panel or arguments (as :class:`~models.EventStudy` says).
    """
    spec = EventSpec(outcome, unit, time, cohort, window, ref, intensity, bin_endpoints)
    request = parse_vcov(vcov, [unit], VCOV, "fit_partitioned", ssc)
    if request.kind == "CRV1" and request.clusters != (unit,):
        raise ValueError(
            f"fit_partitioned: vcov: CRV1 is clustered by the unit {unit!r} only, got "
            f"{', '.join(map(repr, request.clusters))}"
        )
    if executor not in ("dask", "serial"):
        raise ValueError(f"executor must be 'serial' or 'dask', got {executor!r}")
    files = partition_files(path)
    _require_columns(files, spec.columns)
    labels = [str(file) for file in files]
    if executor == "serial":
        moments = [_moments(file, spec) for file in files]
        solution = solve_moments(moments, spec, labels, collin_tol)
        scores = [_scores(file, spec, solution) for file in files]
        return partitioned_results(spec, solution, scores, request)
    with dask_client(scheduler, n_workers) as client:
        moments = client.gather(client.map(_moments, files, spec=spec, pure=False))
        solution = solve_moments(moments, spec, labels, collin_tol)
        shared = client.scatter(solution, broadcast=True)
        scores = client.gather(client.map(_scores, files, spec=spec, solution=shared, pure=False))
    return partitioned_results(spec, solution, scores, request)
