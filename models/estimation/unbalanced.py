"""Callaway and Sant'Anna on an unbalanced panel: did's ``allow_unbalanced_panel = TRUE``.

On a panel where some units lack rows in some periods, the R package did (2.5.1,
``pre_process_did`` and ``compute.att_gt``) treats the rows as repeated cross sections: each
ATT(g, t) is estimated by DRDID's ``*_did_rc`` from every row of period t and of the base
period b whose unit is in cohort g or in the control group, and the influence function of each
row is summed by unit, so that inference still clusters by unit. Without covariates every
``*_did_rc`` estimator (``reg``, ``dr``, ``ipw``) is the difference of four means,

    ATT(g, t) = (mean_{g, t} Y - mean_{g, b} Y) - (mean_{C, t} Y - mean_{C, b} Y),

each mean over the units of that group observed in that period (n_{g,t}, n_{g,b}, n_{C,t},
n_{C,b} of them), and did's influence function of unit i (the rows' influence scaled by n over
the cell's rows, then summed by unit; n the panel's units) is

    psi_i = n [1(i in g) (P_it (Y_it - mean_{g,t}) / n_{g,t} - P_ib (Y_ib - mean_{g,b}) / n_{g,b})
             - 1(i in C) (P_it (Y_it - mean_{C,t}) / n_{C,t} - P_ib (Y_ib - mean_{C,b}) / n_{C,b})],

with P_it = 1 when unit i has a row in period t. It is affine in the unit's outcomes (0 where
absent) and presence indicators, with coefficients that depend only on the unit's cohort, so
the block-moment algebra of :mod:`models.estimation.influence` applies unchanged: the panel is
read once into per-cohort moments and no units x cells matrix is built. A unit observed in only
one of the two periods enters through that row; one observed in neither does not enter the
cell. The aggregations weight cohorts by their share of the panel's units, as did's ``aggte``
does on an unbalanced panel (one row per unit, every unit counted).

Sampling weights (did's ``weightsname``) are row weights here, as in did's repeated
cross-section estimators: each of the four means is weighted by its rows' weights, which may
vary within a unit, and the aggregations weight each unit by its mean row weight (did's
``aggte``); with covariates, DRDID's estimators weight each row by its weight.

With covariates each cell runs ``drdid_rc``, ``reg_did_rc`` or ``std_ipw_did_rc`` (by
``method``; :mod:`models.estimation.drdid_rc`) on its rows, each row with its own
period's covariates as did does; its influence functions are then columns on the units, as for
covariates on a balanced panel.

A cell whose cohort or controls have no row in t or in its base period cannot be estimated:
did warns ("No units in group g in time period t") and reports its ATT as NA, and ``aggte``
then refuses unless ``na.rm = TRUE``, which averages the other cells. goodwill does the same
(:func:`drop_empty_cells`, a warning naming the cells, and ``aggregate(..., na_rm=True)``).

On a balanced panel did uses its panel estimators even when ``allow_unbalanced_panel = TRUE``,
and so does :class:`~models.estimation.callaway_santanna.CallawaySantAnna`.

References: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-differences with
multiple time periods", Journal of Econometrics 225(2), 200-230; Sant'Anna, P. H. C. and
Zhao, J. (2020), "Doubly robust difference-in-differences estimators", Journal of
Econometrics 219(1), 101-122 (the repeated cross-section estimators).
"""

from __future__ import annotations

import warnings

import numpy as np

from models.estimation.drdid import CellEstimationError
from models.estimation.drdid_rc import dr_did_rc, ipw_did_rc, reg_did_rc
from models.estimation.influence import (
    BlockMoments,
    Functionals,
    UnitRows,
    column_functionals,
    column_moments,
)
from models.estimation.panel_data import PanelData
from models.exceptions import UnbalancedPanelWarning

ESTIMATORS = {"dr": dr_did_rc, "reg": reg_did_rc, "ipw": ipw_did_rc}
"""The repeated cross-section estimators with covariates, by ``method``."""
SHOWN_CELLS = 3
"""The unbalanced-panel warning details this many cells (those with the most absent units)."""


def unbalanced_features(data: PanelData, order: np.ndarray) -> np.ndarray:
    """The unit rows of an unbalanced panel, units in ``order``: outcomes by period (0 where
    the unit has no row), a column of ones, then the presence indicators by period.

    With sampling weights (did's row weights, normalised to mean 1 over the rows): the outcomes
    multiplied by their row's weight, the unit's mean row weight (the unit's weight in did's
    ``aggte``), the row weights by period (0 where absent), then the presence indicators.
    """
    n_units, n_periods = data.n_units, data.n_periods
    weighted = data.row_weights is not None
    features = np.empty((n_units, (3 if weighted else 2) * n_periods + 1))
    outcomes = data.to_grid(data.y, out=features[:, :n_periods], order=order)
    present = ~np.isnan(outcomes)
    outcomes[~present] = 0.0
    features[:, n_periods] = 1.0
    features[:, -n_periods:] = present
    if weighted:
        weights = data.to_grid(data.row_weights / data.row_weights.mean(), order=order)
        weights[~present] = 0.0
        outcomes *= weights
        features[:, n_periods] = weights.sum(axis=1) / present.sum(axis=1)
        features[:, n_periods + 1 : 2 * n_periods + 1] = weights
    return features


def unbalanced_functionals(
    rows: UnitRows, moments: BlockMoments, cells: list[tuple[int, int, int, np.ndarray]]
) -> tuple[Functionals, Functionals]:
    """The N = pi_g ATT(g, t) and D = pi_g functionals of every cell on an unbalanced panel.

    pi_g is cohort g's share of the panel's units. A unit's influence on N is
    ``pi_g psi_i + ATT (1(i in g) - pi_g)`` (psi_i of the module docstring), on D
    ``1(i in g) - pi_g``; so the ratio N / D is ATT(g, t) with influence psi_i. With row
    weights w_it, each mean is weighted, the means' influences are ``n w_it P_it (Y_it - mean)
    / sum of the w_it P_it`` over the group's rows, and pi_g = sum_{i in g} w_i / n with w_i
    the unit's mean row weight (did's ``aggte``), whose influence is ``1(i in g) w_i - pi_g``.

    Every cell must have rows of its cohort and of its controls in t and in the base period
    (:func:`drop_empty_cells` leaves out the others).
    """
    n_cells, n_blocks = len(cells), rows.block_sizes.size
    p = rows.features.shape[1]
    sizes, means = moments.sizes, moments.means
    n = sizes.sum()
    presence = [rows.weighted_present(j) for j in range(rows.n_periods)]
    counts = sizes[:, None] * means[:, presence]  # (weighted) rows, by block and period
    weighted_sizes = sizes * means[:, rows.weight]  # sum of the units' weights, by block
    totals = sizes[:, None] * means[:, : rows.n_periods]  # their sum of outcomes
    numerators = Functionals(
        np.empty(n_cells), np.zeros((n_cells, n_blocks, p)), np.zeros((n_cells, n_blocks))
    )
    denominators = Functionals(
        np.empty(n_cells), np.zeros((n_cells, n_blocks, p)), np.zeros((n_cells, n_blocks))
    )
    for k, (g, t, base, control) in enumerate(cells):
        att = 0.0
        slope = numerators.slope[k]
        for sign, blocks in ((1.0, np.array([g])), (-1.0, control)):
            for period_sign, j in ((1.0, t), (-1.0, base)):
                count = counts[blocks, j].sum()
                mean = totals[blocks, j].sum() / count
                att += sign * period_sign * mean
                scale = sign * period_sign * weighted_sizes[g] / count
                slope[blocks, rows.outcome(j)] += scale
                slope[blocks, rows.weighted_present(j)] -= scale * mean
        share = weighted_sizes[g] / n
        numerators.value[k] = share * att
        slope[g, rows.weight] += att
        numerators.shift[k] = -att * share
        denominators.value[k] = share
        denominators.slope[k, g, rows.weight] = 1.0
        denominators.shift[k] = -share
    return numerators, denominators


def unbalanced_covariate_functionals(
    rows: UnitRows, cells: list[tuple[int, int, int, np.ndarray]], method: str
) -> tuple[BlockMoments, Functionals, Functionals]:
    """With covariates: every cell's ATT from DRDID's ``drdid_rc``, ``reg_did_rc`` or
    ``std_ipw_did_rc`` (by ``method``; :mod:`models.estimation.drdid_rc`) on the rows of t and
    of the base period
    whose unit is treated or a control, each row with its own period's covariates (as did)
    and its sampling weight,
    its rows' influence scaled by n / rows and summed by unit into a column on the units, and
    the N = pi_g ATT, D = pi_g functionals on those columns."""
    n, n_cells = rows.n_units, len(cells)
    estimator = ESTIMATORS[method]
    present = rows.features[:, rows.present(0) : rows.present(rows.n_periods)] > 0.5
    influence = np.zeros((n, n_cells))
    att = np.empty(n_cells)
    for k, (g, t, base, control) in enumerate(cells):
        members, treated = rows.cell_members(g, control)
        units, post, is_treated = [], [], []
        for j in (t, base):
            here = present[members, j]
            units.append(members[here])
            post.append(np.full(int(here.sum()), float(j == t)))
            is_treated.append(treated[here])
        unit_rows = np.concatenate(units)
        periods = np.repeat([t, base], [units[0].size, units[1].size])
        # the row weights (the presence indicators when unweighted) and the unweighted outcomes
        weights = rows.features[unit_rows, rows.weighted_present(periods)]
        try:
            att[k], psi = estimator(
                rows.features[unit_rows, periods] / weights,
                np.concatenate(post),
                np.concatenate(is_treated),
                rows.covariates[unit_rows, periods, :],
                weights,
            )
        except CellEstimationError as exc:
            raise ValueError(
                f"ATT(g={rows.block_cohorts[g]:g}, t={rows.periods[t]:g}) with "
                f"method={method!r}: {exc}"
            ) from None
        influence[:, k] = np.bincount(unit_rows, weights=psi * (n / psi.size), minlength=n)
    numerators, denominators = column_functionals(rows, cells, att)
    return column_moments(rows, influence), numerators, denominators


def drop_empty_cells(
    rows: UnitRows, moments: BlockMoments, cells: list[tuple[int, int, int, np.ndarray]]
) -> tuple[list[tuple[int, int, int, np.ndarray]], tuple[tuple[int, int], ...]]:
    """The cells that can be estimated, and the (cohort, period) of those that cannot: their
    cohort or their controls have no row in t or in the base period (did's "No units in group
    g in time period t" and "No available control units", an ATT reported as NA). A warning
    names the latter.

    Raises
    ------
    ValueError
        If no cell can be estimated.
    """
    present = [rows.present(j) for j in range(rows.n_periods)]
    counts = moments.sizes[:, None] * moments.means[:, present]  # rows by block and period
    kept, missing, reasons = [], [], []
    for cell in cells:
        g, t, base, control = cell
        empty = [
            (who, j)
            for who, blocks in (
                (f"units of cohort {rows.block_cohorts[g]:g}", [g]),
                ("controls", control),
            )
            for j in (t, base)
            if counts[blocks, j].sum() < 0.5
        ]
        if not empty:
            kept.append(cell)
            continue
        missing.append((int(rows.block_cohorts[g]), int(rows.periods[t])))
        who, j = empty[0]
        reasons.append(
            f"ATT(g={missing[-1][0]}, t={missing[-1][1]}): no {who} in period {rows.periods[j]:g}"
        )
    if not kept:
        raise ValueError(
            "CallawaySantAnna: no ATT(g, t) can be estimated on this unbalanced panel: "
            + "; ".join(reasons[:SHOWN_CELLS])
        )
    if missing:
        more = f" (and {len(missing) - SHOWN_CELLS} more)" if len(missing) > SHOWN_CELLS else ""
        warnings.warn(
            f"CallawaySantAnna: {len(missing)} of {len(cells)} ATT(g, t) cannot be estimated on "
            f"this unbalanced panel and are reported as NA, as did does: "
            f"{'; '.join(reasons[:SHOWN_CELLS])}{more}; aggregate(..., na_rm=True) averages the "
            "others (did's aggte(na.rm = TRUE))",
            UnbalancedPanelWarning,
            stacklevel=3,
        )
    return kept, tuple(missing)


def warn_absent_units(
    rows: UnitRows, moments: BlockMoments, cells: list[tuple[int, int, int, np.ndarray]]
) -> None:
    """Warn which ATT(g, t) miss which units: per cell, how many of the cohort's and of the
    controls' units have no row in t or in the base period (and how many in neither, which do
    not enter the cell at all); the cells with the most absent units are named."""
    sizes, means, scatter = moments.sizes, moments.means, moments.scatter
    absent = np.zeros((len(cells), 4), dtype=np.int64)  # treated, in neither; controls, ...
    totals = np.zeros((len(cells), 2), dtype=np.int64)
    for k, (g, t, base, control) in enumerate(cells):
        pt, pb = rows.present(t), rows.present(base)
        for side, blocks in enumerate((np.array([g]), control)):
            in_t = sizes[blocks] * means[blocks, pt]
            in_base = sizes[blocks] * means[blocks, pb]
            in_both = scatter[blocks, pt, pb] + in_t * means[blocks, pb]
            n_side = sizes[blocks].sum()
            totals[k, side] = round(n_side)
            absent[k, 2 * side] = round(n_side - in_both.sum())
            absent[k, 2 * side + 1] = round(n_side - (in_t + in_base - in_both).sum())
    affected = np.flatnonzero(absent[:, [0, 2]].sum(axis=1) > 0)
    if affected.size == 0:
        return
    worst = affected[np.argsort(-absent[affected][:, [0, 2]].sum(axis=1), kind="stable")]
    details = "; ".join(
        _cell_absences(rows, cells[k], absent[k], totals[k]) for k in worst[:SHOWN_CELLS]
    )
    more = f" (and {affected.size - SHOWN_CELLS} more)" if affected.size > SHOWN_CELLS else ""
    warnings.warn(
        f"CallawaySantAnna: unbalanced panel (allow_unbalanced_panel=True): each ATT(g, t) "
        f"is estimated from the rows present in t and in its base period (did's repeated "
        f"cross-section estimators); {affected.size} of {len(cells)} ATT(g, t) have "
        f"units without a row in t or the base period, who enter through the row they have "
        f"(those with neither do not enter): {details}{more}",
        UnbalancedPanelWarning,
        stacklevel=3,
    )


def _cell_absences(
    rows: UnitRows, cell: tuple[int, int, int, np.ndarray], absent: np.ndarray, totals: np.ndarray
) -> str:
    """One cell's absent units, as ``ATT(g=5, t=7) (base 4): treated 3 of 50 absent (1 in
    neither period), controls 10 of 400 absent (2 in neither)``."""
    g, t, base, _ = cell
    return (
        f"ATT(g={rows.block_cohorts[g]:g}, t={rows.periods[t]:g}) (base "
        f"{rows.periods[base]:g}): treated {absent[0]:,} of {totals[0]:,} absent ({absent[1]:,} "
        f"in neither period), controls {absent[2]:,} of {totals[1]:,} absent ({absent[3]:,} "
        "in neither)"
    )
