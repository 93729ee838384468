"""Rows per second and peak memory of ingesting a 50-million-row order log.

The script first writes the log (Parquet, one row group per million rows): orders of
``--n-consumers`` consumers at random times of a ``--n-weeks`` window (UTC timestamps, read in
Shanghai time), lognormal amounts, 0.2% counterfeit, integer order ids, and a few bad rows
of each kind (missing ids, negative and missing amounts, times outside the window, repeated
order ids). Then ``goodwill ingest`` (:func:`sim.ingest_jobs.ingest`: read, check, aggregate,
write the panel and its report) runs in a fresh process, which reports its wall time and
peak resident memory. Target (issue 20): peak memory under 2 GiB.

    python benchmarks/bench_ingest.py [--rows 50000000] [--n-consumers 200000] [--n-weeks 26]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import GIB, in_fresh_process, peak_rss, report, use_checkout

TARGET_BYTES = 2 * GIB
START = np.datetime64("2017-01-01T16:00", "us")  # Monday 2017-01-02 00:00 in Shanghai
CHUNK = 1_000_000
BAD_SHARE = 1e-5


def write_log(path: Path, rows: int, n_consumers: int, n_weeks: int, seed: int = 0) -> int:
    """Write the benchmark's order log; return the number of bad rows planted."""
    week = 7 * 86_400 * 1_000_000
    planted = 0
    schema = pa.schema(
        [
            ("consumer_id", pa.int64()),
            ("timestamp", pa.timestamp("us", "UTC")),
            ("amount", pa.float64()),
            ("counterfeit", pa.bool_()),
            ("order_id", pa.int64()),
        ]
    )
    streams = np.random.SeedSequence(seed).spawn(-(-rows // CHUNK))
    with pq.ParquetWriter(path, schema) as writer:
        for index, stream in enumerate(streams):
            rng = np.random.default_rng(stream)
            n = min(CHUNK, rows - index * CHUNK)
            bad = rng.random(n) < BAD_SHARE
            planted += int(bad.sum())
            times = START.astype(np.int64) + rng.integers(0, n_weeks * week, n)
            times[bad] += n_weeks * week  # outside the window
            amount = np.round(rng.lognormal(3.5, 1.0, n), 2)
            amount[np.roll(bad, 1)] = -1.0
            planted += int(np.roll(bad, 1).sum())
            order = index * CHUNK + np.arange(n, dtype=np.int64)
            order[np.roll(bad, 7)] -= 1  # the previous row's id
            planted += int(np.roll(bad, 7).sum())
            columns = {
                "consumer_id": pa.array(rng.integers(0, n_consumers, n), mask=np.roll(bad, 3)),
                "timestamp": pa.array(times, pa.timestamp("us", "UTC")),
                "amount": pa.array(amount, mask=np.roll(bad, 4)),
                "counterfeit": pa.array(rng.random(n) < 0.002),
                "order_id": pa.array(order),
            }
            planted += int(np.roll(bad, 3).sum() + np.roll(bad, 4).sum())
            writer.write_table(pa.table(columns, schema=schema), row_group_size=CHUNK)
    return planted


def child(log: str, out: str, n_weeks: int, batch_size: int) -> None:
    """Ingest the log in this (fresh) process and report time, memory and the accounting."""
    use_checkout()
    from sim.ingest_jobs import ingest

    config = Path(out).with_suffix(".toml")
    config.write_text(
        f"seed = 0\n[ingest]\nstart = 2017-01-02\nn_weeks = {n_weeks}\nbatch_size = {batch_size}\n"
        '[ingest.columns]\norder_id = "order_id"\n'
    )
    imported = peak_rss()
    started = time.perf_counter()
    result = ingest(log, out, config, progress=False)
    seconds = time.perf_counter() - started
    report(seconds=seconds, peak=peak_rss(), imports=imported, message=result.message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--n-consumers", type=int, default=200_000)
    parser.add_argument("--n-weeks", type=int, default=26)
    parser.add_argument("--batch-size", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="folder for the log and panel (default: temp)")
    parser.add_argument("--child", nargs=2, metavar=("LOG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.n_weeks, args.batch_size)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        log, out = Path(folder) / "orders.parquet", Path(folder) / "panel.parquet"
        started = time.perf_counter()
        planted = write_log(log, args.rows, args.n_consumers, args.n_weeks)
        print(
            f"wrote {args.rows:,} orders (about {planted:,} bad rows planted, "
            f"{log.stat().st_size / GIB:.2f} GiB) in {time.perf_counter() - started:.0f} s"
        )
        arguments = ["--child", log, out, f"--n-weeks={args.n_weeks}"]
        run = in_fresh_process(__file__, [*arguments, f"--batch-size={args.batch_size}"])
    print(run["message"])
    print(
        f"ingest: {args.rows:,} rows in {run['seconds']:.1f} s, "
        f"{args.rows / run['seconds'] / 1e6:.2f} M rows/s; peak RSS {run['peak'] / GIB:.2f} GiB "
        f"({run['imports'] / GIB:.2f} GiB after imports; target < 2 GiB: "
        f"{run['peak'] / TARGET_BYTES:.2f} of budget)"
    )


if __name__ == "__main__":
    main()
