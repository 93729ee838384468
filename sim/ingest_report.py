"""What an ingest did with every row and every yuan: bad rows by kind, and the reconciliation.

Rows are numbered as in the input, from 1, counting data rows only (a CSV's header is not a
row). Each bad row is counted under the first of :data:`BAD_ROW_KINDS` it has. The report
reconciles: rows in = rows used + rows dropped, and yuan in = panel spend + panel fake spend
+ yuan dropped, where yuan in is the sum of every readable amount (a non-numeric amount has
no value to count: its rows are counted, their amount is not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BAD_ROW_KINDS = {
    "missing_id": "a missing consumer id (or order id, when the log has one)",
    "bad_timestamp": "an unreadable order time (or account-creation time)",
    "bad_amount": "a missing or non-numeric amount",
    "negative_amount": "a negative amount",
    "bad_flag": "a counterfeit flag that is not true/false, 1/0 or yes/no",
    "outside_window": "an order time outside the study window",
    "duplicate_order": "an order id seen in an earlier row",
}
"""Each kind of bad row and what it means, in the order rows are checked."""

EXAMPLES = 5
"""Row numbers kept as examples of each kind."""


@dataclass
class BadRows:
    """A running tally of one kind of bad row: count, yuan and example row numbers."""

    count: int = 0
    amount: float = 0.0
    examples: list[int] = field(default_factory=list)

    def add(self, rows: np.ndarray, amounts: np.ndarray) -> None:
        """Count bad rows (1-based numbers, ascending) and their amounts (NaN: unreadable)."""
        self.count += len(rows)
        self.amount += float(np.nansum(amounts))
        self.examples += rows[: EXAMPLES - len(self.examples)].tolist()


LogFiles = tuple[tuple[str, int], ...]
"""A directory log's files, in the order read, with their rows; empty for a single file."""


def row_location(row: int, files: LogFiles) -> str:
    """A row number as the report shows it; in a directory log, also the file and its row."""
    first = 1
    for name, rows in files:
        if row < first + rows:
            return f"{row} ({name} row {row - first + 1})"
        first += rows
    return str(row)


def rejection(source: str, bad_rows: dict[str, BadRows], files: LogFiles = ()) -> str:
    """The one-line error of a log with bad rows under ``bad_rows = 'reject'``: the kind of
    its first bad row, that kind's count and the row, and how many other bad rows."""
    first = {kind: tally.examples[0] for kind, tally in bad_rows.items() if tally.examples}
    kind = min(first, key=first.__getitem__)
    count = bad_rows[kind].count
    others = sum(tally.count for tally in bad_rows.values()) - count
    also = f"; {others:,} other bad rows" if others else ""
    return (
        f"{source}: {count:,} rows with {BAD_ROW_KINDS[kind]} ({kind}, first: row "
        f"{row_location(first[kind], files)}){also}; rejected (ingest.bad_rows = 'reject'; "
        "'drop' drops and reports them)"
    )


@dataclass(frozen=True)
class IngestReport:
    """The account of one ingest: every row and every yuan of the log.

    Attributes
    ----------
    source : str
        The log read.
    policy : str
        ``"drop"`` or ``"reject"`` (:attr:`sim.ingest_settings.IngestSettings.bad_rows`).
    window : dict
        First day, weeks, week start and time zone of the window.
    rows_in, rows_used : int
        Data rows read; rows aggregated into the panel.
    amount_in : float
        Yuan of every readable amount in the log.
    spend, fake_spend : float
        Yuan in the panel's ``spend`` (genuine orders) and ``fake_spend`` (counterfeit ones).
    bad_rows : dict of str to BadRows
        Every kind of :data:`BAD_ROW_KINDS`, in that order, even when none.
    panel_rows, consumers, treated : int
        The panel's rows, consumers, and consumers with a counterfeit order.
    files : tuple of (str, int)
        For a directory log, its files (paths relative to it) in the order read and their
        rows; rows are numbered across them. Empty for a single file.
    """

    source: str
    policy: str
    window: dict[str, object]
    rows_in: int
    rows_used: int
    amount_in: float
    spend: float
    fake_spend: float
    bad_rows: dict[str, BadRows]
    panel_rows: int
    consumers: int
    treated: int
    files: LogFiles = ()

    @property
    def rows_dropped(self) -> int:
        """Bad rows of every kind."""
        return sum(tally.count for tally in self.bad_rows.values())

    @property
    def amount_dropped(self) -> float:
        """Yuan of the bad rows' readable amounts."""
        return sum(tally.amount for tally in self.bad_rows.values())

    @property
    def unreconciled(self) -> float:
        """Yuan in minus the yuan accounted for: zero up to floating-point rounding."""
        return self.amount_in - (self.spend + self.fake_spend + self.amount_dropped)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (the ``PANEL.ingest.json`` file)."""
        files = {
            "files": [
                {"path": name, "first_row": 1 + sum(r for _, r in self.files[:i]), "rows": rows}
                for i, (name, rows) in enumerate(self.files)
            ]
        }
        return {
            "source": self.source,
            "row_numbers": "1-based data rows of the input (a CSV header is not a row)"
            + (", across the files in this order" if self.files else ""),
            **(files if self.files else {}),
            "policy": self.policy,
            "window": self.window,
            "rows": {
                "in": self.rows_in,
                "used": self.rows_used,
                "dropped": self.rows_dropped,
            },
            "yuan": {
                "in": self.amount_in,
                "spend": self.spend,
                "fake_spend": self.fake_spend,
                "dropped": self.amount_dropped,
                "unreconciled": self.unreconciled,
            },
            "bad_rows": {
                kind: {
                    "meaning": BAD_ROW_KINDS[kind],
                    "count": tally.count,
                    "yuan": tally.amount,
                    "example_rows": tally.examples,
                }
                for kind, tally in self.bad_rows.items()
            },
            "panel": {
                "rows": self.panel_rows,
                "consumers": self.consumers,
                "treated": self.treated,
            },
        }

    def describe(self) -> str:
        """A few printable lines: rows and yuan reconciled, and the bad rows by kind."""
        lines = [
            f"{self.rows_in:,} rows in = {self.rows_used:,} used + {self.rows_dropped:,} dropped",
            f"{self.amount_in:,.2f} yuan in = {self.spend:,.2f} spend + {self.fake_spend:,.2f} "
            f"counterfeit + {self.amount_dropped:,.2f} dropped "
            f"(unreconciled {self.unreconciled:.2g})",
        ]
        for kind, tally in self.bad_rows.items():
            if tally.count:
                rows = ", ".join(row_location(row, self.files) for row in tally.examples)
                lines.append(
                    f"  {kind}: {tally.count:,} rows, {tally.amount:,.2f} yuan (rows {rows})"
                )
        lines.append(
            f"panel: {self.panel_rows:,} rows, {self.consumers:,} consumers, "
            f"{self.treated:,} with a counterfeit order"
        )
        return "\n".join(lines)
