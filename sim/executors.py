"""Serial and dask.distributed execution of independent Monte-Carlo blocks.

``run_blocks`` calls ``function(payload, block)`` for every block and hands each result to
``done(block, result)`` as soon as it is ready (in block order when serial, in completion order
on dask). The function must compute a block from the payload and the block index alone, so the
results do not depend on the executor or on the number of workers.
"""

from __future__ import annotations

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
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError(
            "executor = 'dask' needs dask.distributed: pip install 'goodwill[dask]'"
        ) from None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    else:
        cluster = None
        client = Client(scheduler)
    try:
        shared = client.scatter(payload, broadcast=True)
        futures = {client.submit(function, shared, block, pure=False): block for block in blocks}
        for future in as_completed(futures):
            done(futures[future], future.result())
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
