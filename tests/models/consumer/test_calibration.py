"""Calibration of the response scale to the study's multiplier."""

from __future__ import annotations

import pytest

from models import ConsumerSpendModel
from models.consumer.calibration import calibrate_loss_per_yuan
from sim import simulate_panel
from tests.models.consumer.consumer_helpers import SWITCHES, _switched

STUDY_MULTIPLIER = -3.57  # 3,570 yuan lost over 12 weeks per 1,000-yuan fake


def _with(model: ConsumerSpendModel, group: str, **values) -> ConsumerSpendModel:
    data = model.model_dump()
    data[group] |= values
    return ConsumerSpendModel.model_validate(data)


def test_calibration_hits_the_study_multiplier(baseline_model):
    loss = calibrate_loss_per_yuan(baseline_model, STUDY_MULTIPLIER, 20_000, 22, seed=3)
    _, truth = baseline_model.with_loss_per_yuan(loss).simulate(20_000, 22, seed=3)
    # the issue asks for 1%; the root finder gets to its own tolerance
    assert truth.multiplier == pytest.approx(STUDY_MULTIPLIER, abs=1e-8)
    # churn and the cap make the realised scale differ from the nominal one
    assert loss != pytest.approx(3.57, abs=1e-3)


@pytest.mark.parametrize("weighting", ["value", "intensity"])
@pytest.mark.parametrize("name", list(SWITCHES))
def test_calibration_hits_the_target_under_each_switch(baseline_model, name, weighting):
    """The calibration sees every switch as the simulation does."""
    model = _switched(baseline_model, name)
    loss = calibrate_loss_per_yuan(model, STUDY_MULTIPLIER, 8_000, 22, seed=3, weighting=weighting)
    _, truth = model.with_loss_per_yuan(loss).simulate(8_000, 22, seed=3)
    multiplier = truth.multiplier if weighting == "value" else truth.intensity_multiplier
    assert multiplier == pytest.approx(STUDY_MULTIPLIER, abs=1e-8)


def test_calibration_does_not_depend_on_chunk_size(baseline_model):
    one = calibrate_loss_per_yuan(baseline_model, STUDY_MULTIPLIER, 5_000, 22, seed=3)
    two = calibrate_loss_per_yuan(
        baseline_model, STUDY_MULTIPLIER, 5_000, 22, seed=3, chunk_size=777
    )
    assert one == two


def test_config_calibration_applies_to_its_own_panel(baseline_config):
    _, truth = simulate_panel(baseline_config, n_consumers=10_000, seed=4)
    assert truth.multiplier == pytest.approx(STUDY_MULTIPLIER, abs=1e-8)


def test_unreachable_target_is_explained(baseline_model):
    model = _with(baseline_model, "response", max_share=0.05)
    with pytest.raises(ValueError, match=r"target multiplier -3.57 is out of reach.*saturates"):
        calibrate_loss_per_yuan(model, STUDY_MULTIPLIER, 3_000, 22, seed=1)


def test_target_below_churn_loss_is_explained(baseline_model):
    model = _with(baseline_model, "churn", probability=0.6)
    with pytest.raises(ValueError, match="smaller in size than the loss from churn alone"):
        calibrate_loss_per_yuan(model, -0.01, 3_000, 22, seed=1)


def test_no_victims_is_explained(baseline_model):
    model = _with(baseline_model, "exposure", fake_rate=0.0)
    with pytest.raises(ValueError, match="no counterfeit buyers"):
        calibrate_loss_per_yuan(model, STUDY_MULTIPLIER, 3_000, 22, seed=1)


@pytest.mark.parametrize("n_weeks", [8, 11])
def test_panel_too_short_for_the_horizon_is_explained(baseline_model, n_weeks):
    model = _with(baseline_model, "calendar", promotions=[])
    with pytest.raises(ValueError, match=f"no victim is observed at event week 11 in a "
                                         f"{n_weeks}-week panel"):  # fmt: skip
        calibrate_loss_per_yuan(model, STUDY_MULTIPLIER, 2_000, n_weeks, seed=1)


@pytest.mark.slow
def test_baseline_config_reproduces_the_study(baseline_config):
    """The full 603,000 x 22 baseline: multiplier -3.57 within 1%, and the scale written in
    configs/baseline.toml is the one the calibration finds for this seed and size."""
    panel, truth = simulate_panel(baseline_config)
    assert panel.shape[0] == 603_000 * 22
    assert truth.multiplier == pytest.approx(STUDY_MULTIPLIER, rel=0.01)
    assert truth.realized_multiplier == pytest.approx(STUDY_MULTIPLIER, rel=0.01)
    assert truth.model.response.loss_per_yuan == pytest.approx(
        baseline_config.consumer.response.loss_per_yuan, rel=1e-4
    )
