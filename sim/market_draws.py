"""The market parameters of each projection draw: posterior given the data, or priors alone.

:func:`market_draws` is what the projection's kernel calls for the market values of its draws
(``[projection.market_uncertainty] draws``):

* ``"posterior"`` (the default): the posterior of the market's parameters given Alibaba's
  published fake shares (:func:`models.market.market_posterior.sample_posterior`). The varying
  parameters are the fields of ``[projection.priors]`` with a positive sd plus the two that the
  data calibrate, ``detection_2016`` and ``entry_elasticity``, whose priors come from
  ``[projection.market_uncertainty]`` (wide, since the data rather than judgement inform them).
  The sample is computed once from the seed (``Stream.MARKET_POSTERIOR``) and has
  ``samples`` rows whatever the number of draws; draw i is its row i, so a draw depends neither
  on ``n_draws`` nor on the block size or executor.
* ``"prior"``: the independent lognormal priors of ``[projection.priors]``, clipped into the
  valid ranges, with draw i's standard normals the first ones of its projection stream
  (``block_generator(seed, i, Stream.PROJECTION)``): exactly goodwill 0.2's draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.market.market_calibration import EnforcementSeries, enforcement_series
from models.market.market_posterior import (
    MarketPosterior,
    MarketPrior,
    prior_values,
    sample_posterior,
)
from models.streams import Stream, block_generator
from sim.config import ProjectionSettings

ENFORCEMENT_DATA = Path(__file__).parent / "data" / "alibaba_enforcement.csv"
"""Alibaba's published anti-counterfeiting figures, 2015-2019 (sources in data/README.md)."""

CALIBRATED = ("detection_2016", "entry_elasticity")
"""Market fields that the data calibrate: their posterior priors are the settings' own."""


def read_enforcement_data(path: str | Path = ENFORCEMENT_DATA) -> pd.DataFrame:
    """Read a CSV of yearly enforcement figures (``year``, ``arrests``,
    ``suspected_fakes_per_10k_orders``, ...) for :func:`models.calibrate_enforcement`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: enforcement data not found")
    return pd.read_csv(path)


def market_draws(settings: ProjectionSettings, n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """The market values of draws 0 to ``n_draws - 1`` of a projection.

    Parameters
    ----------
    settings : sim.config.ProjectionSettings
        The market, its priors and ``market_uncertainty``.
    n_draws : int
        Draws.
    seed : int
        The run's root seed.

    Returns
    -------
    dict of str to ndarray
        Each market field that varies, shape ``(n_draws,)``, valid for
        ``settings.market.market(**{name: value[:, None]})``.
    """
    uncertainty = settings.market_uncertainty
    if uncertainty.draws == "prior":
        return prior_draws(settings, n_draws, seed)
    if n_draws > uncertainty.samples:
        raise ValueError(
            f"projection.n_draws = {n_draws}: expected at most "
            f"projection.market_uncertainty.samples = {uncertainty.samples} (the posterior draws)"
        )
    posterior = _remembered_posterior(settings, seed)
    return {name: value[:n_draws] for name, value in posterior.values.items()}


_POSTERIORS: dict[tuple[str, int], MarketPosterior] = {}
"""Posterior samples already drawn in this process, by their inputs (the sampler is
deterministic given them, and takes seconds)."""


def _remembered_posterior(settings: ProjectionSettings, seed: int) -> MarketPosterior:
    key = (
        settings.market.model_dump_json()
        + repr(sorted(settings.priors.items()))
        + settings.market_uncertainty.model_dump_json(),
        seed,
    )
    if key not in _POSTERIORS:
        if len(_POSTERIORS) >= 8:
            _POSTERIORS.clear()
        _POSTERIORS[key] = posterior_sample(settings, seed)
    return _POSTERIORS[key]


def prior_draws(settings: ProjectionSettings, n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """Draws 0 to ``n_draws - 1`` from the independent priors (goodwill 0.2's market draws).

    Raises
    ------
    ValueError
        If a draw has more fakes than orders without enforcement (``EnforcementModel``'s bound).
    """
    priors = tuple(sorted(settings.priors.items()))
    normals = np.array(
        [
            block_generator(seed, draw, Stream.PROJECTION).standard_normal(len(priors))
            for draw in range(n_draws)
        ]
    ).reshape(n_draws, len(priors))
    values = prior_values(settings.market, priors, normals)
    if values:
        market = settings.market.market(**{name: value[:, None] for name, value in values.items()})
        over = ~market.feasible()[:, 0]
        if over.any():
            raise ValueError(
                f"projection.priors ({', '.join(name for name, _ in priors)}): {over.sum()} of "
                f"{n_draws} draws give more fakes than orders without enforcement; expected "
                "narrower priors"
            )
    return values


def posterior_prior(settings: ProjectionSettings) -> MarketPrior:
    """The posterior's prior: ``[projection.priors]`` with a positive sd, and the calibrated
    fields' sds from ``[projection.market_uncertainty]``."""
    uncertainty = settings.market_uncertainty
    sds = {name: sd for name, sd in settings.priors.items() if sd > 0}
    sds |= {
        "detection_2016": uncertainty.detection_2016_sd,
        "entry_elasticity": uncertainty.entry_elasticity_sd,
    }
    return MarketPrior(settings.market, tuple(sorted(sds.items())))


def posterior_series(
    settings: ProjectionSettings, data: pd.DataFrame | None = None
) -> EnforcementSeries:
    """The published series (default: the shipped data) with the settings' intensity index."""
    data = read_enforcement_data() if data is None else data
    return enforcement_series(data, settings.market_uncertainty.intensity_index)


def posterior_sample(
    settings: ProjectionSettings, seed: int, data: pd.DataFrame | None = None
) -> MarketPosterior:
    """The posterior sample of the market's parameters (``samples`` rows) for a seed."""
    uncertainty = settings.market_uncertainty
    return sample_posterior(
        posterior_prior(settings),
        posterior_series(settings, data),
        uncertainty.sigma,
        uncertainty.samples,
        block_generator(seed, 0, Stream.MARKET_POSTERIOR),
        walkers=uncertainty.walkers,
        burn_in=uncertainty.burn_in,
        thin=uncertainty.thin,
    )
