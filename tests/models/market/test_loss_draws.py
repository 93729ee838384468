"""One draw of the goodwill-loss Monte Carlo (models.market.loss_draws, run through
sim.project_goodwill): its own stream, the market model and the platform's loss, and prior
draws truncated to the market's valid ranges."""

from __future__ import annotations

import numpy as np

from models.streams import Stream, block_generator
from sim.projection import project_goodwill
from tests.conftest import HORIZON, PATH, config_with, response


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
