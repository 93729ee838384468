"""The ``goodwill`` command: a thin shell over the library.

Each subcommand calls one public function. Any error reaches the user as one line on stderr
and exit status 2, without a traceback (``--traceback`` shows it, for bug reports).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from models import EnforcementModel, ResponsePath, calibrate_enforcement, compare, damages
from models.consumer.calibration import calibrate_loss_per_yuan
from sim.config import (
    FIGURE_FORMATS,
    Config,
    EstimationSettings,
    load_config,
    override_estimation,
)
from sim.costs import describe_projection
from sim.estimators import ESTIMATORS, estimators_help
from sim.figures import write_run_figures
from sim.fit import describe_fit, fit_estimators, read_panel, write_estimates
from sim.jobs import run
from sim.panel import describe_panel, simulate_panel
from sim.projection import (
    ENFORCEMENT_DATA,
    read_enforcement_data,
    response_from_estimates,
    run_projection,
)
from sim.report import write_report
from sim.store import write_parquet
from sim.version import package_version

EXIT_ERROR = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _yuan(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of yuan >= 0, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _loss(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value < 0):
        raise argparse.ArgumentTypeError(f"must be a finite negative number (a loss), got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _validate(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    panel = config.panel
    print(
        f"{args.config}: valid ({panel.n_consumers:,} consumers x {panel.n_weeks} weeks, "
        f"seed {config.seed})"
    )


def _simulate(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    started = time.perf_counter()
    panel, truth = simulate_panel(
        config, n_consumers=args.n_consumers, seed=args.seed, progress=True
    )
    write_parquet(args.out, panel)
    print(describe_panel(panel, truth))
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


def _calibrate(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    calibration = config.calibration
    if args.target is None and calibration is None:
        raise ValueError(
            f"{args.config}: no calibration.target_multiplier; pass --target (e.g. -3.57)"
        )
    target = calibration.target_multiplier if args.target is None else args.target
    panel = config.panel
    loss_per_yuan = calibrate_loss_per_yuan(
        config.consumer,
        target,
        panel.n_consumers,
        panel.n_weeks,
        config.seed,
        panel.chunk_size,
        weighting="value" if calibration is None else calibration.weighting,
    )
    print(f"consumer.response.loss_per_yuan = {loss_per_yuan:.6f}  # hits {target:+g}")


def _run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    result = run(args.config)
    print(result.summary)
    names = ", ".join(f.name for f in result.files)
    print(
        f"wrote {result.directory}/ ({names}) and figures/ ({len(result.figures)} files) in "
        f"{time.perf_counter() - started:.1f} s"
    )


def _stored_response(path: Path) -> tuple[Config, ResponsePath]:
    """A config with ``[projection]`` and the response path its run stored in estimates.nc."""
    config = load_config(path)
    if config.projection is None:
        raise ValueError(f"{path}: no [projection] section")
    first, last = config.estimation.cumulative
    response = response_from_estimates(
        config.output.directory / "estimates.nc", config.projection.estimator, first, last
    )
    return config, response


def _project(args: argparse.Namespace) -> None:
    config, response = _stored_response(args.config)
    started = time.perf_counter()
    directory = config.output.directory
    ds, files = run_projection(config, response, directory, progress=True)
    files += write_run_figures(directory)
    print(describe_projection(ds))
    names = ", ".join(f.name for f in files)
    print(f"wrote {directory}/ ({names}) in {time.perf_counter() - started:.1f} s")


def _figures(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    settings = None if args.config is None else load_config(args.config).figures
    files = write_run_figures(args.run_dir, args.output, settings, args.format)
    folder = files[0].parent
    names = ", ".join(f.name for f in files)
    print(f"wrote {folder}/ ({names}) in {time.perf_counter() - started:.1f} s")


def _report(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    files = write_report(args.run_dir)
    print(f"wrote {', '.join(str(f) for f in files)} in {time.perf_counter() - started:.1f} s")


def _damages(args: argparse.Namespace) -> None:
    config, response = _stored_response(args.config)
    loss = damages(config.projection.platform, response, args.fake_sales, args.interval)
    print(
        f"{args.fake_sales:,.0f} yuan of counterfeit sales cost the platform "
        f"{loss.goodwill_loss:,.0f} yuan of goodwill (present value of lost revenue; "
        f"{loss.interval:.0%} interval {loss.low:,.0f} to {loss.high:,.0f}, SE {loss.se:,.0f}) "
        f"through {loss.lost_spend:,.0f} yuan of lost consumer spend "
        f"({config.projection.estimator} response {response.multiplier:+.3f} per yuan over "
        f"{response.mean.size} weeks)"
    )


def _calibrate_market(args: argparse.Namespace) -> None:
    model = EnforcementModel()
    if args.config is not None:
        config = load_config(args.config)
        if config.projection is not None:
            model = config.projection.market
    fit = calibrate_enforcement(model, read_enforcement_data(args.data))
    print(fit.table.round(4).to_string())
    print(f"log RMSE {fit.rmse_log:.4f}; in [projection.market]:")
    print(f"detection_2016 = {fit.model.detection_2016:.4g}")
    print(f"entry_elasticity = {fit.model.entry_elasticity:.4g}")


def _fit_settings(args: argparse.Namespace) -> EstimationSettings:
    """The config's [estimation] (or the defaults) with the command-line overrides."""
    settings = EstimationSettings()
    if args.config is not None:
        config = load_config(args.config)
        if config.estimation is not None:
            settings = config.estimation
    shared = {
        name: getattr(args, name)
        for name in ("outcome", "unit", "time", "cohort", "estimators")
        if getattr(args, name) is not None
    }
    if args.cumulative is not None:
        shared["cumulative"] = tuple(args.cumulative)
    if args.intensity is not None:
        shared["intensity"] = None if args.intensity == "none" else args.intensity
    options = {
        name: getattr(args, name) for name in ("ref", "vcov") if getattr(args, name) is not None
    }
    if args.window is not None:
        options["window"] = tuple(args.window)
    if args.cluster is not None:
        options["clusters"] = args.cluster
    elif args.vcov is not None and args.vcov != "CRV1":
        options["clusters"] = None  # a config's clusters belong to its CRV1
    if args.no_bin_endpoints:
        options["bin_endpoints"] = False
    return override_estimation(settings, shared, options)


def _fit(args: argparse.Namespace) -> None:
    settings = _fit_settings(args)
    started = time.perf_counter()
    results = fit_estimators(read_panel(args.panel, settings), settings, seed=args.seed)
    print(compare(results).summary().as_text())
    print(describe_fit(results, settings))
    if args.out is not None:
        attrs = {"panel": str(args.panel), "goodwill_version": package_version()}
        files = write_estimates(args.out, results, settings, attrs=attrs)
        print(f"wrote {', '.join(str(f) for f in files)}")
    print(f"fitted in {time.perf_counter() - started:.1f} s")


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
    validate.set_defaults(handler=_validate)

    simulate = commands.add_parser("simulate", help="simulate a panel and write it as Parquet")
    simulate.add_argument("config", type=Path, help="TOML config")
    simulate.add_argument("--out", type=Path, required=True, help="output Parquet file")
    simulate.add_argument("--n-consumers", type=_positive_int, help="override panel.n_consumers")
    simulate.add_argument("--seed", type=_seed, help="override the config's seed")
    simulate.set_defaults(handler=_simulate)

    calibrate = commands.add_parser(
        "calibrate", help="find the response scale that hits a target multiplier"
    )
    calibrate.add_argument("config", type=Path, help="TOML config")
    calibrate.add_argument(
        "--target", type=_loss, help="signed target (default: calibration.target_multiplier)"
    )
    calibrate.set_defaults(handler=_calibrate)

    fit = commands.add_parser(
        "fit",
        help="fit event studies to a Parquet panel",
        description="Fit the two-way fixed-effects event study (and, with --estimators, the "
        "heterogeneity-robust DiD estimators) to a panel. Settings come from "
        "the [estimation] section of --config (or its defaults, the simulated panel's column "
        "names), then the options below.",
    )
    fit.add_argument("panel", type=Path, help="Parquet panel, one row per unit and period")
    fit.add_argument("--config", type=Path, help="TOML config with an [estimation] section")
    fit.add_argument(
        "--estimators",
        nargs="+",
        metavar="NAME",
        choices=list(ESTIMATORS),
        help=f"estimators to fit: {estimators_help()}",
    )
    fit.add_argument(
        "--seed", type=int, default=0, help="seed of the uniform band's draws (default 0)"
    )
    fit.add_argument("--outcome", help="outcome column")
    fit.add_argument("--unit", help="unit column")
    fit.add_argument("--time", help="period column")
    fit.add_argument("--cohort", help="first treated period column (NaN: never treated)")
    fit.add_argument("--intensity", help="column multiplying the indicators, or 'none'")
    fit.add_argument(
        "--window",
        type=int,
        nargs=2,
        metavar=("LO", "HI"),
        help="event window (of the estimators with a window)",
    )
    fit.add_argument("--ref", type=int, help="reference event time (of the estimators with a ref)")
    fit.add_argument(
        "--no-bin-endpoints",
        action="store_true",
        help="drop rows beyond the window instead of pooling them into its end points",
    )
    fit.add_argument("--vcov", help="iid, HC1 or CRV1 (for the estimators with a vcov option)")
    fit.add_argument("--cluster", nargs="+", metavar="COLUMN", help="CRV1 cluster column(s)")
    fit.add_argument(
        "--cumulative", type=int, nargs=2, metavar=("FIRST", "LAST"), help="summed event times"
    )
    fit.add_argument(
        "--out", type=Path, help="directory for estimates.csv, multipliers.csv, estimates.nc"
    )
    fit.set_defaults(handler=_fit)

    run_parser = commands.add_parser("run", help="run the main job and write its run directory")
    run_parser.add_argument("config", type=Path, help="TOML config")
    run_parser.set_defaults(handler=_run)

    project = commands.add_parser(
        "project",
        help="project goodwill loss under enforcement intensities from a run's estimates",
        description="Run the goodwill-loss Monte Carlo of the config's [projection] on the "
        "response path fitted by `goodwill run` (estimates.nc in the run directory). A run "
        "killed midway resumes from its checkpoint.",
    )
    project.add_argument("config", type=Path, help="TOML config with a [projection] section")
    project.set_defaults(handler=_project)

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
    figures.set_defaults(handler=_figures)

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report and LaTeX tables of a run",
        description="Write RUN_DIR/report.html (figures embedded; estimates, cost by "
        "intensity, config, seed, versions and timings) and LaTeX tables of the estimates in "
        "RUN_DIR/tables/, from the run's stored outputs.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    report.set_defaults(handler=_report)

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
    damages_parser.set_defaults(handler=_damages)

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
    market.set_defaults(handler=_calibrate_market)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a warning (a dropped collinear regressor, singletons, ...) as one line."""
    print(f"goodwill: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``goodwill`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed on one line
        return int(exit_.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _one_line_warning
            args.handler(args)
    except Exception as exc:
        if args.traceback:
            raise
        message = " ".join(str(exc).split())
        if not isinstance(exc, ValueError | OSError):
            message = f"{type(exc).__name__}: {message}"
        print(f"goodwill: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
