"""FixedEffectsOLS: least squares with any number of absorbed fixed effects.

The coefficients are those of the regression of the outcome on the regressors and a full set of
dummies for each fixed effect; the dummies are never built. Both the outcome and the regressors are
within-transformed by :mod:`models.estimation.absorb` (Frisch-Waugh-Lovell) and the variance comes
from :mod:`models.estimation.vcov`. :func:`fit_within` is the one least-squares engine behind every
estimator.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from models.estimation.absorb import (
    DEFAULT_MAXITER,
    DEFAULT_TOL,
    FixedEffects,
    singleton_mask,
)
from models.estimation.arguments import convergence, strict_bool
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.panel_data import (
    categorical_codes,
    fixed_effect_columns,
    numeric_values,
    require_columns,
)
from models.estimation.results import Estimates, RegressionStatistics, Results
from models.estimation.small_sample import SmallSample
from models.estimation.vcov import (
    VcovRequest,
    VcovSpec,
    estimate_vcov,
    parse_vcov,
)
from models.exceptions import CollinearityWarning, SingletonWarning

DEFAULT_COLLIN_TOL = 1e-10


def collinear_columns(gram: np.ndarray, raw_sumsq: np.ndarray, tol: float) -> np.ndarray:
    """Which columns to keep: each one in order unless it is (nearly) a combination of earlier
    kept columns and the fixed effects.

    Column j is dropped when the part of it not explained by the kept columns has a sum of
    squares below ``tol`` times its sum of squares before absorbing the fixed effects (an
    incremental Cholesky factorisation of the Gram matrix of the within-transformed columns).

    Returns
    -------
    numpy.ndarray of bool
    """
    k = gram.shape[0]
    keep = np.zeros(k, dtype=bool)
    factor = np.zeros((k, k))
    n_kept = 0
    for j in range(k):
        if raw_sumsq[j] <= 0:
            continue
        kept = np.flatnonzero(keep)
        row = solve_triangular(factor[:n_kept, :n_kept], gram[kept, j], lower=True)
        pivot = gram[j, j] - row @ row
        if pivot > tol * raw_sumsq[j]:
            factor[n_kept, :n_kept] = row
            factor[n_kept, n_kept] = np.sqrt(pivot)
            keep[j] = True
            n_kept += 1
    return keep


@dataclass(frozen=True)
class WithinFit:
    """A least-squares fit on within-transformed data: what the results hold, and the design,
    residuals and bread behind them (for inference that needs more than the covariance, such
    as :mod:`models.estimation.wild_bootstrap`).

    Attributes
    ----------
    estimates : Estimates
        The coefficients with their covariance.
    statistics : RegressionStatistics
        The fit's regression statistics.
    design : DenseDesign or IndicatorDesign
        The within-transformed regressors, without the columns dropped as collinear.
    residuals : numpy.ndarray
        The within residuals.
    bread : numpy.ndarray
        ``(X~'X~)^-1``.
    """

    estimates: Estimates
    statistics: RegressionStatistics
    design: DenseDesign | IndicatorDesign
    residuals: np.ndarray
    bread: np.ndarray


def fit_within(
    *,
    y: np.ndarray,
    design: DenseDesign | IndicatorDesign,
    fe: FixedEffects,
    request: VcovRequest,
    cluster_values: Callable[[str], tuple[np.ndarray, int]],
    tol: float,
    maxiter: int,
    collin_tol: float,
    n_singletons: int = 0,
) -> WithinFit:
    """Least squares on within-transformed data and the requested covariance.

    Parameters
    ----------
    y : numpy.ndarray
        The raw outcome on the estimation sample.
    design : DenseDesign or IndicatorDesign
        The within-transformed regressors.
    fe : FixedEffects
        The fixed effects absorbed in ``design`` (with the weights, if any).
    request : VcovRequest
        The variance estimator, from :func:`models.estimation.vcov.parse_vcov`.
    cluster_values : callable
        Maps a cluster column name to its codes ``0..G-1`` on the estimation sample and G.
    tol, maxiter : float, int
        Convergence settings of the alternating projections.
    collin_tol : float
        Tolerance of :func:`collinear_columns`.
    n_singletons : int
        Singleton observations removed before the fit (reported).

    Returns
    -------
    WithinFit
        The coefficients with their covariance, the fit's regression statistics, and the
        design, residuals and bread they come from.
    """
    clusters = [cluster_values(c) for c in request.clusters]
    y_within = fe.demean(y, tol=tol, maxiter=maxiter)
    if fe.weights is not None:
        y_within *= np.sqrt(fe.weights)
    gram = design.gram()
    keep = collinear_columns(gram, design.raw_sumsq, collin_tol)
    if not keep.any():
        raise ValueError(
            "the design cannot be estimated: every regressor "
            f"({', '.join(design.names)}) is constant or collinear with the fixed effects"
        )
    dropped = tuple(n for n, k in zip(design.names, keep, strict=True) if not k)
    if dropped:
        empty = [n for n, s in zip(design.names, design.raw_sumsq, strict=True) if s <= 0]
        collinear = [n for n in dropped if n not in empty]
        reasons = []
        if empty:
            reasons.append(f"{len(empty)} zero in every row: {', '.join(empty)}")
        if collinear:
            reasons.append(
                f"{len(collinear)} collinear with earlier regressors or the fixed effects: "
                f"{', '.join(collinear)}"
            )
        warnings.warn(
            f"dropped regressors, {'; '.join(reasons)}", CollinearityWarning, stacklevel=3
        )
        design = design.select(keep)
        gram = gram[np.ix_(keep, keep)]
    k = gram.shape[0]
    df_resid = y.size - k - fe.dof
    if df_resid <= 0:
        raise ValueError(
            f"the design cannot be estimated: {y.size:,} observations for {k} regressor(s) and "
            f"{fe.dof:,} fixed-effect coefficients leave no residual degrees of freedom"
        )
    factor = cho_factor(gram, lower=True)
    coefficients = cho_solve(factor, design.cross(y_within))
    bread = cho_solve(factor, np.eye(k))
    tss_within = float(y_within @ y_within)
    residuals = design.residuals(y_within, coefficients)  # overwrites y_within
    covariance = estimate_vcov(request, design, residuals, bread, fe, clusters)
    estimates = Estimates(tuple(design.names), coefficients, covariance, int(y.size))
    statistics = RegressionStatistics(
        df_resid=int(df_resid),
        rss=float(residuals @ residuals),
        tss_within=tss_within,
        fixed_effects=fe.names,
        fixed_effect_sizes=fe.sizes,
        collinear=dropped,
        n_singletons=n_singletons,
    )
    return WithinFit(estimates, statistics, design, residuals, bread)


def absorbed_fixed_effects(
    df: pd.DataFrame,
    names: Sequence[str],
    weights: np.ndarray | None,
    drop_singletons: bool,
) -> tuple[FixedEffects, np.ndarray | None]:
    """The fixed effects of ``df`` and, if singletons are dropped, the rows kept (else None)."""
    codes = [categorical_codes(df, name)[0] for name in names]
    fe = FixedEffects.from_codes(names, codes, weights, n_obs=len(df))
    keep = singletons_kept(fe) if drop_singletons else None
    return (fe, None) if keep is None else (fe.subset(keep), keep)


def singletons_kept(fe: FixedEffects) -> np.ndarray | None:
    """Rows left after iterated singleton removal, or None if no row is a singleton.

    Warns with the count (:class:`SingletonWarning`); raises if no row would be left.
    """
    if not fe.codes or fe.balanced_two_way:  # a balanced panel has no singleton
        return None
    keep = singleton_mask(fe.index_codes, fe.sizes, fe.level_counts)  # intp: no copies
    n_dropped = int(keep.size - keep.sum())
    if n_dropped == 0:
        return None
    if n_dropped == keep.size:
        raise ValueError(
            f"every one of the {n_dropped:,} observations is alone in a level of "
            f"{' or '.join(fe.names)}: nothing is left to estimate from"
        )
    warnings.warn(
        f"dropped {n_dropped:,} singleton observation(s) (alone in a level of "
        f"{' or '.join(fe.names)})",
        SingletonWarning,
        stacklevel=4,
    )
    return keep


class FixedEffectsOLS:
    """Linear regression with absorbed fixed effects (high-dimensional dummies).

    Estimates ``y_i = x_i' beta + alpha_1[g1(i)] + ... + alpha_m[gm(i)] + e_i`` by least squares,
    optionally weighted, absorbing every fixed effect (Frisch-Waugh-Lovell).

    Parameters
    ----------
    df : pandas.DataFrame
        The data, one row per observation.
    outcome : str
        Column of the dependent variable.
    regressors : sequence of str
        Columns of the regressors (numeric). No intercept: the fixed effects absorb it; with no
        fixed effects, add a constant column yourself.
    fixed_effects : sequence of str
        Categorical columns to absorb; ``"a^b"`` absorbs the interaction of columns a and b.
    weights : str, optional
        Column of positive observation weights (weighted least squares).
    drop_singletons : bool
        Drop observations alone in a level of some fixed effect, repeating until none is left
        (the default of pyfixest and of fixest >= 0.13). Such an observation is fit exactly by
        its own fixed effect, so the coefficients do not change; the degrees of freedom and
        hence the standard errors do. The count is reported with :class:`SingletonWarning` and
        in the results.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0, 7.0, 6.0], "x": [0.0, 1.0, 2.0, 0.0, 3.0, 1.0],
    ...                    "unit": [1, 1, 1, 2, 2, 2], "time": [1, 2, 3, 1, 2, 3]})
    >>> res = FixedEffectsOLS(df, "y", ["x"], ["unit", "time"]).fit(vcov="iid")
    >>> round(float(res.params["x"]), 6)
    1.071429
    >>> formula_res = FixedEffectsOLS.from_formula("y ~ x | unit + time", df).fit(vcov="iid")
    >>> round(float(formula_res.params["x"]), 6)
    1.071429
    """

    VCOV: ClassVar[tuple[str, ...]] = ("iid", "HC1", "CRV1")
    """The variance estimators ``fit(vcov=...)`` supports (CR3 needs an event-time design)."""

    def __init__(
        self,
        df: pd.DataFrame,
        outcome: str,
        regressors: Sequence[str],
        fixed_effects: Sequence[str] = (),
        weights: str | None = None,
        drop_singletons: bool = True,
    ) -> None:
        if isinstance(regressors, str) or not isinstance(fixed_effects, list | tuple):
            raise TypeError("regressors and fixed_effects must be lists of column names")
        if not regressors:
            raise ValueError("regressors: expected at least one regressor column")
        require_columns(df, [outcome], "outcome")
        if len(df) == 0:
            raise ValueError("data: no rows")
        require_columns(df, regressors, "regressor")
        require_columns(df, fixed_effect_columns(fixed_effects), "fixed effect")
        if weights is not None:
            require_columns(df, [weights], "weights")
            w = numeric_values(df, weights)
            if (w <= 0).any():
                raise ValueError(f"column {weights!r}: weights must be positive")
        numeric_values(df, outcome)
        for column in regressors:
            numeric_values(df, column)
        self.df = df
        self.outcome = outcome
        self.regressors = tuple(regressors)
        self.fixed_effects = tuple(fixed_effects)
        self.weights = weights
        self.drop_singletons = strict_bool("drop_singletons", drop_singletons, "FixedEffectsOLS")

    @classmethod
    def from_formula(
        cls,
        formula: str,
        df: pd.DataFrame,
        weights: str | None = None,
        drop_singletons: bool = True,
    ) -> FixedEffectsOLS:
        """A model from a fixest-style formula ``"y ~ x1 + x2 | fe1 + fe2"``.

        The part before ``|`` is a Wilkinson formula read by formulaic (transforms such as
        ``np.log(x)``, interactions ``x1:x2``, categorical ``C(g)`` with a reference level); its
        intercept is dropped when there are fixed effects (they absorb it) and kept otherwise.
        The part after ``|`` lists the fixed effects, ``a^b`` for an interaction of two columns.
        """
        from formulaic import Formula, model_matrix

        main, _, fe_part = formula.partition("|")
        fixed_effects = [f.strip() for f in fe_part.split("+")] if fe_part.strip() else []
        if "~" not in main:
            raise ValueError(f"formula: expected 'y ~ x1 + x2 | fe1 + fe2', got {formula!r}")
        try:
            variables = Formula(main).required_variables
        except Exception as exc:  # formulaic's syntax errors
            raise ValueError(f"formula {formula!r}: {exc}") from None
        for column in variables:
            if str(column) in df.columns:
                numeric_or_categorical = df[str(column)]
                if numeric_or_categorical.isna().any():
                    raise ValueError(
                        f"column {str(column)!r}: expected no missing values, found "
                        f"{int(numeric_or_categorical.isna().sum()):,}"
                    )
        try:
            lhs, rhs = model_matrix(main, df, na_action="raise")
        except Exception as exc:  # formulaic's parse and evaluation errors have several types
            raise ValueError(f"formula {formula!r}: {exc}") from None
        if fixed_effects:  # they absorb the intercept
            rhs = rhs.drop(columns=[c for c in rhs.columns if c == "Intercept"])
        outcome = str(lhs.columns[0])
        require_columns(
            df,
            fixed_effect_columns(fixed_effects) + ([weights] if weights else []),
            "fixed effect or weights",
        )
        # The data's own columns stay available (for clusters); a shallow copy shares them.
        data = df.copy(deep=False)
        for column in [*lhs.columns, *rhs.columns]:
            source = lhs if column in lhs.columns else rhs
            data[str(column)] = source[column].to_numpy()
        return cls(
            data, outcome, list(map(str, rhs.columns)), fixed_effects, weights, drop_singletons
        )

    def fit(
        self,
        vcov: VcovSpec = "iid",
        *,
        ssc: SmallSample | None = None,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        collin_tol: float = DEFAULT_COLLIN_TOL,
    ) -> Results:
        """Estimate the coefficients and their covariance.

        Parameters
        ----------
        vcov : str or dict
            ``"iid"`` (the default, as in statsmodels, pyfixest and fixest >= 0.13),
            ``"HC1"``, ``"CRV1"`` (clustered by the first fixed effect) or
            ``{"CRV1": "col"}`` / ``{"CRV1": "a+b"}`` (two-way).
        ssc : SmallSample, optional
            Small-sample factor and t degrees of freedom, :func:`models.estimation.small_sample.ssc`
            (fixest's ``ssc()``; default: fixest's default).
        tol, maxiter : float, int
            Convergence of the alternating projections (see :mod:`models.estimation.absorb`).
        collin_tol : float
            Collinearity tolerance (see :func:`collinear_columns`).

        Returns
        -------
        Results
            With the regression statistics (no event times).
        """
        convergence("FixedEffectsOLS", tol, maxiter, collin_tol)
        request = parse_vcov(vcov, self.fixed_effects[:1], self.VCOV, "FixedEffectsOLS", ssc)
        weights = None if self.weights is None else numeric_values(self.df, self.weights)
        fe, keep = absorbed_fixed_effects(
            self.df, self.fixed_effects, weights, self.drop_singletons
        )
        data = self.df if keep is None else self.df.loc[keep]
        x = np.empty((len(data), len(self.regressors)), order="F")
        for j, column in enumerate(self.regressors):
            x[:, j] = numeric_values(data, column)
        design = DenseDesign.absorb(
            self.regressors, x, fe, tol=tol, maxiter=maxiter, overwrite=True
        )
        fitted = fit_within(
            y=numeric_values(data, self.outcome),
            design=design,
            fe=fe,
            request=request,
            cluster_values=lambda name: categorical_codes(data, name),
            tol=tol,
            maxiter=maxiter,
            collin_tol=collin_tol,
            n_singletons=0 if keep is None else int(keep.size - keep.sum()),
        )
        return Results(
            "FixedEffectsOLS", self.outcome, fitted.estimates, regression=fitted.statistics
        )
