"""Run configuration: TOML validated into frozen pydantic models.

A config names the seed, the panel to simulate, the consumer-spend process (the fields of
``models.ConsumerSpendModel``), an optional calibration target and where outputs go; or, with
``[data]``, a panel of your own in place of the simulation. Every
default lives in the schema next to its description; ``configs/baseline.toml`` documents the
source of each number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from models import ConsumerSpendModel, EnforcementModel, GoodwillModel
from models.market.market_calibration import INTENSITY_INDICES
from models.parameters import Parameters
from models.streams import MAX_SEED
from sim.bounds import MAX_CONSUMERS, MAX_DRAWS, MAX_INTENSITY, MAX_PANEL_WEEKS, MAX_PIXELS
from sim.config_files import ConfigError, read_toml
from sim.data_settings import DataSettings
from sim.decision_settings import DecisionSettings
from sim.estimation_settings import EstimationSettings
from sim.estimators import (
    STUDY_ESTIMATOR,
    EstimatorName,
)
from sim.executor_settings import SchedulerAddress, WorkerCount, check_scheduler
from sim.ingest_settings import IngestSettings
from sim.output_paths import output_path
from sim.study_settings import StudySettings, check_study
from sim.validation_messages import describe_validation_error


class PanelSettings(Parameters):
    """Size of the simulated panel."""

    n_consumers: StrictInt = Field(  # le: 32-bit ids (memory: sim.resources)
        603_000, ge=1, le=MAX_CONSUMERS, description="consumers in the panel (study: 603,000)"
    )
    n_weeks: StrictInt = Field(
        22, ge=2, le=MAX_PANEL_WEEKS, description="weeks in the panel (study: five months)"
    )
    chunk_size: StrictInt = Field(  # le: 16 times the default; larger only costs memory
        65_536, ge=1, le=2**20, description="consumers simulated at once; memory, not results"
    )


class CalibrationSettings(Parameters):
    """Calibrate ``consumer.response.loss_per_yuan`` to a target before simulating."""

    target_multiplier: StrictFloat = Field(
        lt=0,
        allow_inf_nan=False,
        description="true spend change over the response horizon per yuan of counterfeit "
        "(signed; the study: -3.57)",
    )
    weighting: Literal["value", "intensity"] = Field(
        "value",
        description="which multiplier hits the target: 'value' (truth.multiplier, spend lost "
        "per yuan sold) or 'intensity' (truth.intensity_multiplier, the per-yuan event "
        "study's target)",
    )


PRIOR_FIELDS = tuple(
    name
    for name, field in EnforcementModel.model_fields.items()
    if field.annotation is float and name != "programme_cost"
)
"""EnforcementModel fields that ``[projection.priors]`` may give a prior: the market's
parameters (the programme's cost is a budget, not an uncertain parameter)."""


class MarketUncertaintySettings(Parameters):
    """How the projection draws the market's parameters (``[projection.market_uncertainty]``,
    ``sim.market_draws``): from their posterior given Alibaba's published fake shares, or from
    the independent priors of ``[projection.priors]`` alone."""

    draws: Literal["posterior", "prior"] = Field(
        "posterior", description="posterior given the data, or the independent priors alone"
    )
    intensity_index: Literal[INTENSITY_INDICES] = Field(
        "arrests", description="data column whose value relative to 2016 is a year's intensity"
    )
    sigma: StrictFloat = Field(
        0.1, gt=0, description="sd of a year's log fake share about the model's steady state"
    )
    detection_2016_sd: StrictFloat = Field(
        1.0, gt=0, description="log-scale sd of detection_2016's prior (median: its value)"
    )
    entry_elasticity_sd: StrictFloat = Field(
        1.0, gt=0, description="log-scale sd of entry_elasticity's prior (median: its value)"
    )
    samples: StrictInt = Field(  # le: as projection.n_draws, which it must cover
        2000, ge=1, le=MAX_DRAWS, description="posterior draws computed once; >= n_draws"
    )
    # Far beyond what the chain needs (the defaults converge in seconds): the chain costs
    # walkers x burn_in + samples x thin likelihood evaluations.
    walkers: StrictInt = Field(32, ge=2, le=1024, description="emcee walkers")
    burn_in: StrictInt = Field(1000, ge=0, le=100_000, description="steps of each walker dropped")
    thin: StrictInt = Field(20, ge=1, le=1000, description="keep every thin-th step")


class ProjectionSettings(Parameters):
    """The goodwill-loss Monte Carlo (``sim.project_goodwill``): enforcement intensities,
    draws, the market and platform models, priors and the executor."""

    intensities: list[StrictFloat] = Field(
        min_length=1,
        max_length=10_000,  # each is a whole projection (memory: sim.resources)
        description="enforcement intensities to compare, in multiples of the 2016 programme",
    )
    status_quo: StrictFloat = Field(
        1.0,
        ge=0,
        le=MAX_INTENSITY,
        description="intensity before week 0 for the question 'should we stop?' (the market "
        "opens in its steady state); 'should we have started?' opens with no programme",
    )
    n_draws: StrictInt = Field(1000, ge=1, le=MAX_DRAWS, description="Monte-Carlo draws")
    n_weeks: StrictInt = Field(
        520,
        ge=1,
        le=2600,
        description="weeks projected; the stores left open at the horizon add a terminal value",
    )
    block_size: StrictInt = Field(
        250,
        ge=1,
        le=10_000,  # a block's arrays take about 120 bytes per draw, intensity and week
        description="draws per block (a task and a checkpoint); results do not depend on it",
    )
    estimator: EstimatorName = Field(
        STUDY_ESTIMATOR, description="fitted estimator whose per-yuan response path is projected"
    )
    estimand: Literal["value", "intensity"] = Field(
        "value",
        description="its path: value-weighted (spend lost per yuan sold, what fake sales "
        "multiply) or intensity-weighted (the per-yuan regression's coefficients)",
    )
    executor: Literal["serial", "dask"] = Field(
        "serial", description="serial, or dask.distributed (pip install goodwill[dask])"
    )
    scheduler: SchedulerAddress = None
    n_workers: WorkerCount = 2
    market: EnforcementModel = EnforcementModel()
    platform: GoodwillModel = GoodwillModel()
    priors: dict[str, StrictFloat] = Field(
        default_factory=dict,
        description="log-scale standard deviation of a lognormal prior (median: the value) "
        f"for any of the market fields {', '.join(PRIOR_FIELDS)}",
    )
    market_uncertainty: MarketUncertaintySettings = MarketUncertaintySettings()

    @model_validator(mode="after")
    def _check(self) -> ProjectionSettings:
        for i, value in enumerate(self.intensities):
            if not 0 <= value <= MAX_INTENSITY:
                expected = ">= 0" if value < 0 else f"<= {MAX_INTENSITY:g}"
                raise ValueError(f"intensities[{i}] = {value}: expected a number {expected}")
        if len(set(self.intensities)) != len(self.intensities):
            raise ValueError(f"intensities = {self.intensities}: each intensity at most once")
        for name, sd in self.priors.items():
            if name not in PRIOR_FIELDS:
                raise ValueError(
                    f"priors.{name}: not a market parameter (allowed: {', '.join(PRIOR_FIELDS)})"
                )
            if not sd >= 0:
                raise ValueError(f"priors.{name} = {sd}: expected a log-scale sd >= 0")
        check_scheduler(self.executor, self.scheduler)
        uncertainty = self.market_uncertainty
        if uncertainty.draws == "posterior" and self.n_draws > uncertainty.samples:
            raise ValueError(
                f"n_draws = {self.n_draws}: expected at most market_uncertainty.samples = "
                f"{uncertainty.samples} (the posterior draws each projection draw takes one of)"
            )
        return self


FIGURE_FORMATS = ("png", "pdf", "svg")
"""File formats ``[figures] formats`` may name."""


class FigureSettings(Parameters):
    """The figures a run draws (``sim.figures``): file formats, size and type size.

    The defaults fit one column of a two-column paper (3.5 inches wide, 8-point type).
    """

    formats: list[Literal["png", "pdf", "svg"]] = Field(
        list(FIGURE_FORMATS), min_length=1, description="file formats of each figure"
    )
    width: StrictFloat = Field(
        3.5, gt=0, le=20, description="width in inches (3.5: one column of a paper)"
    )
    height: StrictFloat = Field(2.6, gt=0, le=20, description="height in inches")
    dpi: StrictInt = Field(300, ge=50, le=1200, description="resolution of PNG files")
    font_size: StrictFloat = Field(8.0, ge=4, le=24, description="type size in points")
    fan_intensities: list[StrictFloat] | None = Field(
        None,
        min_length=1,
        description="intensities of the goodwill-loss fan chart, each one of "
        "projection.intensities (default: the lowest, the status quo and the highest)",
    )

    @model_validator(mode="after")
    def _check(self) -> FigureSettings:
        if len(set(self.formats)) != len(self.formats):
            raise ValueError(f"formats = {self.formats}: each format at most once")
        for side in ("width", "height"):
            inches = getattr(self, side)
            if inches * self.dpi > MAX_PIXELS:
                raise ValueError(
                    f"{side} = {inches} inches at dpi = {self.dpi} is {inches * self.dpi:,.0f} "
                    f"pixels: expected at most {MAX_PIXELS:,} (lower {side} or dpi)"
                )
        if self.fan_intensities is not None and len(set(self.fan_intensities)) != len(
            self.fan_intensities
        ):
            raise ValueError(f"fan_intensities = {self.fan_intensities}: each at most once")
        return self


class OutputSettings(Parameters):
    """Where a run writes its files."""

    directory: Path = Field(
        Path("runs/baseline"),
        description="run directory, relative to the working directory (~ expanded); not a "
        "system directory or goodwill's own folders; a new, empty or goodwill directory",
    )
    save_panel: StrictBool = Field(True, description="write the simulated panel as panel.parquet")

    @field_validator("directory", mode="before")
    @classmethod
    def _checked_path(cls, value: object) -> object:
        if isinstance(value, str | Path):  # returned as it came: JSON gives a str
            checked = output_path(value, "directory")
            return str(checked) if isinstance(value, str) else checked
        return value


class Config(Parameters):
    """A complete run configuration."""

    seed: StrictInt = Field(  # le: a run's netCDF attributes hold at most unsigned 64-bit
        ge=0, le=MAX_SEED, description="root seed of every random draw, 0 to 2**64 - 1"
    )
    panel: PanelSettings = PanelSettings()
    consumer: ConsumerSpendModel = ConsumerSpendModel()
    calibration: CalibrationSettings | None = None
    estimation: EstimationSettings | None = None
    projection: ProjectionSettings | None = None
    decision: DecisionSettings | None = None
    study: StudySettings | None = None
    ingest: IngestSettings | None = None
    data: DataSettings | None = None
    figures: FigureSettings = FigureSettings()
    output: OutputSettings = OutputSettings()

    @model_validator(mode="after")
    def _fits_the_panel(self) -> Config:
        n_weeks = self.panel.n_weeks
        for i, promotion in enumerate(self.consumer.calendar.promotions):
            if promotion.week > n_weeks:
                raise ValueError(
                    f"consumer.calendar.promotions[{i}].week = {promotion.week} is after the "
                    f"panel's last week (panel.n_weeks = {n_weeks})"
                )
        if self.data is not None and self.estimation is None:
            raise ValueError(
                "data needs an [estimation] section: a run on your own panel fits its "
                "estimators (and names the panel's columns)"
            )
        if self.estimation is not None:
            if self.estimation.weights is not None and self.data is None:
                raise ValueError(
                    f"estimation.weights = {self.estimation.weights!r}: a simulated panel has "
                    "no sampling weights (the key is for your own panel: [data] or "
                    "`goodwill fit`)"
                )
            periods = n_weeks if self.data is None else None  # data: checked once read
            for name in self.estimation.estimators:
                self.estimation.options(name).check_design(
                    self.estimation.cumulative, periods, f"estimation.{name}"
                )
        if self.projection is not None:
            if self.estimation is None:
                raise ValueError(
                    "projection needs an [estimation] section: it projects a fitted response"
                )
            if self.estimation.intensity is None:
                raise ValueError(
                    "projection needs per-yuan estimates: set estimation.intensity "
                    "(e.g. 'fake_value')"
                )
            if self.projection.estimator not in self.estimation.estimators:
                raise ValueError(
                    f"projection.estimator = {self.projection.estimator!r} is not among "
                    f"estimation.estimators = {self.estimation.estimators}"
                )
        if self.decision is not None and self.projection is None:
            raise ValueError("decision needs a [projection] section: it analyses its costs")
        fan = self.figures.fan_intensities
        if fan is not None:
            grid = [] if self.projection is None else self.projection.intensities
            for i, value in enumerate(fan):
                if value not in grid:
                    raise ValueError(
                        f"figures.fan_intensities[{i}] = {value} is not among "
                        f"projection.intensities ({', '.join(f'{x:g}' for x in grid) or 'none'})"
                    )
        if self.study is not None:
            check_study(self.study, self.consumer, self.estimation, n_weeks)
        horizon = self.consumer.response.horizon
        if self.calibration is not None and horizon > n_weeks:
            raise ValueError(
                f"calibration needs consumer.response.horizon = {horizon} weeks inside the "
                f"panel, but panel.n_weeks = {n_weeks}"
            )
        return self


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.

    Returns
    -------
    Config
        The validated, frozen config.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not TOML, or a key is unknown, of the wrong type or
        out of range; the one-line message names the file, the key and what is allowed.

    Notes
    -----
    A config may start with ``extends = "OTHER.toml"`` (a path relative to its own folder):
    it is then the other config with this file's keys on top, table by table; a key's value,
    an array (of tables, too) included, replaces the other's whole. Scenarios are written that
    way (``configs/scenarios/``), naming only what they change.

    Examples
    --------
    >>> config = load_config("configs/quick.toml")  # doctest: +SKIP
    >>> config.panel.n_consumers  # doctest: +SKIP
    20000
    """
    path = Path(path)
    data = read_toml(path)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, Config)}") from None
