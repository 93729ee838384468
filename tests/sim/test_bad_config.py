"""A sweep of bad configs and bad command lines: each is refused with one line that names the
key, option or file, with no traceback and no raw library text.

Each bad config is ``configs/quick.toml`` with one edit (a file that ``extends`` it and sets one
key); each bad command line runs ``python -m sim.cli`` in a subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sim import ConfigError, load_config
from sim.cli import main
from tests.conftest import ROOT

QUICK = ROOT / "configs" / "quick.toml"

BAD_CONFIGS = [
    # (id, TOML after `extends`, the key the message must name)
    ("wrong type", '[panel]\nn_consumers = "abc"', "panel.n_consumers"),
    ("float for int", "[panel]\nn_consumers = 1.5", "panel.n_consumers"),
    ("negative", "[panel]\nn_consumers = -5", "panel.n_consumers"),
    ("zero", "[panel]\nn_consumers = 0", "panel.n_consumers"),
    ("huge panel", "[panel]\nn_consumers = 1_000_000_000_000", "panel.n_consumers"),
    ("long panel", "[panel]\nn_weeks = 100000", "panel.n_weeks"),
    ("huge chunk", "[panel]\nchunk_size = 1_000_000_000", "panel.chunk_size"),
    ("boolean for int", "[panel]\nn_weeks = true", "panel.n_weeks"),
    ("nan float", "[calibration]\ntarget_multiplier = nan", "calibration.target_multiplier"),
    ("inf float", "[figures]\nwidth = inf", "figures.width"),
    ("inf in a list", "[projection]\nintensities = [0.0, inf]", "projection.intensities[1]"),
    ("nan in a table", "[projection.priors]\nexit_rate = nan", "projection.priors.exit_rate"),
    ("inf model parameter", "[projection.market]\nprogramme_cost = inf", "programme_cost"),
    ("unknown key", "[panel]\nbogus = 1", "panel.bogus"),
    ("unknown section", "[bogus]\nx = 1", "bogus"),
    ("section not a table", "panel = 3", "panel"),
    ("table not a number", "seed = {a = 1}", "seed"),
    ("seed 2**64", "seed = 18446744073709551616", "seed"),
    ("seed negative", "seed = -1", "seed"),
    ("seed float", "seed = 1.5", "seed"),
    ("seed boolean", "seed = true", "seed"),
    ("figure too wide", "[figures]\nwidth = 20.0\ndpi = 1200", "figures"),
    ("dpi huge", "[figures]\ndpi = 100000", "figures.dpi"),
    ("draws huge", "[projection]\nn_draws = 1_000_000_000", "projection.n_draws"),
    ("block huge", "[projection]\nblock_size = 1_000_000_000", "projection.block_size"),
    ("workers huge", "[projection]\nn_workers = 100000", "projection.n_workers"),
    ("intensity huge", "[projection]\nintensities = [0.0, 1e6]", "intensities[1]"),
    ("status quo huge", "[projection]\nstatus_quo = 1e9", "projection.status_quo"),
    ("projection years", "[projection]\nn_weeks = 100000", "projection.n_weeks"),
    (
        "too many intensities",
        "[projection]\nintensities = [" + ", ".join(f"{i / 10}" for i in range(10_001)) + "]",
        "projection.intensities",
    ),
    (
        "walkers huge",
        "[projection.market_uncertainty]\nwalkers = 1_000_000",
        "projection.market_uncertainty.walkers",
    ),
    (
        "posterior huge",
        "[projection.market_uncertainty]\nsamples = 1_000_000_000",
        "projection.market_uncertainty.samples",
    ),
    (
        "more draws than posterior samples",
        "[projection.market_uncertainty]\nsamples = 100",
        "n_draws = 200: expected at most market_uncertainty.samples = 100",
    ),
    ("sobol huge", "[decision]\nsobol_samples = 1_073_741_824", "decision.sobol_samples"),
    ("resamples huge", "[decision]\nresamples = 1_000_000_000", "decision.resamples"),
    ("decision chunk huge", "[decision]\nchunk_size = 1_000_000_000", "decision.chunk_size"),
    (
        "anticipation huge",
        "[estimation.callaway_santanna]\nanticipation = 1_000_000",
        "estimation.callaway_santanna.anticipation",
    ),
    ("window not a pair", '[estimation.twfe]\nwindow = "abc"', "estimation.twfe.window"),
    ("ssc not a flag", '[estimation.twfe.ssc]\nadj = "no"', "estimation.twfe.ssc.adj"),
    (
        "ssc unknown key",
        "[estimation.sun_abraham.ssc]\nfixef = 1",
        "estimation.sun_abraham.ssc.fixef",
    ),
    ("ssc t_df zero", "[estimation.twfe.ssc]\nt_df = 0", "estimation.twfe.ssc"),
    ("unknown estimator", '[estimation]\nestimators = ["ols"]', "estimation.estimators[0]"),
]


def write(tmp_path, body: str):
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{QUICK.as_posix()}"\n{body}\n', encoding="utf-8")
    return path


def assert_one_clear_line(message: str, names: str) -> None:
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message
    assert "could not convert" not in message and "For further information" not in message
    assert names in message, f"{names!r} not named in {message!r}"


@pytest.mark.parametrize(
    ("body", "key"), [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS]
)
def test_a_bad_config_is_refused_naming_its_key(tmp_path, body, key):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message
    assert_one_clear_line(message, key)


def test_the_base_of_the_sweep_is_valid(tmp_path):
    assert load_config(write(tmp_path, "")).panel.n_consumers == 20_000


def test_the_bounds_themselves_are_accepted(tmp_path):
    body = (
        f"seed = {2**64 - 1}\n[panel]\nn_consumers = 1_000_000_000\nchunk_size = {2**20}\n"
        "[figures]\nwidth = 20.0\ndpi = 500\n[projection]\nn_draws = 10_000_000\n"
        "[projection.market_uncertainty]\nsamples = 10_000_000\n"
        f"[decision]\nsobol_samples = {2**16}\nresamples = 10_000"
    )
    config = load_config(write(tmp_path, body))
    assert config.seed == 2**64 - 1 and config.figures.width * config.figures.dpi == 10_000


BAD_COMMANDS = [
    # (id, arguments, text the one line must contain); {tmp} is a fresh folder, {bad} a config
    # whose seed is 2**64
    ("missing file", ["validate", "{tmp}/missing.toml"], "missing.toml: config file not found"),
    ("directory as config", ["validate", "{tmp}"], "{tmp}: is a directory"),
    ("bad TOML", ["validate", "{tmp}/syntax.toml"], "syntax.toml: not valid TOML"),
    ("seed too big in a config", ["validate", "{bad}"], "bad.toml: seed"),
    ("--seed -1", ["simulate", "x.toml", "--out", "{tmp}/p.parquet", "--seed", "-1"], "--seed"),
    (
        "--seed 2**64",
        ["simulate", "x.toml", "--out", "{tmp}/p.parquet", "--seed", str(2**64)],
        "--seed",
    ),
    ("--seed abc", ["simulate", "x.toml", "--out", "{tmp}/p.parquet", "--seed", "abc"], "--seed"),
    ("fit --seed -1", ["fit", "{tmp}/p.parquet", "--seed", "-1"], "--seed"),
    (
        "--n-consumers abc",
        ["simulate", "x.toml", "--out", "{tmp}/p.parquet", "--n-consumers", "abc"],
        "--n-consumers",
    ),
    (
        "--n-consumers huge",
        ["simulate", "x.toml", "--out", "{tmp}/p.parquet", "--n-consumers", "10000000000"],
        "--n-consumers",
    ),
    ("--fake-sales abc", ["damages", "--fake-sales", "abc"], "--fake-sales"),
    ("--interval nan", ["damages", "--fake-sales", "1", "--interval", "nan"], "--interval"),
    ("--window abc", ["fit", "{tmp}/p.parquet", "--window", "a", "b"], "--window"),
    ("--ref abc", ["fit", "{tmp}/p.parquet", "--ref", "x"], "--ref"),
    ("--target -inf", ["calibrate", "x.toml", "--target=-inf"], "--target"),
    ("--intensity abc", ["breakeven", "x.toml", "--intensity", "abc"], "--intensity"),
]
IN_SUBPROCESS = {"bad TOML", "--seed 2**64", "--n-consumers abc"}
"""The cases also run as ``python -m sim.cli`` in a fresh process (seconds each)."""


def command(tmp_path, args: list[str], names: str) -> tuple[list[str], str]:
    """The arguments and expected text with {tmp} and {bad} filled in."""
    (tmp_path / "syntax.toml").write_text("seed = \n", encoding="utf-8")
    bad = write(tmp_path, f"seed = {2**64}")
    fill = {"{tmp}": str(tmp_path), "{bad}": str(bad)}
    args = [re.sub(r"\{tmp\}|\{bad\}", lambda m: fill[m.group()], arg) for arg in args]
    return args, names.replace("{tmp}", str(tmp_path))


@pytest.mark.parametrize(
    ("args", "names"), [case[1:] for case in BAD_COMMANDS], ids=[case[0] for case in BAD_COMMANDS]
)
def test_a_bad_command_line_prints_one_line_and_returns_2(tmp_path, capsys, args, names):
    args, names = command(tmp_path, args, names)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("goodwill"), err
    assert_one_clear_line(err, names)


@pytest.mark.parametrize(
    ("args", "names"),
    [case[1:] for case in BAD_COMMANDS if case[0] in IN_SUBPROCESS],
    ids=[case[0] for case in BAD_COMMANDS if case[0] in IN_SUBPROCESS],
)
def test_the_command_exits_2_with_one_line(tmp_path, args, names):
    args, names = command(tmp_path, args, names)
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert_one_clear_line(done.stderr, names)
