"""Sampling weights and clusters above the unit, one value per unit, as the R package did reads
them (``weightsname`` and ``clustervars`` of ``att_gt``).

did (2.5.1, ``R/pre_process_did.R``, ``R/att_gt.R``, ``R/mboot.R``):

- weights: non-negative with a positive mean; each 2x2 comparison passes them to DRDID's
  estimators, which normalise them to mean 1 over the comparison's units (``i.weights``), and
  ``aggte`` weights the cohorts by their weighted shares ``pg = mean(w 1[G = g])``. On a
  balanced panel did resolves weights that vary within a unit by the earlier period of each
  comparison (``fix_weights``); here they must be constant within a unit (a ValueError from
  :attr:`~models.estimation.panel_data.PanelData.unit_weights`). They are normalised to mean
  1 over the units, which changes no estimate or standard error. On an unbalanced panel did
  weights each row by its own weight (which may vary within a unit) and each unit, in
  ``aggte``, by its mean row weight (:mod:`models.estimation.unbalanced`).
- clusters: at most one variable besides the unit id, constant within each unit; clustering by
  the unit id itself is no clustering. Both the analytic variance (``bstrap = FALSE``) and the
  multiplier bootstrap use the sums of the influence functions by cluster:
  ``V = sum_c S_c S_c' / n^2`` (no small-sample factor).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.estimation.panel_data import PanelData, require_columns


def unit_weights(data: PanelData) -> np.ndarray | None:
    """Each unit's sampling weight (in unit-code order), normalised to mean 1; None without
    weights. Raises the ValueError of ``PanelData.unit_weights`` when they vary within a unit."""
    weights = data.unit_weights
    return None if weights is None else weights / weights.mean()


def unit_clusters(data: PanelData, cluster: str | None) -> np.ndarray | None:
    """Each unit's cluster code (0..clusters-1, in unit-code order); None without clusters or
    when ``cluster`` is the unit id (did then clusters by unit, as without it).

    Raises
    ------
    ValueError
        If the column is missing, has missing values, or varies within a unit.
    """
    if cluster is None or cluster == data.unit:
        return None
    df = data.df
    require_columns(df, [cluster], "cluster")
    values = df[cluster]
    if values.isna().any():
        raise ValueError(
            f"cluster column {cluster!r}: expected a value on every row, found "
            f"{int(values.isna().sum()):,} missing"
        )
    codes, _ = pd.factorize(values, sort=True)
    units = data.unit_codes
    by_unit = np.empty(data.n_units, dtype=np.intp)
    by_unit[units] = codes
    varying = by_unit[units] != codes
    if varying.any():
        example = df[data.unit].to_numpy()[np.argmax(varying)]
        raise ValueError(
            f"cluster column {cluster!r}: expected one value per unit (did's clustervars must "
            f"be time-invariant), but unit {example} has several"
        )
    _, compact = np.unique(by_unit, return_inverse=True)
    return compact
