"""The estimator study's tables and report: the diagnosis as LaTeX and as one HTML page.

Both show the cumulative effect (the study's 12-week per-yuan sum) on the observed panel, one
row per scenario and estimator: the mean truth, bias, RMSE, SE/SD, coverage and the pre-trend
test's rejection rate on the observed and the placebo panel, Monte-Carlo SEs in parentheses.
``study_diagnosis.csv`` has every diagnosand of every target (each event time too).
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from sim.formatting import format_number
from sim.report.html import embed_figure, template_environment
from sim.report.latex import latex_escape, latex_table, tex_number
from sim.report.table import Table
from sim.rundir import ESTIMAND_NAMES

STUDY_CAPTION = (
    "Estimator study: for each scenario (rows) and estimator, the bias of the cumulative "
    "effect, the coverage of its confidence interval and the rejection rate of the joint "
    "pre-trend test on the placebo panel (the counterfactual outcome: no effect anywhere), "
    "with 95% Monte-Carlo intervals. Dashed lines: no bias, nominal coverage, rejections at "
    "the test's level (its size where the scenario's trends are parallel)."
)
"""The study figure's caption."""

COLUMNS = (
    ("truth", "Truth", False),
    ("bias", "Bias", True),
    ("rmse", "RMSE", False),
    ("se_ratio", "SE/SD", True),
    ("coverage", "Coverage", True),
    ("pretrend_rejection", "Pre-test rejects", True),
    ("pretrend_placebo", "Pre-test rejects, placebo", True),
)
"""The summary's columns: diagnosand, heading, whether its Monte-Carlo SE is shown."""


def study_summary(diagnosis: pd.DataFrame, estimand: str) -> pd.DataFrame:
    """The cumulative effect's diagnosis on the observed panel, one row per scenario and
    estimator, with the placebo panel's pre-trend rejection rate beside the observed one."""
    cumulative = diagnosis[
        (diagnosis["target"] == "cumulative") & (diagnosis["estimand"] == estimand)
    ]
    keys = ["scenario", "estimator"]
    observed = cumulative[cumulative["panel"] == "observed"].set_index(keys)
    placebo = cumulative[cumulative["panel"] == "placebo"].set_index(keys)
    summary = observed.copy()
    summary["pretrend_placebo"] = placebo["pretrend_rejection"].reindex(summary.index)
    summary["pretrend_placebo_mcse"] = placebo["pretrend_rejection_mcse"].reindex(summary.index)
    return summary.reset_index()


def _decimals(name: str) -> int:
    return 2 if name in ("coverage", "pretrend_rejection", "pretrend_placebo", "se_ratio") else 3


def study_latex(diagnosis: pd.DataFrame, study: xr.Dataset) -> str:
    """The diagnosis of the cumulative effect as booktabs tables, one per estimand."""
    alpha = float(study.attrs["alpha"])
    tables = []
    for estimand in dict.fromkeys(diagnosis["estimand"]):
        summary = study_summary(diagnosis, estimand)
        body: list[list[str] | str] = []
        for scenario in dict.fromkeys(summary["scenario"]):
            if body:
                body.append(r"\midrule")
            for _, row in summary[summary["scenario"] == scenario].iterrows():
                cells = [latex_escape(f"{scenario}: {row['label']}")]
                for name, _, with_se in COLUMNS:
                    cell = tex_number(row[name], _decimals(name))
                    if with_se and pd.notna(row[f"{name}_mcse"]):
                        cell += f" ({tex_number(row[f'{name}_mcse'], _decimals(name))})"
                    cells.append(cell)
                body.append(cells)
        first, last = (int(t) for t in study.attrs["cumulative_event_times"])
        tables.append(
            latex_table(
                caption=latex_escape(
                    f"Estimator study, cumulative effect over event times {first} to {last} "
                    f"({ESTIMAND_NAMES.get(estimand, estimand)})"
                ),
                label=f"tab:study-{estimand}",
                header=["Scenario: estimator", *(heading for _, heading, _ in COLUMNS)],
                body=body,
                note=latex_escape(_note(study, alpha)),
            )
        )
    return "\n".join(tables)


def _note(study: xr.Dataset, alpha: float) -> str:
    return (
        f"{study.sizes['replication']} replications of {int(study.attrs['n_consumers']):,} "
        f"consumers x {study.attrs['n_weeks']} weeks per scenario; Monte-Carlo SEs in "
        f"parentheses. Coverage of the {1 - alpha:.0%} CI; pre-test: the joint Wald test that "
        f"every lead is zero, at {alpha:g} (placebo: the counterfactual outcome, so rejections "
        "there are the test's size where trends are parallel). SE/SD: mean SE over the "
        "estimates' standard deviation."
    )


def study_tables_html(diagnosis: pd.DataFrame, study: xr.Dataset) -> list[Table]:
    """The diagnosis of the cumulative effect as report tables, one per estimand."""
    alpha = float(study.attrs["alpha"])
    tables = []
    for estimand in dict.fromkeys(diagnosis["estimand"]):
        summary = study_summary(diagnosis, estimand)
        rows = []
        for _, row in summary.iterrows():
            cells = [str(row["scenario"]), str(row["label"])]
            for name, _, with_se in COLUMNS:
                cell = format_number(row[name], _decimals(name))
                if with_se and pd.notna(row[f"{name}_mcse"]):
                    cell += f" ({format_number(row[f'{name}_mcse'], _decimals(name))})"
                cells.append(cell)
            rows.append(cells)
        tables.append(
            Table(
                id=f"study-{estimand}",
                title=f"Diagnosis, {ESTIMAND_NAMES.get(estimand, estimand)}",
                caption="Cumulative effect over event times "
                f"{'{} to {}'.format(*study.attrs['cumulative_event_times'])} "
                f"({ESTIMAND_NAMES.get(estimand, estimand)})",
                columns=["Scenario", "Estimator", *(heading for _, heading, _ in COLUMNS)],
                rows=rows,
                numeric=[False, False, *(True for _ in COLUMNS)],
                note=_note(study, alpha),
            )
        )
    return tables


def study_html(study: xr.Dataset, diagnosis: pd.DataFrame, figure: Figure) -> str:
    """The study report: one self-contained HTML page (figure embedded, no script)."""
    environment = template_environment()
    embedded = embed_figure("study", figure)
    config = json.loads(study.attrs["config"])
    scenarios = [
        (str(name), str(description))
        for name, description in zip(
            study["scenario"].values, study["description"].values, strict=True
        )
    ]
    return environment.get_template("study.html.j2").render(
        title="goodwill estimator study",
        made=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        seed=study.attrs["seed"],
        version=study.attrs["goodwill_version"],
        replications=study.sizes["replication"],
        n_consumers=f"{int(study.attrs['n_consumers']):,}",
        n_weeks=study.attrs["n_weeks"],
        scenarios=scenarios,
        estimators=[str(label) for label in study["label"].values],
        failures=json.loads(study.attrs["failures"]),
        figure=embedded,
        caption=STUDY_CAPTION,
        tables=study_tables_html(diagnosis, study),
        config=json.dumps(config, indent=2),
    )
