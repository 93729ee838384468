"""The commands that analyse a finished run without changing it: the calibrations, the
damages of one seller's counterfeit sales and the decision analysis (``goodwill calibrate``,
``calibrate-market``, ``damages``, ``breakeven``). :mod:`sim.jobs` exports them with the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models import ResponsePath, damages
from models.consumer.calibration import calibrate_loss_per_yuan
from sim.breakeven import breakeven, describe_breakeven
from sim.config import Config, ProjectionSettings, load_config
from sim.decision_settings import DecisionSettings
from sim.job_result import JobResult
from sim.market_draws import ENFORCEMENT_DATA, read_enforcement_data
from sim.market_summary import describe_market_calibration
from sim.rundir import read_response_path
from sim.sensitivity import describe_sensitivity, sensitivity


def calibrate(config_path: str | Path, target: float | None = None) -> JobResult:
    """The ``loss_per_yuan`` that hits a target multiplier on the config's own panel
    (``goodwill calibrate``); the target defaults to ``calibration.target_multiplier``."""
    config = load_config(config_path)
    calibration = config.calibration
    if target is None and calibration is None:
        raise ValueError(
            f"{config_path}: no calibration.target_multiplier; pass --target (e.g. -3.57)"
        )
    target = calibration.target_multiplier if target is None else target
    panel = config.panel
    loss_per_yuan = calibrate_loss_per_yuan(
        config.consumer,
        target,
        panel.n_consumers,
        panel.n_weeks,
        config.seed,
        panel.chunk_size,
        weighting="value" if calibration is None else calibration.weighting,
    )
    return JobResult(f"consumer.response.loss_per_yuan = {loss_per_yuan:.6f}  # hits {target:+g}")


def projected_config(config_path: str | Path) -> Config:
    """The config at ``config_path``, which must have ``[projection]``."""
    config = load_config(config_path)
    if config.projection is None:
        raise ValueError(f"{config_path}: no [projection] section")
    return config


def stored_response(config: Config) -> ResponsePath:
    """The response path the config's run stored, as ``[projection]`` selects it."""
    first, last = config.estimation.cumulative
    projection = config.projection
    return read_response_path(
        config.output.directory, projection.estimator, first, last, estimand=projection.estimand
    )


def estimate_damages(
    fake_sales: float, config_path: str | Path, interval: float = 0.90
) -> JobResult:
    """The platform's goodwill loss from one seller's counterfeit sales, with an interval
    (``goodwill damages``), on the response path the config's run stored."""
    config = projected_config(config_path)
    response = stored_response(config)
    loss = damages(config.projection.platform, response, fake_sales, interval)
    return JobResult(
        f"{fake_sales:,.0f} yuan of counterfeit sales cost the platform "
        f"{loss.goodwill_loss:,.0f} yuan of goodwill (present value of lost revenue; "
        f"{loss.interval:.0%} interval {loss.low:,.0f} to {loss.high:,.0f}, SE {loss.se:,.0f}) "
        f"through {loss.lost_spend:,.0f} yuan of lost consumer spend "
        f"({config.projection.estimator} {config.projection.estimand}-weighted response "
        f"{response.multiplier:+.3f} per yuan over "
        f"{response.mean.size} weeks)"
    )


def decision_analysis(
    config_path: str | Path,
    intensity: float | None = None,
    multiplier: float | None = None,
    with_sensitivity: bool = False,
) -> JobResult:
    """Break-even values of an intensity, and optionally the Sobol sensitivity and value of
    information (``goodwill breakeven``): expected costs given the config's parameters and
    the response path the config's run stored, or, with ``multiplier``, a flat path that sums
    to it over the response's event times (``estimation.cumulative``)."""
    config = load_config(config_path)
    if config.projection is None:
        raise ValueError(f"{config_path}: no [projection] section")
    if multiplier is None:
        response = stored_response(config)
    else:
        first, last = config.estimation.cumulative
        weeks = last - first + 1
        response = ResponsePath(np.full(weeks, multiplier / weeks), np.zeros((weeks, weeks)))
    decision = config.decision or DecisionSettings()
    lines = [describe_breakeven(breakeven(config.projection, response, intensity, decision))]
    if with_sensitivity:
        found = sensitivity(config.projection, response, decision, config.seed)
        lines.append(describe_sensitivity(found))
    return JobResult("\n\n".join(lines))


def calibrate_market(
    data: str | Path = ENFORCEMENT_DATA, config_path: str | Path | None = None
) -> JobResult:
    """Calibrate the enforcement market to Alibaba's published series and show the fit
    (``goodwill calibrate-market``).

    ``config_path``'s ``[projection.market]`` fixes the other parameters and its
    ``[projection.market_uncertainty]`` the intensity index, the posterior's settings and, with
    the config's seed (0 without a config), its draws. Shows the fit by year, the fit with each
    intensity index, the profile of the best fit over ``detection_max`` (the ridge) and the
    posterior's diagnostics next to the independent priors'.
    """
    settings = ProjectionSettings(intensities=[1.0])
    seed = 0
    if config_path is not None:
        config = load_config(config_path)
        seed = config.seed
        if config.projection is not None:
            settings = config.projection
    return JobResult(describe_market_calibration(settings, read_enforcement_data(data), seed))
