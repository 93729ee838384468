"""EVPI and EVPPI on a toy decision with known answers."""

from __future__ import annotations

import numpy as np

from sim.value_of_information import evpi, evppi, quadratic_features


def toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Option 0 costs 0, option 1 costs theta1 + theta2 (standard normals), so both have mean
    cost 0; EVPI = E[max(0, -(theta1 + theta2))] = sqrt(2) / sqrt(2 pi) = 1 / sqrt(pi) and the
    EVPPI of theta1 alone is E[max(0, -theta1)] = 1 / sqrt(2 pi)."""
    theta = np.random.default_rng(seed).standard_normal((n, 2))
    costs = np.stack([np.zeros(n), theta.sum(axis=1)], axis=-1)
    return costs, theta


def test_evpi_of_the_toy_decision():
    costs, _ = toy(40_000, 1)
    value, se = evpi(costs)
    assert abs(value - 1 / np.sqrt(np.pi)) < 4 * se  # se about 0.004
    assert 0.002 < se < 0.006


def test_evppi_of_one_input_and_of_both():
    costs, theta = toy(40_000, 2)
    rng = np.random.default_rng(3)
    one, one_se = evppi(costs, theta[:, :1], rng, resamples=50)
    both, _ = evppi(costs, theta, rng, resamples=50)
    # 4 bootstrap SEs (about 0.003 each) plus the regression's fitting noise (~1e-3).
    assert abs(one - 1 / np.sqrt(2 * np.pi)) < 4 * one_se + 1e-3
    assert abs(both - evpi(costs)[0]) < 1e-9  # the costs are exactly linear in both


def test_evpi_by_opening_axis():
    costs = np.array([[[0.0, 1.0], [0.0, 2.0]], [[0.0, -1.0], [0.0, 0.0]]])
    value, _ = evpi(costs)
    np.testing.assert_allclose(value, [0.5, 0.0])


def test_quadratic_features():
    x = np.array([[1.0, 2.0], [3.0, 5.0], [5.0, 2.0]])
    features = quadratic_features(x)
    assert features.shape == (3, 1 + 2 + 3)
    np.testing.assert_allclose(features[:, 1:3].mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(features[:, 3], features[:, 1] ** 2)
