"""ConsumerSpendModel: weekly platform spend with staggered counterfeit purchases.

The process, per consumer i and panel week t (1-based in the panel, 0-based here):

* Baseline. A segment s_i (shares from the segments), an account tenure (Gamma), a weekly
  purchase probability p_i ~ Beta around the segment mean, and a log basket median
  mu_i ~ N(log basket_median_s, basket_consumer_sd^2). Calendar week effects multiply the
  purchase probability (w_t) and the basket (b_t). A purchase occasion happens when
  U_it < p_cf_it = min(1, p_i w_t (1 + g_s)^t), g_s the segment's own weekly trend; its basket
  is exp(mu_i + basket_week_sd Z_it) b_t.
* Exposure. Counterfeit orders arrive, independently of genuine occasions, with probability
  phi_i p_it per week, where phi_i is the consumer's fake rate per purchase occasion (or
  phi_i pbar w_t, pbar the mean purchase probability, when exposure does not scale with
  purchases). The first arrival is the event: its week and ``fake_value`` (value_ratio times
  a basket draw of that week, times the victim's Pareto multiplier with ``value_tail``).
  Later arrivals are repeat fakes, recorded in ``fake_spend``. The panel's cohort
  ``fake_week`` is the week the fake is recorded, ``exposure.report_lag`` weeks after it was
  bought.
* Response. From event week k = 0 the victim's purchase probability is multiplied by
  1 - rho_ik with rho_ik = min(max_share, L m_i h_k v_i / E_it): a loss of L m_i h_k yuan per
  yuan of fake v_i, turned into a share of the week's expected counterfactual spend E_it, so
  spend never goes below zero. L is ``response.loss_per_yuan``, h_k the path weights (sum 1),
  m_i a mean-one lognormal times the segment's response multiplier, a tenure effect and the
  cohort effect exp(cohort_slope (g_i - 1)), g_i the 1-based week of the first fake. A
  victim who churns (probability churn.probability times the segment multiplier) makes no
  purchase from event week 1 on.
* Truth. The same uniforms U_it and baskets give the counterfactual spend without any fake
  (``spend_cf``), so every row's realised effect ``spend - spend_cf`` is known; the expected
  effect given the consumer's draws is -E_it rho_ik. Word-of-mouth spillover acts on contacts
  outside the panel (a 603,000-consumer sample of a platform of hundreds of millions rarely
  holds a victim's contacts) and is kept in the truth only.
* Activity. Consumers who join late or leave early (``activity``) are observed in a
  contiguous window of weeks (``models.consumer.window``); outside it they neither buy nor
  meet fakes, and the panel has no rows.

Randomness is described in ``models.consumer.draws``: the panel is bit-identical for any chunk
size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from models.consumer.draws import ConsumerDraws, chunk_bounds, draw_consumers
from models.consumer.groups import (
    DEFAULT_SEGMENTS,
    Activity,
    Baseline,
    Calendar,
    Churn,
    Exposure,
    Response,
    Segment,
    Spillover,
)
from models.consumer.truth import SpendTruth, victim_expected_effects
from models.consumer.window import check_window_weeks, window_mask
from models.parameters import Parameters
from models.streams import Seed, check_seed

DEFAULT_CHUNK_SIZE = 65_536


class ConsumerSpendModel(Parameters):
    """Data-generating process of weekly platform spend with counterfeit purchases.

    A specification: construct it with parameter groups (every field has a documented
    default, see README and ``models.consumer.groups``), then call :meth:`simulate`, or
    ``sim.simulate_panel`` which adds configs, calibration and a progress bar.

    Parameters
    ----------
    segments : tuple of Segment
        Consumer segments; shares must sum to one.
    baseline : Baseline
        Heterogeneity of purchase probability, basket and tenure.
    calendar : Calendar
        Weekly trend and promotion weeks.
    exposure : Exposure
        Counterfeit arrival rate and price.
    response : Response
        The victim's per-yuan spend-loss path.
    churn : Churn
        Probability that a victim stops buying.
    spillover : Spillover
        Word-of-mouth loss among contacts outside the panel.
    activity : Activity
        Shares of consumers who join after the panel's first week or leave before its last.

    Examples
    --------
    >>> model = ConsumerSpendModel()
    >>> panel, truth = model.simulate(n_consumers=2_000, n_weeks=22, seed=1)
    >>> round(truth.multiplier, 1) < 0
    True
    """

    segments: tuple[Segment, ...] = Field(DEFAULT_SEGMENTS, min_length=1)
    baseline: Baseline = Baseline()
    calendar: Calendar = Calendar()
    exposure: Exposure = Exposure()
    response: Response = Response()
    churn: Churn = Churn()
    spillover: Spillover = Spillover()
    activity: Activity = Activity()

    @model_validator(mode="after")
    def _check_segments(self) -> ConsumerSpendModel:
        shares = [s.share for s in self.segments]
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError(f"segments: shares must sum to 1, got {sum(shares):.6g}")
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segments: names must be unique, got {names}")
        worst = max(s.churn_multiplier for s in self.segments) * self.churn.probability
        if worst > 1:
            raise ValueError(
                "churn.probability times the largest segment churn_multiplier must be <= 1, "
                f"got {worst:.6g}"
            )
        return self

    def with_loss_per_yuan(self, loss_per_yuan: float) -> ConsumerSpendModel:
        """A copy of the model with ``response.loss_per_yuan`` replaced (validated)."""
        response = self.response.model_dump() | {"loss_per_yuan": loss_per_yuan}
        return self.model_validate(self.model_dump() | {"response": response})

    # ----------------------------------------------------------------- drawing
    def check_weeks(self, n_weeks: int) -> None:
        """Raise a clear error if a panel of ``n_weeks`` cannot hold the process.

        ``n_weeks`` must be at least 2, exceed ``exposure.report_lag`` and leave the
        activity's windows at least two weeks; promotions are checked by
        :meth:`calendar_effects`.
        """
        if n_weeks < 2:
            raise ValueError(f"n_weeks must be >= 2, got {n_weeks}")
        lag = self.exposure.report_lag
        if lag > n_weeks - 1:
            raise ValueError(
                f"consumer.exposure.report_lag must be <= n_weeks - 1 = {n_weeks - 1}, got {lag}"
            )
        check_window_weeks(self.activity, n_weeks)

    def calendar_effects(self, n_weeks: int) -> tuple[np.ndarray, np.ndarray]:
        """Weekly multipliers (purchase probability w_t, basket b_t) for 0-based weeks."""
        for i, promo in enumerate(self.calendar.promotions):
            if promo.week > n_weeks:
                raise ValueError(
                    f"calendar.promotions[{i}].week must be <= n_weeks = {n_weeks}, "
                    f"got {promo.week}"
                )
        purchase = (1.0 + self.calendar.weekly_trend) ** np.arange(n_weeks, dtype=float)
        basket = np.ones(n_weeks)
        for promo in self.calendar.promotions:
            purchase[promo.week - 1] *= promo.purchase_multiplier
            basket[promo.week - 1] *= promo.basket_multiplier
        return purchase, basket

    def draw(
        self,
        start: int,
        stop: int,
        n_weeks: int,
        seed: Seed,
        spend_cf: np.ndarray | None = None,
    ) -> ConsumerDraws:
        """Response-free draws of consumers [start, stop); see ``draw_consumers``."""
        return draw_consumers(self, start, stop, n_weeks, seed, spend_cf)

    # --------------------------------------------------------------- simulate
    def simulate(
        self,
        n_consumers: int,
        n_weeks: int,
        seed: Seed,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[Iterable], Iterable] | None = None,
    ) -> tuple[pd.DataFrame, SpendTruth]:
        """Simulate the long weekly panel and keep the ground truth.

        Parameters
        ----------
        n_consumers : int
            Number of consumers.
        n_weeks : int
            Number of weeks; panel weeks are numbered 1..n_weeks (at least 2, more than
            ``exposure.report_lag``, and 3 or 4 with ``activity`` shares).
        seed : int or numpy.random.SeedSequence
            Root seed; the panel is bit-identical for any ``chunk_size``.
        chunk_size : int
            Consumers processed at once (memory, not results).
        progress : callable, optional
            Wraps the iterable of chunks, e.g. ``tqdm.tqdm``.

        Returns
        -------
        panel : pandas.DataFrame
            One row per consumer and week of its observation window (every week unless
            ``activity`` is set), sorted by consumer then week, with columns
            ``consumer_id``, ``week``, ``spend`` (genuine spend, yuan), ``fake_week`` (week the
            first counterfeit is recorded, ``exposure.report_lag`` weeks after its purchase;
            NaN if never or after the panel's last week), ``fake_value`` (yuan of that
            counterfeit, 0 where ``fake_week`` is NaN), ``fake_spend`` (yuan of counterfeit
            orders bought that week, first and repeat), ``segment`` (categorical), ``tenure``
            (years) and ``spend_cf`` (spend had the consumer never met a fake).
        truth : SpendTruth
            Per-consumer traits and the true effects by event time.
        """
        if n_consumers < 1:
            raise ValueError(f"n_consumers must be >= 1, got {n_consumers}")
        self.check_weeks(n_weeks)
        check_seed(seed)
        bounds = chunk_bounds(n_consumers, chunk_size)
        weekly = {name: np.empty((n_consumers, n_weeks)) for name in _WEEKLY_OUTPUTS}
        traits: dict[str, np.ndarray] = {}
        victim_parts: list[dict[str, np.ndarray]] = []
        for start, stop in progress(bounds) if progress else bounds:
            out = {name: array[start:stop] for name, array in weekly.items()}
            draws = self.draw(start, stop, n_weeks, seed, spend_cf=out["spend_cf"])
            chunk_traits, victim = self._respond(draws, out)
            for name, values in chunk_traits.items():
                traits.setdefault(name, np.empty(n_consumers, values.dtype))[start:stop] = values
            victim_parts.append(victim)

        segment_names = [s.name for s in self.segments]
        consumers = pd.DataFrame(
            {
                "segment": pd.Categorical.from_codes(traits.pop("segment"), segment_names),
                **traits,
            }
        )
        consumers.index.name = "consumer_id"
        victims = {k: np.concatenate([p[k] for p in victim_parts]) for k in victim_parts[0]}
        truth = SpendTruth(
            model=self,
            consumers=consumers,
            n_weeks=n_weeks,
            **victims,
        )
        return self._long_panel(consumers, weekly), truth

    def _long_panel(self, consumers: pd.DataFrame, weekly: dict[str, np.ndarray]) -> pd.DataFrame:
        """The long panel from the consumer table and the (n, n_weeks) weekly arrays.

        The cohort is the recorded week; a victim the panel never records shows as never
        treated (``fake_week`` NaN, ``fake_value`` 0). Rows outside a consumer's observation
        window are dropped (none when ``activity`` is balanced).
        """
        n_consumers, n_weeks = weekly["spend"].shape
        if self.activity.balanced:
            rows = slice(None)
        else:
            first = consumers["first_observed_week"].to_numpy() - 1
            last = consumers["last_observed_week"].to_numpy() - 1
            rows = window_mask(first, last, n_weeks).ravel()
        recorded = consumers["recorded_week"].to_numpy()
        per_consumer = {
            "fake_week": recorded,
            "fake_value": np.where(np.isnan(recorded), 0.0, consumers["fake_value"].to_numpy()),
            "tenure": consumers["tenure"].to_numpy(),
        }
        per_row = {name: np.repeat(v, n_weeks)[rows] for name, v in per_consumer.items()}
        segment_names = consumers["segment"].cat.categories
        return pd.DataFrame(
            {
                "consumer_id": np.repeat(np.arange(n_consumers, dtype=np.int32), n_weeks)[rows],
                "week": np.tile(np.arange(1, n_weeks + 1, dtype=np.int32), n_consumers)[rows],
                "spend": weekly["spend"].ravel()[rows],
                "fake_week": per_row["fake_week"],
                "fake_value": per_row["fake_value"],
                "fake_spend": weekly["fake_spend"].ravel()[rows],
                "segment": pd.Categorical.from_codes(
                    np.repeat(consumers["segment"].cat.codes.to_numpy(), n_weeks)[rows],
                    segment_names,
                ),
                "tenure": per_row["tenure"],
                "spend_cf": weekly["spend_cf"].ravel()[rows],
            },
            copy=False,
        )

    def _respond(
        self, draws: ConsumerDraws, out: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Apply the response to the first fake.

        ``out`` holds the chunk's (n, n_weeks) rows of spend, spend_cf (already filled) and
        fake_spend; spend and fake_spend are filled here. Returns the consumers' traits and the
        victims' truth arrays.
        """
        n, n_weeks = out["spend_cf"].shape
        resp = self.response
        weights = resp.weights()
        victims = draws.victims
        first = draws.fake_first[victims]
        fake_value = draws.first_fake_value
        m = draws.response_multiplier[victims]
        event_spend, weeks = draws.victim_event_spend()
        expected, share, capped = victim_expected_effects(
            resp.loss_per_yuan,
            event_spend,
            fake_value,
            m,
            draws.churned[victims],
            weights,
            resp.max_share,
        )
        inside = ~np.isnan(event_spend)
        calendar_share = np.zeros((victims.size, n_weeks))
        calendar_share[np.nonzero(inside)[0], weeks[inside]] = share[inside]
        p_f = draws.victim_p_cf * (1.0 - calendar_share)
        exposure_f = draws.victim_exposure * (1.0 - calendar_share)

        spend_cf, spend = out["spend_cf"], out["spend"]
        victim_spend_cf = spend_cf[victims]
        victim_spend = np.where(draws.victim_u_purchase < p_f, victim_spend_cf, 0.0)
        spend[:] = spend_cf
        spend[victims] = victim_spend

        week = np.arange(n_weeks)
        repeat = (
            (draws.victim_u_fake < draws.fake_rate[victims, None] * exposure_f)
            & (week > first[:, None])
            & (week <= draws.window_end[victims, None])
        )
        victim_fake_spend = np.where(repeat, draws.victim_fake_value, 0.0)
        victim_fake_spend[np.arange(victims.size), first] = fake_value
        out["fake_spend"].fill(0.0)
        out["fake_spend"][victims] = victim_fake_spend

        fake_week = np.full(n, np.nan)
        fake_week[victims] = first + 1.0
        recorded = first + self.exposure.report_lag
        recorded_week = np.full(n, np.nan)
        recorded_week[victims] = np.where(recorded < n_weeks, recorded + 1.0, np.nan)
        value = np.zeros(n)
        value[victims] = fake_value
        n_fakes = np.zeros(n, np.int32)
        n_fakes[victims] = 1 + repeat.sum(axis=1)
        is_victim = draws.fake_first >= 0
        traits = {
            "segment": draws.segment,
            "tenure": draws.tenure,
            "purchase_prob": draws.purchase_prob,
            "fake_rate": draws.fake_rate,
            "response_multiplier": draws.response_multiplier,
            "fake_week": fake_week,
            "fake_value": value,
            "n_fakes": n_fakes,
            "churned": draws.churned & is_victim,
            "contacts": np.where(is_victim, draws.contacts, 0),
            "recorded_week": recorded_week,
            "first_observed_week": (draws.window_start + 1).astype(np.int32),
            "last_observed_week": (draws.window_end + 1).astype(np.int32),
        }
        realized = np.take_along_axis(victim_spend - victim_spend_cf, weeks, axis=1)
        spill = self.spillover
        spillover_loss = spill.share * resp.loss_per_yuan * draws.contacts[victims] * m
        truth = {
            "expected": expected,
            "realized": np.where(inside, realized, np.nan),
            "spillover": -(spillover_loss * fake_value)[:, None] * weights,
            "capped": capped,
        }
        return traits, truth


_WEEKLY_OUTPUTS = ("spend", "spend_cf", "fake_spend")
