"""From a platform's order log to goodwill's consumer x week panel.

The log (Parquet or CSV) is read in record batches of ``ingest.batch_size`` rows, in order
(:class:`sim.ingest_reader.OrderLog`), so memory is bounded by one batch plus the
aggregates: each consumer's weekly genuine and counterfeit sums and activity as dense
consumers x weeks arrays (17 bytes a cell), one row per consumer with a counterfeit order
and, when the log has order ids, eight bytes per order id seen. Each batch's rows are
checked (:data:`sim.ingest_report.BAD_ROW_KINDS`) and its good rows added to the sums,
vectorised, in row order, so the panel does not depend on the batch size.

What the panel holds (one row per consumer and week, weeks 1..``n_weeks`` of the window):

- A consumer is **active** in a week when the log has a good order of theirs (genuine or
  counterfeit) in it. Consumers without a good order are absent; each consumer's rows run
  from their first active week (``first_week``) to their last (``last_week``), with explicit
  zero weeks between: the panel is unbalanced, as a simulated one with ``consumer.activity``.
- ``spend`` sums the genuine (not counterfeit) orders of the week; ``fake_spend`` the
  counterfeit ones. A counterfeit order is not genuine spend, but its yuan are in the panel.
- ``fake_week`` is the week of the consumer's first counterfeit order (earliest time, then
  earliest row), NaN if none; ``fake_value`` its amount (0 if none); ``n_fakes`` the count
  of the consumer's counterfeit orders in the window.
- ``weeks_before_fake``: ``fake_week - first_week``, the weeks the consumer had been active
  in the window before the first fake (NaN if none). With ``ingest.columns.account_created``
  also ``tenure_at_fake``, the account's age in years (365.25 days) at the first fake's
  time; with ``ingest.columns.category``, ``fake_category``, that order's category.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.ingest_columns import NO_TIME, amounts, flags, missing_ids, order_keys, wall_clock
from sim.ingest_reader import OrderLog
from sim.ingest_report import BAD_ROW_KINDS, BadRows, IngestReport, rejection
from sim.ingest_settings import IngestSettings

WEEK = 7 * 86_400 * 1_000_000
"""A week in microseconds."""

YEAR = 365.25 * 86_400 * 1_000_000
"""A year in microseconds (tenure at the first fake)."""

RUN_KEYS = 2**23
"""Most order keys in one sorted run of the keys seen (64 MiB)."""


class IngestRejected(ValueError):
    """A log with bad rows under ``ingest.bad_rows = 'reject'``; the message is one line."""


class _Aggregates:
    """The batches' good rows merged so far: each consumer's weekly sums, first fakes and the
    order ids seen.

    Consumers are numbered as they first appear (``ids``); their weekly genuine and
    counterfeit sums and whether they were active are dense consumers x weeks arrays (17
    bytes a cell, grown by doubling), summed in row order, so the sums do not depend on the
    batch size.
    """

    def __init__(self, n_weeks: int) -> None:
        self.n_weeks = n_weeks
        self.ids: pd.Index | None = None
        self.spend = np.zeros((0, n_weeks))
        self.fake_spend = np.zeros((0, n_weeks))
        self.active = np.zeros((0, n_weeks), dtype=bool)
        self.fakes: list[pd.DataFrame] = []
        self.seen: list[np.ndarray] = []

    def codes(self, ids: np.ndarray) -> np.ndarray:
        """Each id's consumer number, numbering new consumers after the known ones."""
        known = self.ids if self.ids is not None else pd.Index(ids[:0])
        codes = known.get_indexer(ids)
        new = codes < 0
        if new.any():
            fresh = pd.Index(pd.unique(ids[new]))
            codes[new] = len(known) + fresh.get_indexer(ids[new])
            known = known.append(fresh)
            if len(known) > len(self.spend):
                rows = max(len(known), 2 * len(self.spend))
                self.spend = _grown(self.spend, rows)
                self.fake_spend = _grown(self.fake_spend, rows)
                self.active = _grown(self.active, rows)
        self.ids = known
        return codes

    def repeats(self, keys: np.ndarray) -> np.ndarray:
        """True for each order key seen in an earlier row (of this batch or before); the
        others join the keys seen.

        The keys seen are sorted runs: each batch's new keys are one, and the last two runs
        merge while the earlier is no longer than the later and the two fit in
        :data:`RUN_KEYS`, so a lookup searches a few runs and a merge copies at most
        ``RUN_KEYS`` keys.
        """
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        repeated = np.empty(len(keys), dtype=bool)
        repeated[order] = np.r_[False, ordered[1:] == ordered[:-1]]
        for run in self.seen:
            where = np.searchsorted(run, keys).clip(max=len(run) - 1)
            repeated |= run[where] == keys
        fresh = np.sort(keys[~repeated])
        if len(fresh):
            self.seen.append(fresh)
        while len(self.seen) > 1 and len(self.seen[-2]) <= len(self.seen[-1]):
            if len(self.seen[-2]) + len(self.seen[-1]) > RUN_KEYS:
                break
            last = self.seen.pop()
            self.seen[-1] = np.sort(np.concatenate([self.seen[-1], last]), kind="stable")
        return repeated

    def add(self, good: dict[str, np.ndarray]) -> None:
        """Add one batch's good rows to the weekly sums and the first fakes."""
        fake = good["flag"] == 1
        cell = self.codes(good["consumer_id"]) * self.n_weeks + good["week"] - 1
        np.add.at(self.spend.reshape(-1), cell[~fake], good["amount"][~fake])
        np.add.at(self.fake_spend.reshape(-1), cell[fake], good["amount"][fake])
        self.active.reshape(-1)[cell] = True
        if fake.any():
            fakes = pd.DataFrame({key: values[fake] for key, values in good.items()})
            self.fakes = [_first_fakes([*self.fakes, fakes.assign(n_fakes=1)])]


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    """``array`` with zero rows added up to ``rows``."""
    grown = np.zeros((rows, array.shape[1]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _first_fakes(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Each consumer's first counterfeit order (earliest time, then row) and their count."""
    frame = pd.concat(parts).sort_values(["consumer_id", "time", "row"], kind="stable")
    counts = frame.groupby("consumer_id", sort=False)["n_fakes"].sum()
    first = frame.drop_duplicates("consumer_id").set_index("consumer_id")
    return first.assign(n_fakes=counts).reset_index()


def ingest_log(
    path: str | Path, settings: IngestSettings, progress: bool = False
) -> tuple[pd.DataFrame, IngestReport]:
    """Read an order log into a consumer x week panel, accounting for every row and yuan.

    Parameters
    ----------
    path : str or pathlib.Path
        The order log, ``.parquet``/``.pq`` or ``.csv``, one row per order, or a directory of
        Parquet files read as one log (every ``.parquet``/``.pq`` under it, in path order).
    settings : IngestSettings
        Columns, window (``start`` and ``n_weeks`` must be set), time zone, bad-row policy
        and batch size.
    progress : bool
        Show a progress bar (rows read) on stderr.

    Returns
    -------
    panel : pandas.DataFrame
        ``consumer_id, week, spend, fake_spend, fake_week, fake_value, n_fakes, first_week,
        last_week, weeks_before_fake`` (and ``tenure_at_fake``, ``fake_category`` when their
        columns are configured), sorted by consumer and week; see the module's docstring.
    report : IngestReport
        Rows and yuan in, used and dropped by kind, reconciled.

    Raises
    ------
    IngestRejected
        If a row is bad and ``settings.bad_rows`` is ``"reject"``: one line naming the first
        bad row's kind, its count and the row.
    ValueError
        If the file or a column cannot be read, or the window is not set.

    Examples
    --------
    >>> import datetime as dt
    >>> settings = IngestSettings(start=dt.date(2017, 1, 2), n_weeks=22)  # doctest: +SKIP
    >>> panel, report = ingest_log("orders.parquet", settings)  # doctest: +SKIP
    >>> print(report.describe())  # doctest: +SKIP
    """
    window_start = settings.window_start()
    n_weeks = settings.weeks()
    log = OrderLog.open(path, settings.columns)
    origin = np.datetime64(window_start, "us").astype(np.int64)
    columns = settings.columns
    aggregates = _Aggregates(n_weeks)
    tallies = {kind: BadRows() for kind in BAD_ROW_KINDS}
    rows_in = rows_used = 0
    amount_in = 0.0
    for table, before in log.batches(settings.batch_size, progress):
        read = _read_batch(table, settings)
        amount_in += float(np.nansum(read["amount"]))
        time = np.where(read["time"] == NO_TIME, origin, read["time"])
        read["week"] = (time - origin) // WEEK + 1
        kind = _faults(read, n_weeks)
        if columns.order_id is not None:
            good = np.flatnonzero(kind == 0)
            kind[good[aggregates.repeats(read.pop("order")[good])]] = len(BAD_ROW_KINDS)
        read["row"] = before + np.arange(1, table.num_rows + 1)
        for code, tally in enumerate(tallies.values(), start=1):
            bad = kind == code
            tally.add(read["row"][bad], read["amount"][bad])
        good = kind == 0
        rows_in += table.num_rows
        rows_used += int(good.sum())
        good_rows = {key: values[good] for key, values in read.items()}
        good_rows["consumer_id"] = _consumer_ids(table.column(columns.consumer_id), good)
        aggregates.add(good_rows)
    files = ()
    if log.path.is_dir():
        files = tuple((str(file.relative_to(log.path)), rows) for file, rows in log.files)
    if settings.bad_rows == "reject" and any(tally.count for tally in tallies.values()):
        raise IngestRejected(rejection(str(path), tallies, files))
    window = {
        "start": window_start.isoformat(),
        "n_weeks": n_weeks,
        "week_start": settings.week_start,
        "time_zone": settings.time_zone,
    }
    aggregates.seen.clear()  # the order ids are checked: free their memory for the panel
    panel = _build_panel(aggregates, settings)
    report = IngestReport(
        source=str(path),
        policy=settings.bad_rows,
        window=window,
        rows_in=rows_in,
        rows_used=rows_used,
        amount_in=amount_in,
        spend=float(panel["spend"].sum()),
        fake_spend=float(panel["fake_spend"].sum()),
        bad_rows=tallies,
        panel_rows=len(panel),
        consumers=int(panel["consumer_id"].nunique()),
        treated=len(aggregates.fakes[0]) if aggregates.fakes else 0,
        files=files,
    )
    return panel, report


def _read_batch(table: pa.Table, settings: IngestSettings) -> dict[str, np.ndarray]:
    """One batch's columns as arrays, with the masks of missing ids and unreadable times."""
    columns = settings.columns

    def column(name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    read = {
        "missing": missing_ids(column(columns.consumer_id)),
        "time": wall_clock(column(columns.timestamp), settings.time_zone, columns.timestamp),
        "amount": amounts(column(columns.amount), columns.amount),
        "flag": flags(column(columns.counterfeit), columns.counterfeit),
    }
    read["bad_time"] = read["time"] == NO_TIME
    if columns.order_id is not None:
        read["missing"] |= missing_ids(column(columns.order_id))
        read["order"] = order_keys(column(columns.order_id))
    if columns.account_created is not None:
        created = wall_clock(
            column(columns.account_created), settings.time_zone, columns.account_created
        )
        read["bad_time"] |= created == NO_TIME
        read["created"] = created
    if columns.category is not None:
        read["category"] = column(columns.category).cast(pa.string()).to_numpy(zero_copy_only=False)
    return read


def _faults(read: dict[str, np.ndarray], n_weeks: int) -> np.ndarray:
    """Each row's first fault as a code, 1 + its place in :data:`BAD_ROW_KINDS` (0: none),
    before repeated order ids are looked for; removes the masks from ``read``."""
    faults = [
        read.pop("missing"),
        read.pop("bad_time"),
        np.isnan(read["amount"]),
        read["amount"] < 0,
        read["flag"] < 0,
        (read["week"] < 1) | (read["week"] > n_weeks),
    ]
    kind = np.zeros(len(read["amount"]), dtype=np.int8)
    for code, fault in enumerate(faults, start=1):
        kind[(kind == 0) & fault] = code
    return kind


def _consumer_ids(array: pa.ChunkedArray, good: np.ndarray) -> np.ndarray:
    """The good rows' consumer ids: int64 when the column holds integers, else text."""
    values = array.combine_chunks().filter(pa.array(good))
    if pa.types.is_integer(values.type):
        return values.cast(pa.int64()).to_numpy()
    return np.asarray(values.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)


def _integer_ids(ids: pd.Series) -> pd.Series:
    """Text ids as int64 when every one is an integer written plainly (``"42"``, not
    ``"042"``), as a CSV's are; the ids unchanged otherwise."""
    if ids.dtype.kind in "iu" or ids.empty:
        return ids
    text = ids.astype(str)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.isna().any() or (numbers % 1 != 0).any():
        return ids
    integers = numbers.astype(np.int64)
    return integers if (integers.astype(str) == text).all() else ids


def _build_panel(aggregates: _Aggregates, settings: IngestSettings) -> pd.DataFrame:
    """The unbalanced panel: each consumer's weeks from first to last active, zeros between,
    sorted by consumer and week."""
    raw = aggregates.ids if aggregates.ids is not None else pd.Index([], dtype=np.int64)
    ids = _integer_ids(pd.Series(raw))
    order = np.argsort(ids.to_numpy(), kind="stable")
    active = aggregates.active[: len(raw)][order]
    first = active.argmax(axis=1)
    last = aggregates.n_weeks - 1 - active[:, ::-1].argmax(axis=1)
    weeks = np.arange(aggregates.n_weeks)
    inside = (weeks >= first[:, None]) & (weeks <= last[:, None])
    length = last - first + 1
    fakes = _first_fakes(aggregates.fakes) if aggregates.fakes else _no_fakes(settings)
    fakes = fakes.set_index("consumer_id").reindex(raw[order])
    fake_week = fakes["week"].to_numpy(dtype=float)
    consumer = {
        "fake_week": fake_week,
        "fake_value": fakes["amount"].fillna(0.0).to_numpy(dtype=float),
        "n_fakes": fakes["n_fakes"].fillna(0).to_numpy(dtype=np.int64),
        "first_week": first + 1,
        "last_week": last + 1,
        "weeks_before_fake": fake_week - (first + 1),
    }
    if settings.columns.account_created is not None:
        consumer["tenure_at_fake"] = (fakes["time"] - fakes["created"]).to_numpy(float) / YEAR
    if settings.columns.category is not None:
        consumer["fake_category"] = fakes["category"].to_numpy(dtype=object)
    panel = {
        "consumer_id": np.repeat(ids.to_numpy()[order], length),
        "week": np.nonzero(inside)[1] + 1,
        "spend": aggregates.spend[: len(raw)][order][inside],
        "fake_spend": aggregates.fake_spend[: len(raw)][order][inside],
    }
    panel.update({key: np.repeat(values, length) for key, values in consumer.items()})
    return pd.DataFrame(panel, copy=False)


def _no_fakes(settings: IngestSettings) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "consumer_id": np.empty(0, np.int64),
            "week": np.empty(0),
            "amount": np.empty(0),
            "n_fakes": np.empty(0, np.int64),
            "time": np.empty(0, np.int64),
        }
    )
    if settings.columns.account_created is not None:
        frame["created"] = np.empty(0, np.int64)
    if settings.columns.category is not None:
        frame["category"] = np.empty(0, dtype=object)
    return frame
