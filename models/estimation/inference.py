"""Inference on estimated coefficients: :class:`Estimates`, linear combinations, Wald tests.

:class:`Estimates` (named coefficients, their covariance with the degrees of freedom of the t
and F reference distributions, ``df_t``, infinite for normal inference, and the number of
observations) carries the inference every results object of :mod:`models.estimation.results`
shares; the functions below compute it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from numbers import Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from formulaic.utils.constraints import LinearConstraints
from scipy import stats

from models.estimation.arguments import shown
from models.estimation.vcov import Covariance

Restrictions = str | np.ndarray | tuple[np.ndarray, np.ndarray]
"""Linear restrictions ``R b = q``: a string such as ``"a - b = 0"``, a matrix R (q = 0) or
the pair (R, q)."""


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
    inference), ``df_num`` times the statistic is compared with chi-squared(``df_num``). With
    ``n_draws`` > 0 the p-value is instead that of a wild bootstrap with that many draws
    (:mod:`models.estimation.wild_bootstrap`).
    """

    statistic: float
    pvalue: float
    df_num: int
    df_denom: float
    n_draws: int = 0

    def __str__(self) -> str:
        if self.n_draws:
            return (
                f"Wald test: W/q = {self.statistic:.4f} ({self.df_num} restrictions), wild "
                f"bootstrap p = {self.pvalue:.4g} ({self.n_draws} draws)"
            )
        return (
            f"Wald test: F({self.df_num}, {self.df_denom:g}) = {self.statistic:.4f}, "
            f"p = {self.pvalue:.4g}"
        )


def critical_value(alpha: float, df_t: float) -> float:
    """The two-sided ``1 - alpha`` critical value of the t distribution (normal if infinite)."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {shown(alpha)}")
    return float(stats.t.ppf(1 - alpha / 2, df_t))


def two_sided_pvalues(t: np.ndarray, df_t: float) -> np.ndarray:
    """Two-sided p-values of t statistics with ``df_t`` degrees of freedom."""
    return 2 * stats.t.sf(np.abs(t), df_t)


def restriction_matrix(
    restrictions: Restrictions, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The matrix R and values q of linear restrictions on coefficients named ``names``.

    In a string, names that are not Python identifiers go in backticks:
    ``"`event_time::0` - `event_time::1` = 0"``.
    """
    if isinstance(restrictions, str):
        try:
            constraints = LinearConstraints.from_spec(restrictions, variable_names=list(names))
        except KeyError as exc:
            raise ValueError(
                f"restrictions: unknown coefficient {exc.args[0]!r} in {restrictions!r} "
                f"(coefficients: {', '.join(names)})"
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
    if matrix.shape[1] != len(names) or values.size != matrix.shape[0]:
        raise ValueError(
            f"restrictions: expected a matrix with {len(names)} columns (one per "
            f"coefficient) and one value per row, got shapes {matrix.shape} and "
            f"{values.shape}"
        )
    return matrix, values


def t_tests(
    matrix: np.ndarray,
    values: np.ndarray,
    coefficients: np.ndarray,
    covariance: np.ndarray,
    df_t: float,
    alpha: float,
) -> pd.DataFrame:
    """t tests of each row of ``R b = q``: estimate of ``R b - q``, se, t, p, ci_low, ci_high."""
    estimate = matrix @ coefficients - values
    se = np.sqrt(np.einsum("ij,jk,ik->i", matrix, covariance, matrix))
    t = estimate / se
    half = critical_value(alpha, df_t) * se
    return pd.DataFrame(
        {
            "estimate": estimate,
            "se": se,
            "t": t,
            "p": two_sided_pvalues(t, df_t),
            "ci_low": estimate - half,
            "ci_high": estimate + half,
        }
    )


def wald_test(
    matrix: np.ndarray,
    values: np.ndarray,
    coefficients: np.ndarray,
    covariance: np.ndarray,
    df_t: float,
    n_clusters: Sequence[int] = (),
) -> WaldTest:
    """Joint F test that every row of ``R b = q`` holds (chi-squared with ``df_t`` infinite).

    Raises a ValueError when the restrictions' covariance is singular, saying (with clusters)
    that a clustered covariance supports at most G - 1 joint restrictions.
    """
    gap = matrix @ coefficients - values
    middle = matrix @ covariance @ matrix.T
    q = matrix.shape[0]
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    rank = int((eigenvalues > 1e-10 * eigenvalues.max(initial=0.0)).sum())
    if rank < q:
        hint = (
            f"; with {min(n_clusters)} clusters a joint test can have at most "
            f"{min(n_clusters) - 1} restrictions"
            if n_clusters
            else ""
        )
        raise ValueError(
            f"wald_test: the covariance of the {q} restrictions has rank {rank}, so they "
            f"cannot be tested jointly{hint}"
        )
    statistic = float(gap @ np.linalg.solve(middle, gap)) / q
    if np.isinf(df_t):  # normal inference: q F is chi-squared with q degrees of freedom
        pvalue = stats.chi2.sf(q * statistic, q)
    else:
        pvalue = stats.f.sf(statistic, q, df_t)
    return WaldTest(statistic, float(pvalue), q, df_t)


def sup_t_critical_value(covariance: np.ndarray, alpha: float, n_draws: int, seed: int) -> float:
    """The ``1 - alpha`` quantile of max_e |Z_e| / se_e over Z ~ N(0, covariance): the critical
    value of a sup-t simultaneous band (Montiel Olea and Plagborg-Moller, 2019)."""
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


@dataclass(frozen=True)
class Estimates:
    """Named coefficient estimates with their covariance and reference distribution.

    Attributes
    ----------
    names : tuple of str
        The coefficients' names.
    coefficients : numpy.ndarray
        The estimates.
    covariance : Covariance
        Their covariance matrix, the degrees of freedom of the t and F reference distributions
        (``df_t``, infinite for normal inference), the variance estimator and cluster counts.
    nobs : int
        Observations used.
    """

    names: tuple[str, ...]
    coefficients: np.ndarray
    covariance: Covariance
    nobs: int

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
        p = two_sided_pvalues(self.tvalues.to_numpy(), self.covariance.df_t)
        return pd.Series(p, index=list(self.names), name="pvalues")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence intervals at level ``1 - alpha``, columns ``lower`` and ``upper``."""
        half = critical_value(alpha, self.covariance.df_t) * self.bse
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

    def t_test(self, restrictions: Restrictions, alpha: float = 0.05) -> pd.DataFrame:
        """t tests of each linear restriction, e.g. ``"a - b = 0"`` or a matrix R (q = 0).

        In a string, names that are not Python identifiers go in backticks:
        ``"`event_time::0` - `event_time::1` = 0"``. ``(R, q)`` gives the values too.

        Returns
        -------
        pandas.DataFrame
            One row per restriction: estimate of ``R b - q``, se, t, p, ci_low, ci_high.
        """
        matrix, values = restriction_matrix(restrictions, self.names)
        return t_tests(
            matrix, values, self.coefficients, self.covariance.matrix, self.covariance.df_t, alpha
        )

    def wald_test(self, restrictions: Restrictions) -> WaldTest:
        """Joint F test that all the linear restrictions hold."""
        matrix, values = restriction_matrix(restrictions, self.names)
        covariance = self.covariance
        return wald_test(
            matrix,
            values,
            self.coefficients,
            covariance.matrix,
            covariance.df_t,
            covariance.n_clusters,
        )

    def summary_rows(self) -> dict[str, str]:
        """The summary's rows on the estimates: observations, variance, reference distribution."""
        rows = {
            "Observations:": f"{self.nobs:,}",
            "Standard errors:": self.covariance.request.label,
            "Degrees of freedom (t):": f"{self.covariance.df_t:g}",
        }
        if self.covariance.n_clusters:
            rows["Clusters:"] = ", ".join(f"{g:,}" for g in self.covariance.n_clusters)
        return rows
