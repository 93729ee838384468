"""Calibrate the consumer response so the simulated truth hits a target multiplier."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from scipy.optimize import brentq

from models.consumer.draws import chunk_bounds
from models.consumer.spend_process import DEFAULT_CHUNK_SIZE, ConsumerSpendModel
from models.consumer.truth import WEIGHTINGS, per_yuan_effects, victim_expected_effects
from models.streams import Seed, check_seed


def calibrate_loss_per_yuan(
    model: ConsumerSpendModel,
    target_multiplier: float,
    n_consumers: int,
    n_weeks: int,
    seed: Seed,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[Iterable], Iterable] | None = None,
    xtol: float = 1e-10,
    weighting: str = "value",
) -> float:
    """Find ``response.loss_per_yuan`` at which the panel's true multiplier equals a target.

    The multiplier (see ``models.consumer.truth``) is the expected spend change over the response
    horizon per yuan of counterfeit, in purchase time over every victim (a report lag does not
    change it). Everything but the response is drawn once for the given population and seed;
    the multiplier is then monotone in ``loss_per_yuan`` and the root is found by Brent's
    method. Simulating the same population and seed with the returned value gives
    ``truth.multiplier == target_multiplier`` up to ``xtol``.

    Parameters
    ----------
    model : ConsumerSpendModel
        The process; its own ``response.loss_per_yuan`` is ignored.
    target_multiplier : float
        Signed target, e.g. -3.57 (the study: 3,570 yuan lost per 1,000-yuan fake).
    n_consumers, n_weeks, seed, chunk_size, progress
        As in :meth:`ConsumerSpendModel.simulate`.
    xtol : float
        Absolute tolerance on ``loss_per_yuan``.
    weighting : {"value", "intensity"}
        Which multiplier to calibrate: "value" (``truth.multiplier``, spend lost per yuan
        sold) or "intensity" (``truth.intensity_multiplier``, the target of a per-yuan event
        study); see ``models.consumer.truth``.

    Returns
    -------
    float
        The calibrated ``loss_per_yuan``.

    Raises
    ------
    ValueError
        If an input is invalid or the target cannot be reached: no victims, a panel too
        short for the horizon, or a target beyond what churn plus a fully capped response can
        remove, or below what churn alone removes.
    """
    check_seed(seed)
    if n_consumers < 1 or n_weeks < 2:
        raise ValueError(
            f"calibration needs n_consumers >= 1 and n_weeks >= 2, got {n_consumers} and {n_weeks}"
        )
    if not (math.isfinite(target_multiplier) and target_multiplier < 0):
        raise ValueError(
            f"the target multiplier must be a finite negative number (a loss), "
            f"got {target_multiplier}"
        )
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    model.check_weeks(n_weeks)
    parts = []
    chunks = chunk_bounds(n_consumers, chunk_size)
    for start, stop in progress(chunks) if progress else chunks:
        draws = model.draw(start, stop, n_weeks, seed)
        victims = draws.victims
        event_spend, _ = draws.victim_event_spend()
        parts.append(
            (
                event_spend,
                draws.first_fake_value,
                draws.response_multiplier[victims],
                draws.churned[victims],
            )
        )
    event_spend, fake_value, multiplier, churned = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    resp = model.response
    horizon = resp.horizon
    if fake_value.size == 0:
        raise ValueError(
            "calibration: the panel has no counterfeit buyers; raise consumer.exposure.fake_rate"
        )
    if n_weeks < horizon or np.isnan(event_spend[:, horizon - 1]).all():
        raise ValueError(
            f"calibration: no victim is observed at event week {horizon - 1} in a "
            f"{n_weeks}-week panel; lengthen panel.n_weeks or shorten consumer.response.horizon"
        )
    weights = resp.weights()

    def gap(loss_per_yuan: float) -> float:
        expected, _, _ = victim_expected_effects(
            loss_per_yuan, event_spend, fake_value, multiplier, churned, weights, resp.max_share
        )
        per_yuan = per_yuan_effects(expected, fake_value, weighting)
        return float(per_yuan[:horizon].sum()) - target_multiplier

    if gap(0.0) <= 0:
        raise ValueError(
            f"the target multiplier {target_multiplier} is smaller in size than the loss from "
            f"churn alone ({gap(0.0) + target_multiplier:.4g}); lower "
            "consumer.churn.probability or aim for a larger loss"
        )
    upper = 1.0
    while gap(upper) > 0:
        upper *= 2.0
        if upper > 1e6:
            reachable = gap(upper) + target_multiplier
            raise ValueError(
                f"the target multiplier {target_multiplier} is out of reach: with "
                f"consumer.response.max_share = {resp.max_share} the loss per yuan saturates "
                f"at {reachable:.4g}"
            )
    return float(brentq(gap, 0.0, upper, xtol=xtol))
