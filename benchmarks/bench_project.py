"""Wall time and peak memory of the goodwill-loss Monte Carlo, serial and on dask.

The issue's scale: configs/baseline.toml's 20 enforcement intensities x 52 weeks with its
``n_draws`` raised to 10,000 (``--draws``), in blocks of ``--block-size`` draws (default: the
config's). The response path is fixed: the study's -3.57 yuan per yuan over 12 weeks, decaying
by 0.85 a week, with a diagonal covariance (SE 0.04 a week); ``--from-run DIR`` projects the
config estimator's fitted path in ``DIR/estimates.nc`` instead.

``sim.project_goodwill`` runs in three configurations, each measurement in its own fresh
process, so each peak resident memory is that run's alone (imports are not timed):

* ``serial``: ``executor = "serial"``.
* ``dask, new cluster``: ``executor = "dask"`` without a scheduler, so the call starts a
  LocalCluster of 2 single-threaded worker processes and closes it; both are in the time.
* ``dask, running cluster``: this process starts such a LocalCluster and imports goodwill on
  its workers; the projection connects to it through ``scheduler``, and only the projection
  is timed.

The running cluster is started first and idles while the others run, and the repeats are
interleaved (serial, new cluster, running cluster, serial, ...): on a virtual machine the cost
of touching fresh memory drifts with what ran before, and each configuration should see the
same drift. The measured processes get this process's environment as it was before any
LocalCluster set dask's pre-spawn variables (``MALLOC_TRIM_THRESHOLD_`` and the like) in it.

"peak" is the process that calls ``project_goodwill``, "worker" the largest dask worker
process. Writing the serial Dataset with ``sim.store.write_netcdf`` is timed separately. The
three Datasets are compared bit for bit, variable by variable (their attrs differ only in the
recorded config's executor and scheduler). Targets (the issue): serial <= 10 s on 2 cores, dask
no slower than serial; the script reports them, it does not assert.

    python benchmarks/bench_project.py [--draws 10000] [--block-size 250] [--repeats 3]
                                       [--from-run runs/baseline]
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from harness import GIB, ROOT, in_fresh_process, peak_rss, report, use_checkout

if TYPE_CHECKING:
    from models import ResponsePath
    from sim import Config

TARGET_SECONDS = 10.0
N_WORKERS = 2
LABELS = {
    "serial": "serial",
    "fresh": "dask, new cluster",
    "running": "dask, running cluster",
}


def bench_config(
    draws: int, block_size: int | None, executor: str = "serial", scheduler: str | None = None
) -> Config:
    """configs/baseline.toml with the benchmark's projection settings (validated)."""
    use_checkout()
    from sim import Config, load_config

    config = load_config(ROOT / "configs" / "baseline.toml")
    projection = config.projection.model_dump()
    projection.update(n_draws=draws, executor=executor, scheduler=scheduler, n_workers=N_WORKERS)
    if block_size is not None:
        projection["block_size"] = block_size
    return Config.model_validate({**config.model_dump(), "projection": projection})


def bench_response(config: Config, from_run: Path | None) -> ResponsePath:
    """The study's response path, or the config estimator's fitted one from a run."""
    from models import ResponsePath
    from sim.rundir import read_response_path

    if from_run is not None:
        first, last = config.estimation.cumulative
        return read_response_path(from_run, config.projection.estimator, first, last)
    decay = 0.85 ** np.arange(12)
    return ResponsePath(-3.57 * decay / decay.sum(), np.diag(np.full(12, 0.04**2)))


def child(task: str, args: argparse.Namespace) -> None:
    """Project once in this (fresh) process, write the result; print a JSON line."""
    started = time.perf_counter()
    if task != "serial":
        import dask.distributed  # noqa: F401
    distributed_import = time.perf_counter() - started
    from sim.projection import project_goodwill
    from sim.store import write_netcdf

    executor = "serial" if task == "serial" else "dask"
    config = bench_config(args.draws, args.block_size, executor, args.scheduler)
    response = bench_response(config, args.from_run)
    imported = peak_rss()
    started = time.perf_counter()
    ds = project_goodwill(config, response)
    seconds = time.perf_counter() - started
    peak = peak_rss()
    # A new cluster's workers are this process's children, reaped when the cluster closed.
    workers = peak_rss(resource.RUSAGE_CHILDREN) if task == "fresh" else None
    started = time.perf_counter()
    write_netcdf(args.out, ds)
    write_seconds = time.perf_counter() - started
    report(
        seconds=seconds,
        peak=peak,
        imported=imported,
        workers=workers,
        write_seconds=write_seconds,
        write_peak=peak_rss(),
        file_bytes=args.out.stat().st_size,
        distributed_import=distributed_import,
    )


def measure(
    task: str, args: argparse.Namespace, out: Path, environ: dict, scheduler: str | None = None
) -> dict:
    arguments = ["--child", task, f"--draws={args.draws}", f"--out={out}"]
    if args.block_size is not None:
        arguments.append(f"--block-size={args.block_size}")
    if args.from_run is not None:
        arguments.append(f"--from-run={args.from_run}")
    if scheduler is not None:
        arguments.append(f"--scheduler={scheduler}")
    return in_fresh_process(__file__, arguments, environ)


def _worker_peak() -> int:
    """Peak resident memory of the dask worker process this runs in."""
    return peak_rss()


def differences(path: Path, other: Path) -> list[str]:
    """Variables (and attrs other than the config) whose bits differ between two files."""
    import xarray as xr

    with xr.open_dataset(path) as a, xr.open_dataset(other) as b:
        found = []
        for name in sorted(set(a.variables) | set(b.variables)):
            if name not in a.variables or name not in b.variables:
                found.append(name)
                continue
            x, y = a[name].variable, b[name].variable
            same = (
                x.dims == y.dims
                and x.attrs == y.attrs
                and x.dtype == y.dtype
                and x.shape == y.shape
                and x.values.tobytes() == y.values.tobytes()
            )
            if not same:
                found.append(name)
        keys = (set(a.attrs) | set(b.attrs)) - {"config"}
        found += [f"attrs[{k!r}]" for k in sorted(keys) if a.attrs.get(k) != b.attrs.get(k)]
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--block-size", type=int, help="draws per block (default: the config's)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per configuration")
    parser.add_argument("--from-run", type=Path, help="project DIR/estimates.nc's fitted path")
    parser.add_argument("--child", choices=list(LABELS), help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return

    config = bench_config(args.draws, args.block_size)
    settings = config.projection
    response = bench_response(config, args.from_run)
    n_intensities, n_weeks = len(settings.intensities), settings.n_weeks
    n_blocks = -(-settings.n_draws // settings.block_size)
    cells = settings.n_draws * n_intensities * n_weeks
    per_draw = 8 * (6 * n_intensities * n_weeks + response.mean.size + len(settings.priors))
    source = f"{args.from_run}/estimates.nc" if args.from_run else "the study's, fixed"
    print(
        f"goodwill projection: {settings.n_draws:,} draws x {n_intensities} intensities x "
        f"{n_weeks} weeks = {cells / 1e6:.1f} M cells, {n_blocks} blocks of "
        f"{settings.block_size} draws (each returns {settings.block_size * per_draw / 2**20:.1f} "
        f"MiB, {settings.n_draws * per_draw / GIB:.2f} GiB in all); response path "
        f"{source} (multiplier {response.multiplier:+.2f}); {args.repeats} fresh process(es) "
        "per configuration, median wall time"
    )

    # Starting a LocalCluster sets dask's pre-spawn environment (MALLOC_TRIM_THRESHOLD_,
    # OMP_NUM_THREADS, ...) in this process for good; the measured processes get the original.
    environ = dict(os.environ)
    from dask.distributed import Client, LocalCluster

    runs: dict[str, list[dict]] = {task: [] for task in LABELS}
    with tempfile.TemporaryDirectory(prefix="bench_project-") as directory:
        files = {task: Path(directory) / f"{task}.nc" for task in LABELS}
        started = time.perf_counter()
        with (
            LocalCluster(
                n_workers=N_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(importlib.import_module, "sim.projection")
            startup = time.perf_counter() - started
            for _ in range(args.repeats):  # interleaved: each configuration sees the same machine
                for task in LABELS:
                    scheduler = cluster.scheduler_address if task == "running" else None
                    runs[task].append(measure(task, args, files[task], environ, scheduler))
            running_workers = max(client.run(_worker_peak).values())
        mismatches = {
            task: differences(files["serial"], files[task]) for task in ("fresh", "running")
        }

    seconds = {task: statistics.median(r["seconds"] for r in runs[task]) for task in LABELS}
    serial = seconds["serial"]
    workers = {
        "serial": None,
        "fresh": max(r["workers"] for r in runs["fresh"]),
        "running": running_workers,
    }
    print(
        f"\n{'configuration':<24}{'wall s':>8}{'peak GiB':>10}{'worker GiB':>12}{'x serial':>10}"
        "  runs (s)"
    )
    for task, label in LABELS.items():
        peak = max(r["peak"] for r in runs[task])
        worker = "-" if workers[task] is None else f"{workers[task] / GIB:.2f}"
        each = ", ".join(f"{r['seconds']:.2f}" for r in runs[task])
        print(
            f"{label:<24}{seconds[task]:>8.2f}{peak / GIB:>10.2f}{worker:>12}"
            f"{seconds[task] / serial:>10.2f}  {each}"
        )
    write = statistics.median(r["write_seconds"] for r in runs["serial"])
    write_peak = max(r["write_peak"] for r in runs["serial"])
    size = runs["serial"][0]["file_bytes"]
    each = ", ".join(f"{r['write_seconds']:.2f}" for r in runs["serial"])
    print(
        f"{'write_netcdf (serial)':<24}{write:>8.2f}{write_peak / GIB:>10.2f}{'-':>12}"
        f"{'-':>10}  {each}; file {size / GIB:.2f} GiB ({size / 2**20 / write:.0f} MiB/s)"
    )
    imported = max(r["imported"] for task in LABELS for r in runs[task])
    distributed_import = statistics.median(r["distributed_import"] for r in runs["fresh"])
    print(
        f"(peak GiB includes {imported / GIB:.2f} GiB of interpreter and imports; importing "
        f"dask.distributed, {distributed_import:.2f} s, is not timed; the running cluster took "
        f"{startup:.2f} s to start and import goodwill on its workers, not timed)"
    )
    print(
        "throughput: "
        + "; ".join(
            f"{LABELS[task]} {n_blocks / seconds[task]:.1f} blocks/s, "
            f"{cells / seconds[task] / 1e6:.1f} M cells/s"
            for task in LABELS
        )
    )

    identical = not any(mismatches.values())
    if identical:
        print(
            "bit-identical: yes, every variable and coordinate of the three Datasets "
            "(serial = dask, new cluster = dask, running cluster)"
        )
    else:
        for task, names in mismatches.items():
            if names:
                print(f"bit-identical: NO, {LABELS[task]} differs from serial in: {names}")

    def verdict(passed: bool) -> str:
        return "PASS" if passed else "FAIL"

    print(
        f"target serial <= {TARGET_SECONDS:g} s: {serial:.2f} s, "
        f"{verdict(serial <= TARGET_SECONDS)}"
    )
    for task in ("fresh", "running"):
        print(
            f"target {LABELS[task]} no slower than serial: {seconds[task]:.2f} s vs "
            f"{serial:.2f} s ({seconds[task] / serial:.2f}x), {verdict(seconds[task] <= serial)}"
        )


if __name__ == "__main__":
    main()
