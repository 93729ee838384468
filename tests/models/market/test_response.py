"""The response path (models.market.response.ResponsePath): its checks, square root and draws,
and the path read from a per-yuan event study. References are written out in each test
(closed forms, sample moments, the event study's own estimates), not read back from the code."""

from __future__ import annotations

import numpy as np
import pytest

from models import ConsumerSpendModel, EventStudy, ResponsePath
from tests.models.market.market_helpers import random_cov


@pytest.fixture(scope="module")
def panel():
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3000, n_weeks=22, seed=5)
    return panel


def event_study(panel, **kwargs):
    return EventStudy(
        panel,
        outcome="spend",
        unit="consumer_id",
        time="week",
        cohort="fake_week",
        window=(-4, 12),
        ref=-1,
        **kwargs,
    ).fit()


def test_response_path_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected a 1-d mean"):
        ResponsePath(np.zeros((2, 2)), np.eye(4))
    with pytest.raises(ValueError, match="expected a 1-d mean"):
        ResponsePath(np.zeros(0), np.zeros((0, 0)))
    with pytest.raises(ValueError, match=r"covariance shape \(3, 3\) does not match 4 weeks"):
        ResponsePath(np.zeros(4), np.eye(3))


@pytest.mark.parametrize("where", ["mean", "cov"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_response_path_rejects_non_finite_values(where, bad):
    mean, cov = np.zeros(3), np.eye(3)
    (mean if where == "mean" else cov)[1] = bad
    with pytest.raises(ValueError, match="must be finite"):
        ResponsePath(mean, cov)


def test_response_path_rejects_an_asymmetric_covariance():
    cov = np.eye(3)
    cov[0, 1] = 0.2
    with pytest.raises(ValueError, match="not symmetric"):
        ResponsePath(np.zeros(3), cov)


def test_response_path_rejects_a_covariance_that_is_not_positive_semidefinite():
    with pytest.raises(ValueError, match="covariance"):
        ResponsePath(np.zeros(2), np.diag([1.0, -1.0]))


@pytest.mark.parametrize("rank", [None, 3])
def test_root_reproduces_the_covariance(rank):
    cov = random_cov(np.random.default_rng(10), 6, rank)
    assert np.linalg.matrix_rank(cov) == (6 if rank is None else rank)
    root = ResponsePath(np.zeros(6), cov).root()
    assert root @ root.T == pytest.approx(cov, abs=1e-10)


def test_draws_have_the_paths_mean_and_covariance():
    rng = np.random.default_rng(11)
    mean = rng.normal(-0.3, 0.1, 4)
    cov = random_cov(rng, 4) * 0.01
    n = 200_000
    paths = ResponsePath(mean, cov).draw(rng.standard_normal((n, 4)))
    assert paths.shape == (n, 4)
    # sampling error of a mean: sqrt(cov_ii / n); of a covariance (Gaussian):
    # sqrt((cov_ii cov_jj + cov_ij ** 2) / n)
    se_mean = np.sqrt(np.diag(cov) / n)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(paths.mean(axis=0) - mean) < 5 * se_mean)
    assert np.all(np.abs(np.cov(paths, rowvar=False) - cov) < 5 * se_cov)


def test_draw_is_mean_plus_root_times_normals():
    rng = np.random.default_rng(12)
    response = ResponsePath(rng.normal(size=5), random_cov(rng, 5))
    z = rng.standard_normal((3, 2, 5))
    expected = response.mean + z @ response.root().T
    assert response.draw(z) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_draws_do_not_depend_on_how_many_are_computed_together():
    rng = np.random.default_rng(13)
    response = ResponsePath(rng.normal(size=6), random_cov(rng, 6))
    z = rng.standard_normal((9, 6))
    together = response.draw(z)
    root = response.root()
    for row in range(9):
        assert np.array_equal(response.draw(z[row : row + 1])[0], together[row])
        assert np.array_equal(response.draw(z[row], root), together[row])


def test_response_path_from_a_per_yuan_event_study(panel):
    res = event_study(panel, intensity="fake_value")
    response = ResponsePath.from_results(res, 0, 11)
    effects = res.event_time_effects().loc[0:11]
    assert response.mean == pytest.approx(effects["estimate"].to_numpy(), rel=1e-10)
    assert np.sqrt(np.diag(response.cov)) == pytest.approx(effects["se"].to_numpy(), rel=1e-10)
    assert response.multiplier == pytest.approx(res.cumulative(0, 11)[0], rel=1e-10)
    ones = np.ones(12)
    assert np.sqrt(ones @ response.cov @ ones) == pytest.approx(res.cumulative(0, 11)[1], 1e-10)


def test_response_path_needs_per_yuan_effects(panel):
    res = event_study(panel)
    with pytest.raises(ValueError, match=r"per-yuan effects.*intensity"):
        ResponsePath.from_results(res, 0, 11)


def test_response_path_needs_every_event_time(panel):
    res = event_study(panel, intensity="fake_value")
    with pytest.raises(ValueError, match=r"no estimate at event time.*-1"):
        ResponsePath.from_results(res, -2, 3)  # -1 is the reference period
