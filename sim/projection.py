"""The goodwill-loss Monte Carlo: ``project_goodwill`` runs the blocks and assembles the output.

Each block of draws is computed by the pure kernel :func:`models.market.loss_draws.project_block`
(which documents what a draw samples); here the blocks run serially or on dask
(:mod:`sim.executors`), are saved as they finish (:mod:`sim.checkpoint`) and are summarised
into one xarray Dataset by opening, intensity, draw and week with units and the run's config,
seed and version; then the intensity with the lowest mean cost is found on a continuum
(:func:`models.market.loss_draws.mean_cost_minimum`, a serial pass over the draws). Blocks of
draws are the unit of work and of checkpointing: a run started again with the same inputs
computes only the blocks that are missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from models import EventStudyResults, ResponsePath
from models.market.cost_paths import CHANNELS
from models.market.loss_draws import (
    PER_WEEK_VARIABLES,
    TOTAL_VARIABLES,
    ProjectionInputs,
    mean_cost_minimum,
    project_block,
)
from sim.checkpoint import Checkpoint, fingerprint, remove_checkpoint
from sim.config import Config, ProjectionSettings
from sim.costs import projection_summary
from sim.executors import run_resumable
from sim.market_draws import market_draws
from sim.rundir import CHECKPOINT, RunDirectory
from sim.version import package_version

PV = "yuan, present value at week 0"
UNITS = {
    "fake_share": "suspected fakes per 10,000 orders",
    "goodwill_loss": f"{PV} of the platform's loss from the week's counterfeits (all channels)",
    "goodwill_loss_cumulative": f"{PV}: the goodwill loss summed to the end of the week, "
    "quantiles across draws",
    **{f"loss_{channel}": f"{PV}, summed over the horizon" for channel in CHANNELS},
    "terminal_value": f"{PV} of the counterfeit stores left open at the horizon",
    "enforcement_cost": PV,
    "total_cost": f"{PV}: goodwill loss and enforcement over the horizon, and terminal value",
    "fake_orders": "counterfeit orders over the horizon",
    "lost_spend": "yuan of consumer spend lost over the horizon (undiscounted)",
    "response_path": "yuan of spend per yuan of counterfeit (signed)",
    "response_multiplier": "yuan of spend per yuan of counterfeit (signed)",
    "optimal_intensity": "multiples of the 2016 programme",
    "optimal_cost": PV,
    "mean_optimal_intensity": "multiples of the 2016 programme",
    "mean_optimal_cost": f"{PV}, mean across draws",
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantiles across draws of the cumulative goodwill loss stored by week (the fan chart's)."""
OPENINGS = ("status_quo", "no_programme")
"""The questions a projection answers: should we stop (the market opens in the status quo's
steady state) and should we have started (it opens with no programme)."""


def projection_inputs(
    settings: ProjectionSettings, response: ResponsePath, seed: int
) -> ProjectionInputs:
    """The inputs of every block of draws, from the ``[projection]`` settings."""
    return ProjectionInputs(
        seed=seed,
        intensities=np.asarray(settings.intensities, dtype=float),
        openings=np.array([settings.status_quo, 0.0]),
        n_weeks=settings.n_weeks,
        n_draws=settings.n_draws,
        block_size=settings.block_size,
        market=settings.market,
        platform=settings.platform,
        priors=tuple(sorted(settings.priors.items())),
        market_draws=market_draws(settings, settings.n_draws, seed),
        response=response,
        root=response.root(),
    )


def project_goodwill(
    config: Config,
    response: ResponsePath | EventStudyResults,
    *,
    checkpoint: str | Path | None = None,
    progress: bool = False,
    version: str | None = None,
) -> xr.Dataset:
    """Project the platform's goodwill loss and costs under each enforcement intensity.

    Parameters
    ----------
    config : Config
        A config with a ``[projection]`` section (and the ``[estimation]`` it projects).
    response : ResponsePath or EventStudyResults
        The per-yuan spend response; fitted results give the event times of
        ``estimation.cumulative`` (the study's 12 weeks) with their covariance.
    checkpoint : str or pathlib.Path, optional
        Directory for finished blocks. A run started again with the same inputs resumes
        from it and ends with exactly the result of an uninterrupted run. The caller removes
        it once the output is safely written.
    progress : bool
        Show a progress bar over blocks on a terminal.
    version : str, optional
        Version stored in the attrs and part of the checkpoint's fingerprint (default: the
        installed package's).

    Returns
    -------
    xarray.Dataset
        Dims ``opening`` (``status_quo``: the market opens in the status quo's steady state,
        "should we stop?"; ``no_programme``: it opens with none, "should we have started?"),
        ``intensity``, ``draw``, ``week`` (and ``event_week`` of the response path). By
        (opening, intensity, week): the fake share and the goodwill loss (all channels), means
        across draws, and quantiles across draws of the cumulative goodwill loss (the per-draw
        weekly arrays of a ten-year projection would take hundreds of megabytes); by (opening,
        intensity, draw):
        each channel's loss, the terminal value of the stores left at the horizon, the total
        cost, the counterfeit orders and the lost spend; enforcement cost by (intensity,
        week); each draw's cost-minimising intensity on a continuum and, by opening, the one
        with the lowest mean cost; the drawn response paths, multipliers and market
        parameters by draw. Each variable has its units; the attrs hold the config, seed and
        version.

    Examples
    --------
    >>> ds = project_goodwill(config, run_result.estimates["value"]["twfe"])  # doctest: +SKIP
    >>> projection_summary(ds)  # doctest: +SKIP
    """
    settings = config.projection
    if settings is None:
        raise ValueError("config has no [projection] section")
    version = package_version() if version is None else version
    if isinstance(response, EventStudyResults):
        first, last = config.estimation.cumulative
        response = ResponsePath.from_results(response, first, last)
    inputs = projection_inputs(settings, response, config.seed)

    outputs = _Outputs(inputs)
    run_resumable(
        project_block,
        inputs,
        inputs.n_blocks,
        outputs.put,
        checkpoint=(
            None
            if checkpoint is None
            else Checkpoint(Path(checkpoint), fingerprint(inputs, version))
        ),
        progress=progress,
        desc="project",
        executor=settings.executor,
        scheduler=settings.scheduler,
        n_workers=settings.n_workers,
    )
    mean_cost = outputs.totals["total_cost"].mean(axis=2)  # (opening, intensity)
    return outputs.dataset(config, version, mean_cost_minimum(inputs, mean_cost))


class _Outputs:
    """The projection's arrays in their final (opening, intensity, draw, ...) layout, filled
    block by block as blocks finish (so a block's arrays are dropped as soon as they are
    copied)."""

    def __init__(self, inputs: ProjectionInputs) -> None:
        self.inputs = inputs
        shape = (inputs.openings.size, inputs.intensities.size, inputs.n_draws)
        self.per_week = {name: np.empty((*shape, inputs.n_weeks)) for name in PER_WEEK_VARIABLES}
        self.totals = {name: np.empty(shape) for name in TOTAL_VARIABLES}
        self.optima = {name: np.empty(shape[::2]) for name in ("optimal_intensity", "optimal_cost")}
        self.per_draw = {"response_path": np.empty((inputs.n_draws, inputs.response.mean.size))}
        for name in inputs.market_draws:
            self.per_draw[f"market_{name}"] = np.empty(inputs.n_draws)

    def put(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        draws = self.inputs.block_draws(block)
        rows = slice(draws.start, draws.stop)
        for name, values in self.per_week.items():
            values[:, :, rows] = arrays[name].transpose(1, 2, 0, 3)
        for name, values in self.totals.items():
            values[:, :, rows] = arrays[name].transpose(1, 2, 0)
        for name, values in self.optima.items():
            values[:, rows] = arrays[name].T
        for name, values in self.per_draw.items():
            values[rows] = arrays[name]

    def dataset(
        self, config: Config, version: str, mean_optimum: tuple[np.ndarray, np.ndarray]
    ) -> xr.Dataset:
        """The Dataset, given the intensity with the lowest mean cost and that cost by
        opening."""
        inputs = self.inputs
        cube = ("opening", "intensity", "draw")
        by_week = ("opening", "intensity", "week")
        data = {
            name: (by_week, values.mean(axis=2), {"units": UNITS[name] + ", mean across draws"})
            for name, values in self.per_week.items()
        }
        cumulative = np.quantile(self.per_week["goodwill_loss"].cumsum(axis=3), QUANTILES, axis=2)
        data["goodwill_loss_cumulative"] = (
            ("quantile", *by_week),
            cumulative,
            {"units": UNITS["goodwill_loss_cumulative"]},
        )
        data.update(
            {name: (cube, values, {"units": UNITS[name]}) for name, values in self.totals.items()}
        )
        data.update(
            {
                name: (("opening", "draw"), values, {"units": UNITS[name]})
                for name, values in self.optima.items()
            }
        )
        weeks = np.arange(inputs.n_weeks)
        discount = inputs.platform.weekly_discount**weeks
        enforcement = inputs.market.enforcement_cost(inputs.intensities)[:, None] * discount
        data["enforcement_cost"] = (
            ("intensity", "week"),
            enforcement,
            {"units": UNITS["enforcement_cost"]},
        )
        mean_x, mean_cost = mean_optimum
        data["mean_optimal_intensity"] = (
            "opening",
            mean_x,
            {"units": UNITS["mean_optimal_intensity"]},
        )
        data["mean_optimal_cost"] = ("opening", mean_cost, {"units": UNITS["mean_optimal_cost"]})
        path = self.per_draw["response_path"]
        data["response_path"] = (("draw", "event_week"), path, {"units": UNITS["response_path"]})
        data["response_multiplier"] = (
            "draw",
            path.sum(axis=1),
            {"units": UNITS["response_multiplier"]},
        )
        draws = config.projection.market_uncertainty.draws
        for name in inputs.market_draws:
            data[f"market_{name}"] = (
                "draw",
                self.per_draw[f"market_{name}"],
                {"units": f"the market's {name}, drawn from the {draws}"},
            )
        return xr.Dataset(
            data,
            coords={
                "opening": list(OPENINGS),
                "quantile": list(QUANTILES),
                "opening_intensity": ("opening", inputs.openings),
                "intensity": inputs.intensities,
                "draw": np.arange(inputs.n_draws),
                "week": weeks,
                "event_week": np.arange(inputs.response.mean.size),
            },
            attrs={
                "title": "goodwill: counterfeit goodwill loss under enforcement intensities",
                "config": config.model_dump_json(),
                "seed": config.seed,
                "goodwill_version": version,
                "estimator": config.projection.estimator,
                "status_quo_intensity": float(inputs.openings[0]),
                "response_multiplier": inputs.response.multiplier,
                "intensity_units": "multiples of the 2016 programme (1 billion yuan a year)",
            },
        )


def write_projection(directory: RunDirectory, ds: xr.Dataset) -> None:
    """Write ``projection.nc`` and ``projection_summary.csv`` into a claimed run directory,
    then remove the checkpoint the projection resumed from."""
    directory.write("projection.nc", ds)
    directory.write("projection_summary.csv", projection_summary(ds))
    remove_checkpoint(directory.path / CHECKPOINT)
