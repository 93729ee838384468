"""One block of the goodwill-loss Monte Carlo: the pure kernel ``project_block``.

For every opening (the market's steady state before week 0: the status quo, or no
programme), enforcement intensity, draw and week, the counterfeit-seller market
(:class:`~models.market.enforcement.EnforcementModel`) sets the share of orders that are fake,
and the platform's costs follow (:func:`~models.market.cost_paths.cost_paths`: the victims'
lost spend through the fitted per-yuan response, the other channels of
:class:`~models.market.platform.GoodwillModel`, enforcement and the terminal value of the
stores left at the horizon). Each draw's cost-minimising intensity is then found on a
continuum (:func:`~models.market.optimum.continuous_minimum`). Each draw samples

* the response path from the fitted estimator's coefficient distribution (normal with its
  covariance),
* the market parameters: row d of a table computed once before the blocks
  (``ProjectionInputs.market_draws``: by default the posterior given Alibaba's published
  series, :mod:`sim.market_draws`), and
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

from models.market.cost_paths import CHANNELS, CostPaths, Noise, cost_paths
from models.market.enforcement import WEEKS_PER_YEAR, EnforcementModel, Market
from models.market.optimum import continuous_minimum
from models.market.platform import GoodwillModel
from models.market.response import ResponsePath
from models.streams import Stream, block_generator

PER_WEEK_VARIABLES = ("fake_share", "goodwill_loss")
"""The arrays by (draw, opening, intensity, week) that :func:`project_block` returns."""

TOTAL_VARIABLES = (
    *(f"loss_{channel}" for channel in CHANNELS),
    "terminal_value",
    "total_cost",
    "fake_orders",
    "lost_spend",
)
"""The arrays by (draw, opening, intensity) that :func:`project_block` returns: each channel's
present value over the horizon, the terminal value, the total cost (goodwill loss, enforcement
and terminal value), and the counterfeit orders and consumer spend lost over the horizon."""


@dataclass(frozen=True)
class ProjectionInputs:
    """Everything a block of draws is computed from (sent once to each dask worker).

    ``openings`` are the intensities before week 0 the market opens in (the status quo, and no
    programme); ``priors`` are (market field, log-scale sd) pairs in a fixed order (each draw's
    stream starts with one normal per prior); ``market_draws`` holds every draw's values of the
    market fields that vary, shape (n_draws,) each (posterior or prior draws,
    :mod:`sim.market_draws`); ``root`` is a square root of the response path's covariance
    (:meth:`ResponsePath.root`).
    """

    seed: int
    intensities: np.ndarray
    openings: np.ndarray
    n_weeks: int
    n_draws: int
    block_size: int
    market: EnforcementModel
    platform: GoodwillModel
    priors: tuple[tuple[str, float], ...]
    market_draws: dict[str, np.ndarray]
    response: ResponsePath
    root: np.ndarray

    @property
    def n_blocks(self) -> int:
        """Blocks of ``block_size`` draws (the last may be shorter)."""
        return -(-self.n_draws // self.block_size)

    def block_draws(self, block: int) -> range:
        """The draws of one block."""
        return range(block * self.block_size, min((block + 1) * self.block_size, self.n_draws))


def _draws(inputs: ProjectionInputs, draws: range) -> tuple[Market, np.ndarray, Noise, dict]:
    """The random inputs of some draws: market, response path, weekly noise, market values.

    Shapes: market fields (n, 1, 1) and path (n, 1, 1, horizon) broadcast over (draw,
    opening, intensity); the noise is by (draw, 1, 1, week).
    """
    n_priors = len(inputs.priors)
    horizon = inputs.response.mean.size
    n_weeks = inputs.n_weeks
    width = n_priors + horizon + 3 * n_weeks
    normals = np.empty((len(draws), width))
    for row, draw in enumerate(draws):
        normals[row] = block_generator(inputs.seed, draw, Stream.PROJECTION).standard_normal(width)
    weekly = normals[:, n_priors + horizon :].reshape(len(draws), 3, 1, 1, n_weeks)
    drawn = {name: values[draws.start : draws.stop] for name, values in inputs.market_draws.items()}
    market = inputs.market.market(**{name: value[:, None, None] for name, value in drawn.items()})
    path = inputs.response.draw(normals[:, n_priors : n_priors + horizon], inputs.root)
    noise = Noise(entry=weekly[:, 0, 0], count=weekly[:, 1], value=weekly[:, 2])
    return market, path[:, None, None, :], noise, drawn


def draw_costs(
    inputs: ProjectionInputs, draws: range, intensity: np.ndarray | None = None
) -> CostPaths:
    """The cost paths of some draws, by (draw, opening, intensity, week).

    ``intensity`` defaults to the projection's grid; an array of shape (n, n_openings, m)
    gives each draw and opening its own intensities (as the continuous optimum does).
    """
    market, path, noise, _ = _draws(inputs, draws)
    return _costs(inputs, market, path, noise, intensity)


def _costs(
    inputs: ProjectionInputs,
    market: Market,
    path: np.ndarray,
    noise: Noise,
    intensity: np.ndarray | None,
) -> CostPaths:
    return cost_paths(
        market,
        inputs.platform.platform(),
        path,
        inputs.intensities if intensity is None else intensity,
        inputs.openings[:, None],
        inputs.n_weeks,
        inputs.market.programme_cost / WEEKS_PER_YEAR,
        noise,
    )


def project_block(inputs: ProjectionInputs, block: int) -> dict[str, np.ndarray]:
    """Compute one block of draws: arrays by (draw, opening, intensity, week), by (draw,
    opening, intensity), by (draw, opening) (each draw's cost-minimising intensity and its
    cost) and by draw (the response path and the market's drawn values)."""
    market, path, noise, drawn = _draws(inputs, inputs.block_draws(block))
    paths = _costs(inputs, market, path, noise, None)
    total = paths.total_cost()
    optimum, minimum = continuous_minimum(
        lambda x: _costs(inputs, market, path, noise, x).total_cost(), inputs.intensities, total
    )
    result = {
        "fake_share": paths.fake_share,
        "goodwill_loss": paths.goodwill_loss,
        "terminal_value": paths.terminal_value,
        "total_cost": total,
        "fake_orders": paths.fake_orders.sum(axis=-1),
        "lost_spend": paths.lost_spend.sum(axis=-1),
        "optimal_intensity": optimum,
        "optimal_cost": minimum,
        "response_path": path[:, 0, 0, :],
    }
    for channel in CHANNELS:
        result[f"loss_{channel}"] = paths.costs[channel].sum(axis=-1)
    for name, values in drawn.items():
        result[f"market_{name}"] = values
    return result


def mean_cost_minimum(
    inputs: ProjectionInputs, grid_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The intensity with the lowest mean cost across draws, on a continuum, by opening.

    Parameters
    ----------
    inputs : ProjectionInputs
    grid_cost : ndarray, shape (n_openings, n_intensities)
        The mean total cost across draws at each grid intensity.

    Returns
    -------
    intensity, cost : ndarray, shape (n_openings,)
        Each evaluation recomputes every draw (block by block, serially) at the opening's
        trial intensity; the mean is over the draws in order, so it does not depend on the
        block size.
    """

    def mean_cost(intensity: np.ndarray) -> np.ndarray:
        totals = []
        for block in range(inputs.n_blocks):
            draws = inputs.block_draws(block)
            trial = np.broadcast_to(intensity, (len(draws), *intensity.shape))
            totals.append(draw_costs(inputs, draws, trial).total_cost())
        return np.concatenate(totals).mean(axis=0)

    return continuous_minimum(mean_cost, inputs.intensities, grid_cost)
