"""The designs of within-transformed regressors (models.estimation.design): every reduction of
IndicatorDesign equals DenseDesign's of the event-time indicator matrix built explicitly with
numpy, and both equal the same sums over that matrix projected off the explicit dummies."""

from __future__ import annotations

import numpy as np
import pytest

import models.estimation.design
from models.estimation.absorb import FixedEffects
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.sparse_unbalanced_design import UnbalancedIndicatorDesign

N_UNITS, N_PERIODS = 14, 9
EVENT_TIMES = (-3, -2, 0, 1, 2, 3, 4)  # the window -3..4 without the reference period -1
NAMES = tuple(f"event_time::{k}" for k in EVENT_TIMES)
K = len(NAMES)
TOL, MAXITER = 1e-12, 10_000

SPARSE_LAYOUTS = ["grid", "shuffled"]
"""Balanced two-way panels: stored unit by unit (the grid) or in a random row order."""
DENSE_LAYOUTS = ["unbalanced", "weighted"]
"""Panels where IndicatorDesign.absorb takes the UnbalancedIndicatorDesign (the direct solve of
the fixed effects; a DenseDesign beyond it): rows dropped, or weights."""
CASES = [
    pytest.param((layout, valued), id=f"{layout}-{'values' if valued else 'ones'}")
    for layout in SPARSE_LAYOUTS + DENSE_LAYOUTS
    for valued in (False, True)
]


class Case:
    """A small event-study panel, its designs and the explicit references."""

    def __init__(self, layout: str, valued: bool) -> None:
        self.layout = layout
        rng = np.random.default_rng((SPARSE_LAYOUTS + DENSE_LAYOUTS).index(layout))
        unit = np.repeat(np.arange(N_UNITS), N_PERIODS)
        period = np.tile(np.arange(N_PERIODS), N_UNITS)
        cohort = rng.choice([2, 3, 5, 6], N_UNITS)
        cohort[:4] = -100  # never treated
        event_time = period - cohort[unit]
        position = {k: j for j, k in enumerate(EVENT_TIMES)}
        column = np.array([position.get(int(k), -1) for k in event_time])
        # The value is read only where a row has an indicator: NaN elsewhere (as the event
        # study's intensity is on never-treated rows) must not reach any result.
        value = np.where(column >= 0, rng.uniform(0.5, 3.0, unit.size), np.nan)
        if not valued:
            value = np.ones(unit.size)
        rows = np.arange(unit.size)
        if layout == "shuffled":
            rows = rng.permutation(unit.size)
        elif layout == "unbalanced":
            rows = rng.permutation(np.flatnonzero(rng.random(unit.size) > 0.2))
        weights = rng.uniform(0.3, 3.0, rows.size) if layout == "weighted" else None
        unit, period, column, value = unit[rows], period[rows], column[rows], value[rows]
        self.n = unit.size
        self.column, self.value = column, value
        self.fe = FixedEffects.from_codes(["unit", "period"], [unit, period], weights)
        assert self.fe.sizes == (N_UNITS, N_PERIODS)

        # The event-time indicators, written out entry by entry.
        self.x = np.zeros((self.n, K))
        for i in range(self.n):
            if column[i] >= 0:
                self.x[i, column[i]] = value[i]
        # X~: the indicators projected off the unit and period dummies (least squares on the
        # dummies themselves), times the square root of the weights.
        root_w = np.ones(self.n) if weights is None else np.sqrt(weights)
        dummies = np.column_stack(
            [unit[:, None] == np.arange(N_UNITS), period[:, None] == np.arange(N_PERIODS)]
        )
        dummies = dummies.astype(float)
        fitted = (
            dummies
            @ np.linalg.lstsq(root_w[:, None] * dummies, root_w[:, None] * self.x, rcond=None)[0]
        )
        self.within = root_w[:, None] * (self.x - fitted)
        self.raw_sumsq = (root_w[:, None] ** 2 * self.x**2).sum(axis=0)

        # Residual-like vectors: they sum to zero within every unit and every period, as the
        # residuals of a within regression do (the sparse cluster sums rely on it).
        self.e = root_w * self.fe.demean(rng.normal(size=self.n))
        self.y = root_w * self.fe.demean(rng.normal(size=self.n))
        self.beta = rng.normal(size=K)

        self.indicator = IndicatorDesign.absorb(
            NAMES, column, value, self.fe, tol=TOL, maxiter=MAXITER
        )
        self.dense = DenseDesign.absorb(NAMES, self.x, self.fe, tol=TOL, maxiter=MAXITER)
        self.designs = (self.indicator, self.dense)

    def clusters(self, kind: str) -> tuple[np.ndarray, int]:
        """Cluster codes 0..G-1 and G."""
        unit, period = self.fe.codes
        if kind == "unit":  # the fixed effect's own codes (a faster path on the grid)
            return unit, N_UNITS
        if kind == "unit-copy":
            return unit.copy(), N_UNITS
        if kind == "period":
            return period, N_PERIODS
        if kind == "unit-groups":  # nested: whole units in each cluster
            return unit // 4, (N_UNITS - 1) // 4 + 1
        codes = np.random.default_rng(99).integers(0, 5, self.n)  # "random": not nested
        assert np.unique(codes).size == 5
        return codes, 5


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to rtol 1e-10, with a floor at 1e-10 times the largest entry (entries that cancel
    to nearly zero)."""
    expected = np.asarray(expected)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


def cluster_scores(matrix: np.ndarray, e: np.ndarray, codes: np.ndarray, n_groups: int):
    """Sums of X~_i e_i within each cluster, by an explicit loop over clusters."""
    return np.array(
        [(matrix[codes == g] * e[codes == g, None]).sum(axis=0) for g in range(n_groups)]
    )


@pytest.fixture(scope="module", params=CASES)
def case(request) -> Case:
    return Case(*request.param)


def test_absorb_keeps_the_indicators_sparse_on_balanced_unweighted_panels_only(case):
    sparse = case.layout in SPARSE_LAYOUTS
    assert isinstance(case.indicator, IndicatorDesign if sparse else UnbalancedIndicatorDesign)
    assert case.fe.balanced_two_way == sparse
    assert case.fe.grid == (case.layout == "grid")
    for design in case.designs:
        assert design.names == NAMES


def test_the_dense_design_is_the_projection_off_the_dummies(case):
    """The reference the sparse design is checked against is itself checked here."""
    assert_close(case.dense.matrix, case.within)
    assert np.abs(case.within).max() > 0.1  # not a degenerate design


def test_raw_sum_of_squares(case):
    for design in case.designs:
        assert_close(design.raw_sumsq, case.raw_sumsq)


def test_gram(case):
    expected = case.within.T @ case.within
    assert np.linalg.matrix_rank(expected) == K  # every event time identified
    for design in case.designs:
        assert_close(design.gram(), expected)


def test_cross_with_a_within_transformed_outcome(case):
    for design in case.designs:
        assert_close(design.cross(case.y), case.within.T @ case.y)


def test_residuals_in_the_memory_of_the_outcome(case):
    expected = case.y - case.within @ case.beta
    for design in case.designs:
        y = case.y.copy()
        result = design.residuals(y, case.beta)
        assert np.shares_memory(result, y)
        assert_close(result, expected)
        assert_close(y, expected)


def test_hetero_meat(case):
    expected = (case.within * case.e[:, None] ** 2).T @ case.within
    for design in case.designs:
        assert_close(design.hetero_meat(case.e), expected)


def test_hetero_meat_in_row_chunks(case, monkeypatch):
    monkeypatch.setattr(models.estimation.design, "_ROW_CHUNK", 10)
    expected = (case.within * case.e[:, None] ** 2).T @ case.within
    for design in case.designs:
        assert_close(design.hetero_meat(case.e), expected)


@pytest.mark.parametrize("kind", ["unit", "unit-copy", "period", "unit-groups", "random"])
def test_cluster_meat(case, kind):
    codes, n_groups = case.clusters(kind)
    scores = cluster_scores(case.within, case.e, codes, n_groups)
    for design in case.designs:
        assert_close(design.cluster_meat(case.e, codes, n_groups), scores.T @ scores)


@pytest.mark.parametrize("kind", ["unit", "unit-copy", "period", "unit-groups", "random"])
@pytest.mark.parametrize("layout", SPARSE_LAYOUTS)
def test_cluster_scores_of_the_sparse_design(layout, kind):
    case = Case(layout, valued=True)
    codes, n_groups = case.clusters(kind)
    expected = cluster_scores(case.within, case.e, codes, n_groups)
    assert_close(case.indicator.cluster_scores(case.e, codes, n_groups), expected)


def test_select_keeps_the_chosen_columns(case):
    keep = np.array([True, False, True, True, False, True, True])
    within = case.within[:, keep]
    codes, n_groups = case.clusters("unit")
    scores = cluster_scores(within, case.e, codes, n_groups)
    for design in case.designs:
        selected = design.select(keep)
        assert type(selected) is type(design)
        assert selected.names == tuple(n for n, k in zip(NAMES, keep, strict=True) if k)
        assert_close(selected.raw_sumsq, design.raw_sumsq[keep])  # checked above
        assert_close(selected.gram(), within.T @ within)
        assert_close(selected.cross(case.y), within.T @ case.y)
        beta = case.beta[keep]
        assert_close(selected.residuals(case.y.copy(), beta), case.y - within @ beta)
        assert_close(selected.hetero_meat(case.e), (within * case.e[:, None] ** 2).T @ within)
        assert_close(selected.cluster_meat(case.e, codes, n_groups), scores.T @ scores)


def test_dense_absorb_can_overwrite_its_input(case):
    x = np.asfortranarray(case.x.copy())
    design = DenseDesign.absorb(NAMES, x, case.fe, tol=TOL, maxiter=MAXITER, overwrite=True)
    assert np.shares_memory(design.matrix, x)
    assert_close(design.matrix, case.within)
    assert_close(design.raw_sumsq, case.dense.raw_sumsq)  # of x before demeaning
