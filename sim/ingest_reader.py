"""An order log read in order, a record batch at a time, with bounded memory.

Parquet is read row group by row group (``pyarrow.parquet.ParquetFile.iter_batches``), CSV
block by block (``pyarrow.csv.open_csv``); both readers are sequential, so rows come in the
file's order (the row numbers of the ingest report) and memory holds one batch and the block
being decoded. (pyarrow's dataset scanner read 25 batches ahead, 0.8 GiB of a
50-million-row log, and a ``ParquetFile`` with ``pre_buffer`` keeps every row group it read;
DuckDB does not number a CSV's rows; hence these two readers.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm import tqdm

from sim.ingest_settings import IngestColumns

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
"""Log formats by file suffix."""


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class OrderLog:
    """An order log whose configured columns are known to be there.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    kind : str
        ``"parquet"`` or ``"csv"``.
    columns : tuple of str
        The configured columns, read from the log.
    rows : int or None
        Rows in the log, if its metadata says (Parquet).
    """

    path: Path
    kind: str
    columns: tuple[str, ...]
    rows: int | None

    @classmethod
    def open(cls, path: str | Path, columns: IngestColumns) -> OrderLog:
        """Check that a log can be read and has the configured columns.

        Raises
        ------
        ValueError
            Naming the file, if it is missing, not ``.parquet``/``.pq``/``.csv``, unreadable,
            or lacks a configured column (and the key that names it).
        """
        path = Path(path)
        kind = FORMATS.get(path.suffix.lower())
        if kind is None:
            raise ValueError(f"{path}: expected a .parquet, .pq or .csv order log")
        if not path.is_file():
            raise ValueError(f"{path}: order log not found")
        try:
            if kind == "parquet":
                metadata = pq.ParquetFile(path)
                names, rows = metadata.schema_arrow.names, metadata.metadata.num_rows
            else:
                with pa_csv.open_csv(path) as reader:
                    names, rows = reader.schema.names, None
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path}: cannot read the order log: {_first_line(exc)}") from None
        for key, name in columns.model_dump().items():
            if name is not None and name not in names:
                shown = ", ".join(names[:10])
                raise ValueError(
                    f"{path}: no column {name!r} (ingest.columns.{key}); the log has: {shown}"
                )
        return cls(path, kind, columns.names(), rows)

    def _reader(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The file's reader: a CSV's configured columns as text, so that one bad value is a
        bad row rather than a failed read."""
        if self.kind == "parquet":
            # pre_buffer (the default) would keep every row group read until the file closes
            return pq.ParquetFile(self.path, pre_buffer=False).iter_batches(
                batch_size=batch_size, columns=list(self.columns)
            )
        options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(self.columns, pa.string()),
            include_columns=list(self.columns),
            strings_can_be_null=True,
        )
        return pa_csv.open_csv(self.path, convert_options=options)

    def batches(self, batch_size: int, progress: bool = False) -> Iterator[tuple[pa.Table, int]]:
        """The log's rows in order, ``batch_size`` at a time (the last batch fewer), with the
        number of rows before each; the reader's batches are joined or split to that size.

        Raises
        ------
        ValueError
            Naming the file, if the reader fails midway (a CSV row with too many fields).
        """
        quiet = None if progress else True  # None: silent when stderr is not a terminal
        bar = tqdm(total=self.rows, desc="ingest", unit="row", unit_scale=True, disable=quiet)
        pending: list[pa.RecordBatch] = []
        waiting = done = 0
        try:
            for batch in self._reader(batch_size):
                pending.append(batch)
                waiting += batch.num_rows
                while waiting >= batch_size:
                    table = pa.Table.from_batches(pending)
                    yield table.slice(0, batch_size), done
                    bar.update(batch_size)
                    rest = table.slice(batch_size)
                    pending, waiting, done = rest.to_batches(), rest.num_rows, done + batch_size
            if waiting:
                yield pa.Table.from_batches(pending), done
                bar.update(waiting)
        except pa.ArrowException as exc:
            raise ValueError(
                f"{self.path}: cannot read the order log: {_first_line(exc)}"
            ) from None
        finally:
            bar.close()
