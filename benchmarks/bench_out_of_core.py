"""The out-of-core fits (sim.fit_partitioned, sim.fit_partitioned_sun_abraham) against the
in-memory EventStudy and SunAbraham fits.

The parent simulates the baseline panel (configs/baseline.toml, 603,000 consumers x 22 weeks)
and writes it twice: as one Parquet file, and as 16 Parquet partitions of whole consumers
(contiguous blocks of consumer ids). Each fit runs once, in its own fresh process:

* in memory: read the file, time ``EventStudy(...).fit(vcov="CRV1")`` (or SunAbraham's);
  peak of that process;
* out of core: start goodwill's 2-worker LocalCluster (``sim.executors.dask_client``: one
  thread each, glibc's default trimming) and import goodwill in its workers, outside the
  clock; time
  ``fit_partitioned(directory, scheduler=...)`` (or ``fit_partitioned_sun_abraham``), then read
  each worker's peak resident memory (``VmHWM`` of /proc/self/status, via ``client.run``) and
  the client process's own peak.

The study's design: spend on 16 event-time indicators (window -4..12, ref -1, end points
binned) per yuan of the fake, consumer and week fixed effects, CRV1 by consumer. Sun and
Abraham's: spend on the per-yuan cohort x event-time indicators (ref -1, never-treated
controls), the same fixed effects and CRV1, aggregated to event times by cohort shares.

    python benchmarks/bench_out_of_core.py [--n-consumers 603000] [--partitions 16]
        [--models EventStudy SunAbraham]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from harness import GIB, baseline_panel, in_fresh_process, peak_rss, report, use_checkout

COLUMNS = ["consumer_id", "week", "spend", "fake_week", "fake_value"]
COMMON = {
    "outcome": "spend",
    "unit": "consumer_id",
    "time": "week",
    "cohort": "fake_week",
    "ref": -1,
    "intensity": "fake_value",
}
DESIGNS = {
    "EventStudy": {**COMMON, "window": (-4, 12)},
    "SunAbraham": {**COMMON, "control": "never"},
}
"""Each model's arguments, in memory and out of core."""
DESCRIPTIONS = {
    "EventStudy": "event study, per-yuan event-time indicators",
    "SunAbraham": "Sun-Abraham, per-yuan cohort x event-time indicators, aggregated",
}


def write_partitions(path: Path, directory: Path, n_partitions: int) -> None:
    """Split the panel at ``path`` into ``n_partitions`` files of whole consumers."""
    panel = pd.read_parquet(path)
    ids = np.sort(panel["consumer_id"].unique())
    block = np.searchsorted(ids, panel["consumer_id"].to_numpy()) * n_partitions // ids.size
    directory.mkdir()
    for part in range(n_partitions):
        rows = panel.loc[block == part]
        rows.to_parquet(directory / f"part-{part:03d}.parquet", index=False)


def _worker_peak() -> int:
    """A dask worker's peak resident memory in bytes."""
    return peak_rss()


def _import_goodwill() -> None:
    """Import the out-of-core fit's modules in a dask worker."""
    use_checkout()
    import sim.out_of_core  # noqa: F401


def _fitters(model: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The in-memory model class and the out-of-core function of ``model``."""
    import models
    import sim

    out_of_core = {
        "EventStudy": sim.fit_partitioned,
        "SunAbraham": sim.fit_partitioned_sun_abraham,
    }
    return getattr(models, model), out_of_core[model]


def child(mode: str, model: str, path: Path) -> None:
    """One fit in this fresh process; report its time, memory and estimates."""
    use_checkout()
    in_memory, out_of_core = _fitters(model)
    design = DESIGNS[model]
    if mode == "in-memory":
        panel = pd.read_parquet(path, columns=COLUMNS)
        started = time.perf_counter()
        res = in_memory(panel, **design).fit(vcov="CRV1")
        seconds = time.perf_counter() - started
        workers = []
    else:
        from sim.executors import dask_client

        with dask_client(None, n_workers=2) as client:  # goodwill's LocalCluster settings
            client.run(_import_goodwill)  # the workers' imports are not the fit's
            started = time.perf_counter()
            res = out_of_core(path, **design, scheduler=client.scheduler.address)
            seconds = time.perf_counter() - started
            workers = sorted(client.run(_worker_peak).values())
    report(
        seconds=seconds,
        peak=peak_rss(),
        workers=workers,
        params=res.params.to_numpy().tolist(),
        bse=res.bse.to_numpy().tolist(),
    )


def _compare(model: str, memory: dict, distributed: dict, args: argparse.Namespace) -> None:
    """Print one model's times, memory and largest differences."""
    params, params_memory = np.array(distributed["params"]), np.array(memory["params"])
    bse, bse_memory = np.array(distributed["bse"]), np.array(memory["bse"])
    print(
        f"{DESCRIPTIONS[model]}, {args.n_consumers:,} consumers x 22 weeks in "
        f"{args.partitions} partitions, CRV1 by consumer"
    )
    print(f"  in memory:   {memory['seconds']:.2f} s; peak {memory['peak'] / GIB:.2f} GiB")
    workers = ", ".join(f"{w / GIB:.2f}" for w in distributed["workers"])
    print(
        f"  out of core: {distributed['seconds']:.2f} s on a 2-worker LocalCluster; peak per "
        f"worker {workers} GiB, client {distributed['peak'] / GIB:.2f} GiB"
    )
    print(
        f"  max relative difference: coefficients "
        f"{np.max(np.abs(params / params_memory - 1)):.1e}, "
        f"SEs {np.max(np.abs(bse / bse_memory - 1)):.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-consumers", type=int, default=603_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--models", nargs="+", choices=list(DESIGNS), default=list(DESIGNS))
    parser.add_argument("--child", choices=["in-memory", "out-of-core"], help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=list(DESIGNS), help=argparse.SUPPRESS)
    parser.add_argument("--panel", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.panel)
        return
    with tempfile.TemporaryDirectory() as directory:
        whole = baseline_panel(args.n_consumers, COLUMNS, Path(directory) / "panel.parquet")
        parts = Path(directory) / "partitions"
        write_partitions(whole, parts, args.partitions)
        for model in args.models:
            memory = in_fresh_process(
                __file__, ["--child", "in-memory", "--model", model, "--panel", whole]
            )
            distributed = in_fresh_process(
                __file__, ["--child", "out-of-core", "--model", model, "--panel", parts]
            )
            _compare(model, memory, distributed, args)


if __name__ == "__main__":
    main()
