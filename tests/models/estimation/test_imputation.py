"""ImputationDiD against independent references.

References: the numbers printed in the R package didimputation's README (0.3.0) for its df_het
panel (tests/data/README.md), a direct computation with statsmodels OLS on dummies, the explicit
dense-matrix formulas of Borusyak, Jaravel and Spiess (2024) for the implied weights and the
conservative variance, and pyfixest's did2s (Gardner's two-stage, same point estimates).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from models import ConsumerSpendModel
from models.estimation.imputation import ImputationDiD
from models.estimation.results import EventStudyResults
from models.estimation.two_way_equations import TwoWayNormalEquations
from models.exceptions import ImputationWarning
from tests.conftest import DATA

POINT_RTOL = 1e-6  # published numbers: point estimates to 1e-6 (relative)
SE_RTOL = 1e-4  # and standard errors to 1e-4 (relative)
EXACT = 1e-10  # same formula computed another way: rounding error only

# didimputation README (0.3.0): did_imputation(data = df_het, yname = "dep_var", gname = "g",
# tname = "year", idname = "unit"[, horizon = TRUE]): estimate and std.error.
PUBLISHED_STATIC = (2.262952, 0.03139684)
PUBLISHED_HORIZONS = {
    0: (1.51314201, 0.07547736),
    1: (1.66384318, 0.07675141),
    2: (1.86436720, 0.07450151),
    3: (1.91872093, 0.07471704),
    4: (1.87322387, 0.07418170),
    5: (1.87844597, 0.07567190),
    6: (2.14373139, 0.07632691),
    7: (2.23777696, 0.07610842),
    8: (2.33650066, 0.07446268),
    9: (2.34352836, 0.07471679),
    10: (2.53443351, 0.08109550),
    11: (2.47944533, 0.11953547),
    12: (2.63493727, 0.11531779),
    13: (2.94449757, 0.11047299),
    14: (2.78171206, 0.11466367),
    15: (2.71470743, 0.12030494),
    16: (2.88065382, 0.11563154),
    17: (2.99383855, 0.11438496),
    18: (2.64616896, 0.11545789),
    19: (2.87530636, 0.11405840),
    20: (2.90465651, 0.11320219),
}


@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    """didimputation's df_het with never-treated units' cohort NaN (the package codes them 0)."""
    df = pd.read_csv(DATA / "df_het_didimputation.csv")
    return df.assign(cohort=df["g"].where(df["g"] > 0))


def small_panel(seed: int = 0, unbalanced: bool = True) -> pd.DataFrame:
    """40 units x 8 years, cohorts 2003/2005/2006/never, heterogeneous effects, doses.

    Unbalanced: 10% of rows after each unit's first year are dropped (the first year is kept,
    so every unit has an untreated period and every treated effect can be imputed).
    """
    rng = np.random.default_rng(seed)
    n_units, years = 40, np.arange(2001, 2009)
    cohort = rng.choice([2003.0, 2005.0, 2006.0, np.nan], size=n_units)
    dose = np.where(np.isnan(cohort), 0.0, rng.uniform(1, 5, n_units))
    df = pd.DataFrame(
        {
            "unit": np.repeat(100 + 7 * np.arange(n_units), years.size),
            "year": np.tile(years, n_units),
            "cohort": np.repeat(cohort, years.size),
            "dose": np.repeat(dose, years.size),
        }
    )
    event = df["year"] - df["cohort"]
    effect = np.where(
        event >= 0, (1 + 0.3 * event) * df["dose"] * rng.uniform(0.5, 1.5, len(df)), 0
    )
    df["y"] = (
        np.repeat(rng.normal(size=n_units), years.size)
        + np.tile(rng.normal(size=years.size), n_units)
        + effect
        + rng.normal(size=len(df))
    )
    if unbalanced:
        first = df["year"] == years[0]
        df = df[first | (rng.uniform(size=len(df)) > 0.1)].reset_index(drop=True)
    return df


def fit(df: pd.DataFrame, **kwargs) -> EventStudyResults:
    """ImputationDiD on a small panel (columns unit, year, cohort, y), warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImputationWarning)
        return ImputationDiD(df, "y", "unit", "year", "cohort", **kwargs).fit()


def direct_effects(df: pd.DataFrame, anticipation: int = 0) -> pd.DataFrame:
    """Treated rows with tau = y - prediction of an OLS on unit and year dummies (untreated)."""
    treated = df["year"] >= df["cohort"] - anticipation
    first_stage = smf.ols("y ~ C(unit) + C(year)", data=df[~treated]).fit()
    rows = df[treated].copy()
    rows["tau"] = rows["y"] - first_stage.predict(rows)
    rows["event"] = (rows["year"] - rows["cohort"]).astype(int)
    return rows


def dose_weighted_mean(rows: pd.DataFrame, intensity: str | None) -> float:
    """sum omega tau / sum omega^2: the mean effect, or per unit of dose with an intensity."""
    omega = np.ones(len(rows)) if intensity is None else rows[intensity].to_numpy()
    return float(omega @ rows["tau"].to_numpy() / (omega @ omega))


# didimputation's published numbers --------------------------------------------------------


def test_static_matches_the_didimputation_readme(df_het):
    res = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort").fit()
    estimate, se = res.overall
    assert estimate == pytest.approx(PUBLISHED_STATIC[0], rel=POINT_RTOL)
    assert se == pytest.approx(PUBLISHED_STATIC[1], rel=SE_RTOL)


def test_event_study_matches_the_didimputation_readme(df_het):
    res = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort").fit()
    assert res.event_times == tuple(PUBLISHED_HORIZONS)
    expected = np.array(list(PUBLISHED_HORIZONS.values()))
    np.testing.assert_allclose(res.params, expected[:, 0], rtol=POINT_RTOL)
    np.testing.assert_allclose(res.bse, expected[:, 1], rtol=SE_RTOL)


def test_chosen_horizons_keep_their_estimates(df_het):
    everything = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort").fit()
    chosen = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort", horizons=[3, 0, 7]).fit()
    assert chosen.event_times == (0, 3, 7)
    assert chosen.window == (0, 7)
    np.testing.assert_allclose(chosen.params, everything.params.iloc[[0, 3, 7]], rtol=EXACT)
    np.testing.assert_allclose(
        chosen.cov_params(), everything.cov_params().iloc[[0, 3, 7], [0, 3, 7]], rtol=EXACT
    )
    assert chosen.overall == pytest.approx(everything.overall, rel=EXACT)


# Direct computation ------------------------------------------------------------------------


@pytest.mark.parametrize("anticipation", [0, 1])
@pytest.mark.parametrize("intensity", [None, "dose"])
def test_estimates_match_a_direct_computation(anticipation, intensity):
    df = small_panel()
    horizons = [-1, 0, 1, 2, 3] if anticipation else None
    res = fit(df, anticipation=anticipation, intensity=intensity, horizons=horizons)
    rows = direct_effects(df, anticipation)
    by_event = rows.groupby("event")[["tau", "dose"]].apply(dose_weighted_mean, intensity)
    expected = by_event.loc[list(res.event_times)]
    if horizons is None:
        assert res.event_times == tuple(range(0, 6))
    np.testing.assert_allclose(res.params, expected, rtol=EXACT, atol=EXACT)
    static = dose_weighted_mean(rows[rows["event"] >= 0], intensity)
    assert res.overall[0] == pytest.approx(static, rel=EXACT)


def dense_design(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Unit and year dummies Z of every row, and which rows are untreated."""
    units, years = np.unique(df["unit"]), np.unique(df["year"])
    z = np.column_stack(
        [df["unit"].to_numpy()[:, None] == units, df["year"].to_numpy()[:, None] == years]
    ).astype(float)
    untreated = ~(df["year"] >= df["cohort"]).to_numpy()
    return {"z": z, "untreated": untreated, "units": units, "years": years}


@pytest.mark.parametrize("intensity", [None, "dose"])
def test_implied_weights_and_variance_match_the_explicit_formulas(intensity):
    df = small_panel(seed=3)
    res = fit(df, intensity=intensity)
    design = dense_design(df)
    z, untreated = design["z"], design["untreated"]
    z0, z1 = z[untreated], z[~untreated]
    gram_inverse = np.linalg.pinv(z0.T @ z0)
    omega = np.ones(len(df)) if intensity is None else df[intensity].to_numpy()
    event = (df["year"] - df["cohort"]).to_numpy()
    members = np.column_stack([event == h for h in res.event_times] + [event >= 0])
    w = members * omega[:, None]
    w /= (members * omega[:, None] ** 2).sum(axis=0)
    # BJS equation (6): v^0 = -Z0 (Z0'Z0)^- Z1' w1 on untreated rows, v = w on treated rows.
    v = w.copy()
    v[untreated] = -z0 @ gram_inverse @ z1.T @ w[~untreated]
    y = df["y"].to_numpy()
    np.testing.assert_allclose(v.T @ y, [*res.params, res.overall[0]], rtol=EXACT)

    # The normal-equations engine gives the same v^0.
    unit_index = np.searchsorted(design["units"], df["unit"])
    year_index = np.searchsorted(design["years"], df["year"])
    mask = np.zeros((design["units"].size, design["years"].size), dtype=bool)
    mask[unit_index[untreated], year_index[untreated]] = True
    totals = z1.T @ w[~untreated]
    a, lam = TwoWayNormalEquations.from_mask(mask).solve(
        totals[: design["units"].size], totals[design["units"].size :]
    )
    engine_v0 = -(a[unit_index] + lam[year_index])[untreated]
    np.testing.assert_allclose(engine_v0, v[untreated], rtol=EXACT, atol=EXACT)

    # BJS Theorem 3: residuals, tau~ = cohort x event-time means weighted by v^2 (proportional
    # to omega^2 within a cell), unit scores sum_t v_it eps~_it, their cross products.
    coef = gram_inverse @ z0.T @ y[untreated]
    residual = y - z @ coef
    treated = pd.DataFrame(
        {"tau": residual, "weight": omega**2, "cohort": df["cohort"], "event": event}
    )[~untreated]
    cell_total = (
        treated.assign(product=treated["tau"] * treated["weight"])
        .groupby(["cohort", "event"])[["product", "weight"]]
        .transform("sum")
    )
    residual[~untreated] -= (cell_total["product"] / cell_total["weight"]).to_numpy()
    scores = pd.DataFrame(v * residual[:, None]).groupby(df["unit"].to_numpy()).sum().to_numpy()
    covariance = scores.T @ scores
    n = len(res.event_times)
    np.testing.assert_allclose(res.cov_params(), covariance[:n, :n], rtol=1e-9, atol=1e-14)
    assert res.overall[1] == pytest.approx(np.sqrt(covariance[n, n]), rel=1e-9)
    assert res.cumulative(0, 3).se == pytest.approx(np.sqrt(covariance[:4, :4].sum()), rel=1e-9)


# Treated observations that cannot be imputed ---------------------------------------------


def test_units_treated_from_the_first_period_are_dropped_with_a_warning(df_het):
    always = df_het["unit"] <= 5
    df = df_het.assign(cohort=df_het["cohort"].mask(always, 1990.0))
    with pytest.warns(ImputationWarning, match=r"dropped 155 treated .*in units with no untreated"):
        res = ImputationDiD(df, "dep_var", "unit", "year", "cohort").fit()
    without = ImputationDiD(df[~always], "dep_var", "unit", "year", "cohort").fit()
    np.testing.assert_allclose(res.params, without.params, rtol=EXACT)
    np.testing.assert_allclose(res.bse, without.bse, rtol=EXACT)
    assert res.nobs == without.nobs


def test_periods_with_every_unit_treated_are_dropped_with_a_warning():
    df = small_panel(unbalanced=False)
    df = df.assign(cohort=df["cohort"].fillna(2008.0))  # no never-treated units: 2008 all treated
    with pytest.warns(ImputationWarning, match=r"dropped 40 .*in periods with no untreated unit"):
        res = ImputationDiD(df, "y", "unit", "year", "cohort").fit()
    before = df[df["year"] < 2008]
    without = fit(before.assign(cohort=before["cohort"].replace(2008.0, np.nan)))
    np.testing.assert_allclose(res.params, without.params, rtol=EXACT)
    np.testing.assert_allclose(res.bse, without.bse, rtol=EXACT)


def test_effects_across_disconnected_untreated_samples_are_dropped():
    # Never-treated units 1-2 are seen in periods 1-3 only, units 3-4 in periods 4-6 only, so
    # unit 5 (treated from period 3) cannot be compared with anyone in periods 4-6.
    rows = [(u, t, np.nan) for u in (1, 2) for t in (1, 2, 3)]
    rows += [(u, t, np.nan) for u in (3, 4) for t in (4, 5, 6)]
    rows += [(5, t, 3.0) for t in range(1, 7)]
    df = pd.DataFrame(rows, columns=["unit", "year", "cohort"])
    df["y"] = np.random.default_rng(0).normal(size=len(df))
    with pytest.warns(ImputationWarning, match=r"3 in a unit and period not linked"):
        res = ImputationDiD(df, "y", "unit", "year", "cohort").fit()
    assert res.event_times == (0,)


# Results API --------------------------------------------------------------------------------


def test_results_follow_the_common_api():
    df = small_panel()
    before = df.copy()
    model = ImputationDiD(df, "y", "unit", "year", "cohort", intensity="dose")
    res = model.fit()
    pd.testing.assert_frame_equal(df, before)
    assert res.names == tuple(f"event_time::{e}" for e in range(6))
    assert (res.ref, res.window, res.df_t, res.model_name) == (
        None,
        (0, 5),
        np.inf,
        "ImputationDiD",
    )
    assert res.intensity == "dose"
    assert list(res.event_time_effects().columns) == ["estimate", "se", "ci_low", "ci_high"]
    assert res.cumulative(0, 5).estimate == pytest.approx(res.params.sum(), rel=EXACT)
    assert "ImputationDiD" in res.summary().as_text()
    again = model.fit()
    np.testing.assert_array_equal(again.params, res.params)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(res)).cov_params(), res.cov_params())


# Bad input -----------------------------------------------------------------------------------


def first_treated_unit(df: pd.DataFrame) -> int:
    return int(df.loc[df["cohort"].notna(), "unit"].iloc[0])


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda df: pd.concat([df, df.iloc[[5]]]), {}, r"'unit', 'year': expected one row per"),
        (lambda df: df.assign(y=df["y"].where(df.index != 3)), {}, r"column 'y': expected finite"),
        (lambda df: df.assign(cohort=df["cohort"].fillna(0)), {}, r"'cohort': cohort\(s\) 0 are"),
        (lambda df: df.assign(cohort=2001.0), {}, r"'cohort': no untreated observations"),
        (lambda df: df.assign(year=df["year"] + 0.5), {}, r"'year': expected integer periods"),
        (
            lambda df: df.assign(dose=df["dose"].where(df["unit"] != first_treated_unit(df))),
            {"intensity": "dose"},
            r"'dose': expected a positive finite dose for every treated unit",
        ),
        (
            lambda df: df.assign(dose=df["dose"] * 0),
            {"intensity": "dose"},
            r"'dose': expected a positive finite dose .* got 0 for unit",
        ),
        (
            lambda df: df.assign(dose=df["dose"] + df["year"]),
            {"intensity": "dose"},
            r"'dose': expected one value per treated unit",
        ),
        (lambda df: df, {"intensity": "value"}, r"'value' not in the data"),
        (lambda df: df, {"horizons": [-1, 0]}, r"horizons: event times below -anticipation"),
        (lambda df: df, {"horizons": [0.5]}, r"horizons: expected a non-empty list of integers"),
        (lambda df: df, {"anticipation": -1}, r"anticipation = -1: expected an integer >= 0"),
        (lambda df: df.assign(cohort=np.nan), {}, r"column 'cohort': no treated units"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(change, kwargs, message):
    df = change(small_panel(unbalanced=False))
    with pytest.raises(ValueError, match=message):
        ImputationDiD(df, "y", "unit", "year", "cohort", **kwargs)


@pytest.mark.parametrize(
    ("cohort", "kwargs", "message"),
    [
        (None, {"horizons": [0, 9]}, r"horizons: no imputable treated observation at .* 9"),
    ],
)
def test_fit_refuses_estimates_without_treated_observations(cohort, kwargs, message):
    df = small_panel()
    if cohort is not None:
        df = df.assign(cohort=cohort)
    model = ImputationDiD(df, "y", "unit", "year", "cohort", **kwargs)
    with pytest.raises(ValueError, match=message):
        model.fit()


# pyfixest's did2s and the simulated spend panels ----------------------------------------------


@pytest.mark.slow
def test_point_estimates_match_pyfixest_did2s():
    pyfixest = pytest.importorskip("pyfixest")
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3000, n_weeks=12, seed=1)
    # did2s cannot impute consumers whose first counterfeit is in week 1 (no untreated week) and
    # pyfixest's first stage drops as singletons those with a single untreated week (week 2).
    panel = panel[~(panel["fake_week"] <= 2)].copy()
    res = ImputationDiD(panel, "spend", "consumer_id", "week", "fake_week").fit()
    panel["treated"] = panel["week"] >= panel["fake_week"]
    panel["rel"] = np.where(panel["treated"], panel["week"] - panel["fake_week"], -1000)
    options = {"first_stage": "~ 0 | consumer_id + week", "treatment": "treated"}
    dynamic = pyfixest.did2s(
        panel, "spend", second_stage="~ i(rel, ref=-1000)", cluster="consumer_id", **options
    )
    static = pyfixest.did2s(
        panel, "spend", second_stage="~ treated", cluster="consumer_id", **options
    )
    # did2s recovers the first-stage fixed effects with scipy's lsqr at atol = btol = 1e-6, so
    # it agrees to about 1e-5 of the effects' scale (an exact first stage agrees to 1e-10).
    scale = np.abs(res.params).max()
    np.testing.assert_allclose(res.params, dynamic.coef(), rtol=0, atol=1e-4 * scale)
    assert res.overall[0] == pytest.approx(static.coef().iloc[0], abs=1e-4 * scale)


@pytest.mark.slow
def test_per_yuan_estimate_recovers_the_intensity_multiplier(baseline_model):
    panel, truth = baseline_model.simulate(n_consumers=100_000, n_weeks=22, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)  # week-1 victims: nothing to impute
        res = ImputationDiD(
            panel, "spend", "consumer_id", "week", "fake_week", intensity="fake_value"
        ).fit()
    estimate, se = res.cumulative(0, 11)
    # A 4-SE band: fails by chance about once in 16,000 seeds.
    assert abs(estimate - truth.intensity_multiplier) < 4 * se


# --------------------------------------------------------------------------------------------
# The pre-trend regression (didimputation's ``pretrends``)
# --------------------------------------------------------------------------------------------

# didimputation README (0.3.0): did_imputation(..., horizon = TRUE, pretrends = -5:-1): the
# leads' estimate and std.error. Printed by its 2023 source, whose lead regression set no
# cluster, so the standard errors are fixest's iid ones (identical by the panel's symmetry).
PUBLISHED_PRETRENDS = {
    -5: (-0.06412085, 0.07634962),
    -4: (-0.01201577, 0.07634962),
    -3: (-0.01387197, 0.07634962),
    -2: (0.05103140, 0.07634962),
    -1: (0.02022464, 0.07634962),
}
PRINTED = 5e-9  # half the last printed digit


def test_pretrends_match_didimputation_readme(df_het):
    model = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort")
    effects = model.pretrends(range(-5, 0), vcov="iid").event_time_effects()
    expected = pd.DataFrame(PUBLISHED_PRETRENDS, index=["estimate", "se"]).T
    np.testing.assert_allclose(effects["estimate"], expected["estimate"], rtol=0, atol=PRINTED)
    np.testing.assert_allclose(effects["se"], expected["se"], rtol=0, atol=PRINTED)


def test_pretrends_clustered_by_unit_match_the_dummy_regression(df_het):
    """didimputation's current source clusters the lead regression by the unit: statsmodels
    OLS on the untreated rows with unit and year dummies, its cluster sandwich scaled by
    fixest's factor G/(G-1) (n-1)/(n-K), K = the leads + the years (the unit effect is nested
    in the clusters and counts as one)."""
    panel = df_het[df_het["unit"] <= 150]  # 150 unit dummies keep statsmodels quick
    res = ImputationDiD(panel, "dep_var", "unit", "year", "cohort").pretrends([-3, -1])
    untreated = panel[panel["year"] < panel["cohort"].fillna(np.inf)].copy()
    event = untreated["year"] - untreated["cohort"]
    untreated["lead3"] = (event == -3).astype(float)
    untreated["lead1"] = (event == -1).astype(float)
    fit = smf.ols("dep_var ~ lead3 + lead1 + C(unit) + C(year)", untreated).fit(
        cov_type="cluster", cov_kwds={"groups": untreated["unit"], "use_correction": False}
    )
    n, n_units = len(untreated), untreated["unit"].nunique()
    factor = n_units / (n_units - 1) * (n - 1) / (n - 2 - untreated["year"].nunique())
    expected_se = np.sqrt(np.diag(fit.cov_params().loc[["lead3", "lead1"], ["lead3", "lead1"]]))
    np.testing.assert_allclose(res.params, fit.params[["lead3", "lead1"]], rtol=1e-8)
    np.testing.assert_allclose(res.bse, expected_se * np.sqrt(factor), rtol=1e-6)
    assert res.event_times == (-3, -1)
    test = res.pretrend_test()
    assert test.df_num == 2 and test.df_denom == n_units - 1


def test_pretrends_reject_a_violation_and_not_parallel_trends(df_het):
    """A trend planted in the treated units' untreated rows is found; df_het's own leads
    are not (its trends are parallel)."""
    model = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort")
    assert model.pretrends(range(-5, 0)).pretrend_test().pvalue > 0.05
    tilted = df_het.assign(
        dep_var=df_het["dep_var"]
        + 0.1
        * (df_het["year"] - df_het["cohort"]).where(df_het["year"] < df_het["cohort"], 0).fillna(0)
    )
    shifted = ImputationDiD(tilted, "dep_var", "unit", "year", "cohort").pretrends(range(-5, 0))
    assert shifted.pretrend_test().pvalue < 1e-6


@pytest.mark.parametrize(
    ("leads", "anticipation", "message"),
    [
        ([0, -1], 0, "leads: expected event times below -anticipation"),
        ([-1], 1, r"below -anticipation \(-1\)"),
        ([], 0, "leads: expected a non-empty list"),
        ([-1.5], 0, "leads: expected a non-empty list of negative integers"),
        ([-40], 0, "no untreated row of a treated unit at event time -40"),
    ],
)
def test_pretrends_refuse_bad_leads(df_het, leads, anticipation, message):
    model = ImputationDiD(df_het, "dep_var", "unit", "year", "cohort", anticipation=anticipation)
    with pytest.raises(ValueError, match=message):
        model.pretrends(leads)
