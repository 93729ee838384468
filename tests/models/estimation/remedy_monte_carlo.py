"""Monte Carlo of the remedy for heavy-tailed doses: CR3 and the bootstrap pre-trend test.

A script, not a test (it runs for minutes): for each replication it draws a panel whose truth
is known, fits TWFE, Sun-Abraham and Callaway-Sant'Anna (dynamic) per unit of dose twice,

* "before": the default inference (CRV1 / influence functions, analytic Wald pre-trend test);
* "after": ``vcov="CR3"`` and ``pretrend="bootstrap"`` (999 draws),

and records whether the 95% CI of ``cumulative(0, 11)`` covers the truth and whether the 5%
pre-trend test rejects (parallel trends hold exactly in both designs). Designs:

``synthetic``
    n units x 22 periods, a tenth treated in cohorts 2..22 (uniform), doses 50 (1 + Pareto(a))
    yuan (tail index a), outcome = unit effect N(100, 30^2) + period effect N(0, 5^2) + noise
    N(0, 40^2) - 0.05 (1 - e / 12) yuan per yuan of dose at event times e = 0..11 and exactly 0
    at every lead; truth of the 12-week sum: -0.325 per yuan.
``simulator``
    goodwill's baseline process (``ConsumerSpendModel()``, no promotion week, so no pre-trend),
    truth ``truth.intensity_multiplier``.

Usage, from the repository (one BLAS thread keeps a shared machine responsive)::

    export OMP_NUM_THREADS=1 PYTHONPATH=.
    python tests/models/estimation/remedy_monte_carlo.py simulator 20000 200 out.csv
    python tests/models/estimation/remedy_monte_carlo.py synthetic 20000 200 out.csv 2.0

It prints coverage and rejection rates with their Monte-Carlo standard errors
``sqrt(p (1 - p) / R)``, and writes every replication's rows to the CSV (every ten
replications, so that a run that stops can resume).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from models import (
    AlwaysTreatedWarning,
    CallawaySantAnna,
    EventStudy,
    FewEffectiveUnitsWarning,
    SunAbraham,
)

COLUMNS = dict(outcome="y", unit="i", time="t", cohort="g", intensity="v")
REMEDY = dict(vcov="CR3", pretrend="bootstrap")


def synthetic_panel(n_units: int, tail: float, seed: int) -> tuple[pd.DataFrame, float]:
    """The synthetic design (module docstring) and its truth."""
    n_periods = 22
    rng = np.random.default_rng(seed)
    treated = rng.random(n_units) < 0.1
    cohort = np.where(treated, rng.integers(2, n_periods + 1, n_units), np.nan)
    dose = np.where(treated, 50.0 * (rng.pareto(tail, n_units) + 1.0), 0.0)
    event = np.arange(1, n_periods + 1)[None, :] - cohort[:, None]
    path = np.where((event >= 0) & (event < 12), -0.05 * (1 - np.nan_to_num(event) / 12), 0.0)
    y = (
        rng.normal(100, 30, n_units)[:, None]
        + rng.normal(0, 5, n_periods)[None, :]
        + rng.normal(0, 40, (n_units, n_periods))
        + dose[:, None] * path
    )
    panel = pd.DataFrame(
        {
            "y": y.ravel(),
            "i": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(np.arange(1, n_periods + 1), n_units),
            "g": np.repeat(cohort, n_periods),
            "v": np.repeat(dose, n_periods),
        }
    )
    return panel, float(sum(-0.05 * (1 - e / 12) for e in range(12)))


def simulator_panel(n_units: int, seed: int) -> tuple[pd.DataFrame, float]:
    """goodwill's baseline process and the truth of the per-yuan fits' 12-week sum."""
    from models import ConsumerSpendModel
    from sim import simulate_panel

    panel, truth = simulate_panel(ConsumerSpendModel(), n_consumers=n_units, n_weeks=22, seed=seed)
    names = {"spend": "y", "consumer_id": "i", "week": "t", "fake_week": "g", "fake_value": "v"}
    return panel.rename(columns=names)[list(names.values())], float(truth.intensity_multiplier)


def fits(panel: pd.DataFrame, seed: int) -> dict[tuple[str, str], object]:
    """Each estimator before and after the remedy."""
    twfe = EventStudy(panel, **COLUMNS)
    sun_abraham = SunAbraham(panel, **COLUMNS)
    callaway = CallawaySantAnna(panel, **COLUMNS)
    return {
        ("twfe", "before"): twfe.fit(),
        ("twfe", "after"): twfe.fit(**REMEDY, seed=seed),
        ("sun_abraham", "before"): sun_abraham.fit(),
        ("sun_abraham", "after"): sun_abraham.fit(**REMEDY, seed=seed),
        ("callaway_santanna", "before"): callaway.fit().aggregate("dynamic"),
        ("callaway_santanna", "after"): callaway.fit(**REMEDY, seed=seed).aggregate("dynamic"),
    }


def replicate(design: str, n_units: int, seed: int, tail: float) -> list[dict[str, object]]:
    """One replication's rows: estimator, inference, estimate, se, covers, pre-trend p."""
    if design == "synthetic":
        panel, truth = synthetic_panel(n_units, tail, seed)
    else:
        panel, truth = simulator_panel(n_units, seed)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)  # the point of the study
        warnings.simplefilter("ignore", AlwaysTreatedWarning)  # week-1 victims, for Sun-Abraham
        for (name, inference), fitted in fits(panel, seed).items():
            low, high = fitted.cumulative_conf_int(0, 11)
            rows.append(
                {
                    "replication": seed,
                    "estimator": name,
                    "inference": inference,
                    "estimate": fitted.cumulative(0, 11).estimate,
                    "se": fitted.cumulative(0, 11).se,
                    "covers": low <= truth <= high,
                    "pretrend_p": fitted.pretrend_test().pvalue,
                    "effective_treated": fitted.effective_treated,
                    "truth": truth,
                }
            )
    return rows


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage and 5% rejection rates with Monte-Carlo SEs, by estimator and inference."""

    def rates(group: pd.DataFrame) -> pd.Series:
        r = len(group)
        coverage = group["covers"].mean()
        rejection = (group["pretrend_p"] < 0.05).mean()
        return pd.Series(
            {
                "R": r,
                "coverage": coverage,
                "coverage_mcse": np.sqrt(coverage * (1 - coverage) / r),
                "pretrend_rejects": rejection,
                "pretrend_mcse": np.sqrt(rejection * (1 - rejection) / r),
                "mean_se": group["se"].mean(),
                "sd_estimate": group["estimate"].std(),
                "mean_error": (group["estimate"] - group["truth"]).mean(),
                "median_n_eff": group["effective_treated"].median(),
            }
        )

    return table.groupby(["estimator", "inference"], sort=False).apply(rates)


def main(argv: list[str]) -> None:
    """Run (or resume: replications already in ``out`` are kept) and print the summary."""
    design, n_units, reps, out = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    tail = float(argv[4]) if len(argv) > 4 else 2.0
    done = pd.read_csv(out) if out.exists() else pd.DataFrame()
    rows, start = done.to_dict("records"), time.perf_counter()
    for seed in range(done["replication"].max() + 1 if len(done) else 0, reps):
        rows += replicate(design, n_units, seed, tail)
        if seed % 10 == 9:  # keep what is done
            pd.DataFrame(rows).to_csv(out, index=False)
            print(f"{seed + 1} replications, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    table = pd.DataFrame(rows)
    table.to_csv(out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summarize(table).round(4))


if __name__ == "__main__":
    main(sys.argv[1:])
