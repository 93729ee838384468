"""Helpers shared by the consumer-model tests (tests/models/consumer): a model with parameter
groups or segment fields replaced, a model per scenario switch, and a panel with each row's
event time."""

from __future__ import annotations

import pandas as pd

from models import ConsumerSpendModel


def _replace(model: ConsumerSpendModel, **groups: dict) -> ConsumerSpendModel:
    """A copy of ``model`` with fields of parameter groups replaced (validated)."""
    data = model.model_dump()
    for group, values in groups.items():
        data[group] = data[group] | values
    return ConsumerSpendModel.model_validate(data)


def _with_event_time(panel: pd.DataFrame) -> pd.DataFrame:
    return panel.assign(event_time=panel["week"] - panel["fake_week"])


def _with_segments(model: ConsumerSpendModel, **fields: tuple) -> ConsumerSpendModel:
    """A copy of ``model`` with segment fields replaced, one value per segment in order."""
    data = model.model_dump()
    for name, values in fields.items():
        for segment, value in zip(data["segments"], values, strict=True):
            segment[name] = value
    return ConsumerSpendModel.model_validate(data)


SWITCHES = {
    "segment_trend": {"segments": {"weekly_trend": (0.02, 0.0, -0.01)}},
    "exposure_ignores_purchases": {"exposure": {"scales_with_purchases": False}},
    "value_tail": {"exposure": {"value_tail": 1.5}},
    "cohort_slope": {"response": {"cohort_slope": -0.05}},
    "report_lag": {"exposure": {"report_lag": 2}},
    "activity": {"activity": {"join_share": 0.3, "leave_share": 0.3}},
    "lag_and_activity": {
        "exposure": {"report_lag": 2},
        "activity": {"join_share": 0.3, "leave_share": 0.3},
    },
}
"""Models with the switches on, for the tests that every switch must pass."""


def _switched(model: ConsumerSpendModel, name: str) -> ConsumerSpendModel:
    """``model`` with the switch ``name`` of SWITCHES on."""
    groups = dict(SWITCHES[name])
    segments = groups.pop("segments", {})
    return _replace(_with_segments(model, **segments), **groups)
