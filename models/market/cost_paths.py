"""The platform's costs week by week under an enforcement intensity: ``cost_paths``.

The one place where a market path becomes money. Given the counterfeit-seller market
(:class:`~models.market.enforcement.Market`), the platform's side
(:class:`~models.market.platform.Platform`), a per-yuan spend response path and an intensity,
it returns the market by week and the present value at week 0 of each channel's cost by week:

* ``victims``: the revenue the victims (and their contacts) stop spending, churn included
  (:meth:`~models.market.platform.Platform.losses`, an accrual by the fake's week);
* ``reputation``: every consumer's spend falls by ``reputation_loss`` per suspected fake per
  10,000 orders, times the take rate;
* ``fake_orders``: brand-owner and legal costs per counterfeit order, and legal cost per active
  counterfeit store;
* ``fake_take``: minus the take the platform earns on counterfeit sales (an offset);

plus the enforcement programme's cost and, for each channel, a **terminal value**: the cost of
the counterfeit stores still open at the horizon, which keep selling until they leave or are
closed at the intensity's detection rate (new entry and enforcement after the horizon are not
counted). Without it a short horizon favours stopping: a stock that rebuilds slowly after
enforcement stops would count only while it is still small.

With ``noise`` the counts and values of fake orders and the market's entry shocks are drawn
(the Monte Carlo of :mod:`models.market.loss_draws`); without it the function returns expected
values given the parameters. :func:`expected_totals` gives the same expected totals in closed
form, without the weekly loop: the market without shocks approaches its steady state
geometrically, N_t = N* + (N_0 - N*) rho**t, and every channel's weekly cost is a constant per
store times N_t, so the horizon's present value is a sum of two geometric series (the decision
analysis, :mod:`sim.sensitivity` and :mod:`sim.breakeven`, evaluates tens of thousands of
parameter sets this way). Every operation is elementwise over the leading axes, so a sample's
numbers do not depend on how many are computed together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from models.market.enforcement import Market
from models.market.platform import Platform

CHANNELS = ("victims", "reputation", "fake_orders", "fake_take")
"""The channels of the platform's loss from counterfeits, in the order of the outputs."""

PER_10K = 1e4
"""Fake shares are per 10,000 orders."""


class Noise(NamedTuple):
    """Standard normals by week that make a Monte-Carlo draw.

    Attributes
    ----------
    entry : ndarray, shape (..., n_weeks)
        The market's entry shocks (:meth:`Market.simulate`; leading axes broadcast with the
        market's fields, without the intensities' axis).
    count, value : ndarray, shape (..., n_weeks)
        The count of fake orders and their total value (normal approximations to a Poisson
        count and to a sum of that many values), broadcasting with the outputs.
    """

    entry: np.ndarray
    count: np.ndarray
    value: np.ndarray


class CostPaths(NamedTuple):
    """The market and the platform's costs by week (arrays of shape (..., n_weeks)).

    Attributes
    ----------
    stores, fake_share, fake_orders, fake_sales
        Active counterfeit stores, suspected fakes per 10,000 orders, counterfeit orders and
        their yuan a week.
    lost_spend
        Consumer spend lost each week (victims, contacts, churned victims and the
        market-wide reputation loss), undiscounted yuan.
    costs
        By channel (:data:`CHANNELS`): present value at week 0 of each week's cost.
    terminal
        By channel: present value at week 0 of the cost of the stores left at the horizon,
        shape (...).
    enforcement
        Present value at week 0 of each week's enforcement spending.
    """

    stores: np.ndarray
    fake_share: np.ndarray
    fake_orders: np.ndarray
    fake_sales: np.ndarray
    lost_spend: np.ndarray
    costs: dict[str, np.ndarray]
    terminal: dict[str, np.ndarray]
    enforcement: np.ndarray

    @property
    def goodwill_loss(self) -> np.ndarray:
        """The platform's loss from counterfeits by week: the channels' sum (present value)."""
        loss = self.costs[CHANNELS[0]].copy()
        for channel in CHANNELS[1:]:
            loss += self.costs[channel]
        return loss

    @property
    def terminal_value(self) -> np.ndarray:
        """The channels' terminal values summed, shape (...)."""
        return sum(self.terminal[channel] for channel in CHANNELS)

    def total_cost(self) -> np.ndarray:
        """Goodwill loss and enforcement over the horizon plus the terminal value, shape (...)."""
        return (self.goodwill_loss + self.enforcement).sum(axis=-1) + self.terminal_value


def cost_paths(
    market: Market,
    platform: Platform,
    path: np.ndarray,
    intensity: np.ndarray,
    start: np.ndarray,
    n_weeks: int,
    weekly_programme_cost: float | np.ndarray,
    noise: Noise | None = None,
) -> CostPaths:
    """The market and the platform's costs by week, and the terminal value at the horizon.

    Parameters
    ----------
    market : Market
        The market; fields broadcast with ``intensity`` and ``start``.
    platform : Platform
        The platform's parameters; fields broadcast like the market's.
    path : ndarray, shape (..., horizon)
        Per-yuan spend response by event week (signed), leading axes like the fields'.
    intensity : ndarray
        Enforcement intensity from week 0 on; its last axis is the intensities'.
    start : ndarray
        Intensity before week 0 (the market opens in its steady state).
    n_weeks : int
        Weeks projected (the horizon).
    weekly_programme_cost : float or ndarray
        Yuan a week that intensity 1 costs.
    noise : Noise, optional
        Standard normals of a Monte-Carlo draw; without them, expected values.

    Returns
    -------
    CostPaths
    """
    if noise is None:
        market = replace(market, entry_shock_sd=np.zeros_like(market.entry_shock_sd))
        entry = np.zeros(n_weeks)
    else:
        entry = noise.entry
    state = market.simulate(intensity, start, entry)
    weekly = _WeeklyFields(platform)
    expected = weekly.orders_per_week * state.fake_share / PER_10K
    if noise is None:
        fakes = expected
        sales = fakes * weekly.fake_value_mean
    else:
        value_sd = weekly.fake_value_cv * weekly.fake_value_mean
        fakes = np.maximum(expected + np.sqrt(expected) * noise.count, 0.0)
        sales = np.maximum(
            fakes * weekly.fake_value_mean + np.sqrt(fakes) * value_sd * noise.value, 0.0
        )
    lost, victims = platform.losses(sales, fakes, path)
    discount = platform.discount(n_weeks)
    reputation_spend = weekly.reputation_loss * state.fake_share * weekly.gmv_per_week
    per_fake = weekly.brand_cost_per_fake + weekly.legal_cost_per_fake
    costs = {
        "victims": victims,
        "reputation": discount * weekly.take_rate * reputation_spend,
        "fake_orders": discount * (per_fake * fakes + weekly.legal_cost_per_store * state.stores),
        "fake_take": -discount * weekly.fake_take_rate * sales,
    }
    enforcement = discount * (np.asarray(intensity) * weekly_programme_cost)[..., None]
    # the stores open at the horizon: N_T = (1 - delta - h) N_{T-1} + E (expected entry)
    stay = 1.0 - market.exit_rate - market.detection(np.asarray(intensity, dtype=float))
    left = stay * state.stores[..., -1] + market.entry(np.asarray(intensity, dtype=float))
    per_store = _per_store_week(market, platform, path)
    return CostPaths(
        stores=state.stores,
        fake_share=state.fake_share,
        fake_orders=fakes,
        fake_sales=sales,
        lost_spend=lost + reputation_spend,
        costs=costs,
        terminal=_terminal(per_store, left, stay, platform, n_weeks),
        enforcement=np.broadcast_to(enforcement, fakes.shape),
    )


class _WeeklyFields:
    """The platform's fields with an axis for the weeks, to multiply arrays by week."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def __getattr__(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self.platform, name))[..., None]


class CostTotals(NamedTuple):
    """Expected present values at week 0, shape (...): each channel over the horizon
    (``costs``), each channel's terminal value (``terminal``) and the enforcement spending."""

    costs: dict[str, np.ndarray]
    terminal: dict[str, np.ndarray]
    enforcement: np.ndarray

    def total_cost(self) -> np.ndarray:
        """Goodwill loss and enforcement over the horizon plus the terminal value."""
        total = np.array(self.enforcement, dtype=float)
        for channel in CHANNELS:
            total = total + self.costs[channel] + self.terminal[channel]
        return total


def expected_totals(
    market: Market,
    platform: Platform,
    path: np.ndarray,
    intensity: np.ndarray,
    start: np.ndarray,
    n_weeks: int,
    weekly_programme_cost: float | np.ndarray,
) -> CostTotals:
    """The expected totals of :func:`cost_paths` without noise, in closed form.

    Same parameters and broadcasting as :func:`cost_paths` (without ``noise``); the results
    agree with summing its expected weekly costs to rounding, at a cost independent of the
    horizon.
    """
    intensity = np.asarray(intensity, dtype=float)
    stay = 1.0 - market.exit_rate - market.detection(intensity)
    steady = market.steady_stores(intensity)
    opening = market.steady_stores(np.asarray(start, dtype=float))
    beta = platform.weekly_discount
    store_weeks = steady * _geometric(beta, n_weeks) + (opening - steady) * _geometric(
        beta * stay, n_weeks
    )
    left = steady + (opening - steady) * stay**n_weeks
    per_store = _per_store_week(market, platform, path)
    enforcement = intensity * weekly_programme_cost * _geometric(beta, n_weeks)
    return CostTotals(
        costs={channel: store_weeks * per_store[channel] for channel in CHANNELS},
        terminal=_terminal(per_store, left, stay, platform, n_weeks),
        enforcement=np.broadcast_to(enforcement, np.shape(store_weeks)),
    )


def _geometric(ratio: np.ndarray, n: int) -> np.ndarray:
    """sum_{t < n} ratio**t (n where the ratio is one)."""
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ratio == 1.0, float(n), (1.0 - ratio**n) / (1.0 - ratio))


def _per_store_week(market: Market, platform: Platform, path: np.ndarray) -> dict[str, np.ndarray]:
    """Each channel's expected cost of one counterfeit store's week, present value at that
    week: its orders (a fixed share of the platform's per store), their values and costs."""
    share_per_store = np.asarray(market.fake_share_2016) / market.stores_2016
    fakes = platform.orders_per_week * share_per_store / PER_10K
    per_fake_victims = platform.fake_value_mean * platform.revenue_loss_per_yuan(
        path
    ) + platform.victim_tail(path.shape[-1])
    return {
        "victims": fakes * per_fake_victims,
        "reputation": np.asarray(platform.take_rate)
        * platform.reputation_loss
        * share_per_store
        * platform.gmv_per_week,
        "fake_orders": fakes
        * (np.asarray(platform.brand_cost_per_fake) + platform.legal_cost_per_fake)
        + platform.legal_cost_per_store,
        "fake_take": -fakes * platform.fake_take_rate * platform.fake_value_mean,
    }


def _terminal(
    per_store: dict[str, np.ndarray],
    left: np.ndarray,
    stay: np.ndarray,
    platform: Platform,
    n_weeks: int,
) -> dict[str, np.ndarray]:
    """Present value at week 0 of each channel's cost of the stores open at the horizon.

    The stock left at the horizon, N_T, shrinks by the factor rho = 1 - delta - h (``stay``)
    a week; a store-week costs c (``per_store``: expected orders, values and costs per store);
    so the stock's cost is beta**T N_T c / (1 - beta rho).
    """
    beta = platform.weekly_discount
    scale = beta**n_weeks * left / (1.0 - beta * stay)
    return {channel: scale * per_store[channel] for channel in CHANNELS}
