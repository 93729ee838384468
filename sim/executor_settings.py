"""The config keys that say where independent tasks run, shared by ``[projection]``,
``[study]`` and ``[estimation.out_of_core]``: a dask scheduler's address and the workers of
the LocalCluster started without one."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

SchedulerAddress = Annotated[
    str | None, Field(min_length=1, description="dask scheduler address; default: a LocalCluster")
]
"""``scheduler``: a running dask scheduler's address, or None for a LocalCluster."""

WorkerCount = Annotated[
    StrictInt,
    Field(ge=1, le=256, description="worker processes of the LocalCluster (each a process)"),
]
"""``n_workers``: worker processes of the LocalCluster."""


def check_scheduler(executor: str, scheduler: str | None) -> None:
    """Refuse a scheduler address without ``executor = 'dask'``."""
    if scheduler is not None and executor != "dask":
        raise ValueError("scheduler is only used with executor = 'dask'")
