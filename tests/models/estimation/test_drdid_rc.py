"""DRDID's reg_did_rc, std_ipw_did_rc and drdid_rc against direct computations: four means
without covariates, and with a covariate their influence functions against numerical
derivatives (the ATT recomputed with one row's weight nudged)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from models.estimation.drdid_rc import dr_did_rc, ipw_did_rc, reg_did_rc


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(3)
    n = 400
    post = (rng.random(n) < 0.5).astype(float)
    treated = (rng.random(n) < 0.4).astype(float)
    x = rng.normal(size=(n, 1))
    y = 1.0 + x[:, 0] + post * (0.5 + 0.3 * x[:, 0]) + 0.8 * post * treated + rng.normal(size=n)
    return y, post, treated, x


@pytest.mark.parametrize("estimator", [reg_did_rc, ipw_did_rc, dr_did_rc])
def test_without_covariates_it_is_the_difference_of_four_means(rows, estimator):
    y, post, treated, _ = rows
    att, psi = estimator(y, post, treated, np.empty((y.size, 0)))
    groups = [(d, p) for d in (1, 0) for p in (1, 0)]
    means = {g: y[(treated == g[0]) & (post == g[1])].mean() for g in groups}
    assert att == pytest.approx(means[1, 1] - means[1, 0] - means[0, 1] + means[0, 0], rel=1e-12)
    sizes = {g: ((treated == g[0]) & (post == g[1])).sum() for g in groups}
    expected = np.zeros_like(y)
    for (d, p), sign in zip(groups, (1, -1, -1, 1), strict=True):
        here = (treated == d) & (post == p)
        expected[here] = sign * y.size * (y[here] - means[d, p]) / sizes[d, p]
    np.testing.assert_allclose(psi, expected, rtol=1e-10, atol=1e-12)


def test_the_influence_function_is_the_derivative_of_the_estimate(rows):
    """psi_i is the derivative of the ATT in the weight of row i, times n (a Hajek-type
    estimator with row weights): checked by finite differences on a few rows."""
    y, post, treated, x = rows
    att, psi = reg_did_rc(y, post, treated, x)
    n, step = y.size, 1e-6

    def weighted(i: int) -> float:
        # Duplicating row i with weight step is the same as adding step to its weight.
        w = np.ones(n)
        w[i] += step
        design = np.column_stack([np.ones(n), x])
        fitted = {}
        for p in (0.0, 1.0):
            c = (treated == 0) & (post == p)
            sw = np.sqrt(w[c])
            beta = np.linalg.lstsq(design[c] * sw[:, None], y[c] * sw, rcond=None)[0]
            fitted[p] = design @ beta
        mean = lambda v, m: (w * m * v).sum() / (w * m).sum()  # noqa: E731
        return (
            mean(y, treated * post)
            - mean(y, treated * (1 - post))
            - mean(fitted[1.0] - fitted[0.0], treated)
        )

    for i in (0, 5, 17, 123, 399):
        derivative = (weighted(i) - att) / step
        assert n * derivative == pytest.approx(psi[i], rel=1e-4, abs=1e-4)


def _weighted_logit(design: np.ndarray, treated: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Propensity scores of a weighted logit, by Newton's method."""
    coef = np.zeros(design.shape[1])
    for _ in range(50):
        p = expit(design @ coef)
        hessian = design.T @ ((w * p * (1 - p))[:, None] * design)
        coef += np.linalg.solve(hessian, design.T @ (w * (treated - p)))
    return expit(design @ coef)


def _weighted_fit(y: np.ndarray, design: np.ndarray, rows: np.ndarray, w: np.ndarray):
    """Fitted values of the weighted OLS of y on the design among ``rows``."""
    sw = np.sqrt(w[rows])
    beta = np.linalg.lstsq(design[rows] * sw[:, None], y[rows] * sw, rcond=None)[0]
    return design @ beta


def _ipw(y, post, treated, design, w):
    p = _weighted_logit(design, treated, w)
    odds = (1 - treated) * p / (1 - p)
    mean = lambda m: (w * m * y).sum() / (w * m).sum()  # noqa: E731
    return (
        mean(treated * post)
        - mean(treated * (1 - post))
        - mean(odds * post)
        + mean(odds * (1 - post))
    )


def _dr(y, post, treated, design, w):
    p = _weighted_logit(design, treated, w)
    odds = (1 - treated) * p / (1 - p)
    fit = {
        (d, t): _weighted_fit(y, design, (treated == d) & (post == t), w)
        for d in (0, 1)
        for t in (0, 1)
    }
    residual = y - np.where(post == 1, fit[0, 1], fit[0, 0])
    mean = lambda v, m: (w * m * v).sum() / (w * m).sum()  # noqa: E731
    gap1, gap0 = fit[1, 1] - fit[0, 1], fit[1, 0] - fit[0, 0]
    return (
        mean(residual, treated * post)
        - mean(residual, treated * (1 - post))
        - mean(residual, odds * post)
        + mean(residual, odds * (1 - post))
        + mean(gap1, treated)
        - mean(gap1, treated * post)
        - mean(gap0, treated)
        + mean(gap0, treated * (1 - post))
    )


@pytest.mark.parametrize(("estimator", "weighted"), [(ipw_did_rc, _ipw), (dr_did_rc, _dr)])
def test_the_influence_function_is_the_derivative_of_the_estimate_with_a_logit(
    rows, estimator, weighted
):
    """As for reg_did_rc, with the weighted logit (and regressions) refitted: for drdid_rc this
    fixes the sign of the base period's regression effect (R's DRDID 1.2.3 has the other)."""
    y, post, treated, x = rows
    att, psi = estimator(y, post, treated, x)
    n, step = y.size, 1e-6
    design = np.column_stack([np.ones(n), x])
    assert weighted(y, post, treated, design, np.ones(n)) == pytest.approx(att, rel=1e-10)
    for i in (0, 5, 17, 123, 399):
        w = np.ones(n)
        w[i] += step
        derivative = (weighted(y, post, treated, design, w) - att) / step
        assert n * derivative == pytest.approx(psi[i], rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("estimator", [reg_did_rc, ipw_did_rc, dr_did_rc])
def test_integer_weights_are_duplicated_rows(rows, estimator):
    """DRDID's i.weights: a row of weight k is k copies of it. The estimate is the duplicated
    rows'; each row's influence is its copies' summed, rescaled from the n_dup copies to the
    n rows (both normalised so that Var = sum psi^2 / rows^2)."""
    y, post, treated, x = rows
    copies = 1 + np.arange(y.size) % 3
    att, psi = estimator(y, post, treated, x, copies.astype(float))
    source = np.repeat(np.arange(y.size), copies)
    dup_att, dup_psi = estimator(y[source], post[source], treated[source], x[source])
    assert att == pytest.approx(dup_att, rel=1e-10)
    summed = np.bincount(source, weights=dup_psi) * y.size / source.size
    np.testing.assert_allclose(psi, summed, rtol=1e-8, atol=1e-10)
    scaled, _ = estimator(y, post, treated, x, 7.0 * copies)
    assert scaled == pytest.approx(att, rel=1e-12)
