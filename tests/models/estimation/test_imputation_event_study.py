"""ImputationDiD.event_study: BJS's leads and effects from one imputation model, jointly.

References, none of them goodwill's code: a dense numpy computation of the lead regression and
of the imputation weights ``v`` of BJS Theorem 3 (with the lead dummies in the model), pyfixest
0.60's ``feols`` CRV1 for the leads' small-sample factor, and a Monte-Carlo distribution of the
estimates over simulated panels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models.estimation.honest_did import honest_did_from_results
from models.estimation.imputation import ImputationDiD
from models.estimation.imputation_pretrends import imputation_pretrends
from models.exceptions import FewEffectiveUnitsWarning, ImputationWarning

EXACT = 1e-10  # the same numbers passed through: rounding error only
DENSE_RTOL = 1e-8  # the same formula computed another way (dense pseudo-inverses)
PYFIXEST_RTOL = 1e-5  # pyfixest's iterative demeaning converges to about 1e-6
LEADS = (-3, -2, -1)
COHORTS = (5.0, 6.0, 7.0, np.nan)


def simulate(
    seed: int,
    n_units: int = 90,
    n_periods: int = 9,
    trend: float = 0.0,
    unbalanced: bool = False,
    effect: float = 1.0,
) -> pd.DataFrame:
    """Units over periods 1..n_periods, cohorts 5, 6, 7 or never, iid N(0, 1) noise.

    The effect at event time e >= 0 is ``effect * (2 + 0.5 e)`` for every treated unit.
    ``trend`` adds a differential trend ``trend * max(e + 4, 0)`` to the treated units'
    outcomes: flat before the first lead (-3), then linear, so that relative to event time -1
    the violation is ``trend * (e + 1)`` at every event time. Sampling weights ``w``, a
    cluster ``region`` above the unit and a dose per treated unit (``dose``, not in the
    outcome) are attached;
    ``unbalanced`` drops 10% of the rows after the first period.
    """
    rng = np.random.default_rng(seed)
    cohort = rng.choice(COHORTS, size=n_units)
    periods = np.arange(1, n_periods + 1)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "period": np.tile(periods, n_units),
            "cohort": np.repeat(cohort, n_periods),
        }
    )
    event = (df["period"] - df["cohort"]).to_numpy()
    treated_unit = df["cohort"].notna().to_numpy()
    effects = np.where(event >= 0, effect * (2.0 + 0.5 * event), 0.0)
    violation = np.where(treated_unit, trend * np.maximum(np.nan_to_num(event) + 4, 0), 0.0)
    df["y"] = (
        np.repeat(rng.normal(size=n_units), n_periods)
        + np.tile(rng.normal(size=n_periods), n_units)
        + effects
        + violation
        + rng.normal(size=len(df))
    )
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    dose = np.where(np.isnan(cohort), np.nan, rng.uniform(1.0, 5.0, n_units))
    df["dose"] = np.repeat(dose, n_periods)
    df["region"] = df["unit"] % 9
    if unbalanced:
        keep = (df["period"] == 1) | (rng.uniform(size=len(df)) > 0.1)
        df = df[keep].reset_index(drop=True)
    return df


def event_study(df: pd.DataFrame, ref: int | None = -1, **kwargs):
    """The event study with leads -3..-1, warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImputationWarning)
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)  # a small panel with doses
        model = ImputationDiD(df, "y", "unit", "period", "cohort", **kwargs)
        return model.event_study(LEADS, ref=ref)


# The diagonal blocks ----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"weights": "w", "cluster": "region"}])
def test_the_leads_block_is_the_pretrend_regression(kwargs):
    df = simulate(seed=1, unbalanced=True)
    res = event_study(df, ref=None, **kwargs)
    pretrends = ImputationDiD(df, "y", "unit", "period", "cohort", **kwargs).pretrends(LEADS)
    names = [f"event_time::{k}" for k in LEADS]
    np.testing.assert_allclose(res.params[names], pretrends.params[names], rtol=EXACT)
    np.testing.assert_allclose(
        res.cov_params().loc[names, names], pretrends.cov_params().loc[names, names], rtol=EXACT
    )


def test_with_intensity_the_leads_are_the_dose_scaled_pretrend_regression():
    df = simulate(seed=1, unbalanced=True)
    res = event_study(df, ref=None, weights="w", intensity="dose")
    pretrends = imputation_pretrends(
        df, "y", "unit", "period", "cohort", LEADS, weights="w", intensity="dose"
    )
    names = [f"event_time::{k}" for k in LEADS]
    np.testing.assert_allclose(res.params[names], pretrends.params[names], rtol=EXACT)
    np.testing.assert_allclose(
        res.cov_params().loc[names, names], pretrends.cov_params().loc[names, names], rtol=EXACT
    )
    assert res.intensity == "dose"


def test_effects_are_the_imputation_of_the_outcome_net_of_the_leads():
    """Imputing from the lead regression is :meth:`fit` on ``y - gamma_k`` at the leads' rows
    (the regression's unit and period effects are those of that outcome's two-way fit)."""
    df = simulate(seed=8, unbalanced=True)
    res = event_study(df, ref=None, weights="w")
    event = df["period"] - df["cohort"]
    netted = df["y"] - sum(res.params[f"event_time::{k}"] * (event == k) for k in LEADS)
    fit = ImputationDiD(df.assign(y=netted), "y", "unit", "period", "cohort", weights="w").fit()
    np.testing.assert_allclose(res.params[fit.params.index], fit.params, rtol=EXACT)


def test_anticipation_moves_the_reference():
    """With one period of anticipation the leads end at -2, the reference, and event time -1
    is the first post-reference effect."""
    df = simulate(seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImputationWarning)
        model = ImputationDiD(
            df, "y", "unit", "period", "cohort", anticipation=1, horizons=range(-1, 4)
        )
        res = model.event_study((-4, -3, -2), ref=-2)
    assert res.event_times == (-4, -3, -1, 0, 1, 2, 3)
    sd = honest_did_from_results(res, "SD", grid=[0.0], ref=-2)
    assert sd.robust.shape[0] == 1


def test_normalisation_at_ref_subtracts_the_lead():
    df = simulate(seed=2)
    raw, normalised = event_study(df, ref=None), event_study(df, ref=-1)
    times = [-3, -2, *range(0, 5)]
    assert normalised.event_times == (-3, -2, *range(0, 5)) and normalised.ref == -1
    names = [f"event_time::{e}" for e in times]
    base = raw.params["event_time::-1"]
    np.testing.assert_allclose(normalised.params[names], raw.params[names] - base, rtol=EXACT)
    transform = np.eye(len(raw.params))
    transform[:, list(raw.params.index).index("event_time::-1")] -= 1.0
    transform = pd.DataFrame(transform, index=raw.params.index, columns=raw.params.index)
    expected = (transform @ raw.cov_params() @ transform.T).loc[names, names]
    np.testing.assert_allclose(normalised.cov_params().loc[names, names], expected, rtol=1e-9)


# The whole matrix against a dense computation --------------------------------------------


def dense_reference(
    df: pd.DataFrame, weights: str | None, cluster: str | None, intensity: str | None = None
):
    """Points and the leads' and effects' cluster scores from the formulas, with dense matrices.

    Untreated rows: WLS of y on unit and period dummies and the leads (dummies, or dummies
    times the dose omega with an intensity), X0, by the pseudo-inverse of X0'S0X0. Leads:
    gamma = e_k' (X0'S0X0)^+ X0'S0 y0, weights ``v^gamma = S0 X0 (X0'S0X0)^+ e_k``. Effects:
    theta_e = sum w_it (y_it - z_it' coef) over treated rows at e, ``w = s omega / sum s
    omega^2``, weights ``v^0 = -S0 X0 (X0'S0X0)^+ X1'w1`` on untreated rows, X1 the treated
    rows' dummies with zero leads. Residuals: the regression's on untreated rows, tau - tau~ on
    treated ones (tau~ the cohort x event-time mean weighted by (s omega)^2). Scores: sums of
    v * residual by cluster.
    """
    s = np.ones(len(df)) if weights is None else df[weights].to_numpy()
    omega = np.ones(len(df)) if intensity is None else np.nan_to_num(df[intensity].to_numpy())
    units, periods = np.unique(df["unit"]), np.unique(df["period"])
    event = (df["period"] - df["cohort"]).to_numpy()
    untreated = ~(event >= 0)
    leads = np.column_stack([event == k for k in LEADS]) * omega[:, None]
    x = np.column_stack(
        [df["unit"].to_numpy()[:, None] == units, df["period"].to_numpy()[:, None] == periods]
    ).astype(float)
    x = np.column_stack([x, leads * untreated[:, None]])
    x0, s0, y = x[untreated], s[untreated], df["y"].to_numpy()
    inverse = np.linalg.pinv(x0.T @ (s0[:, None] * x0))
    coef = inverse @ x0.T @ (s0 * y[untreated])
    n_fe = units.size + periods.size
    horizons = np.unique(event[event >= 0]).astype(int)
    member = np.column_stack([event == h for h in horizons]).astype(float)
    w = member * (s * omega)[:, None] / (member * (s * omega**2)[:, None]).sum(axis=0)
    x1 = x[~untreated].copy()
    x1[:, n_fe:] = 0.0
    v_effects = w.copy()
    v_effects[untreated] = -(s0[:, None] * x0) @ inverse @ x1.T @ w[~untreated]
    v_leads = np.zeros((len(df), len(LEADS)))
    v_leads[untreated] = (s0[:, None] * x0) @ inverse[:, n_fe:]
    residual = y - x @ coef
    residual[~untreated] = y[~untreated] - x1 @ coef
    cells = pd.DataFrame({"r": residual, "s2": (s * omega) ** 2, "g": df["cohort"], "e": event})
    cells = cells[~untreated]
    totals = (
        cells.assign(rs=cells["r"] * cells["s2"]).groupby(["g", "e"])[["rs", "s2"]].transform("sum")
    )
    residual[~untreated] -= (totals["rs"] / totals["s2"]).to_numpy()
    groups = df[cluster or "unit"].to_numpy()
    lead_scores = pd.DataFrame(v_leads * residual[:, None]).groupby(groups).sum().to_numpy()
    effect_scores = pd.DataFrame(v_effects * residual[:, None]).groupby(groups).sum().to_numpy()
    points = np.concatenate([coef[n_fe:], v_effects.T @ y])
    return points, lead_scores, effect_scores


def pyfixest_leads_vcov(
    df: pd.DataFrame, weights: str | None, cluster: str | None, intensity: str | None
) -> np.ndarray:
    """pyfixest's CRV1 covariance of the lead regression on the untreated rows."""
    pf = pytest.importorskip("pyfixest")
    event = df["period"] - df["cohort"]
    omega = 1.0 if intensity is None else df[intensity].fillna(0.0)
    data = df[~(event >= 0)].assign(**{f"lead{-k}": (event == k) * omega for k in LEADS})
    fit = pf.feols(
        "y ~ lead3 + lead2 + lead1 | unit + period",
        data=data,
        weights=weights,
        vcov={"CRV1": cluster or "unit"},
    )
    return np.asarray(fit._vcov)


@pytest.mark.parametrize(
    ("weights", "cluster", "intensity"),
    [
        (None, None, None),
        ("w", None, None),
        (None, "region", None),
        ("w", "region", None),
        (None, None, "dose"),
        ("w", "region", "dose"),
    ],
)
def test_joint_covariance_matches_a_dense_computation(weights, cluster, intensity):
    df = simulate(seed=3, n_units=150, unbalanced=True)
    res = event_study(df, ref=None, weights=weights, cluster=cluster, intensity=intensity)
    points, lead_scores, effect_scores = dense_reference(df, weights, cluster, intensity)
    np.testing.assert_allclose(res.params.to_numpy(), points, rtol=DENSE_RTOL)

    # fixest's CRV1 factor (n - 1) / (n - k) G / (G - 1) on the untreated rows: k counts the
    # leads and the periods (the units are nested in the clusters and count as one); pyfixest
    # applies it to the raw lead scores (to its demeaning tolerance).
    untreated = ~(df["period"] >= df["cohort"])
    n, n_periods = int(untreated.sum()), df.loc[untreated, "period"].nunique()
    n_clusters = df.loc[untreated, cluster or "unit"].nunique()
    factor = (n - 1) / (n - len(LEADS) - n_periods) * n_clusters / (n_clusters - 1)
    leads_vcov = factor * lead_scores.T @ lead_scores
    np.testing.assert_allclose(
        pyfixest_leads_vcov(df, weights, cluster, intensity),
        leads_vcov,
        rtol=PYFIXEST_RTOL,
        atol=PYFIXEST_RTOL * np.abs(leads_vcov).max(),
    )
    stacked = np.column_stack([np.sqrt(factor) * lead_scores, effect_scores])
    expected = stacked.T @ stacked
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        res.cov_params().to_numpy(), expected, rtol=DENSE_RTOL, atol=DENSE_RTOL * scale
    )
    cross = res.cov_params().to_numpy()[: len(LEADS), len(LEADS) :]
    assert np.abs(cross).max() > 0.1 * scale  # the cross block is far from zero here


# Monte Carlo ------------------------------------------------------------------------------


def monte_carlo(replications: int) -> tuple[np.ndarray, np.ndarray]:
    """(lead -1, effect 0) of the raw event study over simulated panels with iid noise: the
    estimates (replications x 2) and the mean estimated covariance (2 x 2)."""
    estimates, covariances = [], []
    names = ["event_time::-1", "event_time::0"]
    for seed in range(replications):
        df = simulate(seed=1000 + seed, n_units=150)
        res = event_study(df, ref=None)
        estimates.append(res.params[names].to_numpy())
        covariances.append(res.cov_params().loc[names, names].to_numpy())
    return np.array(estimates), np.mean(covariances, axis=0)


def covariance_mc_se(estimates: np.ndarray) -> np.ndarray:
    """Monte-Carlo standard errors of the empirical covariance entries, normal approximation:
    ``sqrt((s_ii s_jj + s_ij^2) / R)``."""
    empirical = np.cov(estimates.T)
    diagonal = np.diag(empirical)
    return np.sqrt((np.outer(diagonal, diagonal) + empirical**2) / len(estimates))


def check_monte_carlo(replications: int, n_se: float) -> None:
    estimates, estimated = monte_carlo(replications)
    empirical = np.cov(estimates.T)
    mc_se = covariance_mc_se(estimates)
    assert np.all(np.abs(empirical - estimated) < n_se * mc_se), (empirical, estimated, mc_se)
    # Meaningful: the cross-covariance is far from zero (a block-diagonal matrix would fail).
    assert estimated[0, 1] > n_se * mc_se[0, 1]


def test_joint_covariance_matches_the_monte_carlo_covariance_fast():
    """200 panels of 150 units (about 6 s): the MC SEs of the covariance entries are about 12%
    of their size; each entry within 4 MC SEs of the mean estimated covariance."""
    check_monte_carlo(200, n_se=4.0)


@pytest.mark.slow
def test_joint_covariance_matches_the_monte_carlo_covariance():
    """1,000 panels of 150 units (about 40 s): the MC SEs of the covariance entries are about
    5.5% of their size; each entry within 3 MC SEs of the mean estimated covariance."""
    check_monte_carlo(1000, n_se=3.0)


# HonestDiD on it --------------------------------------------------------------------------


def test_honest_did_covers_the_truth_under_parallel_trends():
    res = event_study(simulate(seed=4, n_units=300))
    sd = honest_did_from_results(res, "SD", grid=[0.0, 0.5])
    lb, ub = sd.robust.loc[0, ["lb", "ub"]]
    assert lb <= 2.0 <= ub  # the effect at event time 0
    assert sd.breakdown != 0.0  # the effect is detected at M = 0


def test_honest_did_breaks_down_under_a_steep_trend():
    """Sanity, not a reference. No effect, a steep differential trend (0.5 per period, half
    the noise's SD): the original interval finds an effect, Delta^SD(0) extrapolates the trend
    and covers zero, so the breakdown value is the grid's smallest, 0."""
    res = event_study(simulate(seed=5, n_units=300, trend=0.5, effect=0.0))
    sd = honest_did_from_results(res, "SD", grid=[0.0, 0.5])
    assert sd.original[0] > 0.0
    assert sd.breakdown == 0.0


def test_honest_did_recovers_the_effect_behind_a_steep_trend():
    """Sanity, not a reference. A trend of -3 per period reverses the sign of the original
    interval; Delta^SD(0), which extrapolates it linearly, covers the true effect, 2."""
    res = event_study(simulate(seed=5, n_units=300, trend=-3.0))
    sd = honest_did_from_results(res, "SD", grid=[0.0])
    assert sd.original[1] < 0.0
    lb, ub = sd.robust.loc[0, ["lb", "ub"]]
    assert lb <= 2.0 <= ub


# Refusals ---------------------------------------------------------------------------------


def test_honest_did_refuses_a_plain_imputation_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)
        fit = ImputationDiD(simulate(seed=6), "y", "unit", "period", "cohort").fit()
    with pytest.raises(ValueError, match=r"event_study\(leads="):
        honest_did_from_results(fit)


def test_honest_did_refuses_the_raw_event_study():
    with pytest.raises(ValueError, match="ref=-1"):
        honest_did_from_results(event_study(simulate(seed=6), ref=None))


@pytest.mark.parametrize(
    ("kwargs", "leads", "ref", "message"),
    [
        ({}, LEADS, -4, "ref: expected one of the leads"),
        ({}, tuple(range(-6, 0)), -1, "collinear with the unit and period effects"),
        ({"anticipation": 1}, LEADS, -1, "below -anticipation"),
    ],
)
def test_event_study_refuses_bad_input(kwargs, leads, ref, message):
    df = simulate(seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImputationWarning)
        model = ImputationDiD(df, "y", "unit", "period", "cohort", **kwargs)
        with pytest.raises(ValueError, match=message):
            model.event_study(leads, ref=ref)
