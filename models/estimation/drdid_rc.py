"""Covariate-adjusted difference-in-differences on repeated cross sections: DRDID's ``reg_did_rc``,
``std_ipw_did_rc`` and ``drdid_rc``.

For one 2x2 comparison observed as rows (a unit's row in the base period, post = 0, or in the
later period, post = 1), a treated group D = 1 and a comparison group D = 0, with covariates X
of each row's own period, the outcome-regression estimator of Heckman, Ichimura and Todd (1997)
as the R package DRDID implements it (``reg_did_rc``, which the R package did's ``att_gt`` calls
for every (g, t) cell of an unbalanced panel with ``est_method = "reg"``) is

    ATT = mean_{D=1, post=1} Y - mean_{D=1, post=0} Y
          - mean_{D=1} X'(beta_post - beta_pre),

beta_post and beta_pre the OLS coefficients of Y on [1, X] among the comparison rows of the later
and of the base period, the last mean over the treated rows of both periods. The standardised
inverse probability weighting estimator (Abadie 2005; ``std_ipw_did_rc``, did's
``est_method = "ipw"``) fits a logit propensity score p(X) on all rows and compares the treated
rows' mean change with the comparison rows' change weighted by p / (1 - p), each period's
weights normalised to sum to one, comparison rows with p >= 0.995 trimmed. The locally
efficient doubly robust estimator (Sant'Anna and Zhao 2020, eq. 3.4; ``drdid_rc``, did's
default ``est_method = "dr"``) combines them: the weighted means of the residuals from the
comparison rows' period-specific regressions, plus the gap between the treated rows' and the
comparison rows' fitted regressions, averaged over all treated rows minus over those of each
period. Without covariates all three are the difference of four means.

Sampling weights (DRDID's ``i.weights``, one per row, normalised to mean 1 over the cell's
rows) weight every mean, the regressions and the logit, as DRDID does.

All return their influence function on the n_s rows of the cell, including the estimation
effect of the OLS or logit fits, so that Var(ATT) = sum psi^2 / n_s^2 (DRDID's
``att.inf.func``; did scales it by n / n_s and sums it by unit).

Reference: Sant'Anna, P. H. C. and Zhao, J. (2020), "Doubly robust difference-in-differences
estimators", Journal of Econometrics 219(1), 101-122, section 3.2.
"""

from __future__ import annotations

import numpy as np

from models.estimation.drdid import (
    SINGULAR_RCOND,
    TRIM_LEVEL,
    CellEstimationError,
    hajek_mean,
    propensity_score,
    reciprocal_condition,
    sampling_weights,
)


def reg_did_rc(
    y: np.ndarray,
    post: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """ATT of a two-period repeated cross-section DiD by outcome regression, and its influence
    function on the rows.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each of the n_s rows, shape (n_s,).
    post : numpy.ndarray
        1 for a row of the later period, 0 for the base period, shape (n_s,).
    treated : numpy.ndarray
        1 for the treated group, 0 for the comparison group, shape (n_s,).
    covariates : numpy.ndarray
        Covariates of each row (its own period's) without an intercept, shape (n_s, k).
    weights : numpy.ndarray, optional
        Positive sampling weight of each row, shape (n_s,); None: all 1.

    Returns
    -------
    att : float
    psi : numpy.ndarray
        Influence function on the rows, shape (n_s,); se = sqrt(sum psi^2) / n_s.

    Raises
    ------
    CellEstimationError
        If the comparison rows of a period have a singular (or ill-conditioned) design.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> post, treated = rng.random(4_000) < 0.5, rng.random(4_000) < 0.3
    >>> x = rng.normal(size=(4_000, 1))
    >>> y = x[:, 0] + post * (1.0 + x[:, 0]) + 2.0 * (post & treated) + rng.normal(size=4_000)
    >>> att, psi = reg_did_rc(y, post, treated, x)
    >>> print(f"ATT {att:.2f} (se {np.sqrt(psi @ psi) / psi.size:.2f})")
    ATT 1.99 (se 0.11)
    """
    y, post, treated, design, w = _as_arrays(y, post, treated, covariates, weights)
    fitted, ols_influence = {}, {}
    for period in (0.0, 1.0):
        rows = (treated == 0) & (post == period)
        fitted[period], ols_influence[period] = _outcome_regression(
            y, design, rows * w, "comparison", period
        )
    later, later_psi = hajek_mean(y, w * treated * post)
    base, base_psi = hajek_mean(y, w * treated * (1 - post))
    control, control_psi = hajek_mean(fitted[1.0] - fitted[0.0], w * treated)
    treated_x = ((w * treated) @ design) / (w * treated).sum()
    estimation = (ols_influence[1.0] - ols_influence[0.0]) @ treated_x
    return later - base - control, later_psi - base_psi - control_psi - estimation


def ipw_did_rc(
    y: np.ndarray,
    post: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """ATT of a two-period repeated cross-section DiD by standardised inverse probability
    weighting, and its influence function on the rows (arguments and returns as
    :func:`reg_did_rc`).

    Raises
    ------
    CellEstimationError
        If the propensity score cannot be estimated (collinear covariates, a fitted score at or
        above did's overlap limit 0.999, no convergence) or every comparison row is trimmed.
    """
    y, post, treated, design, w = _as_arrays(y, post, treated, covariates, weights)
    odds, logit_influence = _comparison_odds(treated, post, design, w)
    later, later_psi = hajek_mean(y, w * treated * post)
    base, base_psi = hajek_mean(y, w * treated * (1 - post))
    control, control_psi, derivative = 0.0, np.zeros_like(y), np.zeros(design.shape[1])
    for sign, weights in ((1.0, odds * post), (-1.0, odds * (1 - post))):
        mean, psi = hajek_mean(y, weights)
        control += sign * mean
        control_psi += sign * psi
        derivative += sign * ((weights * (y - mean)) @ design) / weights.sum()
    control_psi += logit_influence @ derivative
    return later - base - control, later_psi - base_psi - control_psi


def dr_did_rc(
    y: np.ndarray,
    post: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """ATT of a two-period repeated cross-section DiD by Sant'Anna and Zhao's locally efficient
    doubly robust estimator, and its influence function on the rows, term by term as DRDID's
    ``drdid_rc`` computes it (arguments and returns as :func:`reg_did_rc`), except for the
    sign of one term: the base period's comparison regression's estimation effect enters with
    the sign of its derivative, as in the Python port drdid 1.1.7; R's DRDID 1.2.3
    (``R/drdid_rc.R``: ``inf.treat.or <- inf.treat.or.post + inf.treat.or.pre`` and likewise
    ``inf.cont.or``) adds it with the later period's sign. The two differ by that regression's
    influence times the gap between the treated and the weighted comparison rows' mean
    covariates in the base period, which vanishes as the propensity score balances them.

    Raises
    ------
    CellEstimationError
        If the propensity score or one of the four outcome regressions (treated and comparison
        rows of each period) cannot be estimated, or every comparison row is trimmed.
    """
    y, post, treated, design, w = _as_arrays(y, post, treated, covariates, weights)
    odds, logit_influence = _comparison_odds(treated, post, design, w)
    fitted, ols = {}, {}
    for group in (0.0, 1.0):
        for period in (0.0, 1.0):
            rows = (treated == group) & (post == period)
            fitted[group, period], ols[group, period] = _outcome_regression(
                y, design, rows * w, "treated" if group else "comparison", period
            )
    residual = y - np.where(post == 1, fitted[0.0, 1.0], fitted[0.0, 0.0])
    weights = {
        "treated_post": w * treated * post,
        "treated_base": w * treated * (1 - post),
        "control_post": odds * post,
        "control_base": odds * (1 - post),
    }
    means, psis, x_means = {}, {}, {}
    for name, group_weights in weights.items():
        means[name], psis[name] = hajek_mean(residual, group_weights)
        x_means[name] = (group_weights @ design) / group_weights.sum()
    # The treated rows' and comparison rows' fitted gap, over all treated rows and those of
    # each period (DRDID's eta.d.post, eta.dt1.post, eta.d.pre, eta.dt0.pre).
    gaps = {}
    for period, name in ((1.0, "treated_post"), (0.0, "treated_base")):
        gap = fitted[1.0, period] - fitted[0.0, period]
        gaps[period] = (hajek_mean(gap, w * treated), hajek_mean(gap, weights[name]))
    att = (
        means["treated_post"]
        - means["treated_base"]
        - (means["control_post"] - means["control_base"])
        + (gaps[1.0][0][0] - gaps[1.0][1][0])
        - (gaps[0.0][0][0] - gaps[0.0][1][0])
    )
    # The comparison regressions' estimation effect on the treated rows' residual means, and
    # below on the comparison rows': each period's enters with that period's sign (the
    # derivative; R's DRDID 1.2.3 adds the base period's with the later period's sign).
    treated_psi = (
        psis["treated_post"]
        - psis["treated_base"]
        - ols[0.0, 1.0] @ x_means["treated_post"]
        + ols[0.0, 0.0] @ x_means["treated_base"]
    )
    logit_derivative = np.zeros(design.shape[1])
    for sign, name in ((1.0, "control_post"), (-1.0, "control_base")):
        group_weights = weights[name]
        logit_derivative += (
            sign * ((group_weights * (residual - means[name])) @ design) / group_weights.sum()
        )
    control_psi = (
        psis["control_post"]
        - psis["control_base"]
        + logit_influence @ logit_derivative
        - ols[0.0, 1.0] @ x_means["control_post"]
        + ols[0.0, 0.0] @ x_means["control_base"]
    )
    efficiency_psi = (gaps[1.0][0][1] - gaps[1.0][1][1]) - (gaps[0.0][0][1] - gaps[0.0][1][1])
    treated_x = ((w * treated) @ design) / (w * treated).sum()
    regression_psi = (ols[1.0, 1.0] - ols[0.0, 1.0]) @ (treated_x - x_means["treated_post"]) - (
        ols[1.0, 0.0] - ols[0.0, 0.0]
    ) @ (treated_x - x_means["treated_base"])
    return att, treated_psi - control_psi + efficiency_psi + regression_psi


def _comparison_odds(
    treated: np.ndarray, post: np.ndarray, design: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The comparison rows' weighted propensity odds w p / (1 - p) (weighted logit), trimmed
    at did's TRIM_LEVEL (0 on treated and trimmed rows), and the logit's influence; raises if
    a period loses every comparison row."""
    pscore, logit_influence = propensity_score(treated, design, weights)
    kept = (pscore < TRIM_LEVEL) | (treated == 1)
    odds = kept * weights * (1 - treated) * pscore / (1 - pscore)
    if not (odds * post).any() or not (odds * (1 - post)).any():
        raise CellEstimationError(
            f"every comparison row of a period has a propensity score >= {TRIM_LEVEL} and is "
            "trimmed"
        )
    return odds, logit_influence


def _outcome_regression(
    y: np.ndarray, design: np.ndarray, rows: np.ndarray, group: str, period: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted OLS of y on the design among the rows with a positive weight in ``rows`` (the
    group's indicator times the sampling weights): fitted values of all rows, and the influence
    function of the coefficients, r_i e_i x_i' (X'RX / n)^-1 (n x K), R = diag(rows)."""
    kept = rows > 0
    gram = (rows[kept, None] * design[kept]).T @ design[kept]
    if reciprocal_condition(gram) < SINGULAR_RCOND:
        raise CellEstimationError(
            f"covariates are collinear among the {int(kept.sum())} {group} rows of the "
            f"{'later' if period else 'base'} period: the outcome regression cannot be estimated"
        )
    root = np.sqrt(rows[kept])
    beta = np.linalg.lstsq(root[:, None] * design[kept], root * y[kept], rcond=None)[0]
    fitted = design @ beta
    scores = (rows * (y - fitted))[:, None] * design
    return fitted, scores @ np.linalg.inv(gram / y.size)


def _as_arrays(
    y: np.ndarray,
    post: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows' outcome, period and group as floats, the design [1, X] and the sampling
    weights normalised to mean 1."""
    y = np.asarray(y, dtype=float)
    n = y.size
    design = np.column_stack([np.ones(n), np.asarray(covariates, dtype=float).reshape(n, -1)])
    post, treated = np.asarray(post, dtype=float), np.asarray(treated, dtype=float)
    return y, post, treated, design, sampling_weights(weights, n)
