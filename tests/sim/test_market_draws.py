"""The market values of each projection draw (sim.market_draws)."""

from __future__ import annotations

import numpy as np
import pytest

from models.streams import Stream, block_generator
from sim import ConfigError, load_config
from sim.config import MarketUncertaintySettings
from sim.market_draws import market_draws, posterior_prior
from tests.conftest import ROOT

SMALL = {"samples": 64, "walkers": 16, "burn_in": 50, "thin": 2}
"""A short chain: these tests check bookkeeping, not the posterior (tests/models/market)."""


@pytest.fixture(scope="module")
def settings():
    projection = load_config(ROOT / "configs" / "baseline.toml").projection
    return projection.model_copy(update={"market_uncertainty": MarketUncertaintySettings(**SMALL)})


def test_prior_draws_are_todays_independent_priors(settings):
    prior = settings.model_copy(
        update={"market_uncertainty": MarketUncertaintySettings(draws="prior")}
    )
    draws = market_draws(prior, 5, seed=11)
    names = sorted(prior.priors)  # the kernel's column order
    for draw in range(5):
        z = block_generator(11, draw, Stream.PROJECTION).standard_normal(len(names) + 3)
        for j, name in enumerate(names):
            expected = getattr(prior.market, name) * np.exp(prior.priors[name] * z[j])
            if name == "detection_max":
                expected = min(expected, 1 - draws["exit_rate"][draw])
            assert draws[name][draw] == expected
    assert draws["detection_2016"].shape == (5,)


@pytest.mark.parametrize("mode", ["prior", "posterior"])
def test_draw_i_depends_on_the_seed_only(settings, mode):
    chosen = settings.model_copy(
        update={"market_uncertainty": MarketUncertaintySettings(draws=mode, **SMALL)}
    )
    few, many = market_draws(chosen, 10, 3), market_draws(chosen, 40, 3)
    other = market_draws(chosen, 10, 4)
    assert sorted(few) == sorted(many)
    for name in few:
        assert few[name].shape == (10,) and many[name].shape == (40,)
        assert np.array_equal(few[name], many[name][:10])
    assert not np.array_equal(few["entry_elasticity"], other["entry_elasticity"])
    market = chosen.market.market(**{name: value[:, None] for name, value in many.items()})
    assert market.feasible().all()


def test_posterior_varies_the_priors_fields_and_the_calibrated_ones(settings):
    prior = posterior_prior(settings)
    assert dict(prior.sds) == {**settings.priors, "detection_2016": 1.0, "entry_elasticity": 1.0}
    draws = market_draws(settings, 8, 0)
    assert sorted(draws) == sorted(prior.names)


def test_more_draws_than_posterior_samples_is_an_error_naming_both_keys(settings):
    with pytest.raises(
        ValueError,
        match=r"projection.n_draws = 65: expected at most "
        r"projection.market_uncertainty.samples = 64",
    ):
        market_draws(settings, 65, 0)


def test_prior_draws_above_all_orders_fail_clearly(settings):
    wild = settings.model_copy(
        update={
            "priors": {"entry_elasticity": 3.0},
            "market_uncertainty": MarketUncertaintySettings(draws="prior"),
        }
    )
    with pytest.raises(
        ValueError,
        match=r"projection.priors \(entry_elasticity\): \d+ of 200 "
        "draws give more fakes than orders",
    ):
        market_draws(wild, 200, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sigma = -0.1", r"projection.market_uncertainty.sigma: Input should be greater than 0"),
        ('draws = "both"', r"projection.market_uncertainty.draws: Input should be 'posterior'"),
        ('intensity_index = "budget"', r"projection.market_uncertainty.intensity_index: Input"),
        ("walkers = 1", r"projection.market_uncertainty.walkers: Input should be greater"),
        ("chains = 3", r"projection.market_uncertainty.chains: unknown key"),
    ],
)
def test_config_errors_name_the_key(write_config, text, message):
    path = write_config()
    path.write_text(path.read_text() + f"\n[projection.market_uncertainty]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
