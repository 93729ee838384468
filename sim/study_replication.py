"""One replication of an estimator study: simulate a panel, fit every estimator, keep the truth.

:func:`replicate` is the pure kernel of :mod:`sim.study`: given the plan and a scenario and
replication, it simulates the scenario's panel from the replication's own seed, fits every
estimator to the panel and to its placebo (the same panel with the counterfactual outcome,
where every true effect is zero), and returns each fit's effects by event time, cumulative
effect, confidence intervals and pre-trend test next to the replication's true effects. Every
array is laid out on the plan's axes (estimator, estimand, panel, event time), NaN where a
fit has no value (an event time it does not estimate, a pre-trend test without leads, a fit
that failed).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models import ConsumerSpendModel, EventStudyResults, SpendTruth
from models.streams import Seed
from sim.estimators import Estimator, EstimatorOptions, PanelColumns

PANELS = ("observed", "placebo")
"""The panels each replication is fitted on: as simulated, and with the counterfactual
outcome (no effect anywhere; a pre-trend test's rejections there are its size when the
scenario's trends are parallel)."""

COUNTERFACTUAL = "spend_cf"
"""The simulated panel's column of spend had no consumer met a fake (the placebo outcome)."""

FIT_ERRORS = (ValueError, np.linalg.LinAlgError)
"""What a fit may raise on a panel it cannot estimate (recorded as a failed fit); anything
else is a bug and propagates."""


@dataclass(frozen=True)
class StudyEstimator:
    """An estimator of the study: its name there, label, registry entry and options."""

    name: str
    label: str
    entry: Estimator
    options: EstimatorOptions


@dataclass(frozen=True)
class ReplicationDesign:
    """What every replication of a study shares: panel size, columns, estimators and axes."""

    n_consumers: int
    n_weeks: int
    chunk_size: int
    columns: PanelColumns
    estimators: tuple[StudyEstimator, ...]
    estimands: tuple[str, ...]
    panels: tuple[str, ...]
    cumulative: tuple[int, int]
    alpha: float

    @property
    def event_times(self) -> np.ndarray:
        """Every event time a panel of ``n_weeks`` can show."""
        return np.arange(-(self.n_weeks - 1), self.n_weeks)


FIT_VARIABLES = ("estimate", "se", "ci_low", "ci_high")
"""Per event time, of each fit."""

SUMMARY_VARIABLES = (
    "cumulative_estimate",
    "cumulative_se",
    "cumulative_ci_low",
    "cumulative_ci_high",
    "pretrend_statistic",
    "pretrend_df",
    "pretrend_pvalue",
)
"""One number per fit: the cumulative effect with its SE and CI, and the joint pre-trend test
(F statistic, numerator degrees of freedom, p-value)."""


def replication_arrays(design: ReplicationDesign, n: int) -> dict[str, np.ndarray]:
    """Empty (NaN) arrays for ``n`` replications, by variable."""
    fit_shape = (n, len(design.estimators), len(design.estimands), len(design.panels))
    n_times = design.event_times.size
    arrays = {name: np.full((*fit_shape, n_times), np.nan) for name in FIT_VARIABLES}
    arrays.update({name: np.full(fit_shape, np.nan) for name in SUMMARY_VARIABLES})
    arrays["failed"] = np.zeros((n, len(design.estimators), len(design.panels)), np.int8)
    arrays["failure"] = np.full((n, len(design.estimators), len(design.panels)), "", "<U200")
    arrays["truth"] = np.full((n, len(design.estimands), n_times), np.nan)
    arrays["truth_cumulative"] = np.full((n, len(design.estimands)), np.nan)
    for name in ("treated_units", "effective_treated", "top_dose_share"):
        arrays[name] = np.full(n, np.nan)
    return arrays


def replicate(
    design: ReplicationDesign,
    model: ConsumerSpendModel,
    seed: Seed,
    fit_seed: int,
    out: dict[str, np.ndarray],
    row: int,
) -> None:
    """Simulate one replication and fill row ``row`` of ``out`` (:func:`replication_arrays`).

    Warnings of the fits (cohorts dropped as always treated, untreated outcomes that cannot be
    imputed) are routine in a study and not shown; a fit that raises one of
    :data:`FIT_ERRORS` is recorded as failed, with its message.
    """
    panel, truth = model.simulate(
        n_consumers=design.n_consumers,
        n_weeks=design.n_weeks,
        seed=seed,
        chunk_size=design.chunk_size,
    )
    _truths(design, truth, out, row)
    _doses(design.columns, panel, out, row)
    outcome = design.columns.outcome
    for p, kind in enumerate(design.panels):
        data = panel if kind == "observed" else panel.assign(**{outcome: panel[COUNTERFACTUAL]})
        for e, estimator in enumerate(design.estimators):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fits = estimator.entry.fit_estimands(
                        data, design.columns, estimator.options, fit_seed
                    )
            except FIT_ERRORS as exc:
                out["failed"][row, e, p] = 1
                out["failure"][row, e, p] = " ".join(str(exc).split())[:200]
                continue
            for k, estimand in enumerate(design.estimands):
                _store_fit(design, fits[estimand], out, (row, e, k, p))


def _store_fit(
    design: ReplicationDesign,
    fit: EventStudyResults,
    out: dict[str, np.ndarray],
    at: tuple[int, int, int, int],
) -> None:
    """One fit's effects on the event-time axis, cumulative effect and pre-trend test."""
    table = fit.event_time_effects(design.alpha)
    position = table.index.to_numpy() - design.event_times[0]
    for name in FIT_VARIABLES:
        out[name][at][position] = table[name].to_numpy()
    first, last = design.cumulative
    estimate, se = fit.cumulative(first, last)
    low, high = fit.cumulative_conf_int(first, last, design.alpha)
    out["cumulative_estimate"][at], out["cumulative_se"][at] = estimate, se
    out["cumulative_ci_low"][at], out["cumulative_ci_high"][at] = low, high
    try:
        test = fit.pretrend_test()
    except ValueError:  # no leads (imputation), or a singular covariance of the leads
        return
    out["pretrend_statistic"][at] = test.statistic
    out["pretrend_df"][at] = test.df_num
    out["pretrend_pvalue"][at] = test.pvalue


def identified_truth(truth: SpendTruth) -> SpendTruth:
    """The truth over the victims the panel shows untreated in at least one week.

    A victim recorded in its first observed week (week 1 of a balanced panel) has no untreated
    week: no difference-in-differences estimator identifies its effect, and the estimators
    drop it (Callaway-Sant'Anna, Sun-Abraham and imputation with a warning) or identify
    nothing from it beyond its own fixed effect (the event study). The study's estimand leaves
    such victims out, so that a bias is the estimator's and not a difference in who is
    counted.
    """
    consumers = truth.consumers
    always = consumers["recorded_week"] <= consumers["first_observed_week"]
    consumers = consumers.assign(recorded_week=consumers["recorded_week"].where(~always))
    return replace(truth, consumers=consumers)


def _truths(
    design: ReplicationDesign, truth: SpendTruth, out: dict[str, np.ndarray], row: int
) -> None:
    """The replication's true effects by event time and summed over the cumulative range,
    for each estimand (per yuan with its weighting, or in yuan per victim without a dose),
    over the victims the estimators can use (:func:`identified_truth`)."""
    truth = identified_truth(truth)
    first, last = design.cumulative
    for k, estimand in enumerate(design.estimands):
        if design.columns.intensity is not None:
            table = truth.event_time_effects(per_yuan=True, weighting=estimand)
        else:
            table = truth.event_time_effects(per_yuan=False)
        effects = table["estimate"].reindex(design.event_times).to_numpy()
        out["truth"][row, k] = effects
        window = effects[(design.event_times >= first) & (design.event_times <= last)]
        out["truth_cumulative"][row, k] = window.sum() if not np.isnan(window).any() else np.nan


def _doses(
    columns: PanelColumns, panel: pd.DataFrame, out: dict[str, np.ndarray], row: int
) -> None:
    """How many units are treated, and with a dose how concentrated the per-yuan weights are:
    the effective number (sum of squared doses)^2 / (sum of fourth powers) and the largest
    unit's share of the squared doses."""
    units = panel.drop_duplicates(columns.unit)
    treated = np.isfinite(units[columns.cohort].to_numpy(dtype=float))
    out["treated_units"][row] = treated.sum()
    if columns.intensity is None or not treated.any():
        return
    squared = units[columns.intensity].to_numpy(dtype=float)[treated] ** 2
    total = squared.sum()
    if total > 0 and math.isfinite(total):
        out["effective_treated"][row] = total**2 / (squared**2).sum()
        out["top_dose_share"][row] = squared.max() / total
