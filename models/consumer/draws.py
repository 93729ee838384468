"""Random draws of the consumer-spend process that do not depend on the response.

Consumers are grouped in fixed blocks of ``RNG_BLOCK``. Block b draws from the PCG64 stream
``block_generator(seed, b, Stream.CONSUMER)`` (spawn key ``(b, 0)``, see :mod:`models.streams`) in a
fixed order: per-consumer traits, purchase and counterfeit uniforms, counterfeit order values, and
last the baskets of counterfeit-free purchases; word-of-mouth contacts come from the block's
``Stream.CONTACTS`` (``(b, 1)``). A consumer's draws therefore depend neither on the chunk size used
to process the panel nor on the number of consumers, and a pass that needs no baskets (calibration)
can stop before drawing them. The response, churn and spillover settings never change the
counterfactual spend (common random numbers across scenarios).

Two switches draw from streams of their own, and only when they are on, so that a model with
them off draws exactly what it drew before they existed: the Pareto multipliers of counterfeit
values (``exposure.value_tail``, ``Stream.VALUE_TAIL``, ``(b, 5)``) and the observation windows
(``activity``, ``Stream.ACTIVITY``, ``(b, 6)``, see :mod:`models.consumer.window`). Counterfeit
values are drawn for every arrival, inside a consumer's window or not, so the report lag, the
response's cohort slope, the value tail and the windows leave the counterfactual spend
unchanged; a segment trend and exposure that does not scale with purchases change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.consumer.window import draw_windows, window_mask
from models.streams import Seed, Stream, block_generator

if TYPE_CHECKING:
    from models.consumer.spend_process import ConsumerSpendModel

RNG_BLOCK = 1024
"""Consumers per random-number block; part of the definition of a seed's panel."""


def chunk_bounds(n_consumers: int, chunk_size: int) -> list[tuple[int, int]]:
    """Half-open consumer ranges [start, stop) covering 0..n_consumers in chunks.

    ``chunk_size`` is rounded up to a whole number of RNG blocks, since a chunk draws every
    block it touches in full; the panel is the same for any chunk size.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    size = -(-chunk_size // RNG_BLOCK) * RNG_BLOCK
    return [(a, min(a + size, n_consumers)) for a in range(0, n_consumers, size)]


@dataclass(frozen=True)
class ConsumerDraws:
    """Response-free draws of a range of consumers.

    Per-consumer arrays have shape (n,); ``victim_*`` arrays hold one row per consumer with a
    counterfeit purchase (rows ``victims``) and one column per 0-based week.
    """

    segment: np.ndarray  # int8 segment index
    tenure: np.ndarray  # years
    purchase_prob: np.ndarray  # p_i
    fake_rate: np.ndarray  # phi_i, per purchase occasion
    response_multiplier: np.ndarray  # m_i
    churned: np.ndarray  # bool: churns if victimised
    contacts: np.ndarray  # word-of-mouth contacts if victimised
    basket_mean: np.ndarray  # E[basket] before the week's multiplier (yuan)
    fake_first: np.ndarray  # 0-based week of the first counterfeit, -1 if none
    window_start: np.ndarray  # first observed 0-based week
    window_end: np.ndarray  # last observed 0-based week (inclusive)
    victims: np.ndarray  # rows of consumers with fake_first >= 0
    victim_p_cf: np.ndarray  # counterfactual purchase probability
    victim_exposure: np.ndarray  # counterfeit arrival probability per unit of fake_rate
    victim_u_purchase: np.ndarray  # uniforms of purchase occasions (float32)
    victim_u_fake: np.ndarray  # uniforms of counterfeit arrivals (float32)
    victim_fake_value: np.ndarray  # yuan of a counterfeit order where one can arrive, else 0
    week_basket: np.ndarray  # (n_weeks,) calendar basket multiplier b_t

    @property
    def first_fake_value(self) -> np.ndarray:
        """Yuan of each victim's first counterfeit."""
        return self.victim_fake_value[np.arange(self.victims.size), self.fake_first[self.victims]]

    def victim_event_spend(self) -> tuple[np.ndarray, np.ndarray]:
        """Victims' expected counterfactual spend by event week 0..T-1.

        NaN where the victim is not observed: past the panel's end or past its own last
        observed week. Returns the (n_victims, T) array and the matching 0-based calendar
        weeks (clipped to the last week past the panel).
        """
        n_weeks = self.week_basket.size
        weeks = self.fake_first[self.victims, None] + np.arange(n_weeks)
        inside = weeks <= self.window_end[self.victims, None]
        weeks = np.minimum(weeks, n_weeks - 1)
        expected = self.victim_p_cf * self.basket_mean[self.victims, None] * self.week_basket
        spend = np.take_along_axis(expected, weeks, axis=1)
        return np.where(inside, spend, np.nan), weeks


def _draw_block(
    model: ConsumerSpendModel,
    block: int,
    n_weeks: int,
    seed: Seed,
    calendar: tuple[np.ndarray, np.ndarray],
    spend_cf: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Draws of one full block; fills ``spend_cf`` (RNG_BLOCK, n_weeks) when given.

    ``calendar`` holds the weekly multipliers of purchase probability and basket.
    """
    rng = block_generator(seed, block, Stream.CONSUMER)
    n = RNG_BLOCK
    seg = model.segments
    base = model.baseline
    shares = np.cumsum([s.share for s in seg])
    segment = np.minimum(np.searchsorted(shares, rng.random(n), side="right"), len(seg) - 1)
    tenure = rng.gamma(base.tenure_shape, base.tenure_mean / base.tenure_shape, n)
    mean = np.array([s.purchase_prob for s in seg])[segment]
    kappa = base.purchase_concentration
    purchase_prob = rng.beta(mean * kappa, (1.0 - mean) * kappa)
    log_basket = np.log([s.basket_median for s in seg])[segment] + (
        base.basket_consumer_sd * rng.standard_normal(n)
    )
    exposure = model.exposure
    disp = exposure.fake_rate_dispersion
    fake_rate = np.minimum(
        exposure.fake_rate
        * np.array([s.fake_rate_multiplier for s in seg])[segment]
        * np.exp(disp * rng.standard_normal(n) - 0.5 * disp**2),
        1.0,
    )
    resp = model.response
    response_multiplier = (
        np.array([s.response_multiplier for s in seg])[segment]
        * np.exp(resp.dispersion * rng.standard_normal(n) - 0.5 * resp.dispersion**2)
        * np.exp(resp.tenure_slope * (tenure - base.tenure_mean))
    )
    churn_prob = model.churn.probability * np.array([s.churn_multiplier for s in seg])[segment]
    churned = rng.random(n) < churn_prob
    contacts = block_generator(seed, block, Stream.CONTACTS).poisson(model.spillover.contacts, n)
    window_start, window_end = draw_windows(model.activity, seed, block, n, n_weeks)

    week_purchase, week_basket = calendar
    log_week_basket = np.log(week_basket)
    segment_week = _segment_week_purchase(model, week_purchase)
    p_cf = np.minimum(purchase_prob[:, None] * segment_week[segment], 1.0)
    exposure_base = p_cf if exposure.scales_with_purchases else _mean_exposure(model, week_purchase)
    u_purchase = rng.random((n, n_weeks), dtype=np.float32)
    u_fake = rng.random((n, n_weeks), dtype=np.float32)
    arrival = u_fake < fake_rate[:, None] * exposure_base
    observed = (
        arrival
        if model.activity.balanced
        else arrival & window_mask(window_start, window_end, n_weeks)
    )
    fake_first = np.where(observed.any(axis=1), observed.argmax(axis=1), -1)
    victims = np.flatnonzero(fake_first >= 0)
    response_multiplier = response_multiplier * np.exp(
        resp.cohort_slope * np.maximum(fake_first, 0)
    )

    sd = base.basket_week_sd
    rows, cols = np.nonzero(arrival)
    fake_value = np.zeros((n, n_weeks))
    fake_value[rows, cols] = exposure.value_ratio * np.exp(
        log_basket[rows] + log_week_basket[cols] + sd * rng.standard_normal(rows.size)
    )
    if exposure.value_tail is not None:
        fake_value *= _value_multiplier(exposure.value_tail, seed, block, n)[:, None]
    if spend_cf is not None:
        rows, cols = np.nonzero(u_purchase < p_cf)
        spend_cf.fill(0.0)
        spend_cf[rows, cols] = np.exp(
            log_basket[rows] + log_week_basket[cols] + sd * rng.standard_normal(rows.size)
        )
    return {
        "segment": segment.astype(np.int8),
        "tenure": tenure,
        "purchase_prob": purchase_prob,
        "fake_rate": fake_rate,
        "response_multiplier": response_multiplier,
        "churned": churned,
        "contacts": contacts,
        "basket_mean": np.exp(log_basket + 0.5 * sd**2),
        "fake_first": fake_first,
        "window_start": window_start,
        "window_end": window_end,
        "victims": victims,
        "victim_p_cf": p_cf[victims],
        "victim_exposure": np.broadcast_to(exposure_base, p_cf.shape)[victims],
        "victim_u_purchase": u_purchase[victims],
        "victim_u_fake": u_fake[victims],
        "victim_fake_value": fake_value[victims],
    }


def _segment_week_purchase(model: ConsumerSpendModel, week_purchase: np.ndarray) -> np.ndarray:
    """(n_segments, n_weeks) purchase multipliers w_t (1 + g_s)^t of the segment trends g_s."""
    growth = 1.0 + np.array([s.weekly_trend for s in model.segments])
    return week_purchase * growth[:, None] ** np.arange(week_purchase.size, dtype=float)


def _mean_exposure(model: ConsumerSpendModel, week_purchase: np.ndarray) -> np.ndarray:
    """(n_weeks,) arrival base min(1, pbar w_t) when exposure does not scale with purchases."""
    pbar = sum(s.share * s.purchase_prob for s in model.segments)
    return np.minimum(pbar * week_purchase, 1.0)


def _value_multiplier(tail: float, seed: Seed, block: int, n: int) -> np.ndarray:
    """Mean-one Pareto (type I) multipliers of a block's counterfeit values, tail index ``tail``.

    Pareto I with scale (tail - 1) / tail has mean one; numpy's ``pareto`` is Pareto II
    (Lomax), which is Pareto I with scale one, minus one.
    """
    lomax = block_generator(seed, block, Stream.VALUE_TAIL).pareto(tail, n)
    return (tail - 1.0) / tail * (1.0 + lomax)


_PER_CONSUMER = (
    "segment",
    "tenure",
    "purchase_prob",
    "fake_rate",
    "response_multiplier",
    "churned",
    "contacts",
    "basket_mean",
    "fake_first",
    "window_start",
    "window_end",
)
_PER_VICTIM = (
    "victim_p_cf",
    "victim_exposure",
    "victim_u_purchase",
    "victim_u_fake",
    "victim_fake_value",
)


def draw_consumers(
    model: ConsumerSpendModel,
    start: int,
    stop: int,
    n_weeks: int,
    seed: Seed,
    spend_cf: np.ndarray | None = None,
) -> ConsumerDraws:
    """Response-free draws of consumers [start, stop).

    Parameters
    ----------
    model : ConsumerSpendModel
        The process.
    start, stop : int
        Half-open range of consumer indices.
    n_weeks : int
        Panel length in weeks.
    seed : int or numpy.random.SeedSequence
        Root seed of the panel.
    spend_cf : ndarray, shape (stop - start, n_weeks), optional
        Filled with the counterfactual (counterfeit-free) weekly spend when given.
    """
    calendar = model.calendar_effects(n_weeks)
    parts: list[dict[str, np.ndarray]] = []
    scratch = None if spend_cf is None else np.empty((RNG_BLOCK, n_weeks))
    for block in range(start // RNG_BLOCK, (stop - 1) // RNG_BLOCK + 1):
        first = block * RNG_BLOCK
        lo, hi = max(start, first), min(stop, first + RNG_BLOCK)
        inner, outer = slice(lo - first, hi - first), slice(lo - start, hi - start)
        whole = hi - lo == RNG_BLOCK
        target = spend_cf[outer] if whole and spend_cf is not None else scratch
        raw = _draw_block(model, block, n_weeks, seed, calendar, target)
        if scratch is not None and not whole:
            spend_cf[outer] = scratch[inner]
        keep = (raw["victims"] >= inner.start) & (raw["victims"] < inner.stop)
        part = {name: raw[name][inner] for name in _PER_CONSUMER}
        part["victims"] = raw["victims"][keep] - inner.start + outer.start
        part.update({name: raw[name][keep] for name in _PER_VICTIM})
        parts.append(part)
    return ConsumerDraws(
        week_basket=calendar[1],
        **{name: np.concatenate([p[name] for p in parts]) for name in parts[0]},
    )
