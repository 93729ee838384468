"""``[estimation.out_of_core]``: where ``goodwill fit`` fits a directory of Parquet partitions.

A panel given to ``goodwill fit`` as a directory is fitted out of core
(:func:`sim.fit_partitioned`): one task per partition on dask.distributed, a LocalCluster of
``n_workers`` processes by default or the scheduler at ``scheduler``, or every partition in
this process (``executor = "serial"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from models.parameters import Parameters
from sim.executor_settings import SchedulerAddress, WorkerCount, check_scheduler


class OutOfCoreSettings(Parameters):
    """How a partitioned panel is fitted out of core (``[estimation.out_of_core]``)."""

    executor: Literal["dask", "serial"] = Field(
        "dask", description="dask.distributed (one task per partition), or serial"
    )
    scheduler: SchedulerAddress = None
    n_workers: WorkerCount = 2

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> OutOfCoreSettings:
        check_scheduler(self.executor, self.scheduler)
        return self
