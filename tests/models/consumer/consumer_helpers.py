"""Helpers shared by the consumer-model tests (tests/models/consumer): a model with parameter
groups replaced, and a panel with each row's event time."""

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
