"""Sensitivity of the multiplier to violations of parallel trends (``[estimation.sensitivity]``).

With the section, ``goodwill run`` (and ``goodwill fit --out``) passes one fitted estimator's
event-time coefficients to HonestDiD (:func:`models.honest_did_from_results`, Rambachan and
Roth 2023) and writes ``trend_sensitivity.csv``: for each restriction (smoothness "SD",
relative magnitudes "RM") the usual interval, then the robust interval at each value of M (or
Mbar) of its grid, with the breakdown value. Without the section nothing is computed.

The restrictions speak of one period per coefficient, so an estimator whose end points pool
several event times (``bin_endpoints = true``), whose pre-period effects are not measured from
one reference period (Callaway-Sant'Anna's ``base_period = "varying"``) or that estimates no
pre-period coefficients jointly with its effects (imputation) is refused when the config is
read, the message naming the key to change.

Reference: Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel Trends",
Review of Economic Studies 90(5), 2555-2591.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, StrictFloat, field_validator, model_validator

from models import EventStudyResults
from models.estimation.honest_did import honest_did_from_results
from models.parameters import Parameters
from sim.estimator_options import EstimatorOptions, ImputationOptions
from sim.estimators import STUDY_ESTIMATOR, EstimatorName

if TYPE_CHECKING:
    from sim.estimation_settings import EstimationSettings

KEY = "estimation.sensitivity"
"""The section's place in a config, as error messages name its keys."""

GRID_KEYS = {"SD": "m", "RM": "mbar"}
"""The key of each restriction's grid."""

COLUMNS = [
    "estimator", "estimand", "target", "restriction", "method", "M", "lb", "ub", "lb_open",
    "ub_open", "breakdown",
]  # fmt: skip
"""The columns of ``trend_sensitivity.csv``."""


class TrendSensitivitySettings(Parameters):
    """``[estimation.sensitivity]``: HonestDiD's robust intervals for one fitted estimator.

    Defaults are HonestDiD's: smoothness only, for Delta^SD ten values of M from 0 to the
    pre-period bound, for Delta^RM ten values of Mbar on [0, 2], alpha = 0.05
    (:func:`models.honest_did`).
    """

    estimator: EstimatorName = Field(
        STUDY_ESTIMATOR, description="fitted estimator (one of estimation.estimators)"
    )
    estimand: Literal["intensity", "value"] = Field(
        "intensity", description="its estimand: intensity- or value-weighted"
    )
    restrictions: list[Literal["SD", "RM"]] = Field(
        ["SD"], min_length=1, description="SD (smoothness, FLCI) and/or RM (relative magnitudes)"
    )
    m: list[StrictFloat] | None = Field(
        None, min_length=1, description="grid of M for SD (default: HonestDiD's)"
    )
    mbar: list[StrictFloat] | None = Field(
        None, min_length=1, description="grid of Mbar for RM (default: HonestDiD's)"
    )
    target: Literal["cumulative", "first", "average"] = Field(
        "cumulative",
        description="theta: the sum over estimation.cumulative (the multiplier), the first "
        "post-reference effect, or the average post-reference effect",
    )
    alpha: StrictFloat = Field(0.05, gt=0, lt=1, description="one minus the coverage")

    @field_validator("m", "mbar")
    @classmethod
    def _increasing_nonnegative(cls, grid: list[float] | None) -> list[float] | None:
        if grid is not None and min(grid) < 0:
            raise ValueError(f"expected values >= 0, got {grid}")
        if grid is not None and any(b <= a for a, b in pairwise(grid)):
            raise ValueError(f"expected increasing values, got {grid}")
        return grid

    @model_validator(mode="after")
    def _check(self) -> TrendSensitivitySettings:
        if len(set(self.restrictions)) != len(self.restrictions):
            raise ValueError(f"restrictions = {self.restrictions}: each restriction at most once")
        for restriction, key in GRID_KEYS.items():
            if getattr(self, key) is not None and restriction not in self.restrictions:
                raise ValueError(
                    f"{key} is the grid of {restriction}, which is not among restrictions = "
                    f"{self.restrictions}"
                )
        return self

    def grid(self, restriction: str) -> list[float] | None:
        """The grid of M (SD) or Mbar (RM); None for HonestDiD's default."""
        return getattr(self, GRID_KEYS[restriction])


def check_trend_sensitivity(
    settings: TrendSensitivitySettings,
    estimators: list[str],
    options: dict[str, EstimatorOptions],
    intensity: str | None,
) -> None:
    """Raise a ValueError naming the key if the section does not fit ``[estimation]``: the
    estimator must be fitted, coefficients must be one period each, measured from one
    reference period, and the value-weighted estimand needs an intensity."""
    name = settings.estimator
    if name not in estimators:
        raise ValueError(
            f"{KEY}.estimator = {name!r} is not among estimation.estimators = {estimators}"
        )
    if settings.estimand == "value" and intensity is None:
        raise ValueError(f"{KEY}.estimand = 'value' needs estimation.intensity (a dose column)")
    chosen = options[name]
    if isinstance(chosen, ImputationOptions) and chosen.leads is None:
        raise ValueError(
            f"{KEY}.estimator = {name!r} needs estimation.{name}.leads: its plain fit has no "
            "pre-period coefficients (leads fits them with the effects, with their joint "
            "covariance)"
        )
    if getattr(chosen, "bin_endpoints", False):
        raise ValueError(
            f"{KEY} needs estimation.{name}.bin_endpoints = false: the binned end points pool "
            "several event times, and HonestDiD's restrictions speak of one period per "
            "coefficient"
        )
    if getattr(chosen, "base_period", "universal") != "universal":
        raise ValueError(
            f"{KEY} needs estimation.{name}.base_period = 'universal': HonestDiD needs every "
            "effect measured from the one reference period"
        )


def trend_sensitivity_table(
    fitted: EventStudyResults,
    settings: TrendSensitivitySettings,
    cumulative: tuple[int, int],
) -> pd.DataFrame:
    """HonestDiD's robust intervals of one fit, as ``trend_sensitivity.csv`` holds them.

    Parameters
    ----------
    fitted : EventStudyResults
        The fit of ``settings.estimator`` for ``settings.estimand``.
    settings : TrendSensitivitySettings
        The ``[estimation.sensitivity]`` section.
    cumulative : tuple of int
        ``estimation.cumulative``: the event times summed when the target is "cumulative".

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`. For each restriction, first the usual interval under exact
        parallel trends (``method`` "original", ``M`` empty), then one row per grid value
        (``M`` is M for SD, Mbar for RM; ``method`` "FLCI" or "C-LF"); ``breakdown``, the
        smallest grid value whose interval includes zero (empty if none), is repeated on
        every row of its restriction. ``lb_open``/``ub_open`` mark a bound that is the end of
        the theta values tested (RM only), beyond which the set may extend.

    Raises
    ------
    ValueError
        If the fit's event times do not allow HonestDiD (see
        :func:`models.honest_did_from_results`); the message names the estimator.
    """
    target = tuple(cumulative) if settings.target == "cumulative" else settings.target
    ref = -1 if fitted.ref is None else fitted.ref
    parts = []
    for restriction in settings.restrictions:
        try:
            found = honest_did_from_results(
                fitted,
                restriction,
                grid=settings.grid(restriction),
                target=target,
                ref=ref,
                alpha=settings.alpha,
            )
        except ValueError as exc:
            raise ValueError(f"{KEY}.estimator = {settings.estimator!r}: {exc}") from None
        robust = found.robust
        part = pd.DataFrame(
            {
                "restriction": restriction,
                "method": ["original", *robust["method"]],
                "M": [np.nan, *robust["M" if restriction == "SD" else "Mbar"]],
                "lb": [found.original[0], *robust["lb"]],
                "ub": [found.original[1], *robust["ub"]],
                "lb_open": [False, *robust["lb_open"]],
                "ub_open": [False, *robust["ub_open"]],
                "breakdown": found.breakdown,
            }
        )
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "target", _target_name(settings.target, cumulative))
    table.insert(0, "estimand", settings.estimand)
    table.insert(0, "estimator", settings.estimator)
    return table[COLUMNS]


def fitted_trend_sensitivity(
    results: Mapping[str, Mapping[str, EventStudyResults]], estimation: EstimationSettings
) -> pd.DataFrame | None:
    """:func:`trend_sensitivity_table` of the fit ``[estimation.sensitivity]`` names, from the
    fits by estimand and estimator (:data:`sim.fit.Fits`); None without the section."""
    settings = estimation.sensitivity
    if settings is None:
        return None
    fitted = results[settings.estimand][settings.estimator]
    return trend_sensitivity_table(fitted, settings, estimation.cumulative)


def _target_name(target: str, cumulative: tuple[int, int]) -> str:
    """The target as the table names it: ``cumulative 0..11``, ``first`` or ``average``."""
    return f"cumulative {cumulative[0]}..{cumulative[1]}" if target == "cumulative" else target


def describe_trend_sensitivity(table: pd.DataFrame) -> str:
    """Lines for the run summary: each restriction's original interval and breakdown value."""
    first = table.iloc[0]
    lines = [
        f"sensitivity to parallel trends (HonestDiD), {first['estimator']} "
        f"{first['estimand']}, target {first['target']}:"
    ]
    for restriction, rows in table.groupby("restriction", sort=False):
        original = rows.iloc[0]
        breakdown = original["breakdown"]
        name = "M" if restriction == "SD" else "Mbar"
        shown = "none on the grid" if np.isnan(breakdown) else f"{name} = {breakdown:.4g}"
        lines.append(
            f"  {restriction}: original CI [{original['lb']:.4f}, {original['ub']:.4f}], "
            f"breakdown {shown} (grid {rows['M'].min():.4g} to {rows['M'].max():.4g})"
        )
    return "\n".join(lines)
