"""``[estimation.out_of_core]``: where ``goodwill fit`` fits a directory of Parquet partitions.

A panel given to ``goodwill fit`` as a directory is fitted out of core
(:func:`sim.fit_partitioned`): one task per partition on dask.distributed, a LocalCluster of
``n_workers`` processes by default or the scheduler at ``scheduler``, or every partition in
this process (``executor = "serial"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from models.parameters import Parameters


class OutOfCoreSettings(Parameters):
    """How a partitioned panel is fitted out of core (``[estimation.out_of_core]``)."""

    executor: Literal["dask", "serial"] = Field(
        "dask", description="dask.distributed (one task per partition), or serial"
    )
    scheduler: str | None = Field(
        None, min_length=1, description="dask scheduler address; default: a LocalCluster"
    )
    n_workers: StrictInt = Field(
        2, ge=1, le=256, description="worker processes of the LocalCluster (each a process)"
    )

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> OutOfCoreSettings:
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is only used with executor = 'dask'")
        return self
