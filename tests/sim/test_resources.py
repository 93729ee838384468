"""The up-front memory estimate (sim.resources): monotone, refuses what cannot fit naming the
key, and lets the baseline through on a 24 GiB machine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sim.config import ConfigError, load_config
from sim.resources import (
    available_memory,
    check_memory,
    describe_memory,
    memory_estimate,
)

ROOT = Path(__file__).resolve().parents[2]
GIB = 2**30


@pytest.fixture(scope="module")
def baseline():
    return load_config(ROOT / "configs" / "baseline.toml")


def with_section(config, section, **changes):
    part = getattr(config, section)
    return config.model_copy(update={section: part.model_copy(update=changes)})


def test_the_estimate_grows_with_the_consumers_weeks_and_draws(baseline):
    sizes = [1_000, 20_000, 603_000, 10**7]
    panel = [
        memory_estimate(with_section(baseline, "panel", n_consumers=n))["panel"] for n in sizes
    ]
    assert panel == sorted(panel) and len(set(panel)) == len(panel)
    weeks = [memory_estimate(with_section(baseline, "panel", n_weeks=w))["panel"] for w in (22, 44)]
    assert weeks[0] < weeks[1]
    draws = [
        memory_estimate(with_section(baseline, "projection", n_draws=d))["projection"]
        for d in (100, 1000, 10_000)
    ]
    assert draws == sorted(draws) and len(set(draws)) == 3


def test_a_trillion_consumers_are_refused_at_once_naming_the_key(baseline):
    config = with_section(baseline, "panel", n_consumers=10**12)
    with pytest.raises(ConfigError, match=r"^panel\.n_consumers = 1,000,000,000,000: .*GB") as exc:
        check_memory(config, available=24 * GIB)
    assert "25.8 GB available" in str(exc.value) and "\n" not in str(exc.value)


def test_too_many_draws_name_the_projection_key(baseline):
    config = with_section(baseline, "projection", n_draws=10**6)
    with pytest.raises(ConfigError, match=r"^projection\.n_draws = 1,000,000: "):
        check_memory(config, available=24 * GIB)


def test_a_large_bootstrap_names_the_decision_key(baseline):
    config = with_section(baseline, "decision", sobol_samples=2**16, resamples=10_000)
    with pytest.raises(ConfigError, match=r"^decision\.resamples = 10,000: "):
        check_memory(config, available=24 * GIB)


def test_the_baseline_fits_comfortably_in_24_gib(baseline):
    estimate = check_memory(baseline, available=24 * GIB)
    assert sum(estimate.values()) < 8 * GIB
    # conservative: at least the measured peaks (panel 2.19 GB; projection 0.93 GB, with the
    # libraries, at 1,000 draws of the same grid)
    assert estimate["panel"] >= 2.19e9
    assert estimate["projection"] >= 0.93e9 - 0.3e9


def test_only_the_parts_a_command_runs_are_checked(baseline):
    huge_projection = with_section(baseline, "projection", n_draws=10**6)
    check_memory(huge_projection, available=24 * GIB, parts=("panel",))
    with pytest.raises(ValueError, match="parts: unknown"):
        check_memory(baseline, parts=("figures",))


def test_no_projection_needs_no_projection_memory(baseline):
    config = baseline.model_copy(update={"projection": None, "decision": None})
    estimate = memory_estimate(config)
    assert estimate["projection"] == estimate["decision"] == 0


def test_the_description_is_one_line_with_each_part(baseline):
    text = describe_memory(baseline, available=24 * GIB)
    assert text.startswith("memory: about ")
    assert "for the panel and estimation" in text and "for the projection" in text
    assert text.endswith("(available 25.8 GB)") and "\n" not in text


def test_the_available_memory_is_read_from_the_system():
    available = available_memory()
    assert available is None or available > 0


@pytest.mark.slow
def test_the_estimate_is_at_least_the_measured_peak(tmp_path):
    """Run a small panel with its estimators in a fresh process and compare its peak RSS
    (``VmHWM``: ``getrusage``'s maximum survives ``exec`` and would report pytest's own)."""
    import subprocess

    config = load_config(ROOT / "configs" / "quick.toml")
    config = config.model_copy(update={"projection": None, "decision": None})
    script = (
        "import re, sys\n"
        "from sim.config import load_config\n"
        "from sim.panel import simulate_panel\n"
        "from sim.fit import fit_estimators\n"
        f"config = load_config({str(ROOT / 'configs' / 'quick.toml')!r})\n"
        "panel, _ = simulate_panel(config)\n"
        "fit_estimators(panel, config.estimation, seed=config.seed)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) * 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    peak = int(done.stdout.split()[-1])
    assert memory_estimate(config)["panel"] >= peak


@pytest.fixture(scope="module")
def estimator_study():
    return load_config(ROOT / "configs" / "estimator_study.toml")


def test_a_study_counts_each_process_that_fits_a_replication(estimator_study):
    serial = memory_estimate(estimator_study)["study"]
    dask = memory_estimate(with_section(estimator_study, "study", executor="dask", n_workers=4))[
        "study"
    ]
    bigger = memory_estimate(with_section(estimator_study, "panel", n_consumers=603_000))["study"]
    assert serial < dask < 4.5 * serial
    assert serial < bigger
    # conservative: at least the measured peak of one 50,000-consumer replication's fits
    # (0.42 GiB, benchmarks/bench_study.py) at the shipped 20,000 consumers too
    assert serial >= 0.42 * GIB
    # a run does not run the study, so its check leaves the study out
    assert check_memory(estimator_study, available=24 * GIB)["study"] == serial


def test_a_study_too_large_for_its_workers_names_the_key(estimator_study):
    config = with_section(estimator_study, "panel", n_consumers=1_000_000)
    config = with_section(config, "study", executor="dask", n_workers=8)
    with pytest.raises(ConfigError, match=r"^study\.n_workers = 8: .* for the estimator study"):
        check_memory(config, available=24 * GIB, parts=("study",))
    check_memory(config, available=24 * GIB, parts=("panel",))  # the run's part alone fits
