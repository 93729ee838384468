"""The group-time cells of Callaway and Sant'Anna: which ATT(g, t) are estimated, with which
base period and which control cohorts, as the R package did's ``att_gt`` chooses them."""

from __future__ import annotations

import numpy as np

from models.estimation.influence import UnitRows

Cell = tuple[int, int, int, np.ndarray]
"""One ATT(g, t): treated block, period column, base column, control blocks."""


def group_time_cells(
    rows: UnitRows, control: str, anticipation: int, base_period: str
) -> tuple[list[Cell], list[tuple[int, int]]]:
    """Every ATT(g, t) to estimate, and the (cohort, period) of the universal base's
    reference cells (t = g - 1 - anticipation, 0 by construction, not estimated).

    As did: a cohort with no period before g - anticipation has no cell (its units are
    neither treated nor controls); with the varying base the first period is never a
    cell's period t (it has no previous period), with the universal base every period
    other than the reference is compared with it. Controls are the never treated
    (``control="never"``) or the cohorts not treated by max(t, base) + anticipation
    (``"notyet"``).

    Raises
    ------
    ValueError
        If no cell can be estimated.
    """
    periods, cohorts = rows.periods, rows.block_cohorts
    column_of = {p: j for j, p in enumerate(periods)}
    universal = base_period == "universal"
    cells, references = [], []
    for g_block, g in enumerate(cohorts):
        reference = g - 1 - anticipation
        if not np.isfinite(g) or reference not in column_of:
            continue
        cohort_cells = []
        for t in periods if universal else periods[1:]:
            if universal and t == reference:
                continue
            base = reference if universal or t >= g - anticipation else t - 1
            if base not in column_of:
                continue
            if control == "never":
                controls = np.flatnonzero(np.isinf(cohorts))
            else:
                later = cohorts > max(t, base) + anticipation
                controls = np.flatnonzero(later & (cohorts != g))
            if controls.size:
                cohort_cells.append((g_block, column_of[t], column_of[base], controls))
        cells.extend(cohort_cells)
        if universal and cohort_cells:
            references.append((int(g), int(reference)))
    if not cells:
        raise ValueError(
            "no ATT(g, t) can be estimated: no cohort has a base period and a control group"
        )
    return cells, references
