"""What counterfeit sales cost the platform (models.market.platform): losses and damages
(ResponsePath: test_response.py).

References are written out in each test (np.convolve, explicit loops, closed forms), not
read back from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from models import GoodwillModel, ResponsePath
from models.market.platform import damages
from tests.models.market.market_helpers import random_cov

N_WEEKS, HORIZON = 40, 12
PLATFORM = GoodwillModel(
    take_rate=0.04,
    discount_rate=0.08,
    churn_probability=0.1,
    churned_weekly_spend=120.0,
    churn_return_rate=0.05,
    spillover_contacts=2.0,
    spillover_share=0.3,
)


def inputs(seed: int = 1, n_draws: int = 3, n_weeks: int = N_WEEKS, horizon: int = HORIZON):
    """Random sales, victims and (mostly negative) response paths with a draws axis."""
    rng = np.random.default_rng(seed)
    sales = rng.uniform(0.0, 1_000.0, (n_draws, n_weeks))
    victims = sales / rng.uniform(100.0, 250.0, (n_draws, n_weeks))
    path = rng.normal(-0.3, 0.2, (n_draws, horizon))
    return sales, victims, path


def discount(model: GoodwillModel) -> float:
    return (1 + model.discount_rate) ** (-1 / 52)


def approx(reference: np.ndarray, rel: float):
    """Relative tolerance with a floor at ``rel`` times the largest value (sums of terms of
    both signs can come close to zero)."""
    return pytest.approx(reference, rel=rel, abs=rel * np.abs(reference).max())


# --- losses: the flow ----------------------------------------------------------------------------


def test_lost_spend_is_the_convolution_plus_the_churned_victims_still_away():
    sales, victims, path = inputs()
    model = PLATFORM
    lost, _ = model.losses(sales, victims, path)
    assert lost.shape == sales.shape

    ratio = model.spillover_contacts * model.spillover_share
    stay = 1 - model.churn_return_rate
    expected = np.zeros_like(sales)
    for d in range(sales.shape[0]):
        expected[d] = np.convolve(sales[d], -(1 + ratio) * path[d])[:N_WEEKS]
        for fake_week in range(N_WEEKS):
            churned = model.churn_probability * victims[d, fake_week]
            for week in range(fake_week + HORIZON, N_WEEKS):
                k = week - fake_week
                expected[d, week] += model.churned_weekly_spend * churned * stay ** (k - HORIZON)
    assert lost == approx(expected, rel=1e-12)


def test_lost_spend_with_a_horizon_longer_than_the_window_has_no_churn_tail():
    sales, victims, path = inputs(n_weeks=8, horizon=12)
    lost, _ = PLATFORM.losses(sales, victims, path)
    ratio = PLATFORM.spillover_ratio
    for d in range(sales.shape[0]):
        assert lost[d] == approx(np.convolve(sales[d], -(1 + ratio) * path[d])[:8], rel=1e-12)


def test_goodwill_loss_is_each_weeks_discounted_revenue_loss():
    sales, victims, path = inputs(seed=2)
    model = PLATFORM
    _, accrued = model.losses(sales, victims, path)
    beta = discount(model)
    stay = 1 - model.churn_return_rate
    tail = sum(
        model.churned_weekly_spend * stay ** (k - HORIZON) * beta**k
        for k in range(HORIZON, HORIZON + 3_000)
    )
    per_yuan = -model.take_rate * (1 + model.spillover_ratio) * (path * beta ** np.arange(HORIZON))
    expected = beta ** np.arange(N_WEEKS) * (
        sales * per_yuan.sum(axis=1, keepdims=True)
        + model.take_rate * tail * model.churn_probability * victims
    )
    assert accrued == approx(expected, rel=1e-10)


def test_summed_discounted_flow_equals_summed_accrual():
    """Over a window long enough for every churned victim to come back, the two views of
    the loss agree: sum_w take_rate * beta**w * lost_spend_w = sum_w goodwill_loss_w."""
    sales, victims, path = inputs(seed=3)
    model = PLATFORM
    extra = np.zeros((sales.shape[0], 3_000))  # 0.95 ** 3000 of the churned still away
    lost, _ = model.losses(
        np.concatenate([sales, extra], axis=1), np.concatenate([victims, extra], axis=1), path
    )
    _, accrued = model.losses(sales, victims, path)
    beta = discount(model)
    flow = model.take_rate * (beta ** np.arange(lost.shape[1]) * lost).sum(axis=1)
    assert flow == pytest.approx(accrued.sum(axis=1), rel=1e-6)


def test_zero_response_and_no_churn_lose_nothing():
    sales, victims, path = inputs(seed=4)
    model = PLATFORM.model_copy(update={"churn_probability": 0.0})
    lost, accrued = model.losses(sales, victims, np.zeros_like(path))
    assert np.all(lost == 0.0)
    assert np.all(accrued == 0.0)


def test_loss_is_proportional_to_the_response_without_churn():
    sales, victims, path = inputs(seed=5)
    model = PLATFORM.model_copy(update={"churn_probability": 0.0})
    lost, accrued = model.losses(sales, victims, path)
    lost2, accrued2 = model.losses(sales, victims, 2 * path)
    assert lost2 == approx(2 * lost, rel=1e-12)
    assert accrued2 == approx(2 * accrued, rel=1e-12)


@pytest.mark.parametrize("scale", [-1.7, 0.5, 3.0])
def test_response_part_of_the_loss_is_linear_in_the_path(scale):
    sales, victims, path = inputs(seed=6)
    base = PLATFORM.losses(sales, victims, 0 * path)
    one = PLATFORM.losses(sales, victims, path)
    scaled = PLATFORM.losses(sales, victims, scale * path)
    assert np.any(base[0] != 0)  # churn alone loses spend
    for got, unit, churn in zip(scaled, one, base, strict=True):
        assert got - churn == approx(scale * (unit - churn), rel=1e-12)


def test_spillover_multiplies_the_response_part():
    sales, victims, path = inputs(seed=7)
    alone = PLATFORM.model_copy(update={"spillover_contacts": 0.0})
    told = PLATFORM.model_copy(update={"spillover_contacts": 4.0, "spillover_share": 0.35})
    factor = 1 + 4.0 * 0.35
    assert told.spillover_ratio == pytest.approx(4.0 * 0.35, rel=1e-15)
    churn_alone = alone.losses(sales, victims, 0 * path)
    churn_told = told.losses(sales, victims, 0 * path)
    for part in range(2):  # lost spend, goodwill loss
        assert churn_told[part] == approx(churn_alone[part], rel=1e-12)  # churn: no spillover
        response_alone = alone.losses(sales, victims, path)[part] - churn_alone[part]
        response_told = told.losses(sales, victims, path)[part] - churn_told[part]
        assert response_told == approx(factor * response_alone, rel=1e-12)


def test_losses_broadcast_a_path_over_intensities():
    """The projection's shapes: sales (draws, intensities, weeks), paths (draws, 1, horizon)."""
    sales, victims, path = inputs(seed=8, n_draws=6)
    sales, victims = sales.reshape(2, 3, N_WEEKS), victims.reshape(2, 3, N_WEEKS)
    paths = path[:2, None, :]
    lost, accrued = PLATFORM.losses(sales, victims, paths)
    assert lost.shape == accrued.shape == (2, 3, N_WEEKS)
    for d in range(2):
        for i in range(3):
            one = PLATFORM.losses(sales[d, i], victims[d, i], path[d])
            assert lost[d, i] == approx(one[0], rel=1e-12)
            assert accrued[d, i] == approx(one[1], rel=1e-12)


def test_losses_do_not_depend_on_how_many_draws_are_computed_together():
    sales, victims, path = inputs(seed=9, n_draws=7)
    together = PLATFORM.losses(sales, victims, path)
    for d in range(7):
        alone = PLATFORM.losses(sales[d : d + 1], victims[d : d + 1], path[d : d + 1])
        for got, want in zip(alone, together, strict=True):
            assert np.array_equal(got[0], want[d])


# --- discounting and the churn tail --------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3])
def test_weekly_discount_compounds_to_the_annual_rate(rate):
    model = GoodwillModel(discount_rate=rate)
    assert model.weekly_discount**52 == pytest.approx(1 / (1 + rate), rel=1e-13)


@pytest.mark.parametrize(
    ("horizon", "return_rate", "rate"), [(12, 0.02, 0.05), (0, 0.3, 0.0), (5, 1.0, 0.1)]
)
def test_churn_tail_value_is_the_discounted_spend_after_the_horizon(horizon, return_rate, rate):
    model = GoodwillModel(churn_return_rate=return_rate, discount_rate=rate)
    beta = (1 + rate) ** (-1 / 52)
    brute = sum(
        model.churned_weekly_spend * (1 - return_rate) ** (k - horizon) * beta**k
        for k in range(horizon, horizon + 5_000)  # 0.98 ** 5000 is about 1e-44
    )
    assert model.churn_tail_value(horizon) == pytest.approx(brute, rel=1e-9)


def test_response_weights_are_discounted_revenue_per_yuan():
    model = PLATFORM
    beta = discount(model)
    expected = [model.take_rate * (1 + 2.0 * 0.3) * beta**k for k in range(HORIZON)]
    assert model.response_weights(HORIZON) == pytest.approx(expected, rel=1e-13)


# --- damages -------------------------------------------------------------------------------------


def test_damages_are_the_accrued_loss_of_one_weeks_fakes():
    rng = np.random.default_rng(14)
    response = ResponsePath(rng.normal(-0.3, 0.1, HORIZON), random_cov(rng, HORIZON) * 1e-3)
    y = 25_000.0
    result = damages(PLATFORM, response, y)
    _, accrued = PLATFORM.losses(
        np.array([y]), np.array([y / PLATFORM.fake_value_mean]), response.mean
    )
    assert result.goodwill_loss == pytest.approx(accrued[0], rel=1e-10)


def test_damages_lost_spend_is_the_whole_flow_of_one_weeks_fakes():
    rng = np.random.default_rng(15)
    response = ResponsePath(rng.normal(-0.3, 0.1, HORIZON), np.eye(HORIZON) * 1e-3)
    y, weeks = 25_000.0, 3_000  # 0.95 ** 3000 of the churned still away
    sales = np.zeros(weeks)
    sales[0] = y
    lost, _ = PLATFORM.losses(sales, sales / PLATFORM.fake_value_mean, response.mean)
    assert damages(PLATFORM, response, y).lost_spend == pytest.approx(lost.sum(), rel=1e-9)


def test_damages_standard_error_is_the_paths_sampling_error():
    rng = np.random.default_rng(16)
    response = ResponsePath(rng.normal(-0.3, 0.1, HORIZON), random_cov(rng, HORIZON) * 1e-3)
    y = 10_000.0
    result = damages(PLATFORM, response, y)

    beta = discount(PLATFORM)
    a = PLATFORM.take_rate * (1 + 2.0 * 0.3) * beta ** np.arange(HORIZON) * y
    assert result.se == pytest.approx(np.sqrt(a @ response.cov @ a), rel=1e-12)

    n = 100_000
    paths = response.draw(rng.standard_normal((n, HORIZON)))
    _, accrued = PLATFORM.losses(np.array([y]), np.array([y / PLATFORM.fake_value_mean]), paths)
    # the sample sd of n normal values has a standard error of about sd / sqrt(2 (n - 1))
    assert abs(accrued[:, 0].std(ddof=1) - result.se) < 5 * result.se / np.sqrt(2 * (n - 1))
    assert abs(accrued[:, 0].mean() - result.goodwill_loss) < 5 * result.se / np.sqrt(n)


@pytest.mark.parametrize("interval", [0.5, 0.9, 0.99])
def test_damages_interval_is_normal(interval):
    rng = np.random.default_rng(17)
    response = ResponsePath(rng.normal(-0.3, 0.1, HORIZON), random_cov(rng, HORIZON) * 1e-3)
    result = damages(PLATFORM, response, 5_000.0, interval=interval)
    z = stats.norm.isf((1 - interval) / 2)
    assert result.interval == interval
    assert result.low == pytest.approx(result.goodwill_loss - z * result.se, rel=1e-12)
    assert result.high == pytest.approx(result.goodwill_loss + z * result.se, rel=1e-12)
    covered = stats.norm.cdf(result.high, result.goodwill_loss, result.se) - stats.norm.cdf(
        result.low, result.goodwill_loss, result.se
    )
    assert covered == pytest.approx(interval, rel=1e-10)


def test_damages_without_churn_are_the_multiplier():
    response = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 0.01)
    model = GoodwillModel(churn_probability=0.0, spillover_contacts=4.0, spillover_share=1.0)
    assert damages(model, response, 1_000.0).lost_spend == pytest.approx(5 * 3_570.0, rel=1e-12)
    assert damages(model, response, 0.0) == (0.0, 0.0, 0.0, 0.0, 0.0, 0.9)


@pytest.mark.parametrize("sales", [-1.0, np.nan, np.inf])
def test_damages_need_finite_non_negative_sales(sales):
    response = ResponsePath(np.full(3, -0.1), np.eye(3))
    with pytest.raises(ValueError, match="fake sales must be a finite number of yuan >= 0"):
        damages(GoodwillModel(), response, sales)


@pytest.mark.parametrize("interval", [0.0, 1.0, 1.5, -0.1])
def test_damages_need_an_interval_inside_zero_one(interval):
    response = ResponsePath(np.full(3, -0.1), np.eye(3))
    with pytest.raises(ValueError, match="interval must be between 0 and 1"):
        damages(GoodwillModel(), response, 100.0, interval=interval)
