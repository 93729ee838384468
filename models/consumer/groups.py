"""Parameters of the consumer-spend data-generating process.

Each group is a frozen pydantic model: the defaults, their units and the allowed ranges live
here, next to each other, and a bad value is rejected on construction with a message that
names the field. The defaults are the calibrated study values documented in
``configs/baseline.toml`` (sources there) and in README.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, StrictBool, StrictFloat, StrictInt, model_validator

from models.parameters import Parameters


class Segment(Parameters):
    """A consumer segment: its population share and how its members behave."""

    name: str = Field(min_length=1, description="label stored in the panel's segment column")
    share: StrictFloat = Field(gt=0, le=1, description="share of consumers in the segment")
    purchase_prob: StrictFloat = Field(
        gt=0, lt=1, description="mean weekly probability of a purchase occasion"
    )
    basket_median: StrictFloat = Field(gt=0, description="median yuan spent on a purchase occasion")
    fake_rate_multiplier: StrictFloat = Field(
        1.0, ge=0, description="multiplies exposure.fake_rate for members"
    )
    response_multiplier: StrictFloat = Field(
        1.0, ge=0, description="multiplies the per-yuan spend loss for members"
    )
    churn_multiplier: StrictFloat = Field(
        1.0, ge=0, description="multiplies churn.probability for members"
    )
    weekly_trend: StrictFloat = Field(
        0.0,
        gt=-1,
        lt=1,
        description="growth of members' purchase probability per week on top of "
        "calendar.weekly_trend (0.01 = 1%); segments that differ in it and in exposure break "
        "parallel trends",
    )


DEFAULT_SEGMENTS = (
    Segment(
        name="occasional",
        share=0.50,
        purchase_prob=0.25,
        basket_median=220.0,
        fake_rate_multiplier=1.0,
        response_multiplier=1.3,
        churn_multiplier=1.5,
    ),
    Segment(
        name="regular",
        share=0.35,
        purchase_prob=0.55,
        basket_median=220.0,
        fake_rate_multiplier=1.0,
        response_multiplier=1.0,
        churn_multiplier=1.0,
    ),
    Segment(
        name="heavy",
        share=0.15,
        purchase_prob=0.85,
        basket_median=220.0,
        fake_rate_multiplier=1.0,
        response_multiplier=0.7,
        churn_multiplier=0.5,
    ),
)


class Baseline(Parameters):
    """Heterogeneity of baseline weekly spend and of account tenure."""

    purchase_concentration: StrictFloat = Field(
        4.0,
        gt=0,
        description="concentration of the Beta distribution of consumers' weekly purchase "
        "probability around their segment mean (larger: less heterogeneity)",
    )
    basket_consumer_sd: StrictFloat = Field(
        0.5, ge=0, description="standard deviation across consumers of the log basket median"
    )
    basket_week_sd: StrictFloat = Field(
        0.8, ge=0, description="standard deviation of a consumer's log basket across weeks"
    )
    tenure_mean: StrictFloat = Field(4.0, gt=0, description="mean account tenure in years")
    tenure_shape: StrictFloat = Field(2.0, gt=0, description="Gamma shape of account tenure")


class Promotion(Parameters):
    """A calendar week with a promotion (a shopping festival, say)."""

    week: StrictInt = Field(ge=1, description="panel week (1-based) of the promotion")
    purchase_multiplier: StrictFloat = Field(
        1.0, gt=0, description="multiplies every consumer's purchase probability that week"
    )
    basket_multiplier: StrictFloat = Field(
        1.0, gt=0, description="multiplies every basket that week"
    )


class Calendar(Parameters):
    """Calendar-week effects common to all consumers."""

    weekly_trend: StrictFloat = Field(
        0.0, gt=-1, lt=1, description="growth of purchase probability per week (0.01 = 1%)"
    )
    promotions: tuple[Promotion, ...] = Field((), description="weeks with a promotion spike")

    @model_validator(mode="after")
    def _unique_weeks(self) -> Calendar:
        weeks = [p.week for p in self.promotions]
        if len(set(weeks)) != len(weeks):
            raise ValueError(f"promotions must name each week at most once, got weeks {weeks}")
        return self


class Exposure(Parameters):
    """How counterfeits reach consumers."""

    fake_rate: StrictFloat = Field(
        0.01,
        ge=0,
        le=1,
        description="counterfeit orders per purchase occasion: a counterfeit arrives in a week "
        "with probability fake_rate times the week's purchase probability, independently of "
        "genuine purchases",
    )
    fake_rate_dispersion: StrictFloat = Field(
        1.0,
        ge=0,
        description="standard deviation of the log of a consumer's own multiplier of fake_rate "
        "(mean-one lognormal; 0 = every consumer faces the same rate); a consumer's rate is "
        "capped at 1",
    )
    value_ratio: StrictFloat = Field(
        0.5,
        gt=0,
        description="price of a counterfeit order relative to a genuine basket of the consumer",
    )
    scales_with_purchases: StrictBool = Field(
        True,
        description="true: a counterfeit arrives with probability fake_rate times the "
        "consumer's own purchase probability that week; false: fake_rate times the population "
        "mean purchase probability (the segments' share-weighted purchase_prob) times the "
        "calendar multiplier, so heavy buyers are no likelier to meet a fake",
    )
    value_tail: StrictFloat | None = Field(
        None,
        gt=1,
        description="tail index of a mean-one Pareto multiplier of each victim's counterfeit "
        "values (heavy-tailed dose; closer to 1: heavier); none: no multiplier",
    )
    report_lag: StrictInt = Field(
        0,
        ge=0,
        description="weeks from a counterfeit purchase to its record in the panel's fake_week "
        "(a complaint's confirmation); the response starts at the purchase, so estimators see "
        "it as anticipation; at most the panel's weeks - 1",
    )


class Response(Parameters):
    """The victim's intensive spend response to the first counterfeit."""

    loss_per_yuan: StrictFloat = Field(
        3.598,
        ge=0,
        description="yuan of the victim's spend lost over the horizon per yuan of counterfeit, "
        "before the cap at max_share and before churn (the calibration target sets it)",
    )
    horizon: StrictInt = Field(12, ge=1, le=104, description="weeks over which the response acts")
    decay: StrictFloat = Field(
        0.85,
        gt=0,
        le=1,
        description="geometric decay of the weekly loss (week k has weight decay**k); "
        "ignored when path is given",
    )
    path: tuple[StrictFloat, ...] | None = Field(
        None,
        description="explicit relative weekly loss for event weeks 0..horizon-1 "
        "(normalised to sum to one); replaces the geometric decay",
    )
    dispersion: StrictFloat = Field(
        0.5, ge=0, description="standard deviation of a victim's log response multiplier"
    )
    tenure_slope: StrictFloat = Field(
        -0.05, description="change in the log response per year of tenure above the mean"
    )
    max_share: StrictFloat = Field(
        1.0,
        gt=0,
        le=1,
        description="largest share of a week's expected spend the intensive response can remove",
    )
    cohort_slope: StrictFloat = Field(
        0.0,
        ge=-1,
        le=1,
        description="change in the log response per week of the first fake's purchase week "
        "after the panel's first (effects that differ across cohorts)",
    )

    @model_validator(mode="after")
    def _check_path(self) -> Response:
        if self.path is not None:
            if len(self.path) != self.horizon:
                raise ValueError(
                    f"path must have horizon = {self.horizon} entries, got {len(self.path)}"
                )
            if min(self.path) < 0 or not math.isfinite(sum(self.path)) or sum(self.path) <= 0:
                raise ValueError("path entries must be >= 0 with a positive finite sum")
        return self

    def weights(self) -> np.ndarray:
        """Share of the horizon's loss that falls in each event week 0..horizon-1 (sums to 1)."""
        if self.path is not None:
            raw = np.asarray(self.path, dtype=float)
        else:
            raw = self.decay ** np.arange(self.horizon, dtype=float)
        return raw / raw.sum()


class Churn(Parameters):
    """Extensive margin: a victim stops buying altogether."""

    probability: StrictFloat = Field(
        0.05,
        ge=0,
        le=1,
        description="probability that a victim stops buying from the week after the fake on",
    )


class Spillover(Parameters):
    """Word of mouth: victims' contacts outside the panel cut their spend too."""

    contacts: StrictFloat = Field(
        0.0, ge=0, description="mean number of other consumers a victim tells (Poisson)"
    )
    share: StrictFloat = Field(
        0.2,
        ge=0,
        le=1,
        description="each contact's spend loss as a share of the victim's intended loss",
    )


class Activity(Parameters):
    """Consumers who join the panel after its first week or leave it before its last.

    Weeks 1-based: a joiner's first observed week is uniform over 2..n_weeks-1 (2..n_weeks-2
    if it also leaves), a leaver's last uniform over the week after its first..n_weeks-1, so
    every window is contiguous with at least two weeks (``models.consumer.window``). Outside
    its window a consumer makes no purchase, meets no counterfeit and has no row in the panel.
    """

    join_share: StrictFloat = Field(
        0.0, ge=0, le=1, description="share of consumers who join after the panel's first week"
    )
    leave_share: StrictFloat = Field(
        0.0, ge=0, le=1, description="share of consumers who leave before the panel's last week"
    )

    @property
    def balanced(self) -> bool:
        """Whether every consumer is observed in every week (no joiners, no leavers)."""
        return self.join_share == 0 and self.leave_share == 0
