"""``goodwill ingest``: an order log in, a panel and its ingest report out."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sim.config import load_config
from sim.ingest import ingest_log
from sim.ingest_settings import IngestSettings, override_ingest
from sim.job_result import JobResult, wrote
from sim.output_paths import output_path
from sim.store import atomic_path


def report_path(panel_path: str | Path) -> Path:
    """Where the ingest report of a panel goes: ``PANEL.ingest.json`` beside ``PANEL.parquet``.

    Examples
    --------
    >>> report_path("data/panel.parquet")
    PosixPath('data/panel.ingest.json')
    """
    path = Path(panel_path)
    return path.with_name(f"{path.stem}.ingest.json")


def ingest(
    transactions: str | Path,
    out: str | Path,
    config_path: str | Path | None = None,
    overrides: dict[str, object] | None = None,
    progress: bool = True,
) -> JobResult:
    """Read an order log into a panel and write it with its report (``goodwill ingest``).

    Parameters
    ----------
    transactions : str or pathlib.Path
        The order log (``.parquet``, ``.pq`` or ``.csv``), or a directory of Parquet files.
    out : str or pathlib.Path
        The panel's Parquet file; the report goes beside it (:func:`report_path`).
    config_path : str or pathlib.Path, optional
        A config whose ``[ingest]`` gives the settings (default: the defaults).
    overrides : dict, optional
        Keys of ``[ingest]`` replaced (the command's ``--start``, ``--weeks``, ...).
    progress : bool
        Show a progress bar on a terminal.

    Returns
    -------
    JobResult
        The report's lines and the two files.

    Raises
    ------
    sim.ingest.IngestRejected
        If the log has bad rows under ``bad_rows = 'reject'``; nothing is written.
    ValueError
        If the config, the log, a column or the output path is bad; nothing is written.

    Notes
    -----
    The panel and the report are each written to a temporary file beside their target and
    renamed over it only once both are complete, so a failed ingest leaves earlier files as
    they were and no new one.
    """
    started = time.perf_counter()
    settings = IngestSettings()
    if config_path is not None:
        config = load_config(config_path)
        if config.ingest is not None:
            settings = config.ingest
    settings = override_ingest(settings, overrides or {})
    out = output_path(out, "--out")
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"--out = '{out}': expected a .parquet file")
    report_file = report_path(out)
    panel, report = ingest_log(transactions, settings, progress=progress)
    with atomic_path(out) as panel_tmp, atomic_path(report_file) as report_tmp:
        panel.to_parquet(panel_tmp, index=False)
        report_tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    files = (out, report_file)
    return JobResult(f"{report.describe()}\n{wrote(files, started)}", files)
