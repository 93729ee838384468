"""Results of the fixed-effects estimators, with the statsmodels habits our users have.

A results object is a frozen container of arrays and labels computed once by ``fit()``: reading
a property never refits. Tables (:meth:`RegressionResults.summary`, ``to_frame``, ``to_latex``)
and tests (``t_test``, ``wald_test``) are functions of those arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd
from formulaic.utils.constraints import LinearConstraints
from scipy import stats
from statsmodels.iolib.summary2 import Summary

from models.estimation.vcov import Covariance

Restrictions = str | np.ndarray | tuple[np.ndarray, np.ndarray]


class LinearCombination(NamedTuple):
    """A linear combination of coefficients, such as a cumulative effect, and its SE."""

    estimate: float
    se: float


@dataclass(frozen=True)
class WaldTest:
    """A joint test of linear restrictions ``R beta = q``.

    The statistic is ``(R b - q)' (R V R')^-1 (R b - q) / q_rows``, compared with the F
    distribution with (``df_num``, ``df_denom``) degrees of freedom, ``df_denom`` being the
    t degrees of freedom of the fit (as fixest's ``wald``); with ``df_denom`` infinite (normal
    inference), ``df_num`` times the statistic is compared with chi-squared(``df_num``).
    """

    statistic: float
    pvalue: float
    df_num: int
    df_denom: float

    def __str__(self) -> str:
        return (
            f"Wald test: F({self.df_num}, {self.df_denom:g}) = {self.statistic:.4f}, "
            f"p = {self.pvalue:.4g}"
        )


@dataclass(frozen=True)
class RegressionResults:
    """Coefficients of a fixed-effects least-squares fit and their covariance.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Coefficients, standard errors, t statistics and two-sided p-values (t distribution with
        ``df_t`` degrees of freedom).
    nobs : int
        Observations used.
    df_resid : int
        n minus estimated coefficients minus identified fixed-effect coefficients.
    df_t : float
        Degrees of freedom of the t and F reference distributions (``G - 1`` when clustered).
    rsquared_within : float
        R-squared of the regression on the within-transformed outcome.
    collinear : tuple of str
        Regressors dropped because they were collinear with earlier ones or with the fixed
        effects.
    """

    names: tuple[str, ...]
    coefficients: np.ndarray
    covariance: Covariance
    nobs: int
    df_resid: int
    rss: float
    tss_within: float
    outcome: str
    fixed_effects: tuple[str, ...] = ()
    fixed_effect_sizes: tuple[int, ...] = ()
    collinear: tuple[str, ...] = ()
    n_singletons: int = 0
    model_name: str = "FixedEffectsOLS"

    @property
    def df_t(self) -> float:
        """Degrees of freedom of the t and F reference distributions."""
        return self.covariance.df_t

    @property
    def vcov_type(self) -> str:
        """The variance estimator, e.g. ``CRV1 by consumer_id``."""
        return self.covariance.request.label

    @cached_property
    def params(self) -> pd.Series:
        """Estimated coefficients."""
        return pd.Series(self.coefficients, index=list(self.names), name="params")

    @cached_property
    def bse(self) -> pd.Series:
        """Standard errors."""
        return pd.Series(
            np.sqrt(np.diag(self.covariance.matrix)), index=list(self.names), name="bse"
        )

    @cached_property
    def tvalues(self) -> pd.Series:
        """t statistics for coefficient = 0."""
        return (self.params / self.bse).rename("tvalues")

    @cached_property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the t statistics."""
        p = 2 * stats.t.sf(np.abs(self.tvalues.to_numpy()), self.df_t)
        return pd.Series(p, index=list(self.names), name="pvalues")

    @property
    def rsquared_within(self) -> float:
        """1 - RSS / within total sum of squares."""
        return 1.0 - self.rss / self.tss_within if self.tss_within > 0 else float("nan")

    def _critical_value(self, alpha: float) -> float:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
        return float(stats.t.ppf(1 - alpha / 2, self.df_t))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence intervals at level ``1 - alpha``, columns ``lower`` and ``upper``."""
        half = self._critical_value(alpha) * self.bse
        return pd.DataFrame({"lower": self.params - half, "upper": self.params + half})

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients."""
        names = list(self.names)
        return pd.DataFrame(self.covariance.matrix, index=names, columns=names)

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: estimate, se, t, p, ci_low, ci_high."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "estimate": self.params,
                "se": self.bse,
                "t": self.tvalues,
                "p": self.pvalues,
                "ci_low": ci["lower"],
                "ci_high": ci["upper"],
            }
        )

    def _info(self) -> dict[str, str]:
        info = {
            "Model:": self.model_name,
            "Dependent variable:": self.outcome,
            "Observations:": f"{self.nobs:,}",
            "Fixed effects:": ", ".join(
                f"{name} ({size:,})"
                for name, size in zip(self.fixed_effects, self.fixed_effect_sizes, strict=True)
            )
            or "none",
            "Standard errors:": self.vcov_type,
            "Degrees of freedom (t):": f"{self.df_t:g}",
            "R-squared (within):": f"{self.rsquared_within:.4f}",
        }
        if self.covariance.n_clusters:
            info["Clusters:"] = ", ".join(f"{g:,}" for g in self.covariance.n_clusters)
        if self.collinear:
            info["Dropped (collinear):"] = ", ".join(self.collinear)
        if self.n_singletons:
            info["Singletons dropped:"] = f"{self.n_singletons:,}"
        return info

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels ``Summary`` (``as_text``, ``as_latex``, ``as_html``); never prints."""
        table = self.to_frame(alpha).rename(
            columns={
                "estimate": "Coef.",
                "se": "Std.Err.",
                "t": "t",
                "p": "P>|t|",
                "ci_low": f"[{alpha / 2:g}",
                "ci_high": f"{1 - alpha / 2:g}]",
            }
        )
        summary = Summary()
        summary.add_title(f"{self.model_name} results")
        summary.add_dict(self._info())
        summary.add_df(table, float_format="%.4f")
        return summary

    def to_latex(self, alpha: float = 0.05) -> str:
        """The summary as a LaTeX table."""
        return self.summary(alpha).as_latex()

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def _restriction_matrix(self, restrictions: Restrictions) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(restrictions, str):
            try:
                constraints = LinearConstraints.from_spec(restrictions, variable_names=self.names)
            except KeyError as exc:
                raise ValueError(
                    f"restrictions: unknown coefficient {exc.args[0]!r} in {restrictions!r} "
                    f"(coefficients: {', '.join(self.names)})"
                ) from None
            except Exception as exc:  # formulaic's syntax errors
                raise ValueError(
                    f"restrictions: cannot read {restrictions!r} ({exc}); quote names that "
                    f"are not Python identifiers in backticks, e.g. '`event_time::0` = 0'"
                ) from None
            return constraints.constraint_matrix, constraints.constraint_values.astype(float)
        if isinstance(restrictions, tuple):
            matrix, values = (np.atleast_2d(np.asarray(a, dtype=float)) for a in restrictions)
            values = values.ravel()
        else:
            matrix = np.atleast_2d(np.asarray(restrictions, dtype=float))
            values = np.zeros(matrix.shape[0])
        if matrix.shape[1] != len(self.names) or values.size != matrix.shape[0]:
            raise ValueError(
                f"restrictions: expected a matrix with {len(self.names)} columns (one per "
                f"coefficient) and one value per row, got shapes {matrix.shape} and "
                f"{values.shape}"
            )
        return matrix, values

    def t_test(self, restrictions: Restrictions, alpha: float = 0.05) -> pd.DataFrame:
        """t tests of each linear restriction, e.g. ``"a - b = 0"`` or a matrix R (q = 0).

        In a string, names that are not Python identifiers go in backticks:
        ``"`event_time::0` - `event_time::1` = 0"``. ``(R, q)`` gives the values too.

        Returns
        -------
        pandas.DataFrame
            One row per restriction: estimate of ``R b - q``, se, t, p, ci_low, ci_high.
        """
        matrix, values = self._restriction_matrix(restrictions)
        estimate = matrix @ self.coefficients - values
        se = np.sqrt(np.einsum("ij,jk,ik->i", matrix, self.covariance.matrix, matrix))
        t = estimate / se
        half = self._critical_value(alpha) * se
        return pd.DataFrame(
            {
                "estimate": estimate,
                "se": se,
                "t": t,
                "p": 2 * stats.t.sf(np.abs(t), self.df_t),
                "ci_low": estimate - half,
                "ci_high": estimate + half,
            }
        )

    def wald_test(self, restrictions: Restrictions) -> WaldTest:
        """Joint F test that all the linear restrictions hold."""
        matrix, values = self._restriction_matrix(restrictions)
        gap = matrix @ self.coefficients - values
        middle = matrix @ self.covariance.matrix @ matrix.T
        q = matrix.shape[0]
        eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
        rank = int((eigenvalues > 1e-10 * eigenvalues.max(initial=0.0)).sum())
        if rank < q:
            clusters = self.covariance.n_clusters
            hint = (
                f"; with {min(clusters)} clusters a joint test can have at most "
                f"{min(clusters) - 1} restrictions"
                if clusters
                else ""
            )
            raise ValueError(
                f"wald_test: the covariance of the {q} restrictions has rank {rank}, so they "
                f"cannot be tested jointly{hint}"
            )
        statistic = float(gap @ np.linalg.solve(middle, gap)) / q
        if np.isinf(self.df_t):  # normal inference: q F is chi-squared with q degrees of freedom
            pvalue = stats.chi2.sf(q * statistic, q)
        else:
            pvalue = stats.f.sf(statistic, q, self.df_t)
        return WaldTest(statistic, float(pvalue), q, self.df_t)


@dataclass(frozen=True)
class EventStudyResults(RegressionResults):
    """Results of an event study: the coefficients are effects by event time.

    Attributes
    ----------
    event_times : tuple of int
        Event time of each coefficient (same order as ``params``).
    ref : int or None
        The omitted reference event time (its effect is 0 by construction); None when no
        event time is omitted (aggregated Callaway-Sant'Anna effects).
    window : tuple of int
        Lowest and highest event time estimated; with binned end points these two
        coefficients pool every event time beyond them.
    bin_endpoints : bool
        Whether the window's end points pool every event time beyond them.
    overall : tuple of float or None
        (estimate, se) of an overall average, for estimators that report one.
    uniform_band : tuple of float or None
        (alpha, critical value) of a simultaneous confidence band over all coefficients, for
        estimators that compute one (:meth:`uniform_conf_int`).
    """

    event_times: tuple[int, ...] = ()
    ref: int | None = -1
    window: tuple[int, int] = (0, 0)
    intensity: str | None = None
    bin_endpoints: bool = False
    overall: tuple[float, float] | None = None
    uniform_band: tuple[float, float] | None = None

    def event_time_effects(self, alpha: float = 0.05) -> pd.DataFrame:
        """Effects by event time: estimate, se, ci_low, ci_high (reference period omitted).

        With a uniform band (``uniform_band``), also its limits: band_low, band_high.
        """
        table = self.to_frame(alpha)[["estimate", "se", "ci_low", "ci_high"]]
        if self.uniform_band is not None:
            band = self.uniform_conf_int()
            table = table.assign(band_low=band["lower"], band_high=band["upper"])
        table.index = pd.Index(self.event_times, name="event_time")
        return table

    def uniform_conf_int(self) -> pd.DataFrame:
        """The simultaneous confidence band: estimate -/+ critical value x se for every
        coefficient, covering all of them jointly with probability ``1 - alpha``."""
        if self.uniform_band is None:
            raise ValueError(
                f"{self.model_name}: no uniform band was computed (CallawaySantAnna's "
                "aggregate(..., uniform_band=True) computes one)"
            )
        _, critical = self.uniform_band
        half = critical * self.bse
        return pd.DataFrame({"lower": self.params - half, "upper": self.params + half})

    def _combination(self, first: int, last: int) -> np.ndarray:
        lo, hi = self.window
        if not lo <= first <= last <= hi:
            raise ValueError(
                f"cumulative: event times {first}..{last} must lie in the window {lo}..{hi}"
            )
        missing = [t for t in range(first, last + 1) if t != self.ref and t not in self.event_times]
        if missing:
            raise ValueError(
                f"cumulative: event time(s) {', '.join(map(str, missing))} have no estimate "
                f"(dropped as collinear or not observed; see .collinear)"
            )
        times = np.asarray(self.event_times)
        return ((times >= first) & (times <= last)).astype(float)

    def cumulative(self, first: int, last: int) -> LinearCombination:
        """Sum of the effects over event times ``first..last`` and its standard error.

        The reference period contributes 0. With binned end points, a range that reaches the
        window's ``lo`` or ``hi`` includes that bin, i.e. every event time beyond it. With
        ``intensity="fake_value"``, ``cumulative(0, 11)`` is the 12-week spend change per yuan
        of counterfeit.
        """
        weights = self._combination(first, last)
        estimate = float(weights @ self.coefficients)
        se = float(np.sqrt(weights @ self.covariance.matrix @ weights))
        return LinearCombination(estimate, se)

    def cumulative_conf_int(
        self, first: int, last: int, alpha: float = 0.05
    ) -> tuple[float, float]:
        """Confidence interval of :meth:`cumulative` at level ``1 - alpha``."""
        estimate, se = self.cumulative(first, last)
        half = self._critical_value(alpha) * se
        return estimate - half, estimate + half

    def pretrend_test(self) -> WaldTest:
        """Joint Wald test that every lead (event time < 0) is zero."""
        leads = np.flatnonzero(np.asarray(self.event_times) < 0)
        if leads.size == 0:
            raise ValueError("pretrend_test: the window has no leads (event times < 0)")
        return self.wald_test(np.eye(len(self.names))[leads])

    def _info(self) -> dict[str, str]:
        info = super()._info()
        reference = "" if self.ref is None else f" (ref {self.ref})"
        info["Event window:"] = f"{self.window[0]}..{self.window[1]}{reference}"
        if self.overall is not None:
            info["Overall average:"] = f"{self.overall[0]:.4f} (SE {self.overall[1]:.4f})"
        if self.intensity is not None:
            info["Intensity:"] = self.intensity
        return info
