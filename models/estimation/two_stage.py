"""Gardner's two-stage difference-in-differences (the R package did2s, Butts and Gardner).

Estimand. Stage 1 fits the untreated outcome on the untreated observations only (treatment
indicator D_it = 0): by default ``Y_it(0) = alpha_i + lambda_t``, in general any first-stage
formula ``"~ covariates | fe1 + fe2"`` (state instead of unit effects, covariates, interacted
effects ``a^b``). Every observation's outcome is then residualised, ``Y~_it = Y_it - Y^_it(0)``,
and stage 2 regresses ``Y~`` on a second-stage formula over all observations, without an
intercept: ``"~ i(treat, ref=0)"`` gives the average effect on the treated (the default), ``"~
i(rel_year, ref=[-1, inf])"`` an event study. With unit and period effects and a saturated second
stage the estimates are the imputation estimator's (Borusyak, Jaravel and Spiess 2024; Gardner
2021). Treated observations whose untreated outcome the first stage cannot predict (a level of
a fixed effect with no untreated observation, as fixest's ``predict`` returns NA and did2s then
drops them; or levels in pieces of the untreated sample that no observation links) are dropped,
with an :class:`~models.exceptions.ImputationWarning` that counts them.

Variance (Gardner 2021, the GMM correction; did2s's analytic standard errors). With X1 the
first-stage design (covariates and fixed-effect dummies) on every observation, X10 the same with
the treated rows zeroed, X2 the second-stage design, weights W, first-stage residuals u (zero on
treated rows) and second-stage residuals v, each observation's influence on the estimates is

    psi_i = (X2'WX2)^-1 [x2_i w_i v_i - X2'WX1 (X10'WX10)^- x10_i w_i u_i],

the second term carrying the first stage's estimation error into the second. The covariance is
``sum_g (sum_{i in g} psi_i)(sum_{i in g} psi_i)'`` over the clusters g (the unit by default),
with no small-sample factor: neither (n - 1) / (n - K) nor G / (G - 1), exactly as did2s
computes it. As fixest prints a covariance matrix it is given, t statistics are compared with
the t distribution with n - k degrees of freedom (k second-stage coefficients). With
``fit(vcov="bootstrap", draws=250, seed=0)`` (did2s's ``bootstrap = TRUE, n_bootstraps = 250``)
the covariance is instead that of the estimates over resamples of the clusters, both stages
refit on each (:mod:`models.estimation.two_stage_bootstrap`); the t reference is the same.

Computation. The fixed-effect coefficients of stage 1 and the solves with (X10'WX10)^- never
build X1: the covariates' coefficients come from :class:`~models.estimation.ols.FixedEffectsOLS`
on the untreated rows, the fixed effects' from their normal equations
(:mod:`models.estimation.fixed_effect_coefficients`), and ``X10 (X10'WX10)^- X1'W x2`` splits by
Frisch-Waugh-Lovell into a fixed-effect solve and a small covariate system.

References: Gardner, J. (2021), "Two-stage differences in differences", working paper
(https://jrgcmu.github.io/2sdd_current.pdf; arXiv:2207.05943); Butts, K. and Gardner, J. (2022),
"did2s: Two-Stage Difference-in-Differences", The R Journal, RJ-2022-048. Checked against
did2s's printed examples and test suite, and pyfixest's did2s.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from models.estimation.absorb import DEFAULT_MAXITER, DEFAULT_TOL, FixedEffects
from models.estimation.design import DenseDesign
from models.estimation.fixed_effect_coefficients import FixedEffectEquations
from models.estimation.ols import DEFAULT_COLLIN_TOL, FixedEffectsOLS, WithinFit, fit_within
from models.estimation.panel_data import (
    categorical_codes,
    fixed_effect_columns,
    numeric_values,
    require_columns,
)
from models.estimation.results import Estimates, EventTimes, Results
from models.estimation.two_stage_bootstrap import DEFAULT_DRAWS, TwoStageSample, bootstrap_request
from models.estimation.two_stage_formula import StageFormula, stage_design
from models.estimation.vcov import Covariance, VcovRequest, VcovSpec, parse_vcov
from models.exceptions import ImputationWarning

_EVENT_NAME = re.compile(r"^(.+)::(-?\d+)$")


class TwoStageDiD:
    """Gardner's two-stage difference-in-differences with did2s's GMM or bootstrap standard errors.

    See the module docstring for the estimand, the variance and the rows it drops.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period (balanced or not).
    outcome : str
        Column of the outcome (e.g. weekly spend in yuan).
    unit, time : str
        Columns of the unit and period: the default first stage ``"~ 0 | unit + time"`` and the
        default cluster.
    treatment : str
        Column equal to 1 (or True) where treatment is on, 0 (or False) elsewhere. Stage 1 uses
        the rows where it is 0; stage 2 all rows. With anticipation, set it to 1 from the first
        anticipated period on.
    first_stage : str, optional
        One-sided formula of stage 1, did2s's ``first_stage``: ``"~ x1 + x2 | fe1 + fe2"``;
        at least one fixed effect. Default ``"~ 0 | unit + time"``.
    second_stage : str, optional
        One-sided formula of stage 2, did2s's ``second_stage``, without fixed effects; fixest's
        ``i(var, ref=...)`` makes indicators (see :mod:`models.estimation.two_stage_formula`).
        Default ``"~ i(treatment, ref=0)"``: the average effect on the treated.
    weights : str, optional
        Column of positive observation weights, used in both stages (did2s's ``weights``).
    cluster : str, optional
        Column ``fit("CRV1")`` clusters by and ``fit("bootstrap")`` resamples (did2s's
        ``cluster_var``, e.g. a state above the unit); the unit by default.
        ``fit({"CRV1": col})`` or ``fit({"bootstrap": col})`` names the column at the fit.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> unit, year = np.repeat(np.arange(40), 8), np.tile(np.arange(8), 40)
    >>> cohort = np.where(unit < 20, 3 + unit % 4, 99)
    >>> treat = (year >= cohort).astype(int)
    >>> y = 0.1 * unit + 0.2 * year + 2.0 * treat + rng.normal(0, 0.1, unit.size)
    >>> df = pd.DataFrame({"y": y, "unit": unit, "year": year, "treat": treat})
    >>> res = TwoStageDiD(df, "y", "unit", "year", "treat").fit()
    >>> res.params.index.tolist(), bool(abs(res.params.iloc[0] - 2.0) < 0.1)
    (['treat::1'], True)
    """

    VCOV: ClassVar[tuple[str, ...]] = ("CRV1", "bootstrap")
    """The variances ``fit(vcov=...)`` supports: Gardner's GMM clustered by one column, and
    did2s's bootstrap of the clusters of one column."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        unit: str,
        time: str,
        treatment: str,
        *,
        first_stage: str | None = None,
        second_stage: str | None = None,
        weights: str | None = None,
        cluster: str | None = None,
    ) -> None:
        require_columns(df, [outcome, unit, time, treatment])
        if cluster is not None:
            require_columns(df, [cluster], "cluster")
        if len(df) == 0:
            raise ValueError("data: no rows")
        self.df = df
        self.outcome = outcome
        self.unit = unit
        self.time = time
        self.treatment = treatment
        self.first_stage = first_stage or f"~ 0 | {unit} + {time}"
        self.second_stage = second_stage or f"~ i({treatment}, ref=0)"
        self.weights = weights
        self.cluster = cluster
        self._first = StageFormula.parse(self.first_stage, "first_stage")
        self._second = StageFormula.parse(self.second_stage, "second_stage")
        if not self._first.fixed_effects:
            raise ValueError(
                f"first_stage: expected fixed effects after '|', e.g. '~ 0 | {unit} + {time}', "
                f"got {self.first_stage!r}"
            )
        if self._second.fixed_effects:
            raise ValueError(
                f"second_stage: expected no fixed effects (no '|'), got {self.second_stage!r}"
            )
        require_columns(df, fixed_effect_columns(self._first.fixed_effects), "fixed effect")
        numeric_values(df, outcome)
        self._treated = _treated_rows(df, treatment)
        if self._treated.all():
            raise ValueError(
                f"column {treatment!r}: no untreated rows (0) to fit the first stage on"
            )
        if not self._treated.any():
            raise ValueError(f"column {treatment!r}: no treated rows (1) to estimate effects of")
        if weights is not None:
            require_columns(df, [weights], "weights")
            if (numeric_values(df, weights) <= 0).any():
                raise ValueError(f"column {weights!r}: weights must be positive")

    def fit(
        self, vcov: VcovSpec = "CRV1", *, draws: int | None = None, seed: int | None = None
    ) -> Results:
        """Fit both stages and Gardner's GMM covariance, or did2s's bootstrap covariance.

        Parameters
        ----------
        vcov : str or dict
            ``"CRV1"`` clusters by ``cluster`` (the unit by default); ``{"CRV1": "state"}`` by
            another column (did2s's ``cluster_var``). No small-sample factor (module docstring).
            ``"bootstrap"`` (or ``{"bootstrap": "state"}``) is did2s's ``bootstrap = TRUE``: the
            covariance of the estimates over ``draws`` resamples of the clusters, both stages
            refit on each (:mod:`models.estimation.two_stage_bootstrap`).
        draws : int, optional
            Bootstrap draws (did2s's ``n_bootstraps``), at least 2; default 250, as did2s.
            Only with ``vcov="bootstrap"``.
        seed : int, optional
            Seed (>= 0) of the clusters drawn; default 0. R's draws cannot be reproduced. Only
            with ``vcov="bootstrap"``.

        Returns
        -------
        Results
            ``params`` named as fixest names the second stage's coefficients (``treat::1``,
            ``rel_year::-3``); when they are all ``var::k`` for integers k of one variable other
            than the treatment, also the event-time layer (``event_time_effects()``,
            ``cumulative``, ``pretrend_test``). Every inference uses the covariance asked for.
        """
        cluster, bootstrap = self._variance(vcov, draws, seed)
        first, data, second, x2 = self._stages()
        codes, n_clusters = categorical_codes(data, cluster)
        nobs, k = len(data), len(second.design.names)
        if bootstrap is None:
            weights = _weights(self, data)
            covariance = _gmm_covariance(first, second, x2, weights, (codes, n_clusters))
            request = VcovRequest("Gardner GMM", (cluster,))
        else:
            n_draws, seed = bootstrap
            sample = self._sample(first, data, second, x2, cluster)
            estimates, n_clusters = sample.draws(n_draws, seed), sample.n_clusters
            covariance = np.cov(estimates, rowvar=False).reshape(k, k)
            label = f"bootstrap ({n_draws:,} draws, seed {seed}), clustered"
            request = VcovRequest(label, (cluster,))
        return Results(
            model_name="TwoStageDiD",
            outcome=self.outcome,
            estimates=Estimates(
                names=second.design.names,
                coefficients=second.estimates.coefficients,
                covariance=Covariance(
                    matrix=(covariance + covariance.T) / 2,
                    df_t=float(nobs - k),
                    request=request,
                    n_clusters=(n_clusters,),
                ),
                nobs=nobs,
            ),
            event=self._event_times(second.design.names),
            notes=(
                ("First stage", f"{self.first_stage} ({first.n_untreated:,} untreated rows)"),
                ("Second stage", self.second_stage),
            ),
        )

    def bootstrap_draws(
        self, draws: int = DEFAULT_DRAWS, *, seed: int = 0, cluster: str | None = None
    ) -> pd.DataFrame:
        """The second-stage estimates of each bootstrap draw (did2s's ``return_bootstrap``).

        Parameters
        ----------
        draws, seed : int
            As in :meth:`fit` with ``vcov="bootstrap"``.
        cluster : str, optional
            The column whose clusters are drawn; default ``cluster`` (else the unit).

        Returns
        -------
        pandas.DataFrame
            One row per draw (index ``draw``), one column per coefficient; ``fit``'s bootstrap
            covariance is their covariance.
        """
        spec = "bootstrap" if cluster is None else {"bootstrap": cluster}
        cluster, (n_draws, seed) = self._variance(spec, draws, seed)
        first, data, second, x2 = self._stages()
        estimates = self._sample(first, data, second, x2, cluster).draws(n_draws, seed)
        return pd.DataFrame(
            estimates, columns=list(second.design.names), index=pd.RangeIndex(n_draws, name="draw")
        )

    def _variance(
        self, vcov: VcovSpec, draws: int | None, seed: int | None
    ) -> tuple[str, tuple[int, int] | None]:
        """The cluster column and, for the bootstrap, its draws and seed, checked."""
        default = self.cluster or self.unit
        bootstrap = bootstrap_request(vcov, draws, seed, default, "TwoStageDiD")
        if bootstrap is not None:
            cluster, n_draws, seed = bootstrap
            require_columns(self.df, [cluster], "cluster")
            return cluster, (n_draws, seed)
        request = parse_vcov(vcov, [default], self.VCOV, "TwoStageDiD")
        if len(request.clusters) != 1:
            raise ValueError(
                f"TwoStageDiD: vcov: one cluster column, got {' and '.join(request.clusters)}"
            )
        require_columns(self.df, list(request.clusters), "cluster")
        return request.clusters[0], None

    def _stages(self) -> tuple[_FirstStage, pd.DataFrame, WithinFit, np.ndarray]:
        """Both stages on the data: the first stage, the rows kept, the second stage and its
        regressors (without the columns it drops as collinear)."""
        first = _FirstStage.fit(self)
        data = self.df.loc[first.kept]
        w = None if self.weights is None else numeric_values(data, self.weights)
        names, x2 = stage_design(self._second.rhs, data, "second_stage")
        if not names:
            raise ValueError(f"second_stage: expected at least one term, got {self.second_stage!r}")
        no_effects = FixedEffects.from_codes([], [], w, n_obs=len(data))
        second = fit_within(
            y=first.residualised,
            design=DenseDesign.absorb(names, x2, no_effects),
            fe=no_effects,
            request=VcovRequest("iid"),
            cluster_values=lambda name: categorical_codes(data, name),
            tol=DEFAULT_TOL,
            maxiter=DEFAULT_MAXITER,
            collin_tol=DEFAULT_COLLIN_TOL,
        )
        return first, data, second, x2[:, [names.index(n) for n in second.design.names]]

    def _sample(
        self,
        first: _FirstStage,
        data: pd.DataFrame,
        second: WithinFit,
        x2: np.ndarray,
        cluster: str,
    ) -> TwoStageSample:
        """The fit's rows as the bootstrap refits them; it draws among every cluster of the
        data, as did2s, even one whose rows the fit drops (a draw of it adds no row)."""
        codes, n_clusters = categorical_codes(self.df, cluster)
        return TwoStageSample(
            outcome=numeric_values(data, self.outcome),
            untreated=first.untreated,
            fixed_effects=self._first.fixed_effects,
            codes=tuple(first.codes),
            sizes=tuple(int(s) for s in np.diff(first.equations.offsets)),
            covariate_names=first.covariate_names,
            covariates=first.covariates,
            names=second.design.names,
            design=x2,
            weights=_weights(self, data),
            clusters=codes[first.kept].astype(np.intp),
            n_clusters=n_clusters,
        )

    def _event_times(self, names: tuple[str, ...]) -> EventTimes | None:
        """The event-time layer when every coefficient is ``var::k`` of one event-time variable."""
        matches = [_EVENT_NAME.match(n) for n in names]
        if not all(matches) or len({m.group(1) for m in matches}) != 1:
            return None
        if matches[0].group(1) == self.treatment:
            return None
        times = [int(m.group(2)) for m in matches]
        missing = sorted(set(range(min(times), max(times) + 1)) - set(times))
        return EventTimes(
            event_times=tuple(times),
            ref=missing[0] if len(missing) == 1 else None,
            window=(min(times), max(times)),
        )


@dataclass(frozen=True)
class _FirstStage:
    """Stage 1 fitted on the untreated rows, with what the variance needs of it; every array
    is on the rows kept for stage 2 except ``within_covariates`` (untreated rows only)."""

    kept: np.ndarray
    untreated: np.ndarray
    residualised: np.ndarray
    codes: list[np.ndarray]
    equations: FixedEffectEquations
    covariate_names: tuple[str, ...]
    covariates: np.ndarray
    within_covariates: np.ndarray

    @property
    def n_untreated(self) -> int:
        """Rows stage 1 is fitted on."""
        return int(self.untreated.sum())

    @classmethod
    def fit(cls, model: TwoStageDiD) -> _FirstStage:
        """Fit stage 1 of ``model`` and residualise every row it can predict."""
        df, formula = model.df, model._first
        treated = model._treated
        all_codes = [categorical_codes(df, name) for name in formula.fixed_effects]
        codes = [c.astype(np.int64) for c, _ in all_codes]
        sizes = [size for _, size in all_codes]
        w = None if model.weights is None else numeric_values(df, model.weights)
        w0 = None if w is None else w[~treated]
        equations = FixedEffectEquations.from_codes([c[~treated] for c in codes], sizes, w0)
        kept = ~treated | equations.identified(codes)
        if not kept.all():
            warnings.warn(
                f"TwoStageDiD: dropped {int((~kept).sum()):,} treated row(s) whose untreated "
                f"outcome the first stage cannot predict (a level of "
                f"{' or '.join(formula.fixed_effects)} without untreated rows, or not linked to "
                "the others by untreated rows)",
                ImputationWarning,
                stacklevel=3,
            )
        names, covariates = stage_design(formula.rhs, df, "first_stage")
        y = numeric_values(df, model.outcome)
        untreated = ~treated
        beta = np.zeros(0)
        if names:
            names, beta = cls._covariate_coefficients(model, names, covariates, untreated)
            covariates = covariates[:, [i for i, _ in names]]
        offset = covariates @ beta if beta.size else np.zeros(len(df))
        totals = equations.totals([c[untreated] for c in codes], (y - offset)[untreated], w0)
        effects = equations.solve(totals)
        predicted = offset + equations.predict(effects, codes)
        within = np.zeros((int(untreated.sum()), beta.size))
        if beta.size:
            fe0 = FixedEffects.from_codes(formula.fixed_effects, [c[untreated] for c in codes], w0)
            within = fe0.demean(covariates[untreated])
        return cls(
            kept=kept,
            untreated=untreated[kept],
            residualised=(y - predicted)[kept],
            codes=[c[kept] for c in codes],
            equations=equations,
            covariate_names=tuple(name for _, name in names),
            covariates=covariates[kept],
            within_covariates=within,
        )

    @staticmethod
    def _covariate_coefficients(
        model: TwoStageDiD, names: tuple[str, ...], covariates: np.ndarray, untreated: np.ndarray
    ) -> tuple[list[tuple[int, str]], np.ndarray]:
        """The first stage's covariate coefficients (FixedEffectsOLS on the untreated rows),
        with the position and name of each covariate kept (collinear ones are dropped)."""
        columns = fixed_effect_columns(model._first.fixed_effects)
        if model.weights is not None:
            columns.append(model.weights)
        data = model.df.loc[untreated, list(dict.fromkeys(columns))].copy()
        data[model.outcome] = numeric_values(model.df, model.outcome)[untreated]
        for j, name in enumerate(names):
            data[name] = covariates[untreated, j]
        fitted = FixedEffectsOLS(
            data,
            model.outcome,
            list(names),
            list(model._first.fixed_effects),
            weights=model.weights,
            drop_singletons=False,
        ).fit("iid")
        kept = [(names.index(n), n) for n in fitted.params.index]
        return kept, fitted.params.to_numpy()

    def influence(self, x2: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each row's first-stage term ``x10_i w_i u_i (X10'WX10)^- X1'W x2`` (rows x k), on the
        rows of the second stage (zero on treated rows)."""
        untreated = self.untreated
        codes0 = [c[untreated] for c in self.codes]
        w0 = weights[untreated]
        solved = self.equations.solve(self.equations.totals(self.codes, x2, weights))
        projection = self.equations.predict(solved, codes0)
        if self.within_covariates.shape[1]:
            covariates0 = self.covariates[untreated]
            cross = self.covariates.T @ (weights[:, None] * x2) - covariates0.T @ (
                w0[:, None] * projection
            )
            within = self.within_covariates
            gram = within.T @ (w0[:, None] * within)
            projection = projection + within @ np.linalg.solve(gram, cross)
        out = np.zeros_like(x2)
        out[untreated] = (w0 * self.residualised[untreated])[:, None] * projection
        return out


def _weights(model: TwoStageDiD, data: pd.DataFrame) -> np.ndarray:
    """The model's observation weights on ``data`` (ones without)."""
    return np.ones(len(data)) if model.weights is None else numeric_values(data, model.weights)


def _gmm_covariance(
    first: _FirstStage,
    second: WithinFit,
    x2: np.ndarray,
    weights: np.ndarray,
    clusters: tuple[np.ndarray, int],
) -> np.ndarray:
    """Gardner's GMM covariance: the sandwich of the rows' influence summed by cluster."""
    influence = first.influence(x2, weights)
    scores = influence - second.design.matrix * second.residuals[:, None]
    codes, n_clusters = clusters
    cluster_scores = np.column_stack(
        [np.bincount(codes, weights=s, minlength=n_clusters) for s in scores.T]
    )
    return second.bread @ (cluster_scores.T @ cluster_scores) @ second.bread


def _treated_rows(df: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment column as booleans, checked to hold only 0/1 (or False/True)."""
    series = df[treatment]
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype=bool)
    values = numeric_values(df, treatment) if not pd.api.types.is_bool_dtype(series) else None
    if values is None or not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(
            f"column {treatment!r}: expected a treatment indicator of 0/1 or False/True "
            "without missing values"
        )
    return values == 1.0
