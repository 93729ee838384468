"""The out-of-core Sun-Abraham fit (sim.fit_partitioned_sun_abraham) on a real dask LocalCluster:
the in-memory SunAbraham fit to 1e-8, and bit for bit the serial run of the same partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, SunAbraham
from models.exceptions import AlwaysTreatedWarning, FewEffectiveUnitsWarning, SingletonWarning
from sim import fit_partitioned_sun_abraham
from tests.sim.test_out_of_core import COLUMNS, write_partitions

distributed = pytest.importorskip("dask.distributed")

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=FewEffectiveUnitsWarning),
    pytest.mark.filterwarnings("ignore", category=SingletonWarning),
    pytest.mark.filterwarnings("ignore", category=AlwaysTreatedWarning),
]

TOL = 1e-8


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """2,000 consumers x 10 weeks with a fifth of the rows dropped (unbalanced) and sampling
    weights in column ``w``."""
    df, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=10, seed=3)
    rng = np.random.default_rng(4)
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    return df.loc[rng.random(len(df)) < 0.8].reset_index(drop=True)


@pytest.fixture(scope="module")
def partitioned(panel, tmp_path_factory):
    directory = tmp_path_factory.mktemp("panel") / "partitions"
    write_partitions(panel, directory)
    return directory


def assert_close(got, expected) -> None:
    """Effects, CATT(g, e) and their SEs to 1e-8 relative; same t degrees of freedom."""
    assert got.names == expected.names
    for mine, theirs in ((got, expected), (got.saturated, expected.saturated)):
        np.testing.assert_allclose(mine.params, theirs.params, rtol=TOL, atol=0)
        np.testing.assert_allclose(mine.bse, theirs.bse, rtol=TOL, atol=0)
    assert got.overall.estimate == pytest.approx(expected.overall.estimate, rel=TOL)
    assert got.df_t == expected.df_t


@pytest.mark.parametrize(
    "options",
    [{"intensity": "fake_value"}, {"control": "last", "weights": "w"}],
    ids=["intensity", "last-weights"],
)
def test_a_local_cluster_gives_the_in_memory_fit_and_the_serial_bits(panel, partitioned, options):
    arguments = {**COLUMNS, **options}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        on_cluster = fit_partitioned_sun_abraham(
            partitioned, scheduler=cluster.scheduler_address, **arguments
        )
    serial = fit_partitioned_sun_abraham(partitioned, executor="serial", **arguments)
    assert_close(on_cluster, SunAbraham(panel, **arguments).fit(vcov="CRV1"))
    np.testing.assert_array_equal(on_cluster.params, serial.params)
    np.testing.assert_array_equal(on_cluster.cov_params(), serial.cov_params())
    pd.testing.assert_frame_equal(on_cluster.cohort_effects, serial.cohort_effects)


@pytest.mark.parametrize("vcov", ["HC1", "iid"])
def test_hc1_and_iid_match_serially(panel, partitioned, vcov):
    got = fit_partitioned_sun_abraham(partitioned, executor="serial", vcov=vcov, **COLUMNS)
    assert_close(got, SunAbraham(panel, **COLUMNS).fit(vcov=vcov))
    assert got.vcov_type == vcov


def test_a_unit_straddling_two_files_is_refused_naming_it(panel, tmp_path):
    unit = panel["consumer_id"].iloc[0]
    early = panel["week"] <= 5
    mine = panel["consumer_id"] == unit
    panel[~mine | early].to_parquet(tmp_path / "a.parquet", index=False)
    panel[mine & ~early].to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(
        ValueError, match=rf"unit {int(unit)} straddles partitions .*a\.parquet and .*b\.parquet"
    ):
        fit_partitioned_sun_abraham(tmp_path, executor="serial", **COLUMNS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"covariates": ["w"]}, r"covariates=\['w'\] is not supported out of core"),
        ({"covariates": "w"}, r"covariates='w' is not supported out of core"),
        ({"pretrend": "bootstrap"}, "pretrend='bootstrap' is not supported out of core"),
        ({"vcov": "CR3"}, "'CR3' is not available"),
        ({"vcov": {"CRV1": "week"}}, "clustered by the unit 'consumer_id' only"),
        ({"executor": "threads"}, "executor must be 'serial' or 'dask'"),
        ({"control": "not_yet"}, "control: expected 'never' or 'last'"),
        ({"ref": 1}, "ref: expected a negative integer event time"),
        ({"weights": "weight"}, r"column\(s\) 'weight' not in the partition"),
    ],
)
def test_unsupported_options_and_bad_requests_are_refused_by_name(partitioned, change, message):
    with pytest.raises(ValueError, match=message):
        fit_partitioned_sun_abraham(partitioned, **{**COLUMNS, **change})


def test_missing_paths_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such partitioned Parquet panel"):
        fit_partitioned_sun_abraham(tmp_path / "missing", **COLUMNS)
