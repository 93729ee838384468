"""One results family for every estimator, built by composition, with statsmodels' habits.

A :class:`Results` object is a frozen container computed once by ``fit()``; reading a property
never refits. It is made of parts, each present only where it applies:

* :class:`~models.estimation.inference.Estimates` (always): named coefficients, their
  covariance and its reference distribution, the number of observations, and the inference
  every user expects
  (``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int``, ``cov_params``, ``t_test``,
  ``wald_test``);
* :class:`RegressionStatistics` (least-squares fits only): residual degrees of freedom, the
  within R-squared, the absorbed fixed effects, dropped regressors and singletons;
* :class:`EventTimes` (event studies and their relatives): the event time (or cohort or
  period) of each coefficient, the reference period and window, a uniform band and the
  components each effect averages; with it come ``event_time_effects``,
  ``cumulative``, ``pretrend_test`` and ``uniform_conf_int``.

Asking for a part a result does not have (``rsquared_within`` of an imputation estimate, the
event times of a plain regression) raises an AttributeError that says so; a summary lists only
the rows that apply. Every event-time coefficient is named ``<index>::<value>``
(``event_time::3``, ``cohort::2004``, ``period::2006``), an interaction joins two such names
with ``:`` (``event_time::1:cohort::2004``) and a single overall average is ``att``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from models.estimation.effective_treated import EffectiveTreated
from models.estimation.inference import (
    Estimates,
    LinearCombination,
    Restrictions,
    WaldTest,
    critical_value,
)
from models.estimation.vcov import Covariance

__all__ = [
    "Estimates",
    "EventStudyResults",
    "EventTimes",
    "LinearCombination",
    "RegressionResults",
    "RegressionStatistics",
    "Results",
    "WaldTest",
]


@dataclass(frozen=True)
class RegressionStatistics:
    """What only a least-squares fit has.

    Attributes
    ----------
    df_resid : int
        n minus estimated coefficients minus identified fixed-effect coefficients.
    rss, tss_within : float
        Residual and within-transformed total sums of squares.
    fixed_effects : tuple of str
        The absorbed fixed effects, with ``fixed_effect_sizes`` levels each.
    collinear : tuple of str
        Regressors dropped because they were collinear with earlier ones or with the fixed
        effects.
    n_singletons : int
        Observations dropped because they were alone in a level of a fixed effect.
    """

    df_resid: int
    rss: float
    tss_within: float
    fixed_effects: tuple[str, ...] = ()
    fixed_effect_sizes: tuple[int, ...] = ()
    collinear: tuple[str, ...] = ()
    n_singletons: int = 0

    @property
    def rsquared_within(self) -> float:
        """1 - RSS / within total sum of squares."""
        return 1.0 - self.rss / self.tss_within if self.tss_within > 0 else float("nan")

    def summary_rows(self) -> dict[str, str]:
        """The summary's rows on the regression."""
        rows = {
            "Fixed effects:": ", ".join(
                f"{name} ({size:,})"
                for name, size in zip(self.fixed_effects, self.fixed_effect_sizes, strict=True)
            )
            or "none",
        }
        if self.tss_within > 0:
            rows["R-squared (within):"] = f"{self.rsquared_within:.4f}"
        if self.collinear:
            rows["Dropped (collinear):"] = ", ".join(self.collinear)
        if self.n_singletons:
            rows["Singletons dropped:"] = f"{self.n_singletons:,}"
        return rows


@dataclass(frozen=True)
class EventTimes:
    """The event-time layer of a result: what each coefficient is an effect at.

    Attributes
    ----------
    event_times : tuple of int
        The label of each coefficient (same order as ``params``): its event time, or its cohort
        or period for aggregations by cohort or period (``index``).
    index : str
        What the labels are: ``"event_time"``, ``"cohort"``, ``"period"``, or ``"att"`` for a
        single average over every post-treatment effect (labelled 0).
    ref : int or None
        The omitted reference event time (its effect is 0 by construction); None when no
        event time is omitted.
    window : tuple of int
        Lowest and highest label estimated.
    intensity : str or None
        The dose column the effects are per unit of, if any.
    bin_endpoints : bool
        Whether the window's end points pool every event time beyond them.
    uniform_band : tuple of float or None
        (alpha, critical value) of a simultaneous confidence band over all coefficients.
    components : pandas.DataFrame or None
        The pieces each effect averages (one row per cohort and event time with its estimate,
        se and weight), for estimators that average cohort-specific effects.
    pretrend : WaldTest or None
        The joint test of the leads computed at fit time (a wild bootstrap, with
        ``pretrend="bootstrap"``), which :meth:`Results.pretrend_test` returns; None: the
        analytic Wald test from the covariance.
    """

    event_times: tuple[int, ...]
    index: str = "event_time"
    ref: int | None = None
    window: tuple[int, int] = (0, 0)
    intensity: str | None = None
    bin_endpoints: bool = False
    uniform_band: tuple[float, float] | None = None
    components: pd.DataFrame | None = None
    pretrend: WaldTest | None = None

    def summary_rows(self) -> dict[str, str]:
        """The summary's rows on the event times."""
        label = {"event_time": "Event window:", "cohort": "Cohorts:", "period": "Periods:"}
        reference = "" if self.ref is None else f" (ref {self.ref})"
        binned = ", end points binned" if self.bin_endpoints else ""
        window = f"{self.window[0]}..{self.window[1]}{reference}{binned}"
        rows = {label[self.index]: window} if self.index in label else {}
        if self.intensity is not None:
            rows["Intensity:"] = self.intensity
        if self.uniform_band is not None:
            alpha, critical = self.uniform_band
            rows["Uniform band:"] = f"{1 - alpha:.0%}, critical value {critical:.3f}"
        return rows


@dataclass(frozen=True)
class Results:
    """The results of any goodwill estimator: estimates, and the parts that apply.

    Parameters
    ----------
    model_name : str
        The estimator, as the summary names it.
    outcome : str
        The dependent variable.
    estimates : Estimates
        Coefficients, covariance and inference.
    regression : RegressionStatistics, optional
        For least-squares fits.
    event : EventTimes, optional
        For effects by event time (or cohort or period).
    overall : LinearCombination, optional
        (estimate, se) of an overall average, for estimators that report one.
    notes : tuple of (str, str)
        Further summary rows particular to the estimator (its control group, ...).
    treated_units : EffectiveTreated, optional
        For fits with a dose: the effective number of treated units behind the estimates.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0, 7.0, 6.0], "x": [0.0, 1, 2, 0, 3, 1],
    ...                    "unit": [1, 1, 1, 2, 2, 2], "time": [1, 2, 3, 1, 2, 3]})
    >>> from models import FixedEffectsOLS
    >>> res = FixedEffectsOLS(df, "y", ["x"], ["unit", "time"]).fit()
    >>> round(float(res.params["x"]), 4), res.regression is not None, res.event is None
    (1.0714, True, True)
    """

    model_name: str
    outcome: str
    estimates: Estimates
    regression: RegressionStatistics | None = None
    event: EventTimes | None = None
    overall: LinearCombination | None = None
    notes: tuple[tuple[str, str], ...] = ()
    treated_units: EffectiveTreated | None = None

    # -- the estimates: every result has them ----------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """The coefficients' names."""
        return self.estimates.names

    @property
    def coefficients(self) -> np.ndarray:
        """The estimates as an array (``params`` is the labelled Series)."""
        return self.estimates.coefficients

    @property
    def covariance(self) -> Covariance:
        """The covariance of the estimates with its reference distribution."""
        return self.estimates.covariance

    @property
    def nobs(self) -> int:
        """Observations used."""
        return self.estimates.nobs

    @property
    def df_t(self) -> float:
        """Degrees of freedom of the t and F reference distributions (inf: normal)."""
        return self.estimates.covariance.df_t

    @property
    def vcov_type(self) -> str:
        """The variance estimator, e.g. ``CRV1 by consumer_id``."""
        return self.estimates.covariance.request.label

    @property
    def params(self) -> pd.Series:
        """Estimated coefficients."""
        return self.estimates.params

    @property
    def bse(self) -> pd.Series:
        """Standard errors."""
        return self.estimates.bse

    @property
    def tvalues(self) -> pd.Series:
        """t statistics for coefficient = 0."""
        return self.estimates.tvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the t statistics."""
        return self.estimates.pvalues

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence intervals at level ``1 - alpha``, columns ``lower`` and ``upper``."""
        return self.estimates.conf_int(alpha)

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients."""
        return self.estimates.cov_params()

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: estimate, se, t, p, ci_low, ci_high."""
        return self.estimates.to_frame(alpha)

    def t_test(self, restrictions: Restrictions, alpha: float = 0.05) -> pd.DataFrame:
        """t tests of linear restrictions; see :meth:`Estimates.t_test`."""
        return self.estimates.t_test(restrictions, alpha)

    def wald_test(self, restrictions: Restrictions) -> WaldTest:
        """Joint F test of linear restrictions; see :meth:`Estimates.wald_test`."""
        return self.estimates.wald_test(restrictions)

    @property
    def effective_treated(self) -> float | None:
        """Effective number of treated units, ``(sum v^2)^2 / sum v^4`` over their doses v: the
        Kish size of the dose-squared weights of a per-dose estimate. A value-weighted fit
        weights treated units equally: the number of treated units. None without a dose."""
        return None if self.treated_units is None else self.treated_units.effective

    @property
    def n_treated(self) -> int | None:
        """Number of treated units behind :attr:`effective_treated` (None without a dose)."""
        return None if self.treated_units is None else self.treated_units.treated

    # -- the regression part: least-squares fits only --------------------------------------
    def _regression(self, what: str) -> RegressionStatistics:
        if self.regression is None:
            raise AttributeError(
                f"{what} does not apply: {self.model_name} results are not a regression fit"
            )
        return self.regression

    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom of a regression."""
        return self._regression("df_resid").df_resid

    @property
    def rsquared_within(self) -> float:
        """1 - RSS / within total sum of squares, of a regression."""
        return self._regression("rsquared_within").rsquared_within

    @property
    def collinear(self) -> tuple[str, ...]:
        """Regressors dropped as collinear, of a regression."""
        return self._regression("collinear").collinear

    @property
    def n_singletons(self) -> int:
        """Singleton observations dropped, of a regression."""
        return self._regression("n_singletons").n_singletons

    # -- the event-time layer ---------------------------------------------------------------
    def _event(self, what: str) -> EventTimes:
        if self.event is None:
            raise AttributeError(
                f"{what} does not apply: {self.model_name} results have no event times"
            )
        return self.event

    @property
    def event_times(self) -> tuple[int, ...]:
        """The event time (or cohort or period) of each coefficient."""
        return self._event("event_times").event_times

    @property
    def ref(self) -> int | None:
        """The omitted reference event time, or None."""
        return self._event("ref").ref

    @property
    def window(self) -> tuple[int, int]:
        """Lowest and highest event time estimated."""
        return self._event("window").window

    @property
    def intensity(self) -> str | None:
        """The dose column the effects are per unit of, or None."""
        return self._event("intensity").intensity

    @property
    def bin_endpoints(self) -> bool:
        """Whether the window's end points pool every event time beyond them."""
        return self._event("bin_endpoints").bin_endpoints

    @property
    def uniform_band(self) -> tuple[float, float] | None:
        """(alpha, critical value) of the simultaneous band, or None."""
        return self._event("uniform_band").uniform_band

    def components(self) -> pd.DataFrame:
        """The pieces each effect averages: cohort, event_time, estimate, se, weight."""
        components = self._event("components").components
        if components is None:
            raise AttributeError(
                f"components do not apply: {self.model_name} does not average "
                "cohort-specific effects"
            )
        return components

    def event_time_effects(self, alpha: float = 0.05) -> pd.DataFrame:
        """Effects by event time: estimate, se, ci_low, ci_high (reference period omitted).

        Indexed by the event time (or the cohort or period of an aggregation by cohort or
        period). With a uniform band, also its limits: band_low, band_high.
        """
        event = self._event("event_time_effects")
        table = self.to_frame(alpha)[["estimate", "se", "ci_low", "ci_high"]]
        if event.uniform_band is not None:
            band = self.uniform_conf_int()
            table = table.assign(band_low=band["lower"], band_high=band["upper"])
        table.index = pd.Index(event.event_times, name=event.index)
        return table

    def uniform_conf_int(self) -> pd.DataFrame:
        """The simultaneous confidence band: estimate -/+ critical value x se for every
        coefficient, covering all of them jointly with probability ``1 - alpha``."""
        band = self._event("uniform_conf_int").uniform_band
        if band is None:
            raise ValueError(
                f"{self.model_name}: no uniform band was computed (CallawaySantAnna's "
                "aggregate(..., uniform_band=True) computes one)"
            )
        half = band[1] * self.bse
        return pd.DataFrame({"lower": self.params - half, "upper": self.params + half})

    def _combination(self, first: int, last: int) -> np.ndarray:
        event = self._event("cumulative")
        if event.index != "event_time":
            raise ValueError(
                f"cumulative: {self.model_name} has effects by {event.index}, not by event time"
            )
        lo, hi = event.window
        if not lo <= first <= last <= hi:
            raise ValueError(
                f"cumulative: event times {first}..{last} must lie in the window {lo}..{hi}"
            )
        times = event.event_times
        missing = [t for t in range(first, last + 1) if t != event.ref and t not in times]
        if missing:
            raise ValueError(
                f"cumulative: event time(s) {', '.join(map(str, missing))} have no estimate "
                f"(dropped as collinear or not observed; see .collinear)"
            )
        times_array = np.asarray(times)
        return ((times_array >= first) & (times_array <= last)).astype(float)

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
        half = critical_value(alpha, self.df_t) * se
        return estimate - half, estimate + half

    def pretrend_test(self) -> WaldTest:
        """Joint Wald test that every lead (event time < 0) is zero: the wild bootstrap test
        of a fit with ``pretrend="bootstrap"``, else F (or chi-squared) from the covariance."""
        event = self._event("pretrend_test")
        if event.pretrend is not None:
            return event.pretrend
        if event.index != "event_time":
            raise ValueError(
                f"pretrend_test: {self.model_name} has effects by {event.index}, not by event time"
            )
        leads = np.flatnonzero(np.asarray(event.event_times) < 0)
        if leads.size == 0:
            raise ValueError("pretrend_test: the window has no leads (event times < 0)")
        return self.wald_test(np.eye(len(self.names))[leads])

    # -- tables -----------------------------------------------------------------------------
    def summary_rows(self) -> dict[str, str]:
        """Every summary row that applies to this result, in order."""
        rows = {"Model:": self.model_name, "Dependent variable:": self.outcome}
        rows.update(self.estimates.summary_rows())
        if self.regression is not None:
            rows.update(self.regression.summary_rows())
        if self.event is not None:
            rows.update(self.event.summary_rows())
        if self.overall is not None:
            rows["Overall average:"] = f"{self.overall[0]:.4f} (SE {self.overall[1]:.4f})"
        rows.update({f"{label}:": value for label, value in self.notes})
        if self.treated_units is not None:
            rows.update(self.treated_units.summary_rows())
        return rows

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
        summary.add_dict(self.summary_rows())
        summary.add_df(table, float_format="%.4f")
        return summary

    def to_latex(self, alpha: float = 0.05) -> str:
        """The summary as a LaTeX table."""
        return self.summary(alpha).as_latex()

    def _repr_html_(self) -> str:
        return self.summary().as_html()


RegressionResults = Results
"""The name of goodwill 0.1's regression results: the same class."""

EventStudyResults = Results
"""The name of goodwill 0.1's event-study results: the same class."""
