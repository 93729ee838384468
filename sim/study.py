"""The estimator study: plan, simulate, then diagnose, as DeclareDesign splits a design.

:func:`plan_study` turns a config's ``[study]`` into a :class:`StudyPlan` (scenarios x
estimators x replications) without computing anything; :func:`simulate_study` runs it, each
replication on its own seed, serially or on dask (:mod:`sim.executors`), saving finished
blocks of replications as it goes (:mod:`sim.checkpoint`) and returning one xarray Dataset;
:func:`sim.study_diagnosis.diagnose` turns that Dataset, fresh or loaded from ``study.nc``,
into bias, RMSE, coverage and test size with their Monte-Carlo standard errors.

Seeds. Replication r of every scenario simulates from ``SeedSequence(seed, spawn_key=(r,))``,
the r-th child of the config's seed: the scenarios share their random numbers (common random
numbers, so a difference between scenarios is the scenario's and not noise), and a
replication's panel is the same whatever the block size, executor or number of workers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from models import ConsumerSpendModel
from sim.checkpoint import Checkpoint
from sim.config import Config
from sim.estimators import ESTIMATORS, estimands
from sim.executors import run_resumable
from sim.study_replication import (
    FIT_VARIABLES,
    PANELS,
    SUMMARY_VARIABLES,
    ReplicationDesign,
    StudyEstimator,
    replicate,
    replication_arrays,
)
from sim.study_settings import StudySettings, scenario_model, variant_options
from sim.version import package_version


@dataclass(frozen=True)
class StudyPlan:
    """Everything a study computes, fixed before any computation.

    Attributes
    ----------
    seed : int
        The config's root seed; replication r draws from its r-th child.
    scenarios : tuple of str
        Scenario names, in the order reported, with their ``descriptions`` and ``models``.
    design : ReplicationDesign
        Panel size, columns, estimators, estimands, panels and alpha every replication shares.
    replications : int
        Replications per scenario.
    block_size : int
        Replications per task and checkpoint.
    """

    seed: int
    scenarios: tuple[str, ...]
    descriptions: tuple[str, ...]
    models: tuple[ConsumerSpendModel, ...]
    design: ReplicationDesign
    replications: int
    block_size: int

    @property
    def blocks_per_scenario(self) -> int:
        """Blocks of ``block_size`` replications in a scenario (the last may be shorter)."""
        return -(-self.replications // self.block_size)

    @property
    def n_blocks(self) -> int:
        """Tasks of the whole study: every scenario's blocks, scenario by scenario."""
        return len(self.scenarios) * self.blocks_per_scenario

    def block(self, block: int) -> tuple[int, range]:
        """The scenario (index) and replications of a block."""
        scenario, part = divmod(block, self.blocks_per_scenario)
        first = part * self.block_size
        return scenario, range(first, min(first + self.block_size, self.replications))

    def replication_seed(self, replication: int) -> np.random.SeedSequence:
        """The seed of a replication's panel, the same in every scenario."""
        return np.random.SeedSequence(self.seed, spawn_key=(replication,))

    def fit_seed(self, replication: int) -> int:
        """The integer seed of a replication's simulation-based inference (uniform bands)."""
        return int(self.replication_seed(replication).generate_state(1)[0])

    def fingerprint(self, version: str) -> str:
        """A hash of every input: a checkpoint is reused only by the same computation."""
        text = json.dumps(
            {
                "seed": self.seed,
                "scenarios": self.scenarios,
                "models": [model.model_dump(mode="json") for model in self.models],
                "estimators": [
                    [e.name, e.entry.name, e.options.model_dump(mode="json")]
                    for e in self.design.estimators
                ],
                "design": [
                    self.design.n_consumers,
                    self.design.n_weeks,
                    self.design.chunk_size,
                    repr(self.design.columns),
                    self.design.estimands,
                    self.design.panels,
                    self.design.cumulative,
                    self.design.alpha,
                ],
                "replications": self.replications,
                "block_size": self.block_size,
                "version": version,
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()


def plan_study(config: Config) -> StudyPlan:
    """The study a config describes (its ``[study]``, ``[panel]``, ``[consumer]`` and
    ``[estimation]``), computing nothing.

    Raises
    ------
    ValueError
        If the config has no ``[study]`` section.
    """
    settings: StudySettings | None = config.study
    if settings is None or config.estimation is None:
        raise ValueError("config has no [study] section: nothing to study")
    estimation = config.estimation
    estimators = []
    for name in settings.estimator_names(estimation.estimators):
        if name in ESTIMATORS:
            entry, options = ESTIMATORS[name], estimation.options(name)
            label = entry.label
        else:
            variant = settings.variants[name]
            entry = ESTIMATORS[variant.estimator]
            options = variant_options(variant, name, estimation.options(variant.estimator))
            label = variant.label
        estimators.append(StudyEstimator(name, label, entry, options))
    design = ReplicationDesign(
        n_consumers=config.panel.n_consumers,
        n_weeks=config.panel.n_weeks,
        chunk_size=config.panel.chunk_size,
        columns=estimation.columns,
        estimators=tuple(estimators),
        estimands=estimands(estimation.intensity),
        panels=PANELS if settings.placebo else PANELS[:1],
        cumulative=estimation.cumulative,
        alpha=settings.alpha,
    )
    return StudyPlan(
        seed=config.seed,
        scenarios=tuple(settings.scenarios),
        descriptions=tuple(s.description for s in settings.scenarios.values()),
        models=tuple(
            scenario_model(config.consumer, name, scenario)
            for name, scenario in settings.scenarios.items()
        ),
        design=design,
        replications=settings.replications,
        block_size=settings.block_size,
    )


def simulate_block(plan: StudyPlan, block: int) -> dict[str, np.ndarray]:
    """Simulate and fit one block's replications (a pure function of the plan and block).

    BLAS runs on one thread here: a multi-threaded BLAS sums in an order that depends on its
    thread count (one in a dask worker, every core in this process), and the study must be
    bit-identical on any executor. Replications, not BLAS threads, are what a study runs in
    parallel.
    """
    scenario, replications = plan.block(block)
    out = replication_arrays(plan.design, len(replications))
    with threadpool_limits(limits=1, user_api="blas"):
        for row, replication in enumerate(replications):
            replicate(
                plan.design,
                plan.models[scenario],
                plan.replication_seed(replication),
                plan.fit_seed(replication),
                out,
                row,
            )
    return out


def simulate_study(
    config: Config,
    *,
    checkpoint: str | Path | None = None,
    progress: bool = False,
    version: str | None = None,
) -> xr.Dataset:
    """Simulate every scenario's replications and fit every estimator to each.

    Parameters
    ----------
    config : Config
        A config with a ``[study]`` section (and the ``[estimation]`` it fits).
    checkpoint : str or pathlib.Path, optional
        Directory for finished blocks of replications. A study started again with the same
        inputs resumes from it and ends with exactly the result of an uninterrupted one. The
        caller removes it once the output is safely written.
    progress : bool
        Show a progress bar over replications on a terminal.
    version : str, optional
        Version stored in the attrs and part of the checkpoint's fingerprint (default: the
        installed package's).

    Returns
    -------
    xarray.Dataset
        Dims ``scenario``, ``replication``, ``estimator``, ``estimand``, ``panel``
        (``observed``; ``placebo``, the counterfactual outcome) and ``event_time``. Each fit's
        ``estimate``, ``se``, ``ci_low``, ``ci_high`` by event time; its ``cumulative_estimate``
        with ``cumulative_se`` and CI; its joint pre-trend test (``pretrend_statistic``,
        ``pretrend_df``, ``pretrend_pvalue``; NaN without leads); ``failed`` (1 where the fit
        raised; the first message of each scenario and estimator in the attrs ``failures``);
        the replication's ``truth`` by event time and ``truth_cumulative`` (the placebo's
        truth is zero); ``treated_units``, ``effective_treated`` and ``top_dose_share``. The
        attrs hold the config, seed, version, alpha and the cumulative range.
    """
    plan = plan_study(config)
    version = package_version() if version is None else version
    outputs = _StudyOutputs(plan)
    settings = config.study
    run_resumable(
        simulate_block,
        plan,
        plan.n_blocks,
        outputs.put,
        checkpoint=(
            None if checkpoint is None else Checkpoint(Path(checkpoint), plan.fingerprint(version))
        ),
        progress=progress,
        desc="study",
        unit="replication",
        units_per_block=lambda block: len(plan.block(block)[1]),
        executor=settings.executor,
        scheduler=settings.scheduler,
        n_workers=settings.n_workers,
    )
    return outputs.dataset(config, version)


UNITS = {
    "per_yuan": "yuan of weekly spend per yuan of counterfeit",
    "per_victim": "yuan of weekly spend per counterfeit buyer",
}


class _StudyOutputs:
    """The study's arrays in their final (scenario, replication, ...) layout, filled block by
    block as blocks finish."""

    def __init__(self, plan: StudyPlan) -> None:
        self.plan = plan
        blank = replication_arrays(plan.design, plan.replications)
        self.arrays = {
            name: np.broadcast_to(values, (len(plan.scenarios), *values.shape)).copy()
            for name, values in blank.items()
        }

    def put(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        scenario, replications = self.plan.block(block)
        rows = slice(replications.start, replications.stop)
        for name, values in self.arrays.items():
            values[scenario, rows] = arrays[name]

    def dataset(self, config: Config, version: str) -> xr.Dataset:
        plan, design = self.plan, self.plan.design
        fit = ("scenario", "replication", "estimator", "estimand", "panel")
        unit = UNITS["per_yuan" if design.columns.intensity is not None else "per_victim"]
        a = self.arrays
        data: dict[str, tuple] = {
            name: ((*fit, "event_time"), a[name], {"units": unit}) for name in FIT_VARIABLES
        }
        for name in SUMMARY_VARIABLES:
            units = {"units": unit} if name.startswith("cumulative") else {}
            data[name] = (fit, a[name], units)
        cell = ("scenario", "replication", "estimator", "panel")
        data["failed"] = (cell, a["failed"], {"meaning": "1: the fit raised an error"})
        data["truth"] = (
            ("scenario", "replication", "estimand", "event_time"),
            a["truth"],
            {"units": unit},
        )
        data["truth_cumulative"] = (
            ("scenario", "replication", "estimand"),
            a["truth_cumulative"],
            {"units": unit},
        )
        by_replication = ("scenario", "replication")
        data["treated_units"] = (by_replication, a["treated_units"], {"units": "units"})
        data["effective_treated"] = (
            by_replication,
            a["effective_treated"],
            {"units": "units: (sum of squared doses)^2 / sum of fourth powers"},
        )
        data["top_dose_share"] = (
            by_replication,
            a["top_dose_share"],
            {"units": "share of the sum of squared doses held by the largest"},
        )
        estimators = design.estimators
        return xr.Dataset(
            data,
            coords={
                "scenario": list(plan.scenarios),
                "description": ("scenario", list(plan.descriptions)),
                "replication": np.arange(plan.replications),
                "estimator": [e.name for e in estimators],
                "label": ("estimator", [e.label for e in estimators]),
                "registered": ("estimator", [e.entry.name for e in estimators]),
                "estimand": list(design.estimands),
                "panel": list(design.panels),
                "event_time": design.event_times,
            },
            attrs={
                "title": "goodwill: estimator study",
                "config": config.model_dump_json(),
                "seed": config.seed,
                "goodwill_version": version,
                "alpha": design.alpha,
                "cumulative_event_times": list(design.cumulative),
                "intensity": design.columns.intensity or "",
                "n_consumers": design.n_consumers,
                "n_weeks": design.n_weeks,
                "failures": json.dumps(self._failures()),
            },
        )

    def _failures(self) -> dict[str, dict[str, str]]:
        """The first failure message of each scenario and estimator, and how often it failed."""
        failures: dict[str, dict[str, str]] = {}
        failed, messages = self.arrays["failed"], self.arrays["failure"]
        for s, scenario in enumerate(self.plan.scenarios):
            for e, estimator in enumerate(self.plan.design.estimators):
                cells = failed[s, :, e]
                if cells.any():
                    first = messages[s, :, e][cells.astype(bool)][0]
                    failures.setdefault(scenario, {})[estimator.name] = (
                        f"{int(cells.sum())} of {cells.size} fits failed: {first}"
                    )
        return failures
