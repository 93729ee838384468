"""Order logs into panels: every row and yuan accounted for, the simulated panel recovered."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from sim.ingest import IngestRejected, ingest_log
from sim.ingest_reader import OrderLog
from sim.ingest_settings import IngestColumns, IngestSettings

START = dt.date(2017, 1, 2)  # a Monday

# One row of each kind of bad row, between good ones; amounts are exact in binary, so the
# reconciliation holds exactly. The rows' numbers (1-based, header excluded) are noted.
LOG = """consumer_id,timestamp,amount,counterfeit,order_id
7,2017-01-02 09:00,100.5,false,o1
7,2017-01-12 23:30,20,0,o2
7,2017-01-20T01:00:00Z,40.25,true,o3
,2017-01-03 10:00,11,0,o4
8,yesterday,12,0,o5
8,2017-01-04 10:00,twelve,0,o6
8,2017-01-04 11:00,-13,0,o7
8,2017-01-04 12:00,14,maybe,o8
8,2016-12-30 10:00,15,0,o9
8,2017-01-05 10:00,16,0,o2
8,2017-02-01 10:00,8.5,1,o10
8,2017-02-02 10:00,1.5,1,o11
9,2017-01-22 23:59,3,0,o12
"""
BAD = {  # kind: (rows, yuan)
    "missing_id": ([4], 11.0),
    "bad_timestamp": ([5], 12.0),
    "bad_amount": ([6], 0.0),
    "negative_amount": ([7], -13.0),
    "bad_flag": ([8], 14.0),
    "outside_window": ([9], 15.0),
    "duplicate_order": ([10], 16.0),
}


def settings(**changes: object) -> IngestSettings:
    columns = IngestColumns(order_id="order_id")
    return IngestSettings(start=START, n_weeks=6, columns=columns).model_copy(update=changes)


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(LOG)
    return path


def test_every_kind_of_bad_row_is_counted_and_reconciled(log):
    _, report = ingest_log(log, settings())
    assert {k: (t.examples, t.amount) for k, t in report.bad_rows.items()} == BAD
    assert all(t.count == 1 for t in report.bad_rows.values())
    assert (report.rows_in, report.rows_used, report.rows_dropped) == (13, 6, 7)
    assert report.rows_in == report.rows_used + report.rows_dropped
    assert report.amount_in == 100.5 + 20 + 40.25 + 11 + 12 - 13 + 14 + 15 + 16 + 8.5 + 1.5 + 3
    assert report.amount_in == report.spend + report.fake_spend + report.amount_dropped
    assert report.unreconciled == 0
    assert (report.spend, report.fake_spend) == (123.5, 50.25)
    assert report.to_dict()["yuan"]["unreconciled"] == 0


def test_the_panel_has_each_consumers_active_weeks_with_zeros_between(log):
    panel, _ = ingest_log(log, settings())
    expected = pd.DataFrame(
        {
            "consumer_id": [7, 7, 7, 8, 9],
            "week": [1, 2, 3, 5, 3],
            "spend": [100.5, 20.0, 0.0, 0.0, 3.0],
            "fake_spend": [0.0, 0.0, 40.25, 10.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(panel[list(expected)], expected)
    by_consumer = panel.drop_duplicates("consumer_id").set_index("consumer_id")
    # 2017-01-20T01:00Z is 09:00 in Shanghai, week 3; consumer 8's two fakes are in week 5
    np.testing.assert_array_equal(by_consumer["fake_week"], [3.0, 5.0, np.nan])
    assert by_consumer["fake_value"].tolist() == [40.25, 8.5, 0.0]
    assert by_consumer["n_fakes"].tolist() == [1, 2, 0]
    assert by_consumer[["first_week", "last_week"]].values.tolist() == [[1, 3], [5, 5], [3, 3]]
    assert by_consumer["weeks_before_fake"].tolist()[:2] == [2.0, 0.0]


def test_reject_names_the_first_bad_rows_kind_count_and_row(log):
    with pytest.raises(
        IngestRejected,
        match=r"orders.csv: 1 rows with a missing consumer id .*\(missing_id, first: row 4\); "
        r"6 other bad rows; rejected",
    ):
        ingest_log(log, settings(bad_rows="reject"))


def test_a_clean_log_passes_reject(log):
    clean = "\n".join(LOG.splitlines()[:4]) + "\n"
    log.write_text(clean)
    panel, report = ingest_log(log, settings(bad_rows="reject"))
    assert report.rows_dropped == 0 and len(panel) == 3


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_batches_give_the_panel_of_a_single_batch(log, batch_size):
    batches = OrderLog.open(log, settings().columns).batches(batch_size)
    sizes, before = zip(*((table.num_rows, done) for table, done in batches), strict=True)
    assert sizes[:-1] == (batch_size,) * (len(sizes) - 1) and sum(sizes) == 13
    assert before == tuple(range(0, 13, batch_size))
    whole, whole_report = ingest_log(log, settings())
    panel, report = ingest_log(log, settings(batch_size=batch_size))
    pd.testing.assert_frame_equal(panel, whole)
    assert report.to_dict() == whole_report.to_dict()


def test_weeks_follow_the_week_start_and_the_time_zone(tmp_path):
    path = tmp_path / "orders.csv"
    # Sunday 2017-01-01 23:30 in Shanghai is 15:30 UTC; a naive time is read in the zone
    path.write_text(
        "consumer_id,timestamp,amount,counterfeit\n"
        "1,2017-01-01T15:30:00Z,1,0\n"
        "2,2017-01-01 23:30,1,0\n"
        "3,2017-01-01T16:30:00Z,1,0\n"
    )
    monday = settings(columns=IngestColumns(), start=dt.date(2017, 1, 1))
    assert monday.window_start() == dt.date(2016, 12, 26)
    panel, _ = ingest_log(path, monday)
    assert panel["week"].tolist() == [1, 1, 2]
    sunday = monday.model_copy(update={"week_start": "sunday"})
    assert sunday.window_start() == dt.date(2017, 1, 1)
    panel, _ = ingest_log(path, sunday)
    assert panel["week"].tolist() == [1, 1, 1]
    panel, _ = ingest_log(path, monday.model_copy(update={"time_zone": "UTC"}))
    assert panel["week"].tolist() == [1, 1, 1]
    late = monday.model_copy(update={"start": dt.date(2017, 1, 2), "n_weeks": 1})
    panel, report = ingest_log(path, late)
    assert report.bad_rows["outside_window"].examples == [1, 2]  # Sunday night in Shanghai
    assert panel["consumer_id"].tolist() == [3]


def test_account_age_and_category_of_the_first_fake(tmp_path):
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "buyer": ["a", "a", "b"],
            "paid_at": pd.to_datetime(["2017-01-03", "2017-01-10", "2017-01-04"]),
            "yuan": [5.0, 6.0, 7.0],
            "fake": [True, True, False],
            "since": pd.to_datetime(["2015-01-03", "2015-01-03", "2016-01-01"]),
            "kind": ["cat food", "shoes", "tea"],
        }
    ).to_parquet(path)
    columns = IngestColumns(
        consumer_id="buyer",
        timestamp="paid_at",
        amount="yuan",
        counterfeit="fake",
        account_created="since",
        category="kind",
    )
    panel, _ = ingest_log(path, settings(columns=columns))
    first = panel.drop_duplicates("consumer_id").set_index("consumer_id")
    assert first.loc["a", "tenure_at_fake"] == pytest.approx(731 / 365.25)
    assert first.loc["a", "fake_category"] == "cat food"
    assert np.isnan(first.loc["b", "tenure_at_fake"]) and pd.isna(first.loc["b", "fake_category"])


def _simulated_log(panel: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """One order per consumer-week with spend, and one per first counterfeit, at random
    times of their week."""
    rng = np.random.default_rng(seed)
    bought = panel[panel["spend"] > 0]
    first = panel.drop_duplicates("consumer_id")
    faked = first[first["fake_week"].notna()]
    orders = pd.DataFrame(
        {
            "consumer_id": np.r_[bought["consumer_id"], faked["consumer_id"]],
            "week": np.r_[bought["week"], faked["fake_week"]].astype(int),
            "amount": np.r_[bought["spend"], faked["fake_value"]],
            "counterfeit": np.r_[np.zeros(len(bought), bool), np.ones(len(faked), bool)],
        }
    )
    seconds = rng.integers(0, 7 * 86_400, len(orders))
    orders["timestamp"] = (
        pd.Timestamp(START) + pd.to_timedelta((orders.pop("week") - 1) * 7 * 86_400 + seconds, "s")
    ).dt.tz_localize("Asia/Shanghai")
    orders["order_id"] = rng.permutation(len(orders))
    return orders.sample(frac=1, random_state=seed, ignore_index=True)


def test_a_log_of_a_simulated_panel_ingests_back_to_it(tmp_path):
    simulated, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=22, seed=1)
    path = tmp_path / "orders.parquet"
    _simulated_log(simulated).to_parquet(path)
    panel, report = ingest_log(path, settings(n_weeks=22, batch_size=10_000))
    assert report.rows_dropped == 0
    merged = simulated.merge(panel, on=["consumer_id", "week"], how="left", suffixes=("", "_in"))
    inside = merged["spend_in"].notna()
    assert (merged.loc[inside, "spend_in"] == merged.loc[inside, "spend"]).all()
    assert (merged.loc[~inside, "spend"] == 0).all()  # outside a consumer's active weeks
    first = simulated.drop_duplicates("consumer_id").set_index("consumer_id")
    ingested = panel.drop_duplicates("consumer_id").set_index("consumer_id")
    absent = first.index.difference(ingested.index)
    assert first.loc[absent, "fake_week"].isna().all()
    first = first.loc[ingested.index]
    np.testing.assert_array_equal(ingested["fake_week"], first["fake_week"])
    np.testing.assert_array_equal(ingested["fake_value"], first["fake_value"])
    assert report.spend == pytest.approx(simulated["spend"].sum(), rel=1e-12)
    whole, _ = ingest_log(path, settings(n_weeks=22))  # one batch: the same sums, bit for bit
    pd.testing.assert_frame_equal(whole, panel)


def test_repeated_order_ids_are_found_across_batches_and_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.ingest.RUN_KEYS", 8)  # many small runs of the keys seen
    rng = np.random.default_rng(0)
    orders = pd.DataFrame(
        {
            "consumer_id": rng.integers(0, 5, 300),
            "timestamp": pd.Timestamp("2017-01-03", tz="UTC"),
            "amount": 1.0,
            "counterfeit": False,
            "order_id": rng.integers(0, 60, 300),
        }
    )
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path)
    _, report = ingest_log(path, settings(batch_size=7))
    repeated = np.flatnonzero(orders["order_id"].duplicated()) + 1
    assert report.bad_rows["duplicate_order"].count == len(repeated)
    assert report.bad_rows["duplicate_order"].examples == repeated[:5].tolist()
