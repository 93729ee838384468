"""Serial and dask.distributed execution of independent Monte-Carlo blocks.

``run_blocks`` calls ``function(payload, block)`` for every block and hands each result to
``done(block, result)`` as soon as it is ready (in block order when serial, in completion order
on dask). The function must compute a block from the payload and the block index alone, so the
results do not depend on the executor or on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

Executor = Literal["serial", "dask"]


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
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
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
            shared = client.scatter(payload, broadcast=True)
            futures = {
                client.submit(function, shared, block, pure=False): block for block in blocks
            }
            for future, result in as_completed(futures, with_results=True):
                done(futures.pop(future), result)
    finally:
        if cluster is not None:
            cluster.close()
        os.environ.clear()
        os.environ.update(environment)
