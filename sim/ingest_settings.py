"""The ``[ingest]`` section: how a platform's order log becomes goodwill's weekly panel.

It names the log's columns, the study window (its first day, its length in weeks, the day a
week starts on and the time zone whose calendar the weeks follow), what to do with bad rows
and how many rows to read at once. ``goodwill ingest --config`` reads it; the command's
options override it (:func:`override_ingest`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictInt, ValidationError, field_validator

from models.parameters import Parameters
from sim.bounds import MAX_PANEL_WEEKS
from sim.validation_messages import describe_validation_error

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""The days a week may start on, in ``datetime.date.weekday()`` order."""

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
BadRowPolicy = Literal["drop", "reject"]


class IngestColumns(Parameters):
    """The order log's column names."""

    consumer_id: str = Field("consumer_id", min_length=1, description="consumer (buyer) id")
    timestamp: str = Field("timestamp", min_length=1, description="order time")
    amount: str = Field("amount", min_length=1, description="order amount, yuan, >= 0")
    counterfeit: str = Field(
        "counterfeit",
        min_length=1,
        description="counterfeit flag (true/false, 1/0, yes/no): a confirmed-fake complaint "
        "or refund",
    )
    order_id: str | None = Field(
        None, min_length=1, description="order id; when given, repeated ids are bad rows"
    )
    category: str | None = Field(
        None, min_length=1, description="product category; gives the first fake's category"
    )
    account_created: str | None = Field(
        None,
        min_length=1,
        description="account-creation time; gives the account's age at the first fake",
    )

    def names(self) -> tuple[str, ...]:
        """The columns read from the log, each once, in the order of the fields."""
        return tuple(dict.fromkeys(v for v in self.model_dump().values() if v is not None))


class IngestSettings(Parameters):
    """How to read an order log into a consumer x week panel (``[ingest]``).

    Week 1 starts at midnight, in ``time_zone``, on the last ``week_start`` day on or before
    ``start``; the window is ``n_weeks`` weeks long. Timestamps with a UTC offset are
    converted to ``time_zone``; naive ones are read as wall-clock time in ``time_zone``.
    """

    start: dt.date | None = Field(
        None, description="first day of the study window (week 1 holds it); required to ingest"
    )
    n_weeks: StrictInt | None = Field(
        None, ge=1, le=MAX_PANEL_WEEKS, description="weeks in the window; required to ingest"
    )
    week_start: Weekday = Field("monday", description="the day each week starts on")
    time_zone: str = Field(
        "Asia/Shanghai", description="IANA time zone whose calendar defines days and weeks"
    )
    bad_rows: BadRowPolicy = Field(
        "drop", description="'drop' bad rows (counted and reported) or 'reject' the log"
    )
    batch_size: StrictInt = Field(  # memory, not results: a batch's arrays are a few copies
        1_000_000, ge=1, le=2**24, description="rows read and aggregated at once"
    )
    columns: IngestColumns = IngestColumns()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "expected an IANA time zone such as 'Asia/Shanghai' or 'UTC'"
            ) from None
        return value

    def window_start(self) -> dt.date:
        """The first day of week 1: the last ``week_start`` day on or before ``start``.

        Raises
        ------
        ValueError
            If ``start`` is not set.
        """
        if self.start is None:
            raise ValueError("ingest.start is not set: give --start DATE or [ingest] start")
        back = (self.start.weekday() - WEEKDAYS.index(self.week_start)) % 7
        return self.start - dt.timedelta(days=back)

    def weeks(self) -> int:
        """The window's length in weeks.

        Raises
        ------
        ValueError
            If ``n_weeks`` is not set.
        """
        if self.n_weeks is None:
            raise ValueError("ingest.n_weeks is not set: give --weeks N or [ingest] n_weeks")
        return self.n_weeks


def override_ingest(settings: IngestSettings, overrides: dict[str, object]) -> IngestSettings:
    """``settings`` with some keys replaced (the command's options), validated again.

    Raises
    ------
    ValueError
        Naming the key, if a value is not allowed.
    """
    try:
        return IngestSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        raise ValueError(
            describe_validation_error(exc, IngestSettings, "ingest", "ingest.")
        ) from None
