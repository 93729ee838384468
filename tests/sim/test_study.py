"""The estimator study's plan and simulation (sim.study): what a replication stores equals an
independent fit of the same panel, and the result does not depend on blocks, executor or an
interruption."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models import CallawaySantAnna, EventStudy, ImputationDiD
from sim.study import plan_study, simulate_study
from sim.study_diagnosis import diagnose
from tests.sim.study_helpers import study_config


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return study_config(tmp_path_factory.mktemp("study") / "out")


@pytest.fixture(scope="module")
def study(config):
    return simulate_study(config, version="test")


def test_plan_covers_every_replication_once_with_shared_seeds(config):
    plan = plan_study(config)
    cells = [
        (scenario, replication)
        for block in range(plan.n_blocks)
        for scenario, replications in [plan.block(block)]
        for replication in replications
    ]
    assert sorted(cells) == [(s, r) for s in range(2) for r in range(3)]
    assert plan.replication_seed(1).spawn_key == (1,)
    assert plan.replication_seed(1).entropy == config.seed
    assert plan.models[1].churn.probability == 0.0
    assert plan.models[0] == config.consumer


def test_plan_fingerprint_changes_with_any_input(config):
    plan = plan_study(config)
    other = config.model_copy(update={"seed": 6})
    assert plan.fingerprint("v") == plan_study(config).fingerprint("v")
    assert plan.fingerprint("v") != plan_study(other).fingerprint("v")
    assert plan.fingerprint("v") != plan.fingerprint("w")


def test_dataset_layout(study):
    assert dict(study.sizes) == {
        "scenario": 2,
        "replication": 3,
        "estimator": 4,
        "estimand": 2,
        "panel": 2,
        "event_time": 27,
    }
    assert study["panel"].values.tolist() == ["observed", "placebo"]
    assert study["registered"].values.tolist() == study["estimator"].values.tolist()
    assert study.attrs["alpha"] == 0.05
    assert not study["failed"].any()
    # imputation has no leads to test; every other fit has a pre-trend test
    tested = (
        study["pretrend_pvalue"].notnull().all(["scenario", "replication", "estimand", "panel"])
    )
    assert tested.values.tolist() == [True, True, True, False]


def _panel(config, replication):
    plan = plan_study(config)
    return plan.models[0].simulate(
        n_consumers=1500, n_weeks=14, seed=plan.replication_seed(replication)
    )


@pytest.mark.parametrize("replication", [0, 2])
def test_replication_equals_an_independent_fit_of_the_same_panel(config, study, replication):
    panel, _ = _panel(config, replication)
    columns = dict(outcome="spend", unit="consumer_id", time="week", cohort="fake_week")
    one = study.sel(scenario="default", replication=replication)
    with pytest.warns(UserWarning):  # always-treated cohorts, non-imputable rows
        twfe = EventStudy(panel, **columns, intensity="fake_value", window=(-3, 6)).fit()
        cs = CallawaySantAnna(panel, **columns, intensity="fake_value").fit()
        placebo = panel.assign(spend=panel["spend_cf"])
        imputation = ImputationDiD(placebo, **columns, intensity="fake_value").fit()
    cell = one.sel(estimator="twfe", estimand="intensity", panel="observed")
    assert float(cell["cumulative_estimate"]) == pytest.approx(
        twfe.cumulative(0, 3).estimate, 1e-12
    )
    assert float(cell["cumulative_se"]) == pytest.approx(twfe.cumulative(0, 3).se, 1e-12)
    assert float(cell["pretrend_pvalue"]) == pytest.approx(twfe.pretrend_test().pvalue, 1e-12)
    effects = twfe.event_time_effects()
    np.testing.assert_allclose(
        cell["ci_low"].sel(event_time=effects.index).values, effects["ci_low"], rtol=1e-12
    )
    dynamic = cs.aggregate("dynamic")
    cell = one.sel(estimator="callaway_santanna", estimand="intensity", panel="observed")
    assert float(cell["cumulative_estimate"]) == pytest.approx(dynamic.cumulative(0, 3)[0], 1e-12)
    # the placebo is the same panel with the counterfactual outcome
    cell = one.sel(estimator="imputation", estimand="intensity", panel="placebo")
    assert float(cell["cumulative_estimate"]) == pytest.approx(
        imputation.cumulative(0, 3).estimate, 1e-12
    )
    assert float(cell["cumulative_se"]) == pytest.approx(imputation.cumulative(0, 3).se, 1e-12)


def test_truth_is_the_panels_own_over_the_victims_with_an_untreated_week(config, study):
    """Each event time's truth: the expected effects of the victims first cheated after week 1
    (who have an untreated week to compare with), weighted as the estimand says."""
    _, truth = _panel(config, 1)
    victims = truth.victims
    kept = (victims["fake_week"] > 1).to_numpy()
    assert 0 < kept.sum() < kept.size  # some victims of week 1 are left out
    value = victims["fake_value"].to_numpy()[kept]
    expected = truth.expected[kept]
    for estimand, weight in (("intensity", value), ("value", np.ones_like(value))):
        observed = ~np.isnan(expected)
        post = (weight @ np.nan_to_num(expected)) / (observed.T @ (weight * value))
        stored = study["truth"].sel(scenario="default", replication=1, estimand=estimand)
        np.testing.assert_allclose(stored.sel(event_time=np.arange(13)).values, post[:13], 1e-12)
        assert (stored.sel(event_time=slice(-12, -1)) == 0).all()
        assert float(
            study["truth_cumulative"].sel(scenario="default", replication=1, estimand=estimand)
        ) == pytest.approx(post[:4].sum(), 1e-12)


def test_effective_treated_from_the_doses(config, study):
    panel, _ = _panel(config, 0)
    dose = panel.drop_duplicates("consumer_id").dropna(subset="fake_week")["fake_value"]
    squared = dose.to_numpy() ** 2
    one = study.sel(scenario="default", replication=0)
    assert float(one["treated_units"]) == dose.size
    assert float(one["effective_treated"]) == pytest.approx(
        squared.sum() ** 2 / (squared**2).sum(), 1e-12
    )
    assert float(one["top_dose_share"]) == pytest.approx(squared.max() / squared.sum(), 1e-12)


def _assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Bit-identical data, coordinates and attributes, but for the config the attrs store
    (its block size, executor or output directory may differ)."""
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert {k: v for k, v in a.attrs.items() if k != "config"} == {
        k: v for k, v in b.attrs.items() if k != "config"
    }


def test_same_result_whatever_the_block_size(tmp_path, study):
    other = simulate_study(study_config(tmp_path, block_size=1), version="test")
    _assert_same_results(other, study)


def test_diagnose_saved_equals_diagnose_fresh(tmp_path, study):
    study.to_netcdf(tmp_path / "study.nc")
    saved = xr.load_dataset(tmp_path / "study.nc")
    fresh, again = diagnose(study), diagnose(saved)
    assert fresh.equals(again)


def test_checkpoint_resume_equals_an_uninterrupted_study(tmp_path, study):
    checkpoint = tmp_path / "checkpoint"
    config = study_config(tmp_path)
    first = simulate_study(config, checkpoint=checkpoint, version="test")
    blocks = sorted(checkpoint.glob("block-*.npz"))
    assert len(blocks) == plan_study(config).n_blocks
    for path in blocks[1::2]:  # as if killed with half the blocks done
        path.unlink()
    resumed = simulate_study(config, checkpoint=checkpoint, version="test")
    _assert_same_results(resumed, study)
    _assert_same_results(first, study)


def test_a_failing_fit_is_recorded_not_raised(tmp_path):
    scenarios = {
        "default": {"description": "the default model"},
        "no_fakes": {
            "description": "nobody buys a fake",
            "consumer": {"exposure": {"fake_rate": 0.0}},
        },
    }
    config = study_config(tmp_path, replications=2, scenarios=scenarios, estimators=["twfe"])
    study = simulate_study(config, version="test")
    assert study["failed"].sel(scenario="no_fakes").all()
    assert not study["failed"].sel(scenario="default").any()
    assert study["cumulative_estimate"].sel(scenario="no_fakes").isnull().all()
    assert "no_fakes" in study.attrs["failures"]
    table = diagnose(study)
    assert set(table["scenario"]) == {"default"}


def test_serial_and_dask_identical(tmp_path, study):
    pytest.importorskip("dask.distributed")
    config = study_config(tmp_path, executor="dask", n_workers=2)
    _assert_same_results(simulate_study(config, version="test"), study)
