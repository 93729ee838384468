"""An order log read in order, a record batch at a time, with bounded memory.

Parquet is read row group by row group (``pyarrow.parquet.ParquetFile.iter_batches``), CSV
block by block (``pyarrow.csv.open_csv``); both readers are sequential, so rows come in the
file's order (the row numbers of the ingest report) and memory holds one batch and the block
being decoded. A directory is one log: every ``.parquet``/``.pq`` file under it (a platform's
daily exports, a Hive-partitioned dataset), read one after the other in the order of their
paths, rows numbered across them. (pyarrow's dataset scanner read 25 batches ahead, 0.8 GiB of a
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
PARQUET_SUFFIXES = tuple(suffix for suffix, kind in FORMATS.items() if kind == "parquet")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class OrderLog:
    """An order log whose configured columns are known to be there.

    Attributes
    ----------
    path : pathlib.Path
        The file, or the directory of Parquet files.
    kind : str
        ``"parquet"`` or ``"csv"``.
    columns : tuple of str
        The configured columns, read from the log.
    rows : int or None
        Rows in the log, if its metadata says (Parquet).
    files : tuple of (pathlib.Path, int or None)
        The files read, in order, with their rows: ``path`` itself, or a directory's files.
    """

    path: Path
    kind: str
    columns: tuple[str, ...]
    rows: int | None
    files: tuple[tuple[Path, int | None], ...]

    @classmethod
    def open(cls, path: str | Path, columns: IngestColumns) -> OrderLog:
        """Check that a log can be read and has the configured columns.

        Raises
        ------
        ValueError
            Naming the file, if it is missing, not ``.parquet``/``.pq``/``.csv`` (or a
            directory without Parquet files), unreadable, lacks a configured column (and the
            key that names it) or, in a directory, types a column unlike the first file.
        """
        path = Path(path)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file()
            )
            if not found:
                raise ValueError(f"{path}: a directory without .parquet or .pq files")
            kind, paths = "parquet", found
        else:
            kind = FORMATS.get(path.suffix.lower())
            if kind is None:
                raise ValueError(
                    f"{path}: expected a .parquet, .pq or .csv order log, or a directory of "
                    "Parquet files"
                )
            if not path.is_file():
                raise ValueError(f"{path}: order log not found")
            paths = [path]
        schemas = [_schema(file, kind, columns) for file in paths]
        first = schemas[0][0]
        for file, (schema, _) in zip(paths, schemas, strict=True):
            for name in columns.names():
                if not _alike(schema.field(name).type, first.field(name).type):
                    raise ValueError(
                        f"{file}: column {name!r} is {schema.field(name).type}, but "
                        f"{first.field(name).type} in {paths[0]} (every file of a directory "
                        "must type it alike; text may be string or large_string)"
                    )
        counts = [rows for _, rows in schemas]
        total = None if kind == "csv" else sum(counts)
        return cls(path, kind, columns.names(), total, tuple(zip(paths, counts, strict=True)))

    def _reader(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The files' reader: a CSV's configured columns as text, so that one bad value is a
        bad row rather than a failed read."""
        if self.kind == "parquet":
            # The first file's types: text may be string in one file and large_string in another.
            target = None
            for file, _ in self.files:
                # pre_buffer (the default) would keep every row group read until it closes
                reader = pq.ParquetFile(file, pre_buffer=False)
                for batch in reader.iter_batches(batch_size=batch_size, columns=list(self.columns)):
                    target = batch.schema if target is None else target
                    yield batch if batch.schema == target else batch.cast(target)
            return
        options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(self.columns, pa.string()),
            include_columns=list(self.columns),
            strings_can_be_null=True,
        )
        yield from pa_csv.open_csv(self.path, convert_options=options)

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


def _schema(path: Path, kind: str, columns: IngestColumns) -> tuple[pa.Schema, int | None]:
    """A file's schema and rows (None for CSV), checked for the configured columns."""
    try:
        if kind == "parquet":
            metadata = pq.ParquetFile(path)
            schema, rows = metadata.schema_arrow, metadata.metadata.num_rows
        else:
            with pa_csv.open_csv(path) as reader:
                schema, rows = reader.schema, None
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: cannot read the order log: {_first_line(exc)}") from None
    for key, name in columns.model_dump().items():
        if name is not None and name not in schema.names:
            shown = ", ".join(schema.names[:10])
            raise ValueError(
                f"{path}: no column {name!r} (ingest.columns.{key}); the log has: {shown}"
            )
    return schema, rows


def _alike(first: pa.DataType, second: pa.DataType) -> bool:
    """The same type, or both text (``string``, ``large_string`` or ``string_view``)."""
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    return first == second or all(any(is_text(t) for is_text in text) for t in (first, second))
