"""The ``[decision]`` section: the uncertain inputs of the decision analysis and their ranges."""

from __future__ import annotations

from pydantic import Field, StrictFloat, StrictInt, model_validator

from models.parameters import Parameters

DECISION_INPUTS = {
    "detection_2016": ("market", (0.045, 0.075), "weekly detection at intensity 1 (fit: 0.062)"),
    "detection_max": ("market", (0.08, 0.2), "weekly detection as intensity grows unbounded"),
    "entry_elasticity": ("market", (0.3, 1.0), "deterrence elasticity of entry (fit: 0.64)"),
    "exit_rate": ("market", (0.01, 0.04), "weekly exit of an undetected store"),
    "fake_share_2016": ("market", (1.7, 2.5), "suspected fakes per 10,000 orders, 2016 (2.1)"),
    "response_scale": ("response", (0.5, 1.5), "multiplies the fitted per-yuan response path"),
    "take_rate": ("platform", (0.03, 1.0), "share of lost spend counted: revenue .. GMV"),
    "spillover_contacts": ("platform", (0.0, 4.0), "contacts per victim ('one fake loses five')"),
    "reputation_loss": ("platform", (0.0, 1e-4), "spend lost per fake per 10,000 orders"),
    "cost_per_fake": ("platform", (0.0, 700.0), "yuan per fake order (brand_cost_per_fake)"),
    "discount_rate": ("platform", (0.02, 0.10), "annual discount rate"),
    "churn_probability": ("platform", (0.0, 0.10), "share of victims who stop buying"),
}
"""The decision analysis's uncertain inputs: name -> (group, default uniform range, meaning).
Market names are EnforcementModel fields, platform names GoodwillModel fields except
``cost_per_fake`` (replaces ``brand_cost_per_fake``); ``response_scale`` scales the path."""


class DecisionSettings(Parameters):
    """Break-even, Sobol sensitivity and value of information (``sim.breakeven``,
    ``sim.sensitivity``): each input's uniform range (:data:`DECISION_INPUTS`) and sizes."""

    ranges: dict[str, tuple[StrictFloat, StrictFloat]] = Field(
        default_factory=lambda: {name: spec[1] for name, spec in DECISION_INPUTS.items()},
        description="uniform range [low, high] of each input of DECISION_INPUTS; the inputs "
        "left out keep their default ranges",
    )
    sobol_samples: StrictInt = Field(
        1024,
        ge=16,
        le=2**16,  # 64 times the baseline's: intervals 8 times narrower, 917,504 evaluations
        description="Saltelli base samples N (a power of 2; N (D + 2) evaluations)",
    )
    resamples: StrictInt = Field(
        200,
        ge=10,
        le=10_000,  # SALib holds a sobol_samples x resamples matrix (memory: sim.resources)
        description="bootstrap resamples of each interval",
    )
    confidence: StrictFloat = Field(0.95, gt=0, lt=1, description="coverage of the intervals")
    chunk_size: StrictInt = Field(
        256,
        ge=1,
        le=4096,  # a chunk holds about 400 bytes per sample, intensity and week
        description="samples evaluated at once (memory)",
    )
    max_horizon: StrictInt = Field(
        520, ge=13, le=2600, description="longest horizon in weeks the break-even searches"
    )

    @model_validator(mode="after")
    def _check(self) -> DecisionSettings:
        for name, (low, high) in self.ranges.items():
            if name not in DECISION_INPUTS:
                raise ValueError(f"ranges.{name}: not an input ({', '.join(DECISION_INPUTS)})")
            if not low < high:
                raise ValueError(f"ranges.{name} = [{low}, {high}]: expected low < high")
        if self.sobol_samples & (self.sobol_samples - 1):
            raise ValueError(f"sobol_samples = {self.sobol_samples}: expected a power of 2")
        return self

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Every input's range: the configured ones, the defaults for the rest."""
        return {name: self.ranges.get(name, spec[1]) for name, spec in DECISION_INPUTS.items()}
