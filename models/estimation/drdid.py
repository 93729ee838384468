"""Covariate-adjusted two-period panel difference-in-differences: the 2x2 estimators of DRDID.

For one 2x2 comparison (a treated group D = 1 and a comparison group D = 0, each observed in a
base and a later period) with covariates X, the ATT under conditional parallel trends is

    ATT = E[dY | D = 1] - E[ E[dY | X, D = 0] | D = 1 ],      dY = Y_later - Y_base.

:func:`did_2x2` estimates it as the R package DRDID does, which is what the R package did's
``att_gt`` calls for every (g, t) cell of a balanced panel:

- ``"reg"`` (``DRDID::reg_did_panel``; Heckman, Ichimura and Todd 1997): OLS of dY on X among the
  comparison units, ATT = mean over the treated of dY - X'beta.
- ``"ipw"`` (``DRDID::std_ipw_did_panel``; Abadie 2005, standardised): logit propensity score
  p(X); the treated mean of dY minus the mean of dY over comparison units weighted by
  p / (1 - p), the weights normalised to sum to one (Hajek).
- ``"dr"`` (``DRDID::drdid_panel``; Sant'Anna and Zhao 2020, eq. 3.1, the locally efficient
  doubly robust estimator, not the "improved" ``drdid_imp_panel``): the ``"reg"`` estimate minus
  the normalised p / (1 - p)-weighted mean of the comparison units' OLS residuals.

Sampling weights (DRDID's ``i.weights``, normalised to mean 1 over the cell's units) weight
the OLS, the logit, the treated mean and the comparison units' p / (1 - p) weights, and their
influence functions, as DRDID does.

X always gets an intercept. Propensity scores are trimmed as DRDID does (``trim.level =
0.995``): comparison units with p >= 0.995 get weight 0, treated units are never trimmed.

Each estimator returns its influence function psi on the n_s units of the cell, including the
estimation effect of the OLS and logit coefficients, so that Var(ATT) = sum psi^2 / n_s^2 (this
is DRDID's ``att.inf.func``; did scales it by n / n_s onto all n units of the panel).

A cell whose nuisance models cannot be fitted raises :class:`CellEstimationError`: did then
reports that ATT(g, t) as NA. These are did's own checks (a logit fitted probability >= 0.999:
"overlap condition violated"; a singular X'X among comparison units: "Not enough control
units") and DRDID's (collinear covariates), plus a logit that does not converge and a cell
whose comparison units are all trimmed (DRDID returns NaN there).

References: Sant'Anna, P. H. C. and Zhao, J. (2020), "Doubly robust difference-in-differences
estimators", Journal of Econometrics 219(1), 101-122; Callaway, B. and Sant'Anna, P. H. C.
(2021), "Difference-in-differences with multiple time periods", Journal of Econometrics 225(2).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

METHODS = ("dr", "reg", "ipw")
TRIM_LEVEL = 0.995
"""DRDID's ``trim.level``: comparison units with a propensity score at or above it get weight 0."""
OVERLAP_LIMIT = 0.999
"""did's overlap check: a cell whose logit fits any propensity score at or above it is NA."""
LOGIT_TOL = 1e-10
"""Newton-Raphson stops when the deviance changes by less than this, relative (R's glm rule)."""
LOGIT_MAX_ITERATIONS = 100
SINGULAR_RCOND = float(np.finfo(float).eps)
"""A matrix is singular when its reciprocal condition number is below this (as in DRDID/did)."""


class CellEstimationError(ValueError):
    """A 2x2 cell whose outcome regression or propensity score cannot be estimated.

    The R package did catches these per (g, t) cell and reports that ATT(g, t) as NA.
    """


def did_2x2(
    delta_y: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray,
    method: str,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """ATT of a two-period panel DiD with covariates, and its influence function.

    Parameters
    ----------
    delta_y : numpy.ndarray
        Outcome change Y_later - Y_base of each of the n_s units of the cell, shape (n_s,).
    treated : numpy.ndarray
        1 (or True) for the treated group, 0 (False) for the comparison group, shape (n_s,).
    covariates : numpy.ndarray
        Covariates without an intercept column (one is added), shape (n_s, k); k may be 0.
        did uses their values in the earlier of the cell's two periods (the base period for
        post-treatment cells).
    method : {"dr", "reg", "ipw"}
        Doubly robust, outcome regression, or standardised inverse probability weighting.
    weights : numpy.ndarray, optional
        Positive sampling weights of the units, shape (n_s,) (DRDID's ``i.weights``); None:
        all 1.

    Returns
    -------
    att : float
    psi : numpy.ndarray
        Influence function on the n_s units, shape (n_s,); se = sqrt(sum psi^2) / n_s.

    Raises
    ------
    CellEstimationError
        When a nuisance model cannot be estimated (did's NA cells; see the module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2_000, 1))
    >>> treated = rng.random(2_000) < expit(-0.5 + x[:, 0])
    >>> delta_y = 1.0 + x[:, 0] + 2.0 * treated + rng.normal(size=2_000)
    >>> att, psi = did_2x2(delta_y, treated, x, "dr")
    >>> print(f"ATT {att:.2f} (se {np.sqrt(psi @ psi) / psi.size:.2f})")
    ATT 2.02 (se 0.05)
    """
    delta_y, treated, design = _check_inputs(delta_y, treated, covariates, method)
    weights = sampling_weights(weights, delta_y.size)
    if method == "ipw":  # no outcome model: residuals are dY itself
        fitted, ols_influence = np.zeros_like(delta_y), np.zeros_like(design)
    else:
        fitted, ols_influence = _control_regression(delta_y, treated, design, weights)
    residual = delta_y - fitted
    att, psi = _treated_mean(residual, treated, design, ols_influence, weights)
    if method == "reg":
        return att, psi
    pscore, logit_influence = propensity_score(treated, design, weights)
    control_att, control_psi = _weighted_control_mean(
        residual, treated, design, pscore, logit_influence, ols_influence, weights
    )
    return att - control_att, psi - control_psi


def _check_inputs(
    delta_y: np.ndarray, treated: np.ndarray, covariates: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float arrays: dY, the 0/1 treatment indicator and the design [1, X]."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    delta_y = np.asarray(delta_y, dtype=float)
    treated = np.asarray(treated)
    covariates = np.asarray(covariates, dtype=float)
    if delta_y.ndim != 1:
        raise ValueError(f"delta_y: expected a 1-d array, got shape {delta_y.shape}")
    n = delta_y.size
    if treated.shape != (n,):
        raise ValueError(f"treated: expected shape ({n},) like delta_y, got {treated.shape}")
    if covariates.ndim != 2 or covariates.shape[0] != n:
        raise ValueError(
            f"covariates: expected a 2-d array with {n} rows, got shape {covariates.shape}"
        )
    if not np.isin(treated, (0, 1)).all():
        raise ValueError("treated: expected only 0/1 or False/True values")
    if not (np.isfinite(delta_y).all() and np.isfinite(covariates).all()):
        raise ValueError("delta_y, covariates: expected finite values (no NaN or inf)")
    treated = treated.astype(float)
    n_treated = int(treated.sum())
    if n_treated in (0, n):
        raise ValueError(
            f"treated: expected treated and comparison units, got {n_treated} treated of {n}"
        )
    return delta_y, treated, np.column_stack([np.ones(n), covariates])


def sampling_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    """The sampling weights normalised to mean 1 (DRDID), checked; ones without weights."""
    if weights is None:
        return np.ones(n)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (n,) or not (np.isfinite(weights).all() and (weights > 0).all()):
        raise ValueError(f"weights: expected {n} positive finite values, got shape {weights.shape}")
    return weights / weights.mean()


def reciprocal_condition(matrix: np.ndarray) -> float:
    """Reciprocal condition number in the 1-norm (R's ``rcond``); 0 for a singular matrix."""
    with np.errstate(all="ignore"):
        value = 1.0 / np.linalg.cond(matrix, 1)
    return float(value) if np.isfinite(value) else 0.0


def _control_regression(
    delta_y: np.ndarray, treated: np.ndarray, design: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted OLS of dY on X among the comparison units: fitted values of all units, and the
    influence function of the coefficients, w_i (1 - D_i) e_i x_i' (X_c'W X_c / n)^-1 (n x K)."""
    control = treated == 0
    root = np.sqrt(weights[control])
    gram = (weights[control, None] * design[control]).T @ design[control]
    if reciprocal_condition(gram) < SINGULAR_RCOND:
        raise CellEstimationError(
            f"covariates are collinear among the {int(control.sum())} comparison units: "
            "the outcome regression cannot be estimated"
        )
    beta = np.linalg.lstsq(root[:, None] * design[control], root * delta_y[control], rcond=None)[0]
    fitted = design @ beta
    scores = (weights * (1 - treated) * (delta_y - fitted))[:, None] * design
    return fitted, scores @ np.linalg.inv(gram / delta_y.size)


def propensity_score(
    treated: np.ndarray, design: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logit propensity score of each unit (sampling weights w, None: 1), and the
    influence function of the logit coefficients, w_i (D_i - p_i) x_i' (X'WX / n)^-1 with
    W = diag(w p (1 - p)) (n x K)."""
    weights = np.ones(treated.size) if weights is None else weights
    if reciprocal_condition(design.T @ design) < SINGULAR_RCOND:
        raise CellEstimationError(
            "covariates are collinear in the cell: the propensity score cannot be estimated"
        )
    coef, converged = _fit_logit(treated, design, weights)
    pscore = expit(design @ coef)
    if pscore.max() >= OVERLAP_LIMIT:
        raise CellEstimationError(
            f"overlap condition violated: a fitted propensity score is {pscore.max():.6g} "
            f"(>= {OVERLAP_LIMIT}); the covariates (nearly) separate treated and comparison units"
        )
    if not converged:
        raise CellEstimationError(
            f"the propensity score logit did not converge in {LOGIT_MAX_ITERATIONS} iterations"
        )
    information = design.T @ ((weights * pscore * (1 - pscore))[:, None] * design)
    scores = (weights * (treated - pscore))[:, None] * design
    return pscore, scores @ np.linalg.inv(information / treated.size)


def _fit_logit(
    treated: np.ndarray, design: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Weighted logit maximum likelihood by Newton-Raphson from zero; the coefficients and
    whether the deviance converged (|change| < LOGIT_TOL * (|deviance| + 0.1), R's glm
    criterion)."""
    coef = np.zeros(design.shape[1])
    deviance = _logit_deviance(treated, design @ coef, weights)
    for _ in range(LOGIT_MAX_ITERATIONS):
        pscore = expit(design @ coef)
        information = design.T @ ((weights * pscore * (1 - pscore))[:, None] * design)
        try:
            coef = coef + np.linalg.solve(information, design.T @ (weights * (treated - pscore)))
        except np.linalg.LinAlgError:
            return coef, False
        new_deviance = _logit_deviance(treated, design @ coef, weights)
        if abs(new_deviance - deviance) < LOGIT_TOL * (abs(new_deviance) + 0.1):
            return coef, True
        deviance = new_deviance
    return coef, False


def _logit_deviance(treated: np.ndarray, index: np.ndarray, weights: np.ndarray) -> float:
    """-2 weighted log-likelihood of the logit with linear index ``index`` (overflow-safe)."""
    return float(2 * np.sum(weights * (np.logaddexp(0, index) - treated * index)))


def _treated_mean(
    residual: np.ndarray,
    treated: np.ndarray,
    design: np.ndarray,
    ols_influence: np.ndarray,
    weights: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Weighted mean of the residuals dY - X'beta over the treated, and its influence function
    (including the estimation effect of beta through the treated mean of X)."""
    treated_weights = weights * treated
    att, psi = hajek_mean(residual, treated_weights)
    mean_x = (treated_weights[:, None] * design).mean(axis=0) / treated_weights.mean()
    return att, psi - ols_influence @ mean_x


def _weighted_control_mean(
    residual: np.ndarray,
    treated: np.ndarray,
    design: np.ndarray,
    pscore: np.ndarray,
    logit_influence: np.ndarray,
    ols_influence: np.ndarray,
    unit_weights: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Mean of the comparison units' residuals weighted by w p / (1 - p) (normalised, trimmed),
    and its influence function (including the estimation effects of the logit and of beta)."""
    kept = (pscore < TRIM_LEVEL) | (treated == 1)
    weights = kept * unit_weights * (1 - treated) * pscore / (1 - pscore)
    if not weights.any():
        raise CellEstimationError(
            f"every comparison unit has a propensity score >= {TRIM_LEVEL} and is trimmed"
        )
    mean, psi = hajek_mean(residual, weights)
    mean_weight = weights.mean()
    logit_effect = (weights * (residual - mean))[:, None] * design
    ols_effect = weights[:, None] * design
    psi = (
        psi
        + (logit_influence @ logit_effect.mean(axis=0) - ols_influence @ ols_effect.mean(axis=0))
        / mean_weight
    )
    return mean, psi


def hajek_mean(values: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean sum(w v) / sum(w) and its influence function w (v - mean) / mean(w)."""
    mean = float((weights * values).sum() / weights.sum())
    return mean, weights * (values - mean) / weights.mean()
