"""Heterogeneity-robust staggered difference-in-differences: Callaway and Sant'Anna (2021).

Group-time average treatment effects ATT(g, t): for the units first treated in period g (cohort
g), the mean change of the outcome from a base period b to period t, minus the same change for a
control group of units not treated by then:

    ATT(g, t) = E[Y_t - Y_b | G = g] - E[Y_t - Y_b | C],

with C the never-treated units (``control="never"``) or the units not yet treated at
max(t, b) + anticipation (``control="notyet"``). The base period is ``g - 1 - anticipation``
for post-treatment periods; for pre-treatment periods it is ``t - 1`` (``base_period="varying"``,
short differences, the did package's default) or ``g - 1 - anticipation`` too (``"universal"``).

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

Computation. Without covariates, a unit's influence on any estimate is an affine function of its row
of outcomes (and dose), with coefficients that depend only on its cohort. So the fit keeps, per
cohort, the number of units, the mean and the scatter matrix of those rows, and every variance is a
small quadratic form in them (:mod:`models.estimation.influence`): the panel is read once and no n x
cells matrix is built. With covariates each cell's influence function is computed on the units (one
column per cell), and the same algebra runs on those columns.

Reference: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-differences with
multiple time periods", Journal of Econometrics 225(2), 200-230.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from models.estimation.drdid import METHODS, CellEstimationError, did_2x2
from models.estimation.influence import BlockMoments, Functionals, UnitRows, moment_functionals
from models.estimation.panel_data import PanelData, numeric_values, require_columns
from models.estimation.results import EventStudyResults, WaldTest
from models.estimation.vcov import Covariance, VcovRequest

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


class CallawaySantAnna:
    """Callaway and Sant'Anna's group-time ATTs on a balanced panel.

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
    intensity : str, optional
        Column of a dose per unit (constant within unit, positive for treated units), such as
        ``fake_value``: effects are then per unit of dose (see the module docstring).

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
        *,
        control: str = "never",
        anticipation: int = 0,
        base_period: str = "varying",
        intensity: str | None = None,
        covariates: Sequence[str] | None = None,
        method: str = "dr",
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
        self.intensity = intensity
        self.covariates = tuple(covariates)
        self.method = method
        self._rows = self._check_panel()

    def _check_panel(self) -> UnitRows:
        """Validate the panel and lay it out as one row per unit, grouped by cohort."""
        data = PanelData.read(
            self.df, self.outcome, self.unit, self.time, self.cohort, self.intensity
        )
        n_units, n_periods = data.n_units, data.n_periods
        if not data.balanced:
            raise ValueError(
                f"columns {self.unit!r}, {self.time!r}: expected a balanced panel "
                f"({n_units:,} units x {n_periods} periods = {n_units * n_periods:,} rows), "
                f"got {len(self.df):,} rows"
            )
        block_cohorts, block_of_unit, block_sizes = np.unique(
            data.cohorts, return_inverse=True, return_counts=True
        )
        for cohort, size in zip(block_cohorts, block_sizes, strict=True):
            if np.isfinite(cohort) and size < 2:
                raise ValueError(
                    f"column {self.cohort!r}: cohort {cohort:g} has a single unit; "
                    "its ATT(g, t) would have no variance estimate"
                )
        if self.control == "never" and not np.isinf(block_cohorts).any():
            raise ValueError(
                f"control='never' needs never-treated units (cohort NaN or +inf in column "
                f"{self.cohort!r}); there are none: use control='notyet'"
            )
        order = np.argsort(block_of_unit, kind="stable")
        dose = data.doses
        n_features = 2 * n_periods + 2 if dose is not None else n_periods + 1
        features = np.empty((n_units, n_features))
        data.to_grid(data.y, out=features[:, :n_periods], order=order)
        covariates = None
        if self.covariates:
            covariates = np.empty((n_units, n_periods, len(self.covariates)))
            for j, name in enumerate(self.covariates):
                values = numeric_values(self.df, name)
                data.to_grid(values, out=covariates[:, :, j], order=order)
        if dose is None:
            features[:, n_periods] = 1.0
        else:
            sorted_dose = dose[order]
            features[:, n_periods : 2 * n_periods] = features[:, :n_periods] * sorted_dose[:, None]
            features[:, 2 * n_periods] = sorted_dose
            features[:, 2 * n_periods + 1] = sorted_dose**2
        return UnitRows(
            features=features,
            periods=data.periods,
            block_cohorts=block_cohorts,
            block_sizes=block_sizes,
            has_dose=dose is not None,
            covariates=covariates,
        )

    def _cells(self) -> list[tuple[int, int, int, np.ndarray]]:
        """(treated block, period column, base column, control blocks) of each ATT(g, t)."""
        rows = self._rows
        periods, cohorts = rows.periods, rows.block_cohorts
        column_of = {p: j for j, p in enumerate(periods)}
        cells = []
        for g_block, g in enumerate(cohorts):
            # did's convention: units treated in the first period are dropped (no pre-period).
            if not np.isfinite(g) or g <= periods.min():
                continue
            for t in periods[1:]:
                post = t >= g - self.anticipation
                if post or self.base_period == "universal":
                    base = g - 1 - self.anticipation
                else:
                    base = t - 1
                if base not in column_of or base == t:
                    continue
                if self.control == "never":
                    control = np.flatnonzero(np.isinf(cohorts))
                else:
                    later = cohorts > max(t, base) + self.anticipation
                    control = np.flatnonzero(later & (cohorts != g))
                if control.size:
                    cells.append((g_block, column_of[t], column_of[base], control))
        if not cells:
            raise ValueError(
                "no ATT(g, t) can be estimated: no cohort has a base period and a control group"
            )
        return cells

    def fit(self) -> CallawaySantAnnaResults:
        """Estimate every ATT(g, t) and the influence functions behind its inference."""
        rows = self._rows
        cells = self._cells()
        if rows.covariates is None:
            moments = rows.moments()
            numerators, denominators = moment_functionals(rows, moments, cells)
        else:
            moments, numerators, denominators = self._covariate_functionals(cells)
        table = pd.DataFrame(
            {
                "cohort": [int(rows.block_cohorts[c[0]]) for c in cells],
                "time": [int(rows.periods[c[1]]) for c in cells],
                "att": numerators.value / denominators.value,
            }
        )
        return CallawaySantAnnaResults(
            att_gt_table=table,
            functionals=Functionals(
                np.concatenate([numerators.value, denominators.value]),
                np.concatenate([numerators.slope, denominators.slope]),
                np.concatenate([numerators.shift, denominators.shift]),
            ),
            moments=moments,
            unit=self.unit,
            outcome=self.outcome,
            anticipation=self.anticipation,
            intensity=self.intensity,
        )

    def _covariate_functionals(
        self, cells: list[tuple[int, int, int, np.ndarray]]
    ) -> tuple[BlockMoments, Functionals, Functionals]:
        """Every cell's ATT from :func:`models.estimation.drdid.did_2x2`, its influence function
        on the units as a column, and the N = pi_g ATT, D = pi_g functionals on those columns.

        The covariates are those of the earlier of the cell's two periods, as did does.
        """
        rows = self._rows
        n, n_cells, n_blocks = rows.n_units, len(cells), rows.block_sizes.size
        blocks = rows.block_slices()
        influence = np.zeros((n, n_cells))
        att = np.empty(n_cells)
        for k, (g, t, base, control) in enumerate(cells):
            members = np.concatenate(
                [np.arange(blocks[h].start, blocks[h].stop) for h in [g, *control]]
            )
            treated = np.arange(members.size) < rows.block_sizes[g]
            change = rows.features[members, t] - rows.features[members, base]
            covariates = rows.covariates[members, min(t, base), :]
            try:
                att[k], psi = did_2x2(change, treated, covariates, self.method)
            except CellEstimationError as exc:
                raise ValueError(
                    f"ATT(g={rows.block_cohorts[g]:g}, t={rows.periods[t]:g}) with "
                    f"method={self.method!r}: {exc}"
                ) from None
            influence[members, k] = psi * (n / members.size)
        share = rows.block_sizes / n
        cell_block = np.array([cell[0] for cell in cells])
        member = (np.arange(n_blocks)[None, :] == cell_block[:, None]).astype(float)
        membership = member - share[cell_block][:, None]
        numerators = Functionals(
            share[cell_block] * att,
            np.zeros((n_cells, n_blocks, n_cells)),
            att[:, None] * membership,
        )
        numerators.slope[np.arange(n_cells), :, np.arange(n_cells)] = share[cell_block][:, None]
        denominators = Functionals(
            share[cell_block], np.zeros((n_cells, n_blocks, n_cells)), membership
        )
        return BlockMoments.of(influence, blocks), numerators, denominators


@dataclass(frozen=True)
class CallawaySantAnnaResults:
    """Group-time ATTs, their aggregations and the influence functions behind their inference.

    Attributes
    ----------
    att_gt : pandas.DataFrame
        One row per estimated ATT(g, t) (per unit of dose with ``intensity``): cohort, time,
        att, se.
    """

    att_gt_table: pd.DataFrame
    functionals: Functionals
    moments: BlockMoments
    unit: str
    outcome: str
    anticipation: int
    intensity: str | None

    @property
    def n_units(self) -> int:
        """Units in the panel (the influence functions' sample size)."""
        return int(self.moments.sizes.sum())

    @property
    def _n_cells(self) -> int:
        return len(self.att_gt_table)

    def _ratios(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates sum_k w_k N_k / sum_k w_k D_k (one per column of ``weights``, cells x m).

        Returns the estimates and the coefficients of their influence functions on the
        numerator and denominator functionals (2 cells x m).
        """
        k = self._n_cells
        numerator = weights.T @ self.functionals.value[:k]
        denominator = weights.T @ self.functionals.value[k:]
        estimate = numerator / denominator
        combination = np.vstack([weights / denominator, -weights * (estimate / denominator)])
        return estimate, combination

    @cached_property
    def att_gt(self) -> pd.DataFrame:
        """ATT(g, t) with its standard error: columns cohort, time, att, se."""
        _, combination = self._ratios(np.eye(self._n_cells))
        variance = self._covariance(combination).diagonal()
        return self.att_gt_table.assign(se=np.sqrt(variance))

    def pretrend_test(self) -> WaldTest:
        """did's Wald pre-test: every pre-treatment ATT(g, t) is zero.

        ``n theta' V^-1 theta`` over the pre-treatment cells, with V their covariance from the
        influence functions, against chi-squared with one degree of freedom per cell (reported
        as F = statistic / cells with infinite denominator degrees of freedom).
        """
        cohort = self.att_gt_table["cohort"].to_numpy()
        pre = self.att_gt_table["time"].to_numpy() < cohort - self.anticipation
        if not pre.any():
            raise ValueError("pretrend_test: no pre-treatment ATT(g, t) was estimated")
        estimates, combination = self._ratios(np.eye(self._n_cells)[:, pre])
        covariance = self._covariance(combination)
        if np.linalg.matrix_rank(covariance) < pre.sum():
            raise ValueError("pretrend_test: the pre-treatment ATTs' covariance is singular")
        statistic = float(estimates @ np.linalg.solve(covariance, estimates))
        q = int(pre.sum())
        return WaldTest(statistic / q, float(stats.chi2.sf(statistic, q)), q, np.inf)

    def _covariance(self, combination: np.ndarray) -> np.ndarray:
        return self.functionals.covariance(combination, self.moments)

    def aggregate(
        self,
        kind: str = "dynamic",
        *,
        uniform_band: bool = False,
        alpha: float = 0.05,
        n_draws: int = 1000,
        seed: int = 0,
    ) -> EventStudyResults:
        """Aggregate the ATT(g, t) as the R package did's ``aggte`` does.

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            ``simple``: one post-treatment average weighted by cohort size. ``dynamic``: by
            event time e = t - g (overall: the mean over e >= 0). ``group``: by cohort
            (overall: cohort-size weighted). ``calendar``: by period (overall: the mean).
            With a dose, "cohort size" is the cohort's sum of squared doses.
        uniform_band : bool
            Also compute a simultaneous (uniform over the aggregated effects) confidence band
            at level ``1 - alpha`` by a Gaussian multiplier bootstrap of ``n_draws`` draws,
            seeded by ``seed``; see :meth:`EventStudyResults.uniform_conf_int`.

        Returns
        -------
        EventStudyResults
            ``params`` by event time, cohort or period (``event_time_effects()`` indexes them),
            the covariance from the influence functions, normal critical values; the overall
            average is the attribute ``overall`` (estimate, se).

        Notes
        -----
        For an average of influence functions, multiplying each unit's influence by an
        independent N(0, 1) draw gives draws that are exactly N(0, V) given the data, V the
        analytic covariance. So the band draws from N(0, V) directly (the sup-t band of
        Montiel Olea and Plagborg-Moller, 2019): its critical value is the ``1 - alpha``
        quantile of max |Z_e| / se_e. did uses Mammen or Rademacher multipliers, which agree
        with it up to sampling noise of the bootstrap and O(1/n) terms.
        """
        if kind not in AGGREGATIONS:
            raise ValueError(f"aggregate: expected one of {', '.join(AGGREGATIONS)}, got {kind!r}")
        cohort = self.att_gt_table["cohort"].to_numpy()
        time = self.att_gt_table["time"].to_numpy()
        post = time >= cohort - self.anticipation
        if kind == "simple":
            labels, groups = [0], [post]
        elif kind == "dynamic":
            event = time - cohort
            labels = [int(e) for e in np.unique(event)]
            groups = [event == e for e in labels]
        elif kind == "group":
            labels = [int(g) for g in np.unique(cohort[post])]
            groups = [(cohort == g) & post for g in labels]
        else:
            labels = [int(t) for t in np.unique(time[post])]
            groups = [(time == t) & post for t in labels]
        estimates, combination = self._ratios(np.column_stack(groups).astype(float))
        overall_estimate, overall_combination = self._overall(
            kind, labels, groups, estimates, combination
        )
        covariance = self._covariance(np.column_stack([combination, overall_combination]))
        overall_se = float(np.sqrt(covariance[-1, -1]))
        matrix = covariance[:-1, :-1]
        band = None
        if uniform_band:
            band = (alpha, _sup_t_critical_value(matrix, alpha, n_draws, seed))
        return EventStudyResults(
            names=tuple(f"{kind}::{label}" for label in labels),
            coefficients=estimates,
            covariance=Covariance(
                matrix=matrix,
                df_t=np.inf,
                request=VcovRequest("influence function", (self.unit,)),
                n_clusters=(self.n_units,),
            ),
            nobs=self.n_units,
            df_resid=self.n_units - 1,
            rss=float("nan"),
            tss_within=float("nan"),
            outcome=self.outcome,
            model_name=f"CallawaySantAnna ({kind})",
            event_times=tuple(labels),
            ref=None,
            window=(min(labels), max(labels)),
            intensity=self.intensity,
            overall=(overall_estimate, overall_se),
            uniform_band=band,
        )

    def _overall(
        self,
        kind: str,
        labels: list[int],
        groups: list[np.ndarray],
        estimates: np.ndarray,
        combination: np.ndarray,
    ) -> tuple[float, np.ndarray]:
        """did's overall summary of an aggregation, and its influence-function coefficients."""
        if kind == "simple":
            return float(estimates[0]), combination[:, 0]
        if kind == "dynamic":
            after = np.array(labels) >= 0
            return float(estimates[after].mean()), combination[:, after].mean(axis=1)
        if kind == "calendar":
            return float(estimates.mean()), combination.mean(axis=1)
        # group: the cohort averages weighted by cohort size, i.e. each cell by 1 / (its
        # cohort's number of post-treatment cells).
        weights = sum(cells / cells.sum() for cells in groups)
        estimate, overall = self._ratios(weights[:, None])
        return float(estimate[0]), overall[:, 0]


def _sup_t_critical_value(covariance: np.ndarray, alpha: float, n_draws: int, seed: int) -> float:
    """The 1 - alpha quantile of max_e |Z_e| / se_e over Z ~ N(0, covariance)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if not isinstance(n_draws, int) or n_draws < 100:
        raise ValueError(f"n_draws: expected an integer >= 100, got {n_draws!r}")
    se = np.sqrt(np.diag(covariance))
    keep = se > 0
    values, vectors = np.linalg.eigh(covariance[np.ix_(keep, keep)])
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    draws = np.random.default_rng(seed).standard_normal((n_draws, root.shape[1])) @ root.T
    statistic = np.abs(draws / se[keep]).max(axis=1)
    return float(np.quantile(statistic, 1 - alpha, method="inverted_cdf"))
