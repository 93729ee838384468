"""Ground truth of a simulated spend panel: the effects of counterfeits by event time.

Estimands. Over the victims observed at event week k (first fake at least k weeks before the
panel's end), with effect e_ik and first-fake value v_i,

    tau_k = sum_i e_ik / sum_i v_i            (weighting "value": spend lost per yuan sold)
    tau_k = sum_i v_i e_ik / sum_i v_i^2      (weighting "intensity")

and a multiplier is sum_{k=0}^{horizon-1} tau_k (signed: a loss is negative; the study's
number is -3.57). The "value" multiplier is the platform's spend change per yuan of
counterfeit sold, what a goodwill projection multiplies by fake sales. The "intensity" one is
the population target of a regression on event dummies times v_i (the study's per-yuan design)
when effects are not proportional to v_i, as churn and the cap make them; the two coincide
when every victim loses the same amount per yuan.

``expected`` effects integrate out the weekly purchase noise given each victim's draws
(purchase probability, basket level, fake value, response multiplier, churn); ``realized``
effects are ``spend - spend_cf`` of the simulated rows.

Time. The effect arrays are in purchase time: row i is a victim, column k its k-th week after
buying the first fake, NaN where the victim is not observed (past the panel, or past its own
last week with ``activity``). The multipliers sum tau_k over k = 0..horizon-1 in purchase time
over every victim, whether or not the panel records the fake: they are the platform's loss per
yuan sold. ``event_time_effects`` is in recorded event time, relative to the panel's
``fake_week``, over the victims the panel records: with ``exposure.report_lag`` = l, the
response at purchase week k shows at event time k - l, so event times -l..-1 carry effects
(anticipation, as an estimator sees it) and earlier leads are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from models.consumer.spend_process import ConsumerSpendModel


def victim_expected_effects(
    loss_per_yuan: float,
    event_spend: np.ndarray,
    fake_value: np.ndarray,
    multiplier: np.ndarray,
    churned: np.ndarray,
    weights: np.ndarray,
    max_share: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Victims' expected spend change and response share by event week.

    Parameters
    ----------
    loss_per_yuan : float
        Intended yuan lost over the horizon per yuan of counterfeit (L).
    event_spend : ndarray, shape (n_victims, n_weeks)
        Expected counterfactual spend at event weeks 0..n_weeks-1, NaN past the panel.
    fake_value : ndarray, shape (n_victims,)
        Yuan of each victim's first counterfeit.
    multiplier : ndarray, shape (n_victims,)
        Victim-specific response multiplier m_i.
    churned : ndarray of bool, shape (n_victims,)
        Victims who stop buying from event week 1 on.
    weights : ndarray, shape (horizon,)
        Path weights h_k, summing to one.
    max_share : float
        Cap on the share of a week's expected spend the intensive response removes.

    Returns
    -------
    expected : ndarray
        Signed expected spend change -E_ik rho_ik (NaN past the panel).
    share : ndarray
        Share rho_ik of the purchase probability removed.
    capped : ndarray of bool
        Intensive-margin cells where the cap binds.
    """
    n_weeks = event_spend.shape[1]
    path = np.zeros(n_weeks)
    path[: min(len(weights), n_weeks)] = weights[:n_weeks]
    intended = (loss_per_yuan * multiplier * fake_value)[:, None] * path
    with np.errstate(invalid="ignore"):
        ratio = intended / event_spend
        capped = ratio > max_share
    share = np.minimum(ratio, max_share)
    stopped = churned[:, None] & (np.arange(n_weeks) >= 1)
    share = np.where(stopped, 1.0, share)
    capped &= ~stopped
    return -event_spend * share, share, capped


WEIGHTINGS = ("value", "intensity")
"""How per-yuan effects weight victims; see the module docstring."""


def per_yuan_effects(
    effects: np.ndarray, fake_value: np.ndarray, weighting: str = "value"
) -> np.ndarray:
    """Effect per yuan of counterfeit at each event week (columns of ``effects``).

    ``effects`` is (n_victims, n_weeks) with NaN where a victim is not observed. With
    weighting "value" the result is sum_i e_ik / sum_i v_i, with "intensity"
    sum_i v_i e_ik / sum_i v_i^2, both over the victims observed at k.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    weight = np.ones_like(fake_value) if weighting == "value" else fake_value
    observed = ~np.isnan(effects)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weight @ np.nan_to_num(effects)) / (observed.T @ (weight * fake_value))


@dataclass(frozen=True)
class SpendTruth:
    """The known effects of counterfeits in a simulated panel.

    Attributes
    ----------
    consumers : pandas.DataFrame
        One row per consumer (index ``consumer_id``): segment, tenure (years),
        purchase_prob, fake_rate, response_multiplier (with the cohort slope for victims),
        fake_week (1-based week the first fake was bought, NaN if never), fake_value (yuan,
        0 if never), n_fakes, churned, contacts, recorded_week (the panel's ``fake_week``:
        fake_week + ``exposure.report_lag``, NaN if never or after the panel's last week),
        first_observed_week and last_observed_week (the consumer's window, 1-based, inclusive).
    expected, realized : ndarray, shape (n_victims, n_weeks)
        Signed spend change of each victim (ordered by consumer id) at purchase event weeks
        0..n_weeks-1; NaN where the victim is not observed (past the panel's end or its own
        last observed week).
    spillover : ndarray, shape (n_victims, horizon)
        Signed expected spend change among each victim's contacts outside the panel.
    capped : ndarray of bool, shape (n_victims, n_weeks)
        Where the intensive response hit its cap (``response.max_share``).
    model : ConsumerSpendModel
        The process that generated the panel (with the response scale actually used).
    n_weeks : int
        Panel length.
    """

    model: ConsumerSpendModel
    consumers: pd.DataFrame
    expected: np.ndarray
    realized: np.ndarray
    spillover: np.ndarray
    capped: np.ndarray
    n_weeks: int

    @property
    def horizon(self) -> int:
        """Weeks of the response path (12 in the study); the multiplier sums over them."""
        return self.model.response.horizon

    @property
    def victims(self) -> pd.DataFrame:
        """Consumers who bought a counterfeit, in the row order of the effect arrays.

        Every victim, including those the panel does not record (``recorded_week`` NaN).
        """
        return self.consumers[self.consumers["fake_week"].notna()]

    def event_time_effects(self, per_yuan: bool = True, weighting: str = "value") -> pd.DataFrame:
        """True effects by recorded event time, laid out like an estimator's ``event_time_effects``.

        Event time is relative to the panel's ``fake_week`` and covers the victims the panel
        records, at the rows it holds; with a report lag l the effects of purchase weeks
        0..l-1 sit at event times -l..-1 (see the module docstring).

        Parameters
        ----------
        per_yuan : bool
            True: effect per yuan of counterfeit, weighted as ``weighting`` says.
            False: mean effect in yuan per victim.
        weighting : {"value", "intensity"}
            Victim weights of the per-yuan effect (see the module docstring).

        Returns
        -------
        pandas.DataFrame
            Indexed by integer ``event_time`` (leads before -report_lag are exactly zero), with
            columns ``estimate`` (expected effect, the estimand), ``realized`` (from the
            simulated rows) and ``n_treated`` (recorded victims observed at that event time).
        """
        victims = self.victims
        recorded = victims["recorded_week"].notna().to_numpy()
        first = victims["recorded_week"].to_numpy()[recorded] - 1
        entry = victims["first_observed_week"].to_numpy()[recorded] - 1
        value = victims["fake_value"].to_numpy()[recorded]
        expected, realized = self.expected[recorded], self.realized[recorded]
        n_post = (~np.isnan(expected)).sum(axis=0)
        if per_yuan:
            post_expected = per_yuan_effects(expected, value, weighting)
            post_realized = per_yuan_effects(realized, value, weighting)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                post_expected = np.nansum(expected, axis=0) / n_post
                post_realized = np.nansum(realized, axis=0) / n_post
        lag = self.model.exposure.report_lag
        leads = np.arange(-(self.n_weeks - 1), -lag)
        n_pre = np.array([(first + k >= entry).sum() for k in leads], dtype=n_post.dtype)
        frame = pd.DataFrame(
            {
                "estimate": np.concatenate([np.zeros(len(leads)), post_expected]),
                "realized": np.concatenate([np.zeros(len(leads)), post_realized]),
                "n_treated": np.concatenate([n_pre, n_post]),
            },
            index=pd.Index(
                np.concatenate([leads, np.arange(self.n_weeks) - lag]), name="event_time"
            ),
        )
        return frame[frame["n_treated"] > 0]

    @property
    def horizon_observed(self) -> bool:
        """Whether some victim is observed at every event week of the horizon."""
        if self.n_weeks < self.horizon:
            return False
        return bool((~np.isnan(self.expected[:, self.horizon - 1])).any())

    def _horizon_sum(self, column: str, weighting: str = "value") -> float:
        if not self.horizon_observed:
            raise ValueError(
                f"no victim is observed at event week {self.horizon - 1} in this "
                f"{self.n_weeks}-week panel, too short for a {self.horizon}-week multiplier"
            )
        effects = {"estimate": self.expected, "realized": self.realized}[column]
        value = self.victims["fake_value"].to_numpy()
        return float(per_yuan_effects(effects, value, weighting)[: self.horizon].sum())

    @property
    def multiplier(self) -> float:
        """True spend change over the horizon per yuan of counterfeit sold (expected; -3.57).

        In purchase time over every victim, recorded in the panel or not.
        """
        return self._horizon_sum("estimate")

    @property
    def realized_multiplier(self) -> float:
        """The same multiplier computed from the simulated rows' ``spend - spend_cf``."""
        return self._horizon_sum("realized")

    @property
    def intensity_multiplier(self) -> float:
        """The multiplier with "intensity" weights: what a per-yuan event study targets."""
        return self._horizon_sum("estimate", weighting="intensity")

    @property
    def spillover_multiplier(self) -> float:
        """Spend change among contacts outside the panel per yuan of counterfeit."""
        value = self.victims["fake_value"].to_numpy()
        return float(self.spillover.sum() / value.sum()) if value.size else 0.0

    @property
    def capped_share(self) -> float:
        """Share of victims' intensive-response weeks (within the horizon) at the cap."""
        observed = ~np.isnan(self.expected[:, : self.horizon])
        churned = self.victims["churned"].to_numpy()[:, None]
        intensive = observed & ~(churned & (np.arange(observed.shape[1]) >= 1))
        return float(self.capped[:, : self.horizon][intensive].mean()) if intensive.any() else 0.0
