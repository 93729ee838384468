"""The ``[study]`` section: an estimator study's scenarios, estimators, replications and executor.

A scenario is a named variant of the config's data-generating process: the keys of
``[consumer]`` it changes, merged table by table into the config's own (a value, an array of
tables included, replaces the one below whole), with a description of what it tests. An
estimator is a registered name (:data:`sim.estimators.ESTIMATORS`, fitted with its
``[estimation.<name>]`` options) or a variant of one, ``[study.variants.<name>]``: the
registered estimator with some of its options changed, so a study can set one variance
estimator against another.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, ValidationError, model_validator

from models import ConsumerSpendModel
from models.parameters import Parameters
from sim.config_files import merge_tables
from sim.estimators import ESTIMATORS, EstimatorName, EstimatorOptions
from sim.executor_settings import SchedulerAddress, WorkerCount, check_scheduler
from sim.validation_messages import describe_validation_error

if TYPE_CHECKING:
    from sim.estimation_settings import EstimationSettings

MAX_REPLICATIONS = 100_000
"""Most replications per scenario: at 100,000 a coverage's Monte-Carlo SE is 0.07 percentage
points; more only costs time."""

NAME = r"^[a-z][a-z0-9_]*$"
"""A scenario's or variant's name: it is a coordinate and a file-name part."""


class Scenario(Parameters):
    """One data-generating process of the study: the config's ``[consumer]`` with changes."""

    description: str = Field(min_length=1, description="what the scenario varies and why")
    consumer: dict[str, Any] = Field(
        default_factory=dict,
        description="keys of [consumer] this scenario changes (tables merge, values replace)",
    )


class Variant(Parameters):
    """A registered estimator with some of its options changed."""

    estimator: EstimatorName = Field(description="the registered estimator it varies")
    label: str = Field(min_length=1, description="its name in tables and figures")
    options: dict[str, Any] = Field(
        default_factory=dict, description="options of [estimation.<estimator>] it changes"
    )


class StudySettings(Parameters):
    """An estimator study (``goodwill study``, :mod:`sim.study`): every scenario is simulated
    ``replications`` times at the config's ``[panel]`` size, and every estimator is fitted to
    each replication's panel and to its placebo (the same panel with the counterfactual
    outcome, so every true effect is zero)."""

    replications: StrictInt = Field(
        200, ge=2, le=MAX_REPLICATIONS, description="simulated panels per scenario"
    )
    scenarios: dict[str, Scenario] = Field(
        min_length=1, description="named data-generating processes, in the order reported"
    )
    estimators: list[str] | None = Field(
        None,
        min_length=1,
        description="registered estimators or [study.variants] names, in the order reported "
        "(default: estimation.estimators)",
    )
    variants: dict[str, Variant] = Field(
        default_factory=dict, description="estimators with options changed, by name"
    )
    placebo: StrictBool = Field(
        True, description="also fit each replication's counterfactual-outcome placebo panel"
    )
    alpha: StrictFloat = Field(
        0.05, gt=0, lt=0.5, description="level of the confidence intervals and pre-trend tests"
    )
    block_size: StrictInt = Field(
        5,
        ge=1,
        le=MAX_REPLICATIONS,
        description="replications per task and checkpoint; results do not depend on it",
    )
    executor: Literal["serial", "dask"] = Field(
        "serial", description="serial, or dask.distributed (pip install goodwill[dask])"
    )
    scheduler: SchedulerAddress = None
    n_workers: WorkerCount = 2

    @model_validator(mode="after")
    def _check(self) -> StudySettings:
        for kind, names in (("scenarios", self.scenarios), ("variants", self.variants)):
            for name in names:
                if not re.match(NAME, name):
                    raise ValueError(
                        f"{kind}.{name}: a name must be lower-case letters, digits and _, "
                        "starting with a letter"
                    )
        clash = sorted(set(self.variants) & set(ESTIMATORS))
        if clash:
            raise ValueError(f"variants.{clash[0]}: the name of a registered estimator")
        if self.estimators is not None:
            if len(set(self.estimators)) != len(self.estimators):
                raise ValueError(f"estimators = {self.estimators}: each estimator at most once")
            for name in self.estimators:
                if name not in ESTIMATORS and name not in self.variants:
                    known = ", ".join([*ESTIMATORS, *self.variants])
                    raise ValueError(
                        f"estimators: {name!r} is neither a registered estimator nor a "
                        f"[study.variants] name (known: {known})"
                    )
        check_scheduler(self.executor, self.scheduler)
        return self

    def estimator_names(self, configured: list[str]) -> list[str]:
        """The study's estimators: its own list, else the configured ``estimation.estimators``."""
        return list(self.estimators) if self.estimators is not None else list(configured)


def scenario_model(base: ConsumerSpendModel, name: str, scenario: Scenario) -> ConsumerSpendModel:
    """The consumer model of a scenario: ``base`` with the scenario's changes.

    Raises
    ------
    ValueError
        Naming ``study.scenarios.<name>.consumer.<key>`` if the result does not validate.
    """
    data = merge_tables(base.model_dump(), scenario.consumer)
    try:
        return ConsumerSpendModel.model_validate(data)
    except ValidationError as exc:
        prefix = f"study.scenarios.{name}.consumer."
        raise ValueError(
            describe_validation_error(exc, ConsumerSpendModel, prefix, prefix)
        ) from None


def variant_options(variant: Variant, name: str, options: EstimatorOptions) -> EstimatorOptions:
    """A variant's options: the registered estimator's ``options`` with the variant's changes.

    Raises
    ------
    ValueError
        Naming ``study.variants.<name>.options.<key>`` if the result does not validate.
    """
    entry = ESTIMATORS[variant.estimator]
    try:
        return entry.options.model_validate(options.model_dump() | variant.options)
    except ValidationError as exc:
        prefix = f"study.variants.{name}.options."
        raise ValueError(describe_validation_error(exc, entry.options, prefix, prefix)) from None


def check_study(
    study: StudySettings,
    consumer: ConsumerSpendModel,
    estimation: EstimationSettings | None,
    n_weeks: int,
) -> None:
    """Raise a ValueError naming the key if the study cannot run on this config: it needs an
    ``[estimation]`` section, and every scenario and variant must validate."""
    if estimation is None:
        raise ValueError("study needs an [estimation] section: it fits the estimators there")
    for name, scenario in study.scenarios.items():
        model = scenario_model(consumer, name, scenario)
        try:
            model.calendar_effects(n_weeks)  # a promotion after the panel's end is an error
        except ValueError as exc:
            raise ValueError(f"study.scenarios.{name}.consumer.{exc}") from None
    for name, variant in study.variants.items():
        options = variant_options(variant, name, estimation.options(variant.estimator))
        options.check_design(estimation.cumulative, n_weeks, f"study.variants.{name}.options")
