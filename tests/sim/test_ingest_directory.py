"""A directory of Parquet files ingested as one log: the panel and the accounting of the same
log in one file, rows numbered across the files and located in them."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models import ConsumerSpendModel
from sim.cli import main
from sim.ingest import IngestRejected, ingest_log
from tests.sim.test_ingest import BAD, LOG, _simulated_log, settings


def split(frame: pd.DataFrame, directory, sizes: list[int]) -> list[str]:
    """Write consecutive slices of ``frame`` as Parquet files under Hive-style folders whose
    path order is the slices' order; their paths relative to ``directory``."""
    names, start = [], 0
    for i, size in enumerate(sizes):
        name = f"day={i:02d}/part-0.parquet"
        (directory / name).parent.mkdir(parents=True)
        frame.iloc[start : start + size].to_parquet(directory / name, index=False)
        names.append(name)
        start += size
    assert start == len(frame)
    return names


@pytest.fixture
def bad_log() -> pd.DataFrame:
    """The test log with every kind of bad row, as text (what a CSV gives)."""
    return pd.read_csv(io.StringIO(LOG), dtype=str, keep_default_na=False).replace("", None)


@pytest.mark.parametrize("batch_size", [1, 4, 1_000])
def test_a_directory_is_the_log_of_its_files_in_order(tmp_path, batch_size):
    simulated, _ = ConsumerSpendModel().simulate(n_consumers=800, n_weeks=22, seed=4)
    log = _simulated_log(simulated)
    log.to_parquet(tmp_path / "orders.parquet", index=False)
    directory = tmp_path / "orders"
    n = len(log)
    split(log, directory, [n // 3, 7, n - n // 3 - 7])
    (directory / "_SUCCESS").write_text("")  # what Spark leaves beside its files: not read
    whole, whole_report = ingest_log(tmp_path / "orders.parquet", settings(n_weeks=22))
    parts, parts_report = ingest_log(directory, settings(n_weeks=22, batch_size=batch_size))
    pd.testing.assert_frame_equal(parts, whole)
    assert parts_report.rows_in == whole_report.rows_in == n
    assert parts_report.amount_in == pytest.approx(whole_report.amount_in, rel=1e-12)


def test_bad_rows_are_numbered_across_the_files_and_located_in_them(tmp_path, bad_log):
    (tmp_path / "orders.csv").write_text(LOG)
    directory = tmp_path / "orders"
    names = split(bad_log, directory, [5, 8])  # rows 1-5 and 6-13
    _, whole = ingest_log(tmp_path / "orders.csv", settings())
    _, report = ingest_log(directory, settings())
    assert report.rows_in == whole.rows_in and report.rows_used == whole.rows_used
    assert report.unreconciled == 0
    for kind, (rows, yuan) in BAD.items():
        assert report.bad_rows[kind].examples == rows, kind
        assert report.bad_rows[kind].amount == yuan, kind
    text = report.describe()
    assert f"(rows 4 ({names[0]} row 4))" in text  # missing_id, in the first file
    assert f"(rows 9 ({names[1]} row 4))" in text  # outside_window, in the second
    record = report.to_dict()
    assert record["files"] == [
        {"path": names[0], "first_row": 1, "rows": 5},
        {"path": names[1], "first_row": 6, "rows": 8},
    ]
    json.dumps(record)
    with pytest.raises(IngestRejected, match=rf"first: row 4 \({names[0]} row 4\)"):
        ingest_log(directory, settings(bad_rows="reject"))


def test_text_may_be_string_in_one_file_and_large_string_in_another(tmp_path, bad_log):
    directory = tmp_path / "orders"
    names = split(bad_log, directory, [5, 8])
    for name, text in zip(names, (pa.string(), pa.large_string()), strict=True):
        table = pq.read_table(directory / name)
        pq.write_table(
            table.cast(pa.schema([(c, text) for c in table.column_names])), directory / name
        )
    kinds = [pq.read_schema(directory / name).field("amount").type for name in names]
    assert kinds == [pa.string(), pa.large_string()]
    _, report = ingest_log(directory, settings())
    assert report.rows_in == 13 and report.unreconciled == 0


def test_a_single_file_s_report_has_no_file_list(tmp_path):
    (tmp_path / "orders.csv").write_text(LOG)
    _, report = ingest_log(tmp_path / "orders.csv", settings())
    assert "files" not in report.to_dict() and report.files == ()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("empty", "a directory without .parquet or .pq files"),
        ("column", "day=01/part-0.parquet: no column 'amount' (ingest.columns.amount)"),
        ("type", "day=01/part-0.parquet: column 'amount' is double, but "),
    ],
)
def test_a_bad_directory_is_one_line_naming_the_file(tmp_path, bad_log, capsys, make, message):
    directory = tmp_path / "orders"
    directory.mkdir()
    if make != "empty":
        names = split(bad_log.iloc[:6], directory, [3, 3])
        second = pd.read_parquet(directory / names[1])
        if make == "column":
            second = second.drop(columns="amount")
        else:
            second["amount"] = np.arange(3.0)
        second.to_parquet(directory / names[1], index=False)
    out = tmp_path / "panel.parquet"
    argv = ["ingest", str(directory), "--out", str(out), "--start", "2017-01-02", "--weeks", "6"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not out.exists()
