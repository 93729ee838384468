"""Priors and posterior of the market's parameters (models.market.market_posterior).

The sampler is checked against posteriors computed independently: a conjugate normal one (one
parameter) in closed form, and a grid posterior (two parameters) from the hand-written model.
Tolerances are Monte-Carlo: 4 standard errors, sd / sqrt(ESS) for a mean and
sd sqrt(1 / (2 ESS)) for an sd, with the sampler's own effective sample size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import EnforcementModel
from models.market.enforcement import MAX_FAKE_SHARE
from models.market.market_calibration import enforcement_series
from models.market.market_posterior import (
    MarketPrior,
    fit_rmse,
    log_likelihood,
    sample_posterior,
)
from tests.models.market.market_helpers import (
    ENFORCEMENT_DATA,
    expected_sanction,
    hand_relative_value,
)

SIGMA = 0.1


@pytest.fixture(scope="module")
def series():
    return enforcement_series(pd.read_csv(ENFORCEMENT_DATA))


def test_likelihood_is_the_normal_density_of_the_log_shares(series):
    model = EnforcementModel()
    prior = MarketPrior(model, (("entry_elasticity", 1.0), ("fake_share_2016", 0.1)))
    rows = np.log([[0.6358, 2.1], [1.2, 1.9]])
    seen = np.isfinite(series.observed)
    expected = []
    for eta, share in np.exp(rows):
        fitted = EnforcementModel(entry_elasticity=eta, fake_share_2016=share).fake_share(
            series.intensity[seen]
        )
        errors = np.log(fitted) - np.log(series.observed[seen])
        expected.append(-0.5 * np.sum(errors**2) / SIGMA**2)
    assert log_likelihood(prior, rows, series, SIGMA) == pytest.approx(expected, rel=1e-12)


def test_prior_is_zero_outside_the_valid_markets():
    prior = MarketPrior(EnforcementModel(), (("detection_2016", 1.0), ("entry_elasticity", 1.0)))
    rows = np.log([[0.05, 0.6], [0.11, 0.6], [0.05, 5.0]])  # valid | h1 > h_max | over the bound
    density = prior.log_density(rows)
    assert np.isfinite(density[0]) and np.isneginf(density[1:]).all()
    z = (rows[0] - np.log([0.06209, 0.6358])) / 1.0
    assert density[0] == pytest.approx(-0.5 * np.sum(z**2), rel=1e-12)


def test_sampler_matches_the_conjugate_posterior_of_the_2016_share(series):
    # with only fake_share_2016 free, log share_t = log f + log g(x_t), g free of f: the
    # posterior of log f is normal (prior N(log 2.1, 0.1), one observation per year)
    model = EnforcementModel()
    prior = MarketPrior(model, (("fake_share_2016", 0.1),))
    seen = np.isfinite(series.observed)
    offsets = np.log(series.observed[seen]) - np.log(
        model.fake_share(series.intensity[seen]) / model.fake_share_2016
    )
    precision = 1 / 0.1**2 + seen.sum() / SIGMA**2
    mean = (np.log(2.1) / 0.1**2 + offsets.sum() / SIGMA**2) / precision
    sd = precision**-0.5
    post = sample_posterior(
        prior, series, SIGMA, 2000, np.random.default_rng(3), walkers=8, burn_in=200, thin=5
    )
    draws = np.log(post.values["fake_share_2016"])
    assert post.ess > 200  # the tolerance below is then at most 0.28 sd
    assert np.mean(draws) == pytest.approx(mean, abs=4 * sd / np.sqrt(post.ess))
    assert np.std(draws) == pytest.approx(sd, abs=4 * sd * np.sqrt(0.5 / post.ess))


def test_sampler_matches_a_grid_posterior_of_detection_and_deterrence(series):
    model = EnforcementModel()
    prior = MarketPrior(model, (("detection_2016", 1.0), ("entry_elasticity", 1.0)))
    post = sample_posterior(prior, series, SIGMA, 4000, np.random.default_rng(4), thin=10)
    # the reference: the hand-written steady state on a grid of (log h1, log eta)
    log_h1 = np.linspace(np.log(1e-4), np.log(model.detection_max), 600)[:, None]
    log_eta = np.linspace(np.log(0.6358) - 5, np.log(0.6358) + 4, 600)[None, :]
    h1, eta = np.exp(log_h1)[..., None], np.exp(log_eta)[..., None]
    delta, h_max = model.exit_rate, model.detection_max
    weeks = expected_sanction(model) / model.profit_per_week
    x = series.intensity[series.later]
    with np.errstate(invalid="ignore"):  # h1 = h_max at the grid's edge
        h = h_max * (1 - (1 - h1 / h_max) ** x)
    ratio = hand_relative_value(h, delta, weeks) / hand_relative_value(h1, delta, weeks)
    fitted = 2.1 * ratio**eta * (delta + h1) / (delta + h)
    errors = np.log(fitted) - np.log(series.observed[series.later])
    peak = 2.1 * (delta / hand_relative_value(h1, delta, weeks)) ** eta * (delta + h1) / delta
    log_density = (
        -0.5 * np.sum(errors**2, axis=-1) / SIGMA**2
        - 0.5 * (log_h1 - np.log(0.06209)) ** 2
        - 0.5 * (log_eta - np.log(0.6358)) ** 2
    )
    log_density = np.where((h1 < h_max) & (peak <= MAX_FAKE_SHARE), log_density[..., None], -np.inf)
    weight = np.exp(log_density[..., 0] - log_density.max())
    weight /= weight.sum()
    for name, grid in (("detection_2016", log_h1), ("entry_elasticity", log_eta)):
        mean = np.sum(weight * grid)
        sd = np.sqrt(np.sum(weight * (grid - mean) ** 2))
        draws = np.log(post.values[name])
        assert np.mean(draws) == pytest.approx(mean, abs=4 * sd / np.sqrt(post.ess))
        assert np.std(draws) == pytest.approx(sd, abs=4 * sd * np.sqrt(0.5 / post.ess))


def test_posterior_reproduces_the_calibrations_fit_and_stays_below_the_bound(series):
    # the baseline's priors (the calibrated fields wide); measured: 95% of draws within twice
    # the calibration's log RMSE (0.158), the independent priors 33%; threshold 85%, more than
    # 5 binomial standard errors (ESS about 300 here) below
    model = EnforcementModel()
    sds = {
        "detection_2016": 1.0,
        "detection_max": 0.25,
        "entry_elasticity": 1.0,
        "exit_rate": 0.3,
        "fake_share_2016": 0.1,
    }
    prior = MarketPrior(model, tuple(sds.items()))
    post = sample_posterior(prior, series, SIGMA, 1000, np.random.default_rng(6), thin=10)
    within = np.mean(fit_rmse(model, post.values, series) <= 2 * 0.07906)
    assert within > 0.85
    assert 0.2 < post.acceptance < 0.8
    market = model.market(**{name: value[:, None] for name, value in post.values.items()})
    assert market.feasible().all()
    assert np.all(market.peak_share() <= MAX_FAKE_SHARE)


def test_sampler_is_reproducible_from_its_generator(series):
    prior = MarketPrior(EnforcementModel(), (("entry_elasticity", 1.0),))
    runs = [
        sample_posterior(
            prior, series, SIGMA, 100, np.random.default_rng(seed), walkers=4, burn_in=10, thin=2
        )
        for seed in (1, 1, 2)
    ]
    same = runs[0].values["entry_elasticity"]
    assert np.array_equal(same, runs[1].values["entry_elasticity"])
    assert not np.array_equal(same, runs[2].values["entry_elasticity"])


def test_bad_sampler_settings_are_rejected_by_name(series):
    prior = MarketPrior(EnforcementModel(), (("entry_elasticity", 1.0), ("exit_rate", 0.3)))
    with pytest.raises(ValueError, match="sigma: expected a standard deviation > 0"):
        sample_posterior(prior, series, 0.0, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="walkers = 3: expected at least twice the 2"):
        sample_posterior(prior, series, SIGMA, 10, np.random.default_rng(0), walkers=3)
    with pytest.raises(ValueError, match="prior on exit_rate: expected a log-scale sd > 0"):
        MarketPrior(EnforcementModel(), (("exit_rate", 0.0),))
    with pytest.raises(ValueError, match="prior on 'budget': not a market parameter"):
        MarketPrior(EnforcementModel(), (("budget", 1.0),))
