"""models.estimation.absorb: level encoding, singleton removal, the within transformation and
its dof.

The reference for the within transformation is the explicit dummy-variable regression: the
residual of ``x`` after a (weighted) least-squares fit on one dummy per level of every fixed
effect, solved with ``numpy.linalg.lstsq``. Tolerances are absolute, on data of unit scale:
1e-12 for the exact paths (one fixed effect, balanced two-way panels without weights), 1e-8 for
alternating projections at the default ``tol=1e-8``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfixest.estimation import detect_singletons

from models.estimation import absorb
from models.estimation.absorb import FixedEffects, encode, singleton_mask
from models.exceptions import ConvergenceWarning

EXACT_ATOL = 1e-12
MAP_ATOL = 1e-8


# --------------------------------------------------------------------------------------------
# Helpers: the dummy-variable reference
# --------------------------------------------------------------------------------------------


def dummy_matrix(codes, sizes) -> np.ndarray:
    """One 0/1 column per level of every fixed effect (no reference level dropped)."""
    return np.column_stack([np.eye(g)[c] for c, g in zip(codes, sizes, strict=True)])


def dummy_residual(x: np.ndarray, dummies: np.ndarray, weights=None) -> np.ndarray:
    """Residual of x after weighted least squares on the dummies (lstsq, rank-deficient OK)."""
    root_w = np.ones(x.shape[0]) if weights is None else np.sqrt(weights)
    scaled = x * (root_w if x.ndim == 1 else root_w[:, None])
    coef = np.linalg.lstsq(dummies * root_w[:, None], scaled, rcond=None)[0]
    return x - dummies @ coef


def random_codes(rng, n: int, sizes) -> list[np.ndarray]:
    """Unbalanced random codes with every level present."""
    out = []
    for g in sizes:
        codes = rng.integers(0, g, n)
        codes[:g] = rng.permutation(g)  # make sure every level appears at least once
        out.append(codes)
    return out


def balanced_grid(n_units: int, n_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """A balanced panel stored unit by unit, periods in order."""
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    return unit, period


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------


def reference_codes(values) -> tuple[np.ndarray, int]:
    levels, inverse = np.unique(np.asarray(values), return_inverse=True)
    return inverse.reshape(-1), levels.size


@pytest.mark.parametrize(
    ("values", "expected_codes", "expected_n"),
    [
        (np.array([30, 10, 30, 20]), [2, 0, 2, 1], 3),  # dense, full range after offset
        (np.array([12, 10, 15, 10]), [1, 0, 2, 0], 3),  # dense range with gaps (lookup table)
        (np.array([-3, 7, -3, 0]), [0, 2, 0, 1], 3),  # negative ids
        (np.array([0, 10**9, 5, 10**9]), [0, 2, 1, 2], 3),  # sparse range: hashing path
        (np.array([4, 4, 4]), [0, 0, 0], 1),  # one level
        (np.array([-100, 100, 0, -100], dtype=np.int8), [0, 2, 1, 0], 3),  # narrow dtype
        (np.array([2, 0, 1], dtype=np.uint16), [2, 0, 1], 3),  # unsigned
        (np.array(["b", "a", "c", "a"]), [1, 0, 2, 0], 3),  # strings
        (pd.Series(["b", "a", "c", "a"]), [1, 0, 2, 0], 3),  # object Series
    ],
)
def test_encode_hand_examples(values, expected_codes, expected_n):
    codes, n = encode(values)
    assert codes.tolist() == expected_codes
    assert n == expected_n
    assert codes.dtype.kind == "i"


@pytest.mark.parametrize("span", [5, 200, 10_000, 10**12], ids=["tiny", "dense", "wide", "sparse"])
def test_encode_matches_sorted_unique(span):
    """Random integer ids over ranges that exercise the table and the hashing paths."""
    rng = np.random.default_rng(span % 1000)
    values = rng.integers(-span, span, size=500)
    codes, n = encode(values)
    expected_codes, expected_n = reference_codes(values)
    assert n == expected_n
    np.testing.assert_array_equal(codes, expected_codes)


def test_encode_categorical_numbers_observed_levels_in_sorted_order():
    """A categorical Series: unused categories are not levels; codes follow the sorted values."""
    series = pd.Series(pd.Categorical(["z", "a", "z", "q"], categories=["z", "m", "a", "q"]))
    codes, n = encode(series)
    expected_codes, expected_n = reference_codes(series.astype(str).to_numpy())
    assert n == expected_n == 3  # "m" is an unused category
    np.testing.assert_array_equal(codes, expected_codes)


def test_encode_large_unsigned_ids():
    values = np.array([2**63 + 5, 2**63 + 1, 2**63 + 5], dtype=np.uint64)
    codes, n = encode(values)
    assert codes.tolist() == [1, 0, 1]
    assert n == 2


# --------------------------------------------------------------------------------------------
# singleton_mask
# --------------------------------------------------------------------------------------------


def test_singleton_mask_iterates_across_fixed_effects():
    """Hand-checked cascade over two fixed effects.

    obs:  0  1  2  3  4  5
    fe1:  0  0  1  1  2  2   every fe1 level has two observations at first
    fe2:  0  0  1  2  2  3   obs 2 (level 1) and obs 5 (level 3) are fe2 singletons

    Dropping obs 2 and 5 leaves obs 3 alone in fe1 level 1 and obs 4 alone in fe1 level 2, so a
    second pass over fe1 drops them too. Only obs 0 and 1 survive.
    """
    fe1 = np.array([0, 0, 1, 1, 2, 2])
    fe2 = np.array([0, 0, 1, 2, 2, 3])
    keep = singleton_mask([fe1, fe2], [3, 4])
    assert keep.tolist() == [True, True, False, False, False, False]
    # One pass over each fixed effect is not enough: the cascade needs the iteration.
    first_pass_fe1 = np.bincount(fe1)[fe1] > 1
    assert first_pass_fe1.all()


def test_singleton_mask_no_singletons_keeps_everything():
    unit, period = balanced_grid(4, 3)
    assert singleton_mask([unit, period], [4, 3]).all()


def test_singleton_mask_single_fixed_effect():
    codes = np.array([0, 1, 1, 2, 3, 3, 3])
    keep = singleton_mask([codes], [4])
    assert keep.tolist() == [False, True, True, False, True, True, True]


@pytest.mark.parametrize("seed", range(5))
def test_singleton_mask_matches_pyfixest(seed):
    """Sparse random three-way data (many singletons): same rows as pyfixest's detector."""
    rng = np.random.default_rng(seed)
    n = 300
    sizes = (150, 40, 60)
    codes = [encode(rng.integers(0, g, n))[0] for g in sizes]
    keep = singleton_mask(codes, [int(c.max()) + 1 for c in codes])
    dropped_by_pyfixest = detect_singletons(np.column_stack(codes).astype(np.uint32))
    assert (~keep).sum() > 0
    np.testing.assert_array_equal(keep, ~dropped_by_pyfixest)
    # what survives has no singleton left in any fixed effect
    for c in codes:
        assert (np.bincount(c[keep])[c[keep]] >= 2).all()


# --------------------------------------------------------------------------------------------
# demean vs the dummy-variable regression
# --------------------------------------------------------------------------------------------


LAYOUT_SEEDS = {
    "one": 1,
    "two_balanced_grid": 2,
    "two_balanced_unsorted": 3,
    "two_unbalanced": 4,
    "two_disconnected": 5,
    "three": 6,
}


def _demean_case(name: str, weighted: bool):
    """Fixed effects (with weights if asked), data and weights for one named layout."""
    rng = np.random.default_rng([LAYOUT_SEEDS[name], int(weighted)])
    n_units, n_periods = 15, 6
    if name == "one":
        codes = random_codes(rng, 120, [17])
    elif name == "two_balanced_grid":
        codes = list(balanced_grid(n_units, n_periods))
    elif name == "two_balanced_unsorted":
        unit, period = balanced_grid(n_units, n_periods)
        order = rng.permutation(unit.size)
        codes = [unit[order], period[order]]
    elif name == "two_unbalanced":
        codes = random_codes(rng, 150, [25, 8])
    elif name == "two_disconnected":
        # two blocks of units that never share a period: the graph has two components
        first = random_codes(rng, 60, [10, 4])
        second = random_codes(rng, 50, [8, 3])
        codes = [
            np.concatenate([first[0], second[0] + 10]),
            np.concatenate([first[1], second[1] + 4]),
        ]
    elif name == "three":
        codes = random_codes(rng, 200, [30, 9, 5])
    else:  # pragma: no cover
        raise AssertionError(name)
    n = codes[0].size
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    fe = FixedEffects.from_codes([f"fe{i}" for i in range(len(codes))], codes, weights)
    x = rng.normal(size=(n, 3))
    x[:, 2] += 5 * codes[0]  # a column with a strong fixed-effect component
    return fe, x, weights


CASES = [
    # (layout, weighted, exact?, expected fe.grid, expected fe.balanced_two_way)
    ("one", False, True, False, False),
    ("one", True, True, False, False),
    ("two_balanced_grid", False, True, True, True),
    ("two_balanced_grid", True, False, False, False),
    ("two_balanced_unsorted", False, True, False, True),
    ("two_balanced_unsorted", True, False, False, False),
    ("two_unbalanced", False, False, False, False),
    ("two_unbalanced", True, False, False, False),
    ("two_disconnected", False, False, False, False),
    ("two_disconnected", True, False, False, False),
    ("three", False, False, False, False),
    ("three", True, False, False, False),
]


@pytest.fixture
def force_map(monkeypatch):
    """Turn off the direct solve, so that every non-balanced design iterates."""
    monkeypatch.setattr(absorb, "SMALL_LEVELS", -1)


@pytest.mark.parametrize("method", ["default", "map"])
@pytest.mark.parametrize(
    ("layout", "weighted", "exact", "grid", "balanced"),
    CASES,
    ids=[f"{c[0]}-{'weighted' if c[1] else 'unweighted'}" for c in CASES],
)
def test_demean_equals_dummy_regression_residual(
    request, method, layout, weighted, exact, grid, balanced
):
    """By default every design here is solved exactly (the effects besides the largest have
    few levels); with the direct solve turned off, the non-balanced ones iterate."""
    if method == "map":
        request.getfixturevalue("force_map")
    else:
        exact = True
    fe, x, weights = _demean_case(layout, weighted)
    # The case exercises the code path it is meant to.
    assert fe.grid is grid
    assert fe.balanced_two_way is balanced
    original = x.copy()
    got = fe.demean(x)
    np.testing.assert_array_equal(x, original)  # input not modified
    expected = dummy_residual(x, dummy_matrix(fe.codes, fe.sizes), weights)
    np.testing.assert_allclose(got, expected, rtol=0, atol=EXACT_ATOL if exact else MAP_ATOL)
    # vector input gives the same as the matching column of the matrix input
    np.testing.assert_allclose(fe.demean(x[:, 1]), got[:, 1], rtol=0, atol=EXACT_ATOL)


def test_demean_without_fixed_effects_is_a_copy():
    fe = FixedEffects(names=(), codes=(), sizes=(), n_obs=5)
    x = np.arange(5.0)
    out = fe.demean(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(8, 60),
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    weighted=st.booleans(),
)
def test_demean_property_random_small_designs(seed, n, sizes, weighted):
    """Any small design (possibly disconnected, possibly with singletons) matches lstsq.

    The iteration stops when one sweep changes nothing by more than ``tol``; the distance to the
    fixed point is about ``tol / (1 - rate)``, so on slowly mixing designs (rate ~0.7 for
    seed=1, n=8, sizes=[5, 3]) the default tol=1e-8 leaves errors of ~1.4e-8. This test checks
    the point the iteration converges to, so it asks for tol=1e-11 and compares at 1e-8.
    """
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, g, n) for g in sizes]
    weights = rng.uniform(0.1, 5.0, n) if weighted else None
    fe = FixedEffects.from_codes([f"f{i}" for i in range(len(codes))], codes, weights)
    x = rng.normal(size=n)
    expected = dummy_residual(x, dummy_matrix(fe.codes, fe.sizes), weights)
    np.testing.assert_allclose(fe.demean(x, tol=1e-11), expected, rtol=0, atol=MAP_ATOL)


# --------------------------------------------------------------------------------------------
# dof vs the rank of the dummy matrix
# --------------------------------------------------------------------------------------------


def _rank(fe: FixedEffects) -> int:
    return int(np.linalg.matrix_rank(dummy_matrix(fe.codes, fe.sizes)))


def _n_components(first, second) -> int:
    """Connected components of the bipartite level graph, by union-find (independent of scipy)."""
    n_first = int(first.max()) + 1
    parent = list(range(n_first + int(second.max()) + 1))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(first.tolist(), (second + n_first).tolist(), strict=True):
        parent[find(a)] = find(b)
    return len({find(i) for i in range(len(parent))})


def test_dof_one_fixed_effect_is_its_levels():
    rng = np.random.default_rng(1)
    fe = FixedEffects.from_codes(["a"], random_codes(rng, 80, [13]))
    assert fe.dof == _rank(fe) == 13


@pytest.mark.parametrize("layout", ["grid", "unsorted", "unbalanced"])
def test_dof_two_connected_fixed_effects_equals_rank(layout):
    rng = np.random.default_rng(2)
    if layout == "unbalanced":
        codes = random_codes(rng, 200, [30, 8])
    else:
        codes = list(balanced_grid(9, 5))
        if layout == "unsorted":
            order = rng.permutation(codes[0].size)
            codes = [c[order] for c in codes]
    fe = FixedEffects.from_codes(["a", "b"], codes)
    assert _n_components(*fe.codes) == 1
    assert fe.dof == _rank(fe) == sum(fe.sizes) - 1


def test_dof_two_fixed_effects_disconnected_graph_is_fixest_count_not_rank():
    """Three blocks of units that never share a period: the level graph has three components.

    The documented count (fixest's and pyfixest's default, ``K.exact = FALSE``) is the levels of
    both minus one. The rank of the dummies is the levels minus the number of components, so
    here the count exceeds the rank by components - 1 = 2.
    """
    rng = np.random.default_rng(3)
    blocks = [random_codes(rng, 40, [6, 3]) for _ in range(3)]
    unit = np.concatenate([b[0] + 6 * i for i, b in enumerate(blocks)])
    period = np.concatenate([b[1] + 3 * i for i, b in enumerate(blocks)])
    fe = FixedEffects.from_codes(["unit", "period"], [unit, period])
    components = _n_components(*fe.codes)
    assert components == 3
    assert fe.dof == sum(fe.sizes) - 1
    assert _rank(fe) == sum(fe.sizes) - components == fe.dof - 2  # the rank differs


def test_dof_two_fixed_effects_weighted_same_as_unweighted():
    rng = np.random.default_rng(4)
    codes = random_codes(rng, 100, [20, 6])
    plain = FixedEffects.from_codes(["a", "b"], codes)
    weighted = FixedEffects.from_codes(["a", "b"], codes, rng.uniform(0.5, 2.0, 100))
    assert weighted.dof == plain.dof == _rank(plain)


def test_dof_three_fixed_effects_documented_count():
    """Three fixed effects: the levels of all three minus one for each after the first.

    On a generic random design (connected, each further effect adds all its levels but one)
    this count equals the rank of the dummy matrix.
    """
    rng = np.random.default_rng(5)
    fe = FixedEffects.from_codes(["a", "b", "c"], random_codes(rng, 250, [30, 8, 5]))
    assert _n_components(*fe.codes[:2]) == 1
    documented = fe.sizes[0] + (fe.sizes[1] - 1) + (fe.sizes[2] - 1)
    assert fe.dof == documented
    # Here the rank does NOT differ from the documented count.
    assert _rank(fe) == documented


def test_dof_three_fixed_effects_redundant_third_overcounts_rank():
    """The documented (fixest) count can exceed the rank: when the third effect is spanned by
    the first (a coarsening of it), its dummies add nothing.

    Here c = a // 5 is constant within every level of a, so its dummies add nothing: the rank
    differs from the documented count by exactly levels(c) - 1.
    """
    rng = np.random.default_rng(6)
    a, b = random_codes(rng, 250, [30, 8])
    c = a // 5
    fe = FixedEffects.from_codes(["a", "b", "c"], [a, b, c])
    assert _n_components(a, b) == 1
    documented = fe.sizes[0] + (fe.sizes[1] - 1) + (fe.sizes[2] - 1)
    assert fe.dof == documented
    assert _rank(fe) == documented - (fe.sizes[2] - 1)  # the rank differs


def test_dof_without_fixed_effects_is_zero():
    assert FixedEffects(names=(), codes=(), sizes=(), n_obs=5).dof == 0


# --------------------------------------------------------------------------------------------
# is_nested
# --------------------------------------------------------------------------------------------


def test_is_nested():
    rng = np.random.default_rng(7)
    unit = np.repeat(np.arange(12), 4)
    period = np.tile(np.arange(4), 12)
    fe = FixedEffects.from_codes(["unit", "period"], [unit, period])
    region = encode(unit // 3)[0]  # units grouped into 4 regions
    random_cluster = encode(rng.integers(0, 5, unit.size))[0]
    assert fe.is_nested(0, fe.codes[0])  # a fixed effect is nested in itself
    assert fe.is_nested(0, encode(unit)[0].copy())  # ...also when given an equal copy
    assert fe.is_nested(0, region)  # units inside regions
    assert not fe.is_nested(1, region)  # every period appears in every region
    assert not fe.is_nested(0, random_cluster)
    # a cluster finer than the fixed effect (one per observation): each unit spans 4 clusters
    assert not fe.is_nested(0, np.arange(unit.size))
    # one observation moved to another cluster breaks nesting
    broken = region.copy()
    broken[5] = (broken[5] + 1) % 4
    assert not fe.is_nested(0, broken)


# --------------------------------------------------------------------------------------------
# convergence
# --------------------------------------------------------------------------------------------


def test_direct_solve_is_used_for_small_effects_and_not_beyond_the_limit(monkeypatch):
    rng = np.random.default_rng(12)
    fe = FixedEffects.from_codes(["a", "b", "c"], random_codes(rng, 400, [60, 9, 5]))
    assert fe._small_effects is not None and fe._small_effects.large == 0
    monkeypatch.setattr(absorb, "SMALL_LEVELS", 13)  # 9 + 5 = 14 levels besides the largest
    assert FixedEffects.from_codes(["a", "b", "c"], list(fe.codes))._small_effects is None


def test_direct_solve_with_nested_small_effects_matches_dummies():
    """Week and segment x week: the small dummies are collinear with each other."""
    rng = np.random.default_rng(13)
    unit = rng.integers(0, 80, 500)
    week = rng.integers(0, 6, 500)
    segment_week = (unit % 3) * 6 + week
    fe = FixedEffects.from_codes(["unit", "week", "segment^week"], [unit, week, segment_week])
    assert fe._small_effects is not None
    x = rng.normal(size=(500, 2))
    expected = dummy_residual(x, dummy_matrix(fe.codes, fe.sizes))
    np.testing.assert_allclose(fe.demean(x), expected, rtol=0, atol=EXACT_ATOL)


def test_convergence_warning_when_maxiter_is_tiny(force_map):
    rng = np.random.default_rng(8)
    fe = FixedEffects.from_codes(["a", "b"], random_codes(rng, 300, [40, 10]))
    x = rng.normal(size=300)
    with pytest.warns(ConvergenceWarning, match=r"a \+ b: alternating projections did not"):
        rough = fe.demean(x, maxiter=1)
    expected = dummy_residual(x, dummy_matrix(fe.codes, fe.sizes))
    assert np.abs(rough - expected).max() > MAP_ATOL  # it really had not converged


def test_no_convergence_warning_at_defaults(recwarn, force_map):
    rng = np.random.default_rng(9)
    fe = FixedEffects.from_codes(["a", "b", "c"], random_codes(rng, 300, [40, 10, 6]))
    fe.demean(rng.normal(size=(300, 2)))
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_tighter_tolerance_is_more_accurate(force_map):
    rng = np.random.default_rng(10)
    fe = FixedEffects.from_codes(["a", "b"], random_codes(rng, 300, [40, 10]))
    x = rng.normal(size=300)
    expected = dummy_residual(x, dummy_matrix(fe.codes, fe.sizes))
    np.testing.assert_allclose(fe.demean(x, tol=1e-13), expected, rtol=0, atol=1e-11)
