"""The executors of the goodwill-loss Monte Carlo (sim.executors): a dask LocalCluster is
bit-identical to the serial run."""

from __future__ import annotations

import pytest

from sim.projection import project_goodwill
from tests.conftest import assert_identical, config_with, response


def test_dask_local_cluster_is_bit_identical_to_serial():
    pytest.importorskip("dask.distributed")
    serial = project_goodwill(config_with(), response())
    distributed = project_goodwill(config_with(executor="dask", n_workers=2), response())
    assert_identical(distributed, serial, same_config=False)
