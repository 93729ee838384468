"""Sobol indices through SALib: the Ishigami function's analytic indices, the design's rows."""

from __future__ import annotations

import numpy as np
import pytest

from sim.sobol import base_rows, sobol_design, sobol_indices

ISHIGAMI = {"x1": (-np.pi, np.pi), "x2": (-np.pi, np.pi), "x3": (-np.pi, np.pi)}


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total indices (Sobol' and Levitan 1999)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / total, np.array([v1 + v13, v2, v13]) / total


def test_ishigami_indices_match_the_analytic_values():
    # 4,096 base samples: the estimators' errors are about 0.01 (SALib's intervals say so);
    # tolerance 0.03, three times that.
    rng = np.random.default_rng(2024)
    x = sobol_design(ISHIGAMI, 4096, rng)
    found = sobol_indices(ISHIGAMI, ishigami(x), rng, resamples=100)
    first, total = ishigami_indices()
    np.testing.assert_allclose(found["S1"], first, atol=0.03)
    np.testing.assert_allclose(found["ST"], total, atol=0.03)
    assert np.all(found["ST_conf"] < 0.05) and np.all(found["S1_conf"] > 0)


def test_indices_by_output_column_and_reproducible():
    rng = np.random.default_rng(5)
    x = sobol_design(ISHIGAMI, 256, rng)
    y = np.stack([ishigami(x), x[:, 2], np.ones(len(x))], axis=-1)
    one = sobol_indices(ISHIGAMI, y, np.random.default_rng(9), resamples=20)
    two = sobol_indices(ISHIGAMI, y, np.random.default_rng(9), resamples=20)
    assert one["S1"].shape == (3, 3)
    for name in one:
        np.testing.assert_array_equal(one[name], two[name])
    np.testing.assert_allclose(one["ST"][1], [0, 0, 1], atol=1e-12)  # y = x3 alone
    assert np.isnan(one["S1"][2]).all()  # a constant output has no variance to share
    again = sobol_design(ISHIGAMI, 256, np.random.default_rng(5))
    np.testing.assert_array_equal(x, again)


def test_base_rows_are_a_and_b_and_the_rest_mix_them():
    x = sobol_design(ISHIGAMI, 8, np.random.default_rng(0))
    rows = base_rows(len(x), 3)
    assert rows.size == 16
    a, b = x[0::5], x[4::5]
    np.testing.assert_array_equal(rows, np.sort(np.r_[np.arange(0, 40, 5), np.arange(4, 40, 5)]))
    for i in range(3):
        mixed = x[1 + i :: 5]
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(mixed, expected)


def test_design_rejects_a_size_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2 >= 2, got 100"):
        sobol_design(ISHIGAMI, 100, np.random.default_rng(0))
