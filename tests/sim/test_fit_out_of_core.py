"""`goodwill fit DIR`: a directory of Parquet partitions fitted out of core where
[estimation.out_of_core] says, with the in-memory fit's numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from sim.cli import main
from sim.config import load_config
from sim.config_files import ConfigError
from sim.jobs import fit_panel

COLUMNS = ["estimate", "se", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    """A simulated panel as one file and as four partitions of whole consumers."""
    base = tmp_path_factory.mktemp("partitions")
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=22, seed=8)
    panel = panel[["consumer_id", "week", "spend", "fake_week", "fake_value"]]
    panel.to_parquet(base / "panel.parquet", index=False)
    directory = base / "panel"
    directory.mkdir()
    for part in range(4):
        rows = panel["consumer_id"] % 4 == part
        panel[rows].to_parquet(directory / f"part-{part}.parquet", index=False)
    return base / "panel.parquet", directory


def config(tmp_path, text: str) -> str:
    path = tmp_path / "fit.toml"
    path.write_text(f"seed = 1\n[estimation]\n{text}")
    return str(path)


def fitted(path, config_path, out, **shared):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few effective treated units on a small panel
        fit_panel(path, config_path, shared=shared, out=out)
    return pd.read_csv(out / "estimates.csv")


SERIAL = '[estimation.out_of_core]\nexecutor = "serial"\n'


@pytest.mark.parametrize("vcov", ["CRV1", "HC1", "iid"])
def test_partitions_give_the_in_memory_fit(panels, tmp_path, vcov):
    whole, directory = panels
    sections = f'[estimation.twfe]\nvcov = "{vcov}"\n[estimation.sun_abraham]\nvcov = "{vcov}"\n'
    estimators = 'estimators = ["twfe", "sun_abraham"]\n'
    settings = config(tmp_path, estimators + sections + SERIAL)
    in_memory = fitted(whole, settings, tmp_path / "memory")
    out_of_core = fitted(directory, settings, tmp_path / "partitions")
    assert set(out_of_core["estimand"]) == {"intensity"}
    assert set(out_of_core["estimator"]) == {"twfe", "sun_abraham"}
    expected = in_memory[in_memory["estimand"] == "intensity"].reset_index(drop=True)
    np.testing.assert_allclose(out_of_core[COLUMNS], expected[COLUMNS], rtol=1e-8, atol=1e-10)
    multipliers = pd.read_csv(tmp_path / "partitions" / "multipliers.csv")
    assert multipliers["estimand"].tolist() == ["intensity", "intensity"]


def test_sun_abraham_takes_sampling_weights_out_of_core(panels, tmp_path):
    whole, directory = panels
    weighted = tmp_path / "weighted"
    weighted.mkdir()
    for part in [whole, *sorted(directory.iterdir())]:
        frame = pd.read_parquet(part)
        target = tmp_path / "whole.parquet" if part == whole else weighted / part.name
        frame.assign(w=1.0 + frame["consumer_id"] % 3).to_parquet(target)
    settings = config(tmp_path, 'estimators = ["sun_abraham"]\n' + SERIAL)
    in_memory = fitted(tmp_path / "whole.parquet", settings, tmp_path / "memory", weights="w")
    out_of_core = fitted(weighted, settings, tmp_path / "partitions", weights="w")
    unweighted = fitted(weighted, settings, tmp_path / "unweighted")
    expected = in_memory[in_memory["estimand"] == "intensity"].reset_index(drop=True)
    np.testing.assert_allclose(out_of_core[COLUMNS], expected[COLUMNS], rtol=1e-8, atol=1e-10)
    assert not np.allclose(out_of_core["estimate"], unweighted["estimate"])  # weights matter


def test_the_command_runs_on_a_local_cluster(panels, tmp_path, capsys):
    _, directory = panels
    settings = config(tmp_path, "[estimation.out_of_core]\nn_workers = 2\n")
    assert main(["fit", str(directory), "--config", settings, "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "fitted out of core: the intensity-weighted estimand only" in out
    serial = config(tmp_path, '[estimation.out_of_core]\nexecutor = "serial"\n')
    expected = fitted(directory, serial, tmp_path / "serial")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "d" / "estimates.csv"), expected)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ('estimators = ["twfe", "callaway_santanna"]\n', [], "callaway_santanna cannot do yet"),
        ('[estimation.twfe]\nclusters = ["week"]\n', [], "estimation.twfe.clusters: not offered"),
        ("", ["--weights", "fake_value"], "estimation.weights: not offered out of core"),
        ("[estimation.twfe]\njackknife = true\n", [], "estimation.twfe.jackknife: not offered"),
    ],
)
def test_what_does_not_scale_is_refused_by_name(panels, tmp_path, capsys, text, options, message):
    _, directory = panels
    argv = ["fit", str(directory), "--config", config(tmp_path, text), *options]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err


def test_a_scheduler_needs_the_dask_executor(tmp_path):
    path = config(
        tmp_path, '[estimation.out_of_core]\nexecutor = "serial"\nscheduler = "tcp://h:8786"\n'
    )
    with pytest.raises(ConfigError, match="scheduler is only used with executor = 'dask'"):
        load_config(path)
