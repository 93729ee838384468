"""What an estimator study must find on scenarios whose answer is known (slow: one study of
three scenarios x 200 replications of 4,000 consumers x 14 weeks, about five minutes on two
cores; ``pytest -m slow tests/sim/test_study_statistics.py``).

* ``homogeneous``: the default process (no promotion, effects the same in every cohort) with
  eight times its counterfeit rate (about 40% of consumers buy a fake within 14 weeks, so the
  treated cohorts are a large part of every comparison), where the estimators are correctly
  specified: the 95% CIs cover at the nominal rate, TWFE is unbiased;
* ``heterogeneous``: the same, with the loss per yuan falling by a factor e^-0.15 with each
  later cohort (``consumer.response.cohort_slope``), where TWFE's event study is biased and
  Callaway-Sant'Anna is not;
* ``segment_trend``: heavy buyers' purchase probability grows by 3% a week and occasional
  buyers' falls by 2% (``consumer.segments[].weekly_trend``); heavy buyers meet more fakes, so
  trends are not parallel and the pre-trend test must reject far more often than its size.

Tolerances are in Monte-Carlo SEs of the study itself (R = 200: a coverage's binomial SE at
95% is 1.5 points).
"""

from __future__ import annotations

import numpy as np
import pytest

from models.consumer.groups import DEFAULT_SEGMENTS
from sim.study import simulate_study
from sim.study_diagnosis import diagnose
from tests.sim.study_helpers import study_config

pytestmark = pytest.mark.slow

R = 200
TRENDS = {"occasional": -0.02, "regular": 0.0, "heavy": 0.03}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    segments = [
        segment.model_dump() | {"weekly_trend": TRENDS[segment.name]}
        for segment in DEFAULT_SEGMENTS
    ]
    exposure = {"exposure": {"fake_rate": 0.08}}
    scenarios = {
        "homogeneous": {"description": "the default process", "consumer": exposure},
        "heterogeneous": {
            "description": "the loss per yuan falls with the cohort",
            "consumer": exposure | {"response": {"cohort_slope": -0.15}},
        },
        "segment_trend": {
            "description": "segments trend apart",
            "consumer": exposure | {"segments": segments},
        },
    }
    config = study_config(
        tmp_path_factory.mktemp("statistics"),
        n_consumers=4000,
        replications=R,
        block_size=25,
        scenarios=scenarios,
        estimators=["twfe", "callaway_santanna"],
    )
    return diagnose(simulate_study(config))


def _row(table, scenario, estimator, estimand="intensity", panel="observed"):
    rows = table[
        (table["scenario"] == scenario)
        & (table["estimator"] == estimator)
        & (table["estimand"] == estimand)
        & (table["panel"] == panel)
        & (table["target"] == "cumulative")
    ]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("estimator", ["twfe", "callaway_santanna"])
def test_coverage_is_nominal_where_the_estimator_is_correctly_specified(table, estimator):
    row = _row(table, "homogeneous", estimator, estimand="value")
    assert row["replications"] == R
    assert abs(row["coverage"] - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / R)


def test_twfe_is_biased_with_cohort_heterogeneity_and_not_without(table):
    biased = _row(table, "heterogeneous", "twfe")
    robust = _row(table, "heterogeneous", "callaway_santanna")
    unbiased = _row(table, "homogeneous", "twfe")
    assert abs(biased["bias"]) > 5 * biased["bias_mcse"]
    assert abs(robust["bias"]) < 3 * robust["bias_mcse"]
    assert abs(unbiased["bias"]) < 3 * unbiased["bias_mcse"]


@pytest.mark.parametrize("estimator", ["twfe", "callaway_santanna"])
def test_pretrend_test_detects_the_differential_trend(table, estimator):
    trend = _row(table, "segment_trend", estimator, panel="placebo")
    size = _row(table, "homogeneous", estimator, panel="placebo")
    gap = trend["pretrend_rejection"] - size["pretrend_rejection"]
    mcse = np.hypot(trend["pretrend_rejection_mcse"], size["pretrend_rejection_mcse"])
    assert gap > 3 * mcse
    assert trend["pretrend_rejection"] > 0.5
