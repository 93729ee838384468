"""The second step of Sun and Abraham's (2021) estimator: the interaction-weighted averages.

:class:`~models.estimation.sun_abraham.SunAbraham` estimates one CATT(g, e) per cohort g and
event time e in a saturated regression; :func:`interaction_weighted` averages them by event time,
each cohort weighted by its share of the treated observations at e (of their sum of squared doses
with an intensity, of their sampling weights with weights: :class:`Cells` carries these sums),
and over every e >= 0 into the overall ATT, with the covariance of the delta
method (the shares treated as fixed). :class:`SunAbrahamResults` holds both steps.

Reference: Sun, L. and Abraham, S. (2021), "Estimating dynamic treatment effects in event
studies with heterogeneous treatment effects", Journal of Econometrics 225(2), 175-199.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.estimation.effective_treated import EffectiveTreated
from models.estimation.inference import LinearCombination, WaldTest
from models.estimation.results import Estimates, EventTimes, Results
from models.estimation.vcov import Covariance


@dataclass(frozen=True)
class Cells:
    """The cohort x event-time cells that get an indicator, in order of event time, cohort."""

    cohort: np.ndarray
    event_time: np.ndarray
    weight: np.ndarray
    names: tuple[str, ...]


def cell_names(event_time: np.ndarray, cohort: np.ndarray) -> tuple[str, ...]:
    """The saturated regression's coefficient names, ``event_time::e:cohort::g``."""
    return tuple(
        f"event_time::{e}:cohort::{g:.0f}" for e, g in zip(event_time, cohort, strict=True)
    )


def interaction_weighted(
    saturated: Results,
    cells: Cells,
    ref: int,
    intensity: str | None,
    control: str,
    effective_treated: EffectiveTreated | None = None,
    pretrend: Callable[[np.ndarray], WaldTest] | None = None,
    *,
    notes: tuple[tuple[str, str], ...] = (),
) -> SunAbrahamResults:
    """Average the estimated CATT(g, e) by event time and over e >= 0 (the ATT).

    ``pretrend``, if given, computes the joint test of the leads from their averaging weights
    on the saturated coefficients (leads x coefficients); ``pretrend_test()`` returns it.
    ``notes`` are further summary rows, after the control group.
    """
    position = {name: j for j, name in enumerate(saturated.names)}
    estimated = np.array([name in position for name in cells.names])
    columns = np.array([position[name] for name in cells.names if name in position], dtype=np.intp)
    event_time, weight = cells.event_time[estimated], cells.weight[estimated]
    times, which = np.unique(event_time, return_inverse=True)
    share = weight / np.bincount(which, weights=weight)[which]
    post = event_time >= 0
    if not post.any():
        raise ValueError("every CATT(g, e) with e >= 0 was dropped as collinear")
    combination = np.zeros((times.size + 1, len(saturated.names)))
    combination[which, columns] = share
    combination[-1, columns[post]] = weight[post] / weight[post].sum()
    estimates = combination @ saturated.coefficients
    covariance = combination @ saturated.covariance.matrix @ combination.T
    covariance = (covariance + covariance.T) / 2
    lead_test = None if pretrend is None else pretrend(combination[:-1][times < 0])
    catt_se = np.sqrt(np.diag(saturated.covariance.matrix))[columns]
    components = pd.DataFrame(
        {
            "cohort": cells.cohort[estimated].astype(np.int64),
            "event_time": event_time,
            "estimate": saturated.coefficients[columns],
            "se": catt_se,
            "weight": share,
        }
    )
    return SunAbrahamResults(
        model_name="SunAbraham",
        outcome=saturated.outcome,
        estimates=Estimates(
            names=tuple(f"event_time::{e}" for e in times),
            coefficients=estimates[:-1],
            covariance=Covariance(
                covariance[:-1, :-1],
                saturated.covariance.df_t,
                saturated.covariance.request,
                saturated.covariance.n_clusters,
            ),
            nobs=saturated.nobs,
        ),
        regression=saturated.regression,
        event=EventTimes(
            event_times=tuple(int(e) for e in times),
            ref=ref,
            window=(int(times[0]), int(times[-1])),
            intensity=intensity,
            components=components,
            pretrend=lead_test,
        ),
        overall=LinearCombination(float(estimates[-1]), float(np.sqrt(covariance[-1, -1]))),
        notes=(("Control group", f"{control} treated"), *notes),
        treated_units=effective_treated,
        saturated=saturated,
    )


@dataclass(frozen=True, kw_only=True)
class SunAbrahamResults(Results):
    """Results of :class:`SunAbraham`: effects by event time, the ATT and the CATT(g, e).

    ``params`` (names ``event_time::e``) are the interaction-weighted effects by event time,
    with the covariance of the delta method; ``overall`` is the (estimate, se) of the ATT over
    event times e >= 0 (fixest's ``summary(est, agg = "ATT")``).

    Attributes
    ----------
    saturated : Results
        The saturated regression: one coefficient CATT(g, e) per cohort and event time, named
        ``event_time::e:cohort::g``, and any covariates, with their joint covariance.
    """

    saturated: Results

    @property
    def cohort_effects(self) -> pd.DataFrame:
        """One row per estimated CATT(g, e): cohort, event_time, estimate, se and weight (the
        cohort's share of event time e in the aggregation); :meth:`Results.components`."""
        return self.components()
