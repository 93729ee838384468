"""The pre-trend test of the imputation estimator (Borusyak, Jaravel and Spiess 2024, Test 1).

The imputation estimator uses the untreated observations only to fit the unit and period
effects, so its parallel-trends check is a separate regression on those same observations:
the outcome on indicators of chosen leads (event times k < 0 of the not-yet-treated units'
rows) with unit and period fixed effects,

    Y_it = alpha_i + lambda_t + sum_k gamma_k 1[t - g_i = k] + e_it     (untreated rows only),

and a joint test that every gamma_k is zero. The leads are kept out of the imputation itself
(BJS recommend this separation: a pre-trend fitted on the treated observations' own
comparison would be contaminated by the effects). didimputation's ``pretrends`` is this
regression (``fixest::feols`` on the untreated rows, clustered by ``cluster_var``, by default
the unit, in its source since 2025); so is :func:`imputation_pretrends`, with fixest's default
small-sample factor. The standard errors didimputation's README prints for ``pretrends =
-5:-1`` on its df_het panel come from its 2023 source, which set no cluster: they are the iid
ones (``vcov="iid"`` reproduces them to their eight digits).

didimputation's ``pretrends = TRUE`` puts an indicator on every event time of the untreated
rows, never-treated units included, a set collinear with the unit effects that fixest resolves
by dropping whichever indicator it meets last; goodwill asks for the leads explicitly instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from models.estimation.ols import FixedEffectsOLS
from models.estimation.panel_data import require_columns
from models.estimation.results import EventTimes, Results
from models.estimation.vcov import VcovSpec


def imputation_pretrends(
    df: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    leads: Sequence[int],
    *,
    anticipation: int = 0,
    weights: str | None = None,
    cluster: str | None = None,
    vcov: VcovSpec = "CRV1",
    intensity: str | None = None,
) -> Results:
    """The lead coefficients of BJS's pre-trend regression on the untreated observations.

    Parameters
    ----------
    df : pandas.DataFrame
        The long panel given to :class:`~models.estimation.imputation.ImputationDiD`.
    outcome, unit, time, cohort : str
        Its columns (cohort NaN or +inf for never treated).
    leads : sequence of int
        The event times k < 0 to test (didimputation's ``pretrends``, e.g. ``range(-5, 0)``);
        with anticipation, k < -anticipation.
    anticipation : int
        As for the imputation: rows from ``g - anticipation`` on are treated, not tested.
    weights : str, optional
        Column of sampling weights: weighted least squares, as didimputation weights this
        regression by its ``wname``.
    cluster : str, optional
        The column ``"CRV1"`` clusters by (didimputation's ``cluster_var``); the unit by default.
    vcov : str or dict
        ``"CRV1"`` (clustered by ``cluster``), ``{"CRV1": col}``, ``"iid"`` or ``"HC1"``;
        fixest's default small-sample factor.
    intensity : str, optional
        Column of the treated units' doses: each lead indicator is multiplied by the dose, so
        gamma_k is a pre-trend per unit of dose, weighted by dose as the imputation's effects
        per unit of dose are (:mod:`~models.estimation.imputation_event_study`); not
        didimputation's test, which has none.

    Returns
    -------
    Results
        ``params`` named ``event_time::k`` (one per lead); ``pretrend_test()`` is the joint F
        test that every lead is zero.
    """
    leads = _check_leads(leads, anticipation)
    require_columns(df, [outcome, unit, time, cohort])
    cohorts = pd.to_numeric(df[cohort], errors="coerce").to_numpy(dtype=float)
    periods = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    cohorts = np.where(np.isnan(cohorts), np.inf, cohorts)
    untreated = periods < cohorts - anticipation
    if vcov == "CRV1":
        vcov = {"CRV1": cluster or unit}
    extra = [c for c in (weights, intensity) if c is not None]
    columns = dict.fromkeys([outcome, unit, time, *extra, *_cluster_columns(vcov)])
    data = df.loc[untreated, list(columns)].copy()
    event = periods[untreated] - cohorts[untreated]  # -inf for never-treated units
    names = [f"event_time::{k}" for k in leads]
    dose = 1.0 if intensity is None else data[intensity].to_numpy(dtype=float)
    for name, k in zip(names, leads, strict=True):
        data[name] = np.where(event == k, dose, 0.0)
        if not data[name].any():
            raise ValueError(
                f"leads: no untreated row of a treated unit at event time {k} (column "
                f"{cohort!r}, {time!r})"
            )
    model = FixedEffectsOLS(
        data, outcome, names, [unit, time], weights=weights, drop_singletons=False
    )
    fitted = model.fit(vcov)
    event_times = EventTimes(event_times=leads, window=(leads[0], leads[-1]))
    return Results(
        "ImputationDiD pre-trends (untreated observations)",
        outcome,
        fitted.estimates,
        fitted.regression,
        event_times,
        notes=(("Sample", "untreated observations; leads of not-yet-treated units"),),
    )


def _cluster_columns(vcov: VcovSpec) -> list[str]:
    """The columns a ``{"CRV1": ...}`` request clusters by (checked by the fit)."""
    if not isinstance(vcov, Mapping):
        return []
    value = next(iter(vcov.values()), [])
    return [c.strip() for c in value.split("+")] if isinstance(value, str) else list(value)


def _check_leads(leads: Sequence[int], anticipation: int) -> tuple[int, ...]:
    values = np.asarray(leads)
    if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu":
        raise ValueError(f"leads: expected a non-empty list of negative integers, got {leads!r}")
    if values.max() >= -anticipation:
        raise ValueError(
            f"leads: expected event times below -anticipation ({-anticipation}), the untreated "
            f"rows of treated units; got {int(values.max())}"
        )
    return tuple(int(k) for k in np.unique(values))
