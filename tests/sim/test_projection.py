"""The goodwill-loss Monte Carlo engine (sim.projection): results independent of the block
size, the dataset's dims, units and provenance, the projection config and commands."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.market.platform import damages
from sim import load_config, run
from sim.cli import main
from sim.projection import project_goodwill
from sim.rundir import RunDirectory, read_response_path
from tests.conftest import TINY, assert_identical, config_with, response


def test_results_do_not_depend_on_block_size():
    reference = project_goodwill(config_with(block_size=30), response())
    for block_size in (1, 7, 11):
        assert_identical(
            project_goodwill(config_with(block_size=block_size), response()),
            reference,
            same_config=False,
        )


def test_dataset_has_named_dims_units_and_provenance(tmp_path):
    config = config_with()
    ds = project_goodwill(config, response(), version="9.9")
    cube = ("opening", "intensity", "draw")
    for name in ("fake_share", "goodwill_loss"):
        assert ds[name].dims == ("opening", "intensity", "week")  # means across draws
    assert ds["goodwill_loss_cumulative"].dims == ("quantile", "opening", "intensity", "week")
    for name in ("total_cost", "terminal_value", "fake_orders", "lost_spend", "loss_victims"):
        assert ds[name].dims == cube
    assert ds["optimal_intensity"].dims == ("opening", "draw")
    assert ds["mean_optimal_intensity"].dims == ("opening",)
    assert list(ds["opening"].values) == ["status_quo", "no_programme"]
    assert list(ds["opening_intensity"].values) == [config.projection.status_quo, 0.0]
    for name in ds.data_vars:
        assert ds[name].attrs.get("units"), name
    assert ds["enforcement_cost"].dims == ("intensity", "week")
    assert ds.attrs["seed"] == config.seed and ds.attrs["goodwill_version"] == "9.9"
    assert '"projection"' in ds.attrs["config"]
    with RunDirectory(tmp_path) as directory:
        directory.write("projection.nc", ds)
    assert [f.name for f in directory.written] == ["projection.nc"]
    with xr.open_dataset(tmp_path / "projection.nc") as stored:
        assert_identical(stored.load(), ds)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("status_quo = 1.0 ", "status_quo = -1.0", "projection.status_quo: Input should be"),
        (
            "intensities = [0.0, 0.05,",
            "intensities = [-1.0, 0.05,",
            "projection: intensities[0] = -1.0: expected a number >= 0",
        ),
        (
            "[projection.priors]\n",
            "[projection.priors]\nlottery = 0.5\n",
            "priors.lottery: not a market parameter",
        ),
        (
            "[projection.priors]\n",
            "[projection.priors]\nprogramme_cost = 0.5\n",
            "priors.programme_cost: not a market parameter",
        ),
        ("n_workers = 2", 'n_workers = 2\nscheduler = "tcp://x:1"', "scheduler is only used"),
        ('estimator = "twfe"', 'estimator = "ols"', "projection.estimator: Input should be"),
        ("take_rate = 0.03", "take_rate = 1.5", "projection.platform.take_rate"),
        ("exit_rate = 0.02 ", "exit_rate = 0.95 ", "detection_max + exit_rate"),
        ("block_size = 50 ", "blocks = 50 ", "projection.blocks: unknown key"),
    ],
)
def test_a_config_error_names_its_key(write_config, capsys, old, new, message):
    path = write_config(**{old: new})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_projection_needs_per_yuan_estimates_of_a_fitted_estimator(write_config, capsys):
    path = write_config(
        **{
            'estimators = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]': (
                'estimators = ["imputation"]'
            )
        }
    )
    assert main(["validate", str(path)]) == 2
    assert "projection.estimator = 'twfe' is not among" in capsys.readouterr().err


def test_project_and_damages_commands_use_the_runs_estimates(write_config, tmp_path, capsys):
    path = write_config(**TINY)
    assert main(["project", str(path)]) == 2  # no run yet
    err = capsys.readouterr().err
    assert "run: no such run directory; run `goodwill run CONFIG` first" in err
    assert main(["run", str(path)]) == 0
    names = ("projection.nc", "breakeven.nc", "sensitivity.nc")
    stored = {name: xr.load_dataset(tmp_path / "run" / name) for name in names}
    capsys.readouterr()
    assert main(["project", str(path)]) == 0
    out = capsys.readouterr().out
    assert "cost-minimising intensity" in out and "Break-even of intensity 1" in out
    for name in names:  # the same estimates project and decide the same
        assert_identical(xr.load_dataset(tmp_path / "run" / name), stored[name])
    assert not (tmp_path / "run" / ".projection-checkpoint").exists()

    assert main(["damages", "--fake-sales", "10000", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    first = read_response_path(tmp_path / "run", "twfe", 0, 11)
    config = load_config(path)
    expected = damages(config.projection.platform, first, 10_000.0)
    assert f"cost the platform {expected.goodwill_loss:,.0f} yuan of goodwill" in out
    assert main(["damages", "--fake-sales", "-5", "--config", str(path)]) == 2


def test_read_response_path_reads_the_fitted_path(write_config, tmp_path):
    only_twfe = {'estimators = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]': (
        'estimators = ["twfe"]')}  # fmt: skip
    result = run(write_config(**TINY, **only_twfe), progress=False)
    estimates = tmp_path / "run"
    for estimand in ("value", "intensity"):
        fitted = result.estimates[estimand]["twfe"]
        path = read_response_path(estimates, "twfe", 0, 11, estimand=estimand)
        np.testing.assert_allclose(path.mean, fitted.event_time_effects().loc[0:11, "estimate"])
        assert path.multiplier == pytest.approx(fitted.cumulative(0, 11)[0], rel=1e-12)
    default = read_response_path(estimates, "twfe", 0, 11)
    assert default.multiplier == pytest.approx(
        result.estimates["value"]["twfe"].cumulative(0, 11)[0], rel=1e-12
    )
    with pytest.raises(ValueError, match="estimator 'sun_abraham' was not fitted"):
        read_response_path(estimates, "sun_abraham", 0, 11)
    with pytest.raises(ValueError, match="no estimate at event time"):
        read_response_path(estimates, "twfe", 0, 30)
