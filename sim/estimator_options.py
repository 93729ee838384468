"""The options of each estimator: its ``[estimation.<name>]`` section, a frozen pydantic model.

Each class validates its section and turns it into the arguments of its model's constructor,
``fit`` and aggregation; :mod:`sim.estimators` (the registry) ties each to its estimator.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, StrictBool, StrictInt, model_validator

from models import SmallSample, ssc
from models.parameters import Parameters
from sim.bounds import MAX_PANEL_WEEKS


class EstimatorOptions(Parameters):
    """Base of an estimator's ``[estimation.<name>]`` section."""

    def columns(self) -> list[str]:
        """Panel columns the options read beyond the shared ones (clusters, covariates)."""
        return []

    def check_design(self, cumulative: tuple[int, int], n_periods: int | None, key: str) -> None:
        """Raise a ValueError if the options cannot serve a design: the event times summed
        into the multiplier and, when known, the number of periods of the panel. ``key`` names
        the section in the message (``<name>`` inside ``[estimation]``, ``estimation.<name>``
        in a whole config)."""


class AboveUnitClusterOptions(EstimatorOptions):
    """One cluster column above the unit, for an estimator whose variance sums unit-level
    scores (influence functions) by cluster: did's ``clustervars``, didimputation's
    ``cluster_var``."""

    clusters: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="one cluster column of the variance, above the unit (default: the unit)",
    )

    def columns(self) -> list[str]:
        return list(self.clusters or [])

    @property
    def cluster(self) -> str | None:
        """The ``cluster`` argument of the model."""
        return None if self.clusters is None else self.clusters[0]


class RobustInferenceOptions(EstimatorOptions):
    """The inference robust to a few dominant doses (few effective treated units): the
    leave-one-unit-out jackknife variance and the wild bootstrap pre-trend test."""

    jackknife: StrictBool = Field(
        False,
        description="CR3 standard errors: the leave-one-unit-out jackknife, clustered by the unit",
    )
    pretrend: Literal["wald", "bootstrap"] = Field(
        "wald",
        description="pre-trend test: analytic Wald, or its wild cluster bootstrap (null imposed)",
    )
    pretrend_draws: StrictInt = Field(
        999, ge=19, le=99_999, description="draws of the bootstrap pre-trend test"
    )

    @property
    def resamples_units(self) -> bool:
        """Whether the options ask for the jackknife or the bootstrap pre-trend test (both
        resample units: neither has a weighted or clustered version yet)."""
        return self.jackknife or self.pretrend == "bootstrap"

    def fit_options(self, seed: int) -> dict[str, object]:
        """The ``pretrend``, ``pretrend_draws`` and ``seed`` arguments of the model's ``fit``."""
        return {"pretrend": self.pretrend, "pretrend_draws": self.pretrend_draws, "seed": seed}


class SmallSampleOptions(Parameters):
    """``[estimation.<name>.ssc]``: the small-sample factor of a regression variance, fixest's
    ``ssc()`` (``models.ssc``; the defaults are fixest's)."""

    adj: StrictBool = Field(True, description="multiply by (n - 1) / (n - K)")
    fixef_k: Literal["nested", "none", "full"] = Field(
        "nested", description="fixed effects in K: all but those nested in a cluster, none, all"
    )
    cluster_adj: StrictBool = Field(
        True, description="multiply a clustered variance by G / (G - 1)"
    )
    cluster_df: Literal["min", "conventional"] = Field(
        "min",
        description="two-way clustering: one G / (G - 1) with the smallest G, or one per term",
    )
    t_df: Literal["min", "conventional"] | StrictInt = Field(
        "min", description="t degrees of freedom: smallest G - 1, n - K, or this positive number"
    )

    @model_validator(mode="after")
    def _positive_t_df(self) -> SmallSampleOptions:
        if isinstance(self.t_df, int) and self.t_df < 1:
            raise ValueError(f"t_df = {self.t_df}: expected 'min', 'conventional' or at least 1")
        return self

    def small_sample(self) -> SmallSample:
        """The settings as the ``ssc`` argument of a model's ``fit``."""
        return ssc(self.adj, self.fixef_k, self.cluster_adj, self.cluster_df, self.t_df)


class ClusteredOptions(RobustInferenceOptions):
    """Options of a regression estimator with goodwill's variance estimators."""

    vcov: Literal["iid", "HC1", "CRV1"] = Field(
        "CRV1", description="variance estimator (CRV1 is clustered)"
    )
    clusters: list[str] | None = Field(
        None, min_length=1, max_length=2, description="cluster columns for CRV1 (default: the unit)"
    )
    ssc: SmallSampleOptions = Field(
        default_factory=SmallSampleOptions,
        description="small-sample factor and t degrees of freedom (fixest's ssc())",
    )

    @model_validator(mode="after")
    def _clusters_need_crv1(self) -> ClusteredOptions:
        if self.clusters is not None and self.vcov != "CRV1":
            raise ValueError(f"clusters are only used with vcov = 'CRV1', not {self.vcov!r}")
        if self.jackknife and (self.vcov != "CRV1" or self.clusters is not None):
            raise ValueError(
                "jackknife = true replaces the CRV1 variance by the unit-clustered CR3; it "
                f"cannot go with vcov = {self.vcov!r} or clusters"
            )
        if self.jackknife and not self.ssc.small_sample().is_default:
            raise ValueError(
                "jackknife = true: the CR3 jackknife has no small-sample factor to set, got "
                f"ssc = {self.ssc.small_sample().label}"
            )
        return self

    def fit_options(self, seed: int) -> dict[str, object]:
        """``RobustInferenceOptions.fit_options`` and the ``ssc`` argument."""
        return {**super().fit_options(seed), "ssc": self.ssc.small_sample()}

    @property
    def vcov_spec(self) -> str | dict[str, list[str]]:
        """The ``vcov`` argument of the estimator's ``fit``."""
        if self.jackknife:
            return "CR3"
        if self.clusters is None:
            return self.vcov
        return {self.vcov: list(self.clusters)}

    def columns(self) -> list[str]:
        return list(self.clusters or [])


class TwfeOptions(ClusteredOptions):
    """Options of ``models.EventStudy``, the study's two-way fixed-effects event study."""

    window: tuple[StrictInt, StrictInt] = Field(
        (-4, 12), description="lowest and highest event time with its own coefficient"
    )
    ref: StrictInt = Field(-1, description="omitted reference event time")
    bin_endpoints: StrictBool = Field(
        True, description="pool event times beyond the window into its end points"
    )

    @model_validator(mode="after")
    def _window(self) -> TwfeOptions:
        lo, hi = self.window
        if lo >= hi:
            raise ValueError(f"window = [{lo}, {hi}]: expected lo < hi")
        if not lo <= self.ref <= hi:
            raise ValueError(f"ref = {self.ref} is outside window = [{lo}, {hi}]")
        if not self.bin_endpoints and (self.jackknife or self.pretrend == "bootstrap"):
            raise ValueError(
                "jackknife = true and pretrend = 'bootstrap' need bin_endpoints = true (they "
                "need every row of a balanced panel)"
            )
        return self

    def check_design(self, cumulative: tuple[int, int], n_periods: int | None, key: str) -> None:
        lo, hi = self.window
        first, last = cumulative
        if not lo <= first <= last <= hi:
            raise ValueError(
                f"cumulative = [{first}, {last}] must be inside {key}.window = [{lo}, {hi}]"
            )
        if n_periods is not None and max(-lo, hi) > n_periods - 1:
            raise ValueError(
                f"{key}.window = [{lo}, {hi}] reaches beyond the event times a {n_periods}-week "
                f"panel can show (-{n_periods - 1}..{n_periods - 1})"
            )


class CallawaySantAnnaOptions(RobustInferenceOptions, AboveUnitClusterOptions):
    """Options of ``models.CallawaySantAnna`` (its dynamic aggregation is reported)."""

    control: Literal["never", "notyet"] = Field(
        "never", description="control units: never treated, or not yet treated"
    )
    base_period: Literal["varying", "universal"] = Field(
        "varying", description="base of pre-treatment effects: previous period, or g - 1"
    )
    anticipation: StrictInt = Field(
        0, ge=0, le=MAX_PANEL_WEEKS, description="periods of anticipation (at most a panel's weeks)"
    )
    allow_unbalanced_panel: StrictBool = Field(
        False,
        description="did's allow_unbalanced_panel: on a panel with missing rows, each ATT(g, t) "
        "from the rows present in t and its base period (no intensity, jackknife or bootstrap "
        "pre-trend test there); false refuses an unbalanced panel",
    )
    na_rm: StrictBool = Field(
        False,
        description="did's na.rm: on an unbalanced panel, average the ATT(g, t) that can be "
        "estimated when some cannot (no rows of a cohort or its controls in a period); false "
        "refuses",
    )
    uniform_band: StrictBool = Field(
        True, description="also compute a 95% sup-t uniform band (seeded by the config's seed)"
    )
    balance_e: StrictInt | None = Field(
        None,
        ge=0,
        le=MAX_PANEL_WEEKS,
        description="did's balance_e: only cohorts observed at event times 0..balance_e, and "
        "only event times up to balance_e",
    )
    min_e: StrictInt | None = Field(
        None, description="did's min_e: the lowest event time of the dynamic aggregation"
    )
    max_e: StrictInt | None = Field(
        None, description="did's max_e: the highest event time of the dynamic aggregation"
    )

    @model_validator(mode="after")
    def _robust_inference_needs_never_treated_controls(self) -> CallawaySantAnnaOptions:
        if (self.jackknife or self.pretrend == "bootstrap") and self.control != "never":
            raise ValueError(
                "jackknife = true and pretrend = 'bootstrap' need control = 'never' (each unit "
                "either treated or a control)"
            )
        if self.resamples_units and self.clusters is not None:
            raise ValueError(
                "jackknife = true and pretrend = 'bootstrap' resample units: they cannot go "
                "with clusters"
            )
        if self.min_e is not None and self.max_e is not None and self.min_e > self.max_e:
            raise ValueError(f"min_e = {self.min_e} is above max_e = {self.max_e}")
        return self

    def check_design(self, cumulative: tuple[int, int], n_periods: int | None, key: str) -> None:
        first, last = cumulative
        lowest = -np.inf if self.min_e is None else self.min_e
        highest = min(
            np.inf if self.max_e is None else self.max_e,
            np.inf if self.balance_e is None else self.balance_e,
        )
        if not lowest <= first <= last <= highest:
            raise ValueError(
                f"cumulative = [{first}, {last}] must lie inside the event times of {key} "
                f"(min_e = {self.min_e}, max_e = {self.max_e}, balance_e = {self.balance_e})"
            )

    @property
    def dynamic_options(self) -> dict[str, int | bool | None]:
        """The ``balance_e``, ``min_e``, ``max_e`` and ``na_rm`` arguments of the dynamic
        aggregation."""
        return {
            "balance_e": self.balance_e,
            "min_e": self.min_e,
            "max_e": self.max_e,
            "na_rm": self.na_rm,
        }

    @property
    def vcov_spec(self) -> str:
        """The ``vcov`` argument of the model's ``fit``."""
        return "CR3" if self.jackknife else "CRV1"


class SunAbrahamOptions(ClusteredOptions):
    """Options of ``models.SunAbraham``."""

    control: Literal["never", "last"] = Field(
        "never", description="control cohort: never treated, or the last-treated cohort"
    )


class ImputationOptions(AboveUnitClusterOptions):
    """Options of ``models.ImputationDiD``."""

    anticipation: StrictInt = Field(
        0, ge=0, le=MAX_PANEL_WEEKS, description="periods of anticipation (at most a panel's weeks)"
    )
    leads: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_PANEL_WEEKS,
        description="fit this many pre-trend leads with the effects from one lead-augmented "
        "model, normalised at the last lead (ImputationDiD.event_study; what HonestDiD needs); "
        "omit for the plain fit",
    )

    @property
    def lead_times(self) -> tuple[range, int] | None:
        """The ``leads`` and ``ref`` arguments of ``event_study`` (None without leads): the
        ``leads`` event times just before the anticipation window, the last one the ref."""
        if self.leads is None:
            return None
        last = -1 - self.anticipation
        return range(last - self.leads + 1, last + 1), last
