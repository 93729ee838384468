"""value_weighted: the value-weighted per-yuan path, against direct computations (statsmodels
OLS with unit and period dummies; Callaway and Sant'Anna's 2x2 differences by hand) and
against the simulated truth; and the Monte-Carlo coverage of its confidence interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from models import (
    CallawaySantAnna,
    EventStudy,
    ImputationDiD,
    ResponsePath,
    SunAbraham,
    dose_means,
    value_weighted,
)

COLUMNS = {"unit": "unit", "time": "time", "cohort": "cohort"}
RTOL = 1e-9  # two exact computations of the same least-squares numbers


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    """60 units x 8 periods: cohorts 3 and 5 (20 each) and 20 never treated; doses
    lognormal; effects heterogeneous and not proportional to the dose."""
    rng = np.random.default_rng(7)
    n_units, n_periods = 60, 8
    cohort = np.repeat([3.0, 5.0, np.nan], 20)
    dose = np.where(np.isnan(cohort), np.nan, rng.lognormal(4.0, 0.6, n_units))
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    event_time = time - cohort[unit]
    effect = np.where(event_time >= 0, -(5.0 + 0.3 * dose[unit]) / (1.0 + np.abs(event_time)), 0)
    y = rng.normal(0, 1, n_units)[unit] + 0.5 * time + np.nan_to_num(effect)
    y = y + rng.normal(0, 2, unit.size)
    return pd.DataFrame(
        {"y": y, "unit": unit, "time": time, "cohort": cohort[unit], "dose": dose[unit]}
    )


def _mean_dose_by_hand(df: pd.DataFrame, clip: tuple[int, int] | None) -> pd.Series:
    treated = df[df["cohort"].notna()]
    event_time = treated["time"] - treated["cohort"]
    if clip is not None:
        event_time = event_time.clip(*clip)
    return treated.groupby(event_time.astype(int))["dose"].mean()


def test_twfe_ratio_and_covariance_match_statsmodels_dummies_over_the_hand_mean(tiny):
    window, ref = (-2, 3), -1
    fitted = EventStudy(tiny, "y", **COLUMNS, window=window, ref=ref).fit(vcov="iid")
    got = value_weighted(fitted, tiny, **COLUMNS, dose="dose")

    event_time = (tiny["time"] - tiny["cohort"]).clip(*window)
    times = [k for k in range(window[0], window[1] + 1) if k != ref]
    design = pd.DataFrame({f"e{k}": (event_time == k).astype(float) for k in times})
    design = pd.concat(
        [
            design,
            pd.get_dummies(tiny["unit"], prefix="u", dtype=float),
            pd.get_dummies(tiny["time"], prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    ols = sm.OLS(tiny["y"], design).fit()
    names = [f"e{k}" for k in times]
    vbar = _mean_dose_by_hand(tiny, window).reindex(times).to_numpy()

    np.testing.assert_allclose(got.params, ols.params[names] / vbar, rtol=RTOL)
    expected_cov = ols.cov_params().loc[names, names].to_numpy() / np.outer(vbar, vbar)
    np.testing.assert_allclose(got.cov_params(), expected_cov, rtol=1e-7)
    assert list(got.event_times) == times and got.intensity == "dose"
    assert got.model_name == "EventStudy, value-weighted"
    assert "value-weighted" in got.summary().as_text()


def test_callaway_santanna_ratio_matches_the_2x2_differences_over_the_hand_mean(tiny):
    fitted = CallawaySantAnna(tiny, "y", **COLUMNS).fit().aggregate("dynamic")
    got = value_weighted(fitted, tiny, **COLUMNS, dose="dose")

    wide = tiny.pivot(index="unit", columns="time", values="y")
    unit_cohort = tiny.groupby("unit")["cohort"].first()
    unit_dose = tiny.groupby("unit")["dose"].first()
    never = unit_cohort.isna()
    for k in (0, 1, 2):
        effects, doses, sizes = [], [], []
        for g in (3, 5):
            if g + k > 8:
                continue
            change = wide[g + k] - wide[g - 1]
            cohort = unit_cohort == g
            effects.append(change[cohort].mean() - change[never].mean())
            doses.append(unit_dose[cohort].mean())
            sizes.append(cohort.sum())
        effect = np.average(effects, weights=sizes)
        vbar = np.average(doses, weights=sizes)
        assert got.params[f"event_time::{k}"] == pytest.approx(effect / vbar, rel=RTOL)
        se = fitted.bse[f"event_time::{k}"] / vbar
        assert got.bse[f"event_time::{k}"] == pytest.approx(se, rel=RTOL)
    # Dividing by constants keeps the correlations, hence the sup-t band's critical value.
    assert got.uniform_band == fitted.uniform_band


def test_dose_means_skip_the_cohorts_an_estimator_leaves_out(tiny):
    # Sun-Abraham with the last-treated cohort (5) as control estimates cohort 3 only.
    fitted = SunAbraham(tiny, "y", **COLUMNS, control="last").fit()
    means = dose_means(fitted, tiny, **COLUMNS, dose="dose")
    cohort_three = tiny[tiny["cohort"] == 3]
    post = [t for t in fitted.event_times if t < 3]  # periods before 5 - 1 = 4 are left
    expected = cohort_three.groupby(cohort_three["time"] - 3)["dose"].mean()
    np.testing.assert_allclose(means.mean.loc[post], expected.loc[post], rtol=RTOL)


@pytest.mark.parametrize("model", [EventStudy, CallawaySantAnna])
def test_dose_means_with_sampling_weights_are_weighted_means_by_hand(tiny, model):
    """sum_i w_i e_ik / sum_i w_i v_i: each event time's dose mean weights the rows by w
    (within each cohort, the cohort weighted as the estimator's components say)."""
    weighted = tiny.assign(w=1.0 + (tiny["unit"] % 5))  # 1..5, constant within a unit
    fitted = model(tiny, "y", **COLUMNS).fit()
    if model is CallawaySantAnna:
        fitted = fitted.aggregate("dynamic")
    means = dose_means(fitted, weighted, **COLUMNS, dose="dose", weights="w")
    treated = weighted[weighted["cohort"].notna()]
    event_time = (treated["time"] - treated["cohort"]).astype(int)
    w, wv = treated["w"], treated["w"] * treated["dose"]
    components = fitted.event.components
    for k in means.mean.index:
        at_k = event_time == k
        if components is None:
            expected = wv[at_k].sum() / w[at_k].sum()
        else:
            cells = components[components["event_time"] == k]
            expected = (
                sum(
                    share
                    * wv[at_k & (treated["cohort"] == g)].sum()
                    / w[at_k & (treated["cohort"] == g)].sum()
                    for g, share in zip(cells["cohort"], cells["weight"], strict=True)
                )
                / cells["weight"].sum()
            )
        assert means.mean.loc[k] == pytest.approx(expected, rel=RTOL)
    unit_w = weighted.groupby("unit")["w"].first()[tiny.groupby("unit")["cohort"].first().notna()]
    assert means.treated.effective == pytest.approx(unit_w.sum() ** 2 / (unit_w**2).sum())
    assert means.treated.weights == "equal x sampling"
    unweighted = dose_means(fitted, weighted, **COLUMNS, dose="dose")
    assert not np.allclose(unweighted.mean, means.mean)


def test_dose_means_covariance_is_the_variance_of_a_mean_of_unit_doses(tiny):
    fitted = ImputationDiD(tiny, "y", **COLUMNS).fit()
    means = dose_means(fitted, tiny, **COLUMNS, dose="dose")
    doses = tiny.groupby("unit")["dose"].first().dropna()
    # Every treated unit is observed at event time 0: vbar_0 is the mean of 40 doses.
    assert means.n_rows.loc[0] == 40
    assert means.mean.loc[0] == pytest.approx(doses.mean(), rel=RTOL)
    plugin = doses.var(ddof=0) / doses.size  # the plug-in variance of a mean
    assert means.cov.loc[0, 0] == pytest.approx(plugin, rel=RTOL)


def test_dose_sampling_adds_the_delta_method_term(tiny):
    fitted = EventStudy(tiny, "y", **COLUMNS, window=(-2, 3)).fit()
    conditional = value_weighted(fitted, tiny, **COLUMNS, dose="dose")
    full = value_weighted(fitted, tiny, **COLUMNS, dose="dose", dose_sampling=True)
    means = dose_means(fitted, tiny, **COLUMNS, dose="dose")
    ratio, vbar = conditional.coefficients, means.mean.to_numpy()
    extra = np.outer(ratio, ratio) * means.cov.to_numpy() / np.outer(vbar, vbar)
    np.testing.assert_allclose(
        full.covariance.matrix - conditional.covariance.matrix, extra, rtol=1e-9, atol=1e-15
    )
    assert full.uniform_band is None


def test_the_value_weighted_path_feeds_a_response_path(tiny):
    fitted = EventStudy(tiny, "y", **COLUMNS, window=(-2, 3)).fit()
    got = value_weighted(fitted, tiny, **COLUMNS, dose="dose")
    path = ResponsePath.from_results(got, 0, 3)
    assert path.multiplier == pytest.approx(got.cumulative(0, 3).estimate, rel=RTOL)


def test_bad_input_gets_one_clear_error(tiny):
    per_dose = EventStudy(tiny, "y", **COLUMNS, window=(-2, 3), intensity="dose").fit()
    with pytest.raises(ValueError, match="already per unit of 'dose'; fit it per treated unit"):
        value_weighted(per_dose, tiny, **COLUMNS, dose="dose")
    by_cohort = CallawaySantAnna(tiny, "y", **COLUMNS).fit().aggregate("group")
    with pytest.raises(ValueError, match="has no effects by event time"):
        value_weighted(by_cohort, tiny, **COLUMNS, dose="dose")
    fitted = EventStudy(tiny, "y", **COLUMNS, window=(-2, 3)).fit()
    with pytest.raises(ValueError, match="column 'nope'"):
        value_weighted(fitted, tiny, **COLUMNS, dose="nope")
    bad = tiny.assign(dose=tiny["dose"].where(tiny["unit"] != 0, -1.0))
    with pytest.raises(ValueError, match="expected a positive finite dose"):
        value_weighted(fitted, bad, **COLUMNS, dose="dose")


SIMULATED = {"unit": "consumer_id", "time": "week", "cohort": "fake_week"}
ESTIMATORS = {
    "twfe": lambda panel: EventStudy(panel, "spend", **SIMULATED).fit(),
    "callaway_santanna": lambda panel: (
        CallawaySantAnna(panel, "spend", **SIMULATED).fit().aggregate("dynamic")
    ),
    "sun_abraham": lambda panel: SunAbraham(panel, "spend", **SIMULATED).fit(),
    "imputation": lambda panel: ImputationDiD(panel, "spend", **SIMULATED).fit(),
}
TRUTH_SES = 3.0  # |estimate - truth| within 3 SE (a 0.3% chance of failing if SEs are right)


@pytest.fixture(scope="module")
def simulated(baseline_model):
    """20,000 consumers x 22 weeks of the baseline model (about 1,900 counterfeit buyers)."""
    return baseline_model.simulate(n_consumers=20_000, n_weeks=22, seed=23)


@pytest.mark.filterwarnings("ignore::models.AlwaysTreatedWarning")
@pytest.mark.filterwarnings("ignore::models.ImputationWarning")
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_value_weighted_multiplier_recovers_the_simulated_truth(simulated, name):
    panel, truth = simulated
    got = value_weighted(ESTIMATORS[name](panel), panel, **SIMULATED, dose="fake_value")
    estimate, se = got.cumulative(0, 11)
    assert abs(estimate - truth.multiplier) < TRUTH_SES * se
    # ... while the per-yuan (intensity) truth is a different number the CI need not cover.
    assert truth.intensity_multiplier > truth.multiplier + 0.5


REPLICATIONS = 300
COVERAGE_MC_SE = np.sqrt(0.95 * 0.05 / REPLICATIONS)  # 0.0126 at 95% coverage


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::models.AlwaysTreatedWarning")
def test_monte_carlo_coverage_of_the_value_weighted_multiplier(baseline_model):
    """300 panels of 5,000 consumers x 22 weeks (about 430 buyers each): the 95% CI of the
    12-week value-weighted multiplier covers the panel's own truth.multiplier in 95% of them,
    within 3 Monte-Carlo SEs (0.038), for TWFE and Callaway-Sant'Anna."""
    covered = {name: 0 for name in ("twfe", "callaway_santanna")}
    for replication in range(REPLICATIONS):
        panel, truth = baseline_model.simulate(
            n_consumers=5_000, n_weeks=22, seed=10_000 + replication
        )
        for name in covered:
            got = value_weighted(ESTIMATORS[name](panel), panel, **SIMULATED, dose="fake_value")
            low, high = got.cumulative_conf_int(0, 11)
            covered[name] += low <= truth.multiplier <= high
    for name, count in covered.items():
        coverage = count / REPLICATIONS
        assert abs(coverage - 0.95) < 3 * COVERAGE_MC_SE, (name, coverage)
