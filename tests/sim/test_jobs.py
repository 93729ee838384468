"""The jobs as a script calls them: each returns the message a command prints and its files.

The commands' behaviour is tested through ``goodwill ...`` in test_cli.py, test_fit.py,
test_projection.py and the figures and report tests; here the library calls themselves.
"""

from __future__ import annotations

import shutil
import warnings

import pytest

from models import calibrate_enforcement, damages
from sim import jobs, load_config
from sim.market_draws import read_enforcement_data
from sim.rundir import read_config, read_response_path
from tests.conftest import SMALL_RUN, TINY


def test_run_returns_its_files_and_what_goodwill_run_prints(write_config, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the week-1 victims that Sun-Abraham drops
        result = jobs.run(write_config(**TINY), progress=False)
    assert result.directory == tmp_path / "run"
    assert (result.directory / "summary.txt").read_text() == result.summary + "\n"
    assert result.message.startswith(result.summary + "\nwrote ")
    assert f"({', '.join(f.name for f in result.files)})" in result.message
    assert result.files[-1].name == "manifest.json"
    estimators = read_config(result.directory).estimation.estimators
    assert {estimand: list(fits) for estimand, fits in result.estimates.items()} == {
        "intensity": estimators,
        "value": estimators,
    }


@pytest.mark.filterwarnings("ignore::models.exceptions.ImputationWarning")  # week-1 victims
def test_fit_panel_writes_the_estimate_files(small_run, tmp_path):
    out = tmp_path / "fit"
    result = jobs.fit_panel(
        small_run / "panel.parquet",
        shared={"estimators": ["twfe", "imputation"], "cumulative": (0, 5)},
        options={"window": (-3, 6)},
        out=out,
    )
    assert [f.name for f in result.files] == [
        "estimates.csv",
        "multipliers.csv",
        "estimates.nc",
        "manifest.json",
    ]
    assert "Model comparison" in result.message and result.message.endswith(" s")
    assert "twfe " in result.message and "imputation" in result.message


def test_validate_and_calibrate(write_config):
    path = write_config(**TINY)
    message = jobs.validate(path).message
    assert "(1,500 consumers x 22 weeks, seed 20170301); memory: about " in message
    assert jobs.validate(path).files == ()
    no_target = write_config("none.toml", **TINY, **{"target_multiplier = -3.57\n": ""})
    with pytest.raises(ValueError, match=r"calibration.target_multiplier|target_multiplier"):
        jobs.calibrate(no_target)


def test_damages_are_those_of_the_stored_response_path(small_run, write_config, tmp_path):
    config_path = write_config(**SMALL_RUN)  # its run directory is tmp_path / "run"
    shutil.copytree(small_run, tmp_path / "run")
    config = read_config(tmp_path / "run")
    path = read_response_path(tmp_path / "run", config.projection.estimator, 0, 11)
    expected = damages(config.projection.platform, path, 5_000.0, 0.8)
    message = jobs.estimate_damages(5_000.0, config_path, 0.8).message
    assert f"cost the platform {expected.goodwill_loss:,.0f} yuan of goodwill" in message
    assert f"80% interval {expected.low:,.0f} to {expected.high:,.0f}" in message


def test_calibrate_market_prints_the_fit_indices_ridge_and_posterior(write_config):
    path = write_config(**{"n_draws = 200 ": "n_draws = 64 "})  # at most the samples
    path.write_text(
        path.read_text()
        + "\n[projection.market_uncertainty]\nsamples = 64\nwalkers = 16\nburn_in = 50\n"
        + 'thin = 2\nintensity_index = "case_value_billion_yuan"\n'
    )
    message = jobs.calibrate_market(config_path=path).message
    config = load_config(path)
    data = read_enforcement_data()
    fit = calibrate_enforcement(config.projection.market, data, "case_value_billion_yuan")
    assert message.startswith("intensity = case_value_billion_yuan relative to 2016")
    assert f"detection_2016 = {fit.model.detection_2016:.4g}" in message
    assert f"log RMSE {fit.rmse_log:.4f}" in message
    for index in ("arrests", "leads_to_police", "production_sites_closed"):
        assert f"\n{index} " in message
    assert "the ridge: best fit at each detection_max (case_value_billion_yuan)" in message
    assert f"posterior (64 draws, seed {config.seed}, sigma 0.1): acceptance" in message
    assert "share of draws with log RMSE within 2x the calibration's" in message


def test_a_run_that_cannot_fit_in_memory_is_refused_before_any_work(write_config, monkeypatch):
    path = write_config(**{"n_consumers = 20000": "n_consumers = 900000000"})
    monkeypatch.setattr("sim.resources.available_memory", lambda: 24 * 2**30)
    with pytest.raises(ValueError, match=r"panel.n_consumers = 900,000,000: the run would need"):
        jobs.run(path, progress=False)
    config = load_config(path)
    assert not config.output.directory.exists()  # refused before the directory was claimed
    small = write_config("small.toml", **TINY)
    with pytest.raises(ValueError, match=r"panel.n_consumers = 900,000,000"):
        jobs.simulate(small, config.output.directory.parent / "p.parquet", n_consumers=9 * 10**8)
