"""did's aggregations of Callaway and Sant'Anna's group-time ATTs, and their results.

:class:`CallawaySantAnnaResults` holds the ATT(g, t) that
:class:`~models.estimation.callaway_santanna.CallawaySantAnna` estimates, with the influence
functions behind their inference (:mod:`models.estimation.influence`), and averages them as the
R package did's ``aggte`` does (:meth:`CallawaySantAnnaResults.aggregate`): ``"simple"``,
``"dynamic"`` (by event time, with did's ``balance_e``, ``min_e`` and ``max_e``), ``"group"`` (by
cohort) and ``"calendar"`` (by period), each with the covariance of its influence function and,
on request, a uniform band. As in ``aggte``, the post-treatment cells are those with t >= g
(anticipation periods are not post-treatment), and the universal base's reference cells (0 by
construction) are the dynamic aggregation's reference event time.

Reference: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-differences with
multiple time periods", Journal of Econometrics 225(2), 200-230.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from models.estimation.arguments import at_least, optional_integer, probability, strict_bool
from models.estimation.inference import LinearCombination, WaldTest, sup_t_critical_value
from models.estimation.influence import BlockMoments, Functionals, influence_covariance, ratios
from models.estimation.influence_bootstrap import LeadBootstrap
from models.estimation.influence_jackknife import LeaveOneOut
from models.estimation.results import Estimates, EventTimes, Results

AGGREGATIONS = {"simple": "att", "dynamic": "event_time", "group": "cohort", "calendar": "period"}
"""did's aggregations and what their effects are indexed by."""


def _cell_rows(cells: tuple[tuple[int, int], ...], att: float) -> pd.DataFrame:
    """``att_gt`` rows of cells not among ``params``: this att, no standard error."""
    cohorts, periods = np.array(cells, dtype=np.int64).T
    return pd.DataFrame({"cohort": cohorts, "time": periods, "att": att, "se": np.nan})


@dataclass(frozen=True, kw_only=True)
class CallawaySantAnnaResults(Results):
    """Group-time ATTs, their aggregations and the influence functions behind their inference.

    ``params`` are the ATT(g, t) (per unit of dose with an intensity), named
    ``cohort::g:period::t``, with their joint covariance from the influence functions.

    Attributes
    ----------
    cohorts, periods : numpy.ndarray
        The cohort g and period t of each ATT(g, t).
    functionals, moments
        The influence-function algebra (:mod:`models.estimation.influence`) every aggregation
        computes its covariance from.
    anticipation : int
        Periods of anticipation of the fit.
    dose : str or None
        The dose column (``intensity``) the effects are per unit of.
    references : tuple of (int, int)
        With ``base_period="universal"``: the (cohort, period) of each cohort's reference cell,
        t = g - 1 - anticipation, whose ATT is 0 by construction (not among ``params``).
    missing : tuple of (int, int)
        On an unbalanced panel: the (cohort, period) of each ATT(g, t) that cannot be estimated
        (no row of the cohort or of its controls in t or the base period; did's NA), not among
        ``params``; ``aggregate`` needs ``na_rm=True`` then.
    first_period : int
        The panel's first period (did's lower bound on the event times of ``balance_e``).
    leave_one_out : LeaveOneOut or None
        With ``vcov="CR3"``: the treated units' rows, for the jackknife variance of every
        aggregation (:mod:`models.estimation.influence_jackknife`).
    lead_bootstrap : LeadBootstrap or None
        With ``pretrend="bootstrap"``: the units' rows, for the wild bootstrap of the pre-trend
        tests (:mod:`models.estimation.influence_bootstrap`).
    """

    cohorts: np.ndarray
    periods: np.ndarray
    functionals: Functionals
    moments: BlockMoments
    anticipation: int
    dose: str | None
    references: tuple[tuple[int, int], ...]
    missing: tuple[tuple[int, int], ...]
    first_period: int
    leave_one_out: LeaveOneOut | None = None
    lead_bootstrap: LeadBootstrap | None = None

    @property
    def n_units(self) -> int:
        """Units in the panel (the influence functions' sample size)."""
        return int(self.moments.sizes.sum())

    @property
    def unit(self) -> str:
        """The column by which the variance is clustered: the unit, or ``cluster``."""
        return self.covariance.request.clusters[0]

    @cached_property
    def att_gt(self) -> pd.DataFrame:
        """ATT(g, t) with its standard error: columns cohort, time, att, se, by cohort and
        period. With the universal base, each cohort's reference cell is a row with att 0 and
        se NaN, and each cell that cannot be estimated (``missing``) a row of NaN, as did
        reports them."""
        table = pd.DataFrame(
            {
                "cohort": self.cohorts,
                "time": self.periods,
                "att": self.coefficients,
                "se": self.bse.to_numpy(),
            }
        )
        extra = [
            _cell_rows(cells, value)
            for cells, value in ((self.references, 0.0), (self.missing, np.nan))
            if cells
        ]
        if not extra:
            return table
        table = pd.concat([table, *extra], ignore_index=True)
        return table.sort_values(["cohort", "time"], kind="stable", ignore_index=True)

    def pretrend_test(self) -> WaldTest:
        """did's Wald pre-test: every pre-treatment ATT(g, t) is zero.

        ``n theta' V^-1 theta`` over the pre-treatment cells, with V their covariance from the
        influence functions (or the jackknife, with ``vcov="CR3"``), against chi-squared with
        one degree of freedom per cell (reported as F = statistic / cells with infinite
        denominator degrees of freedom).
        """
        pre = self.periods < self.cohorts - self.anticipation
        if not pre.any():
            raise ValueError("pretrend_test: no pre-treatment ATT(g, t) was estimated")
        weights = np.eye(len(self.names))[:, pre]
        if self.lead_bootstrap is not None:
            return self._bootstrap(weights)
        estimates, _ = self._ratios(weights)
        covariance = self._covariance(weights)
        if np.linalg.matrix_rank(covariance) < pre.sum():
            raise ValueError("pretrend_test: the pre-treatment ATTs' covariance is singular")
        statistic = float(estimates @ np.linalg.solve(covariance, estimates))
        q = int(pre.sum())
        return WaldTest(statistic / q, float(stats.chi2.sf(statistic, q)), q, np.inf)

    def _bootstrap(self, weights: np.ndarray) -> WaldTest:
        """The wild bootstrap test that the ratios with these weights (the leads) are zero,
        studentized by their influence-function covariance."""
        _, combination = self._ratios(weights)
        covariance = self.functionals.covariance(combination, self.moments)
        return self.lead_bootstrap.test(self.functionals.value, weights, covariance)

    def _ratios(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ratios(self.functionals.value, weights)

    def _covariance(self, weights: np.ndarray, combine: np.ndarray | None = None) -> np.ndarray:
        """Covariance of the ratios with the columns of ``weights`` (cells x r), or of their
        combinations ``combine.T @ ratios``: from the influence functions, or the jackknife."""
        if self.leave_one_out is not None:
            return self.leave_one_out.covariance(self.functionals, self.moments, weights, combine)
        _, combination = self._ratios(weights)
        if combine is not None:
            combination = combination @ combine
        return self.functionals.covariance(combination, self.moments)

    def aggregate(
        self,
        kind: str = "dynamic",
        *,
        balance_e: int | None = None,
        min_e: int | None = None,
        max_e: int | None = None,
        uniform_band: bool = False,
        alpha: float = 0.05,
        n_draws: int = 1000,
        seed: int = 0,
        na_rm: bool = False,
    ) -> Results:
        """Aggregate the ATT(g, t) as the R package did's ``aggte`` does.

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            ``simple``: one average of the post-treatment cells (t >= g) weighted by cohort
            size. ``dynamic``: by event time e = t - g (overall: the mean over e >= 0).
            ``group``: by cohort (overall: cohort-size weighted). ``calendar``: by period
            (overall: the mean). With a dose, "cohort size" is the cohort's sum of squared
            doses.
        balance_e : int, optional
            ``dynamic`` only, did's ``balance_e``: keep only the cohorts treated at least
            ``balance_e`` periods before the last period (so each has every event time
            0..balance_e), and the event times from ``balance_e - (last - first period)`` to
            ``balance_e``; the overall average is then the mean over e = 0..balance_e.
        min_e, max_e : int, optional
            ``dynamic`` only, did's ``min_e`` and ``max_e``: keep the event times in
            [min_e, max_e] (after ``balance_e``); the overall average is over those >= 0.
        uniform_band : bool
            Also compute a simultaneous (uniform over the aggregated effects) confidence band
            at level ``1 - alpha`` by a Gaussian multiplier bootstrap of ``n_draws`` draws,
            seeded by ``seed``; see :meth:`Results.uniform_conf_int`.
        na_rm : bool
            did's ``na.rm``: with cells that could not be estimated (``missing``, on an
            unbalanced panel), average the others; False (did's default) refuses.

        Returns
        -------
        Results
            ``params`` by event time (``event_time::e``), cohort (``cohort::g``) or period
            (``period::t``), which ``event_time_effects()`` indexes, or the one ``att`` of the
            simple aggregation; the covariance from the influence functions, normal critical
            values; the overall average as ``overall`` (estimate, se); the ATT(g, t) each
            effect averages, with their weights, as ``components()``. With the universal base,
            the dynamic aggregation's event time -1 - anticipation (did's 0 with no standard
            error) is its reference ``ref``, omitted from ``params``.

        Notes
        -----
        For an average of influence functions, multiplying each unit's influence by an
        independent N(0, 1) draw gives draws that are exactly N(0, V) given the data, V the
        analytic covariance. So the band draws from N(0, V) directly (the sup-t band of
        Montiel Olea and Plagborg-Moller, 2019): its critical value is the ``1 - alpha``
        quantile of max |Z_e| / se_e. did uses Mammen or Rademacher multipliers, which agree
        with it up to sampling noise of the bootstrap and O(1/n) terms.

        Examples
        --------
        >>> from models import CallawaySantAnna, ConsumerSpendModel
        >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=10, seed=1)
        >>> cs = CallawaySantAnna(panel, "spend", "consumer_id", "week", "fake_week").fit()
        >>> cs.aggregate("dynamic", balance_e=2, max_e=2).event_times[-3:]
        (0, 1, 2)
        """
        if kind not in AGGREGATIONS:
            raise ValueError(f"aggregate: expected one of {', '.join(AGGREGATIONS)}, got {kind!r}")
        if balance_e is not None:
            balance_e = at_least("balance_e", balance_e, 0, "aggregate")
        min_e = optional_integer("min_e", min_e, "aggregate")
        max_e = optional_integer("max_e", max_e, "aggregate")
        options = {"balance_e": balance_e, "min_e": min_e, "max_e": max_e}
        options = {name: value for name, value in options.items() if value is not None}
        if options and kind != "dynamic":
            raise ValueError(
                f"aggregate: {', '.join(options)} apply to kind='dynamic' only, not {kind!r}"
            )
        if self.missing and not strict_bool("na_rm", na_rm, "aggregate"):
            shown = ", ".join(f"ATT(g={g}, t={t})" for g, t in self.missing[:3])
            more = f" and {len(self.missing) - 3} more" if len(self.missing) > 3 else ""
            raise ValueError(
                f"aggregate: {shown}{more} could not be estimated (NA, as did reports them); "
                "aggregate(..., na_rm=True) averages the other cells (did's aggte(na.rm = TRUE))"
            )
        uniform_band = strict_bool("uniform_band", uniform_band, "aggregate")
        alpha = probability("alpha", alpha, "aggregate")
        n_draws = at_least("n_draws", n_draws, 100, "aggregate")
        seed = at_least("seed", seed, 0, "aggregate")
        cohort, time = self.cohorts, self.periods
        post = time >= cohort
        ref = None
        if kind == "simple":
            labels, groups = [0], [post]
        elif kind == "dynamic":
            labels, groups, ref = self._event_times(balance_e, min_e, max_e)
        elif kind == "group":
            labels = [int(g) for g in np.unique(cohort[post])]
            groups = [(cohort == g) & post for g in labels]
        else:
            labels = [int(t) for t in np.unique(time[post])]
            groups = [(time == t) & post for t in labels]
        weights, combine = self._aggregation_weights(kind, labels, groups)
        estimates, _ = self._ratios(weights)
        estimates = estimates @ combine
        overall_estimate = float(estimates[-1])
        estimates = estimates[:-1]
        covariance = self._covariance(weights, combine)
        overall_se = float(np.sqrt(covariance[-1, -1]))
        matrix = covariance[:-1, :-1]
        index = AGGREGATIONS[kind]
        band = None
        if uniform_band:
            band = (alpha, sup_t_critical_value(matrix, alpha, n_draws, seed))
        leads = np.array(labels) < 0
        pretrend = None
        if self.lead_bootstrap is not None and kind == "dynamic" and leads.any():
            pretrend = self._bootstrap(weights[:, : len(labels)][:, leads])
        shown = labels if ref is None else [*labels, ref]
        event = EventTimes(
            event_times=tuple(labels),
            index=index,
            ref=ref,
            window=(min(shown), max(shown)),
            intensity=self.dose,
            uniform_band=band,
            components=self._components(weights[:, : len(labels)]),
            pretrend=pretrend,
        )
        names = ("att",) if kind == "simple" else tuple(f"{index}::{x}" for x in labels)
        notes = self.notes
        if options:
            listed = ", ".join(f"{name}={value}" for name, value in options.items())
            notes = (*notes, ("Event times", listed))
        return Results(
            model_name=f"CallawaySantAnna ({kind})",
            outcome=self.outcome,
            estimates=Estimates(
                names,
                estimates,
                influence_covariance(
                    matrix, self.unit, self.covariance.n_clusters[0], self.covariance.request
                ),
                self.nobs,
            ),
            event=event,
            overall=LinearCombination(overall_estimate, overall_se),
            notes=notes,
            treated_units=self.treated_units,
        )

    def _event_times(
        self, balance_e: int | None, min_e: int | None, max_e: int | None
    ) -> tuple[list[int], list[np.ndarray], int | None]:
        """did's event times of the dynamic aggregation, the cells each one averages, and the
        universal base's reference event time if it is among them (else None).

        With ``balance_e``: the cohorts g with last - g >= balance_e (last: the latest period
        of a cell) and the event times in [balance_e - (last - first period), balance_e]; then
        the event times in [min_e, max_e].
        """
        event = self.periods - self.cohorts
        references = np.array(self.references, dtype=np.int64).reshape(-1, 2)
        cohorts = np.concatenate([self.cohorts, references[:, 0]])
        periods = np.concatenate([self.periods, references[:, 1]])
        candidates = periods - cohorts
        balanced = np.ones(event.size, dtype=bool)
        keep = np.ones(candidates.size, dtype=bool)
        if balance_e is not None:
            last = int(periods.max())
            balanced = last - self.cohorts >= balance_e
            lowest = balance_e - (last - self.first_period)
            keep = (last - cohorts >= balance_e) & (candidates >= lowest)
            keep &= candidates <= balance_e
        if min_e is not None:
            keep &= candidates >= min_e
        if max_e is not None:
            keep &= candidates <= max_e
        kept = np.unique(candidates[keep])
        if not (kept >= 0).any():
            raise ValueError(
                f"aggregate: no event time e >= 0 is left with balance_e={balance_e}, "
                f"min_e={min_e}, max_e={max_e} (event times: {event.min()}..{event.max()}); "
                "the overall average is over e >= 0"
            )
        reference_event = -1 - self.anticipation
        ref = reference_event if references.size and reference_event in kept else None
        labels = [int(e) for e in kept if e != ref]
        return labels, [(event == e) & balanced for e in labels], ref

    def _components(self, weights: np.ndarray) -> pd.DataFrame:
        """The ATT(g, t) each aggregated effect averages (``effect``: its position), with its
        weight in that average: its denominator D (the cohort's size, or sum of squared
        doses, in the sample) over their sum."""
        denominators = self.functionals.value[len(self.names) :]
        columns, rows = np.nonzero(weights.T)  # by effect, then cell
        share = weights[rows, columns] * denominators[rows]
        share = share / np.bincount(columns, weights=share)[columns]
        return pd.DataFrame(
            {
                "effect": columns,
                "cohort": self.cohorts[rows],
                "event_time": self.periods[rows] - self.cohorts[rows],
                "estimate": self.coefficients[rows],
                "se": self.bse.to_numpy()[rows],
                "weight": share,
            }
        )

    def _aggregation_weights(
        self, kind: str, labels: list[int], groups: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ratios an aggregation's effects and did's overall summary are made of: their
        weights on the cells (cells x r) and the combinations ``combine.T @ ratios`` that are
        the effects, then the overall summary (r x (effects + 1))."""
        weights = np.column_stack(groups).astype(float)
        m = weights.shape[1]
        effects = np.eye(m)
        if kind == "simple":
            return weights, np.ones((1, 2))
        if kind == "dynamic":
            after = (np.array(labels) >= 0).astype(float)
            return weights, np.column_stack([effects, after / after.sum()])
        if kind == "calendar":
            return weights, np.column_stack([effects, np.full(m, 1.0 / m)])
        # group: the cohort averages weighted by cohort size, i.e. each cell by 1 / (its
        # cohort's number of post-treatment cells): one more ratio.
        overall = sum(cells / cells.sum() for cells in groups)
        return np.column_stack([weights, overall]), np.eye(m + 1)
