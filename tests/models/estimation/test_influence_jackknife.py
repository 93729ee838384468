"""CR3 of Callaway and Sant'Anna is the leave-one-unit-out jackknife of every estimate.

As in test_jackknife.py, the reference refits the model once without each unit and sums the
outer products of the changes, ``sum_i (R_(-i) - R)(R_(-i) - R)'``, here for the ATT(g, t) and
every aggregation with its overall summary; agreement to 1e-10 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna, FewEffectiveUnitsWarning
from tests.models.estimation.test_jackknife import COLUMNS, heavy_tailed_panel


@pytest.fixture(autouse=True)
def _few_effective_units_are_the_point():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)
        yield


def _estimates(df: pd.DataFrame, base_period: str, kind: str | None, vcov: str = "CRV1"):
    fitted = CallawaySantAnna(df, **COLUMNS, base_period=base_period).fit(vcov=vcov)
    return fitted if kind is None else fitted.aggregate(kind)


def _values(fitted) -> np.ndarray:
    overall = [] if fitted.overall is None else [fitted.overall.estimate]
    return np.append(fitted.coefficients, overall)


@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("kind", [None, "dynamic", "group", "simple", "calendar"])
def test_cr3_is_the_leave_one_unit_out_jackknife(base_period, kind):
    df = heavy_tailed_panel(n_units=45, n_treated=24, seed=5)
    full = _values(_estimates(df, base_period, kind))
    changes = np.array(
        [
            _values(_estimates(df[df["i"] != unit], base_period, kind)) - full
            for unit in df["i"].unique()
        ]
    )
    reference = changes.T @ changes
    fitted = _estimates(df, base_period, kind, vcov="CR3")
    k = len(fitted.names)
    tolerance = 1e-10 * reference.max()
    np.testing.assert_allclose(fitted.covariance.matrix, reference[:k, :k], atol=tolerance)
    if kind is not None:
        assert fitted.overall.se**2 == pytest.approx(reference[-1, -1], abs=tolerance)
    assert fitted.vcov_type == "CR3 by i"


def test_the_pretest_uses_the_jackknife():
    df = heavy_tailed_panel(n_units=45, n_treated=24, seed=5)
    fitted = _estimates(df, "varying", None, vcov="CR3")
    pre = fitted.periods < fitted.cohorts
    estimates = fitted.coefficients[pre]
    statistic = estimates @ np.linalg.solve(fitted.covariance.matrix[np.ix_(pre, pre)], estimates)
    assert fitted.pretrend_test().statistic == pytest.approx(statistic / pre.sum(), rel=1e-12)
    analytic = _estimates(df, "varying", None).pretrend_test()
    assert fitted.pretrend_test().statistic < analytic.statistic


def test_cr3_needs_never_treated_controls_and_no_covariates():
    df = heavy_tailed_panel(n_units=45, n_treated=24, seed=5)
    with pytest.raises(ValueError, match=r"vcov='CR3' needs control='never' and no covariates"):
        CallawaySantAnna(df, **COLUMNS, control="notyet").fit(vcov="CR3")
    with pytest.raises(ValueError, match=r"'HC1' is not available .* supports CRV1, CR3"):
        CallawaySantAnna(df, **COLUMNS).fit(vcov="HC1")
