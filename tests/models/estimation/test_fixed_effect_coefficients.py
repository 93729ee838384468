"""FixedEffectEquations against dense least squares on dummy matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.estimation.fixed_effect_coefficients import FixedEffectEquations

EXACT = 1e-9  # conjugate gradients stop at a relative residual of 1e-12


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_effects", [1, 2, 3])
def test_predictions_match_dense_least_squares(weighted, n_effects):
    rng = np.random.default_rng(n_effects)
    n, sizes = 400, [30, 8, 5][:n_effects]
    codes = [rng.integers(0, s, n) for s in sizes]
    y = rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    sample = rng.uniform(size=n) < 0.7
    equations = FixedEffectEquations.from_codes([c[sample] for c in codes], sizes, w if w is None
                                                else w[sample])  # fmt: skip
    totals = equations.totals(
        [c[sample] for c in codes], y[sample], None if w is None else w[sample]
    )
    predicted = equations.predict(equations.solve(totals), codes)
    dummies = np.hstack([pd.get_dummies(c).reindex(columns=range(s), fill_value=0).to_numpy(float)
                         for c, s in zip(codes, sizes, strict=True)])  # fmt: skip
    root = np.ones(n) if w is None else np.sqrt(w)
    coefficients = np.linalg.lstsq(
        (root[:, None] * dummies)[sample], (root * y)[sample], rcond=None
    )[0]
    identified = equations.identified(codes)
    np.testing.assert_allclose(
        predicted[identified], (dummies @ coefficients)[identified], rtol=0, atol=EXACT
    )


def test_levels_absent_from_the_sample_are_not_identified():
    equations = FixedEffectEquations.from_codes([np.array([0, 1]), np.array([0, 0])], [3, 2])
    assert equations.identified([np.array([0, 2, 1]), np.array([1, 0, 0])]).tolist() == [
        False,  # period 1 has no row in the sample
        False,  # nor has unit 2
        True,
    ]


def test_totals_without_solution_are_refused():
    equations = FixedEffectEquations.from_codes([np.array([0, 1]), np.array([0, 1])], [2, 2])
    with pytest.raises(ValueError, match="does not identify"):
        equations.solve(np.array([1.0, 0.0, 0.0, 1.0]))  # unit 0 at time 1: another piece
