"""``[estimation] nonnegative_outcome``: the simulated (and the user's) outcome is spend, so the
sim layer refuses a negative one by default, in every estimator, and ``goodwill fit
--allow-negative-outcome`` turns the check off (issue 17)."""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from sim import ConfigError, jobs, load_config
from sim.cli import _estimation_overrides, main
from sim.estimation_settings import EstimationSettings
from sim.estimators import ESTIMATORS, PanelColumns

NEGATIVE = r"outcome column 'spend': 1 negative value\(s\) \(e.g. -5.0 in row 17\); expected spend"


@pytest.fixture(scope="module")
def negative_panel() -> pd.DataFrame:
    """A clean panel (no week-1 victims, who have no week before) with one negative spend."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_500, n_weeks=14, seed=5)
    panel = panel[panel["fake_week"] != 1].reset_index(drop=True)
    panel.loc[17, "spend"] = -5.0
    return panel


def test_the_setting_is_a_strict_bool_that_defaults_to_true(write_config):
    assert EstimationSettings().nonnegative_outcome is True
    assert EstimationSettings().columns.as_kwargs()["nonnegative_outcome"] is True
    path = write_config(**{"[estimation]\n": '[estimation]\nnonnegative_outcome = "yes"\n'})
    with pytest.raises(
        ConfigError, match=r"estimation.nonnegative_outcome: Input should be a valid boolean"
    ) as error:
        load_config(path)
    assert "\n" not in str(error.value)
    off = write_config(**{"[estimation]\n": "[estimation]\nnonnegative_outcome = false\n"})
    assert load_config(off).estimation.nonnegative_outcome is False


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_registered_estimator_gets_the_setting(negative_panel, name):
    entry = ESTIMATORS[name]
    columns = EstimationSettings().columns
    with pytest.raises(ValueError, match=f"^{NEGATIVE}"):
        entry.fit(negative_panel, columns, entry.options(), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        allowed = PanelColumns(**{**columns.as_kwargs(), "nonnegative_outcome": False})
        result = entry.fit(negative_panel, allowed, entry.options(), 0)
    assert np.isfinite(result.coefficients).all()


def test_fit_panel_refuses_a_negative_outcome_unless_overridden(negative_panel, tmp_path):
    path = tmp_path / "panel.parquet"
    negative_panel.to_parquet(path)
    with pytest.raises(ValueError, match=f"^{NEGATIVE}"):
        jobs.fit_panel(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = jobs.fit_panel(path, shared={"nonnegative_outcome": False})
    assert "fitted in" in result.message


@pytest.mark.parametrize("allow", [False, True])
def test_the_flag_becomes_the_shared_override(allow):
    """``--allow-negative-outcome`` is ``shared["nonnegative_outcome"] = False`` of fit_panel."""
    options = (
        "outcome",
        "unit",
        "time",
        "cohort",
        "estimators",
        "cumulative",
        "intensity",
        "weights",
    )
    options += ("ref", "vcov", "window", "cluster")
    args = argparse.Namespace(
        **dict.fromkeys(options), no_bin_endpoints=False, allow_negative_outcome=allow
    )
    shared, options_ = _estimation_overrides(args)
    assert shared == ({"nonnegative_outcome": False} if allow else {}) and options_ == {}


def test_goodwill_fit_refuses_a_negative_outcome_unless_allowed(negative_panel, tmp_path, capsys):
    path = tmp_path / "panel.parquet"
    negative_panel.to_parquet(path)
    assert main(["fit", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("goodwill: error: outcome column 'spend': 1 negative value(s)")
    assert "(nonnegative_outcome=True)" in error
    assert main(["fit", str(path), "--allow-negative-outcome"]) == 0
    assert "fitted in" in capsys.readouterr().out
