"""The counterfeit-seller market under enforcement: ``EnforcementModel``.

A weekly model of the stock of active counterfeit stores on the platform. Enforcement
intensity ``x >= 0`` is in multiples of Alibaba's 2016 programme (about 2,000 staff and over
1 billion yuan a year); ``x = 0`` is no enforcement.

* **Detection.** An active store is found and closed in a week with probability

      h(x) = h_max * (1 - (1 - h_1 / h_max) ** x),

  so h(0) = 0, h(1) = h_1 (the 2016 programme) and each further programme-sized increment
  finds the same share of the stores the previous ones missed: detection rises with
  diminishing returns towards h_max.
* **Sanction** (Becker). A detected store loses ``takedown_loss`` (deposit and stock), is sued
  for the civil damages with probability ``civil_probability`` and is convicted with
  probability ``conviction_probability`` (probation or prison, each valued in yuan):
  S = takedown_loss + civil_probability * civil_damages + conviction_probability * (
  probation_share * probation_cost + (1 - probation_share) * prison_cost).
* **Entry.** A store earns ``profit_per_week`` (pi) until it is closed (hazard h) or leaves on
  its own (``exit_rate``, delta). Its expected value is V(x) = (pi - h S) / (delta + h), and
  entrants arrive at E(x) = E_0 (V(x) / V(0)) ** eta (none when V <= 0): ``entry_elasticity``
  eta is the deterrence parameter.
* **Dynamics.** N_{t+1} = (1 - delta - h) N_t + E(x) eps_t with mean-one lognormal entry
  shocks eps_t (``entry_shock_sd``); the steady state is N*(x) = E(x) / (delta + h(x)).
* **Scale.** The 2016 steady state holds ``stores_closed_2016 / (52 h_1)`` stores (closures
  are h N a week), and the share of orders that are fake is proportional to the stores,
  equal to ``fake_share_2016`` in the 2016 steady state.

* **Bound.** The share is proportional to the stores, an approximation for a market in which
  fakes are a small share of orders, so it must stay below all orders: a market whose steady
  state without enforcement (its largest fake share) exceeds ``MAX_FAKE_SHARE`` (10,000 per
  10,000 orders) is rejected, by design, rather than saturated (a saturating share would be a
  functional form that the data, 1 to 2 fakes per 10,000 orders, cannot inform).

``detection_2016`` (h_1) and ``entry_elasticity`` are calibrated to Alibaba's published
2016-2019 series by :func:`~models.market.market_calibration.calibrate_enforcement`; every
other default is a published figure or a stated assumption (``configs/baseline.toml`` gives
the source of each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from pydantic import Field, StrictFloat, model_validator

from models.parameters import Parameters

WEEKS_PER_YEAR = 52

MAX_FAKE_SHARE = 10_000.0
"""Fakes per 10,000 orders when every order is fake: the bound of a market's fake share."""


class EnforcementModel(Parameters):
    """Parameters of the counterfeit-seller market (see the module docstring for the model).

    Examples
    --------
    >>> model = EnforcementModel()
    >>> round(float(model.fake_share(1.0)), 12)  # 2016 steady state, per 10,000 orders
    2.1
    >>> bool(model.fake_share(0.0) > model.fake_share(1.0) > model.fake_share(2.0))
    True
    """

    fake_share_2016: StrictFloat = Field(
        2.1, gt=0, description="suspected fakes per 10,000 orders under the 2016 programme"
    )
    stores_closed_2016: StrictFloat = Field(
        180_000.0, gt=0, description="counterfeit stores closed in 2016 (sets the stores' scale)"
    )
    programme_cost: StrictFloat = Field(
        1.0e9, ge=0, description="yuan a year that intensity 1 (the 2016 programme) costs"
    )
    detection_2016: StrictFloat = Field(
        0.06209,
        gt=0,
        lt=1,
        description="weekly probability that the 2016 programme closes an active store (h_1)",
    )
    detection_max: StrictFloat = Field(
        0.1, gt=0, lt=1, description="weekly detection probability as intensity grows without bound"
    )
    entry_elasticity: StrictFloat = Field(
        0.6358, gt=0, description="elasticity of entry to a store's expected value (deterrence)"
    )
    exit_rate: StrictFloat = Field(
        0.02, gt=0, lt=1, description="weekly probability that an undetected store leaves"
    )
    profit_per_week: StrictFloat = Field(
        300.0, gt=0, description="yuan a counterfeit store earns a week while active"
    )
    takedown_loss: StrictFloat = Field(
        1_000.0, ge=0, description="yuan a store loses when closed (deposit, stock)"
    )
    civil_damages: StrictFloat = Field(
        120_000.0, ge=0, description="yuan of civil damages when a closed store is sued"
    )
    civil_probability: StrictFloat = Field(
        0.0005, ge=0, le=1, description="probability that a closed store is sued"
    )
    conviction_probability: StrictFloat = Field(
        0.00018, ge=0, le=1, description="probability that a closed store's owner is convicted"
    )
    probation_share: StrictFloat = Field(
        0.82, ge=0, le=1, description="share of the convicted sentenced to probation"
    )
    probation_cost: StrictFloat = Field(
        50_000.0, ge=0, description="yuan-equivalent sanction of a probation sentence"
    )
    prison_cost: StrictFloat = Field(
        1_000_000.0, ge=0, description="yuan-equivalent sanction of a prison sentence"
    )
    entry_shock_sd: StrictFloat = Field(
        0.1, ge=0, description="standard deviation of the weekly log entry shock"
    )

    @model_validator(mode="after")
    def _check_detection(self) -> EnforcementModel:
        if self.detection_2016 >= self.detection_max:
            raise ValueError(
                f"detection_2016 = {self.detection_2016} must be below detection_max = "
                f"{self.detection_max}"
            )
        if self.detection_max + self.exit_rate > 1:
            raise ValueError(
                f"detection_max + exit_rate = {self.detection_max + self.exit_rate} must be "
                "at most 1 (a weekly probability)"
            )
        penalty = self.detection_2016 * self.sanction
        if penalty >= self.profit_per_week:
            raise ValueError(
                f"detection_2016 x sanction = {penalty:.6g} yuan a week must be below "
                f"profit_per_week = {self.profit_per_week} (stores were open in 2016)"
            )
        peak = float(self.market().peak_share())
        if not peak <= MAX_FAKE_SHARE:
            raise ValueError(
                f"fake_share_2016 = {self.fake_share_2016}, entry_elasticity = "
                f"{self.entry_elasticity}, detection_2016 = {self.detection_2016} and exit_rate = "
                f"{self.exit_rate} give {peak:.6g} fakes per 10,000 orders without enforcement, "
                f"more than all orders ({MAX_FAKE_SHARE:g}): expected a smaller entry_elasticity "
                "or fake_share_2016"
            )
        return self

    @property
    def sanction(self) -> float:
        """Expected yuan a store's owner loses when the store is detected (S)."""
        return float(self.market().sanction_weeks * self.profit_per_week)

    def market(self, **draws: np.ndarray) -> Market:
        """The model's parameters as a :class:`Market`.

        Parameters
        ----------
        **draws : ndarray
            Values that replace fields of the model (e.g. one per Monte-Carlo draw, shaped
            to broadcast against the intensities); they must respect the fields' ranges.
        """
        unknown = set(draws) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"market: unknown parameter(s) {', '.join(sorted(unknown))}")
        p = {**self.__dict__, **draws}
        sentence = (
            p["probation_share"] * p["probation_cost"]
            + (1 - p["probation_share"]) * p["prison_cost"]
        )
        sanction = (
            p["takedown_loss"]
            + p["civil_probability"] * p["civil_damages"]
            + p["conviction_probability"] * sentence
        )
        return Market(
            detection_2016=p["detection_2016"],
            detection_max=p["detection_max"],
            exit_rate=p["exit_rate"],
            entry_elasticity=p["entry_elasticity"],
            sanction_weeks=sanction / p["profit_per_week"],
            fake_share_2016=p["fake_share_2016"],
            stores_2016=p["stores_closed_2016"] / (WEEKS_PER_YEAR * p["detection_2016"]),
            entry_shock_sd=p["entry_shock_sd"],
        )

    def detection(self, intensity: float | np.ndarray) -> np.ndarray:
        """Weekly probability h(x) that an active store is detected and closed."""
        return self.market().detection(check_intensity(intensity))

    def fake_share(self, intensity: float | np.ndarray) -> np.ndarray:
        """Steady-state suspected fakes per 10,000 orders at an intensity."""
        market = self.market()
        return market.share(market.steady_stores(check_intensity(intensity)))

    def enforcement_cost(self, intensity: float | np.ndarray) -> np.ndarray:
        """Yuan a week that an intensity costs (linear in the 2016 programme's cost)."""
        return check_intensity(intensity) * (self.programme_cost / WEEKS_PER_YEAR)


def check_intensity(intensity: float | np.ndarray) -> np.ndarray:
    """Intensities as a float array; a clear error unless all are finite and >= 0."""
    values = np.asarray(intensity, dtype=float)
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise ValueError(f"intensity must be finite and >= 0, got {intensity!r}")
    return values


@dataclass(frozen=True)
class Market:
    """The market's parameters as numbers or arrays that broadcast together.

    Every method is elementwise, so a Monte-Carlo block gives each field the shape
    ``(n_draws, 1)`` and passes intensities of shape ``(n_intensities,)``.

    Attributes
    ----------
    detection_2016, detection_max, exit_rate, entry_elasticity, entry_shock_sd
        As in :class:`EnforcementModel`.
    sanction_weeks
        Expected sanction of a detection in weeks of a store's profit (S / pi).
    fake_share_2016
        Suspected fakes per 10,000 orders in the 2016 steady state.
    stores_2016
        Active counterfeit stores in the 2016 steady state.
    """

    detection_2016: float | np.ndarray
    detection_max: float | np.ndarray
    exit_rate: float | np.ndarray
    entry_elasticity: float | np.ndarray
    sanction_weeks: float | np.ndarray
    fake_share_2016: float | np.ndarray
    stores_2016: float | np.ndarray
    entry_shock_sd: float | np.ndarray

    def detection(self, intensity: np.ndarray) -> np.ndarray:
        """h(x) = h_max (1 - (1 - h_1 / h_max) ** x)."""
        missed = 1.0 - self.detection_2016 / self.detection_max
        return self.detection_max * (1.0 - missed**intensity)

    def relative_value(self, intensity: np.ndarray) -> np.ndarray:
        """V(x) / V(0), a store's expected value relative to no enforcement (0 if V <= 0)."""
        hazard = self.detection(intensity)
        margin = np.maximum(1.0 - hazard * self.sanction_weeks, 0.0)
        return margin * self.exit_rate / (self.exit_rate + hazard)

    def entry(self, intensity: np.ndarray) -> np.ndarray:
        """Expected entrants a week, E(x) = E_0 (V(x) / V(0)) ** eta."""
        base = self.stores_2016 * (self.exit_rate + self.detection_2016)
        ratio = self.relative_value(intensity) / self.relative_value(np.float64(1.0))
        return base * ratio**self.entry_elasticity

    def steady_stores(self, intensity: np.ndarray) -> np.ndarray:
        """Active stores in the steady state, N*(x) = E(x) / (delta + h(x))."""
        return self.entry(intensity) / (self.exit_rate + self.detection(intensity))

    def share(self, stores: np.ndarray) -> np.ndarray:
        """Suspected fakes per 10,000 orders when ``stores`` stores are active."""
        return self.fake_share_2016 * stores / self.stores_2016

    def steady_share(self, intensity: np.ndarray) -> np.ndarray:
        """Suspected fakes per 10,000 orders in the steady state at an intensity."""
        return self.share(self.steady_stores(intensity))

    def peak_share(self) -> np.ndarray:
        """The steady-state fake share without enforcement, the largest at any intensity."""
        return self.steady_share(np.float64(0.0))

    def feasible(self) -> np.ndarray:
        """Whether each market meets the model's joint constraints (elementwise).

        Detection in 2016 below its ceiling, the ceiling plus exit at most one, the 2016
        expected penalty below a week's profit, and the fake share without enforcement at most
        ``MAX_FAKE_SHARE`` (the constraints of :class:`EnforcementModel` across fields).
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (
                (self.detection_2016 < self.detection_max)
                & (self.detection_max + self.exit_rate <= 1.0)
                & (self.detection_2016 * self.sanction_weeks < 1.0)
                & (self.peak_share() <= MAX_FAKE_SHARE)
            )

    def simulate(
        self, intensity: np.ndarray, start: float | np.ndarray, entry_shocks: np.ndarray
    ) -> MarketPath:
        """The market week by week after the intensity changes from ``start``.

        Parameters
        ----------
        intensity : ndarray, shape (n_intensities,)
            Intensity from week 0 on.
        start : float or ndarray
            Intensity before week 0; week 0 opens in its steady state (an array broadcasts
            with the fields, e.g. one value per opening).
        entry_shocks : ndarray, shape (..., n_weeks)
            Standard-normal entry shocks by week, shared by every intensity (common random
            numbers); the leading axes broadcast with the fields.

        Returns
        -------
        MarketPath
            Arrays of shape ``(..., n_intensities, n_weeks)``.
        """
        hazard = self.detection(intensity)
        entry = self.entry(intensity)
        sd = np.asarray(self.entry_shock_sd)[..., None]  # fields (..., 1) -> (..., 1, 1)
        shocks = entry_shocks[..., None, :]  # (..., 1, n_weeks): the intensities' axis
        factor = np.exp(sd * shocks - 0.5 * sd**2)  # mean one
        stores = self.steady_stores(np.asarray(start, dtype=float))
        shape = np.broadcast_shapes(np.shape(stores), hazard.shape, factor.shape[:-1])
        stores = np.broadcast_to(stores, shape)
        n_weeks = entry_shocks.shape[-1]
        path = np.empty((*shape, n_weeks))
        for week in range(n_weeks):
            path[..., week] = stores
            stores = (1.0 - self.exit_rate - hazard) * stores + entry * factor[..., week]
        per_store = np.asarray(self.fake_share_2016 / self.stores_2016)[..., None]
        return MarketPath(
            stores=path,
            fake_share=per_store * path,
            closures=hazard[..., None] * path,
        )


class MarketPath(NamedTuple):
    """The market by week: active stores, suspected fakes per 10,000 orders, stores closed."""

    stores: np.ndarray
    fake_share: np.ndarray
    closures: np.ndarray
