"""What an estimator study must find on scenarios whose answer is known (slow: one study of
three scenarios x 200 replications of 8,000 consumers x 22 weeks, about ten minutes on two
cores; ``pytest -m slow tests/sim/test_study_statistics.py``).

* ``homogeneous``: the default process (no promotion, the same loss per yuan in every cohort),
  where the estimators are correctly specified: their 95% CIs cover at the nominal rate and
  TWFE is unbiased;
* ``heterogeneous``: the loss per yuan grows by a factor e^0.15 with each later cohort
  (``consumer.response.cohort_slope``), where TWFE's event study is biased and
  Callaway-Sant'Anna is not;
* ``segment_trend``: occasional buyers' purchase probability grows by 5% a week and heavy
  buyers' falls by 10% (``consumer.segments[].weekly_trend``); heavy buyers meet four times as
  many fakes, at a rate that does not follow their falling purchases (otherwise they would be
  cheated early, before the trend shows), so trends are not parallel and the pre-trend test
  must reject more often than where they are.

Everything is read on the value-weighted estimand (per victim, so every victim counts: the
intensity-weighted estimand has few effective victims at this size, which is a finding of its
own) and on the observed panels (no placebo: the leads' truth is zero in every scenario).
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
TRENDS = {"occasional": 0.05, "regular": 0.0, "heavy": -0.1}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    segments = [
        segment.model_dump()
        | {
            "weekly_trend": TRENDS[segment.name],
            "fake_rate_multiplier": 4.0 if segment.name == "heavy" else 1.0,
        }
        for segment in DEFAULT_SEGMENTS
    ]
    scenarios = {
        "homogeneous": {"description": "the default process"},
        "heterogeneous": {
            "description": "the loss per yuan grows with the cohort",
            "consumer": {"response": {"cohort_slope": 0.15}},
        },
        "segment_trend": {
            "description": "segments trend apart",
            "consumer": {"segments": segments, "exposure": {"scales_with_purchases": False}},
        },
    }
    config = study_config(
        tmp_path_factory.mktemp("statistics"),
        n_consumers=8000,
        n_weeks=22,
        cumulative=(0, 11),
        window=(-4, 12),
        replications=R,
        block_size=25,
        scenarios=scenarios,
        estimators=["twfe", "callaway_santanna"],
        placebo=False,
    )
    return diagnose(simulate_study(config))


def _row(table, scenario, estimator, estimand="value", panel="observed"):
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
    row = _row(table, "homogeneous", estimator)
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
    trend = _row(table, "segment_trend", estimator)
    size = _row(table, "homogeneous", estimator)
    gap = trend["pretrend_rejection"] - size["pretrend_rejection"]
    mcse = np.hypot(trend["pretrend_rejection_mcse"], size["pretrend_rejection_mcse"])
    assert gap > 3 * mcse
