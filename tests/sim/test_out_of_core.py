"""The out-of-core event study (sim.fit_partitioned) on a real dask LocalCluster: the in-memory
EventStudy fit to 1e-8, and bit for bit the serial run of the same partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, EventStudy
from models.exceptions import FewEffectiveUnitsWarning, SingletonWarning
from sim import fit_partitioned

distributed = pytest.importorskip("dask.distributed")

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=FewEffectiveUnitsWarning),
    pytest.mark.filterwarnings("ignore", category=SingletonWarning),
]

COLUMNS = {"outcome": "spend", "unit": "consumer_id", "time": "week", "cohort": "fake_week"}
OPTIONS = {"window": (-3, 6), "ref": -1}
TOL = 1e-8


def write_partitions(df: pd.DataFrame, directory, n_parts: int = 4) -> None:
    """Write ``df`` as ``n_parts`` Parquet files of whole consumers."""
    ids = df["consumer_id"].unique()
    directory.mkdir(exist_ok=True)
    for i in range(n_parts):
        part = df[df["consumer_id"].isin(ids[i::n_parts])]
        part.to_parquet(directory / f"part-{i:02d}.parquet", index=False)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """3,000 consumers x 12 weeks with a fifth of the rows dropped (unbalanced)."""
    df, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=12, seed=1)
    return df.loc[np.random.default_rng(2).random(len(df)) < 0.8].reset_index(drop=True)


@pytest.fixture(scope="module")
def partitioned(panel, tmp_path_factory):
    directory = tmp_path_factory.mktemp("panel") / "partitions"
    write_partitions(panel, directory)
    return directory


@pytest.fixture(scope="module")
def scheduler():
    """The address of a real LocalCluster: two worker processes of one thread each."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("intensity", [None, "fake_value"])
def test_a_local_cluster_gives_the_in_memory_fit_and_the_serial_bits(
    panel, partitioned, scheduler, intensity
):
    options = {**COLUMNS, **OPTIONS, "intensity": intensity}
    on_cluster = fit_partitioned(partitioned, scheduler=scheduler, **options)
    serial = fit_partitioned(partitioned, executor="serial", **options)
    expected = EventStudy(panel, **options).fit(vcov="CRV1")
    np.testing.assert_allclose(on_cluster.params, expected.params, rtol=TOL, atol=0)
    np.testing.assert_allclose(on_cluster.bse, expected.bse, rtol=TOL, atol=0)
    assert on_cluster.df_t == expected.df_t
    np.testing.assert_array_equal(on_cluster.params, serial.params)
    np.testing.assert_array_equal(on_cluster.cov_params(), serial.cov_params())
    pd.testing.assert_frame_equal(on_cluster.conf_int(), serial.conf_int())


def test_the_default_local_cluster_fits_with_hc1(panel, partitioned):
    options = {**COLUMNS, **OPTIONS, "bin_endpoints": False}
    got = fit_partitioned(partitioned, vcov="HC1", **options)
    expected = EventStudy(panel, **options).fit(vcov="HC1")
    np.testing.assert_allclose(got.params, expected.params, rtol=TOL, atol=0)
    np.testing.assert_allclose(got.bse, expected.bse, rtol=TOL, atol=0)
    assert got.cumulative(0, 6).estimate == pytest.approx(
        expected.cumulative(0, 6).estimate, rel=TOL
    )


def test_a_unit_straddling_two_files_is_refused_naming_it(panel, tmp_path):
    unit = panel["consumer_id"].iloc[0]
    early = panel["week"] <= 6
    mine = panel["consumer_id"] == unit
    panel[~mine | early].to_parquet(tmp_path / "a.parquet", index=False)
    panel[mine & ~early].to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(
        ValueError,
        match=rf"unit {int(unit)} straddles partitions .*a\.parquet "
        r"and .*b\.parquet",
    ):
        fit_partitioned(tmp_path, executor="serial", **COLUMNS, **OPTIONS)


def test_bad_paths_columns_and_requests_get_one_line_errors(partitioned, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such partitioned Parquet panel"):
        fit_partitioned(tmp_path / "missing", **COLUMNS)
    with pytest.raises(FileNotFoundError, match=r"no \*\.parquet partition"):
        fit_partitioned(tmp_path, **COLUMNS)
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match=r"x\.parquet: not a Parquet file"):
        fit_partitioned(tmp_path, **COLUMNS)
    with pytest.raises(ValueError, match=r"part-00.parquet: column\(s\) 'dose' not in the"):
        fit_partitioned(partitioned, **COLUMNS, intensity="dose")
    with pytest.raises(ValueError, match="'CR3' is not available"):
        fit_partitioned(partitioned, **COLUMNS, vcov="CR3")
    with pytest.raises(ValueError, match="clustered by the unit 'consumer_id' only"):
        fit_partitioned(partitioned, **COLUMNS, vcov={"CRV1": "week"})
    with pytest.raises(ValueError, match="executor must be 'serial' or 'dask'"):
        fit_partitioned(partitioned, **COLUMNS, executor="threads")
