"""SunAbraham: Sun and Abraham's (2021) interaction-weighted event study.

A two-way fixed-effects event study pools cohorts treated at different times, so with effects
that differ by cohort its leads and lags mix effects of other event times (Sun and Abraham,
2021). The interaction-weighted estimator avoids this in two steps:

1. The saturated regression
   ``y_it = alpha_i + lambda_t + sum_{g, e != ref} CATT(g, e) D_it^{g,e} + x_it' gamma + e_it``,
   with ``D_it^{g,e} = 1`` when unit i belongs to cohort g (first treated in period g) and
   t - g = e. Never-treated units (or, with ``control="last"``, the last-treated cohort) have no
   indicator: they are the control group. On a balanced panel with never-treated controls and
   no covariates, CATT(g, e) is the difference in differences of cohort means,
   ``(Y_g[g+e] - Y_g[g-1]) - (Y_never[g+e] - Y_never[g-1])`` for ``ref = -1``.
2. The effect at event time e is the average of the CATT(g, e) over the cohorts observed at e,
   weighted by each cohort's share of the treated observations at e; the overall ATT averages
   every CATT(g, e) with e >= 0 by its share of all treated observations at e >= 0. Standard
   errors follow by the delta method from the covariance of the CATTs, the shares treated as
   fixed.

This is what fixest's ``feols(y ~ sunab(cohort, period) | unit + period)`` estimates and how its
``aggregate`` and ``summary(agg = "ATT")`` average it: only the relative period -1 is the
reference, never-treated units are the control, and cohorts treated from the first observed
period on (always treated, no pre-period) are dropped. Cohort shares are those of the sample,
not estimated population shares (fixest's convention; Sun and Abraham also account for
estimating them).

With ``intensity`` (a dose per unit, e.g. the yuan value of a consumer's first counterfeit) the
indicators are multiplied by the unit's dose v_i, so CATT(g, e) is an effect per unit of dose,
and the cohort weights at e are proportional to sum_i v_i^2 over the cohort's units observed at
e instead of their number. The estimand at event time e is the "intensity" average

    theta_e = sum_i v_i tau_ie / sum_i v_i^2   over the treated units i observed at e,

with tau_ie unit i's effect (the target of the two-way per-yuan design too: ``weighting=
"intensity"`` in :mod:`models.consumer.truth`), here without the two-way design's mixing across
cohorts. It is recovered exactly when effects are proportional to the dose within each cohort and
event time. On a balanced panel the per-dose CATT(g, e) is the regression through the origin of the
cohort's outcome changes on the dose, ``sum_{i in g} v_i (Y_i[g+e] - Y_i[g-1] - (lambda_{g+e} -
lambda_{g-1})) / sum_{i in g} v_i^2``, with lambda the estimated period effects. Unlike the
unweighted case, treated units with small doses help estimate lambda (the regression takes their
effects to be proportional to the dose), so with the control group's mean change in place of the
lambda change the formula holds only approximately (exactly when doses are equal within each
cohort).

With sampling weights (``weights=``, fixest's ``feols(..., weights = ~w)``) the saturated
regression is weighted least squares, and a cohort's share at event time e is its sum of the
weights over its rows at e, as fixest's ``aggregate`` computes it by default (``use_weights =
TRUE``: ``colSums(weights * sign(model.matrix))``, in ``aggregate.fixest`` of fixest's R/did.R):
the shares estimate the population's cohort shares. With an intensity each row's weight is
multiplied by its squared dose, the per-dose weighting above (fixest's ``sign`` would ignore the
dose), so the estimand is theta_e with every unit's terms weighted by its sampling weight.

The saturated regression runs on goodwill's fixed-effects engine: on a balanced panel without
covariates the cohort x event-time indicators are never built (``IndicatorDesign`` of
:mod:`models.estimation.design`); covariates or an unbalanced panel go through the dense design.

Reference: Sun, L. and Abraham, S. (2021), "Estimating dynamic treatment effects in event
studies with heterogeneous treatment effects", Journal of Econometrics 225(2), 175-199.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from models.estimation.absorb import DEFAULT_MAXITER, DEFAULT_TOL, FixedEffects
from models.estimation.arguments import convergence, observed_event_time, strict_bool
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.interaction_weighted import (
    Cells,
    SunAbrahamResults,
    cell_names,
    interaction_weighted,
)
from models.estimation.ols import DEFAULT_COLLIN_TOL, fit_within, singletons_kept
from models.estimation.panel_data import (
    PanelData,
    categorical_codes,
    numeric_values,
    require_columns,
)
from models.estimation.regression_weights import (
    refuse_with_weights,
    weighted_effects,
    weights_note,
)
from models.estimation.results import Results
from models.estimation.small_sample import SmallSample
from models.estimation.vcov import VARIANCE_ESTIMATORS, VcovSpec, parse_vcov
from models.estimation.wild_bootstrap import bootstrap_requested, lead_bootstrap
from models.exceptions import AlwaysTreatedWarning

CONTROLS = ("never", "last")

MAX_DENSE_CELLS = 2**28
"""Largest rows x columns of the cohort x event-time indicators built densely (2 GiB)."""


@dataclass(frozen=True)
class _SaturatedPanel:
    """What :class:`SunAbraham` computes once from the panel: the estimation sample."""

    fe: FixedEffects
    sample: np.ndarray | None
    outcome: np.ndarray
    column: np.ndarray
    value: np.ndarray
    cells: Cells
    n_singletons: int
    effective_treated: EffectiveTreated | None


class SunAbraham:
    """Sun and Abraham's interaction-weighted event study (heterogeneity-robust).

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period.
    outcome : str
        Outcome column (e.g. weekly spend in yuan).
    unit, time : str
        Unit identifier and period columns. Periods are integers (e.g. week numbers).
    cohort : str
        First treated period of each row's unit (a period of the panel); NaN or +inf for
        never-treated units.
    ref : int
        Reference event time (< 0; some treated row must have it): no indicator, the effects
        are changes relative to it.
    control : {"never", "last"}
        Control group: the never-treated units, or the last-treated cohort, in which case the
        periods from its treatment on are dropped (never-treated units, if any, stay as
        controls too). ``"last"`` equals ``"never"`` on the periods before the last cohort's
        treatment with that cohort counted as never treated.
    intensity : str, optional
        Column of a positive dose per unit, constant within each treated unit (e.g.
        ``"fake_value"``): the effects are then per unit of it (see the module docstring).
        Ignored on control units' rows.
    covariates : sequence of str, optional
        Further regressors of the saturated regression (fixest: ``y ~ x1 + sunab(...)``).
        They make the indicator matrix dense, which suits panels of moderate size.
    drop_singletons : bool
        Drop observations alone in a unit or period, as :class:`models.FixedEffectsOLS` does
        (a balanced panel has none).
    nonnegative_outcome : bool
        Refuse a negative outcome (for spend); False by default (log spend may be negative).
    weights : str, optional
        Column of positive sampling weights, one per row: weighted least squares with the
        weighted scores in iid, HC1 and CRV1, as fixest's ``feols(..., weights = ~w)``, and cohort
        shares weighted by them, as fixest's ``aggregate`` (see the module docstring). CR3 and
        the bootstrap pre-trend test are not available with weights.

    Notes
    -----
    Units of a cohort with no observed period before its treatment (treated in the first
    period) are dropped with an :class:`AlwaysTreatedWarning`, as fixest's ``sunab`` does; a
    cohort never observed from its treatment on is a control, as in fixest.

    Examples
    --------
    >>> from models import ConsumerSpendModel
    >>> panel, truth = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=12, seed=1)
    >>> panel = panel[panel["fake_week"] != 1]  # cheated in week 1: no week before
    >>> study = SunAbraham(panel, outcome="spend", unit="consumer_id", time="week",
    ...                    cohort="fake_week", intensity="fake_value")
    >>> res = study.fit(vcov="CRV1")
    >>> res.window
    (-11, 10)
    >>> res.event_time_effects().columns.tolist()
    ['estimate', 'se', 'ci_low', 'ci_high']
    >>> res.cohort_effects.columns.tolist()
    ['cohort', 'event_time', 'estimate', 'se', 'weight']
    >>> att, se = res.overall  # per yuan, over event times 0..10
    """

    VCOV: ClassVar[tuple[str, ...]] = tuple(VARIANCE_ESTIMATORS)
    """The variance estimators ``fit(vcov=...)`` supports (of the saturated regression)."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        *,
        ref: int = -1,
        control: str = "never",
        intensity: str | None = None,
        covariates: Sequence[str] = (),
        drop_singletons: bool = True,
        nonnegative_outcome: bool = False,
        weights: str | None = None,
    ) -> None:
        if isinstance(covariates, str):
            raise TypeError("covariates: expected a list of column names")
        require_columns(df, covariates, "covariate")
        if isinstance(ref, bool) or not isinstance(ref, int | np.integer) or ref >= 0:
            raise ValueError(f"ref: expected a negative integer event time, got {ref!r}")
        if control not in CONTROLS:
            raise ValueError(f"control: expected 'never' or 'last', got {control!r}")
        for column in covariates:
            numeric_values(df, column)
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.cohort = cohort
        self.ref = int(ref)
        self.control = control
        self.intensity = intensity
        self.covariates = tuple(covariates)
        self.drop_singletons = strict_bool("drop_singletons", drop_singletons, "SunAbraham")
        self.nonnegative_outcome = strict_bool(
            "nonnegative_outcome", nonnegative_outcome, "SunAbraham"
        )
        self.weights = weights
        self._panel = self._check_panel()

    def _check_panel(self) -> _SaturatedPanel:
        """Validate the panel once; find the estimation sample and the cells.

        Beyond a few passes over the whole panel, works on per-unit and per-period tables and
        on the treated units' rows (a tenth of the study's panel).
        """
        data = PanelData.read(
            self.df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            weights=self.weights,
            nonnegative_outcome=self.nonnegative_outcome,
        )
        warn_few_effective(data.effective_treated, "SunAbraham", self.intensity)
        fe, unit_codes, period_codes = data.fe, data.unit_codes, data.period_codes
        period_values, cohorts = data.periods, data.cohorts
        cohorts, last = control_group(cohorts, self.control, self.cohort)
        period_kept = period_values < (np.inf if last is None else last)
        rows = np.flatnonzero(np.isfinite(cohorts)[unit_codes])
        rows = rows[period_kept[period_codes[rows]]]
        cohorts, always = fixest_cohorts(
            cohorts, unit_codes[rows], period_values[period_codes[rows]]
        )
        unit_kept = ~np.isin(cohorts, always)
        if always.size:
            dropped_rows = np.isin(cohorts[unit_codes[rows]], always)
            warn_always_treated(
                always, int((~unit_kept).sum()), int(dropped_rows.sum()), self.cohort, stacklevel=4
            )
        sample = None
        if not (unit_kept.all() and period_kept.all()):
            sample = unit_kept[unit_codes] & period_kept[period_codes]
            fe = fe.subset(sample)
        keep = singletons_kept(fe) if self.drop_singletons else None
        if keep is not None:
            fe = fe.subset(keep)
            if sample is None:
                sample = keep
            else:
                sample[sample] = keep
        # The treated rows of the sample, by their row number in the panel and in the sample.
        rows = rows[np.isfinite(cohorts[unit_codes[rows]])]
        position = rows
        if sample is not None:
            rows = rows[sample[rows]]
            position = np.cumsum(sample)[rows] - 1
        if rows.size == 0:
            raise ValueError(
                f"column {self.cohort!r}: no treated cohort is observed both before and after "
                "its treatment"
            )
        dose = np.ones(rows.size) if data.doses is None else data.doses[unit_codes[rows]]
        mass = dose**2 if data.row_weights is None else dose**2 * data.row_weights[rows]
        column, cells = _cells(
            position,
            cohorts[unit_codes[rows]],
            period_values[period_codes[rows]],
            mass,
            fe.n_obs,
            self.ref,
        )
        value = np.ones(fe.n_obs)
        value[position] = dose
        return _SaturatedPanel(
            fe=weighted_effects(fe, data.row_weights, sample),
            sample=sample,
            outcome=data.y if sample is None else data.y[sample],
            column=column,
            value=value,
            cells=cells,
            n_singletons=0 if keep is None else int(keep.size - keep.sum()),
            effective_treated=data.effective_treated,
        )

    def _design(self, tol: float, maxiter: int) -> IndicatorDesign | DenseDesign:
        """The within-transformed covariates and cohort x event-time indicators."""
        panel = self._panel
        names = panel.cells.names
        if not self.covariates:
            return IndicatorDesign.absorb(
                names, panel.column, panel.value, panel.fe, tol=tol, maxiter=maxiter
            )
        n_covariates = len(self.covariates)
        shape = (panel.column.size, n_covariates + len(names))
        if shape[0] * shape[1] > MAX_DENSE_CELLS:
            raise ValueError(
                f"covariates: the saturated design would be a dense {shape[0]:,} x {shape[1]} "
                f"matrix, above the limit of {MAX_DENSE_CELLS:,} entries; fit without covariates"
            )
        x = np.zeros(shape, order="F")
        for j, name in enumerate(self.covariates):
            values = numeric_values(self.df, name)
            x[:, j] = values if panel.sample is None else values[panel.sample]
        rows = np.flatnonzero(panel.column >= 0)
        x[rows, n_covariates + panel.column[rows]] = panel.value[rows]
        return DenseDesign.absorb(
            (*self.covariates, *names), x, panel.fe, tol=tol, maxiter=maxiter, overwrite=True
        )

    def _cluster_codes(self, name: str) -> tuple[np.ndarray, int]:
        """Codes ``0..G-1`` of a cluster column on the estimation sample, and G."""
        fe, sample = self._panel.fe, self._panel.sample
        if name in fe.names:
            which = fe.names.index(name)
            return fe.codes[which], fe.sizes[which]
        return categorical_codes(self.df if sample is None else self.df.loc[sample], name)

    def fit(
        self,
        vcov: VcovSpec = "CRV1",
        *,
        ssc: SmallSample | None = None,
        pretrend: str = "wald",
        pretrend_draws: int = 999,
        seed: int = 0,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        collin_tol: float = DEFAULT_COLLIN_TOL,
    ) -> SunAbrahamResults:
        """Estimate the CATT(g, e) and aggregate them by event time.

        Parameters
        ----------
        vcov : str or dict
            ``"CRV1"`` (clustered by unit, the default), ``"iid"``, ``"HC1"``,
            ``{"CRV1": "col"}`` / ``{"CRV1": "a+b"}``, or ``"CR3"``, the leave-one-unit-out
            jackknife (balanced panel, no covariates, weights or other fixed effects; robust to
            a few dominant doses, :mod:`models.estimation.jackknife`); see
            :mod:`models.estimation.vcov`.
        ssc : SmallSample, optional
            Small-sample factor and t degrees of freedom, :func:`models.estimation.small_sample.ssc`
            (fixest's ``ssc()``; default: fixest's default).
        pretrend : {"wald", "bootstrap"}
            The test ``pretrend_test()`` returns: the Wald test from the covariance, or the wild
            cluster bootstrap of it with the null imposed (balanced panel without weights,
            clustered by unit; :mod:`models.estimation.wild_bootstrap`), which keeps its size
            when a few units dominate the leads.
        pretrend_draws, seed : int
            Draws of the bootstrap and the seed of its Rademacher signs.
        tol, maxiter, collin_tol
            As for :meth:`models.estimation.ols.FixedEffectsOLS.fit`.

        Returns
        -------
        SunAbrahamResults
            Effects by event time (``params``, ``event_time_effects()``, ``cumulative``), the
            overall ATT as ``overall``, the CATT(g, e) as ``cohort_effects`` and the saturated
            regression as ``saturated``.
        """
        convergence("SunAbraham", tol, maxiter, collin_tol)
        request = parse_vcov(vcov, [self.unit], self.VCOV, "SunAbraham", ssc)
        bootstrap = bootstrap_requested("SunAbraham", pretrend, pretrend_draws, seed)
        refuse_with_weights("SunAbraham", self.weights, request, bootstrap)
        panel = self._panel
        fitted = fit_within(
            y=panel.outcome,
            design=self._design(tol, maxiter),
            fe=panel.fe,
            request=request,
            cluster_values=self._cluster_codes,
            tol=tol,
            maxiter=maxiter,
            collin_tol=collin_tol,
            n_singletons=panel.n_singletons,
        )
        saturated = Results(
            "SunAbraham (cohort x event time)", self.outcome, fitted.estimates, fitted.statistics
        )
        return interaction_weighted(
            saturated,
            panel.cells,
            self.ref,
            self.intensity,
            self.control,
            panel.effective_treated,
            lead_bootstrap(fitted, pretrend_draws, seed) if bootstrap else None,
            notes=weights_note(self.weights),
        )


def warn_always_treated(
    always: np.ndarray, n_units: int, n_rows: int, column: str, stacklevel: int
) -> None:
    """Warn that the ``n_units`` units (``n_rows`` rows) of the cohorts ``always``, with no
    pre-treatment period, are dropped (``stacklevel`` as for :func:`warnings.warn`, counted
    from here)."""
    warnings.warn(
        f"dropped {n_units:,} unit(s) ({n_rows:,} rows) of cohort(s) "
        f"{', '.join(f'{g:g}' for g in always)} in column {column!r}: treated from their first "
        "observed period on, they have no pre-treatment period",
        AlwaysTreatedWarning,
        stacklevel=stacklevel,
    )


def control_group(
    cohorts: np.ndarray, control: str, column: str
) -> tuple[np.ndarray, float | None]:
    """Units' cohorts with the control units at +inf, and the last cohort for ``"last"``."""
    treated = np.isfinite(cohorts)  # some are: PanelData refuses a panel without treated units
    if control == "never":
        if treated.all():
            raise ValueError(
                f"control='never' needs never-treated units (cohort NaN or +inf in column "
                f"{column!r}); there are none: use control='last'"
            )
        return cohorts, None
    last = float(cohorts[treated].max())
    if (cohorts[treated] == last).all():
        raise ValueError(
            f"control='last' needs two treated cohorts in column {column!r}, found only {last:g}"
        )
    return np.where(cohorts == last, np.inf, cohorts), last


def fixest_cohorts(
    cohorts: np.ndarray, row_units: np.ndarray, row_periods: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """fixest's ``sunab`` rules, from the treated units' rows in the sample.

    A cohort never observed from its treatment on is a control: its units' cohort becomes
    +inf. Returns the units' cohorts and the cohorts never observed before their treatment
    (always treated).
    """
    row_cohorts = cohorts[row_units]
    before = row_periods < row_cohorts
    seen_before = np.unique(row_cohorts[before])
    seen_after = np.unique(row_cohorts[~before])
    never_after = np.setdiff1d(seen_before, seen_after)
    if never_after.size:
        cohorts = np.where(np.isin(cohorts, never_after), np.inf, cohorts)
    return cohorts, np.setdiff1d(seen_after, seen_before)


def _cells(
    position: np.ndarray,
    cohort: np.ndarray,
    period: np.ndarray,
    mass: np.ndarray,
    n_obs: int,
    ref: int,
) -> tuple[np.ndarray, Cells]:
    """The cell column of every sample row (-1: none) and the cells, in order of event time
    then cohort, from the treated rows at ``position`` in the sample; a cell's weight sums the
    ``mass`` of its rows (the squared dose, times the sampling weight if any)."""
    event_time = (period - cohort).astype(np.int64)
    observed_event_time("ref", ref, event_time, "SunAbraham")
    indicated = event_time != ref
    event_time, cohort = event_time[indicated], cohort[indicated]
    cohorts, cohort_index = np.unique(cohort, return_inverse=True)
    lowest = int(event_time.min())
    keys, column_of_row = np.unique(
        (event_time - lowest) * cohorts.size + cohort_index, return_inverse=True
    )
    column = np.full(n_obs, -1, dtype=np.int16 if keys.size < 2**15 else np.int32)
    column[position[indicated]] = column_of_row
    cell_event_time = keys // cohorts.size + lowest
    cell_cohort = cohorts[keys % cohorts.size]
    names = cell_names(cell_event_time, cell_cohort)
    weight = np.bincount(column_of_row, weights=mass[indicated], minlength=keys.size)
    return column, Cells(cell_cohort, cell_event_time, weight, names)
