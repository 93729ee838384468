"""The expected value of information of a decision between options by their cost.

For costs C(x, theta) of options x under uncertain inputs theta, sampled as rows:

* **EVPI**, the expected value of perfect information: min_x E[C(x)] - E[min_x C(x)], what
  the decision maker would pay to learn every input before choosing. Its Monte-Carlo error is
  that of the mean of C(x*) - min_x C(x) with x* the option of lowest mean cost held fixed
  (it ignores the error in choosing x*).
* **EVPPI**, the expected value of partial perfect information about a group of inputs:
  min_x E[C(x)] - E_group[min_x E[C(x) | group]]. The conditional means are estimated by
  regression (Strong, Oakley and Brennan 2014, Med. Decis. Making 34(3), 311-326), here a full
  quadratic polynomial of the group's inputs (standardised) fitted by least squares to each
  option's cost. Its error is the bootstrap standard deviation over resampled rows (the fit
  repeated on each); a quadratic that misses part of E[C | group] biases it down, the noise
  in the fitted values biases it up.
"""

from __future__ import annotations

import numpy as np


def evpi(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EVPI and its Monte-Carlo standard error.

    Parameters
    ----------
    costs : ndarray, shape (n, ..., k)
        Cost of each of k options in each of n samples (leading axes after the first: e.g.
        openings, each a separate decision).

    Returns
    -------
    value, se : ndarray, shape (...)

    Examples
    --------
    >>> costs = np.array([[0.0, 1.0], [0.0, -1.0]])  # option 1 wins half the time by 1
    >>> float(evpi(costs)[0])
    0.5
    """
    best = costs.mean(axis=0).argmin(axis=-1)
    regret = np.take_along_axis(costs, best[None, ..., None], -1)[..., 0] - costs.min(axis=-1)
    return regret.mean(axis=0), regret.std(axis=0, ddof=1) / np.sqrt(costs.shape[0])


def quadratic_features(inputs: np.ndarray) -> np.ndarray:
    """1, each input and each product of two (squares included), of standardised inputs."""
    z = (inputs - inputs.mean(axis=0)) / np.where(inputs.std(axis=0) > 0, inputs.std(axis=0), 1)
    rows, columns = np.triu_indices(z.shape[1])
    return np.hstack([np.ones((z.shape[0], 1)), z, z[:, rows] * z[:, columns]])


def evppi(
    costs: np.ndarray, inputs: np.ndarray, rng: np.random.Generator, resamples: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """EVPPI of a group of inputs by quadratic regression, and its bootstrap standard error.

    Parameters
    ----------
    costs : ndarray, shape (n, ..., k)
        As in :func:`evpi`.
    inputs : ndarray, shape (n, p)
        The group's inputs in each sample.
    rng : numpy.random.Generator
        Draws the bootstrap resamples.
    resamples : int
        Bootstrap resamples.

    Returns
    -------
    value, se : ndarray, shape (...)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.standard_normal((20_000, 1))
    >>> costs = np.hstack([np.zeros_like(theta), theta])  # learn theta, pick the cheaper
    >>> round(float(evppi(costs, theta, rng, 20)[0]), 2)  # E[max(0, -theta)] = 0.399
    0.4
    """
    n = costs.shape[0]

    def estimate(rows: np.ndarray) -> np.ndarray:
        features = quadratic_features(inputs[rows])
        flat = costs[rows].reshape(rows.size, -1)
        coefficients, *_ = np.linalg.lstsq(features, flat, rcond=None)
        fitted = (features @ coefficients).reshape(costs[rows].shape)
        return fitted.mean(axis=0).min(axis=-1) - fitted.min(axis=-1).mean(axis=0)

    value = estimate(np.arange(n))
    boot = np.stack([estimate(rng.integers(0, n, n)) for _ in range(resamples)])
    return value, boot.std(axis=0, ddof=1)
