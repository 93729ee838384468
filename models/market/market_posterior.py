"""Uncertainty in the market's parameters: independent priors, and the posterior given the data.

Two ways to draw the parameters of :class:`~models.market.enforcement.EnforcementModel`:

* :func:`prior_values`, the judgement priors alone: each field ``f`` with a log-scale sd ``s``
  is ``value_f * exp(s z)`` for a standard normal ``z``, then clipped into the model's valid
  ranges (probabilities below one, detection_max + exit_rate <= 1, detection_2016 below both
  0.99 detection_max and 0.99 of the rate at which the expected penalty eats a store's whole
  profit). These are the projection's draws of goodwill 0.2.
* :func:`sample_posterior`, the posterior given Alibaba's published fake shares. Each year
  with a share (2016 included, which informs ``fake_share_2016``),

      log observed_t ~ Normal(log steady-state share at intensity x_t, sigma),

  independently, with a fixed ``sigma``; the prior is the product of lognormals (median: the
  model's value, log-scale sd as given) truncated to the valid markets, i.e. zero outside the
  fields' ranges and outside :meth:`~models.market.enforcement.Market.feasible` (which includes
  the bound on the fake share, so the posterior puts no mass on a market with more fakes than
  orders). It is sampled with emcee's affine-invariant ensemble sampler (Foreman-Mackey et al.
  2013, PASP 125, 306) in the log parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import emcee
import numpy as np

from models.market.enforcement import EnforcementModel, Market
from models.market.market_calibration import EnforcementSeries

PROBABILITIES = (
    "detection_2016",
    "detection_max",
    "exit_rate",
    "civil_probability",
    "conviction_probability",
    "probation_share",
)
"""Market fields that are probabilities: a prior draw above one is clipped just below it."""


def prior_values(
    model: EnforcementModel, priors: tuple[tuple[str, float], ...], normals: np.ndarray
) -> dict[str, np.ndarray]:
    """The market values of independent lognormal priors, clipped into the valid ranges.

    Parameters
    ----------
    model : EnforcementModel
        The medians, and the values of the fields without a prior.
    priors : tuple of (str, float)
        (market field, log-scale sd) pairs; column j of ``normals`` drives prior j.
    normals : ndarray, shape (n_draws, len(priors))
        Standard normals.

    Returns
    -------
    dict of str to ndarray
        Each field with a prior, and ``detection_max`` and ``detection_2016`` (clipped) whenever
        there is any prior, as arrays of shape ``(n_draws,)``; empty without priors.
    """
    values = {
        name: getattr(model, name) * np.exp(sd * normals[:, j])
        for j, (name, sd) in enumerate(priors)
    }
    if not values:
        return {}
    for name in PROBABILITIES:
        if name in values:
            values[name] = np.minimum(values[name], 1.0 - 1e-9)
    exit_rate = values.get("exit_rate", model.exit_rate)
    top = np.minimum(values.get("detection_max", model.detection_max), 1.0 - exit_rate)
    sanction_weeks = model.market(**values).sanction_weeks
    detection = values.get("detection_2016", model.detection_2016)
    values["detection_max"] = np.broadcast_to(top, normals.shape[:1])
    values["detection_2016"] = np.minimum(
        detection, np.minimum(0.99 * top, 0.99 / sanction_weeks)
    ) * np.ones(normals.shape[0])
    return values


@dataclass(frozen=True)
class MarketPrior:
    """Independent lognormal priors on some market fields, truncated to the valid markets.

    Attributes
    ----------
    model : EnforcementModel
        The medians, and the values of the other fields.
    sds : tuple of (str, float)
        (market field, log-scale sd > 0) pairs: the parameters, in this order.
    """

    model: EnforcementModel
    sds: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        for name, sd in self.sds:
            if name not in type(self.model).model_fields:
                raise ValueError(f"prior on {name!r}: not a market parameter")
            if not sd > 0:
                raise ValueError(f"prior on {name}: expected a log-scale sd > 0, got {sd}")

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters, in the order of the columns of log values."""
        return tuple(name for name, _ in self.sds)

    @property
    def log_medians(self) -> np.ndarray:
        """Log of each parameter's median (the model's value)."""
        return np.log([getattr(self.model, name) for name in self.names])

    def values(self, log_values: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter values by name from log values of shape (n, n_parameters)."""
        return {name: np.exp(log_values[:, j]) for j, name in enumerate(self.names)}

    def market(self, log_values: np.ndarray) -> Market:
        """The markets of rows of log values, each field shaped (n, 1)."""
        return self.model.market(
            **{name: value[:, None] for name, value in self.values(log_values).items()}
        )

    def log_density(self, log_values: np.ndarray) -> np.ndarray:
        """Log prior density of each row, up to a constant; -inf outside the valid markets."""
        sd = np.array([sd for _, sd in self.sds])
        density = -0.5 * np.sum(((log_values - self.log_medians) / sd) ** 2, axis=1)
        valid = self.market(log_values).feasible()[:, 0]
        for name, value in self.values(log_values).items():
            valid &= _in_range(name, value)
        return np.where(valid, density, -np.inf)


def log_likelihood(
    prior: MarketPrior, log_values: np.ndarray, series: EnforcementSeries, sigma: float
) -> np.ndarray:
    """Log likelihood of each row up to a constant: normal log fake shares with sd ``sigma``."""
    seen = np.isfinite(series.observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = np.log(prior.market(log_values).steady_share(series.intensity[seen]))
    errors = fitted - np.log(series.observed[seen])
    return np.nan_to_num(-0.5 * np.sum(errors**2, axis=1) / sigma**2, nan=-np.inf)


def fit_rmse(
    model: EnforcementModel, values: dict[str, np.ndarray], series: EnforcementSeries
) -> np.ndarray:
    """Log RMSE of each draw's steady state over the years besides 2016 (as the calibration's)."""
    market = model.market(**{name: value[:, None] for name, value in values.items()})
    fitted = market.steady_share(series.intensity[series.later])
    errors = np.log(fitted) - np.log(series.observed[series.later])
    return np.sqrt(np.mean(errors**2, axis=1))


class MarketPosterior(NamedTuple):
    """Posterior draws of the market's parameters and the sampler's diagnostics.

    Attributes
    ----------
    values : dict of str to ndarray
        Each parameter's draws, shape (n_samples,), in a random order.
    acceptance : float
        Mean acceptance fraction of the walkers.
    autocorrelation : dict of str to float
        Integrated autocorrelation time of each parameter, in steps of a walker.
    ess : float
        Effective sample size of the draws: walkers x steps / the longest autocorrelation
        time, at most the number of draws.
    """

    values: dict[str, np.ndarray]
    acceptance: float
    autocorrelation: dict[str, float]
    ess: float


def sample_posterior(
    prior: MarketPrior,
    series: EnforcementSeries,
    sigma: float,
    n_samples: int,
    rng: np.random.Generator,
    walkers: int = 32,
    burn_in: int = 1000,
    thin: int = 20,
) -> MarketPosterior:
    """Draw the market's parameters from their posterior given the published fake shares.

    The walkers start at prior draws (valid markets), run ``burn_in`` steps that are dropped,
    then ``ceil(n_samples / walkers) thin`` steps of which every ``thin``-th is kept.

    Parameters
    ----------
    prior : MarketPrior
    series : EnforcementSeries
        The data and the intensity of each year.
    sigma : float
        Standard deviation of a year's log fake share about the model's steady state.
    n_samples : int
        Draws returned.
    rng : numpy.random.Generator
        Source of every random number (starting points, the sampler's moves, the order).
    walkers, burn_in, thin : int
        The ensemble's size, the steps dropped and the thinning of the rest.

    Returns
    -------
    MarketPosterior
    """
    if not sigma > 0:
        raise ValueError(f"sigma: expected a standard deviation > 0, got {sigma}")
    n_params = len(prior.sds)
    if walkers < 2 * n_params:
        raise ValueError(f"walkers = {walkers}: expected at least twice the {n_params} parameters")

    def log_posterior(log_values: np.ndarray) -> np.ndarray:
        density = prior.log_density(log_values)
        inside = np.isfinite(density)
        density[inside] += log_likelihood(prior, log_values[inside], series, sigma)
        return density

    start = _valid_prior_draws(prior, log_posterior, walkers, rng)
    sampler = emcee.EnsembleSampler(walkers, n_params, log_posterior, vectorize=True)
    sampler.random_state = np.random.RandomState(rng.integers(2**32)).get_state()
    steps = math.ceil(n_samples / walkers) * thin
    sampler.run_mcmc(start, burn_in + steps, progress=False)
    kept = sampler.get_chain(discard=burn_in, thin=thin, flat=True)[:n_samples]
    kept = kept[rng.permutation(n_samples)]
    # tol=0: report the estimate however short the chain (the ESS then shows it is short)
    tau = emcee.autocorr.integrated_time(sampler.get_chain(discard=burn_in), tol=0)
    return MarketPosterior(
        values=prior.values(kept),
        acceptance=float(np.mean(sampler.acceptance_fraction)),
        autocorrelation=dict(zip(prior.names, map(float, tau), strict=True)),
        ess=float(min(n_samples, walkers * steps / np.max(tau))),
    )


def _valid_prior_draws(
    prior: MarketPrior, log_posterior, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` prior draws (log values) with a finite posterior density, by rejection."""
    sd = np.array([sd for _, sd in prior.sds])
    found = np.empty((0, sd.size))
    for _ in range(100):
        draws = prior.log_medians + sd * rng.standard_normal((4 * n, sd.size))
        found = np.vstack([found, draws[np.isfinite(log_posterior(draws))]])
        if len(found) >= n:
            return found[:n]
    raise ValueError("market priors: fewer than 1 in 100 prior draws is a valid market")


def _in_range(name: str, value: np.ndarray) -> np.ndarray:
    """Whether values respect a field's declared bounds (gt, ge, lt, le)."""
    valid = np.ones(value.shape, dtype=bool)
    for bound in EnforcementModel.model_fields[name].metadata:
        for attribute, inside in (
            ("gt", np.greater),
            ("ge", np.greater_equal),
            ("lt", np.less),
            ("le", np.less_equal),
        ):
            if hasattr(bound, attribute):
                valid &= inside(value, getattr(bound, attribute))
    return valid
