"""One block of the goodwill-loss Monte Carlo: the pure kernel ``project_block``.

For every enforcement intensity, draw and week, the counterfeit-seller market
(:class:`~models.market.enforcement.EnforcementModel`) sets the share of orders that are fake,
and the platform's loss follows from the fitted per-yuan spend response
(:class:`~models.market.platform.GoodwillModel`). Each draw samples

* the response path from the fitted estimator's coefficient distribution (normal with its
  covariance),
* the market parameters given priors (lognormal around their values, truncated to the model's
  valid ranges), and
* process noise by week: the market's entry shock, the count of fake orders (normal
  approximation to a Poisson count) and their total value (normal approximation to a sum of
  that many values with the configured mean and coefficient of variation); both are floored
  at zero. At the platform's tens of thousands of fakes a week, the approximations' relative
  error is of order one over the square root of the count.

A draw uses the same numbers at every intensity (common random numbers), so the comparison of
intensities is not blurred by noise. Draw d takes its standard normals from its own stream,
``block_generator(seed, d, Stream.PROJECTION)``, and every computation on them is elementwise,
so a draw's numbers depend neither on the block it is computed in nor on the block size or the
executor (``sim.projection`` runs the blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.market.enforcement import EnforcementModel
from models.market.platform import GoodwillModel
from models.market.response import ResponsePath
from models.streams import Stream, block_generator

PER_WEEK_VARIABLES = (
    "fake_share",
    "stores",
    "fake_purchases",
    "fake_sales",
    "lost_spend",
    "goodwill_loss",
)
"""The arrays by (draw, intensity, week) that :func:`project_block` returns."""

PROBABILITIES = (
    "detection_2016",
    "detection_max",
    "exit_rate",
    "civil_probability",
    "conviction_probability",
    "probation_share",
)
"""Market fields that are probabilities: a prior draw above one is truncated just below it."""


@dataclass(frozen=True)
class ProjectionInputs:
    """Everything a block of draws is computed from (sent once to each dask worker).

    ``priors`` are (market field, log-scale sd) pairs in a fixed order; ``root`` is a square
    root of the response path's covariance (:meth:`ResponsePath.root`).
    """

    seed: int
    intensities: np.ndarray
    status_quo: float
    n_weeks: int
    n_draws: int
    block_size: int
    market: EnforcementModel
    platform: GoodwillModel
    priors: tuple[tuple[str, float], ...]
    response: ResponsePath
    root: np.ndarray

    @property
    def n_blocks(self) -> int:
        """Blocks of ``block_size`` draws (the last may be shorter)."""
        return -(-self.n_draws // self.block_size)

    def block_draws(self, block: int) -> range:
        """The draws of one block."""
        return range(block * self.block_size, min((block + 1) * self.block_size, self.n_draws))


def _draw_market(inputs: ProjectionInputs, normals: np.ndarray) -> dict[str, np.ndarray]:
    """Market values of each draw (column j of ``normals`` for prior j), shaped (n, 1).

    Lognormal draws are truncated to the model's valid ranges: probabilities below one,
    detection_max + exit_rate <= 1, and detection_2016 below both 0.99 detection_max and the
    rate at which the expected penalty would eat a store's whole profit.
    """
    model = inputs.market
    values = {
        name: getattr(model, name) * np.exp(sd * normals[:, j])
        for j, (name, sd) in enumerate(inputs.priors)
    }
    if not values:
        return {}
    for name in PROBABILITIES:
        if name in values:
            values[name] = np.minimum(values[name], 1.0 - 1e-9)
    exit_rate = values.get("exit_rate", model.exit_rate)
    top = np.minimum(values.get("detection_max", model.detection_max), 1.0 - exit_rate)
    sanction_weeks = model.market(**values).sanction_weeks
    detection = values.get("detection_2016", model.detection_2016)
    values["detection_max"] = np.broadcast_to(top, normals.shape[:1])
    values["detection_2016"] = np.minimum(
        detection, np.minimum(0.99 * top, 0.99 / sanction_weeks)
    ) * np.ones(normals.shape[0])
    return {name: value[:, None] for name, value in values.items()}


def project_block(inputs: ProjectionInputs, block: int) -> dict[str, np.ndarray]:
    """Compute one block of draws: arrays by (draw, intensity, week) and by draw."""
    draws = inputs.block_draws(block)
    n_priors = len(inputs.priors)
    horizon = inputs.response.mean.size
    n_weeks = inputs.n_weeks
    width = n_priors + horizon + 3 * n_weeks
    normals = np.empty((len(draws), width))
    for row, draw in enumerate(draws):
        normals[row] = block_generator(inputs.seed, draw, Stream.PROJECTION).standard_normal(width)
    prior_z = normals[:, :n_priors]
    path_z = normals[:, n_priors : n_priors + horizon]
    entry_z, count_z, value_z = (
        normals[:, n_priors + horizon + i * n_weeks : n_priors + horizon + (i + 1) * n_weeks]
        for i in range(3)
    )

    drawn = _draw_market(inputs, prior_z)
    market = inputs.market.market(**drawn)
    path = inputs.response.draw(path_z, inputs.root)
    state = market.simulate(inputs.intensities, inputs.status_quo, entry_z)

    platform = inputs.platform
    expected = platform.orders_per_week * state.fake_share / 1e4
    fakes = np.maximum(expected + np.sqrt(expected) * count_z[:, None, :], 0.0)
    value_sd = platform.fake_value_cv * platform.fake_value_mean
    sales = np.maximum(
        fakes * platform.fake_value_mean + np.sqrt(fakes) * value_sd * value_z[:, None, :], 0.0
    )
    lost, accrued = platform.losses(sales, fakes, path[:, None, :])
    result = {
        "fake_share": state.fake_share,
        "stores": state.stores,
        "fake_purchases": fakes,
        "fake_sales": sales,
        "lost_spend": lost,
        "goodwill_loss": accrued,
        "response_path": path,
    }
    for name, _ in inputs.priors:
        result[f"prior_{name}"] = drawn[name][:, 0]
    return result
