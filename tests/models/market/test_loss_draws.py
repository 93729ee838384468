"""One draw of the goodwill-loss Monte Carlo (models.market.loss_draws, run through
sim.project_goodwill): its own stream, the market model and the platform's loss, and prior
draws truncated to the market's valid ranges."""

from __future__ import annotations

import numpy as np

from models.market.cost_paths import CHANNELS
from models.market.loss_draws import draw_costs
from models.streams import Stream, block_generator
from sim.market_draws import market_draws
from sim.projection import project_goodwill, projection_inputs
from tests.conftest import HORIZON, PATH, config_with, response


def test_a_draw_uses_its_own_stream_and_the_market_model():
    """Recompute draw 3 by hand from its stream: the entry shocks drive the market path from
    each opening (the status quo's steady state, and no programme's)."""
    config = config_with(priors={}, market_uncertainty={"draws": "prior"})
    settings = config.projection
    inputs = projection_inputs(settings, response(se=0.0), config.seed)
    drawn = draw_costs(inputs, range(3, 4))
    normals = block_generator(config.seed, 3, Stream.PROJECTION).standard_normal(
        HORIZON + 3 * settings.n_weeks
    )
    entry = normals[HORIZON : HORIZON + settings.n_weeks]
    for row, start in enumerate((settings.status_quo, 0.0)):
        path = settings.market.market().simulate(np.asarray(settings.intensities), start, entry)
        np.testing.assert_allclose(drawn.fake_share[0, row], path.fake_share, rtol=1e-12)
    ds = project_goodwill(config, response(se=0.0))
    np.testing.assert_allclose(ds["response_path"].sel(draw=3), PATH, rtol=1e-12)
    # the stored weekly fake share is the mean of the draws'
    every = draw_costs(inputs, range(settings.n_draws))
    np.testing.assert_allclose(ds["fake_share"], every.fake_share.mean(axis=0), rtol=1e-12)
    # and the fan chart's quantiles are those of the draws' cumulative losses
    cumulative = np.quantile(every.goodwill_loss.cumsum(axis=-1), [0.05, 0.5, 0.95], axis=0)
    stored = ds["goodwill_loss_cumulative"].sel(quantile=[0.05, 0.5, 0.95])
    np.testing.assert_allclose(stored, cumulative, rtol=1e-12)


def test_status_quo_without_noise_stays_at_the_2016_fake_share():
    config = config_with(priors={}, market_uncertainty={"draws": "prior"})
    market = config.projection.market.model_copy(update={"entry_shock_sd": 0.0})
    config = config_with(priors={}, market=market, market_uncertainty={"draws": "prior"})
    ds = project_goodwill(config, response())
    share = ds["fake_share"].sel(intensity=1.0, opening="status_quo")
    np.testing.assert_allclose(share, market.fake_share_2016, rtol=1e-12)
    # with no programme before week 0, the market opens at the higher no-enforcement level
    opened = ds["fake_share"].sel(intensity=1.0, opening="no_programme", week=0)
    np.testing.assert_allclose(opened, market.fake_share(0.0), rtol=1e-12)


def test_zero_response_and_no_churn_lose_nothing():
    platform = config_with().projection.platform.model_copy(update={"churn_probability": 0.0})
    ds = project_goodwill(config_with(platform=platform), response(scale=0.0, se=0.0))
    assert not ds["goodwill_loss"].any() and not ds["lost_spend"].any()
    assert not ds["terminal_value"].any()
    enforcement = ds["enforcement_cost"].sum("week").broadcast_like(ds["total_cost"])
    np.testing.assert_allclose(ds["total_cost"], enforcement, rtol=1e-12)


def test_loss_scales_linearly_with_the_response_path():
    platform = config_with().projection.platform.model_copy(update={"churn_probability": 0.0})
    config = config_with(platform=platform)
    one = project_goodwill(config, response(scale=1.0, se=0.0))
    two = project_goodwill(config, response(scale=2.0, se=0.0))
    for name in ("goodwill_loss", "lost_spend", "loss_victims", "terminal_value"):
        np.testing.assert_allclose(two[name], 2 * one[name], rtol=1e-12)
    np.testing.assert_array_equal(two["fake_orders"], one["fake_orders"])


def test_stronger_enforcement_lowers_the_fake_share_and_the_loss():
    ds = project_goodwill(config_with(), response()).sel(opening="status_quo")
    share = ds["fake_share"].isel(week=-1).to_numpy()
    loss = ds["goodwill_loss"].sum("week").to_numpy()
    left = ds["terminal_value"].mean("draw").to_numpy()
    assert np.all(np.diff(share) < 0) and np.all(np.diff(loss) < 0) and np.all(np.diff(left) < 0)
    # enforcement costs the programme's budget, discounted week by week
    platform = config_with().projection.platform
    weeks = np.arange(26)
    expected = 2.5 * 1e9 / 52 * platform.weekly_discount**weeks
    np.testing.assert_allclose(ds["enforcement_cost"].sel(intensity=2.5), expected, rtol=1e-12)


def test_total_cost_is_the_sum_of_its_parts():
    ds = project_goodwill(config_with(), response())
    parts = sum(ds[f"loss_{channel}"] for channel in CHANNELS) + ds["terminal_value"]
    np.testing.assert_allclose(
        ds["goodwill_loss"].sum("week"), (parts - ds["terminal_value"]).mean("draw"), rtol=1e-10
    )
    total = parts + ds["enforcement_cost"].sum("week")
    np.testing.assert_allclose(ds["total_cost"], total, rtol=1e-10)


def test_each_draws_optimum_is_the_minimum_of_a_fine_grid():
    """The continuous optimum of each draw equals the cheapest point of a 0.001 grid (computed
    by projecting the same draws, common random numbers, on that grid) to the grid's step."""
    config = config_with(n_draws=12, block_size=12)
    ds = project_goodwill(config, response())
    fine = np.round(np.arange(0.0, 2.5005, 0.001), 3)
    dense = project_goodwill(
        config_with(n_draws=12, block_size=12, intensities=list(fine)), response()
    )
    cheapest = fine[dense["total_cost"].argmin("intensity").to_numpy()]
    np.testing.assert_allclose(ds["optimal_intensity"], cheapest, atol=1.5e-3)
    np.testing.assert_array_less(
        ds["optimal_cost"] - 1e-9 * np.abs(ds["optimal_cost"]), dense["total_cost"].min("intensity")
    )
    # and the optimum of the mean cost equals the fine grid's
    mean_cheapest = fine[dense["total_cost"].mean("draw").argmin("intensity").to_numpy()]
    np.testing.assert_allclose(ds["mean_optimal_intensity"], mean_cheapest, atol=1.5e-3)


def test_prior_draws_vary_the_market_and_respect_its_ranges():
    config = config_with(
        n_draws=200,
        block_size=50,
        priors={"detection_max": 3.0, "detection_2016": 3.0},
        market_uncertainty={"draws": "prior"},
    )
    ds = project_goodwill(config, response())
    top, h1 = ds["market_detection_max"].to_numpy(), ds["market_detection_2016"].to_numpy()
    market = config.projection.market
    assert np.all(h1 < top) and np.all(top <= 1 - market.exit_rate)
    assert np.all(h1 * market.sanction < market.profit_per_week)
    assert np.isfinite(ds["fake_share"]).all()
    log_sd = np.log(ds["market_detection_max"]).std()
    assert 1.0 < log_sd < 3.0  # truncated at the top, so below the prior's 3.0


def test_posterior_draws_are_the_projections_market_values():
    config = config_with()
    ds = project_goodwill(config, response())
    drawn = market_draws(config.projection, config.projection.n_draws, config.seed)
    assert sorted(drawn) == sorted(
        name.removeprefix("market_") for name in ds.data_vars if name.startswith("market_")
    )
    for name, values in drawn.items():
        np.testing.assert_array_equal(ds[f"market_{name}"], values)
