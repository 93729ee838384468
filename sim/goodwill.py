"""The goodwill-loss Monte Carlo: ``project_goodwill`` and what it writes.

For every enforcement intensity, draw and week, the counterfeit-seller market
(``models.EnforcementModel``) sets the share of orders that are fake, and the platform's loss
follows from the fitted per-yuan spend response (``models.GoodwillModel``). Each draw samples

* the response path from the fitted estimator's coefficient distribution (normal with its
  covariance),
* the market parameters named in ``[projection.priors]`` (lognormal around their values,
  truncated to the model's valid ranges), and
* process noise by week: the market's entry shock, the count of fake orders (normal
  approximation to a Poisson count) and their total value (normal approximation to a sum of
  that many values with the configured mean and coefficient of variation); both are floored
  at zero. At the platform's tens of thousands of fakes a week, the approximations' relative
  error is of order one over the square root of the count.

A draw uses the same numbers at every intensity (common random numbers), so the comparison of
intensities is not blurred by noise.

Reproducibility. Draw d takes its standard normals from its own stream,
``block_generator(seed, d, Stream.PROJECTION)``, and every computation on them is elementwise, so a
draw's numbers do not depend on the block it is computed in, the block size or the executor.
Blocks of draws are the unit of work and of checkpointing: each finished block is saved in
the checkpoint directory, and a run started again with the same inputs computes only the
blocks that are missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

from models import EnforcementModel, EventStudyResults, GoodwillModel, ResponsePath
from models.streams import Stream, block_generator
from sim.config import Config, ProjectionSettings
from sim.executors import run_blocks
from sim.store import atomic_path, write_csv, write_netcdf
from sim.version import package_version

log = logging.getLogger(__name__)

ENFORCEMENT_DATA = Path(__file__).parent / "data" / "alibaba_enforcement.csv"
"""Alibaba's published anti-counterfeiting figures, 2015-2019 (sources in the file)."""

CHECKPOINT = ".projection-checkpoint"
"""Checkpoint directory of a projection, inside its run directory."""

PER_WEEK_VARIABLES = (
    "fake_share",
    "stores",
    "fake_purchases",
    "fake_sales",
    "lost_spend",
    "goodwill_loss",
)

UNITS = {
    "fake_share": "suspected fakes per 10,000 orders",
    "stores": "active counterfeit stores",
    "fake_purchases": "counterfeit orders a week",
    "fake_sales": "yuan a week",
    "lost_spend": "yuan a week of consumer spend lost (undiscounted)",
    "goodwill_loss": "yuan, present value at week 0 of the platform revenue the week's "
    "counterfeits cost",
    "enforcement_cost": "yuan, present value at week 0",
    "total_cost": "yuan, present value at week 0",
    "response_path": "yuan of spend per yuan of counterfeit (signed)",
    "response_multiplier": "yuan of spend per yuan of counterfeit (signed)",
    "optimal_intensity": "multiples of the 2016 programme",
}

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
    """Everything a block of draws is computed from (sent once to each dask worker)."""

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

    @classmethod
    def from_settings(
        cls, settings: ProjectionSettings, response: ResponsePath, seed: int
    ) -> ProjectionInputs:
        return cls(
            seed=seed,
            intensities=np.asarray(settings.intensities, dtype=float),
            status_quo=settings.status_quo,
            n_weeks=settings.n_weeks,
            n_draws=settings.n_draws,
            block_size=settings.block_size,
            market=settings.market,
            platform=settings.platform,
            priors=tuple(sorted(settings.priors.items())),
            response=response,
            root=response.root(),
        )

    @property
    def n_blocks(self) -> int:
        return -(-self.n_draws // self.block_size)

    def block_draws(self, block: int) -> range:
        return range(block * self.block_size, min((block + 1) * self.block_size, self.n_draws))

    def fingerprint(self, version: str) -> str:
        """A hash of every input: a checkpoint is reused only by the same computation."""
        digest = hashlib.sha256()
        text = json.dumps(
            {
                "seed": self.seed,
                "intensities": self.intensities.tolist(),
                "status_quo": self.status_quo,
                "n_weeks": self.n_weeks,
                "n_draws": self.n_draws,
                "block_size": self.block_size,
                "market": self.market.model_dump(),
                "platform": self.platform.model_dump(),
                "priors": self.priors,
                "version": version,
            },
            sort_keys=True,
        )
        digest.update(text.encode())
        digest.update(self.response.mean.tobytes())
        digest.update(self.response.cov.tobytes())
        return digest.hexdigest()


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


class _Checkpoint:
    """Finished blocks saved as ``block-NNNNNN.npz`` under a directory, with the inputs'
    fingerprint; a directory with another fingerprint is cleared first."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        stamp = directory / "fingerprint"
        if directory.exists() and (not stamp.is_file() or stamp.read_text().strip() != fingerprint):
            log.info("%s: checkpoint of other inputs, starting afresh", directory)
            shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not stamp.is_file():
            with atomic_path(stamp) as tmp:
                tmp.write_text(fingerprint + "\n")

    def path(self, block: int) -> Path:
        return self.directory / f"block-{block:06d}.npz"

    def finished(self, n_blocks: int) -> list[int]:
        return [b for b in range(n_blocks) if self.path(b).is_file()]

    def load(self, block: int) -> dict[str, np.ndarray]:
        with np.load(self.path(block)) as data:
            return {name: data[name] for name in data.files}

    def save(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        with atomic_path(self.path(block)) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **arrays)


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
        Dims ``intensity``, ``draw``, ``week`` (and ``event_week`` of the response path):
        fake share, active stores, fake purchases and sales, lost spend, goodwill loss,
        enforcement cost and total cost, each with its units; the drawn response paths,
        multipliers and market parameters by draw; the cost-minimising intensity of each
        draw. The attrs hold the config, seed and version.

    Examples
    --------
    >>> ds = project_goodwill(config, run_result.estimates["twfe"])  # doctest: +SKIP
    >>> projection_summary(ds)  # doctest: +SKIP
    """
    settings = config.projection
    if settings is None:
        raise ValueError("config has no [projection] section")
    version = package_version() if version is None else version
    if isinstance(response, EventStudyResults):
        first, last = config.estimation.cumulative
        response = ResponsePath.from_results(response, first, last)
    inputs = ProjectionInputs.from_settings(settings, response, config.seed)

    outputs = _Outputs(inputs)
    finished: list[int] = []
    store = None
    if checkpoint is not None:
        store = _Checkpoint(Path(checkpoint), inputs.fingerprint(version))
        finished = store.finished(inputs.n_blocks)
        for block in finished:
            outputs.put(block, store.load(block))
        if finished:
            log.info("resumed %d of %d blocks from %s", len(finished), inputs.n_blocks, checkpoint)
    bar = tqdm(
        total=inputs.n_blocks,
        initial=len(finished),
        desc="project",
        unit="block",
        disable=None if progress else True,
        leave=False,
    )

    def done(block: int, arrays: dict[str, np.ndarray]) -> None:
        if store is not None:
            store.save(block, arrays)
        outputs.put(block, arrays)
        bar.update()

    missing = sorted(set(range(inputs.n_blocks)) - set(finished))
    try:
        run_blocks(
            project_block,
            inputs,
            missing,
            done,
            executor=settings.executor,
            scheduler=settings.scheduler,
            n_workers=settings.n_workers,
        )
    finally:
        bar.close()
    return outputs.dataset(config, version)


class _Outputs:
    """The projection's arrays in their final (intensity, draw, week) layout, filled block by
    block as blocks finish (so a block's arrays are dropped as soon as they are copied)."""

    def __init__(self, inputs: ProjectionInputs) -> None:
        self.inputs = inputs
        shape = (inputs.intensities.size, inputs.n_draws, inputs.n_weeks)
        self.per_week = {name: np.empty(shape) for name in PER_WEEK_VARIABLES}
        self.per_draw = {"response_path": np.empty((inputs.n_draws, inputs.response.mean.size))}
        for name, _ in inputs.priors:
            self.per_draw[f"prior_{name}"] = np.empty(inputs.n_draws)

    def put(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        draws = self.inputs.block_draws(block)
        rows = slice(draws.start, draws.stop)
        for name, values in self.per_week.items():
            values[:, rows] = arrays[name].transpose(1, 0, 2)
        for name, values in self.per_draw.items():
            values[rows] = arrays[name]

    def dataset(self, config: Config, version: str) -> xr.Dataset:
        inputs = self.inputs
        dims3 = ("intensity", "draw", "week")
        data = {
            name: (dims3, values, {"units": UNITS[name]}) for name, values in self.per_week.items()
        }
        weeks = np.arange(inputs.n_weeks)
        discount = inputs.platform.weekly_discount**weeks
        enforcement = inputs.market.enforcement_cost(inputs.intensities)[:, None] * discount
        data["enforcement_cost"] = (
            ("intensity", "week"),
            enforcement,
            {"units": UNITS["enforcement_cost"]},
        )
        total = self.per_week["goodwill_loss"] + enforcement[:, None, :]
        data["total_cost"] = (dims3, total, {"units": UNITS["total_cost"]})
        path = self.per_draw["response_path"]
        data["response_path"] = (("draw", "event_week"), path, {"units": UNITS["response_path"]})
        data["response_multiplier"] = (
            "draw",
            path.sum(axis=1),
            {"units": UNITS["response_multiplier"]},
        )
        for name, sd in inputs.priors:
            data[f"prior_{name}"] = ("draw", self.per_draw[f"prior_{name}"], {"log_sd": sd})
        cost = total.sum(axis=2)  # (intensity, draw)
        data["optimal_intensity"] = (
            "draw",
            inputs.intensities[np.argmin(cost, axis=0)],
            {"units": UNITS["optimal_intensity"]},
        )
        return xr.Dataset(
            data,
            coords={
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
                "status_quo_intensity": inputs.status_quo,
                "response_multiplier": inputs.response.multiplier,
                "intensity_units": "multiples of the 2016 programme (1 billion yuan a year)",
            },
        )


def projection_summary(ds: xr.Dataset, interval: float = 0.90) -> pd.DataFrame:
    """Total cost over the projected weeks by intensity.

    Columns: the mean and the ``interval`` (default 90%) quantile interval across draws of
    the total cost, its goodwill-loss and enforcement parts (means), and the share of draws
    in which the intensity is the cheapest. Yuan, present value at week 0.
    """
    total = ds["total_cost"].sum("week")
    low, high = (1 - interval) / 2, (1 + interval) / 2
    optimal = ds["optimal_intensity"].to_numpy()
    intensities = ds["intensity"].to_numpy()
    table = pd.DataFrame(
        {
            "total_cost_mean": total.mean("draw").to_numpy(),
            f"total_cost_q{low * 100:g}": total.quantile(low, "draw").to_numpy(),
            f"total_cost_q{high * 100:g}": total.quantile(high, "draw").to_numpy(),
            "goodwill_loss_mean": ds["goodwill_loss"].sum("week").mean("draw").to_numpy(),
            "enforcement_cost": ds["enforcement_cost"].sum("week").to_numpy(),
            "fake_share_mean": ds["fake_share"].mean(("draw", "week")).to_numpy(),
            "optimal_share": [(optimal == x).mean() for x in intensities],
        },
        index=pd.Index(intensities, name="intensity"),
    )
    return table


def optimal_intensity(ds: xr.Dataset, interval: float = 0.90) -> dict[str, float]:
    """The intensity with the lowest mean total cost, and the across-draw distribution of
    each draw's cost-minimising intensity (mean, median and ``interval`` quantiles)."""
    mean_cost = ds["total_cost"].sum("week").mean("draw")
    per_draw = ds["optimal_intensity"].to_numpy()
    low, high = (1 - interval) / 2, (1 + interval) / 2
    return {
        "intensity": float(ds["intensity"][int(mean_cost.argmin("intensity"))]),
        "draws_mean": float(per_draw.mean()),
        "draws_median": float(np.quantile(per_draw, 0.5)),
        f"draws_q{low * 100:g}": float(np.quantile(per_draw, low)),
        f"draws_q{high * 100:g}": float(np.quantile(per_draw, high)),
    }


def response_from_estimates(
    path: str | Path, estimator: str, first: int, last: int
) -> ResponsePath:
    """The per-yuan response path of one estimator from a run's ``estimates.nc``.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing, the estimator was not fitted, the estimates are not per yuan
        or an event time of ``first..last`` has no estimate.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: estimates not found; run `goodwill run CONFIG` first (the projection "
            "uses the fitted response path)"
        )
    with xr.open_dataset(path) as estimates:
        if estimator not in estimates["estimator"].values.tolist():
            raise ValueError(
                f"{path}: estimator {estimator!r} was not fitted (fitted: "
                f"{', '.join(estimates['estimator'].values.tolist())})"
            )
        if not estimates.attrs.get("intensity"):
            raise ValueError(f"{path}: the estimates are not per yuan (no intensity)")
        times = list(range(first, last + 1))
        one = estimates.sel(estimator=estimator)
        available = set(estimates["event_time"].values.tolist())
        mean = one["estimate"].reindex(event_time=times).to_numpy()
        cov = one["cov"].reindex(event_time_row=times, event_time_col=times).to_numpy()
    missing = [t for t, m in zip(times, mean, strict=True) if t not in available or np.isnan(m)]
    if missing:
        raise ValueError(
            f"{path}: {estimator} has no estimate at event time(s) {', '.join(map(str, missing))}"
        )
    return ResponsePath(mean, cov)


def write_projection(directory: Path, ds: xr.Dataset) -> list[Path]:
    """Write ``projection.nc`` and ``projection_summary.csv`` atomically."""
    return [
        write_netcdf(directory / "projection.nc", ds),
        write_csv(directory / "projection_summary.csv", projection_summary(ds)),
    ]


def run_projection(
    config: Config, response: ResponsePath | EventStudyResults, directory: Path, progress: bool
) -> tuple[xr.Dataset, list[Path]]:
    """Project with a checkpoint in the run directory, write the outputs, drop the checkpoint.

    A run killed midway and started again resumes from the checkpoint.
    """
    checkpoint = directory / CHECKPOINT
    ds = project_goodwill(config, response, checkpoint=checkpoint, progress=progress)
    files = write_projection(directory, ds)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return ds, files


def describe_projection(ds: xr.Dataset) -> str:
    """A printable summary: cost by intensity and the cost-minimising intensity."""
    table = projection_summary(ds)
    money = ["total_cost_mean", *table.columns[1:3], "goodwill_loss_mean", "enforcement_cost"]
    millions = table[money].div(1e6).round(1)
    millions["fake_share"] = table["fake_share_mean"].round(2)
    millions["optimal_share"] = table["optimal_share"].round(3)
    best = optimal_intensity(ds)
    weeks = ds.sizes["week"]
    return (
        f"Goodwill projection ({ds.sizes['draw']:,} draws x {weeks} weeks, response "
        f"{ds.attrs['estimator']} multiplier {ds.attrs['response_multiplier']:+.3f} per yuan); "
        f"million yuan, present value:\n{millions.to_string()}\n"
        f"cost-minimising intensity {best['intensity']:g} (lowest mean {weeks}-week cost); "
        f"across draws: median {best['draws_median']:g}, 90% interval "
        f"[{best['draws_q5']:g}, {best['draws_q95']:g}]"
    )


def read_enforcement_data(path: str | Path = ENFORCEMENT_DATA) -> pd.DataFrame:
    """Read a CSV of yearly enforcement figures (``year``, ``arrests``,
    ``suspected_fakes_per_10k_orders``, ...) for :func:`models.calibrate_enforcement`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: enforcement data not found")
    return pd.read_csv(path)
