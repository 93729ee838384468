"""The estimation stage: fit the configured estimators and store their estimates.

``goodwill run`` calls :func:`fit_estimators` on the simulated panel and
:func:`write_estimates` into the run directory; ``goodwill fit`` does the same for a panel read
from Parquet with :func:`read_panel`. The estimators are those of the registry
(:data:`sim.estimators.ESTIMATORS`: the study's two-way fixed-effects event study and the
heterogeneity-robust ones), all in the same units: per yuan of counterfeit with an intensity,
else yuan per treated unit. With an intensity every estimator is fitted twice, once for each
estimand: ``"intensity"`` (the per-yuan regression; its truth ``truth.intensity_multiplier``)
and ``"value"`` (fitted per treated unit and divided by the victims' mean fake value,
``models.value_weighted``; its truth ``truth.multiplier``, the spend lost per yuan sold, which
the projection uses). The estimates are stored three times: ``estimates.csv`` (tidy, one row
per estimator, estimand and event time, with the estimand's truth when simulated),
``multipliers.csv`` (each estimator's cumulative effect by estimand next to its truth) and
``estimates.nc`` (netCDF with the covariance matrices and each fit's metadata, for programs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xarray as xr

from models import EventStudyResults, SpendTruth, compare
from sim.estimation_settings import EstimationSettings
from sim.estimators import ESTIMATORS, estimands
from sim.out_of_core_settings import OutOfCoreSettings
from sim.rundir import RunDirectory


def panel_columns(settings: EstimationSettings) -> list[str]:
    """The panel columns the configured estimators read."""
    columns = [settings.outcome, settings.unit, settings.time, settings.cohort]
    columns += [c for c in (settings.intensity, settings.weights) if c is not None]
    for name in settings.estimators:
        columns += settings.options(name).columns()
    return list(dict.fromkeys(columns))


def check_panel_file(path: str | Path, settings: EstimationSettings) -> int:
    """Check that a Parquet panel has the columns the configured estimators need, reading its
    schema only; its number of rows.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing, is not Parquet, or lacks a column (named in the message).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{path}: a directory, not a Parquet file (`goodwill fit DIR` fits a directory of "
            "partitions out of core)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: panel file not found")
    try:
        metadata = pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise ValueError(f"{path}: not a Parquet file ({exc})") from None
    available = metadata.schema.to_arrow_schema().names  # the names read_parquet takes
    missing = [c for c in panel_columns(settings) if c not in available]
    if missing:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, missing))} not in the panel "
            f"(columns: {', '.join(available)})"
        )
    return metadata.num_rows


def read_panel(path: str | Path, settings: EstimationSettings) -> pd.DataFrame:
    """Read the columns the configured estimators need from a Parquet panel.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing, is not Parquet, or lacks a column (named in the message).
    """
    check_panel_file(path, settings)
    return pd.read_parquet(path, columns=panel_columns(settings))


Fits = dict[str, dict[str, EventStudyResults]]
"""Fitted results by estimand (``"intensity"``, ``"value"``; :data:`sim.estimators.ESTIMANDS`),
then by estimator name in the configured order."""


def fit_estimators(panel: pd.DataFrame, settings: EstimationSettings, seed: int = 0) -> Fits:
    """Fit every configured estimator to a panel, once for each estimand.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel with the columns ``settings`` names.
    settings : EstimationSettings
        The ``[estimation]`` section.
    seed : int
        Seed of the simulation-based parts (Callaway-Sant'Anna's uniform band).

    Returns
    -------
    dict
        Results by estimand, then estimator name: with an intensity, ``"intensity"`` (per
        yuan, intensity-weighted) and ``"value"`` (value-weighted per yuan,
        ``models.value_weighted``); without one, ``"intensity"`` only (per treated unit). Each
        has the event-study API (``event_time_effects()``, ``cumulative(a, b)``).
    """
    by_estimator = {
        name: ESTIMATORS[name].fit_estimands(panel, settings.columns, settings.options(name), seed)
        for name in settings.estimators
    }
    return {
        estimand: {name: fits[estimand] for name, fits in by_estimator.items()}
        for estimand in estimands(settings.intensity)
    }


def fit_partitioned_estimators(path: str | Path, settings: EstimationSettings) -> Fits:
    """Fit every configured estimator out of core to a directory of Parquet partitions
    (:func:`sim.fit_partitioned`), where ``[estimation.out_of_core]`` says.

    Only the "intensity" estimand is fitted: the value-weighted one divides by mean doses that
    need the panel in memory.

    Raises
    ------
    ValueError
        If an estimator cannot be fitted out of core yet, or an option is not offered out of
        core (named), or the sensitivity analysis asks for the value-weighted estimand.
    """
    unable = [n for n in settings.estimators if ESTIMATORS[n].fit_partitioned is None]
    if unable:
        able = [name for name, entry in ESTIMATORS.items() if entry.fit_partitioned is not None]
        raise ValueError(
            f"{path}: a directory of Parquet partitions is fitted out of core, which "
            f"{', '.join(unable)} cannot do yet (estimation.estimators: out of core "
            f"{', '.join(able)})"
        )
    sensitivity = settings.sensitivity
    if sensitivity is not None and sensitivity.estimand == "value":
        raise ValueError(
            "estimation.sensitivity.estimand = 'value': out of core only the 'intensity' "
            "estimand is fitted"
        )
    where = settings.out_of_core or OutOfCoreSettings()
    fits = {
        name: ESTIMATORS[name].fit_partitioned(
            Path(path), settings.columns, settings.options(name), where
        )
        for name in settings.estimators
    }
    return {"intensity": fits}


def true_effects(truth: SpendTruth, settings: EstimationSettings, estimand: str) -> pd.Series:
    """The simulated truth an estimand's estimates target, in their units, by event time.

    Per yuan with the estimand as weighting (``SpendTruth.event_time_effects``) when the study
    has an intensity, else in yuan per victim.
    """
    if settings.intensity is not None:
        table = truth.event_time_effects(per_yuan=True, weighting=estimand)
    else:
        table = truth.event_time_effects(per_yuan=False)
    return table["estimate"].rename("truth")


def estimates_table(
    results: Fits, settings: EstimationSettings, truth: SpendTruth | None = None
) -> pd.DataFrame:
    """Tidy estimates: one row per estimator, estimand and event time (``models.compare``).

    Columns estimator, estimand, event_time, estimate, se, ci_low, ci_high, band_low and
    band_high (a uniform band, where the estimator has one) and truth (the estimand's, if
    known). An omitted reference period is a row with estimate 0 and no standard error.
    """
    tables = []
    for estimand, fits in results.items():
        table = compare(fits).event_time_effects().rename(columns={"model": "estimator"})
        table.insert(1, "estimand", estimand)
        if truth is not None:
            table["truth"] = table["event_time"].map(true_effects(truth, settings, estimand))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def true_cumulative(truth: SpendTruth, settings: EstimationSettings, estimand: str) -> float:
    """The estimand's true sum of the effects over the reported event times."""
    first, last = settings.cumulative
    effects = true_effects(truth, settings, estimand)
    return float(effects.reindex(range(first, last + 1)).sum())


def multipliers_table(
    results: Fits, settings: EstimationSettings, truth: SpendTruth | None = None
) -> pd.DataFrame:
    """Each estimator's cumulative effect (the multiplier) for each estimand, with SE, 95% CI
    and the estimand's truth; indexed by estimator, the estimand a column."""
    first, last = settings.cumulative
    tables = []
    for estimand, fits in results.items():
        table = compare(fits).cumulative(first, last)[["estimate", "se", "ci_low", "ci_high"]]
        table.insert(0, "last_event_time", last)
        table.insert(0, "first_event_time", first)
        table.insert(0, "estimand", estimand)
        if truth is not None:
            table["truth"] = true_cumulative(truth, settings, estimand)
        tables.append(table)
    table = pd.concat(tables)
    table.index.name = "estimator"
    return table


ESTIMAND_TITLES = {
    "intensity": "intensity-weighted (the per-yuan regression's target)",
    "value": "value-weighted (spend lost per yuan sold)",
}
"""How ``goodwill run`` and ``goodwill fit`` name the estimands of per-yuan estimates."""


def describe_fit(
    results: Fits, settings: EstimationSettings, truth: SpendTruth | None = None
) -> str:
    """Lines for the run summary: for each estimand, each estimator's cumulative effect with
    its 95% CI, the truth (and whether the CI covers it), and a pre-trend test."""
    first, last = settings.cumulative
    unit = "per yuan of counterfeit" if settings.intensity else "yuan per treated unit"
    weighted = f", weighted by sampling weights {settings.weights!r}" if settings.weights else ""
    lines = [f"cumulative effect over event times {first}..{last}, {unit}{weighted}:"]
    for estimand, fits in results.items():
        true_total = None
        if settings.intensity is not None:
            lines.append(f" {ESTIMAND_TITLES[estimand]}:")
        if truth is not None:
            true_total = true_cumulative(truth, settings, estimand)
            lines.append(f"  simulated truth {true_total:.4f}")
        cumulative = compare(fits).cumulative(first, last)
        for name, fitted in fits.items():
            estimate, se, low, high = cumulative.loc[name, ["estimate", "se", "ci_low", "ci_high"]]
            line = (
                f"  {name:<18} {estimate:.4f} (SE {se:.4f}), 95% CI [{low:.4f}, {high:.4f}]"
                f"  {fitted.vcov_type}, {fitted.nobs:,} obs"
            )
            if true_total is not None:
                line += ", truth " + ("inside" if low <= true_total <= high else "outside")
            lines.append(line)
            lines.append(f"  {'':<18} pre-trends: {_describe_pretrends(fitted)}")
            if fitted.effective_treated is not None:
                lines.append(
                    f"  {'':<18} effective treated units: {fitted.effective_treated:,.1f} of "
                    f"{fitted.n_treated:,}"
                )
    return "\n".join(lines)


def _describe_pretrends(results: EventStudyResults) -> str:
    if not any(t < 0 for t in results.event_times):
        return "no leads estimated"
    try:
        pretrend = results.pretrend_test()
    except ValueError as exc:
        return f"not testable ({str(exc).removeprefix('wald_test: ')})"
    if pretrend.n_draws:
        return (
            f"W/q = {pretrend.statistic:.3f} ({pretrend.df_num} leads), wild bootstrap "
            f"p = {pretrend.pvalue:.3f} ({pretrend.n_draws} draws)"
        )
    return (
        f"F({pretrend.df_num}, {pretrend.df_denom:g}) = {pretrend.statistic:.3f}, "
        f"p = {pretrend.pvalue:.3f}"
    )


def _estimand_dataset(
    fits: dict[str, EventStudyResults],
    settings: EstimationSettings,
    estimand: str,
    truth: SpendTruth | None,
) -> xr.Dataset:
    """One estimand's estimates, truth, covariances, multipliers and model names."""
    unit = "yuan per yuan of counterfeit" if settings.intensity else "yuan per treated unit"
    tidy = estimates_table({estimand: fits}, settings, truth)
    names = list(fits)
    grid = tidy.set_index(["estimator", "event_time"])
    event_times = np.sort(tidy["event_time"].unique())
    data = {}
    for column in ("estimate", "se", "ci_low", "ci_high", "band_low", "band_high"):
        values = grid[column].unstack("event_time").reindex(index=names, columns=event_times)
        data[column] = (("estimator", "event_time"), values.to_numpy(), {"units": unit})
    if truth is not None:
        truth_by_time = true_effects(truth, settings, estimand).reindex(event_times).to_numpy()
        data["truth"] = (
            "event_time",
            truth_by_time,
            {"units": unit, "long_name": "simulated truth: the effect the estimand targets"},
        )
    cov = np.full((len(names), event_times.size, event_times.size), np.nan)
    position = {t: j for j, t in enumerate(event_times)}
    for i, fitted in enumerate(fits.values()):
        where = [position[t] for t in fitted.event_times]
        cov[i][np.ix_(where, where)] = fitted.covariance.matrix
    data["cov"] = (
        ("estimator", "event_time_row", "event_time_col"),
        cov,
        {"units": f"({unit})^2", "long_name": "covariance of each estimator's estimates"},
    )
    multipliers = multipliers_table({estimand: fits}, settings, truth)
    for column in ("estimate", "se", "ci_low", "ci_high"):
        data[f"cumulative_{column}"] = (
            "estimator",
            multipliers[column].to_numpy(),
            {"units": unit},
        )
    data["model"] = ("estimator", [fitted.model_name for fitted in fits.values()])
    data["effective_treated"] = (
        "estimator",
        [np.nan if f.effective_treated is None else f.effective_treated for f in fits.values()],
        {
            "long_name": "effective number of treated units, (sum v^2)^2 / sum v^4 over the "
            "doses v (the number of treated units for value-weighted fits; NaN without a dose)"
        },
    )
    coords = {"estimator": names, "event_time": event_times}
    coords.update(event_time_row=event_times, event_time_col=event_times)
    return xr.Dataset(data, coords=coords)


def estimates_dataset(
    results: Fits,
    settings: EstimationSettings,
    truth: SpendTruth | None = None,
    attrs: dict[str, str | int | float] | None = None,
) -> xr.Dataset:
    """The estimates as an xarray Dataset by ``estimand``, ``estimator`` and ``event_time``.

    Event times an estimator does not estimate are NaN. ``cov`` holds each estimator's
    covariance matrix of its coefficients on (``event_time_row``, ``event_time_col``); the
    cumulative effects, the model (``model``) and the truth (``truth``, by event time) are by
    estimand too; each fit's variance estimator, observations, window (``window_low``,
    ``window_high``), reference period (``ref``) and binning (``bin_endpoints``) are variables
    by estimator (the same for every estimand). ``sim.rundir.select_estimand`` picks one
    estimand.
    """
    names = list(results)  # in estimand order; "intensity" alone out of core
    parts = [_estimand_dataset(results[e], settings, e, truth) for e in names]
    dataset = xr.concat(parts, dim=pd.Index(names, name="estimand"), join="outer")
    fits = list(results["intensity"].values())
    dataset["vcov"] = ("estimator", [fitted.vcov_type for fitted in fits])
    dataset["nobs"] = ("estimator", [fitted.nobs for fitted in fits])
    dataset["window_low"] = (
        "estimator",
        [fitted.window[0] for fitted in fits],
        {"long_name": "lowest event time with an estimate"},
    )
    dataset["window_high"] = (
        "estimator",
        [fitted.window[1] for fitted in fits],
        {"long_name": "highest event time with an estimate"},
    )
    dataset["ref"] = (
        "estimator",
        [np.nan if fitted.ref is None else float(fitted.ref) for fitted in fits],
        {"long_name": "omitted reference event time (NaN: none)"},
    )
    dataset["bin_endpoints"] = (
        "estimator",
        [int(fitted.bin_endpoints) for fitted in fits],
        {"long_name": "1 if the window's end points pool every event time beyond them"},
    )
    dataset.attrs = {
        "outcome": settings.outcome,
        "intensity": settings.intensity or "",
        "cumulative_event_times": list(settings.cumulative),
        **(attrs or {}),
    }
    return dataset


def write_estimates(
    directory: RunDirectory,
    results: Fits,
    settings: EstimationSettings,
    truth: SpendTruth | None = None,
    attrs: dict[str, str | int | float] | None = None,
) -> list[Path]:
    """Write ``estimates.csv``, ``multipliers.csv`` and ``estimates.nc`` atomically."""
    return [
        directory.write("estimates.csv", estimates_table(results, settings, truth)),
        directory.write("multipliers.csv", multipliers_table(results, settings, truth)),
        directory.write("estimates.nc", estimates_dataset(results, settings, truth, attrs)),
    ]
