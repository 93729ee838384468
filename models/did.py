"""Heterogeneity-robust staggered difference-in-differences: Callaway and Sant'Anna (2021).

Group-time average treatment effects ATT(g, t): for the units first treated in period g (cohort
g), the mean change of the outcome from a base period b to period t, minus the same change for a
control group of units not treated by then:

    ATT(g, t) = E[Y_t - Y_b | G = g] - E[Y_t - Y_b | C],

with C the never-treated units (``control="never"``) or the units not yet treated at
max(t, b) + anticipation (``control="notyet"``). The base period is ``g - 1 - anticipation``
for post-treatment periods; for pre-treatment periods it is ``t - 1`` (``base_period="varying"``,
short differences, the did package's default) or ``g - 1 - anticipation`` too (``"universal"``).

Inference uses the influence function of each ATT(g, t) on the n units of the panel (standard
errors clustered by unit). :meth:`CallawaySantAnnaResults.aggregate` averages the ATT(g, t) as the
R package did does (``aggte``): ``"simple"`` (post-treatment cells weighted by cohort size),
``"dynamic"`` (by event time e = t - g), ``"group"`` (by cohort) and ``"calendar"`` (by
period), with the influence function of the estimated cohort-share weights included.

This version has no covariates (where the outcome-regression, inverse-probability and doubly
robust estimators coincide) and works on balanced panels.

Reference: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-differences with
multiple time periods", Journal of Econometrics 225(2), 200-230.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from models.columns import (
    categorical_codes,
    numeric_values,
    require_cohorts_in_periods,
    require_columns,
    unit_cohorts,
)
from models.results import EventStudyResults
from models.vcov import Covariance, VcovRequest

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


class CallawaySantAnna:
    """Callaway and Sant'Anna's group-time ATTs on a balanced panel (no covariates).

    Parameters
    ----------
    df : pandas.DataFrame
        Balanced long panel, one row per unit and period.
    outcome, unit, time, cohort : str
        Columns: outcome, unit id, integer period, first treated period (NaN or +inf: never).
    control : {"never", "notyet"}
        Control units: never treated, or not yet treated (which includes the never treated).
    anticipation : int
        Periods before treatment in which units may already react.
    base_period : {"varying", "universal"}
        Base of the pre-treatment ATTs: the previous period, or the last one before treatment.

    Examples
    --------
    >>> from models import ConsumerSpendModel
    >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=10, seed=1)
    >>> res = CallawaySantAnna(panel, "spend", "consumer_id", "week", "fake_week").fit()
    >>> res.att_gt.columns.tolist()
    ['cohort', 'time', 'att', 'se']
    """

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        control: str = "never",
        anticipation: int = 0,
        base_period: str = "varying",
    ) -> None:
        require_columns(df, [outcome, unit, time, cohort])
        if control not in ("never", "notyet"):
            raise ValueError(f"control: expected 'never' or 'notyet', got {control!r}")
        if base_period not in ("varying", "universal"):
            raise ValueError(f"base_period: expected 'varying' or 'universal', got {base_period!r}")
        if not isinstance(anticipation, int) or anticipation < 0:
            raise ValueError(f"anticipation: expected an integer >= 0, got {anticipation!r}")
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.cohort = cohort
        self.control = control
        self.anticipation = anticipation
        self.base_period = base_period
        self._wide, self._periods, self._unit_cohorts = self._check_panel()

    def _check_panel(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The outcome as a units x periods matrix, the periods and each unit's cohort."""
        df = self.df
        y = numeric_values(df, self.outcome)
        periods = numeric_values(df, self.time)
        if (periods != np.round(periods)).any():
            raise ValueError(f"column {self.time!r}: expected integer periods")
        unit_codes, n_units = categorical_codes(df, self.unit)
        period_codes, n_periods = categorical_codes(df, self.time)
        if len(df) != n_units * n_periods:
            raise ValueError(
                f"columns {self.unit!r}, {self.time!r}: expected a balanced panel "
                f"({n_units:,} units x {n_periods} periods = {n_units * n_periods:,} rows), "
                f"got {len(df):,} rows"
            )
        wide = np.full((n_units, n_periods), np.nan)
        wide[unit_codes, period_codes] = y
        if np.isnan(wide).any():
            raise ValueError(
                f"columns {self.unit!r}, {self.time!r}: expected one row per unit and period"
            )
        period_values = np.empty(n_periods)
        period_values[period_codes] = periods
        cohort_of_unit = unit_cohorts(df, self.cohort, self.unit, unit_codes, n_units)
        finite = cohort_of_unit[np.isfinite(cohort_of_unit)]
        require_cohorts_in_periods(cohort_of_unit, period_values, self.cohort, self.time)
        for cohort in np.unique(finite):
            if (cohort_of_unit == cohort).sum() < 2:
                raise ValueError(
                    f"column {self.cohort!r}: cohort {cohort:g} has a single unit; "
                    "its ATT(g, t) would have no variance estimate"
                )
        if self.control == "never" and not np.isinf(cohort_of_unit).any():
            raise ValueError(
                f"control='never' needs never-treated units (cohort NaN or +inf in column "
                f"{self.cohort!r}); there are none: use control='notyet'"
            )
        return wide, period_values, cohort_of_unit

    def fit(self) -> CallawaySantAnnaResults:
        """Estimate every ATT(g, t) and its influence function."""
        wide, periods, cohorts = self._wide, self._periods, self._unit_cohorts
        n_units = wide.shape[0]
        column_of = {p: j for j, p in enumerate(periods)}
        # did's convention: units treated in the first period are dropped (no pre-period).
        groups = [g for g in np.unique(cohorts[np.isfinite(cohorts)]) if g > periods.min()]
        rows, influence = [], []
        for g in groups:
            for t in periods[1:]:
                post = t >= g - self.anticipation
                base = (
                    g - 1 - self.anticipation
                    if (post or self.base_period == "universal")
                    else t - 1
                )
                if base not in column_of or base == t:
                    continue
                treated = cohorts == g
                if self.control == "never":
                    control = np.isinf(cohorts)
                else:
                    control = (cohorts > max(t, base) + self.anticipation) & (cohorts != g)
                if not control.any():
                    continue
                change = wide[:, column_of[t]] - wide[:, column_of[base]]
                att, psi = _difference_in_means(change, treated, control, n_units)
                rows.append((g, t, att))
                influence.append(psi)
        if not rows:
            raise ValueError(
                "no ATT(g, t) can be estimated: no cohort has a base period and a control group"
            )
        table = pd.DataFrame(rows, columns=["cohort", "time", "att"])
        table["cohort"] = table["cohort"].astype(int)
        table["time"] = table["time"].astype(int)
        return CallawaySantAnnaResults(
            att_gt_table=table,
            influence=np.column_stack(influence),
            unit_cohorts=cohorts,
            unit=self.unit,
            outcome=self.outcome,
            anticipation=self.anticipation,
        )


def _difference_in_means(
    change: np.ndarray, treated: np.ndarray, control: np.ndarray, n_units: int
) -> tuple[float, np.ndarray]:
    """ATT as a difference of mean changes, and its influence function on all n units.

    On the n_s units of the cell's sample (treated or control), with p the treated share,
    psi_i = D_i (dY_i - m1) / p - (1 - D_i)(dY_i - m0) / (1 - p); scaled by n / n_s and zero
    outside the sample, so that Var(ATT) = sum psi^2 / n^2 (did's convention).
    """
    n_treated, n_control = int(treated.sum()), int(control.sum())
    n_sample = n_treated + n_control
    share = n_treated / n_sample
    mean_treated = change[treated].mean()
    mean_control = change[control].mean()
    psi = np.zeros(n_units)
    psi[treated] = (change[treated] - mean_treated) / share
    psi[control] = -(change[control] - mean_control) / (1 - share)
    return float(mean_treated - mean_control), psi * (n_units / n_sample)


@dataclass(frozen=True)
class CallawaySantAnnaResults:
    """Group-time ATTs with their influence functions, and their aggregations.

    Attributes
    ----------
    att_gt : pandas.DataFrame
        One row per estimated ATT(g, t): cohort, time, att, se.
    """

    att_gt_table: pd.DataFrame
    influence: np.ndarray
    unit_cohorts: np.ndarray
    unit: str
    outcome: str
    anticipation: int

    @property
    def n_units(self) -> int:
        """Units in the panel (the influence functions' sample size)."""
        return int(self.influence.shape[0])

    @cached_property
    def att_gt(self) -> pd.DataFrame:
        """ATT(g, t) with its standard error: columns cohort, time, att, se."""
        se = np.sqrt((self.influence**2).sum(axis=0)) / self.n_units
        return self.att_gt_table.assign(se=se)

    @cached_property
    def _cohort_shares(self) -> np.ndarray:
        """Share of all units in the cohort of each ATT(g, t) (did's pg)."""
        cohorts = self.att_gt_table["cohort"].to_numpy()
        return np.array([np.mean(self.unit_cohorts == g) for g in cohorts])

    def _weight_influence(self, keep: np.ndarray) -> np.ndarray:
        """Influence function of the normalised cohort-share weights over the cells ``keep``."""
        shares = self._cohort_shares[keep]
        cohorts = self.att_gt_table["cohort"].to_numpy()[keep]
        members = (self.unit_cohorts[:, None] == cohorts[None, :]).astype(float) - shares
        total = shares.sum()
        return members / total - np.outer(members.sum(axis=1), shares / total**2)

    def _weighted(self, keep: np.ndarray) -> tuple[float, np.ndarray]:
        """Cohort-share-weighted average of the cells ``keep`` and its influence function."""
        att = self.att_gt_table["att"].to_numpy()[keep]
        shares = self._cohort_shares[keep]
        weights = shares / shares.sum()
        influence = self.influence[:, keep] @ weights + self._weight_influence(keep) @ att
        return float(weights @ att), influence

    def aggregate(self, kind: str = "dynamic", alpha: float = 0.05) -> EventStudyResults:
        """Aggregate the ATT(g, t) as the R package did's ``aggte`` does.

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            ``simple``: one post-treatment average weighted by cohort size. ``dynamic``: by
            event time e = t - g (overall: the mean over e >= 0). ``group``: by cohort
            (overall: cohort-size weighted). ``calendar``: by period (overall: the mean).

        Returns
        -------
        EventStudyResults
            ``params`` by event time, cohort or period (``event_time_effects()`` indexes them),
            the covariance from the influence functions, normal critical values; the overall
            average is the attribute ``overall`` (estimate, se).
        """
        if kind not in AGGREGATIONS:
            raise ValueError(f"aggregate: expected one of {', '.join(AGGREGATIONS)}, got {kind!r}")
        cohort = self.att_gt_table["cohort"].to_numpy()
        time = self.att_gt_table["time"].to_numpy()
        post = time >= cohort - self.anticipation
        labels, estimates, influences = [], [], []
        if kind == "simple":
            estimate, influence = self._weighted(post)
            labels, estimates, influences = [0], [estimate], [influence]
            overall = (estimate, influence)
        elif kind == "dynamic":
            event = time - cohort
            for e in np.unique(event):
                estimate, influence = self._weighted(event == e)
                labels.append(int(e))
                estimates.append(estimate)
                influences.append(influence)
            after = np.array(labels) >= 0
            overall = (
                float(np.mean(np.array(estimates)[after])),
                np.column_stack(influences)[:, after].mean(axis=1),
            )
        elif kind == "group":
            groups = np.unique(cohort)
            for g in groups:
                cells = (cohort == g) & post
                labels.append(int(g))
                estimates.append(float(self.att_gt_table["att"].to_numpy()[cells].mean()))
                influences.append(self.influence[:, cells].mean(axis=1))
            shares = np.array([np.mean(self.unit_cohorts == g) for g in groups])
            weights = shares / shares.sum()
            members = (self.unit_cohorts[:, None] == groups[None, :]).astype(float) - shares
            weight_influence = members / shares.sum() - np.outer(
                members.sum(axis=1), shares / shares.sum() ** 2
            )
            overall = (
                float(weights @ np.array(estimates)),
                np.column_stack(influences) @ weights + weight_influence @ np.array(estimates),
            )
        else:
            for t in np.unique(time):
                cells = (time == t) & post
                if not cells.any():
                    continue
                estimate, influence = self._weighted(cells)
                labels.append(int(t))
                estimates.append(estimate)
                influences.append(influence)
            overall = (
                float(np.mean(estimates)),
                np.column_stack(influences).mean(axis=1),
            )
        return self._aggregate_results(kind, labels, estimates, influences, overall)

    def _aggregate_results(
        self,
        kind: str,
        labels: list[int],
        estimates: list[float],
        influences: list[np.ndarray],
        overall: tuple[float, np.ndarray],
    ) -> EventStudyResults:
        n = self.n_units
        stacked = np.column_stack(influences)
        covariance = Covariance(
            matrix=stacked.T @ stacked / n**2,
            df_t=np.inf,
            request=VcovRequest("influence function", (self.unit,)),
            n_clusters=(n,),
        )
        names = tuple(f"{kind}::{label}" for label in labels)
        overall_estimate, overall_influence = overall
        return EventStudyResults(
            names=names,
            coefficients=np.array(estimates),
            covariance=covariance,
            nobs=n,
            df_resid=n - 1,
            rss=float("nan"),
            tss_within=float("nan"),
            outcome=self.outcome,
            model_name=f"CallawaySantAnna ({kind})",
            event_times=tuple(labels),
            ref=None,
            window=(min(labels), max(labels)),
            overall=(overall_estimate, float(np.sqrt((overall_influence**2).sum()) / n)),
        )
