"""The value-weighted per-unit-of-dose path of an event study fitted per treated unit.

A regression on event indicators multiplied by each unit's dose v_i (the study's per-yuan
design, ``intensity=`` of the estimators) targets the "intensity-weighted" effect

    tau_k = sum_i v_i e_ik / sum_i v_i^2,

which weights the units treated at event time k by v_i^2. The spend a platform loses per yuan
of counterfeit it sells is the "value-weighted" effect

    tau_k = sum_i e_ik / sum_i v_i = (mean_i e_ik) / (mean_i v_i),

the mean effect per treated unit divided by the mean dose of the same units. The two coincide
only when every unit loses the same amount per unit of dose (see ``models.consumer.truth``).
:func:`value_weighted` turns an event study fitted in outcome units per treated unit (no
intensity) into the second: each event time's effect b_k is divided by the mean dose vbar_k of
the treated units' rows at that event time (period - cohort == k; for a binned end point of a
window, every row the bin pools). An estimator that averages cohort-specific effects (its
result has ``components``: Callaway-Sant'Anna, Sun-Abraham) gets the mean dose of the same
cohorts with the same weights, so cohorts it leaves out (treated from the first period, or the
control cohort) are left out of the mean too; for the others (TWFE, imputation) every treated
row at k counts.

Inference is conditional on the doses, as regression inference conditions on its regressors:
the covariance of the ratios is ``cov(b_k, b_l) / (vbar_k vbar_l)`` (the delta method with
vbar fixed). This matches a truth computed over the panel's own treated units (as
``SpendTruth.multiplier`` is). Read as a sample from a superpopulation of doses, the ratio has
two further delta-method terms, ``r_k r_l cov(vbar_k, vbar_l) / (vbar_k vbar_l)`` and the
covariances of b with vbar; :func:`dose_means` estimates ``cov(vbar_k, vbar_l)`` from each
unit's influence on the means, and ``value_weighted(..., dose_sampling=True)`` adds the first
term (the covariance of b with vbar is not available from every estimator's result).

With sampling weights w_i (the ``weights`` column the per-unit fit was weighted by) both
averages are weighted: tau_k = sum_i w_i e_ik / sum_i w_i v_i, so vbar_k is the w-weighted
mean dose of the same rows (within each cohort of a components estimator).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models.estimation.effective_treated import EffectiveTreated
from models.estimation.inference import Estimates
from models.estimation.panel_data import PanelData
from models.estimation.results import EventTimes, Results

__all__ = ["DoseMeans", "dose_means", "value_weighted"]


@dataclass(frozen=True)
class DoseMeans:
    """The mean dose of the treated units' rows at each event time of a result.

    Attributes
    ----------
    mean : pandas.Series
        vbar_k by event time (the result's event times, in its order).
    cov : pandas.DataFrame
        Their sampling covariance over units (the sum of the outer products of each unit's
        influence on the means), for the superpopulation reading of the doses.
    n_rows : pandas.Series
        The treated rows each mean averages (with a positive weight).
    n_units : int
        The treated units with such a row.
    treated : EffectiveTreated
        Their effective number: all of them, since a value-weighted estimate weights them
        equally, or Kish's effective size of their sampling weights.
    """

    mean: pd.Series
    cov: pd.DataFrame
    n_rows: pd.Series
    n_units: int
    treated: EffectiveTreated


def _event_layer(results: Results) -> EventTimes:
    """The result's event times, checked to be effects by event time per treated unit."""
    if results.event is None or results.event.index != "event_time":
        raise ValueError(
            f"value_weighted: {results.model_name} has no effects by event time (expected an "
            "event study or a dynamic aggregation)"
        )
    if results.event.intensity is not None:
        raise ValueError(
            f"value_weighted: {results.model_name} is already per unit of "
            f"{results.event.intensity!r}; fit it per treated unit (intensity=None)"
        )
    return results.event


def dose_means(
    results: Results,
    df: pd.DataFrame,
    unit: str,
    time: str,
    cohort: str,
    dose: str,
    weights: str | None = None,
) -> DoseMeans:
    """The mean dose of the treated units observed at each event time of ``results``.

    Parameters
    ----------
    results : Results
        An event study (or dynamic aggregation) fitted per treated unit, without intensity.
    df : pandas.DataFrame
        The panel it was fitted to (read with :class:`PanelData`, so the same checks apply).
    unit, time, cohort : str
        Its columns, as given to the estimator.
    dose : str
        Column of each treated unit's dose (e.g. ``"fake_value"``, yuan).
    weights : str, optional
        Column of the sampling weights ``results`` was fitted with: the means are weighted.

    Returns
    -------
    DoseMeans

    Raises
    ------
    ValueError
        If ``results`` is not per treated unit by event time, a column is bad (as
        :class:`PanelData` says), or an event time has no treated row.
    """
    event = _event_layer(results)
    panel = PanelData.read(df, results.outcome, unit, time, cohort, dose, weights=weights)
    rows, event_time = panel.treated_rows()
    if rows.size == 0:
        raise ValueError(f"value_weighted: column {cohort!r} has no treated unit")
    if event.bin_endpoints:
        event_time = np.clip(event_time, *event.window)
    times = np.asarray(event.event_times)
    lowest = int(min(times.min(), event_time.min()))
    position = np.full(int(max(times.max(), event_time.max())) - lowest + 1, -1)
    position[times - lowest] = np.arange(times.size)
    column = position[event_time.astype(np.intp) - lowest]
    kept = column >= 0
    rows, column = rows[kept], column[kept]
    units = panel.unit_codes[rows]
    values = panel.doses[units]
    sampling = np.ones(rows.size) if panel.row_weights is None else panel.row_weights[rows]
    weight = _row_weights(event.components, panel.cohorts[units], times[column], sampling)
    total = np.bincount(column, weights=weight, minlength=times.size)
    if (total == 0).any():
        missing = ", ".join(str(t) for t in times[total == 0])
        raise ValueError(
            f"value_weighted: no treated row of {results.model_name}'s data at event time(s) "
            f"{missing}, so no mean dose to divide by"
        )
    weight = weight / total[column]
    mean = np.bincount(column, weights=weight * values, minlength=times.size)
    # Unit i's influence on vbar_k: the sum over its rows at k of weight * (v_i - vbar_k).
    treated_units, unit_index = np.unique(units, return_inverse=True)
    influence = np.zeros((treated_units.size, times.size))
    np.add.at(influence, (unit_index, column), weight * (values - mean[column]))
    n_rows = np.bincount(column[weight > 0], minlength=times.size)
    counted = np.unique(units[weight > 0])
    if panel.row_weights is None:
        treated = EffectiveTreated.equal(counted.size)
    else:
        treated = EffectiveTreated.of_sampling(panel.mean_unit_weights[counted])
    names = pd.Index(times, name="event_time")
    return DoseMeans(
        mean=pd.Series(mean, index=names, name="mean_dose"),
        cov=pd.DataFrame(influence.T @ influence, index=names, columns=names),
        n_rows=pd.Series(n_rows, index=names, name="n_rows"),
        n_units=int(counted.size),
        treated=treated,
    )


def _row_weights(
    components: pd.DataFrame | None,
    cohorts: np.ndarray,
    event_times: np.ndarray,
    sampling: np.ndarray,
) -> np.ndarray:
    """Each treated row's weight in the mean dose at its event time (before normalising).

    Without components every row counts by its sampling weight (once, unweighted). An
    estimator that averages cohort-specific effects (``components``: cohort, event_time,
    weight) weights each cohort's rows at k by the cohort's weight in the effect at k times the
    row's share of the cohort's sampling weight there, so cohorts it leaves out (always
    treated, or the control cohort) do not count.
    """
    if components is None:
        return sampling
    cohort_values, cohort_code = np.unique(cohorts, return_inverse=True)
    time_values, time_code = np.unique(event_times, return_inverse=True)
    table = np.zeros((cohort_values.size, time_values.size))  # a cell absent from components: 0
    weight_cohort = components["cohort"].to_numpy(dtype=float)
    weight_time = components["event_time"].to_numpy(dtype=float)
    row = np.minimum(np.searchsorted(cohort_values, weight_cohort), cohort_values.size - 1)
    col = np.minimum(np.searchsorted(time_values, weight_time), time_values.size - 1)
    found = (cohort_values[row] == weight_cohort) & (time_values[col] == weight_time)
    table[row[found], col[found]] = np.nan_to_num(components["weight"].to_numpy()[found])
    cell = cohort_code * time_values.size + time_code
    cell_total = np.bincount(cell, weights=sampling)[cell]
    return table[cohort_code, time_code] * sampling / cell_total


def value_weighted(
    results: Results,
    df: pd.DataFrame,
    unit: str,
    time: str,
    cohort: str,
    dose: str,
    *,
    weights: str | None = None,
    dose_sampling: bool = False,
) -> Results:
    """Value-weighted effects per unit of dose: each event time's effect / its mean dose.

    Parameters
    ----------
    results : Results
        An event study or dynamic aggregation fitted in outcome units per treated unit (any
        goodwill estimator with ``intensity=None``).
    df : pandas.DataFrame
        The panel it was fitted to.
    unit, time, cohort : str
        Its columns, as given to the estimator.
    dose : str
        Column of each treated unit's dose (the yuan value of its first counterfeit).
    weights : str, optional
        Column of the sampling weights ``results`` was fitted with (then the mean doses are
        weighted by them, and the effective number of treated units is Kish's
        ``(sum w)^2 / sum w^2``).
    dose_sampling : bool
        False (the default): inference conditional on the doses,
        ``cov(b_k, b_l) / (vbar_k vbar_l)``. True: also the sampling variance of the mean
        doses, ``+ r_k r_l cov(vbar_k, vbar_l) / (vbar_k vbar_l)`` (see the module docstring).

    Returns
    -------
    Results
        The same event times, ``intensity`` set to ``dose`` (so per unit of dose everywhere,
        e.g. ``cumulative(0, 11)`` is the 12-week spend change per yuan sold and
        ``ResponsePath.from_results`` accepts it), the model named "..., value-weighted", the
        regression statistics and reference distribution of the fit, and no per-cohort
        components or overall average (they are per treated unit). Its
        ``effective_treated`` is the number of treated units: it weights them equally.

    Examples
    --------
    >>> from models import ConsumerSpendModel, EventStudy
    >>> panel, truth = ConsumerSpendModel().simulate(n_consumers=4_000, n_weeks=22, seed=3)
    >>> columns = dict(unit="consumer_id", time="week", cohort="fake_week")
    >>> per_victim = EventStudy(panel, outcome="spend", **columns).fit()
    >>> per_yuan = value_weighted(per_victim, panel, **columns, dose="fake_value")
    >>> per_yuan.model_name, per_yuan.intensity
    ('EventStudy, value-weighted', 'fake_value')
    """
    means = dose_means(results, df, unit, time, cohort, dose, weights)
    vbar = means.mean.to_numpy()
    ratio = results.coefficients / vbar
    scale = np.outer(vbar, vbar)
    matrix = results.covariance.matrix / scale
    if dose_sampling:
        matrix = matrix + np.outer(ratio, ratio) * means.cov.to_numpy() / scale
    estimates = Estimates(
        names=results.names,
        coefficients=ratio,
        covariance=replace(results.covariance, matrix=matrix),
        nobs=results.nobs,
    )
    variance = "with dose sampling" if dose_sampling else "conditional on the doses"
    return Results(
        model_name=f"{results.model_name}, value-weighted",
        outcome=results.outcome,
        estimates=estimates,
        regression=results.regression,
        event=replace(
            results.event,
            intensity=dose,
            components=None,
            # Dividing by constants keeps the correlations, and so a sup-t band's critical value.
            uniform_band=None if dose_sampling else results.event.uniform_band,
        ),
        notes=(
            *results.notes,
            ("Estimand", f"value-weighted: effect / mean {dose} at each event time"),
            ("Variance", f"delta method, {variance}"),
        ),
        treated_units=means.treated,
    )
