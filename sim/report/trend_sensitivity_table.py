"""The report's table of sensitivity to parallel trends (``trend_sensitivity.csv``, a run with
``[estimation.sensitivity]``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.estimators import label
from sim.formatting import format_interval
from sim.report.table import Table
from sim.rundir import ESTIMAND_NAMES

GRID_NAMES = {"SD": "M", "RM": "M̄"}
"""How the table names each restriction's grid value."""

RESTRICTION_NAMES = {"SD": "Smoothness", "RM": "Relative magnitudes"}
"""How the table names each restriction."""


def _decimals(table: pd.DataFrame) -> int:
    """Decimal places giving the original interval's half-width three significant digits."""
    original = table[table["method"] == "original"].iloc[0]
    half = abs(float(original["ub"]) - float(original["lb"])) / 2
    return int(np.clip(2 - np.floor(np.log10(half)), 0, 4)) if half > 0 else 4


OPEN_MARK = "†"
"""Marks an interval with a bound at the end of the theta values tested."""


def _open_mark(row: pd.Series) -> str:
    """:data:`OPEN_MARK` when a bound is the end of the tested range (a table from before
    those columns existed has none)."""
    return OPEN_MARK if bool(row.get("lb_open", False)) or bool(row.get("ub_open", False)) else ""


def trend_sensitivity_html(table: pd.DataFrame) -> Table:
    """HonestDiD's intervals by restriction and grid value, the original first, the breakdown
    values in the note."""
    decimals = _decimals(table)
    rows = []
    breakdowns = []
    for restriction, part in table.groupby("restriction", sort=False):
        name = GRID_NAMES[restriction]
        for _, row in part.iterrows():
            original = row["method"] == "original"
            rows.append(
                [
                    RESTRICTION_NAMES[restriction],
                    "original" if original else f"{name} = {row['M']:g}",
                    "parallel trends" if original else row["method"],
                    format_interval(row["lb"], row["ub"], decimals) + _open_mark(row),
                    "yes" if row["lb"] <= 0 <= row["ub"] else "no",
                ]
            )
        breakdown = float(part["breakdown"].iloc[0])
        breakdowns.append(
            f"{RESTRICTION_NAMES[restriction].lower()}, "
            + ("none on the grid" if np.isnan(breakdown) else f"{name} = {breakdown:g}")
        )
    first = table.iloc[0]
    estimand = ESTIMAND_NAMES.get(str(first["estimand"]), str(first["estimand"]))
    return Table(
        id="trend-sensitivity",
        title="Sensitivity to parallel trends",
        caption=f"Robust confidence intervals (HonestDiD) of the {label(first['estimator'])} "
        f"estimates, {estimand}: target {first['target']}",
        columns=["Restriction", "Grid value", "Method", "Confidence interval", "Includes 0"],
        rows=rows,
        numeric=[False, False, False, True, False],
        note="Rambachan and Roth (2023). Smoothness: the slope of the differential trend "
        "changes by at most M a week after treatment (M = 0: the pre-trend continues "
        "linearly). Relative magnitudes: each post-period change of the differential trend is "
        "at most M̄ times the largest pre-period one. Breakdown values (the smallest grid value "
        f"whose interval includes 0): {'; '.join(breakdowns)}."
        + (
            f" {OPEN_MARK} The interval reaches the end of the values tested and may extend "
            "beyond it."
            if any(OPEN_MARK in row[3] for row in rows)
            else ""
        ),
    )
