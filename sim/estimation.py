"""The estimation stage: fit the configured event study and store its estimates.

``goodwill run`` calls :func:`fit_event_study` on the simulated panel and
:func:`write_estimates` into the run directory; ``goodwill fit`` does the same for a panel read
from Parquet with :func:`read_panel`. The estimates are stored twice: ``estimates.csv`` (one
row per event time, for people) and ``estimates.nc`` (netCDF with the covariance matrix and
the fit's metadata, for programs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xarray as xr

from models import EventStudy, EventStudyResults, SpendTruth
from sim.config import EstimationSettings
from sim.store import write_csv, write_netcdf


def panel_columns(settings: EstimationSettings) -> list[str]:
    """The panel columns an event study reads."""
    columns = [settings.outcome, settings.unit, settings.time, settings.cohort]
    if settings.intensity is not None:
        columns.append(settings.intensity)
    columns += [c for c in settings.clusters or [] if c not in columns]
    return list(dict.fromkeys(columns))


def read_panel(path: str | Path, settings: EstimationSettings) -> pd.DataFrame:
    """Read the columns an event study needs from a Parquet panel.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing, is not Parquet, or lacks a column (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: panel file not found")
    try:
        available = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise ValueError(f"{path}: not a Parquet file ({exc})") from None
    wanted = panel_columns(settings)
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, missing))} not in the panel "
            f"(columns: {', '.join(available)})"
        )
    return pd.read_parquet(path, columns=wanted)


def fit_event_study(panel: pd.DataFrame, settings: EstimationSettings) -> EventStudyResults:
    """Fit the configured event study to a panel."""
    study = EventStudy(
        panel,
        outcome=settings.outcome,
        unit=settings.unit,
        time=settings.time,
        cohort=settings.cohort,
        window=settings.window,
        ref=settings.ref,
        intensity=settings.intensity,
        bin_endpoints=settings.bin_endpoints,
    )
    return study.fit(vcov=settings.vcov_spec)


def true_effects(truth: SpendTruth, settings: EstimationSettings) -> pd.Series:
    """The simulated truth in the units of the estimates, by event time.

    Per yuan with intensity-weighting (the estimand of the per-yuan event study, see
    ``models.truth``) when the study has an intensity, else in yuan per victim.
    """
    if settings.intensity is not None:
        table = truth.event_time_effects(per_yuan=True, weighting="intensity")
    else:
        table = truth.event_time_effects(per_yuan=False)
    return table["estimate"].rename("truth")


def estimates_table(
    results: EventStudyResults, settings: EstimationSettings, truth: SpendTruth | None = None
) -> pd.DataFrame:
    """Estimates by event time (estimate, se, ci_low, ci_high), with the truth if known.

    The reference period is a row with estimate 0 and no standard error.
    """
    table = results.event_time_effects()
    table.loc[results.ref] = [0.0, np.nan, np.nan, np.nan]
    table = table.sort_index()
    if truth is not None:
        table["truth"] = true_effects(truth, settings).reindex(table.index)
    return table


def cumulative_summary(
    results: EventStudyResults, settings: EstimationSettings
) -> dict[str, float | list[int] | str]:
    """The reported cumulative effect, its SE and 95% CI, for the run manifest."""
    first, last = settings.cumulative
    estimate, se = results.cumulative(first, last)
    low, high = results.cumulative_conf_int(first, last)
    return {
        "event_times": [first, last],
        "estimate": estimate,
        "se": se,
        "ci_low": low,
        "ci_high": high,
        "vcov": results.vcov_type,
    }


def describe_fit(
    results: EventStudyResults, settings: EstimationSettings, truth: SpendTruth | None = None
) -> str:
    """Lines for the run summary: the cumulative effect with its 95% CI, truth, pre-trends."""
    first, last = settings.cumulative
    summary = cumulative_summary(results, settings)
    estimate, se, low, high = (summary[k] for k in ("estimate", "se", "ci_low", "ci_high"))
    unit = "per yuan of counterfeit" if settings.intensity else "yuan per treated unit"
    lines = [
        f"event study ({results.vcov_type}, {results.nobs:,} rows): cumulative effect over "
        f"event times {first}..{last}, {unit}:",
        f"  estimate {estimate:.4f} (SE {se:.4f}), 95% CI [{low:.4f}, {high:.4f}]",
    ]
    if truth is not None:
        true_total = float(true_effects(truth, settings).reindex(range(first, last + 1)).sum())
        covered = "inside" if low <= true_total <= high else "outside"
        lines.append(f"  simulated truth {true_total:.4f} ({covered} the CI)")
        if settings.intensity is not None and truth.horizon_observed:
            lines.append(
                f"  (value-weighted truth, spend lost per yuan sold: {truth.multiplier:.4f})"
            )
    if any(t < 0 for t in results.event_times):
        try:
            pretrend = results.pretrend_test()
        except ValueError as exc:
            lines.append(f"  pre-trends: not testable ({str(exc).removeprefix('wald_test: ')})")
        else:
            lines.append(
                f"  pre-trends: F({pretrend.df_num}, {pretrend.df_denom:g}) = "
                f"{pretrend.statistic:.3f}, p = {pretrend.pvalue:.3f}"
            )
    return "\n".join(lines)


def estimates_dataset(
    results: EventStudyResults,
    settings: EstimationSettings,
    truth: SpendTruth | None = None,
    attrs: dict[str, str | int | float] | None = None,
) -> xr.Dataset:
    """The estimates as an xarray Dataset: by ``event_time``, with the covariance matrix."""
    table = estimates_table(results, settings, truth)
    unit = "yuan per yuan of counterfeit" if settings.intensity else "yuan per treated unit"
    data = {name: ("event_time", table[name].to_numpy(), {"units": unit}) for name in table.columns}
    times = list(results.event_times)
    data["cov"] = (
        ("event_time_row", "event_time_col"),
        results.covariance.matrix,
        {"units": f"({unit})^2", "long_name": "covariance of the estimates"},
    )
    cumulative = cumulative_summary(results, settings)
    return xr.Dataset(
        data,
        coords={
            "event_time": table.index.to_numpy(),
            "event_time_row": times,
            "event_time_col": times,
        },
        attrs={
            "estimator": results.model_name,
            "outcome": settings.outcome,
            "intensity": settings.intensity or "",
            "vcov": results.vcov_type,
            "df_t": results.df_t,
            "nobs": results.nobs,
            "ref": results.ref,
            "window": list(results.window),
            "bin_endpoints": int(settings.bin_endpoints),
            "cumulative_event_times": cumulative["event_times"],
            "cumulative_estimate": cumulative["estimate"],
            "cumulative_se": cumulative["se"],
            "cumulative_ci_low": cumulative["ci_low"],
            "cumulative_ci_high": cumulative["ci_high"],
            **(attrs or {}),
        },
    )


def write_estimates(
    directory: Path,
    results: EventStudyResults,
    settings: EstimationSettings,
    truth: SpendTruth | None = None,
    attrs: dict[str, str | int | float] | None = None,
) -> list[Path]:
    """Write ``estimates.csv`` and ``estimates.nc`` atomically; return their paths."""
    return [
        write_csv(directory / "estimates.csv", estimates_table(results, settings, truth)),
        write_netcdf(
            directory / "estimates.nc", estimates_dataset(results, settings, truth, attrs)
        ),
    ]
