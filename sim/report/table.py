"""A table of the HTML report, ready to render."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A table ready to render: formatted cells, and optional headers spanning columns.

    ``title`` heads its section, ``caption`` (with the units) the table itself; ``groups``
    is a row of (label, number of columns) above ``columns``; ``numeric`` says which columns
    hold numbers; ``highlight`` is the index of a row to highlight.
    """

    id: str
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    note: str = ""
    groups: list[tuple[str, int]] | None = None
    highlight: int | None = None
