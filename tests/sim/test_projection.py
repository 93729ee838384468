"""The goodwill-loss Monte Carlo engine: reproducibility, executors, checkpoints, outputs."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from models import ResponsePath
from models.market.platform import damages
from models.streams import Stream, block_generator
from sim import load_config, run
from sim.cli import main
from sim.config import ProjectionSettings
from sim.costs import optimal_intensity, projection_summary
from sim.projection import project_goodwill
from sim.rundir import RunDirectory, read_response_path
from tests.conftest import ROOT, TINY

HORIZON = 12
PATH = -3.57 * 0.85 ** np.arange(HORIZON) / (0.85 ** np.arange(HORIZON)).sum()
"""The study's multiplier spread over 12 weeks with a 15% weekly decay."""


def response(scale: float = 1.0, se: float = 0.04) -> ResponsePath:
    return ResponsePath(scale * PATH, np.eye(HORIZON) * se**2)


def config_with(**projection):
    """configs/quick.toml with its [projection] replaced by small settings."""
    config = load_config(ROOT / "configs" / "quick.toml")
    settings = {
        "intensities": [0.0, 0.5, 1.0, 2.5],
        "n_draws": 30,
        "n_weeks": 26,
        "block_size": 7,
        "priors": {"entry_elasticity": 0.25, "detection_max": 0.25, "exit_rate": 0.3},
        "market": config.projection.market,
        "platform": config.projection.platform,
    }
    settings.update(projection)
    return config.model_copy(update={"projection": ProjectionSettings(**settings)})


def assert_identical(a: xr.Dataset, b: xr.Dataset, same_config: bool = True) -> None:
    """Bit-identical data, coordinates and attrs (but the config's execution settings, with
    ``same_config=False``)."""
    if not same_config:
        a, b = a.copy(), b.copy()
        a.attrs.pop("config"), b.attrs.pop("config")
    assert a.identical(b)
    for name in a.data_vars:
        assert np.array_equal(a[name].to_numpy(), b[name].to_numpy(), equal_nan=True), name


def test_results_do_not_depend_on_block_size():
    reference = project_goodwill(config_with(block_size=30), response())
    for block_size in (1, 7, 11):
        assert_identical(
            project_goodwill(config_with(block_size=block_size), response()),
            reference,
            same_config=False,
        )


def test_dask_local_cluster_is_bit_identical_to_serial():
    pytest.importorskip("dask.distributed")
    serial = project_goodwill(config_with(), response())
    distributed = project_goodwill(config_with(executor="dask", n_workers=2), response())
    assert_identical(distributed, serial, same_config=False)


def test_a_draw_uses_its_own_stream_and_the_market_model():
    """Recompute draw 3 by hand from its stream: the entry shocks drive the market path."""
    config = config_with(priors={})
    ds = project_goodwill(config, response(se=0.0))
    settings = config.projection
    normals = block_generator(config.seed, 3, Stream.PROJECTION).standard_normal(
        HORIZON + 3 * settings.n_weeks
    )
    entry = normals[HORIZON : HORIZON + settings.n_weeks]
    path = settings.market.market().simulate(
        np.asarray(settings.intensities), settings.status_quo, entry
    )
    np.testing.assert_allclose(ds["fake_share"].sel(draw=3).to_numpy(), path.fake_share, rtol=1e-12)
    np.testing.assert_allclose(ds["response_path"].sel(draw=3), PATH, rtol=1e-12)


def test_status_quo_without_noise_stays_at_the_2016_fake_share():
    config = config_with(priors={})
    market = config.projection.market.model_copy(update={"entry_shock_sd": 0.0})
    config = config_with(priors={}, market=market)
    share = project_goodwill(config, response())["fake_share"].sel(intensity=1.0)
    np.testing.assert_allclose(share, market.fake_share_2016, rtol=1e-12)


def test_zero_response_and_no_churn_lose_nothing():
    platform = config_with().projection.platform.model_copy(update={"churn_probability": 0.0})
    ds = project_goodwill(config_with(platform=platform), response(scale=0.0, se=0.0))
    assert not ds["goodwill_loss"].any() and not ds["lost_spend"].any()
    np.testing.assert_allclose(
        ds["total_cost"], ds["enforcement_cost"].broadcast_like(ds["total_cost"])
    )


def test_loss_scales_linearly_with_the_response_path():
    platform = config_with().projection.platform.model_copy(update={"churn_probability": 0.0})
    config = config_with(platform=platform)
    one = project_goodwill(config, response(scale=1.0, se=0.0))
    two = project_goodwill(config, response(scale=2.0, se=0.0))
    for name in ("goodwill_loss", "lost_spend"):
        np.testing.assert_allclose(two[name], 2 * one[name], rtol=1e-12)
    np.testing.assert_array_equal(two["fake_sales"], one["fake_sales"])


def test_stronger_enforcement_lowers_the_fake_share_and_the_loss():
    ds = project_goodwill(config_with(), response())
    share = ds["fake_share"].isel(week=-1).mean("draw").to_numpy()
    loss = ds["goodwill_loss"].sum("week").mean("draw").to_numpy()
    assert np.all(np.diff(share) < 0) and np.all(np.diff(loss) < 0)
    # enforcement costs the programme's budget, discounted week by week
    platform = config_with().projection.platform
    weeks = np.arange(26)
    expected = 2.5 * 1e9 / 52 * platform.weekly_discount**weeks
    np.testing.assert_allclose(ds["enforcement_cost"].sel(intensity=2.5), expected, rtol=1e-12)


def test_summary_and_optimum_follow_from_the_draws():
    ds = project_goodwill(config_with(), response())
    total = ds["goodwill_loss"].sum("week") + ds["enforcement_cost"].sum("week")
    np.testing.assert_allclose(ds["total_cost"].sum("week"), total, rtol=1e-12)
    table = projection_summary(ds)
    cost = total.to_numpy()  # (intensity, draw)
    np.testing.assert_allclose(table["total_cost_mean"], cost.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(table["total_cost_q5"], np.quantile(cost, 0.05, axis=1))
    np.testing.assert_allclose(table["total_cost_q95"], np.quantile(cost, 0.95, axis=1))
    intensities = ds["intensity"].to_numpy()
    per_draw = intensities[cost.argmin(axis=0)]
    np.testing.assert_array_equal(ds["optimal_intensity"], per_draw)
    assert table["optimal_share"].sum() == pytest.approx(1.0)
    best = optimal_intensity(ds)
    assert best["intensity"] == intensities[cost.mean(axis=1).argmin()]
    assert best["draws_median"] == np.quantile(per_draw, 0.5)


def test_dataset_has_named_dims_units_and_provenance(tmp_path):
    config = config_with()
    ds = project_goodwill(config, response(), version="9.9")
    for name in ("fake_share", "fake_purchases", "lost_spend", "goodwill_loss", "total_cost"):
        assert ds[name].dims == ("intensity", "draw", "week")
        assert ds[name].attrs["units"]
    assert ds["enforcement_cost"].dims == ("intensity", "week")
    assert ds.attrs["seed"] == config.seed and ds.attrs["goodwill_version"] == "9.9"
    assert '"projection"' in ds.attrs["config"]
    directory = RunDirectory(tmp_path)
    directory.write("projection.nc", ds)
    assert [f.name for f in directory.written] == ["projection.nc"]
    with xr.open_dataset(tmp_path / "projection.nc") as stored:
        assert_identical(stored.load(), ds)


def test_prior_draws_vary_the_market_and_respect_its_ranges():
    config = config_with(
        n_draws=200, block_size=50, priors={"detection_max": 3.0, "detection_2016": 3.0}
    )
    ds = project_goodwill(config, response())
    top, h1 = ds["prior_detection_max"].to_numpy(), ds["prior_detection_2016"].to_numpy()
    market = config.projection.market
    assert np.all(h1 < top) and np.all(top <= 1 - market.exit_rate)
    assert np.all(h1 * market.sanction < market.profit_per_week)
    assert np.isfinite(ds["fake_share"]).all()
    log_sd = np.log(ds["prior_detection_max"]).std()
    assert 1.0 < log_sd < 3.0  # truncated at the top, so below the prior's 3.0


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from models import ResponsePath
    from sim import load_config, run
    from sim.config import ProjectionSettings
    from sim.projection import project_goodwill

    config = load_config(sys.argv[1])
    settings = ProjectionSettings(
        intensities=[0.25 * i for i in range(20)], n_draws=6000, n_weeks=52, block_size=20
    )
    config = config.model_copy(update={"projection": settings})
    path = ResponsePath(np.array(sys.argv[3].split(","), dtype=float), np.eye(12) * 0.0016)
    project_goodwill(config, path, checkpoint=sys.argv[2])
    """
)


def test_a_killed_run_resumes_to_exactly_the_uninterrupted_result(tmp_path, caplog):
    checkpoint = tmp_path / "checkpoint"
    mean = ",".join(repr(float(x)) for x in PATH)
    config_path = ROOT / "configs" / "quick.toml"
    process = subprocess.Popen(
        [sys.executable, "-c", RESUME_SCRIPT, str(config_path), str(checkpoint), mean]
    )
    deadline = time.monotonic() + 120
    while len(list(checkpoint.glob("block-*.npz"))) < 5:
        assert process.poll() is None, "the projection ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(checkpoint.glob("block-*.npz")))
    assert 5 <= finished < 300

    config = load_config(config_path)
    settings = ProjectionSettings(
        intensities=[0.25 * i for i in range(20)], n_draws=6000, n_weeks=52, block_size=20
    )
    config = config.model_copy(update={"projection": settings})
    path = ResponsePath(PATH, np.eye(12) * 0.0016)
    with caplog.at_level(logging.INFO, logger="sim.projection"):
        resumed = project_goodwill(config, path, checkpoint=checkpoint)
    assert f"resumed {finished} of 300 blocks" in caplog.text
    assert_identical(resumed, project_goodwill(config, path))


def test_a_checkpoint_of_other_inputs_is_not_reused(tmp_path, caplog):
    checkpoint = tmp_path / "checkpoint"
    project_goodwill(config_with(), response(), checkpoint=checkpoint)
    with caplog.at_level(logging.INFO, logger="sim.checkpoint"):
        other = project_goodwill(config_with(), response(scale=0.5), checkpoint=checkpoint)
    assert "checkpoint of other inputs, starting afresh" in caplog.text
    assert_identical(other, project_goodwill(config_with(), response(scale=0.5)))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("status_quo = 1.0 ", "status_quo = -1.0", "projection.status_quo: Input should be"),
        (
            "intensities = [0.0, 0.25,",
            "intensities = [-1.0, 0.25,",
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
    assert "estimates.nc: estimates not found; run `goodwill run CONFIG` first" in err
    assert main(["run", str(path)]) == 0
    stored = xr.open_dataset(tmp_path / "run" / "projection.nc").load()
    capsys.readouterr()
    assert main(["project", str(path)]) == 0
    assert "cost-minimising intensity" in capsys.readouterr().out
    with xr.open_dataset(tmp_path / "run" / "projection.nc") as again:
        assert_identical(again.load(), stored)  # the same estimates project the same
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
    fitted = result.estimates["twfe"]
    estimates = tmp_path / "run"
    path = read_response_path(estimates, "twfe", 0, 11)
    np.testing.assert_allclose(path.mean, fitted.event_time_effects().loc[0:11, "estimate"])
    assert path.multiplier == pytest.approx(fitted.cumulative(0, 11)[0], rel=1e-12)
    with pytest.raises(ValueError, match="estimator 'sun_abraham' was not fitted"):
        read_response_path(estimates, "sun_abraham", 0, 11)
    with pytest.raises(ValueError, match="no estimate at event time"):
        read_response_path(estimates, "twfe", 0, 30)
