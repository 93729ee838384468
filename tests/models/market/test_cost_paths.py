"""The platform's costs by channel and the terminal value (models.market.cost_paths), checked
against hand computations and a brute-force long horizon."""

from __future__ import annotations

import numpy as np
import pytest

from models.market.cost_paths import CHANNELS, PER_10K, Noise, cost_paths, expected_totals
from models.market.enforcement import WEEKS_PER_YEAR, EnforcementModel
from models.market.platform import GoodwillModel
from tests.conftest import PATH

MODEL = EnforcementModel()
PLATFORM = GoodwillModel(
    reputation_loss=1e-4,
    brand_cost_per_fake=30.0,
    legal_cost_per_fake=20.0,
    legal_cost_per_store=5.0,
    fake_take_rate=0.03,
)
WEEKLY_COST = MODEL.programme_cost / WEEKS_PER_YEAR


def expected(intensity: float, n_weeks: int, platform: GoodwillModel = PLATFORM, start=1.0):
    return cost_paths(
        MODEL.market(),
        platform.platform(),
        PATH,
        np.array([intensity]),
        np.asarray(start),
        n_weeks,
        WEEKLY_COST,
    )


def test_each_channel_follows_its_definition():
    paths = expected(0.5, 40)
    beta = PLATFORM.weekly_discount ** np.arange(40)
    fakes = PLATFORM.orders_per_week * paths.fake_share / PER_10K
    np.testing.assert_allclose(paths.fake_orders, fakes, rtol=1e-13)
    sales = fakes * PLATFORM.fake_value_mean
    gmv = PLATFORM.orders_per_week * PLATFORM.order_value_mean
    np.testing.assert_allclose(
        paths.costs["reputation"],
        beta * PLATFORM.take_rate * PLATFORM.reputation_loss * paths.fake_share * gmv,
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        paths.costs["fake_orders"], beta * (50.0 * fakes + 5.0 * paths.stores), rtol=1e-13
    )
    np.testing.assert_allclose(paths.costs["fake_take"], -beta * 0.03 * sales, rtol=1e-13)
    _, victims = PLATFORM.losses(sales, fakes, PATH)
    np.testing.assert_allclose(paths.costs["victims"], victims, rtol=1e-13)
    np.testing.assert_allclose(paths.enforcement[0], beta * 0.5 * WEEKLY_COST, rtol=1e-13)


@pytest.mark.parametrize("intensity", [0.0, 0.3, 2.0])
def test_terminal_value_is_the_cost_of_the_stores_left_until_they_close(intensity):
    """Brute force: let the stores open at the horizon sell for 6,000 more weeks, with no new
    entry, and add up each channel's cost week by week."""
    n_weeks, tail = 60, 6_000
    paths = expected(intensity, n_weeks)
    market = MODEL.market()
    stay = 1 - market.exit_rate - market.detection(np.array([intensity]))
    left = stay * paths.stores[..., -1] + market.entry(np.array([intensity]))
    stores = np.concatenate([np.zeros(n_weeks), left * stay ** np.arange(tail)])
    share = market.share(stores)
    fakes = PLATFORM.orders_per_week * share / PER_10K
    sales = fakes * PLATFORM.fake_value_mean
    beta = PLATFORM.weekly_discount ** np.arange(n_weeks + tail)
    gmv = PLATFORM.orders_per_week * PLATFORM.order_value_mean
    brute = {
        "victims": PLATFORM.losses(sales, fakes, PATH)[1].sum(),
        "reputation": (beta * PLATFORM.take_rate * PLATFORM.reputation_loss * share * gmv).sum(),
        "fake_orders": (beta * (50.0 * fakes + 5.0 * stores)).sum(),
        "fake_take": -(beta * 0.03 * sales).sum(),
    }
    for channel in CHANNELS:
        assert paths.terminal[channel][0] == pytest.approx(brute[channel], rel=1e-9), channel


def test_a_longer_horizon_moves_cost_from_the_terminal_value_into_the_weeks():
    """Without entry shocks the total is nearly horizon-free: the terminal value carries what
    the stores left would cost; only new entry after the horizon is left out."""
    short, long = expected(0.0, 52, start=0.0), expected(0.0, 520, start=0.0)
    assert short.terminal_value[0] > long.terminal_value[0] > 0
    covered = short.total_cost()[0] - short.enforcement.sum()
    assert covered < long.total_cost()[0]


def test_expected_values_are_the_mean_of_noisy_draws():
    rng = np.random.default_rng(3)
    n, weeks = 4_000, 30
    market = MODEL.market(stores_closed_2016=np.full((n, 1), MODEL.stores_closed_2016))
    noise = Noise(
        entry=rng.standard_normal((n, weeks)),
        count=rng.standard_normal((n, 1, weeks)),
        value=rng.standard_normal((n, 1, weeks)),
    )
    drawn = cost_paths(
        market,
        PLATFORM.platform(),
        PATH,
        np.array([0.5]),
        np.asarray(1.0),
        weeks,
        WEEKLY_COST,
        noise,
    )
    mean = expected(0.5, weeks)
    total = drawn.total_cost()
    se = total.std() / np.sqrt(n)
    assert abs(total.mean() - mean.total_cost()[0]) < 4 * se


def test_platform_fields_may_vary_by_sample():
    """A sample of platform parameters (fields shaped (n, 1)) gives each sample's costs."""
    rates = np.array([0.03, 0.5, 1.0])
    varied = PLATFORM.platform(take_rate=rates[:, None], brand_cost_per_fake=np.full((3, 1), 9.0))
    intensity, start = np.array([0.0, 1.0]), np.asarray(1.0)
    together = cost_paths(MODEL.market(), varied, PATH, intensity, start, 30, WEEKLY_COST)
    for row, rate in enumerate(rates):
        alone = PLATFORM.model_copy(update={"take_rate": rate, "brand_cost_per_fake": 9.0})
        single = cost_paths(
            MODEL.market(), alone.platform(), PATH, intensity, start, 30, WEEKLY_COST
        )
        np.testing.assert_allclose(together.total_cost()[row], single.total_cost(), rtol=1e-12)


@pytest.mark.parametrize("n_weeks", [1, 52, 520])
def test_expected_totals_in_closed_form_equal_the_weekly_sums(n_weeks):
    intensity, start = np.array([0.0, 0.3, 1.0, 4.0]), np.array([1.0, 0.0])[:, None]
    weekly = cost_paths(MODEL.market(), PLATFORM.platform(), PATH, intensity, start, n_weeks, 7.0)
    closed = expected_totals(
        MODEL.market(), PLATFORM.platform(), PATH, intensity, start, n_weeks, 7.0
    )
    for channel in CHANNELS:
        np.testing.assert_allclose(closed.costs[channel], weekly.costs[channel].sum(-1), rtol=1e-12)
        np.testing.assert_allclose(closed.terminal[channel], weekly.terminal[channel], rtol=1e-12)
    np.testing.assert_allclose(closed.enforcement, weekly.enforcement.sum(-1), rtol=1e-12)
    np.testing.assert_allclose(closed.total_cost(), weekly.total_cost(), rtol=1e-12)
    undiscounted = GoodwillModel(discount_rate=0.0).platform()
    no_discount = expected_totals(
        MODEL.market(), undiscounted, PATH, intensity, start, n_weeks, 7.0
    )
    summed = cost_paths(MODEL.market(), undiscounted, PATH, intensity, start, n_weeks, 7.0)
    np.testing.assert_allclose(no_discount.total_cost(), summed.total_cost(), rtol=1e-12)
