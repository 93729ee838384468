"""Helpers shared by the FixedEffectsOLS tests (test_ols.py, test_vcov.py): the test panel,
the fit on every row, pyfixest's fit, the tolerances and the peers' warnings to ignore. A test
module imports the fixture it uses (``panel_fixture``), which makes pytest find it under its
name ``panel``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from models import FixedEffectsOLS

COEF_RTOL = 1e-8
SE_RTOL = 1e-6
REGRESSORS = ["x1", "x2"]
PEER_WARNINGS = [
    # pyfixest 0.60 under pandas 3 and statsmodels on rank-deficient dummy designs (nested
    # fixed effects) are noisy; neither warning is about the code under test.
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
    pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient"),
    pytest.mark.filterwarnings("ignore:.*singleton fixed effect.*dropped from the model"),
]
"""The ``pytestmark`` of the modules that compare with pyfixest and statsmodels."""


def make_panel(seed: int, n_units: int = 30, n_periods: int = 8, share: float = 0.7):
    """An unbalanced unit x period panel, rows shuffled, with a non-default index.

    Columns: u (string unit ids), t (int periods), r (a third, random fixed effect), region
    (unit // 5: units are nested in regions), g and h (random cluster variables in which no
    fixed effect is nested), w (positive weights), x1, x2, y.
    """
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    sample = rng.random(unit.size) < share
    unit, period = unit[sample], period[sample]
    n = unit.size
    unit_effect = rng.normal(size=n_units)[unit]
    period_effect = rng.normal(size=n_periods)[period]
    r = rng.integers(0, 5, n)
    g = rng.integers(0, 12, n)
    h = rng.integers(0, 9, n)
    x1 = rng.normal(size=n) + 0.8 * unit_effect
    x2 = rng.normal(size=n) + 0.5 * period_effect + 0.3 * x1
    noise = rng.normal(size=n) * (0.5 + np.abs(x1)) + rng.normal(size=12)[g] + rng.normal(size=9)[h]
    y = 1.5 * x1 - 0.8 * x2 + unit_effect + period_effect + 0.4 * r + noise
    df = pd.DataFrame(
        {
            "u": [f"u{i:02d}" for i in unit],
            "t": period + 2000,
            "r": r,
            "region": unit // 5,
            "g": g,
            "h": h,
            "w": rng.uniform(0.3, 3.0, n),
            "x1": x1,
            "x2": x2,
            "y": y,
        }
    )
    order = rng.permutation(n)
    df = df.iloc[order]
    df.index = rng.choice(10 * n, size=n, replace=False)
    return df


@pytest.fixture(scope="module", name="panel")
def panel_fixture():
    return make_panel(0)


def fit(df, fixed_effects, vcov, weights=None, regressors=REGRESSORS, drop_singletons=False):
    """Fit on every row (singletons kept), as the dummy regression and pyfixest's
    ``fixef_rm="none"`` do."""
    model = FixedEffectsOLS(
        df, "y", regressors, fixed_effects, weights=weights, drop_singletons=drop_singletons
    )
    return model.fit(vcov=vcov)


def pyfixest_fit(df, fixed_effects, vcov, weights=None, fixef_rm="none"):
    formula = f"y ~ {' + '.join(REGRESSORS)} | {' + '.join(fixed_effects)}"
    pf_vcov = "hetero" if vcov == "HC1" else vcov
    return pf.feols(formula, df, vcov=pf_vcov, weights=weights, fixef_rm=fixef_rm)
