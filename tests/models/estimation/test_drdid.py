"""The 2x2 covariate-adjusted DiD estimators against csdid/drdid and R did on mpdta, against
statsmodels fits with an M-estimation sandwich, and on a simulated DGP with a known ATT."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from models.estimation import drdid
from models.estimation.drdid import METHODS, CellEstimationError, did_2x2
from tests.conftest import DATA

ATT_RTOL = 1e-6  # point estimates to 1e-6 (relative; they agree to about 1e-12)
SE_RTOL = 1e-4  # standard errors and influence functions to 1e-4 (relative)
PUBLISHED_ATOL = 5e-5  # R did's manual prints 4 decimals


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DATA / "mpdta_cs_covariates_csdid.json").read_text())


@pytest.fixture(scope="module")
def panel() -> dict[str, pd.DataFrame | pd.Series]:
    """mpdta wide: lemp and lpop by county x year, and each county's first.treat."""
    df = pd.read_csv(DATA / "mpdta.csv")
    return {
        "lemp": df.pivot(index="countyreal", columns="year", values="lemp"),
        "lpop": df.pivot(index="countyreal", columns="year", values="lpop"),
        "cohort": df.groupby("countyreal")["first.treat"].first(),
    }


def mpdta_cell(panel: dict, g: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cohort g vs never treated (first.treat 0), varying base period, as did builds the cell:
    dY = lemp_t - lemp_base and lpop in the earlier of the two periods."""
    base = g - 1 if t >= g else t - 1
    cohort = panel["cohort"].to_numpy()
    keep = (cohort == g) | (cohort == 0)
    delta_y = (panel["lemp"][t] - panel["lemp"][base]).to_numpy()[keep]
    covariates = panel["lpop"][min(t, base)].to_numpy()[keep, None]
    return delta_y, cohort[keep] == g, covariates


def se_of(psi: np.ndarray) -> float:
    return float(np.sqrt(psi @ psi) / psi.size)


@pytest.mark.parametrize("method", METHODS)
def test_att_gt_matches_csdid(reference, panel, method):
    for row in reference["att_gt"][method]:
        att, psi = did_2x2(*mpdta_cell(panel, row["group"], row["time"]), method)
        assert att == pytest.approx(row["att"], rel=ATT_RTOL, abs=1e-12), row
        assert se_of(psi) == pytest.approx(row["se"], rel=SE_RTOL), row


def test_influence_functions_match_drdid(reference, panel):
    for cell in reference["cells"]:
        att, psi = did_2x2(*mpdta_cell(panel, cell["group"], cell["time"]), cell["method"])
        assert psi.size == cell["n"]
        assert att == pytest.approx(cell["att"], rel=ATT_RTOL, abs=1e-12), cell
        assert se_of(psi) == pytest.approx(cell["se"], rel=SE_RTOL), cell
        np.testing.assert_allclose(psi[:5], cell["if_head"], rtol=SE_RTOL)


def test_dr_matches_r_did_manual(reference, panel):
    for row in reference["r_did_2.1.2_manual_dr"]:
        att, _ = did_2x2(*mpdta_cell(panel, row["group"], row["time"]), "dr")
        assert att == pytest.approx(row["att"], abs=PUBLISHED_ATOL), row


def simulated_cell(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Two covariates shift both the propensity score and the untreated trend; ATT = 2."""
    x = rng.normal(size=(n, 2))
    treated = rng.random(n) < expit(-0.3 + 0.8 * x[:, 0] - 0.5 * x[:, 1])
    delta_y = 1.0 + x[:, 0] + 0.5 * x[:, 1] + 2.0 * treated + rng.normal(size=n)
    return delta_y, treated, x


@pytest.mark.parametrize("method", METHODS)
def test_intercept_only_is_the_difference_in_mean_changes(panel, method):
    """Without covariates: mean change of the treated minus that of the comparison units, with
    psi_i = D_i (dY_i - m_1) / p - (1 - D_i) (dY_i - m_0) / (1 - p), p the treated share."""
    delta_y, treated, _ = mpdta_cell(panel, 2006, 2007)
    att, psi = did_2x2(delta_y, treated, np.empty((treated.size, 0)), method)
    share, mean_1, mean_0 = treated.mean(), delta_y[treated].mean(), delta_y[~treated].mean()
    expected_psi = np.where(treated, (delta_y - mean_1) / share, -(delta_y - mean_0) / (1 - share))
    assert att == pytest.approx(mean_1 - mean_0, rel=1e-12)
    np.testing.assert_allclose(psi, expected_psi, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_influence_function_sums_to_zero(panel, method):
    for cell in (mpdta_cell(panel, 2004, 2006), simulated_cell(1_000, np.random.default_rng(1))):
        _, psi = did_2x2(*cell, method)
        assert abs(psi.sum()) < 1e-9 * np.abs(psi).sum()


def statsmodels_fit(
    delta_y: np.ndarray, treated: np.ndarray, covariates: np.ndarray, method: str
) -> tuple[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The ATT from statsmodels' OLS and logit fits, theta-hat = (beta, gamma, treated mean,
    weighted control mean), and the stacked moment conditions m_i(theta) it solves."""
    design = sm.add_constant(covariates, has_constant="add")
    d = treated.astype(float)
    control = d == 0
    beta = sm.OLS(delta_y[control], design[control]).fit().params
    gamma = sm.GLM(d, design, family=sm.families.Binomial()).fit(tol=1e-12).params
    kept = (expit(design @ gamma) < drdid.TRIM_LEVEL) | (d == 1)  # held fixed, as DRDID does
    k = design.shape[1]

    def residual_and_odds(beta: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        residual = delta_y if method == "ipw" else delta_y - design @ beta
        pscore = expit(design @ gamma)
        return residual, kept * (1 - d) * pscore / (1 - pscore)

    def moments(theta: np.ndarray) -> np.ndarray:
        beta, gamma, mean_treated, mean_control = theta[:k], theta[k:-2], theta[-2], theta[-1]
        residual, odds = residual_and_odds(beta, gamma)
        return np.column_stack(
            [
                ((1 - d) * (delta_y - design @ beta))[:, None] * design,
                (d - expit(design @ gamma))[:, None] * design,
                d * (residual - mean_treated),
                odds * (residual - mean_control),
            ]
        )

    residual, odds = residual_and_odds(beta, gamma)
    means = [residual[d == 1].mean(), (odds * residual).sum() / odds.sum()]
    att = means[0] if method == "reg" else means[0] - means[1]
    return att, np.concatenate([beta, gamma, means]), moments


def sandwich_influence(theta: np.ndarray, moments, method: str) -> np.ndarray:
    """-J^-1 m_i(theta-hat) for the ATT, with J the central-difference Jacobian of the mean."""
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    columns = []
    for j, step in enumerate(steps):
        shift = np.zeros_like(theta)
        shift[j] = step
        columns.append((moments(theta + shift).mean(0) - moments(theta - shift).mean(0)) / 2 / step)
    influence = -moments(theta) @ np.linalg.inv(np.column_stack(columns)).T
    return influence[:, -2] if method == "reg" else influence[:, -2] - influence[:, -1]


@pytest.mark.parametrize("method", METHODS)
def test_matches_statsmodels_fits_and_sandwich(panel, method):
    cells = [mpdta_cell(panel, 2004, 2007), simulated_cell(800, np.random.default_rng(2))]
    for delta_y, treated, covariates in cells:
        att, psi = did_2x2(delta_y, treated, covariates, method)
        expected_att, theta, moments = statsmodels_fit(delta_y, treated, covariates, method)
        assert np.abs(moments(theta).mean(0)).max() < 1e-8
        assert att == pytest.approx(expected_att, rel=1e-8)
        expected_psi = sandwich_influence(theta, moments, method)
        # central differences with steps of 1e-6: the Jacobian is good to about 1e-9
        np.testing.assert_allclose(psi, expected_psi, rtol=1e-5, atol=1e-7 * np.abs(psi).max())


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_monte_carlo_recovers_att_and_its_standard_error(method):
    """400 draws of 1,000 units. The mean ATT is within 4 Monte-Carlo SEs of 2, and the mean
    influence-function SE within 10% of the draws' SD (the SD's own relative SE is 1/sqrt(800),
    3.5%), while the difference in mean changes is biased by the covariates."""
    rng = np.random.default_rng(2024)
    draws, ses, naive = [], [], []
    for _ in range(400):
        delta_y, treated, covariates = simulated_cell(1_000, rng)
        att, psi = did_2x2(delta_y, treated, covariates, method)
        draws.append(att)
        ses.append(se_of(psi))
        naive.append(delta_y[treated].mean() - delta_y[~treated].mean())
    draws = np.array(draws)
    assert abs(draws.mean() - 2.0) < 4 * draws.std() / np.sqrt(draws.size)
    assert np.mean(ses) == pytest.approx(draws.std(ddof=1), rel=0.10)
    assert abs(np.mean(naive) - 2.0) > 10 * draws.std() / np.sqrt(draws.size)


def cell_with(covariate: np.ndarray, n_treated: int, rng: np.random.Generator):
    treated = np.arange(covariate.size) < n_treated
    return rng.normal(size=covariate.size), treated, covariate[:, None]


@pytest.mark.parametrize(
    ("delta_y", "treated", "covariates", "method", "message"),
    [
        (np.zeros(4), np.array([1, 0, 1, 0]), np.zeros((4, 1)), "aipw", "method: expected one"),
        (np.zeros((4, 1)), np.array([1, 0, 1, 0]), np.zeros((4, 1)), "dr", "delta_y: expected"),
        (np.zeros(4), np.array([1, 0, 1]), np.zeros((4, 1)), "dr", r"treated: expected shape"),
        (np.zeros(4), np.array([1, 0, 1, 0]), np.zeros(4), "dr", "covariates: expected a 2-d"),
        (np.zeros(4), np.array([1, 0, 2, 0]), np.zeros((4, 1)), "dr", "expected only 0/1"),
        (np.array([0, np.nan, 0, 0]), np.array([1, 0, 1, 0]), np.zeros((4, 1)), "dr", "finite"),
        (np.zeros(4), np.ones(4), np.zeros((4, 1)), "dr", "got 4 treated of 4"),
    ],
)
def test_bad_input_is_rejected(delta_y, treated, covariates, method, message):
    with pytest.raises(ValueError, match=message) as raised:
        did_2x2(delta_y, treated, covariates, method)
    assert not isinstance(raised.value, CellEstimationError)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("reg", "collinear among the 60 comparison units"),
        ("dr", "collinear among the 60 comparison units"),
        ("ipw", "collinear in the cell"),
    ],
)
def test_an_intercept_among_the_covariates_is_collinear(method, message):
    rng = np.random.default_rng(3)
    cell = cell_with(np.ones(100), 40, rng)
    with pytest.raises(CellEstimationError, match=message):
        did_2x2(*cell, method)


def test_covariate_constant_among_comparison_units():
    """reg and dr cannot fit the outcome regression (did: "Not enough control units"); for ipw
    the covariate separates the groups (did: "overlap condition violated")."""
    rng = np.random.default_rng(4)
    covariate = np.where(np.arange(100) < 40, rng.uniform(1, 2, 100), 0.0)
    cell = cell_with(covariate, 40, rng)
    for method in ("reg", "dr"):
        with pytest.raises(CellEstimationError, match="collinear among the 60 comparison"):
            did_2x2(*cell, method)
    with pytest.raises(CellEstimationError, match="overlap condition violated"):
        did_2x2(*cell, "ipw")


def test_separation_violates_overlap_but_not_the_outcome_regression():
    rng = np.random.default_rng(5)
    covariate = np.where(np.arange(200) < 80, 1.0, -1.0) + rng.normal(scale=0.1, size=200)
    cell = cell_with(covariate, 80, rng)
    for method in ("dr", "ipw"):
        with pytest.raises(CellEstimationError, match="overlap condition violated"):
            did_2x2(*cell, method)
    att, psi = did_2x2(*cell, "reg")
    assert np.isfinite(att) and np.isfinite(psi).all()


def test_all_comparison_units_trimmed():
    """One comparison unit and 300 treated: its propensity score 300/301 >= 0.995 (DRDID trims
    it and returns NaN; did's overlap limit 0.999 is not reached)."""
    rng = np.random.default_rng(6)
    cell = cell_with(np.zeros(301), 300, rng)
    cell = (cell[0], cell[1], np.empty((301, 0)))
    for method in ("dr", "ipw"):
        with pytest.raises(CellEstimationError, match="trimmed"):
            did_2x2(*cell, method)
    assert np.isfinite(did_2x2(*cell, "reg")[0])


def test_logit_that_does_not_converge(monkeypatch):
    monkeypatch.setattr(drdid, "LOGIT_MAX_ITERATIONS", 1)
    cell = simulated_cell(500, np.random.default_rng(7))
    with pytest.raises(CellEstimationError, match="did not converge in 1 iterations"):
        did_2x2(*cell, "dr")


@pytest.mark.parametrize("method", METHODS)
def test_integer_weights_are_duplicated_units(method):
    """DRDID's i.weights: a unit of weight k is k copies of it (estimate; influence summed over
    the copies and rescaled from the n_dup copies to the n units)."""
    rng = np.random.default_rng(5)
    n = 600
    x = rng.normal(size=(n, 1))
    treated = rng.random(n) < expit(-0.4 + 0.5 * x[:, 0])
    delta_y = 0.5 + x[:, 0] + 1.5 * treated + rng.normal(size=n)
    copies = 1 + np.arange(n) % 3
    att, psi = did_2x2(delta_y, treated, x, method, copies.astype(float))
    source = np.repeat(np.arange(n), copies)
    dup_att, dup_psi = did_2x2(delta_y[source], treated[source], x[source], method)
    assert att == pytest.approx(dup_att, rel=1e-10)
    summed = np.bincount(source, weights=dup_psi) * n / source.size
    np.testing.assert_allclose(psi, summed, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="weights: expected 600 positive finite values"):
        did_2x2(delta_y, treated, x, method, np.zeros(n))
