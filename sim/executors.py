"""Serial and dask.distributed execution of independent Monte-Carlo blocks.

``run_blocks`` calls ``function(payload, block)`` for every block and hands each result to
``done(block, result)`` as soon as it is ready (in block order when serial, in completion order
on dask). The function must compute a block from the payload and the block index alone, so the
results do not depend on the executor or on the number of workers. ``run_resumable`` adds what
a long Monte Carlo needs around it: a :class:`~sim.checkpoint.Checkpoint` that saves each
finished block and skips the blocks it already holds, and a progress bar.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from sim.checkpoint import Checkpoint

Executor = Literal["serial", "dask"]

log = logging.getLogger(__name__)


def run_blocks(
    function: Callable[[Any, int], Any],
    payload: Any,
    blocks: Sequence[int],
    done: Callable[[int, Any], None],
    executor: Executor = "serial",
    scheduler: str | None = None,
    n_workers: int = 2,
) -> None:
    """Compute ``function(payload, block)`` for each block and pass it to ``done``.

    Parameters
    ----------
    function : callable
        A module-level (picklable) function of the payload and a block index.
    payload : object
        Everything the blocks share; sent to each dask worker once.
    blocks : sequence of int
        Block indices to compute.
    done : callable
        Called in this process with (block, result) as each block finishes.
    executor : {"serial", "dask"}
        Run in this process, or on dask.distributed.
    scheduler : str, optional
        Address of a running dask scheduler; by default a LocalCluster is started for the
        call and closed after it.
    n_workers : int
        Worker processes of that LocalCluster (one thread each).
    """
    if executor == "serial":
        for block in blocks:
            done(block, function(payload, block))
        return
    if executor != "dask":
        raise ValueError(f"executor must be 'serial' or 'dask', got {executor!r}")
    with dask_client(scheduler, n_workers) as client:
        from dask.distributed import as_completed  # importable: dask_client checked it

        shared = client.scatter(payload, broadcast=True)
        futures = {client.submit(function, shared, block, pure=False): block for block in blocks}
        for future, result in as_completed(futures, with_results=True):
            done(futures.pop(future), result)


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int = 2) -> Iterator[Any]:
    """A dask.distributed Client: on the scheduler at ``scheduler``, or on a LocalCluster of
    ``n_workers`` worker processes (one thread each) started for the block and closed after it.

    Raises
    ------
    ImportError
        If dask.distributed is not installed.
    """
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            "executor = 'dask' needs dask.distributed: pip install 'goodwill[dask]'"
        ) from None
    environment = dict(os.environ)  # a LocalCluster's nanny sets variables in this process
    cluster = None
    try:
        if scheduler is None:
            # dask's default MALLOC_TRIM_THRESHOLD_ for workers returns every large temporary
            # to the kernel, which makes a block 1.5 times slower to compute than serially.
            worker_environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            worker_environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ}):
                cluster = LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: never clashes with another
                )
        with Client(cluster if cluster is not None else scheduler) as client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()
        os.environ.clear()
        os.environ.update(environment)


def run_resumable(
    function: Callable[[Any, int], dict[str, np.ndarray]],
    payload: Any,
    n_blocks: int,
    put: Callable[[int, dict[str, np.ndarray]], None],
    *,
    checkpoint: Checkpoint | None,
    progress: bool,
    desc: str,
    unit: str = "block",
    units_per_block: Callable[[int], int] | None = None,
    executor: Executor = "serial",
    scheduler: str | None = None,
    n_workers: int = 2,
) -> None:
    """Compute blocks ``0 .. n_blocks - 1`` with :func:`run_blocks`, resuming from a checkpoint.

    Parameters
    ----------
    function, payload
        As for :func:`run_blocks`; a block's result is a dict of arrays.
    n_blocks : int
        Number of blocks.
    put : callable
        Called with (block, arrays) for every block: first, in block order, for those the
        checkpoint already holds, then for each computed block as it finishes.
    checkpoint : Checkpoint or None
        Where finished blocks are saved (before ``put`` sees them) and found again.
    progress : bool
        Show a progress bar on a terminal.
    desc, unit : str
        The progress bar's label and unit.
    units_per_block : callable, optional
        Units of the bar a block counts for (default one).
    executor, scheduler, n_workers
        As for :func:`run_blocks`.
    """
    finished = {} if checkpoint is None else checkpoint.load_finished(n_blocks)
    for block, arrays in finished.items():
        put(block, arrays)
    if finished:
        log.info("resumed %d of %d blocks from %s", len(finished), n_blocks, checkpoint.directory)
    units = [1 if units_per_block is None else units_per_block(b) for b in range(n_blocks)]
    bar = tqdm(
        total=sum(units),
        initial=sum(units[block] for block in finished),
        desc=desc,
        unit=unit,
        disable=None if progress else True,
        leave=False,
    )

    def done(block: int, arrays: dict[str, np.ndarray]) -> None:
        if checkpoint is not None:
            checkpoint.save(block, arrays)
        put(block, arrays)
        bar.update(units[block])

    try:
        run_blocks(
            function,
            payload,
            [block for block in range(n_blocks) if block not in finished],
            done,
            executor=executor,
            scheduler=scheduler,
            n_workers=n_workers,
        )
    finally:
        bar.close()
