"""Wall time and peak memory of simulating the study's 603,000 x 22 panel.

Each measurement runs in its own fresh process, so the peak resident memory is that of one
simulation (plus the interpreter and imports, reported separately). The process simulates
twice: the first call pays for the operating system handing over about 0.8 GiB of fresh pages
for the panel (slow and erratic on a virtual machine), the second reuses them. Target
(issue 2): <= 2 s and <= 2 GiB on 2 cores. There is no peer library for this data-generating
process, so the script times goodwill alone.

    python benchmarks/bench_simulate.py [--n-consumers 603000] [--n-weeks 22] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness import GIB, ROOT, in_fresh_process, peak_rss, report, use_checkout

TARGET_SECONDS = 2.0
TARGET_BYTES = 2 * GIB


def child(task: str, n_consumers: int, n_weeks: int) -> None:
    """Run one task in this (fresh) process and report its measurements."""
    use_checkout()
    from models.consumer.calibration import calibrate_loss_per_yuan
    from sim import load_config

    config = load_config(ROOT / "configs" / "baseline.toml")
    model = config.consumer
    imported = peak_rss()
    seconds = []
    for _ in range(2):  # first: memory fresh from the OS; second: memory reused
        started = time.perf_counter()
        if task == "simulate":
            panel, _ = model.simulate(n_consumers=n_consumers, n_weeks=n_weeks, seed=config.seed)
            del panel
        else:
            calibrate_loss_per_yuan(model, -3.57, n_consumers, n_weeks, config.seed)
        seconds.append(time.perf_counter() - started)
    report(first=seconds[0], second=seconds[1], peak=peak_rss(), imports=imported)


def measure(task: str, n_consumers: int, n_weeks: int) -> dict:
    arguments = ["--child", task, f"--n-consumers={n_consumers}", f"--n-weeks={n_weeks}"]
    return in_fresh_process(__file__, arguments)


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
        first = [r["first"] for r in runs]
        second = [r["second"] for r in runs]
        peak = max(r["peak"] for r in runs)
        imports = max(r["imports"] for r in runs)
        print(
            f"{task:>9}: first call in a fresh process median {statistics.median(first):.2f} s "
            f"({', '.join(f'{t:.2f}' for t in first)}); second call median "
            f"{statistics.median(second):.2f} s; peak RSS {peak / GIB:.2f} GiB "
            f"({imports / GIB:.2f} GiB after imports)"
        )
        if task == "simulate":
            rows = args.n_consumers * args.n_weeks
            print(
                f"{'':>11}{rows / statistics.median(first) / 1e6:.1f} M rows/s; against the "
                f"targets (<= {TARGET_SECONDS:g} s, <= 2 GiB): first call "
                f"{statistics.median(first) / TARGET_SECONDS:.2f}, second call "
                f"{statistics.median(second) / TARGET_SECONDS:.2f}, memory "
                f"{peak / TARGET_BYTES:.2f} of budget"
            )


if __name__ == "__main__":
    main()
