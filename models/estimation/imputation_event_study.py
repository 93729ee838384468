"""An imputation event study with leads: BJS's pre-trend leads and effects, jointly.

HonestDiD (Rambachan and Roth 2023) needs pre- and post-treatment coefficients that measure the
differential trend against the same reference, and their joint covariance. The imputation
estimator (:mod:`models.estimation.imputation`) gives neither as it stands:

* its pre-trend leads (BJS's Test 1, :func:`~models.estimation.imputation_pretrends.
  imputation_pretrends`) come from the regression
  ``Y_it = alpha_i + lambda_t + sum_k gamma_k 1[t - g_i = k] + e_it`` on the untreated
  observations, so gamma_k compares event time k with the untreated periods before the first
  lead;
* its effects impute ``Y_it(0)`` from unit and period effects fit on every untreated
  observation, the lead periods included, so they compare event time e with the average of all
  of a unit's untreated periods.

Under a pre-trend the two baselines differ (the asymmetry between pre- and post-treatment
coefficients that Roth 2024, "Interpreting event-studies from recent difference-in-differences
methods", describes for BJS), and subtracting the lead at -1 from both does not align them.
This module therefore imputes with the model of the pre-trend test itself: the effects are
``tau_it = Y_it - alpha_i - lambda_t`` with ``alpha`` and ``lambda`` from the lead regression
above (its leads are covariates of the untreated outcome model, which BJS's framework allows).
By that regression's normal equations, gamma_k is the (sampling-weighted) mean of ``Y_it -
alpha_i - lambda_t`` over the leads at k, as theta_e is over the treated observations at e: pre
and post coefficients are the same contrast, against the same baseline, and under a
differential trend d(e) that is flat before the first lead they estimate d(k) and tau(e) + d(e).
Normalised at the reference ``ref`` (every coefficient minus the one at ``ref``, which is
dropped) they are a TWFE-style event study, HonestDiD's input: d(e) - d(ref) is the delta of
Rambachan and Roth. The effects are not those of :meth:`ImputationDiD.fit`, which also uses the
lead periods to fit the unit effects: under parallel trends both are unbiased, these less
precisely (the price of a baseline the leads share).

With ``intensity`` the effects are per unit of dose, ``sum s omega tau / sum s omega^2``, and
the lead regressors are ``omega_i 1[t - g_i = k]``: gamma_k is then the same dose-weighted
average per unit of dose of ``Y_it - alpha_i - lambda_t`` over the leads at k (its normal
equation), a pre-trend per unit of dose. The symmetry holds for a differential trend
proportional to the dose, ``omega_i d(e)``, the per-dose reading of HonestDiD's delta.

Joint covariance. Every coefficient is linear in the outcomes, and all share the residuals
``eps~`` of one model (the lead regression's on untreated observations, ``tau - tau~`` on
treated ones, as in BJS Theorem 3). With ``v^gamma = S0 X~ (X~'S0X~)^-1`` the leads' weights
(X~ the lead regressors net of the unit and period effects, S0 the sampling weights) and
``v^0`` the two-way imputation weights of :mod:`~models.estimation.imputation_variance`, an
effect's weights on the untreated outcomes are ``v^0 + v^gamma c`` with ``c_k = -sum_it x_kit
v^0_it`` (what the two-way weights put on lead k's regressor). The cluster scores are stacked,

    Cov = sum_g [sqrt(f) a_g; b_g] [sqrt(f) a_g; b_g]',

a_g the leads' scores ``sum_{it in g} v^gamma_it eps~_it`` and b_g the effects', f the
small-sample factor of the pre-trend regression's CRV1 variance. The leads' block is then that
regression's covariance (:meth:`ImputationDiD.pretrends` without intensity, fixest's factor)
and the effects' block BJS's conservative variance without a factor, as for
:meth:`ImputationDiD.fit`. BJS's Stata command did_imputation stacks its leads' and effects'
cluster scores the same way (reghdfe's factor on the leads) to report one ``e(V)``, though its
effects come from the model without leads.

Limits. The treated units need untreated periods before the first lead to fix the baseline:
when none has any, the leads are collinear with the unit effects (refused); a unit whose
untreated periods are all leads gets its level through the leads pooled over cohorts. The
leads and the effects are the event times asked for, one coefficient each (no binning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.estimation.imputation_pretrends import imputation_pretrends
from models.estimation.imputation_variance import (
    Clusters,
    TreatedObservations,
    cluster_scores,
    memberships,
    untreated_weights,
)
from models.estimation.inference import Estimates
from models.estimation.results import EventTimes, Results
from models.estimation.two_way_equations import TwoWayNormalEquations
from models.estimation.vcov import Covariance, VcovRequest
from models.exceptions import CollinearityWarning

if TYPE_CHECKING:
    from models.estimation.imputation import ImputationDiD


def imputation_event_study(
    model: ImputationDiD, leads: Sequence[int], ref: int | None = -1
) -> Results:
    """Leads and effects of the imputation with leads in its model, with their joint covariance.

    Parameters
    ----------
    model : ImputationDiD
        The estimator with its panel, anticipation, horizons, intensity, weights and cluster.
    leads : sequence of int
        Event times below ``-anticipation``, e.g. ``range(-5, 0)``: the lead dummies of the
        untreated outcome model and the pre-treatment coefficients.
    ref : int or None, default -1
        The lead to normalise at: every coefficient minus the one at ``ref``, which is dropped.
        None keeps the raw coefficients (against the untreated periods before the first lead).

    Returns
    -------
    Results
        ``event_time::e`` for the leads and the horizons, the covariance of the module
        docstring (normal critical values), ``ref`` in its event layer.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollinearityWarning)
        pretrends = imputation_pretrends(
            model.df,
            model.outcome,
            model.unit,
            model.time,
            model.cohort,
            leads,
            anticipation=model.anticipation,
            weights=model.weights,
            cluster=model.cluster,
            intensity=model.intensity,
        )
    if pretrends.collinear:
        raise ValueError(
            f"leads: {', '.join(pretrends.collinear)} collinear with the unit and period effects "
            f"(or the other leads); keep untreated periods before the first lead for the "
            f"treated units"
        )
    leads = pretrends.event_times
    if ref is not None and ref not in leads:
        raise ValueError(f"ref: expected one of the leads {list(leads)} or None, got {ref!r}")
    panel = model._panel
    observed = ~np.isnan(panel.outcome)
    untreated = observed & (panel.periods[None, :] < (panel.cohorts - model.anticipation)[:, None])
    equations = TwoWayNormalEquations.from_mask(untreated, panel.weights)
    event = panel.periods[None, :] - panel.cohorts[:, None]
    dose = np.ones(event.shape[0]) if panel.doses is None else panel.doses
    dummies = np.stack([np.where(untreated & (event == k), dose[:, None], 0.0) for k in leads])
    first = _LeadRegression.fit(equations, untreated, dummies, panel.outcome)

    treated = model._imputable(observed & ~untreated, equations)
    units, periods = np.nonzero(treated)
    effects = TreatedObservations(
        unit_index=units,
        period_index=periods,
        event=(panel.periods[periods] - panel.cohorts[units]).astype(np.int64),
        effect=panel.outcome[units, periods] - first.alpha[units] - first.lam[periods],
        weight=dose[units] * (1.0 if panel.weights is None else panel.weights[units, periods]),
        dose=dose[units],
    )
    horizons = model._horizons(effects.event)
    member, column = memberships(effects.event, horizons)
    totals = np.bincount(column, weights=effects.weight[member] * effects.dose[member])
    w = effects.weight[member] / totals[column]
    estimates = np.bincount(column, weights=w * effects.effect[member])[: horizons.size]

    # Effects' scores: the two-way weights v^0 with this model's residuals, plus v^gamma c with
    # c_k = -sum_it x_kit v^0_it = sum_it s_it x_kit (a_i + l_t), x_k lead k's regressor.
    weighted_residual = equations.mask * first.residual
    two_way = cluster_scores(
        equations, weighted_residual, effects, panel.cohorts, member, column, w, panel.clusters
    )
    unit_coef, period_coef = untreated_weights(equations, effects, member, column, w)
    lead_mass = equations.mask * dummies
    c = lead_mass.sum(axis=2) @ unit_coef + lead_mass.sum(axis=1) @ period_coef
    lead_scores = first.scores(weighted_residual, panel.clusters)
    effect_scores = (two_way + lead_scores @ c)[:, : horizons.size]
    covariance = _stacked_covariance(pretrends.cov_params().to_numpy(), lead_scores, effect_scores)
    coefficients = np.concatenate([pretrends.params.to_numpy(), estimates])
    times = np.concatenate([np.asarray(leads), horizons]).astype(int)
    used = untreated | treated
    counts = (_cluster_count(used, panel.clusters), int(used.sum()))
    return _normalised_results(model, times, coefficients, covariance, ref, counts)


@dataclass(frozen=True)
class _LeadRegression:
    """The untreated outcome model: unit, period and lead effects by weighted least squares.

    Attributes
    ----------
    gamma : numpy.ndarray
        The lead coefficients.
    alpha, lam : numpy.ndarray
        Unit and period effects (one normalisation of them).
    residual : numpy.ndarray
        Residuals on the sample, 0 elsewhere (units x periods).
    netted_leads : numpy.ndarray
        The lead dummies net of the unit and period effects, D~ (leads x units x periods).
    gram : numpy.ndarray
        ``D~'S0D~``.
    """

    gamma: np.ndarray
    alpha: np.ndarray
    lam: np.ndarray
    residual: np.ndarray
    netted_leads: np.ndarray
    gram: np.ndarray

    @classmethod
    def fit(
        cls,
        equations: TwoWayNormalEquations,
        sample: np.ndarray,
        dummies: np.ndarray,
        outcome: np.ndarray,
    ) -> _LeadRegression:
        """Frisch-Waugh-Lovell: the leads and the outcome net of the two-way effects."""
        outcome0 = np.where(sample, outcome, 0.0)
        netted = _net_of_effects(equations, sample, np.concatenate([dummies, outcome0[None]]))
        leads, netted_outcome = netted[:-1], netted[-1]
        weighted = equations.mask * leads
        gram = np.einsum("kut,jut->kj", weighted, leads)
        gamma = np.linalg.solve(gram, np.einsum("kut,ut->k", weighted, netted_outcome))
        residual = np.where(sample, netted_outcome - np.tensordot(gamma, leads, 1), 0.0)
        shifted = equations.mask * (outcome0 - np.tensordot(gamma, dummies, 1))
        alpha, lam = equations.solve(shifted.sum(axis=1), shifted.sum(axis=0))
        return cls(gamma, alpha, lam, residual, leads, gram)

    def scores(self, weighted_residual: np.ndarray, clusters: Clusters | None) -> np.ndarray:
        """The leads' cluster scores ``sum_{it in g} v^gamma_it eps_it`` (clusters x leads),
        ``v^gamma = S0 D~ (D~'S0D~)^-1``; ``weighted_residual`` is ``s_it eps_it``."""
        totals = _cluster_sums(weighted_residual * self.netted_leads, clusters)
        return totals @ np.linalg.inv(self.gram)


def _stacked_covariance(
    lead_covariance: np.ndarray, lead_scores: np.ndarray, effect_scores: np.ndarray
) -> np.ndarray:
    """``sum_g [sqrt(f) a_g; b_g][sqrt(f) a_g; b_g]'`` with the leads' block the pre-trend
    regression's own covariance, which is ``f a'a`` (f its small-sample factor, recovered as
    the ratio)."""
    factor = np.trace(lead_covariance) / np.trace(lead_scores.T @ lead_scores)
    cross = np.sqrt(factor) * lead_scores.T @ effect_scores
    return np.block([[lead_covariance, cross], [cross.T, effect_scores.T @ effect_scores]])


def _net_of_effects(
    equations: TwoWayNormalEquations, sample: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Each of ``values`` (m x units x periods) minus its weighted projection on the unit and
    period dummies of the sample, 0 outside it."""
    weighted = equations.mask * values
    alpha, lam = equations.solve(weighted.sum(axis=2).T, weighted.sum(axis=1).T)
    fitted = alpha.T[:, :, None] + lam.T[:, None, :]
    return np.where(sample, values - fitted, 0.0)


def _cluster_sums(values: np.ndarray, clusters: Clusters | None) -> np.ndarray:
    """Sums of each of ``values`` (m x units x periods) by cluster: clusters x m."""
    if clusters is None:
        return values.sum(axis=2).T
    codes = clusters.codes.ravel()
    return np.column_stack(
        [np.bincount(codes, weights=v.ravel(), minlength=clusters.size) for v in values]
    )


def _cluster_count(used: np.ndarray, clusters: Clusters | None) -> int:
    if clusters is None:
        return int(used.any(axis=1).sum())
    return int(np.unique(clusters.codes[used]).size)


def _normalised_results(
    model: ImputationDiD,
    times: np.ndarray,
    coefficients: np.ndarray,
    covariance: np.ndarray,
    ref: int | None,
    counts: tuple[int, int],
) -> Results:
    """The coefficients minus the one at ``ref`` (dropped), or raw when ``ref`` is None;
    ``counts`` are the clusters and the observations used."""
    transform = np.eye(times.size)
    if ref is not None:
        at_ref = int(np.flatnonzero(times == ref)[0])
        transform = np.delete(transform - np.eye(times.size)[at_ref][None, :], at_ref, axis=0)
        times = np.delete(times, at_ref)
    return Results(
        model_name="ImputationDiD event study (leads in the untreated-outcome model)",
        outcome=model.outcome,
        estimates=Estimates(
            names=tuple(f"event_time::{e}" for e in times),
            coefficients=transform @ coefficients,
            covariance=Covariance(
                matrix=transform @ covariance @ transform.T,
                df_t=np.inf,
                request=VcovRequest("BJS conservative, leads CRV1", (model.cluster or model.unit,)),
                n_clusters=(counts[0],),
            ),
            nobs=counts[1],
        ),
        event=EventTimes(
            event_times=tuple(int(e) for e in times),
            ref=ref,
            window=(int(times.min()), int(times.max())),
            intensity=model.intensity,
        ),
        notes=(
            ("Imputation model", "unit and period effects and the leads, on untreated rows"),
            *((("Sampling weights", model.weights),) if model.weights else ()),
        ),
    )
