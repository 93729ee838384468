"""What counterfeit sales cost the platform: ``GoodwillModel`` and ``damages``.

A fake bought in week w with value v changes its buyer's spend in week w + k by v * r_k for
the response horizon k = 0..H-1 (:class:`models.market.response.ResponsePath`, the per-yuan
event-study effects, signed: a loss is negative). On top of the victim's own response:

* **spillover**: each victim's contacts cut their spend too, by ``spillover_contacts *
  spillover_share`` times the victim's response (as in ``models.ConsumerSpendModel``);
* **churn**: a share ``churn_probability`` of victims stop buying. Their loss within the
  horizon is part of the estimated path; after it they stay away, each missing
  ``churned_weekly_spend`` a week, and come back at the weekly rate ``churn_return_rate``.

Lost spend is turned into the platform's loss by the ``take_rate`` (its revenue per yuan of
spend) and discounted to week 0 at ``discount_rate`` a year. Two views of the same loss:

* ``lost_spend`` (a flow): spend lost in each week of the window through fakes bought from
  week 0 on: the fakes convolved with the response path, plus the churned victims still away;
* ``goodwill_loss`` (an accrual): the present value at week 0 of all the platform revenue that
  each week's fakes will cost, whenever it is lost, including after the window. This is the
  goodwill a week's counterfeits destroy; summed over weeks it is the window's cost.

Summed over an unbounded window, ``take_rate * discount**w * lost_spend`` equals the summed
``goodwill_loss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from pydantic import Field, StrictFloat
from scipy import stats

from models.market.enforcement import WEEKS_PER_YEAR
from models.market.response import ResponsePath
from models.parameters import Parameters


class GoodwillModel(Parameters):
    """The platform's side: order volume, fake values, churn, spillover, take rate, discount,
    and the channels besides the victims' own lost spend.

    The channels (each zero by default, where no public data exist) are the market-wide
    reputation loss, brand-owner and regulatory or legal costs per counterfeit order or per
    active counterfeit store, and the take the platform earns on counterfeit sales (an offset).
    ``take_rate`` is the share of lost spend the platform counts: its revenue (0.03) or the
    whole GMV (1.0).

    Examples
    --------
    >>> model = GoodwillModel()
    >>> round(float(model.weekly_discount), 6)  # 5% a year
    0.999062
    """

    orders_per_week: StrictFloat = Field(
        207e6, gt=0, description="orders on the platform a week (GMV / mean basket)"
    )
    order_value_mean: StrictFloat = Field(
        350.0, gt=0, description="mean yuan of an order (GMV / orders); sets the GMV a week"
    )
    fake_value_mean: StrictFloat = Field(
        172.0, gt=0, description="mean yuan of a counterfeit order"
    )
    fake_value_cv: StrictFloat = Field(
        1.55, ge=0, description="coefficient of variation of a counterfeit order's value"
    )
    take_rate: StrictFloat = Field(
        0.03,
        ge=0,
        le=1,
        description="share of each yuan of lost spend the platform counts (its revenue per yuan, "
        "or 1 for GMV)",
    )
    discount_rate: StrictFloat = Field(
        0.05, ge=0, lt=1, description="annual discount rate of future losses"
    )
    churn_probability: StrictFloat = Field(
        0.05, ge=0, le=1, description="share of victims who stop buying"
    )
    churned_weekly_spend: StrictFloat = Field(
        160.0, ge=0, description="yuan a week a churned victim no longer spends"
    )
    churn_return_rate: StrictFloat = Field(
        0.02, gt=0, le=1, description="weekly rate at which churned victims come back"
    )
    spillover_contacts: StrictFloat = Field(
        0.0, ge=0, description="mean number of contacts a victim tells"
    )
    spillover_share: StrictFloat = Field(
        0.2, ge=0, le=1, description="each contact's loss as a share of the victim's"
    )
    reputation_loss: StrictFloat = Field(
        0.0,
        ge=0,
        le=1e-2,
        description="share of every consumer's spend lost per suspected fake per 10,000 orders "
        "(market-wide reputation)",
    )
    brand_cost_per_fake: StrictFloat = Field(
        0.0, ge=0, description="yuan the platform counts per counterfeit order for brand owners"
    )
    legal_cost_per_fake: StrictFloat = Field(
        0.0, ge=0, description="yuan of regulatory and legal risk per counterfeit order"
    )
    legal_cost_per_store: StrictFloat = Field(
        0.0, ge=0, description="yuan of regulatory and legal risk a week per counterfeit store"
    )
    fake_take_rate: StrictFloat = Field(
        0.0,
        ge=0,
        le=1,
        description="platform revenue per yuan of counterfeit sales counted as an offset",
    )

    def platform(self, **draws: np.ndarray) -> Platform:
        """The model's parameters as a :class:`Platform`.

        Parameters
        ----------
        **draws : ndarray
            Values that replace fields of the model (e.g. one per sample, shaped to broadcast
            against the intensities); they must respect the fields' ranges.
        """
        unknown = set(draws) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"platform: unknown parameter(s) {', '.join(sorted(unknown))}")
        return Platform(**{**self.__dict__, **draws})

    @property
    def weekly_discount(self) -> float:
        """Discount factor of one week, (1 + discount_rate) ** (-1 / 52)."""
        return float(self.platform().weekly_discount)

    @property
    def spillover_ratio(self) -> float:
        """Contacts' spend loss relative to the victim's (contacts x share)."""
        return float(self.platform().spillover_ratio)

    def churn_tail_value(self, horizon: int) -> float:
        """Present value, at the fake's week, of one churned victim's spend lost after the
        response horizon (:meth:`Platform.churn_tail_value`)."""
        return float(self.platform().churn_tail_value(horizon))

    def response_weights(self, horizon: int) -> np.ndarray:
        """Weights a_k such that a fake's discounted revenue loss per yuan is -sum a_k r_k
        (:meth:`Platform.response_weights`)."""
        return self.platform().response_weights(horizon)

    def losses(
        self, fake_sales: np.ndarray, victims: np.ndarray, path: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lost spend (flow) and the victims' goodwill loss (accrual) by week
        (:meth:`Platform.losses`)."""
        return self.platform().losses(fake_sales, victims, path)


@dataclass(frozen=True)
class Platform:
    """The platform's parameters as numbers or arrays that broadcast together.

    Every method is elementwise, so a sample of parameters gives each field the shape of its
    leading axes (e.g. ``(n_samples, 1, 1)``). Fields as in :class:`GoodwillModel`.
    """

    orders_per_week: float | np.ndarray
    order_value_mean: float | np.ndarray
    fake_value_mean: float | np.ndarray
    fake_value_cv: float | np.ndarray
    take_rate: float | np.ndarray
    discount_rate: float | np.ndarray
    churn_probability: float | np.ndarray
    churned_weekly_spend: float | np.ndarray
    churn_return_rate: float | np.ndarray
    spillover_contacts: float | np.ndarray
    spillover_share: float | np.ndarray
    reputation_loss: float | np.ndarray
    brand_cost_per_fake: float | np.ndarray
    legal_cost_per_fake: float | np.ndarray
    legal_cost_per_store: float | np.ndarray
    fake_take_rate: float | np.ndarray

    @property
    def weekly_discount(self) -> np.ndarray:
        """Discount factor of one week, (1 + discount_rate) ** (-1 / 52)."""
        return (1.0 + np.asarray(self.discount_rate)) ** (-1.0 / WEEKS_PER_YEAR)

    @property
    def spillover_ratio(self) -> np.ndarray:
        """Contacts' spend loss relative to the victim's (contacts x share)."""
        return np.asarray(self.spillover_contacts) * self.spillover_share

    def discount(self, n_weeks: int) -> np.ndarray:
        """Discount factors of weeks 0..n_weeks-1, shape (..., n_weeks)."""
        return self.weekly_discount[..., None] ** np.arange(n_weeks)

    def churn_tail_value(self, horizon: int) -> np.ndarray:
        """Present value, at the fake's week, of one churned victim's spend lost after the
        response horizon: sum over k >= H of spend (1 - return rate)**(k - H) discount**k."""
        beta = self.weekly_discount
        stay = 1.0 - np.asarray(self.churn_return_rate)
        return self.churned_weekly_spend * beta**horizon / (1.0 - stay * beta)

    def response_weights(self, horizon: int) -> np.ndarray:
        """Weights a_k, shape (..., horizon), such that a fake's discounted revenue loss per
        yuan is -sum a_k r_k: take rate x (1 + spillover) x discount**k."""
        scale = np.asarray(self.take_rate) * (1.0 + self.spillover_ratio)
        return scale[..., None] * self.discount(horizon)

    def revenue_loss_per_yuan(self, path: np.ndarray) -> np.ndarray:
        """Present value, at the fake's week, of the revenue its response costs per yuan of
        counterfeit: -sum_k a_k r_k, shape ``path.shape[:-1]`` (an explicit loop of
        elementwise operations, so a draw does not depend on how many are computed together)."""
        weights = self.response_weights(path.shape[-1])
        per_yuan = np.zeros(np.broadcast_shapes(weights.shape[:-1], path.shape[:-1]))
        for lag in range(path.shape[-1]):
            per_yuan = per_yuan - weights[..., lag] * path[..., lag]
        return per_yuan

    def losses(
        self, fake_sales: np.ndarray, victims: np.ndarray, path: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lost spend (flow) and the victims' goodwill loss (accrual) by week.

        Parameters
        ----------
        fake_sales : ndarray, shape (..., n_weeks)
            Yuan of counterfeits bought each week.
        victims : ndarray, shape (..., n_weeks)
            Counterfeit orders each week (one victim each).
        path : ndarray, shape (..., horizon)
            Per-yuan spend response by event week (signed; broadcasts over the weeks' axes
            before the last).

        Returns
        -------
        lost_spend : ndarray, shape (..., n_weeks)
            Yuan of spend lost in each week (positive is a loss), undiscounted.
        goodwill_loss : ndarray, shape (..., n_weeks)
            Present value at week 0 of the revenue that each week's fakes cost their victims
            (and the victims' contacts).

        Every sum is an explicit loop of elementwise operations, so each draw's numbers do
        not depend on how many draws are computed together.
        """
        n_weeks = fake_sales.shape[-1]
        horizon = path.shape[-1]
        spill = np.asarray(self.spillover_ratio)[..., None]
        loss_per_yuan = -(1.0 + spill) * path
        churned = np.asarray(self.churn_probability)[..., None] * victims
        lost = np.zeros(np.broadcast_shapes(fake_sales.shape, (*loss_per_yuan.shape[:-1], 1)))
        for lag in range(min(horizon, n_weeks)):
            lost[..., lag:] += fake_sales[..., : n_weeks - lag] * loss_per_yuan[..., lag, None]
        away = np.zeros(churned.shape[:-1])
        stay = 1.0 - np.asarray(self.churn_return_rate)
        spend = np.asarray(self.churned_weekly_spend)
        for week in range(horizon, n_weeks):
            away = stay * away + churned[..., week - horizon]
            lost[..., week] += spend * away
        accrued = self.discount(n_weeks) * (
            fake_sales * self.revenue_loss_per_yuan(path)[..., None]
            + self.victim_tail(horizon)[..., None] * victims
        )
        return lost, accrued

    def victim_tail(self, horizon: int) -> np.ndarray:
        """Present value, at the fake's week, of the revenue a victim's possible churn costs
        after the response horizon: take rate x churn probability x churn tail value."""
        return np.asarray(self.take_rate) * self.churn_probability * self.churn_tail_value(horizon)

    @property
    def gmv_per_week(self) -> np.ndarray:
        """Yuan of orders a week (orders x mean order value)."""
        return np.asarray(self.orders_per_week) * self.order_value_mean


class Damages(NamedTuple):
    """The platform's expected loss from a quantity of counterfeit sales.

    Attributes
    ----------
    goodwill_loss, se, low, high : float
        Present value of the platform revenue lost (yuan), its standard error from the
        response path's covariance, and the interval's limits.
    lost_spend : float
        Consumer spend lost (yuan, undiscounted): the victims' and contacts' response over the
        horizon plus the churned victims' spend until they come back.
    interval : float
        Coverage of (low, high).
    """

    goodwill_loss: float
    se: float
    low: float
    high: float
    lost_spend: float
    interval: float


def damages(
    model: GoodwillModel, response: ResponsePath, fake_sales: float, interval: float = 0.90
) -> Damages:
    """The platform's expected goodwill loss caused by ``fake_sales`` yuan of counterfeits.

    The loss is linear in the response path, so its distribution given the fitted path is
    normal: goodwill_loss = -sum_k a_k r_k Y + churned victims' tail, with
    a_k = take rate x (1 + spillover) x discount**k and Y the fake sales; the victims are
    Y / fake_value_mean orders.

    Examples
    --------
    >>> path = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 0.01)
    >>> round(damages(GoodwillModel(churn_probability=0.0), path, 1000.0).lost_spend)
    3570
    """
    if not (np.isfinite(fake_sales) and fake_sales >= 0):
        raise ValueError(f"fake sales must be a finite number of yuan >= 0, got {fake_sales}")
    if not 0 < interval < 1:
        raise ValueError(f"interval must be between 0 and 1, got {interval}")
    horizon = response.mean.size
    weights = model.response_weights(horizon) * fake_sales
    churned = model.churn_probability * fake_sales / model.fake_value_mean
    estimate = (
        float(-weights @ response.mean)
        + model.take_rate * model.churn_tail_value(horizon) * churned
    )
    se = float(np.sqrt(weights @ response.cov @ weights))
    half = float(stats.norm.ppf(0.5 + interval / 2)) * se
    lost_spend = (
        -(1.0 + model.spillover_ratio) * fake_sales * response.multiplier
        + churned * model.churned_weekly_spend / model.churn_return_rate
    )
    return Damages(estimate, se, estimate - half, estimate + half, float(lost_spend), interval)
