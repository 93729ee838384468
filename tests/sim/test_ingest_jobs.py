"""``goodwill ingest``: the panel and its report written whole, errors in one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli import main
from sim.ingest_jobs import ingest
from tests.sim.test_ingest import LOG

WINDOW = ["--start", "2017-01-02", "--weeks", "6"]


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(LOG.replace("order_id", "order"))
    return path


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "ingest.toml"
    path.write_text(
        "seed = 0\n[ingest]\nstart = 2017-01-02\nn_weeks = 6\n"
        '[ingest.columns]\norder_id = "order"\n'
    )
    return path


def test_ingest_writes_the_panel_and_its_report(log, config, tmp_path, capsys):
    out = tmp_path / "panel.parquet"
    assert main(["ingest", str(log), "--out", str(out), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "13 rows in = 6 used + 7 dropped" in printed
    assert f"wrote {out}, {tmp_path / 'panel.ingest.json'}" in printed
    report = json.loads((tmp_path / "panel.ingest.json").read_text())
    assert report["rows"] == {"in": 13, "used": 6, "dropped": 7}
    assert report["bad_rows"]["duplicate_order"]["example_rows"] == [10]
    assert report["yuan"]["unreconciled"] == 0
    panel = pd.read_parquet(out)
    assert panel["spend"].sum() == report["yuan"]["spend"] == 123.5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ingest.toml",
        "orders.csv",
        "panel.ingest.json",
        "panel.parquet",
    ]


def test_the_options_override_the_config(log, config, tmp_path):
    out = tmp_path / "panel.parquet"
    result = ingest(log, out, config, {"n_weeks": 2})
    assert "outside_window: 5 rows" in result.message


def test_reject_writes_nothing_and_exits_2(log, config, tmp_path, capsys):
    out = tmp_path / "panel.parquet"
    arguments = ["ingest", str(log), "--out", str(out), "--config", str(config)]
    assert main([*arguments, "--bad-rows", "reject"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "(missing_id, first: row 4); 6 other bad rows; rejected" in error
    assert not out.exists() and not (tmp_path / "panel.ingest.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.csv", *WINDOW], "missing.csv: order log not found"),
        (["orders.txt", *WINDOW], "orders.txt: expected a .parquet, .pq or .csv order log"),
        (["orders.csv", "--weeks", "6"], "ingest.start is not set: give --start DATE"),
        (["orders.csv", "--start", "2017-01-02"], "ingest.n_weeks is not set"),
        (["orders.csv", *WINDOW, "--time-zone", "Mars/Base"], "ingest.time_zone: expected"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(log, tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", *arguments, "--out", "panel.parquet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "panel.parquet").exists()


def test_a_missing_column_names_its_key(log, tmp_path, capsys):
    out = tmp_path / "panel.parquet"
    config = tmp_path / "ingest.toml"
    config.write_text('seed = 0\n[ingest.columns]\namount = "price"\n')
    arguments = ["ingest", str(log), "--out", str(out), "--config", str(config), *WINDOW]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert (
        "orders.csv: no column 'price' (ingest.columns.amount); the log has: consumer_id" in error
    )


def test_an_unreadable_csv_is_one_line(tmp_path, capsys):
    log = tmp_path / "orders.csv"
    log.write_text("consumer_id,timestamp,amount,counterfeit\n1,2017-01-02,1,0,extra,fields\n")
    out = tmp_path / "panel.parquet"
    assert main(["ingest", str(log), "--out", str(out), *WINDOW]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"goodwill: error: {log}: cannot read the order log: ")
    assert error.count("\n") == 1 and not out.exists()


def test_a_failed_write_leaves_the_earlier_files_and_no_new_one(log, config, tmp_path, monkeypatch):
    out = tmp_path / "panel.parquet"
    out.write_text("earlier panel")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    with pytest.raises(OSError, match=r"panel\.parquet: cannot write the file"):
        ingest(log, out, config)
    assert out.read_text() == "earlier panel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ingest.toml", "orders.csv", out.name]


def test_text_ids_stay_text_and_integer_text_ids_become_integers(tmp_path):
    log = tmp_path / "orders.csv"
    log.write_text(
        "consumer_id,timestamp,amount,counterfeit\nu1,2017-01-02,1,0\n007,2017-01-02,2,0\n"
    )
    out = tmp_path / "panel.parquet"
    ingest(log, out, overrides={"start": "2017-01-02", "n_weeks": 1})
    assert pd.read_parquet(out)["consumer_id"].tolist() == ["007", "u1"]
    log.write_text(
        "consumer_id,timestamp,amount,counterfeit\n12,2017-01-02,1,0\n3,2017-01-02,2,0\n"
    )
    ingest(log, out, overrides={"start": "2017-01-02", "n_weeks": 1})
    assert pd.read_parquet(out)["consumer_id"].tolist() == [3, 12]
