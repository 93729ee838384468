"""Config loading: the shipped configs validate and every bad key is named."""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import ConfigError, load_config
from sim.config import Config
from tests.conftest import ROOT


def test_shipped_configs_are_valid():
    baseline = load_config(ROOT / "configs" / "baseline.toml")
    quick = load_config(ROOT / "configs" / "quick.toml")
    assert baseline.panel.n_consumers == 603_000 and baseline.panel.n_weeks == 22
    assert baseline.calibration.target_multiplier == -3.57
    assert quick.consumer == baseline.consumer  # same model, smaller panel
    assert quick.panel.n_consumers < baseline.panel.n_consumers


def test_schema_defaults_are_the_baseline_model():
    """ConsumerSpendModel() is the baseline but for the promotion week (a calendar choice)."""
    baseline = load_config(ROOT / "configs" / "baseline.toml").consumer
    default = Config(seed=1).consumer
    assert default.model_dump(exclude={"calendar"}) == baseline.model_dump(exclude={"calendar"})


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seed = 20170301", "sed = 1",
         r"seed: required key is missing; sed: unknown key \(allowed here: seed, panel, "),
        ("horizon = 12", "horizn = 12",
         r"consumer.response.horizn: unknown key \(allowed here: loss_per_yuan, horizon, decay"),
        ("n_consumers = 20000", 'n_consumers = "many"',
         r"panel.n_consumers: Input should be a valid integer.*got 'many'"),
        ("n_consumers = 20000", "n_consumers = -5",
         r"panel.n_consumers: Input should be greater than or equal to 1, got -5"),
        ("fake_rate = 0.01", "fake_rate = 1.5",
         r"consumer.exposure.fake_rate: Input should be less than or equal to 1, got 1.5"),
        ("share = 0.35", "share = 0.45",
         r"consumer: segments: shares must sum to 1, got 1.1"),
        ("purchase_prob = 0.55", "purchase_prob = 1.2",
         r"consumer.segments\[1\].purchase_prob: Input should be less than 1, got 1.2"),
        ("target_multiplier = -3.57", "target_multiplier = 3.57",
         r"calibration.target_multiplier: Input should be less than 0, got 3.57"),
        ("decay = 0.85", "decay = [0.85]",
         r"consumer.response.decay: Input should be a valid number"),
        ("[consumer.churn]", "[consumer.churn]\nrate = 0.1",
         r"consumer.churn.rate: unknown key \(allowed here: probability\)"),
        ("seed = 20170301", "seed = true", r"seed: Input should be a valid integer, got True"),
        ("max_share = 1.0", "max_share = true",
         r"consumer.response.max_share: Input should be a valid number, got True"),
        ("decay = 0.85", 'decay = "0.85"',
         r"consumer.response.decay: Input should be a valid number, got '0.85'"),
        ("decay = 0.85", "decay = 0.85\npath = [true, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
         r"consumer.response.path\[0\]: Input should be a valid number, got True"),
        ("target_multiplier = -3.57", "target_multiplier = -inf",
         r"calibration.target_multiplier: Input should be a finite number"),
        ("tenure_slope = -0.05", "tenure_slope = nan",
         r"consumer.response.tenure_slope: Input should be a finite number"),
        ("basket_median = 220.0", "basket_median = inf",
         r"consumer.segments\[0\].basket_median: Input should be a finite number"),
        ("save_panel = true", "save_panel = 1",
         r"output.save_panel: Input should be a valid boolean, got 1"),
        ('weighting = "value"', 'weighting = "mean"',
         r"calibration.weighting: Input should be 'value' or 'intensity', got 'mean'"),
        ("n_weeks = 22", "n_weeks = 14",
         r"config: consumer.calendar.promotions\[0\].week = 16 is after the panel's last week "
         r"\(panel.n_weeks = 14\)"),
        ("horizon = 12", "horizon = 30",
         r"config: calibration needs consumer.response.horizon = 30 weeks inside the panel, "
         r"but panel.n_weeks = 22"),
    ],
)  # fmt: skip
def test_bad_values_name_their_key(write_config, old, new, message):
    path = write_config(**{old: new})
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_configs(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def load_config_text(text: str) -> Config:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "c.toml"
        path.write_text(text)
        return load_config(path)


@settings(max_examples=30, deadline=None)
@given(
    key=st.sampled_from(["n_consumers", "n_weeks", "chunk_size"]),
    value=st.integers(-(10**6), 0),
)
def test_non_positive_panel_sizes_are_rejected(key, value):
    with pytest.raises(ConfigError, match=rf"panel.{key}: Input should be greater than or equal"):
        load_config_text(f"seed = 1\n[panel]\n{key} = {value}\n")


def test_a_config_extends_another_table_by_table(tmp_path):
    scenario_path = tmp_path / "scenario.toml"
    scenario_path.write_text(
        f'extends = "{ROOT / "configs" / "quick.toml"}"\n'
        "[projection.platform]\ntake_rate = 1.0\n"
        '[output]\ndirectory = "runs/x"\n'
    )
    scenario = load_config(scenario_path)
    quick = load_config(ROOT / "configs" / "quick.toml")
    expected = quick.projection.platform.model_copy(update={"take_rate": 1.0})
    assert scenario.projection.platform == expected  # the table's other keys are quick's
    assert scenario.projection.market == quick.projection.market
    assert scenario.consumer == quick.consumer and scenario.output.directory == Path("runs/x")


def _flat(table: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs" / "scenarios").glob("*.toml")), ids=lambda p: p.stem
)
def test_each_scenario_changes_only_what_it_names(path):
    """A shipped scenario is its base config with the keys it sets, and nothing else."""
    text = tomllib.loads(path.read_text())
    base = _flat(load_config(path.parent / text.pop("extends")).model_dump())
    scenario = _flat(load_config(path).model_dump())
    changed = {key for key in scenario if scenario[key] != base[key]}
    assert changed == set(_flat(text))


def test_extends_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.toml"
    missing.write_text('extends = "nowhere.toml"\n')
    with pytest.raises(ConfigError, match=r"nowhere\.toml: config file not found"):
        load_config(missing)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="a config cannot extend itself"):
        load_config(loop)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("extends = 3\n")
    with pytest.raises(ConfigError, match="extends = 3: expected the path of a config file"):
        load_config(wrong)
