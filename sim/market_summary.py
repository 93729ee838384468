"""What `goodwill calibrate-market` prints: the market's calibration to Alibaba's series, each
intensity index's fit, the ridge over the detection ceiling and the posterior's diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import calibrate_enforcement, compare_indices, ridge_profile
from models.market.market_calibration import RIDGE_GRID
from models.market.market_posterior import fit_rmse
from sim.config import ProjectionSettings
from sim.market_draws import posterior_sample, posterior_series, prior_draws


def describe_market_calibration(
    settings: ProjectionSettings, table: pd.DataFrame, seed: int
) -> str:
    """The calibration with ``settings``' intensity index (fit by year, the two calibrated
    parameters), the fit with each index, the best fit at each ``detection_max`` and the
    posterior's diagnostics next to the independent priors'.

    Parameters
    ----------
    settings : ProjectionSettings
        ``[projection.market]`` fixes the other parameters, ``[projection.market_uncertainty]``
        the index and the posterior's settings.
    table : pandas.DataFrame
        The published series (:func:`sim.market_draws.read_enforcement_data`).
    seed : int
        Seed of the posterior's draws.
    """
    index = settings.market_uncertainty.intensity_index
    fit = calibrate_enforcement(settings.market, table, index)
    indices = compare_indices(settings.market, table)
    ridge = ridge_profile(settings.market, table, RIDGE_GRID, index)
    posterior = posterior_sample(settings, seed, table)
    series = posterior_series(settings, table)
    n = settings.market_uncertainty.samples
    # without priors every draw is the config's market
    prior = prior_draws(settings, n, seed) or {
        "fake_share_2016": np.full(n, settings.market.fake_share_2016)
    }
    within = {
        name: np.mean(fit_rmse(settings.market, values, series) <= 2 * fit.rmse_log)
        for name, values in (("posterior", posterior.values), ("prior", prior))
    }
    tau = ", ".join(f"{name} {value:.0f}" for name, value in posterior.autocorrelation.items())
    quantiles = pd.DataFrame(
        {name: np.quantile(value, [0.05, 0.5, 0.95]) for name, value in posterior.values.items()},
        index=["5%", "50%", "95%"],
    ).T
    return (
        f"intensity = {index} relative to 2016\n"
        f"{fit.table.round(4).to_string()}\n"
        f"log RMSE {fit.rmse_log:.4f}; in [projection.market]:\n"
        f"detection_2016 = {fit.model.detection_2016:.4g}\n"
        f"entry_elasticity = {fit.model.entry_elasticity:.4g}\n\n"
        f"each intensity index (fake_share_0: steady state without enforcement):\n"
        f"{indices.to_string(float_format='{:.4g}'.format)}\n\n"
        f"the ridge: best fit at each detection_max ({index}):\n"
        f"{ridge.to_string(float_format='{:.4g}'.format)}\n\n"
        f"posterior ({n} draws, seed {seed}, sigma {settings.market_uncertainty.sigma:g}): "
        f"acceptance {posterior.acceptance:.2f}, ESS {posterior.ess:.0f}, autocorrelation "
        f"steps: {tau}\n"
        f"{quantiles.to_string(float_format='{:.4g}'.format)}\n"
        f"share of draws with log RMSE within 2x the calibration's ({2 * fit.rmse_log:.4f}): "
        f"posterior {within['posterior']:.1%}, independent priors {within['prior']:.1%}"
    )
