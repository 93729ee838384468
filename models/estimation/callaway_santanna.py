"""Heterogeneity-robust staggered difference-in-differences: Callaway and Sant'Anna (2021).

Group-time average treatment effects ATT(g, t): for the units first treated in period g (cohort
g), the mean change of the outcome from a base period b to period t, minus the same change for a
control group of units not treated by then:

    ATT(g, t) = E[Y_t - Y_b | G = g] - E[Y_t - Y_b | C],

with C the never-treated units (``control="never"``) or the units not yet treated at
max(t, b) + anticipation (``control="notyet"``). The base period is ``g - 1 - anticipation``
for post-treatment periods; for pre-treatment periods it is ``t - 1`` (``base_period="varying"``,
short differences, the did package's default) or ``g - 1 - anticipation`` too (``"universal"``:
every period of the panel, the first one included, is compared with that reference period, whose
own ATT(g, t) is 0 by construction and is listed in ``att_gt`` with no standard error, as did
reports it).

Per unit of dose (``intensity``). With a dose v_i per unit (the yuan value of a consumer's first
counterfeit), the cell's effect per unit of dose is the least-squares slope through the origin
of the treated units' excess change on their dose,

    ATT_v(g, t) = sum_{i in g} v_i (dY_i - m_C) / sum_{i in g} v_i^2,   m_C the controls' mean,

which is the estimand of an event study whose indicators are multiplied by v_i (the 2017
study's per-yuan design), computed cell by cell so that it is robust to effects that differ by
cohort and period. Without a dose, v_i = 1 and it is ATT(g, t).

Every estimate is a ratio of two sample means over the n units, N / D with
N = sum_{i in g} v_i (dY_i - m_C) / n and D = sum_{i in g} v_i^2 / n, and so is every
aggregation (ratios of sums of N and of D over cells, or means of such ratios). Inference uses
their influence functions on the units (standard errors clustered by unit, did's analytic
ones). The aggregations are did's ``aggte``: ``"simple"`` (post-treatment cells weighted by
cohort size), ``"dynamic"`` (by event time e = t - g), ``"group"`` (by cohort) and
``"calendar"`` (by period); the ratio form includes the influence of the estimated cohort-share
weights (did's "wif") without extra work.

Computation (:mod:`models.estimation.influence`): without covariates the panel is read once
into per-cohort moments and no n x cells matrix is built; with covariates each cell's influence
function is a column on the units, and the same algebra runs on those columns.

Unbalanced panels (``allow_unbalanced_panel=True``, did's option of that name): each ATT(g, t)
is estimated from the rows present in t and in its base period (without covariates, the
difference of four means), with influence functions summed by unit
(:mod:`models.estimation.unbalanced`); on a balanced panel the option changes nothing, as in
did.

Sampling weights (``weights``, did's ``weightsname``) and clusters above the unit (``cluster``,
did's ``clustervars``), as did 2.5.1 reads them (:mod:`models.estimation.unit_sampling`): each
unit's row is weighted in every 2x2 comparison (without covariates, weighted means; with them,
DRDID's weighted estimators) and in the cohort shares of the aggregations, and the influence
functions are summed by cluster before their outer products, in every covariance (ATT(g, t),
aggregations, pre-trend test, uniform bands).

Reference: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-differences with
multiple time periods", Journal of Econometrics 225(2), 200-230.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd

from models.estimation.aggregation import CallawaySantAnnaResults
from models.estimation.arguments import at_least, strict_bool
from models.estimation.drdid import METHODS
from models.estimation.effective_treated import EffectiveTreated, warn_few_effective
from models.estimation.group_time_cells import group_time_cells
from models.estimation.influence import (
    Functionals,
    UnitRows,
    balanced_features,
    covariate_functionals,
    influence_covariance,
    moment_functionals,
    ratios,
)
from models.estimation.influence_bootstrap import LeadBootstrap
from models.estimation.influence_jackknife import LeaveOneOut
from models.estimation.panel_data import PanelData, numeric_values, require_columns
from models.estimation.results import Estimates
from models.estimation.unbalanced import (
    drop_empty_cells,
    unbalanced_covariate_functionals,
    unbalanced_features,
    unbalanced_functionals,
    warn_absent_units,
)
from models.estimation.unit_sampling import unit_clusters, unit_weights
from models.estimation.vcov import VcovSpec, parse_unit_clustered
from models.estimation.wild_bootstrap import bootstrap_requested
from models.exceptions import SmallCohortWarning

SMALL_COHORT = 5
"""did's warning threshold: a cohort with fewer units than this plus one per covariate is
estimated with a :class:`~models.exceptions.SmallCohortWarning`."""


class CallawaySantAnna:
    """Callaway and Sant'Anna's group-time ATTs.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period: balanced, unless ``allow_unbalanced_panel``.
    outcome, unit, time, cohort : str
        Columns: outcome, unit id, integer period, first treated period (NaN or +inf: never).
    control : {"never", "notyet"}
        Control units: never treated, or not yet treated (which includes the never treated).
    anticipation : int
        Periods before treatment in which units may already react.
    base_period : {"varying", "universal"}
        Base of the pre-treatment ATTs: the previous period, or the last one before treatment.
    intensity : str, optional
        Column of a dose per unit (constant within unit, positive for treated units), such as
        ``fake_value``: effects are then per unit of dose (see the module docstring).
    nonnegative_outcome : bool
        Refuse a negative outcome (for spend); False by default (log spend may be negative).
    allow_unbalanced_panel : bool
        did's option: on a panel where some units lack rows in some periods, estimate each
        ATT(g, t) from the rows present in t and in its base period, with influence functions
        summed by unit (:mod:`models.estimation.unbalanced`; covariates by DRDID's repeated
        cross-section estimators; no dose; CRV1 and Wald pre-trend tests). False (did's
        default): an unbalanced panel is refused. On a balanced panel it changes nothing (did
        then uses its panel estimator too).
    weights : str, optional
        Column of sampling weights (did's ``weightsname``): positive, constant within a unit.
        Every ATT(g, t) is then the weighted 2x2 comparison and the aggregations weight the
        cohorts by their weighted sizes; with an intensity, the weighted least-squares slope
        sum_{i in g} w_i v_i (dY_i - m_C) / sum_{i in g} w_i v_i^2 (m_C weighted). On an
        unbalanced panel, row weights (did's). Not with ``fit(vcov="CR3")`` or
        ``fit(pretrend="bootstrap")``.
    cluster : str, optional
        Column of clusters above the unit (did's ``clustervars``), constant within a unit: every
        covariance sums the influence functions by cluster (did's analytic and bootstrap
        standard errors, ``sqrt(sum_c S_c^2) / n``). The unit column itself is no clustering.
        Not with ``fit(vcov="CR3")`` or ``fit(pretrend="bootstrap")``.

    Warns
    -----
    SmallCohortWarning
        If a cohort (or the never treated) has fewer than 5 units plus one per covariate, as
        did warns; it is estimated all the same.
    UnbalancedPanelWarning
        On an unbalanced panel, at ``fit``: how many treated and control units lack a row in
        t or the base period, for the ATT(g, t) that miss the most.

    Examples
    --------
    >>> from models import ConsumerSpendModel
    >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=10, seed=1)
    >>> res = CallawaySantAnna(panel, "spend", "consumer_id", "week", "fake_week").fit()
    >>> res.att_gt.columns.tolist()
    ['cohort', 'time', 'att', 'se']
    """

    VCOV: ClassVar[tuple[str, ...]] = ("CRV1", "CR3")
    """The variances ``fit(vcov=...)`` supports, clustered by the unit: the influence functions'
    and their leave-one-unit-out jackknife."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        *,
        control: str = "never",
        anticipation: int = 0,
        base_period: str = "varying",
        intensity: str | None = None,
        covariates: Sequence[str] | None = None,
        method: str = "dr",
        nonnegative_outcome: bool = False,
        allow_unbalanced_panel: bool = False,
        weights: str | None = None,
        cluster: str | None = None,
    ) -> None:
        if covariates is not None and (isinstance(covariates, str) or len(covariates) == 0):
            raise ValueError("covariates: expected a non-empty list of column names")
        covariates = list(covariates or [])
        require_columns(df, covariates, "covariate")
        if method not in METHODS:
            raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        if intensity is not None and covariates:
            raise ValueError(
                "intensity: per-dose effects are not available with covariates; drop one of them"
            )
        if control not in ("never", "notyet"):
            raise ValueError(f"control: expected 'never' or 'notyet', got {control!r}")
        for name, value in (("weights", weights), ("cluster", cluster)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name}: expected a column name or None, got {value!r}")
        if base_period not in ("varying", "universal"):
            raise ValueError(f"base_period: expected 'varying' or 'universal', got {base_period!r}")
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.cohort = cohort
        self.control = control
        self.anticipation = at_least("anticipation", anticipation, 0, "CallawaySantAnna")
        self.base_period = base_period
        self.intensity = intensity
        self.covariates = tuple(covariates)
        self.method = method
        self.nonnegative_outcome = strict_bool(
            "nonnegative_outcome", nonnegative_outcome, "CallawaySantAnna"
        )
        self.allow_unbalanced_panel = strict_bool(
            "allow_unbalanced_panel", allow_unbalanced_panel, "CallawaySantAnna"
        )
        self.weights = weights
        self.cluster = cluster
        self._rows, self._effective_treated = self._check_panel()

    def _check_panel(self) -> tuple[UnitRows, EffectiveTreated | None]:
        """Validate the panel and lay it out as one row per unit, grouped by cohort; with the
        effective number of treated units."""
        data = PanelData.read(
            self.df,
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            nonnegative_outcome=self.nonnegative_outcome,
            weights=self.weights,
        )
        n_units, n_periods = data.n_units, data.n_periods
        unbalanced = not data.balanced
        if unbalanced:
            self._check_unbalanced(n_units * n_periods)
        warn_few_effective(data.effective_treated, "CallawaySantAnna", self.intensity)
        block_cohorts, block_of_unit, block_sizes = np.unique(
            data.cohorts, return_inverse=True, return_counts=True
        )
        self._warn_small_cohorts(block_cohorts, block_sizes, data.periods[0])
        if self.control == "never" and not np.isinf(block_cohorts).any():
            raise ValueError(
                f"control='never' needs never-treated units (cohort NaN or +inf in column "
                f"{self.cohort!r}); there are none: use control='notyet'"
            )
        order = np.argsort(block_of_unit, kind="stable")
        clusters = unit_clusters(data, self.cluster)
        weights = None if unbalanced else unit_weights(data)
        sampling = {
            "weights": None if weights is None else weights[order],
            "clusters": None if clusters is None else clusters[order],
        }
        covariates = None
        if self.covariates:
            covariates = np.empty((n_units, n_periods, len(self.covariates)))
            for j, name in enumerate(self.covariates):
                values = numeric_values(self.df, name)
                data.to_grid(values, out=covariates[:, :, j], order=order)
        if unbalanced:
            features = unbalanced_features(data, order)
            rows = UnitRows(
                features=features,
                periods=data.periods,
                block_cohorts=block_cohorts,
                block_sizes=block_sizes,
                has_dose=False,
                covariates=covariates,
                order=order,
                unbalanced=True,
                weights=None if data.weights is None else features[:, n_periods],
                clusters=sampling["clusters"],
            )
            return rows, data.effective_treated
        weighted = sampling["weights"] is not None and covariates is None
        rows = UnitRows(
            features=balanced_features(data, order, sampling["weights"] if weighted else None),
            periods=data.periods,
            block_cohorts=block_cohorts,
            block_sizes=block_sizes,
            has_dose=data.doses is not None,
            covariates=covariates,
            order=order,
            **sampling,
        )
        return rows, data.effective_treated

    def _check_unbalanced(self, n_cells: int) -> None:
        """Refuse an unbalanced panel unless allowed, and the options it does not support."""
        if not self.allow_unbalanced_panel:
            raise ValueError(
                f"columns {self.unit!r}, {self.time!r}: expected a balanced panel "
                f"({n_cells:,} unit-period pairs), got {len(self.df):,} rows; pass "
                "allow_unbalanced_panel=True to estimate each ATT(g, t) from the rows present "
                "in its two periods, as did does"
            )
        if self.intensity is not None:
            raise ValueError(
                "intensity: per-dose effects are not available on an unbalanced panel "
                "(allow_unbalanced_panel=True); drop it or balance the panel"
            )

    def _warn_small_cohorts(self, cohorts: np.ndarray, sizes: np.ndarray, first: float) -> None:
        """did's warning on cohorts (the never treated included) with fewer units than 5 plus
        one per covariate: they are estimated, with standard errors that rest on few units.
        Cohorts treated by the first period (plus anticipation) are not estimated at all."""
        threshold = SMALL_COHORT + len(self.covariates)
        small = (sizes < threshold) & (cohorts > first + self.anticipation)
        if not small.any():
            return
        listed = ", ".join(
            f"{'never treated' if np.isinf(g) else f'{g:g}'} ({n} unit{'' if n == 1 else 's'})"
            for g, n in zip(cohorts[small], sizes[small], strict=True)
        )
        warnings.warn(
            f"column {self.cohort!r}: cohort(s) with fewer than {threshold} units: {listed}; "
            "their ATT(g, t) are estimated, but their standard errors rest on few units",
            SmallCohortWarning,
            stacklevel=4,
        )

    def fit(
        self,
        vcov: VcovSpec = "CRV1",
        *,
        pretrend: str = "wald",
        pretrend_draws: int = 999,
        seed: int = 0,
    ) -> CallawaySantAnnaResults:
        """Estimate every ATT(g, t) and the influence functions behind its inference.

        Parameters
        ----------
        vcov : str or dict
            ``"CRV1"`` (or ``{"CRV1": unit}``): the influence-function variance, clustered by
            unit, or by ``cluster`` if given (did's analytic standard errors, which with
            ``clustervars`` sum the influence functions by cluster as its multiplier bootstrap
            does). ``"CR3"``: the leave-one-unit-out jackknife
            of every estimate and aggregation, robust to units with a large share of their
            cohort's squared doses (:mod:`models.estimation.influence_jackknife`; never-treated
            controls and no covariates).
        pretrend : {"wald", "bootstrap"}
            The pre-trend tests of the result (``pretrend_test()``) and of its dynamic
            aggregation: Wald tests from the covariance, or the wild bootstrap of the Wald test
            with the null imposed, which keeps its size when few effective units carry the
            leads (:mod:`models.estimation.influence_bootstrap`; never-treated controls, no
            covariates).
        pretrend_draws, seed : int
            Draws of the bootstrap and the seed of its Rademacher signs.

        Returns
        -------
        CallawaySantAnnaResults
            ``params`` are the ATT(g, t), named ``cohort::g:period::t``, with their joint
            covariance; ``att_gt`` is the same as a table, ``aggregate`` averages them.
        """
        request = parse_unit_clustered(vcov, self.unit, "CallawaySantAnna", self.VCOV)
        bootstrap = bootstrap_requested("CallawaySantAnna", pretrend, pretrend_draws, seed)
        rows = self._rows
        cells, references = group_time_cells(
            rows, self.control, self.anticipation, self.base_period
        )
        missing: tuple[tuple[int, int], ...] = ()
        if rows.unbalanced:
            moments = rows.moments()
            cells, missing = drop_empty_cells(rows, moments, cells)
            warn_absent_units(rows, moments, cells)
            if rows.covariates is None:
                numerators, denominators = unbalanced_functionals(rows, moments, cells)
            else:
                moments, numerators, denominators = unbalanced_covariate_functionals(
                    rows, cells, self.method
                )
        elif rows.covariates is None:
            moments = rows.moments()
            numerators, denominators = moment_functionals(rows, moments, cells)
        else:
            moments, numerators, denominators = covariate_functionals(rows, cells, self.method)
        functionals = Functionals(
            np.concatenate([numerators.value, denominators.value]),
            np.concatenate([numerators.slope, denominators.slope]),
            np.concatenate([numerators.shift, denominators.shift]),
        )
        cohorts = np.array([int(rows.block_cohorts[c[0]]) for c in cells], dtype=np.int64)
        periods = np.array([int(rows.periods[c[1]]) for c in cells], dtype=np.int64)
        n_units = int(moments.sizes.sum())
        att, combination = ratios(functionals.value, np.eye(len(cells)))
        leave_one_out = lead_bootstrap = None
        if bootstrap:
            self._require_never_and_no_covariates("pretrend='bootstrap'", "pretrend='wald'")
            self._require_unweighted_unclustered("pretrend='bootstrap'")
            lead_bootstrap = LeadBootstrap.of(rows, cells, pretrend_draws, seed)
        if request.kind == "CR3":
            self._require_never_and_no_covariates("vcov='CR3'", "vcov='CRV1'")
            self._require_unweighted_unclustered("vcov='CR3'")
            leave_one_out = LeaveOneOut.of(rows, np.array([cell[0] for cell in cells]))
            matrix = leave_one_out.covariance(functionals, moments, np.eye(len(cells)))
        else:
            matrix = functionals.covariance(combination, moments)
        return CallawaySantAnnaResults(
            model_name="CallawaySantAnna",
            outcome=self.outcome,
            estimates=Estimates(
                names=tuple(
                    f"cohort::{g}:period::{s}" for g, s in zip(cohorts, periods, strict=True)
                ),
                coefficients=att,
                covariance=influence_covariance(
                    matrix,
                    self.unit if rows.clusters is None else self.cluster,
                    n_units if rows.clusters is None else int(rows.clusters.max()) + 1,
                    request if leave_one_out is not None else None,
                ),
                nobs=n_units,
            ),
            notes=self._notes(),
            treated_units=self._effective_treated,
            cohorts=cohorts,
            periods=periods,
            functionals=functionals,
            moments=moments,
            anticipation=self.anticipation,
            dose=self.intensity,
            references=tuple(references),
            missing=missing,
            first_period=int(rows.periods[0]),
            leave_one_out=leave_one_out,
            lead_bootstrap=lead_bootstrap,
        )

    def _require_never_and_no_covariates(self, option: str, instead: str) -> None:
        """The jackknife and the bootstrap need every unit to be either treated or a control,
        never both (never-treated controls), no covariates, and a balanced panel."""
        if self.control != "never" or self.covariates:
            raise ValueError(
                f"CallawaySantAnna: {option} needs control='never' and no covariates; use {instead}"
            )
        if self._rows.unbalanced:
            raise ValueError(f"CallawaySantAnna: {option} needs a balanced panel; use {instead}")

    def _require_unweighted_unclustered(self, option: str) -> None:
        """The jackknife and the bootstrap leave out or resample units, unweighted."""
        for name, value in (("weights", self.weights), ("cluster", self._rows.clusters)):
            if value is not None:
                raise ValueError(
                    f"CallawaySantAnna: {option} is not available with {name}= (it leaves out "
                    "or resamples single unweighted units); use vcov='CRV1' and pretrend='wald'"
                )

    def _notes(self) -> tuple[tuple[str, str], ...]:
        """The summary rows on the design: controls, base period, anticipation, dose."""
        controls = {"never": "never treated", "notyet": "not yet treated"}[self.control]
        notes = [("Control group", controls), ("Base period", self.base_period)]
        if self.anticipation:
            notes.append(("Anticipation", f"{self.anticipation} period(s)"))
        if self.intensity is not None:
            notes.append(("Intensity", self.intensity))
        if self.covariates:
            notes.append(("Covariates", f"{', '.join(self.covariates)} ({self.method})"))
        if self._rows.unbalanced:
            notes.append(("Panel", "unbalanced (rows present in t and the base period)"))
        if self.weights is not None:
            notes.append(("Sampling weights", self.weights))
        if self._rows.clusters is not None:
            notes.append(("Clusters", f"{self.cluster} ({int(self._rows.clusters.max()) + 1})"))
        return tuple(notes)
