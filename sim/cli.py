"""The ``goodwill`` command: argparse, one call and a print per command.

Each subcommand calls one function of :mod:`sim.jobs` and prints the message it returns. Any
error reaches the user as one line on stderr and exit status 2, without a traceback
(``--traceback`` shows it, for bug reports); Ctrl-C or SIGTERM as one line saying how to
resume, and exit status 130 or 143.
"""

from __future__ import annotations

import argparse
import math
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from models.streams import MAX_SEED
from sim import ingest_jobs, jobs
from sim.bounds import MAX_CONSUMERS
from sim.config import FIGURE_FORMATS
from sim.estimators import ESTIMATORS, estimators_help
from sim.ingest_settings import WEEKDAYS
from sim.market_draws import ENFORCEMENT_DATA

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


def _must(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"must be {expected}, got {text}")


def _number(text: str, kind: type[int] | type[float], expected: str) -> int | float:
    """``text`` as an int or a float; an ArgumentTypeError saying what it must be if not."""
    try:
        return kind(text)
    except ValueError:
        raise _must(expected, repr(text)) from None


def _integer(text: str) -> int:
    return _number(text, int, "an integer")


def _positive_int(text: str) -> int:
    value = _number(text, int, "a positive integer")
    if value < 1:
        raise _must("a positive integer", text)
    if value > MAX_CONSUMERS:
        raise _must(f"at most {MAX_CONSUMERS:,}", text)
    return value


def _seed(text: str) -> int:
    value = _number(text, int, "a non-negative integer")
    if value < 0:
        raise _must("a non-negative integer", text)
    if value > MAX_SEED:
        raise _must("below 2**64", text)
    return value


def _yuan(text: str) -> float:
    value = _number(text, float, "a finite number of yuan >= 0")
    if not (math.isfinite(value) and value >= 0):
        raise _must("a finite number of yuan >= 0", text)
    return value


def _intensity(text: str) -> float:
    value = _number(text, float, "a finite intensity >= 0")
    if not (math.isfinite(value) and value >= 0):
        raise _must("a finite intensity >= 0", text)
    return value


def _share(text: str) -> float:
    value = _number(text, float, "between 0 and 1")
    if not 0 < value < 1:
        raise _must("between 0 and 1", text)
    return value


def _loss(text: str) -> float:
    value = _number(text, float, "a finite negative number (a loss)")
    if not (math.isfinite(value) and value < 0):
        raise _must("a finite negative number (a loss)", text)
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _estimation_overrides(args: argparse.Namespace) -> tuple[dict, dict]:
    """The fit command's options as overrides of ``[estimation]``: its shared keys, and the
    options of every selected estimator that has them (``sim.config.override_estimation``)."""
    shared = {
        name: getattr(args, name)
        for name in ("outcome", "unit", "time", "cohort", "estimators")
        if getattr(args, name) is not None
    }
    if args.cumulative is not None:
        shared["cumulative"] = tuple(args.cumulative)
    if args.intensity is not None:
        shared["intensity"] = None if args.intensity == "none" else args.intensity
    if args.weights is not None:
        shared["weights"] = None if args.weights == "none" else args.weights
    if args.allow_negative_outcome:
        shared["nonnegative_outcome"] = False
    options = {
        name: getattr(args, name) for name in ("ref", "vcov") if getattr(args, name) is not None
    }
    if args.window is not None:
        options["window"] = tuple(args.window)
    if args.cluster is not None:
        options["clusters"] = args.cluster
    if args.no_bin_endpoints:
        options["bin_endpoints"] = False
    return shared, options


def _ingest_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The ingest command's options as overrides of ``[ingest]``."""
    names = {"start": "start", "weeks": "n_weeks", "week_start": "week_start"}
    names.update(time_zone="time_zone", bad_rows="bad_rows")
    return {key: getattr(args, name) for name, key in names.items() if getattr(args, name)}


def _adopt_option(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "--adopt",
        action="store_true",
        help=f"write into {where} even if it is a non-empty directory goodwill did not make "
        "(its other files are kept; files named as goodwill's are replaced)",
    )


def _allow_incomplete_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use a run directory without a manifest (an interrupted or failed run)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``goodwill`` command."""
    parser = _Parser(
        prog="goodwill",
        description="Simulate, estimate and project what counterfeits cost a marketplace.",
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a config and report its panel")
    validate.add_argument("config", type=Path, help="TOML config")
    validate.set_defaults(handler=lambda a: jobs.validate(a.config))

    simulate = commands.add_parser("simulate", help="simulate a panel and write it as Parquet")
    simulate.add_argument("config", type=Path, help="TOML config")
    simulate.add_argument("--out", type=Path, required=True, help="output Parquet file")
    simulate.add_argument("--n-consumers", type=_positive_int, help="override panel.n_consumers")
    simulate.add_argument("--seed", type=_seed, help="override the config's seed")
    simulate.set_defaults(handler=lambda a: jobs.simulate(a.config, a.out, a.n_consumers, a.seed))

    calibrate = commands.add_parser(
        "calibrate", help="find the response scale that hits a target multiplier"
    )
    calibrate.add_argument("config", type=Path, help="TOML config")
    calibrate.add_argument(
        "--target", type=_loss, help="signed target (default: calibration.target_multiplier)"
    )
    calibrate.set_defaults(handler=lambda a: jobs.calibrate(a.config, a.target))

    fit = commands.add_parser(
        "fit",
        help="fit event studies to a Parquet panel",
        description="Fit the two-way fixed-effects event study (and, with --estimators, the "
        "heterogeneity-robust DiD estimators) to a panel. Settings come from "
        "the [estimation] section of --config (or its defaults, the simulated panel's column "
        "names), then the options below. A directory of Parquet partitions (each holding "
        "whole units) is fitted out of core, where [estimation.out_of_core] says.",
    )
    fit.add_argument(
        "panel", type=Path, help="Parquet panel (one row per unit and period) or a directory"
    )
    fit.add_argument("--config", type=Path, help="TOML config with an [estimation] section")
    fit.add_argument(
        "--estimators",
        nargs="+",
        metavar="NAME",
        choices=list(ESTIMATORS),
        help=f"estimators to fit: {estimators_help()}",
    )
    fit.add_argument(
        "--seed", type=_seed, default=0, help="seed of the uniform band's draws (default 0)"
    )
    fit.add_argument("--outcome", help="outcome column")
    fit.add_argument("--unit", help="unit column")
    fit.add_argument("--time", help="period column")
    fit.add_argument("--cohort", help="first treated period column (NaN: never treated)")
    fit.add_argument("--intensity", help="column multiplying the indicators, or 'none'")
    fit.add_argument("--weights", help="sampling-weights column (positive), or 'none'")
    fit.add_argument(
        "--allow-negative-outcome",
        action="store_true",
        help="accept negative outcomes (log spend, differences); by default the outcome is "
        "spend and a negative value is an error",
    )
    fit.add_argument(
        "--window",
        type=_integer,
        nargs=2,
        metavar=("LO", "HI"),
        help="event window (of the estimators with a window)",
    )
    fit.add_argument(
        "--ref", type=_integer, help="reference event time (of the estimators with a ref)"
    )
    fit.add_argument(
        "--no-bin-endpoints",
        action="store_true",
        help="drop rows beyond the window instead of pooling them into its end points",
    )
    fit.add_argument("--vcov", help="iid, HC1 or CRV1 (for the estimators with a vcov option)")
    fit.add_argument(
        "--cluster",
        nargs="+",
        metavar="COLUMN",
        help="cluster column(s) of every selected estimator that clusters: one or two for a "
        "regression's CRV1, one above the unit for the influence-function variances",
    )
    fit.add_argument(
        "--cumulative", type=_integer, nargs=2, metavar=("FIRST", "LAST"), help="summed event times"
    )
    fit.add_argument(
        "--out", type=Path, help="directory for estimates.csv, multipliers.csv, estimates.nc"
    )
    _adopt_option(fit, "--out")
    fit.set_defaults(
        handler=lambda a: jobs.fit_panel(
            a.panel, a.config, *_estimation_overrides(a), seed=a.seed, out=a.out, adopt=a.adopt
        )
    )

    ingest = commands.add_parser(
        "ingest",
        help="turn a platform's order log into a consumer x week panel",
        description="Read an order log (Parquet or CSV, one row per order: consumer id, time, "
        "amount, counterfeit flag, optional order id, category and account-creation time) in "
        "batches and write the consumer x week panel `goodwill fit` reads, and beside it "
        "PANEL.ingest.json: rows and yuan in, used and dropped by kind of bad row. Settings "
        "come from the [ingest] section of --config (or its defaults), then the options below.",
    )
    ingest.add_argument(
        "transactions", type=Path, help="order log (.parquet, .csv, or a directory of .parquet)"
    )
    ingest.add_argument("--out", type=Path, required=True, help="output Parquet panel")
    ingest.add_argument("--config", type=Path, help="TOML config with an [ingest] section")
    ingest.add_argument("--start", metavar="DATE", help="first day of the window (YYYY-MM-DD)")
    ingest.add_argument("--weeks", type=_positive_int, metavar="N", help="weeks in the window")
    ingest.add_argument("--week-start", choices=WEEKDAYS, help="the day weeks start on")
    ingest.add_argument("--time-zone", metavar="TZ", help="IANA time zone of the weeks")
    ingest.add_argument(
        "--bad-rows", choices=("drop", "reject"), help="drop and report bad rows, or reject"
    )
    ingest.set_defaults(
        handler=lambda a: ingest_jobs.ingest(a.transactions, a.out, a.config, _ingest_overrides(a))
    )

    run_parser = commands.add_parser("run", help="run the main job and write its run directory")
    run_parser.add_argument("config", type=Path, help="TOML config")
    _adopt_option(run_parser, "output.directory")
    run_parser.set_defaults(handler=lambda a: jobs.run(a.config, adopt=a.adopt))

    study = commands.add_parser(
        "study",
        help="simulate an estimator study and diagnose every estimator against the truth",
        description="Simulate each [study] scenario's replications, fit every estimator to "
        "each panel and its counterfactual-outcome placebo, and diagnose them: bias, RMSE, "
        "SE/SD, coverage and pre-trend test size, with Monte-Carlo SEs. Writes study.nc, "
        "study_diagnosis.csv, tables/study_diagnosis.tex, figures/study.* and "
        "study_report.html into output.directory. A study killed midway resumes from its "
        "checkpoint.",
    )
    study.add_argument("config", type=Path, help="TOML config with a [study] section")
    _adopt_option(study, "output.directory")
    study.set_defaults(handler=lambda a: jobs.study(a.config, adopt=a.adopt))

    project = commands.add_parser(
        "project",
        help="project goodwill loss under enforcement intensities from a run's estimates",
        description="Run the goodwill-loss Monte Carlo of the config's [projection] on the "
        "response path fitted by `goodwill run` (estimates.nc in the run directory). A run "
        "killed midway resumes from its checkpoint.",
    )
    project.add_argument("config", type=Path, help="TOML config with a [projection] section")
    project.set_defaults(handler=lambda a: jobs.project(a.config))

    figures = commands.add_parser(
        "figures",
        help="redraw every figure of a run from its stored outputs",
        description="Draw the figures of a run directory (event study, spend trajectories, "
        "response path, goodwill-loss fan chart, cost by intensity) from the files `goodwill "
        "run` stored, recomputing nothing. Size, type size and formats come from the run's "
        "[figures] config.",
    )
    figures.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    figures.add_argument(
        "--output", type=Path, help="folder for the files (default: RUN_DIR/figures)"
    )
    figures.add_argument(
        "--format",
        nargs="+",
        choices=FIGURE_FORMATS,
        help="file formats (default: the run's figures.formats)",
    )
    figures.add_argument(
        "--config", type=Path, help="TOML config whose [figures] to use instead of the run's"
    )
    _allow_incomplete_option(figures)
    _adopt_option(figures, "--output")
    figures.set_defaults(
        handler=lambda a: jobs.draw_figures(
            a.run_dir, a.output, a.format, a.config, a.allow_incomplete, a.adopt
        )
    )

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report and LaTeX tables of a run",
        description="Write RUN_DIR/report.html (figures embedded; estimates, cost by "
        "intensity, config, seed, versions and timings) and LaTeX tables of the estimates in "
        "RUN_DIR/tables/, from the run's stored outputs.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    _allow_incomplete_option(report)
    report.set_defaults(handler=lambda a: jobs.report(a.run_dir, a.allow_incomplete))

    damages_parser = commands.add_parser(
        "damages",
        help="the platform's goodwill loss caused by one seller's counterfeit sales",
        description="Expected goodwill loss (present value of the platform's lost revenue) "
        "caused by a seller's counterfeit sales, with an interval from the fitted response "
        "path's uncertainty: what a court weighed at 120,000 yuan.",
    )
    damages_parser.add_argument(
        "--fake-sales", type=_yuan, required=True, metavar="YUAN", help="counterfeit sales in yuan"
    )
    damages_parser.add_argument(
        "--config",
        type=Path,
        default=Path("configs/baseline.toml"),
        help="config whose run directory holds the estimates (default configs/baseline.toml)",
    )
    damages_parser.add_argument(
        "--interval", type=_share, default=0.90, help="interval coverage (default 0.90)"
    )
    damages_parser.set_defaults(
        handler=lambda a: jobs.estimate_damages(a.fake_sales, a.config, a.interval)
    )

    decide = commands.add_parser(
        "breakeven",
        help="what would have to be true for an enforcement intensity to be cost-minimising",
        description="For an intensity (default: the status quo), the value of each of: value "
        "per counterfeit order, take rate, spillover contacts, programme cost and horizon at "
        "which it is cost-minimising among projection.intensities and at which it beats no "
        "programme, for both openings. Expected costs given the config's parameters and the "
        "response path the config's run stored (or --multiplier).",
    )
    decide.add_argument("config", type=Path, help="TOML config with a [projection] section")
    decide.add_argument(
        "--intensity",
        type=_intensity,
        metavar="X",
        help="intensity to examine (default: the status quo)",
    )
    decide.add_argument(
        "--multiplier",
        type=_loss,
        metavar="M",
        help="use a flat response path summing to M (e.g. -3.57) instead of the run's",
    )
    decide.add_argument(
        "--sensitivity",
        action="store_true",
        help="also the Sobol indices, EVPI and EVPPI over the [decision] ranges (minutes)",
    )
    decide.set_defaults(
        handler=lambda a: jobs.decision_analysis(a.config, a.intensity, a.multiplier, a.sensitivity)
    )

    market = commands.add_parser(
        "calibrate-market",
        help="calibrate the enforcement model to Alibaba's published series and show the fit",
    )
    market.add_argument(
        "--data",
        type=Path,
        default=ENFORCEMENT_DATA,
        help="CSV with year, arrests, suspected_fakes_per_10k_orders (default: shipped data)",
    )
    market.add_argument(
        "--config", type=Path, help="config whose [projection.market] fixes the other parameters"
    )
    market.set_defaults(handler=lambda a: jobs.calibrate_market(a.data, a.config))
    return parser


class _OneLineWarnings:
    """Shows each distinct warning (a dropped collinear regressor, singletons, ...) once, as
    one line: a run fits each estimator once per estimand, and would repeat them."""

    def __init__(self) -> None:
        self.shown: set[str] = set()

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = " ".join(str(message).split())
        if text not in self.shown:
            self.shown.add(text)
            print(f"goodwill: warning: {text}", file=sys.stderr)


RESUMABLE = ("run", "project", "study")
"""Commands that a second start resumes (the projection's finished blocks are kept)."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that locks are released and temporary files
    removed on the way out, as for Ctrl-C."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``goodwill`` console script; returns the exit status.

    Errors print one line and return 2; Ctrl-C (SIGINT) prints one line (with how to resume
    a run or projection) and returns 130, SIGTERM the same and 143.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed on one line
        return int(exit_.code or 0)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _OneLineWarnings()
            print(args.handler(args).message)
    except (KeyboardInterrupt, _Terminated) as stop:
        resume = ""
        if args.command in RESUMABLE:
            resume = f"; resume with: goodwill {shlex.join(argv)}"
        print(f"goodwill: interrupted{resume}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(stop, _Terminated) else EXIT_INTERRUPTED
    except Exception as exc:
        if args.traceback:
            raise
        message = " ".join(str(exc).split())
        if not isinstance(exc, ValueError | OSError):
            message = f"{type(exc).__name__}: {message}"
        print(f"goodwill: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
