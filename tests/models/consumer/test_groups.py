"""The consumer model's parameter groups (models.consumer.groups): a bad value is rejected on
construction with a message that names it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models import ConsumerSpendModel
from tests.models.consumer.consumer_helpers import _replace


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"response": {"path": [1.0, 2.0]}}, "path must have horizon = 12 entries"),
        ({"response": {"horizon": 0}}, "horizon"),
        ({"exposure": {"fake_rate": -0.1}}, "fake_rate"),
        ({"churn": {"probability": 0.9}}, "churn_multiplier must be <= 1"),
        ({"calendar": {"promotions": [{"week": 3}, {"week": 3}]}}, "at most once"),
        ({"exposure": {"scales_with_purchases": 0}}, "scales_with_purchases"),
        ({"exposure": {"value_tail": 1.0}}, r"value_tail\n.*greater than 1"),
        ({"exposure": {"report_lag": -1}}, r"report_lag\n.*greater than or equal to 0"),
        ({"exposure": {"report_lag": 1.5}}, "report_lag"),
        ({"response": {"cohort_slope": 1.5}}, r"cohort_slope\n.*less than or equal to 1"),
        ({"activity": {"join_share": 1.2}}, r"join_share\n.*less than or equal to 1"),
        ({"activity": {"leave_share": -0.1}}, "leave_share"),
        ({"activity": {"stay_share": 0.1}}, "stay_share"),
    ],
)
def test_invalid_parameters_are_named(baseline_model, groups, message):
    with pytest.raises(ValidationError, match=message):
        _replace(baseline_model, **groups)


@pytest.mark.parametrize("trend", [-1.0, 1.0])
def test_segment_trend_must_lie_strictly_between_minus_one_and_one(baseline_model, trend):
    data = baseline_model.model_dump()
    data["segments"][0]["weekly_trend"] = trend
    with pytest.raises(ValidationError, match=r"segments\.0\.weekly_trend"):
        ConsumerSpendModel.model_validate(data)


@pytest.mark.parametrize(
    ("groups", "n_weeks", "message"),
    [
        ({"exposure": {"report_lag": 22}}, 22, "report_lag must be <= n_weeks - 1 = 21, got 22"),
        ({"activity": {"join_share": 0.1}}, 2, "needs n_weeks >= 3 for windows of at least two"),
        ({"activity": {"join_share": 0.1, "leave_share": 0.1}}, 3, "needs n_weeks >= 4"),
    ],
)
def test_panel_too_short_for_a_switch_is_named(baseline_model, groups, n_weeks, message):
    model = _replace(baseline_model, calendar={"promotions": []}, **groups)
    with pytest.raises(ValueError, match=message):
        model.simulate(n_consumers=100, n_weeks=n_weeks, seed=1)


def test_segment_shares_must_sum_to_one():
    with pytest.raises(ValidationError, match=r"shares must sum to 1, got 0\.9"):
        ConsumerSpendModel(
            segments=[
                {"name": "a", "share": 0.5, "purchase_prob": 0.5, "basket_median": 100},
                {"name": "b", "share": 0.4, "purchase_prob": 0.5, "basket_median": 100},
            ]
        )
