"""DRDID's reg_did_rc and std_ipw_did_rc against direct computations: four means without
covariates, and with a covariate their influence functions against numerical derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from models.estimation.drdid_rc import ipw_did_rc, reg_did_rc


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(3)
    n = 400
    post = (rng.random(n) < 0.5).astype(float)
    treated = (rng.random(n) < 0.4).astype(float)
    x = rng.normal(size=(n, 1))
    y = 1.0 + x[:, 0] + post * (0.5 + 0.3 * x[:, 0]) + 0.8 * post * treated + rng.normal(size=n)
    return y, post, treated, x


@pytest.mark.parametrize("estimator", [reg_did_rc, ipw_did_rc])
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


def test_the_ipw_influence_function_is_the_derivative_of_the_estimate(rows):
    """As for reg_did_rc: the weighted logit refitted with row i's weight nudged."""
    y, post, treated, x = rows
    att, psi = ipw_did_rc(y, post, treated, x)
    n, step = y.size, 1e-6
    design = np.column_stack([np.ones(n), x])

    def weighted(i: int) -> float:
        w = np.ones(n)
        w[i] += step
        coef = np.zeros(2)
        for _ in range(50):  # weighted logit by Newton's method
            p = expit(design @ coef)
            coef += np.linalg.solve(
                design.T @ ((w * p * (1 - p))[:, None] * design), design.T @ (w * (treated - p))
            )
        p = expit(design @ coef)
        odds = (1 - treated) * p / (1 - p)
        mean = lambda m: (w * m * y).sum() / (w * m).sum()  # noqa: E731
        return (
            mean(treated * post)
            - mean(treated * (1 - post))
            - mean(odds * post)
            + mean(odds * (1 - post))
        )

    for i in (0, 5, 17, 123, 399):
        derivative = (weighted(i) - att) / step
        assert n * derivative == pytest.approx(psi[i], rel=1e-4, abs=1e-4)
