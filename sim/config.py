"""Run configuration: TOML validated into frozen pydantic models.

A config names the seed, the panel to simulate, the consumer-spend process (the fields of
``models.ConsumerSpendModel``), an optional calibration target and where outputs go. Every
default lives in the schema next to its description; ``configs/baseline.toml`` documents the
source of each number.
"""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from models import ConsumerSpendModel, EnforcementModel, GoodwillModel
from models.parameters import Parameters


class ConfigError(ValueError):
    """A config that cannot be read or does not validate; the message is one line."""


class PanelSettings(Parameters):
    """Size of the simulated panel."""

    n_consumers: StrictInt = Field(
        603_000, ge=1, description="consumers in the panel (study: 603,000)"
    )
    n_weeks: StrictInt = Field(
        22, ge=2, le=520, description="weeks in the panel (study: five months)"
    )
    chunk_size: StrictInt = Field(
        65_536, ge=1, description="consumers simulated at once; changes memory, not results"
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


ESTIMATORS = ("twfe", "callaway_santanna", "sun_abraham", "imputation")
"""Estimator names of ``[estimation] estimators``, in the order they are fitted and reported."""

EstimatorName = Literal["twfe", "callaway_santanna", "sun_abraham", "imputation"]


class CallawaySantAnnaSettings(Parameters):
    """Options of ``models.CallawaySantAnna`` (its dynamic aggregation is reported)."""

    control: Literal["never", "notyet"] = Field(
        "never", description="control units: never treated, or not yet treated"
    )
    base_period: Literal["varying", "universal"] = Field(
        "varying", description="base of pre-treatment effects: previous period, or g - 1"
    )
    anticipation: StrictInt = Field(0, ge=0, description="periods of anticipation")
    uniform_band: StrictBool = Field(
        True, description="also compute a 95% sup-t uniform band (seeded by the config's seed)"
    )


class SunAbrahamSettings(Parameters):
    """Options of ``models.SunAbraham``."""

    control: Literal["never", "last"] = Field(
        "never", description="control cohort: never treated, or the last-treated cohort"
    )


class ImputationSettings(Parameters):
    """Options of ``models.ImputationDiD``."""

    anticipation: StrictInt = Field(0, ge=0, description="periods of anticipation")


class EstimationSettings(Parameters):
    """The estimators ``goodwill run`` fits to the simulated panel (and ``goodwill fit`` to a
    user's panel): the study's two-way fixed-effects event study by default, and optionally
    the heterogeneity-robust staggered DiD estimators next to it."""

    estimators: list[EstimatorName] = Field(
        ["twfe"],
        min_length=1,
        description="estimators to fit: twfe (the study's event study), callaway_santanna, "
        "sun_abraham, imputation",
    )

    outcome: str = Field("spend", min_length=1, description="outcome column")
    unit: str = Field("consumer_id", min_length=1, description="unit column (and its FE)")
    time: str = Field("week", min_length=1, description="period column (and its FE)")
    cohort: str = Field(
        "fake_week", min_length=1, description="first treated period; NaN/+inf never treated"
    )
    intensity: str | None = Field(
        "fake_value",
        min_length=1,
        description="column multiplying the indicators (per-yuan effects); omit for effects "
        "in yuan per treated unit",
    )
    window: tuple[StrictInt, StrictInt] = Field(
        (-4, 12), description="twfe: lowest and highest event time with its own coefficient"
    )
    ref: StrictInt = Field(-1, description="twfe: omitted reference event time")
    bin_endpoints: StrictBool = Field(
        True, description="twfe: pool event times beyond the window into its end points"
    )
    vcov: Literal["iid", "HC1", "CRV1"] = Field(
        "CRV1", description="twfe: variance estimator (CRV1 is clustered)"
    )
    clusters: list[str] | None = Field(
        None,
        min_length=1,
        max_length=2,
        description="twfe: cluster columns for CRV1 (default: the unit)",
    )
    cumulative: tuple[StrictInt, StrictInt] = Field(
        (0, 11), description="event times summed into the reported multiplier"
    )
    callaway_santanna: CallawaySantAnnaSettings = CallawaySantAnnaSettings()
    sun_abraham: SunAbrahamSettings = SunAbrahamSettings()
    imputation: ImputationSettings = ImputationSettings()

    @model_validator(mode="after")
    def _consistent(self) -> EstimationSettings:
        lo, hi = self.window
        if lo >= hi:
            raise ValueError(f"window = [{lo}, {hi}]: expected lo < hi")
        if not lo <= self.ref <= hi:
            raise ValueError(f"ref = {self.ref} is outside window = [{lo}, {hi}]")
        first, last = self.cumulative
        if not lo <= first <= last <= hi:
            raise ValueError(f"cumulative = [{first}, {last}] must be inside window = [{lo}, {hi}]")
        if self.clusters is not None and self.vcov != "CRV1":
            raise ValueError(f"clusters are only used with vcov = 'CRV1', not {self.vcov!r}")
        if len(set(self.estimators)) != len(self.estimators):
            raise ValueError(f"estimators = {self.estimators}: each estimator at most once")
        return self

    @property
    def vcov_spec(self) -> str | dict[str, list[str]]:
        """The ``vcov`` argument of :meth:`models.EventStudy.fit`."""
        if self.clusters is None:
            return self.vcov
        return {self.vcov: list(self.clusters)}


PRIOR_FIELDS = tuple(
    name
    for name, field in EnforcementModel.model_fields.items()
    if field.annotation is float and name != "programme_cost"
)
"""EnforcementModel fields that ``[projection.priors]`` may give a prior: the market's
parameters (the programme's cost is a budget, not an uncertain parameter)."""


class ProjectionSettings(Parameters):
    """The goodwill-loss Monte Carlo (``sim.project_goodwill``): enforcement intensities,
    draws, the market and platform models, priors and the executor."""

    intensities: list[StrictFloat] = Field(
        min_length=1,
        description="enforcement intensities to compare, in multiples of the 2016 programme",
    )
    status_quo: StrictFloat = Field(
        1.0, ge=0, description="intensity before week 0; the market opens in its steady state"
    )
    n_draws: StrictInt = Field(1000, ge=1, description="Monte-Carlo draws")
    n_weeks: StrictInt = Field(52, ge=1, le=520, description="weeks projected")
    block_size: StrictInt = Field(
        250,
        ge=1,
        description="draws per block (a task and a checkpoint); results do not depend on it",
    )
    estimator: EstimatorName = Field(
        "twfe", description="fitted estimator whose per-yuan response path is projected"
    )
    executor: Literal["serial", "dask"] = Field(
        "serial", description="serial, or dask.distributed (pip install goodwill[dask])"
    )
    scheduler: str | None = Field(
        None, min_length=1, description="dask scheduler address; default: a LocalCluster"
    )
    n_workers: StrictInt = Field(2, ge=1, description="worker processes of the LocalCluster")
    market: EnforcementModel = EnforcementModel()
    platform: GoodwillModel = GoodwillModel()
    priors: dict[str, StrictFloat] = Field(
        default_factory=dict,
        description="log-scale standard deviation of a lognormal prior (median: the value) "
        f"for any of the market fields {', '.join(PRIOR_FIELDS)}",
    )

    @model_validator(mode="after")
    def _check(self) -> ProjectionSettings:
        for i, value in enumerate(self.intensities):
            if value < 0:
                raise ValueError(f"intensities[{i}] = {value}: expected a number >= 0")
        if len(set(self.intensities)) != len(self.intensities):
            raise ValueError(f"intensities = {self.intensities}: each intensity at most once")
        for name, sd in self.priors.items():
            if name not in PRIOR_FIELDS:
                raise ValueError(
                    f"priors.{name}: not a market parameter (allowed: {', '.join(PRIOR_FIELDS)})"
                )
            if not sd >= 0:
                raise ValueError(f"priors.{name} = {sd}: expected a log-scale sd >= 0")
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is only used with executor = 'dask'")
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
        if self.fan_intensities is not None and len(set(self.fan_intensities)) != len(
            self.fan_intensities
        ):
            raise ValueError(f"fan_intensities = {self.fan_intensities}: each at most once")
        return self


class OutputSettings(Parameters):
    """Where a run writes its files."""

    directory: Path = Field(
        Path("runs/baseline"), description="run directory, relative to the working directory"
    )
    save_panel: StrictBool = Field(True, description="write the simulated panel as panel.parquet")


class Config(Parameters):
    """A complete run configuration."""

    seed: StrictInt = Field(ge=0, description="root seed of every random draw of the run")
    panel: PanelSettings = PanelSettings()
    consumer: ConsumerSpendModel = ConsumerSpendModel()
    calibration: CalibrationSettings | None = None
    estimation: EstimationSettings | None = None
    projection: ProjectionSettings | None = None
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
        if self.estimation is not None:
            lo, hi = self.estimation.window
            if max(-lo, hi) > n_weeks - 1:
                raise ValueError(
                    f"estimation.window = [{lo}, {hi}] reaches beyond the event times a "
                    f"{n_weeks}-week panel can show (-{n_weeks - 1}..{n_weeks - 1})"
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
        fan = self.figures.fan_intensities
        if fan is not None:
            grid = [] if self.projection is None else self.projection.intensities
            for i, value in enumerate(fan):
                if value not in grid:
                    raise ValueError(
                        f"figures.fan_intensities[{i}] = {value} is not among "
                        f"projection.intensities ({', '.join(f'{x:g}' for x in grid) or 'none'})"
                    )
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

    Examples
    --------
    >>> config = load_config("configs/quick.toml")  # doctest: +SKIP
    >>> config.panel.n_consumers  # doctest: +SKIP
    20000
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, Config)}") from None


def describe_validation_error(
    error: ValidationError, schema: type[BaseModel], root: str = "config"
) -> str:
    """One line naming each invalid key, what was wrong and what is allowed.

    ``root`` names the whole object, for errors that concern several of its keys.
    """
    return "; ".join(_describe(item, schema, root) for item in error.errors())


def _describe(item: dict, schema: type[BaseModel], root: str) -> str:
    loc = item["loc"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    kind = item["type"]
    if kind == "extra_forbidden":
        owner = _model_at(schema, loc[:-1])
        allowed = ", ".join(owner.model_fields) if owner else "none"
        return f"{key}: unknown key (allowed here: {allowed})"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = item["msg"].removeprefix("Value error, ")
    value = item.get("input")
    if isinstance(value, dict | list):
        return f"{key or root}: {message}"
    return f"{key}: {message}, got {value!r}"


def _model_at(schema: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that holds the fields at a location (list indices skipped)."""
    current: type[BaseModel] | None = schema
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        current = _model_type(current.model_fields[part].annotation)
    return current


def _model_type(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_type(argument)
        if found is not None:
            return found
    return None
