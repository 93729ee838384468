"""CR3 of the event-study regressions is the leave-one-unit-out jackknife.

The reference refits the model once without each unit (its rows and its unit effect) and sums
the outer products of the changes in the coefficients, ``sum_i (b_(-i) - b)(b_(-i) - b)'``:
an independent computation that shares nothing with the closed form but the estimator. The
two agree to rounding (tolerance 1e-10 relative to the largest entry).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import EventStudy, FewEffectiveUnitsWarning, FixedEffectsOLS, SunAbraham

COLUMNS = dict(outcome="y", unit="i", time="t", cohort="g", intensity="v")


def heavy_tailed_panel(
    n_units: int = 40, n_periods: int = 7, n_treated: int = 24, seed: int = 3
) -> pd.DataFrame:
    """Three cohorts (periods 3, 4, 5) of treated units with Pareto(1.5) doses, the rest
    never treated; outcome = unit effect + noise."""
    rng = np.random.default_rng(seed)
    treated = np.arange(n_units) < n_treated
    cohort = np.where(treated, 3 + np.arange(n_units) % 3, np.nan)
    dose = np.where(treated, rng.pareto(1.5, n_units) + 1.0, 0.0)
    rows = n_units * n_periods
    return pd.DataFrame(
        {
            "i": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(np.arange(1, n_periods + 1), n_units),
            "g": np.repeat(cohort, n_periods),
            "v": np.repeat(dose, n_periods),
            "y": rng.normal(size=rows) + np.repeat(rng.normal(size=n_units), n_periods),
        }
    )


def brute_force_jackknife(df: pd.DataFrame, fit) -> np.ndarray:
    """sum_i (b_(-i) - b)(b_(-i) - b)' by refitting without each unit."""
    full = fit(df)
    changes = np.array([fit(df[df["i"] != unit]) - full for unit in df["i"].unique()])
    return changes.T @ changes


def _fit_twfe(df: pd.DataFrame) -> np.ndarray:
    return EventStudy(df, **COLUMNS, window=(-2, 3)).fit().coefficients


def _fit_saturated(df: pd.DataFrame) -> np.ndarray:
    return SunAbraham(df, **COLUMNS).fit().saturated.coefficients


@pytest.fixture(autouse=True)
def _few_effective_units_are_the_point():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)
        yield


@pytest.mark.parametrize("shuffled", [False, True], ids=["grid", "rows shuffled"])
def test_twfe_cr3_is_the_leave_one_unit_out_jackknife(shuffled):
    df = heavy_tailed_panel()
    if shuffled:  # not stored unit by unit: the general balanced path
        df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    fitted = EventStudy(df, **COLUMNS, window=(-2, 3)).fit(vcov="CR3")
    reference = brute_force_jackknife(df, _fit_twfe)
    np.testing.assert_allclose(fitted.covariance.matrix, reference, atol=1e-10 * reference.max())
    assert fitted.vcov_type == "CR3 by i"
    assert fitted.df_t == 39 and fitted.covariance.n_clusters == (40,)


def test_sun_abraham_cr3_is_the_jackknife_of_the_saturated_regression_and_its_averages():
    df = heavy_tailed_panel()
    fitted = SunAbraham(df, **COLUMNS).fit(vcov="CR3")
    reference = brute_force_jackknife(df, _fit_saturated)
    saturated = fitted.saturated.covariance.matrix
    np.testing.assert_allclose(saturated, reference, atol=1e-10 * reference.max())
    # The event-time effects average the cohort effects with fixed weights (the delta method).
    weights = np.zeros((len(fitted.names), len(fitted.saturated.names)))
    for j, name in enumerate(fitted.saturated.names):
        event_time, cohort = (int(float(part.split("::")[1])) for part in name.split(":cohort"))
        share = fitted.components().set_index(["cohort", "event_time"])["weight"]
        weights[fitted.event_times.index(event_time), j] = share[(cohort, event_time)]
    np.testing.assert_allclose(fitted.covariance.matrix, weights @ saturated @ weights.T)


def test_cr3_exceeds_crv1_when_a_few_doses_dominate():
    df = heavy_tailed_panel(n_units=400, n_treated=240)
    crv1 = SunAbraham(df, **COLUMNS).fit().cumulative(0, 2).se
    cr3 = SunAbraham(df, **COLUMNS).fit(vcov="CR3").cumulative(0, 2).se
    assert cr3 > 1.1 * crv1


def test_cr3_needs_a_balanced_two_way_design_clustered_by_unit():
    df = heavy_tailed_panel()
    df["x"] = np.random.default_rng(0).normal(size=len(df))
    with pytest.raises(ValueError, match=r"CR3 is available for event studies on a balanced"):
        SunAbraham(df, **COLUMNS, covariates=["x"]).fit(vcov="CR3")
    with pytest.raises(ValueError, match=r"CR3 is available for event studies on a balanced"):
        EventStudy(df.iloc[1:], **COLUMNS, window=(-2, 3)).fit(vcov="CR3")
    with pytest.raises(ValueError, match=r"only CRV1 takes cluster columns"):
        EventStudy(df, **COLUMNS).fit(vcov={"CR3": "g"})
    with pytest.raises(ValueError, match=r"'CR3' is not available .* supports iid, HC1, CRV1"):
        FixedEffectsOLS(df, "y", ["x"], ["i", "t"]).fit(vcov="CR3")


def test_cr3_refuses_a_unit_that_alone_determines_a_coefficient():
    df = heavy_tailed_panel()
    lonely = df["i"] == 0  # the only unit of cohort 6: its cohort effects rest on it alone
    df.loc[lonely, "g"] = 6.0
    with pytest.raises(ValueError, match=r"but a i alone determines a coefficient"):
        SunAbraham(df, **COLUMNS).fit(vcov="CR3")
