"""Wall time and peak memory of simulating the study's 603,000 x 22 panel.

Each measurement runs in its own fresh process, so the peak resident memory is that of one
simulation (plus the interpreter and imports, reported separately). Target (issue 2): <= 2 s
and <= 2 GiB on 2 cores. There is no peer library for this data-generating process, so the
script times goodwill alone.

    python benchmarks/bench_simulate.py [--n-consumers 603000] [--n-weeks 22] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0
TARGET_BYTES = 2 * 2**30


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def child(task: str, n_consumers: int, n_weeks: int) -> None:
    """Run one task in this (fresh) process and print a JSON line of measurements."""
    sys.path.insert(0, str(ROOT))
    from models.calibration import calibrate_loss_per_yuan
    from sim import load_config

    config = load_config(ROOT / "configs" / "baseline.toml")
    model = config.consumer
    imported = _peak_rss()
    started = time.perf_counter()
    if task == "simulate":
        panel, _ = model.simulate(n_consumers=n_consumers, n_weeks=n_weeks, seed=config.seed)
        rows = len(panel)
    else:
        calibrate_loss_per_yuan(model, -3.57, n_consumers, n_weeks, config.seed)
        rows = n_consumers * n_weeks
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak": _peak_rss(), "imports": imported, "rows": rows}))


def measure(task: str, n_consumers: int, n_weeks: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", task, f"--n-consumers={n_consumers}",
         f"--n-weeks={n_weeks}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-consumers", type=int, default=603_000)
    parser.add_argument("--n-weeks", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["simulate", "calibrate"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n_consumers, args.n_weeks)
        return

    print(f"goodwill panel simulation, {args.n_consumers:,} consumers x {args.n_weeks} weeks, "
          f"{args.repeats} fresh processes per task")  # fmt: skip
    for task in ("simulate", "calibrate"):
        runs = [measure(task, args.n_consumers, args.n_weeks) for _ in range(args.repeats)]
        times = [r["seconds"] for r in runs]
        peak = max(r["peak"] for r in runs)
        imports = max(r["imports"] for r in runs)
        line = (
            f"{task:>9}: median {statistics.median(times):.2f} s (runs "
            f"{', '.join(f'{t:.2f}' for t in times)}), peak RSS {peak / 2**30:.2f} GiB "
            f"({imports / 2**30:.2f} GiB after imports)"
        )
        if task == "simulate":
            rate = runs[0]["rows"] / statistics.median(times) / 1e6
            line += (
                f", {rate:.1f} M rows/s; target <= {TARGET_SECONDS:g} s: "
                f"{statistics.median(times) / TARGET_SECONDS:.2f} of budget, "
                f"<= 2 GiB: {peak / TARGET_BYTES:.2f} of budget"
            )
        print(line)


if __name__ == "__main__":
    main()
