"""The variance and results of the out-of-core fits: the combined passes of
:mod:`models.estimation.partitioned_indicators` into estimates with their covariance
(:func:`partitioned_estimates`, shared by the event study and Sun-Abraham) and into
:meth:`models.EventStudy.fit`'s :class:`~models.Results`, with goodwill's (fixest's)
small-sample factors.

With n rows, k coefficients, N units and T periods: iid is ``e'e / (n - K) (X~~'X~~)^-1`` and
HC1 ``n / (n - K)`` times the sandwich, K = k + N + T - 1; CRV1 by unit is
``G / (G - 1) (n - 1) / (n - K)`` times the sandwich of the unit scores, K = k + T (the unit
effects, nested in the clusters, count as one), G = N; ``ssc`` changes them as for the
in-memory fit (:mod:`models.estimation.small_sample`).
"""

from __future__ import annotations

from models.estimation.inference import Estimates
from models.estimation.partitioned_event_study import EventSpec
from models.estimation.partitioned_indicators import Scores, Solution
from models.estimation.results import EventTimes, RegressionStatistics, Results
from models.estimation.vcov import Covariance, VcovRequest


def partitioned_estimates(
    solution: Solution,
    scores: list[Scores],
    request: VcovRequest,
    fixed_effects: tuple[str, str],
) -> tuple[Estimates, RegressionStatistics]:
    """The coefficients with their covariance, and the regression statistics, from the combined
    passes.

    ``request`` is iid, HC1 or CRV1 clustered by the unit (from
    :func:`models.estimation.vcov.parse_vcov`); ``fixed_effects`` names the unit and period
    columns.
    """
    n, k = solution.n_rows, solution.beta.size
    n_units, n_periods = solution.n_units, solution.periods.size
    fe_dof = n_units + n_periods - 1
    df_resid = n - k - fe_dof
    if df_resid <= 0:
        raise ValueError(
            f"the design cannot be estimated: {n:,} observations for {k} regressor(s) and "
            f"{fe_dof:,} fixed-effect coefficients leave no residual degrees of freedom"
        )
    rss = float(sum(s.rss for s in scores))
    ssc, bread = request.ssc, solution.bread
    n_clusters: tuple[int, ...] = ()
    if request.kind == "iid":
        big_k = ssc.k(k, fe_dof, None)
        matrix = bread * rss / (n - big_k if ssc.adj else n - 1)
        df_t = ssc.t_degrees(n, big_k, None)
    elif request.kind == "HC1":
        big_k = ssc.k(k, fe_dof, None)
        factor = (n if ssc.cluster_adj else n - 1) / (n - big_k if ssc.adj else n - 1)
        matrix = factor * bread @ sum(s.hetero for s in scores) @ bread
        df_t = ssc.t_degrees(n, big_k, None)
    else:
        if n_units < 2:
            raise ValueError("vcov: CRV1 needs at least two clusters")
        big_k = ssc.k(k, fe_dof, fe_dof - (n_units - 1))  # the unit effects nested in units
        factor = n_units / (n_units - 1) if ssc.cluster_adj else 1.0
        if ssc.adj:
            factor = factor * (n - 1) / (n - big_k)
        matrix = factor * bread @ sum(s.cluster for s in scores) @ bread
        df_t = ssc.t_degrees(n, big_k, n_units)
        n_clusters = (n_units,)
    covariance = Covariance((matrix + matrix.T) / 2, float(df_t), request, n_clusters)
    statistics = RegressionStatistics(
        df_resid=int(df_resid),
        rss=rss,
        tss_within=solution.tss_within,
        fixed_effects=fixed_effects,
        fixed_effect_sizes=(n_units, n_periods),
        collinear=solution.collinear,
        n_singletons=solution.n_singletons,
    )
    return Estimates(solution.names, solution.beta, covariance, n), statistics


def partitioned_results(
    spec: EventSpec, solution: Solution, scores: list[Scores], request: VcovRequest
) -> Results:
    """The :class:`~models.Results` of :class:`~models.EventStudy` from the combined passes
    (``request`` as for :func:`partitioned_estimates`)."""
    estimates, statistics = partitioned_estimates(solution, scores, request, (spec.unit, spec.time))
    event_of = dict(
        zip((f"event_time::{e}" for e in spec.event_times), spec.event_times, strict=True)
    )
    event = EventTimes(
        event_times=tuple(event_of[name] for name in solution.names),
        ref=spec.ref,
        window=spec.window,
        intensity=spec.intensity,
        bin_endpoints=spec.bin_endpoints,
    )
    return Results(
        "EventStudy",
        spec.outcome,
        estimates,
        statistics,
        event,
        notes=(("Fit", f"out of core, {len(scores)} partitions"),),
        treated_units=solution.treated_units,
    )
