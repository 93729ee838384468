"""Up-front memory estimate of a run: refuse at once what cannot fit in the machine's memory.

A run holds the simulated panel and the estimators' designs (``[panel]``, ``[estimation]``; not
estimated for a panel of one's own, ``[data]``, whose size is its file's),
then the goodwill projection's arrays by opening, intensity, draw and week (``[projection]``)
and the decision analysis's bootstrap (``[decision]``). :func:`memory_estimate` gives the
peak bytes of each part from the config alone; :func:`check_memory` compares their sum with the
memory available and, when it does not fit, names the key that drives the largest part.

The constants were measured (peak resident set size of ``goodwill run`` with
``/usr/bin/time -v``, Linux x86-64, numpy 2) and rounded up:

=====================================  =======================  =========================
what                                   measured                 estimate
=====================================  =======================  =========================
interpreter, libraries, figures        0.3-0.4 GB               0.5 GiB, once
panel and four estimators, per         144 bytes at 22 weeks,   100 + 6 w + 0.008 w**3
consumer-week (w: n_weeks)             232 at 44, > 7,500 at    bytes (317 at 22, 1,045 at
                                       110                      44, 11,408 at 110)
simulation chunk, per consumer-week    about 10 bytes           24 bytes
projection, per (opening, intensity,   31-32 bytes              48 bytes
draw, week)
a block of draws, per (opening,        74 bytes                 120 bytes
intensity, draw, week) of the block
=====================================  =======================  =========================

Peaks of the panel with the four estimators: 20,000 x 22 weeks 0.41 GB, 100,000 x 22 0.58 GB,
300,000 x 22 1.23 GB, 150,000 x 44 1.80 GB, 20,000 x 110 over 16.4 GB (stopped after 48
minutes, unfinished), and the baseline's 603,000 x 22 2.19 GB (estimate 4.8 GB). Projections
(2 openings x 19 intensities x 520 weeks, blocks of 50): 200 draws 0.43 GB, 1,000 draws 0.93
GB, 3,000 draws 2.13 GB; 1,000 draws in one block 2.29 GB. The decision analysis's chunk is
taken to cost what a block of draws does (not measured apart: the whole quick run, decision
included, peaked at 0.55 GB).
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.config import Config, ConfigError

GIB = 2**30
FIXED_BYTES = GIB // 2
"""The interpreter, numpy, pandas, matplotlib and the figures (measured: 0.40 GB)."""
PANEL_BYTES_PER_ROW = 100
PANEL_BYTES_PER_ROW_WEEK = 6
PANEL_BYTES_PER_ROW_WEEK3 = 0.008
"""Per consumer-week, the panel (57 bytes a row), the estimators' designs and their copies
take PANEL_BYTES_PER_ROW + PANEL_BYTES_PER_ROW_WEEK x n_weeks + PANEL_BYTES_PER_ROW_WEEK3 x
n_weeks**3 bytes: the estimators grow steeply with the panel's length
(measured with the four estimators of configs/baseline.toml: 144 bytes a row at 22 weeks, 232
at 44, more than 7,500 at 110; the formula gives 317, 1,045 and 11,408). Not measured beyond
110 weeks."""
CHUNK_BYTES_PER_ROW = 24
"""The simulation's working arrays of one chunk, per consumer-week (measured: about 10)."""
PROJECTION_BYTES_PER_VALUE = 48
"""The projection's arrays by (opening, intensity, draw, week): two kept, the cumulative loss
and its quantiles' copy (measured: 32 bytes a value)."""
BLOCK_BYTES_PER_VALUE = 120
"""One block of draws' working arrays (every cost channel by week), per (opening, intensity,
draw, week) value of the block (measured: 74 bytes)."""
BOOTSTRAP_BYTES_PER_VALUE = 48
"""SALib's bootstrap of the Sobol indices: its (sobol_samples, resamples) index matrix and
the resampled outputs (8 bytes each, about 5 arrays)."""
DECISION_BYTES_PER_VALUE = 120
"""One chunk of the decision analysis's cost evaluations, per (sample, opening, intensity,
week) value, as a block of the projection."""
OPENINGS = 2
"""The projection's two openings (status quo and no programme)."""
STUDY_BYTES_PER_FIT = 2_000
"""The study's stored results of one fit (estimand x panel of a replication, scenario and
estimator): estimate, SE and CI by event time, the cumulative and the pre-test, and the
truths (about 100 doubles)."""


def memory_estimate(config: Config) -> dict[str, int]:
    """Peak bytes of each part of a run, from its config alone.

    Parameters
    ----------
    config : Config
        A validated config.

    Returns
    -------
    dict of str to int
        ``panel``: simulating the panel and fitting the estimators, with the interpreter and
        libraries; ``projection``: the goodwill projection's arrays (0 without
        ``[projection]``); ``decision``: the decision analysis (0 without ``[decision]``);
        ``study``: the estimator study, its replications' panels and fits in every process
        that computes them (0 without ``[study]``).
        Conservative: each is at least what was measured (see the module's notes).

    Examples
    --------
    >>> from sim.config import load_config
    >>> estimate = memory_estimate(load_config("configs/baseline.toml"))  # doctest: +SKIP
    >>> round(estimate["panel"] / 1e9, 1)  # doctest: +SKIP
    3.2
    """
    return {part: sum(terms.values()) for part, terms in _terms(config).items()}


def _terms(config: Config) -> dict[str, dict[str, int]]:
    """Each part's bytes as a sum of terms, each named by the key that drives it."""
    panel = config.panel
    rows = panel.n_consumers * panel.n_weeks
    chunk_rows = min(panel.chunk_size, panel.n_consumers) * panel.n_weeks
    simulated = {
        "panel.n_consumers": FIXED_BYTES + int(rows * _bytes_per_row(panel.n_weeks)),
        "panel.chunk_size": chunk_rows * CHUNK_BYTES_PER_ROW,
    }
    terms = {
        "panel": simulated if config.data is None else {},  # data: the file's own size
        "projection": {},
        "decision": {},
        "study": _study_terms(config),
    }
    projection = config.projection
    if projection is None:
        return terms
    cells = OPENINGS * len(projection.intensities) * projection.n_weeks
    block = min(projection.block_size, projection.n_draws)
    terms["projection"] = {
        "projection.n_draws": projection.n_draws * cells * PROJECTION_BYTES_PER_VALUE,
        "projection.block_size": block * cells * BLOCK_BYTES_PER_VALUE,
    }
    decision = config.decision
    if decision is not None:
        terms["decision"] = {
            "decision.resamples": decision.sobol_samples
            * decision.resamples
            * BOOTSTRAP_BYTES_PER_VALUE,
            "decision.chunk_size": decision.chunk_size * cells * DECISION_BYTES_PER_VALUE,
        }
    return terms


def _study_terms(config: Config) -> dict[str, int]:
    """A study's bytes: one replication's panel and fits in each process that computes them
    (this one when serial, each worker of a LocalCluster on dask) and the stored results."""
    study = config.study
    if study is None:
        return {}
    panel = config.panel
    rows = panel.n_consumers * panel.n_weeks
    per_process = (
        FIXED_BYTES
        + int(rows * _bytes_per_row(panel.n_weeks))
        + min(panel.chunk_size, panel.n_consumers) * panel.n_weeks * CHUNK_BYTES_PER_ROW
    )
    workers = study.n_workers if study.executor == "dask" and study.scheduler is None else 1
    estimators = study.estimators or config.estimation.estimators
    fits = len(study.scenarios) * study.replications * len(estimators) * 2 * 2
    terms = {
        "panel.n_consumers": per_process,
        "study.replications": fits * STUDY_BYTES_PER_FIT,
    }
    if workers > 1:
        terms["study.n_workers"] = per_process * (workers - 1)
    return terms


def _bytes_per_row(n_weeks: int) -> float:
    """The panel's and estimators' bytes per consumer-week of a panel of ``n_weeks``."""
    return (
        PANEL_BYTES_PER_ROW
        + PANEL_BYTES_PER_ROW_WEEK * n_weeks
        + PANEL_BYTES_PER_ROW_WEEK3 * n_weeks**3
    )


def available_memory() -> int | None:
    """Bytes of memory available to a new computation, or None if the system does not say.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus what the page cache can
    give back), else the free physical pages (``os.sysconf``); no extra dependency.
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(
    config: Config, available: int | None = None, parts: tuple[str, ...] | None = None
) -> dict[str, int]:
    """Refuse a config whose run would need more memory than is available.

    Parameters
    ----------
    config : Config
        A validated config.
    available : int, optional
        Bytes available (default: :func:`available_memory`; no check if the system does not
        say).
    parts : tuple of str, optional
        The parts of :func:`memory_estimate` the command runs (default: every part but the
        study, which ``goodwill run`` does not run; ``("panel",)`` for ``goodwill simulate``,
        ``("projection", "decision")`` for ``goodwill project``, ``("study",)`` for
        ``goodwill study``).

    Returns
    -------
    dict of str to int
        The estimate, as :func:`memory_estimate`.

    Raises
    ------
    ConfigError
        If the parts' sum exceeds ``available``; the one-line message names the key that
        drives the largest term, its value, the estimate and the memory available.

    Examples
    --------
    >>> check_memory(config, available=24 * 2**30)  # doctest: +SKIP
    """
    terms = _terms(config)
    chosen = tuple(part for part in terms if part != "study") if parts is None else parts
    unknown = sorted(set(chosen) - set(terms))
    if unknown:
        raise ValueError(f"parts: unknown {unknown} (allowed: {', '.join(terms)})")
    estimate = {part: sum(values.values()) for part, values in terms.items()}
    available = available_memory() if available is None else available
    needed = sum(estimate[part] for part in chosen)
    if "panel" not in chosen:  # the interpreter and libraries, counted in the panel's part
        needed += FIXED_BYTES
    if available is None or needed <= available:
        return estimate
    key, _ = max(
        ((key, size) for part in chosen for key, size in terms[part].items()),
        key=lambda item: item[1],
    )
    raise ConfigError(
        f"{key} = {_value(config, key):,}: the run would need about {_gb(needed)} of memory "
        f"({_parts(estimate, chosen)}), more than the {_gb(available)} available; lower {key}"
    )


def describe_memory(config: Config, available: int | None = None) -> str:
    """One line: the memory estimate of each part of the run and the memory available.

    Examples
    --------
    >>> describe_memory(config)  # doctest: +SKIP
    'memory: about 3.2 GB for the panel and estimation, 0.9 GB for the projection, ...'
    """
    estimate = memory_estimate(config)
    available = available_memory() if available is None else available
    shown = [
        part for part in estimate if estimate[part] or (part == "panel" and config.data is None)
    ]
    text = f"memory: about {_parts(estimate, tuple(shown))}"
    return text + ("" if available is None else f" (available {_gb(available)})")


LABELS = {
    "panel": "the panel and estimation",
    "projection": "the projection",
    "decision": "the decision analysis",
    "study": "the estimator study",
}


def _parts(estimate: dict[str, int], parts: tuple[str, ...]) -> str:
    return ", ".join(f"{_gb(estimate[part])} for {LABELS[part]}" for part in parts)


def _gb(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"


def _value(config: Config, key: str) -> int:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)
