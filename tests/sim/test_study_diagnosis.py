"""diagnose (sim.study_diagnosis) against the diagnosands computed by hand from their
definitions on a made-up study, where every replication's numbers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.study_diagnosis import diagnose

R = 400


def _study(seed: int = 0) -> xr.Dataset:
    """One scenario, two estimators, one estimand, both panels, event times -1..1; estimates
    normal around the truth (+0.1 bias for "b"), SEs a 0.9 scale of the true sd of 0.5 for
    "b", and p-values uniform (a test of exact size) for "a", uniform on (0, 0.1) for "b"."""
    rng = np.random.default_rng(seed)
    fit = (1, R, 2, 1, 2)
    truth = rng.normal(-2.0, 0.1, (1, R, 1))
    estimate = truth[:, :, None, :, None] + rng.normal(0, 0.5, fit)
    estimate[:, :, 1] += 0.1
    se = np.broadcast_to(np.array([0.5, 0.45])[None, None, :, None, None], fit).copy()
    pvalue = rng.uniform(0, 1, fit)
    pvalue[:, :, 1] = rng.uniform(0, 0.1, (1, R, 1, 2))
    by_time = (*fit, 3)
    dims = ("scenario", "replication", "estimator", "estimand", "panel")
    data = {
        "cumulative_estimate": (dims, estimate),
        "cumulative_se": (dims, se),
        "cumulative_ci_low": (dims, estimate - 1.96 * se),
        "cumulative_ci_high": (dims, estimate + 1.96 * se),
        "pretrend_pvalue": (dims, pvalue),
        "estimate": ((*dims, "event_time"), np.broadcast_to(estimate[..., None], by_time)),
        "se": ((*dims, "event_time"), np.broadcast_to(se[..., None], by_time)),
        "ci_low": ((*dims, "event_time"), np.broadcast_to((estimate - se)[..., None], by_time)),
        "ci_high": ((*dims, "event_time"), np.broadcast_to((estimate + se)[..., None], by_time)),
        "failed": (("scenario", "replication", "estimator", "panel"), np.zeros((1, R, 2, 2), "i1")),
        "truth_cumulative": (("scenario", "replication", "estimand"), truth),
        "truth": (
            ("scenario", "replication", "estimand", "event_time"),
            np.broadcast_to(truth[..., None], (1, R, 1, 3)),
        ),
    }
    return xr.Dataset(
        data,
        coords={
            "scenario": ["s"],
            "replication": np.arange(R),
            "estimator": ["a", "b"],
            "label": ("estimator", ["A", "B"]),
            "estimand": ["intensity"],
            "panel": ["observed", "placebo"],
            "event_time": [-1, 0, 1],
        },
        attrs={"alpha": 0.05},
    )


@pytest.fixture(scope="module")
def study():
    return _study()


@pytest.fixture(scope="module")
def table(study):
    return diagnose(study)


def _row(table, estimator, panel="observed", target="cumulative", event_time=None):
    rows = table[
        (table["estimator"] == estimator) & (table["panel"] == panel) & (table["target"] == target)
    ]
    if event_time is not None:
        rows = rows[rows["event_time"] == event_time]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("estimator", [0, 1])
def test_cumulative_diagnosands_by_hand(study, table, estimator):
    cell = study.isel(scenario=0, estimand=0, estimator=estimator).sel(panel="observed")
    estimate = cell["cumulative_estimate"].to_numpy()
    truth = study["truth_cumulative"].isel(scenario=0, estimand=0).to_numpy()
    se = cell["cumulative_se"].to_numpy()
    error = estimate - truth
    row = _row(table, "ab"[estimator])
    assert row["replications"] == R and row["failed"] == 0
    assert row["bias"] == pytest.approx(np.mean(error), 1e-12)
    assert row["bias_mcse"] == pytest.approx(np.std(error, ddof=1) / np.sqrt(R), 1e-12)
    assert row["sd"] == pytest.approx(np.std(estimate, ddof=1), 1e-12)
    assert row["sd_mcse"] == pytest.approx(np.std(estimate, ddof=1) / np.sqrt(2 * (R - 1)), 1e-12)
    rmse = np.sqrt(np.mean(error**2))
    assert row["rmse"] == pytest.approx(rmse, 1e-12)
    assert row["rmse_mcse"] == pytest.approx(
        np.std(error**2, ddof=1) / np.sqrt(R) / (2 * rmse), 1e-12
    )
    assert row["mean_se"] == pytest.approx(se.mean(), 1e-12)
    assert row["se_ratio"] == pytest.approx(se.mean() / np.std(estimate, ddof=1), 1e-12)
    covered = np.mean(np.abs(error) <= 1.96 * se)
    assert row["coverage"] == pytest.approx(covered, 1e-12)
    assert row["coverage_mcse"] == pytest.approx(np.sqrt(covered * (1 - covered) / R), 1e-12)
    assert row["ci_length"] == pytest.approx(np.mean(2 * 1.96 * se), 1e-12)
    rejected = np.mean(cell["pretrend_pvalue"].to_numpy() < 0.05)
    assert row["pretrend_rejection"] == pytest.approx(rejected, 1e-12)
    assert row["pretrend_tests"] == R


def test_the_diagnosis_finds_what_was_built_in(table):
    """Within 3 Monte-Carlo SEs: "a" unbiased, sized and covering 95%; "b" biased by 0.1,
    its SEs 10% small, its test rejecting half the time."""
    a, b = _row(table, "a"), _row(table, "b")
    assert abs(a["bias"]) < 3 * a["bias_mcse"]
    assert abs(b["bias"] - 0.1) < 3 * b["bias_mcse"]
    assert abs(a["coverage"] - 0.95) < 3 * np.sqrt(0.95 * 0.05 / R)
    assert abs(a["pretrend_rejection"] - 0.05) < 3 * np.sqrt(0.05 * 0.95 / R)
    assert abs(b["pretrend_rejection"] - 0.5) < 3 * np.sqrt(0.25 / R)  # p ~ U(0, 0.1)
    assert abs(b["se_ratio"] - 0.9) < 3 * b["se_ratio_mcse"]


def test_placebo_truth_is_zero(study, table):
    cell = study.isel(scenario=0, estimand=0, estimator=0).sel(panel="placebo")
    row = _row(table, "a", panel="placebo")
    assert row["truth"] == 0.0
    assert row["bias"] == pytest.approx(cell["cumulative_estimate"].mean().item(), 1e-12)


def test_event_time_rows(table):
    rows = table[table["target"] == "event_time"]
    assert len(rows) == 2 * 2 * 3
    row = _row(table, "a", target="event_time", event_time=0)
    assert row["coverage"] < _row(table, "a")["coverage"]  # +- 1 SE intervals there
    assert np.isnan(row["pretrend_rejection"])


def test_failed_fits_are_left_out_and_counted():
    study = _study()
    study["cumulative_estimate"][0, :10, 0, 0, 0] = np.nan
    study["failed"][0, :10, 0, 0] = 1
    row = _row(diagnose(study), "a")
    assert row["replications"] == R - 10 and row["failed"] == 10


def test_columns_and_labels(table):
    assert list(table.columns[:7]) == [
        "scenario",
        "estimator",
        "label",
        "estimand",
        "panel",
        "target",
        "event_time",
    ]
    assert set(table["label"]) == {"A", "B"}
    assert isinstance(table, pd.DataFrame)
