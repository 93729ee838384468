"""Diagnose an estimator study: bias, RMSE, coverage and test size, each with its Monte-Carlo SE.

:func:`diagnose` works on a study's Dataset (:func:`sim.study.simulate_study`, or
``study.nc`` loaded), never on the simulation itself, so a study is diagnosed again without
simulating again. Each diagnosand is an average over replications and comes with its
Monte-Carlo standard error, as Morris, White and Crowther (2019, "Using simulation studies to
evaluate statistical methods", Statistics in Medicine 38, Table 6) give them, over the R
replications whose fit succeeded:

* bias = mean(estimate - truth), MCSE = sd(estimate - truth) / sqrt(R);
* sd (the empirical SE) = sd(estimate), MCSE = sd / sqrt(2 (R - 1));
* rmse = sqrt(mean((estimate - truth)^2)), MCSE by the delta method from that of the MSE,
  sd((estimate - truth)^2) / sqrt(R) / (2 rmse);
* mean_se = mean(se), MCSE = sd(se) / sqrt(R); se_ratio = mean_se / sd, MCSE
  se_ratio sqrt(var(se) / (R mean_se^2) + 1 / (2 (R - 1)));
* coverage = share of CIs holding the truth, ci_length = mean(ci_high - ci_low);
* pretrend_rejection = share of joint pre-trend tests rejecting at the study's alpha (on the
  placebo panel of a scenario with parallel trends, the test's size; where the leads are not
  zero, its power), MCSE sqrt(p (1 - p) / R) for both shares.

The truth varies by replication (each panel's own victims); on the placebo panel it is zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

ORDER = ("scenario", "estimator", "estimand", "panel")
"""The dims a diagnosis is by (besides the event time)."""

DIAGNOSANDS = (
    "bias",
    "rmse",
    "sd",
    "mean_se",
    "se_ratio",
    "coverage",
    "ci_length",
    "pretrend_rejection",
)
"""The diagnosands, each with a ``<name>_mcse`` column."""


def diagnose(study: xr.Dataset) -> pd.DataFrame:
    """The diagnosis table of a study: one row per scenario, estimator, estimand, panel and
    target (the cumulative effect, then each event time).

    Parameters
    ----------
    study : xarray.Dataset
        The output of :func:`sim.study.simulate_study` (or ``study.nc`` loaded).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``estimator``, ``label``, ``estimand``, ``panel``, ``target``
        ("cumulative" or "event_time"), ``event_time`` (NaN for the cumulative effect),
        ``replications`` (fits that succeeded), ``failed``, ``truth`` (mean over replications),
        ``estimate`` (mean), then each of :data:`DIAGNOSANDS` followed by its Monte-Carlo
        SE ``<name>_mcse``; the pre-trend rejection rate is on the cumulative rows only (one
        test per fit), with ``pretrend_tests`` (fits with leads to test).
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # a diagnosand of < 2 fits is NaN
        return _diagnose(study)


def _diagnose(study: xr.Dataset) -> pd.DataFrame:
    alpha = float(study.attrs["alpha"])
    truth = _placebo_truth(study["truth_cumulative"], study["panel"])
    cumulative = _diagnosands(
        study["cumulative_estimate"],
        study["cumulative_se"],
        study["cumulative_ci_low"],
        study["cumulative_ci_high"],
        truth,
    )
    reject = (study["pretrend_pvalue"] < alpha).where(study["pretrend_pvalue"].notnull())
    tested = reject.notnull().sum("replication")
    rate = reject.mean("replication")
    cumulative["pretrend_rejection"] = rate
    cumulative["pretrend_rejection_mcse"] = np.sqrt(rate * (1 - rate) / tested)
    cumulative["pretrend_tests"] = tested
    rows = [_table(cumulative, "cumulative")]
    by_time = _diagnosands(
        study["estimate"],
        study["se"],
        study["ci_low"],
        study["ci_high"],
        _placebo_truth(study["truth"], study["panel"]),
    )
    rows.append(_table(by_time, "event_time"))
    table = pd.concat(rows, ignore_index=True)
    failed = study["failed"].sum("replication").to_series().rename("failed")
    table = table.join(failed, on=["scenario", "estimator", "panel"])
    labels = dict(zip(study["estimator"].values, study["label"].values, strict=True))
    table.insert(2, "label", table["estimator"].map(labels))
    columns = ["scenario", "estimator", "label", "estimand", "panel", "target", "event_time"]
    columns += ["replications", "failed", "truth", "estimate"]
    columns += [c for name in DIAGNOSANDS for c in (name, f"{name}_mcse")]
    columns += ["pretrend_tests"]
    return table.reindex(columns=columns)


def _placebo_truth(truth: xr.DataArray, panel: xr.DataArray) -> xr.DataArray:
    """The truth by panel: the replication's on the observed panel, zero on the placebo."""
    return xr.concat(
        [truth if p == "observed" else xr.zeros_like(truth) for p in panel.values], dim=panel
    )


def _diagnosands(
    estimate: xr.DataArray,
    se: xr.DataArray,
    low: xr.DataArray,
    high: xr.DataArray,
    truth: xr.DataArray,
) -> xr.Dataset:
    """Every diagnosand but the pre-trend rejection, over replications, with MC SEs."""
    used = estimate.notnull() & truth.notnull()
    estimate, se = estimate.where(used), se.where(used)
    error = estimate - truth
    n = used.sum("replication")
    sd = estimate.std("replication", ddof=1)
    mse = (error**2).mean("replication")
    rmse = np.sqrt(mse)
    mean_se = se.mean("replication")
    ratio = mean_se / sd
    covered = ((low <= truth) & (truth <= high)).where(used)
    coverage = covered.mean("replication")
    length = (high - low).where(used)
    out = xr.Dataset(
        {
            "replications": n,
            "truth": truth.where(used).mean("replication"),
            "estimate": estimate.mean("replication"),
            "bias": error.mean("replication"),
            "bias_mcse": error.std("replication", ddof=1) / np.sqrt(n),
            "rmse": rmse,
            "rmse_mcse": (error**2).std("replication", ddof=1) / np.sqrt(n) / (2 * rmse),
            "sd": sd,
            "sd_mcse": sd / np.sqrt(2 * (n - 1)),
            "mean_se": mean_se,
            "mean_se_mcse": se.std("replication", ddof=1) / np.sqrt(n),
            "se_ratio": ratio,
            "se_ratio_mcse": ratio
            * np.sqrt(se.var("replication", ddof=1) / (n * mean_se**2) + 1 / (2 * (n - 1))),
            "coverage": coverage,
            "coverage_mcse": np.sqrt(coverage * (1 - coverage) / n),
            "ci_length": length.mean("replication"),
            "ci_length_mcse": length.std("replication", ddof=1) / np.sqrt(n),
        }
    )
    return out


def _table(diagnosis: xr.Dataset, target: str) -> pd.DataFrame:
    """A diagnosis Dataset as tidy rows (rows without a single successful fit dropped)."""
    dims = [*ORDER, "event_time"] if "event_time" in diagnosis.dims else list(ORDER)
    diagnosis = diagnosis.reset_coords(drop=True)
    table = diagnosis.to_dataframe(dim_order=dims).reset_index()
    table = table[table["replications"] > 0]
    table.insert(len(ORDER), "target", target)
    if "event_time" not in table:
        table.insert(len(ORDER) + 1, "event_time", np.nan)
    return table
