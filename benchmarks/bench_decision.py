"""Wall time and peak memory of the decision analysis: Sobol sensitivity and break-even.

The issue's scale: configs/baseline.toml's projection with its horizon raised to 520 weeks
(``--weeks``), the 12 inputs of ``[decision]`` with ``--samples`` (default 1,024) Saltelli base
samples, so N (D + 2) = 14,336 rows, each evaluated at every intensity of the grid for both
openings, plus each row's continuous optimum (``sim.sensitivity.sensitivity``, chunks of
``--chunk`` rows bound the memory); and the break-even analysis with its take-rate/horizon
frontier (``sim.breakeven.breakeven``, horizons 1..520 weeks). The response path is the
study's -3.57 yuan per yuan, flat over 12 weeks. Each measurement runs in its own fresh process
(benchmarks/harness.py). Target (the issue): each under 60 s on 2 cores; the script reports,
it does not assert.

    python benchmarks/bench_decision.py [--samples 1024] [--weeks 520] [--chunk 256]
"""

from __future__ import annotations

import argparse
import time

from harness import GIB, ROOT, in_fresh_process, peak_rss, report, use_checkout

TARGET_SECONDS = 60.0


def child(task: str, args: argparse.Namespace) -> None:
    """Run one analysis in this (fresh) process; print a JSON line."""
    use_checkout()
    import numpy as np

    from models import ResponsePath
    from sim import load_config
    from sim.breakeven import breakeven
    from sim.decision_settings import DecisionSettings
    from sim.sensitivity import sensitivity

    config = load_config(ROOT / "configs" / "baseline.toml")
    settings = config.projection.model_copy(update={"n_weeks": args.weeks})
    response = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 1e-4)
    decision = DecisionSettings(sobol_samples=args.samples, chunk_size=args.chunk)
    imported = peak_rss()
    started = time.perf_counter()
    if task == "sobol":
        ds = sensitivity(settings, response, decision, config.seed)
        rows = int(ds.attrs["evaluations"])
    else:
        breakeven(settings, response, decision=decision)
        rows = decision.max_horizon
    report(seconds=time.perf_counter() - started, peak=peak_rss(), imported=imported, rows=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024, help="Saltelli base samples")
    parser.add_argument("--weeks", type=int, default=520, help="projection horizon")
    parser.add_argument("--chunk", type=int, default=256, help="rows evaluated at once")
    parser.add_argument("--child", choices=["sobol", "breakeven"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    arguments = [f"--samples={args.samples}", f"--weeks={args.weeks}", f"--chunk={args.chunk}"]
    print(
        f"decision analysis: baseline projection over {args.weeks} weeks, {args.samples:,} "
        f"Saltelli base samples, chunks of {args.chunk} rows; one fresh process each"
    )
    print(f"{'task':<12}{'wall s':>9}{'peak GiB':>10}  rows")
    for task in ("sobol", "breakeven"):
        got = in_fresh_process(__file__, ["--child", task, *arguments])
        verdict = "PASS" if got["seconds"] <= TARGET_SECONDS else "FAIL"
        print(
            f"{task:<12}{got['seconds']:>9.1f}{got['peak'] / GIB:>10.2f}  {got['rows']:,} "
            f"(imports {got['imported'] / GIB:.2f} GiB); target <= {TARGET_SECONDS:g} s: {verdict}"
        )


if __name__ == "__main__":
    main()
