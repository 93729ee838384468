"""The results family: each result has the parts that apply to it, and only those.

Inference numbers (t, p, intervals, t_test, wald_test) are checked against statsmodels and scipy
in test_inference.py; here: which parts each estimator's results have, what asking for a
missing part says, the summary's rows, the event-time layer's index and its guards, and the
components: each aggregated effect is the weighted average of its components, recomputed here
from the components' own table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models import (
    CallawaySantAnna,
    ConsumerSpendModel,
    EventStudy,
    EventStudyResults,
    FewEffectiveUnitsWarning,
    FixedEffectsOLS,
    ImputationDiD,
    RegressionResults,
    SmallCohortWarning,
    SunAbraham,
)
from models.estimation.results import Results

COLUMNS = dict(outcome="spend", unit="consumer_id", time="week", cohort="fake_week")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=12, seed=21)
    return panel[panel["fake_week"] != 1].reset_index(drop=True)


@pytest.fixture(scope="module")
def fits(panel) -> dict[str, Results]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)  # small panels
        warnings.simplefilter("ignore", SmallCohortWarning)  # late cohorts of a few consumers
        cs = CallawaySantAnna(panel, **COLUMNS, intensity="fake_value").fit()
        return {
            "ols": FixedEffectsOLS(panel, "spend", ["tenure"], ["week"]).fit(),
            "twfe": EventStudy(panel, **COLUMNS, window=(-3, 6)).fit(),
            "cells": cs,
            "dynamic": cs.aggregate("dynamic"),
            "group": cs.aggregate("group"),
            "simple": cs.aggregate("simple"),
            "sun_abraham": SunAbraham(panel, **COLUMNS, intensity="fake_value").fit(),
            "imputation": ImputationDiD(panel, **COLUMNS).fit(),
        }


PARTS = {  # name: (regression statistics, event-time layer, overall average)
    "ols": (True, False, False),
    "twfe": (True, True, False),
    "cells": (False, False, False),
    "dynamic": (False, True, True),
    "group": (False, True, True),
    "simple": (False, True, True),
    "sun_abraham": (True, True, True),
    "imputation": (False, True, True),
}


@pytest.mark.parametrize("name", list(PARTS))
def test_each_result_has_the_parts_that_apply(fits, name):
    regression, event, overall = PARTS[name]
    res = fits[name]
    assert isinstance(res, Results) and isinstance(res, RegressionResults | EventStudyResults)
    assert (res.regression is not None, res.event is not None) == (regression, event)
    assert (res.overall is not None) == overall
    rows = res.summary_rows()
    assert ("R-squared (within):" in rows) == regression
    assert ("Fixed effects:" in rows) == regression
    assert ("Overall average:" in rows) == overall
    assert not any("nan" in value.lower() for value in rows.values())


def test_asking_for_a_part_a_result_lacks_says_so(fits):
    with pytest.raises(AttributeError, match=r"rsquared_within does not apply: ImputationDiD"):
        _ = fits["imputation"].rsquared_within
    with pytest.raises(AttributeError, match=r"df_resid does not apply: CallawaySantAnna "):
        _ = fits["cells"].df_resid
    with pytest.raises(AttributeError, match=r"event_time_effects does not apply: Fixed"):
        fits["ols"].event_time_effects()
    with pytest.raises(AttributeError, match=r"cumulative does not apply: CallawaySantAnna "):
        fits["cells"].cumulative(0, 1)
    with pytest.raises(AttributeError, match=r"components do not apply: EventStudy"):
        fits["twfe"].components()
    assert not hasattr(fits["ols"], "event_times")


def test_aggregations_by_cohort_are_indexed_by_cohort_and_not_summed_as_event_times(fits):
    group = fits["group"]
    assert group.event_time_effects().index.name == "cohort"
    assert list(group.names) == [f"cohort::{g}" for g in group.event_times]
    with pytest.raises(ValueError, match=r"cumulative: CallawaySantAnna \(group\) has effects by"):
        group.cumulative(3, 4)
    with pytest.raises(ValueError, match=r"pretrend_test: CallawaySantAnna \(group\) has effects"):
        group.pretrend_test()
    simple = fits["simple"]
    assert simple.names == ("att",) and simple.params.iloc[0] == simple.overall.estimate
    assert simple.event_time_effects().index.name == "att"
    with pytest.raises(ValueError, match=r"cumulative: CallawaySantAnna \(simple\) has effects"):
        simple.cumulative(0, 0)


def test_sun_abraham_effects_are_their_components_weighted(fits):
    res = fits["sun_abraham"]
    parts = res.components()
    assert parts.equals(res.cohort_effects)
    by_time = parts.groupby("event_time")
    np.testing.assert_allclose(by_time["weight"].sum(), 1.0, rtol=1e-12)
    weighted = (parts["weight"] * parts["estimate"]).groupby(parts["event_time"]).sum()
    np.testing.assert_allclose(weighted.to_numpy(), res.params.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("kind", ["dynamic", "group"])
def test_callaway_santanna_aggregations_are_their_components_weighted(fits, kind):
    res, cells = fits[kind], fits["cells"].att_gt
    parts = res.components()
    np.testing.assert_allclose(parts.groupby("effect")["weight"].sum(), 1.0, rtol=1e-12)
    weighted = (parts["weight"] * parts["estimate"]).groupby(parts["effect"]).sum()
    np.testing.assert_allclose(weighted.to_numpy(), res.params.to_numpy(), rtol=1e-10)
    looked_up = cells.set_index(["cohort", "time"]).loc[
        list(zip(parts["cohort"], parts["cohort"] + parts["event_time"], strict=True)), "att"
    ]
    np.testing.assert_allclose(parts["estimate"].to_numpy(), looked_up.to_numpy(), rtol=0)


def test_callaway_santanna_cells_have_their_joint_covariance(fits):
    cells = fits["cells"]
    assert list(cells.names)[:2] == [
        f"cohort::{g}:period::{t}" for g, t in cells.att_gt[["cohort", "time"]].to_numpy()[:2]
    ]
    np.testing.assert_array_equal(cells.att_gt["se"].to_numpy(), cells.bse.to_numpy())
    matrix = cells.cov_params().to_numpy()
    assert np.allclose(matrix, matrix.T) and np.linalg.eigvalsh(matrix).min() > -1e-12


def test_notes_and_estimator_rows_reach_the_summary(fits):
    text = fits["dynamic"].summary().as_text()
    assert "Control group:" in text and "never treated" in text
    assert "Base period:" in text and "Intensity:" in text
    assert "Untreated observations:" in fits["imputation"].summary().as_text()
    assert "end points binned" in fits["twfe"].summary().as_text()
