"""Event studies of a panel stored as partitioned Parquet, fit out of core on dask.distributed.

:func:`fit_partitioned` gives :class:`~models.EventStudy`'s results and
:func:`fit_partitioned_sun_abraham` :class:`~models.SunAbraham`'s (coefficients, clustered
standard errors, every method of their results) without ever holding the panel in one process:
each Parquet file is one partition, read by one task, and only small matrices come back
(:mod:`models.estimation.partitioned_indicators` has the algebra they share). Each pass reads
every partition: the event study's first returns its cross-products, the second, given the
coefficients, its unit scores; Sun-Abraham's adds a first pass for its cohorts (the control
group and the cohorts without a pre-treatment period). The partitions are combined in file
order on the client, so the result does not depend on the cluster, its workers or the order
tasks finish in: a LocalCluster gives the bit for bit result of the serial executor.

Every unit's rows must be in one partition (write the panel partitioned by the unit); a unit
found in two partitions is refused, naming it and both files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from models.estimation.interaction_weighted import SunAbrahamResults
from models.estimation.ols import DEFAULT_COLLIN_TOL
from models.estimation.partitioned_event_study import (
    EventSpec,
    partition_moments,
    partition_scores,
    solve_moments,
)
from models.estimation.partitioned_indicators import Moments, Scores, Solution
from models.estimation.partitioned_inference import partitioned_results
from models.estimation.partitioned_sun_abraham import (
    OWNER,
    Plan,
    Structure,
    SunAbrahamSpec,
    partition_structure,
    plan_fit,
    sun_abraham_results,
)
from models.estimation.partitioned_sun_abraham import (
    partition_moments as cell_moments,
)
from models.estimation.partitioned_sun_abraham import (
    partition_scores as cell_scores,
)
from models.estimation.partitioned_sun_abraham import (
    solve_moments as solve_cells,
)
from models.estimation.results import Results
from models.estimation.small_sample import SmallSample
from models.estimation.vcov import VcovRequest, VcovSpec, parse_vcov
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


def _read(file: Path, spec: EventSpec | SunAbrahamSpec) -> pd.DataFrame:
    """One partition's columns of the fit."""
    return pq.read_table(file, columns=spec.columns).to_pandas()


def _moments(file: Path, spec: EventSpec) -> Moments:
    """Event study, pass 1 task: read a partition and return its cross-products."""
    return partition_moments(_read(file, spec), spec)


def _scores(file: Path, spec: EventSpec, solution: Solution, hetero: bool) -> Scores:
    """Event study, pass 2 task: read a partition again and return its score sums (and HC1
    meat if ``hetero``)."""
    return partition_scores(_read(file, spec), spec, solution, hetero)


def _structure(file: Path, spec: SunAbrahamSpec) -> Structure:
    """Sun-Abraham, pass 0 task: a partition's units, cohorts and periods."""
    return partition_structure(_read(file, spec), spec)


def _cell_moments(file: Path, plan: Plan) -> Moments:
    """Sun-Abraham, pass 1 task: a partition's cross-products on its cells."""
    return cell_moments(_read(file, plan.spec), plan)


def _cell_scores(file: Path, plan: Plan, solution: Solution, hetero: bool) -> Scores:
    """Sun-Abraham, pass 2 task: a partition's score sums (and HC1 meat if ``hetero``)."""
    return cell_scores(_read(file, plan.spec), plan, solution, hetero)


@contextmanager
def _runner(
    executor: Executor, scheduler: str | None, n_workers: int
) -> Iterator[Callable[..., list[Any]]]:
    """A function running ``task(file, **shared)`` on every partition, results in file order:
    in this process, or one dask task per partition with ``shared`` sent to every worker once."""
    if executor == "serial":
        yield lambda task, files, **shared: [task(file, **shared) for file in files]
        return
    with dask_client(scheduler, n_workers) as client:

        def run(task: Callable[..., Any], files: list[Path], **shared: Any) -> list[Any]:
            # hash=False: a fresh key per pass, never one the previous pass is still releasing
            sent = {
                name: client.scatter(value, broadcast=True, hash=False)
                for name, value in shared.items()
            }
            return client.gather(client.map(task, files, pure=False, **sent))

        yield run


def _request(
    vcov: VcovSpec, unit: str, ssc: SmallSample | None, owner: str, executor: Executor
) -> VcovRequest:
    """The variance request (iid, HC1 or CRV1 by the unit), the executor checked."""
    request = parse_vcov(vcov, [unit], VCOV, owner, ssc)
    if request.kind == "CRV1" and request.clusters != (unit,):
        raise ValueError(
            f"{owner}: vcov: CRV1 is clustered by the unit {unit!r} only, got "
            f"{', '.join(map(repr, request.clusters))}"
        )
    if executor not in ("dask", "serial"):
        raise ValueError(f"executor must be 'serial' or 'dask', got {executor!r}")
    return request


def _partitions(path: str | Path, columns: list[str]) -> tuple[list[Path], list[str]]:
    """The partition files, their columns checked, and their labels for messages."""
    files = partition_files(path)
    _require_columns(files, columns)
    return files, [str(file) for file in files]


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
    request = _request(vcov, unit, ssc, "fit_partitioned", executor)
    files, labels = _partitions(path, spec.columns)
    with _runner(executor, scheduler, n_workers) as run:
        moments = run(_moments, files, spec=spec)
        solution = solve_moments(moments, spec, labels, collin_tol)
        hetero = request.kind == "HC1"
        scores = run(_scores, files, spec=spec, solution=solution, hetero=hetero)
    return partitioned_results(spec, solution, scores, request)


def fit_partitioned_sun_abraham(
    path: str | Path,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    ref: int = -1,
    control: str = "never",
    intensity: str | None = None,
    weights: str | None = None,
    covariates: Sequence[str] = (),
    drop_singletons: bool = True,
    nonnegative_outcome: bool = False,
    vcov: VcovSpec = "CRV1",
    ssc: SmallSample | None = None,
    pretrend: str = "wald",
    collin_tol: float = DEFAULT_COLLIN_TOL,
    executor: Executor = "dask",
    scheduler: str | None = None,
    n_workers: int = 2,
) -> SunAbrahamResults:
    """Fit :class:`~models.SunAbraham` (unit and period fixed effects) to partitioned Parquet.

    Parameters
    ----------
    path : str or Path
        A directory of Parquet files (every ``*.parquet`` under it, sorted, one partition
        each) or a single file. Each file holds whole units.
    outcome, unit, time, cohort, ref, control, intensity, weights, drop_singletons, \
nonnegative_outcome
        As for :class:`~models.SunAbraham`.
    covariates : sequence of str
        Not supported out of core (they make the saturated design dense): must be empty.
    vcov : str or dict
        ``"CRV1"`` (clustered by the unit, the default), ``"iid"`` or ``"HC1"``.
    ssc : SmallSample, optional
        Small-sample settings (:func:`models.ssc`; default fixest's).
    pretrend : {"wald"}
        The pre-trend test of ``pretrend_test()``: the Wald test (the wild bootstrap needs the
        panel in memory).
    collin_tol : float
        As for :meth:`models.SunAbraham.fit`.
    executor, scheduler, n_workers
        As for :func:`fit_partitioned`.

    Returns
    -------
    SunAbrahamResults
        As :meth:`models.SunAbraham.fit` returns: effects by event time (``params``,
        ``event_time_effects()``), ``overall``, ``cohort_effects`` and ``saturated``.

    Raises
    ------
    FileNotFoundError
        For a missing path or a directory without Parquet files.
    ValueError
        For an option that does not scale out (covariates, the bootstrap pre-trend test, CR3 or
        other clusters), a file that is not Parquet or lacks a column, a unit in two partitions
        (named with both files), a bad panel or arguments (as :class:`~models.SunAbraham` says).

    Examples
    --------
    >>> res = fit_partitioned_sun_abraham(  # doctest: +SKIP
    ...     "panel_parts/", outcome="spend", unit="consumer_id", time="week",
    ...     cohort="fake_week", intensity="fake_value")
    >>> res.cumulative(0, 11)  # doctest: +SKIP
    """
    if isinstance(covariates, str) or len(covariates):
        raise ValueError(
            f"{OWNER}: covariates={covariates!r} is not supported out of core (the saturated "
            "design with covariates is dense); fit SunAbraham in memory"
        )
    if pretrend != "wald":
        raise ValueError(
            f"{OWNER}: pretrend={pretrend!r} is not supported out of core (the wild bootstrap "
            "needs the panel in memory); use pretrend='wald'"
        )
    spec = SunAbrahamSpec(
        outcome, unit, time, cohort, ref, control, intensity, weights, drop_singletons,
        nonnegative_outcome,
    )  # fmt: skip
    request = _request(vcov, unit, ssc, OWNER, executor)
    files, labels = _partitions(path, spec.columns)
    with _runner(executor, scheduler, n_workers) as run:
        plan = plan_fit(run(_structure, files, spec=spec), spec, labels)
        solution = solve_cells(run(_cell_moments, files, plan=plan), plan, collin_tol)
        hetero = request.kind == "HC1"
        scores = run(_cell_scores, files, plan=plan, solution=solution, hetero=hetero)
    return sun_abraham_results(plan, solution, scores, request)
