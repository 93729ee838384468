"""The counterfeit-seller market under enforcement (models.market.enforcement).

References are written out in each test from the model's equations (module docstring of
models/enforcement.py), not read back from the code under test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models import EnforcementModel
from models.market.enforcement import MAX_FAKE_SHARE, Market, check_intensity
from tests.models.market.market_helpers import (
    expected_sanction,
    hand_relative_value,
    peak_share_by_hand,
)

GRID = np.linspace(0.0, 10.0, 201)


def hand_detection(model: EnforcementModel, x: np.ndarray) -> np.ndarray:
    missed = 1 - model.detection_2016 / model.detection_max
    return model.detection_max * (1 - missed ** np.asarray(x, dtype=float))


# --- detection h(x) ------------------------------------------------------------------------


def test_detection_is_zero_without_enforcement_and_h1_under_the_2016_programme():
    model = EnforcementModel()
    assert model.detection(0.0) == 0.0
    assert model.detection(1.0) == pytest.approx(model.detection_2016, rel=1e-14)


def test_detection_increases_with_diminishing_returns():
    h = EnforcementModel().detection(GRID)
    assert np.all(np.diff(h) > 0)
    assert np.all(np.diff(h, 2) < 0)  # concave on the grid


def test_detection_stays_below_and_tends_to_its_maximum():
    model = EnforcementModel()
    assert np.all(model.detection(np.linspace(0.0, 25.0, 101)) < model.detection_max)
    # missed share (1 - h1 / h_max) ** x: 0.38 ** 40 is about 1e-17
    assert model.detection(40.0) == pytest.approx(model.detection_max, rel=1e-14)
    gaps = model.detection_max - model.detection(np.array([1.0, 2.0, 4.0, 8.0]))
    assert np.all(np.diff(gaps) < 0)


def test_detection_matches_its_formula():
    model = EnforcementModel(detection_2016=0.03, detection_max=0.2)
    assert model.detection(GRID) == pytest.approx(hand_detection(model, GRID), rel=1e-13)


# --- steady state ------------------------------------------------------------------------------


def test_steady_state_at_the_2016_programme_is_the_2016_fake_share():
    model = EnforcementModel()
    assert model.fake_share(1.0) == pytest.approx(model.fake_share_2016, rel=1e-12)
    other = EnforcementModel(fake_share_2016=3.7, detection_2016=0.04, entry_elasticity=1.3)
    assert other.fake_share(1.0) == pytest.approx(3.7, rel=1e-12)
    market = other.market()
    assert market.steady_stores(np.float64(1.0)) == pytest.approx(
        other.stores_closed_2016 / (52 * other.detection_2016), rel=1e-12
    )


def test_fake_share_decreases_with_intensity():
    shares = EnforcementModel().fake_share(GRID)
    assert np.all(np.diff(shares) < 0)


def test_sanction_is_the_expected_becker_penalty():
    model = EnforcementModel()
    assert model.sanction == pytest.approx(expected_sanction(model), rel=1e-14)


def test_steady_state_matches_its_formula_at_every_intensity():
    model = EnforcementModel()
    delta, h1, eta = model.exit_rate, model.detection_2016, model.entry_elasticity
    stores_2016 = model.stores_closed_2016 / (52 * h1)
    weeks = expected_sanction(model) / model.profit_per_week
    h = hand_detection(model, GRID)
    entrants_0 = stores_2016 * (delta + h1) / hand_relative_value(h1, delta, weeks) ** eta
    steady = entrants_0 * hand_relative_value(h, delta, weeks) ** eta / (delta + h)
    market = model.market()
    assert market.steady_stores(GRID) == pytest.approx(steady, rel=1e-12)
    assert model.fake_share(GRID) == pytest.approx(
        model.fake_share_2016 * steady / stores_2016, rel=1e-12
    )


# --- dynamics ----------------------------------------------------------------------------------


def test_no_enforcement_path_matches_a_hand_written_recursion():
    model = EnforcementModel()
    delta, h1, eta, sd = (
        model.exit_rate,
        model.detection_2016,
        model.entry_elasticity,
        model.entry_shock_sd,
    )
    stores_2016 = model.stores_closed_2016 / (52 * h1)
    sanction = expected_sanction(model)
    r1 = max(1 - h1 * sanction / model.profit_per_week, 0.0) * delta / (delta + h1)
    entrants_0 = stores_2016 * (delta + h1) / r1**eta
    z = np.random.default_rng(20160101).standard_normal(150)

    expected = np.empty(z.size)
    stores = stores_2016  # the market opens in the 2016 steady state (start = 1)
    for t, shock in enumerate(z):
        expected[t] = stores
        stores = (1 - delta) * stores + entrants_0 * np.exp(sd * shock - sd**2 / 2)

    path = model.market().simulate(np.array([0.0, 2.0]), start=1.0, entry_shocks=z)
    assert path.stores.shape == (2, z.size)
    assert path.stores[0] == pytest.approx(expected, rel=1e-12)
    assert path.fake_share[0] == pytest.approx(
        model.fake_share_2016 * expected / stores_2016, rel=1e-12
    )
    assert np.all(path.closures[0] == 0.0)  # nothing is detected at intensity 0
    h2 = hand_detection(model, 2.0)
    assert path.closures[1] == pytest.approx(h2 * path.stores[1], rel=1e-12)


def test_path_without_shocks_stays_in_its_steady_state():
    market = EnforcementModel(entry_shock_sd=0.0).market()
    for x in (0.0, 0.5, 1.0, 3.0):
        path = market.simulate(np.array([x]), start=x, entry_shocks=np.ones(60))
        steady = market.steady_stores(np.float64(x))
        assert path.stores[0] == pytest.approx(np.full(60, steady), rel=1e-12)


def test_long_path_without_shocks_converges_to_the_steady_state():
    market = EnforcementModel(entry_shock_sd=0.0).market()
    intensities = np.array([0.0, 0.5, 2.0, 4.0])
    path = market.simulate(intensities, start=1.0, entry_shocks=np.zeros(2_000))
    # the gap shrinks by (1 - delta - h) a week: 0.98 ** 2000 is about 3e-18
    assert path.stores[:, -1] == pytest.approx(market.steady_stores(intensities), rel=1e-12)


def test_mean_of_many_shocked_paths_is_the_steady_state():
    market = EnforcementModel(entry_shock_sd=0.2).market()
    intensities = np.array([0.0, 2.0])
    z = np.random.default_rng(7).standard_normal((4_000, 1_000))
    final = market.simulate(intensities, start=1.0, entry_shocks=z).stores[..., -1]
    assert final.shape == (4_000, 2)
    # entry shocks have mean one; after 1,000 weeks the start is forgotten (0.98**1000 ~ 2e-9)
    se = final.std(axis=0, ddof=1) / np.sqrt(final.shape[0])
    assert np.all(np.abs(final.mean(axis=0) - market.steady_stores(intensities)) < 5 * se)


# --- special cases -----------------------------------------------------------------------------


def test_penalty_does_not_matter_when_nothing_is_detected():
    """Intensity 0 detects nothing, so the sanction cannot change V(0) or the market there.

    Each market's entry scale E_0 is backed out of the 2016 steady state, which does depend
    on the sanction (V(1) does); so the comparison holds E_0 fixed by rescaling stores_2016.
    """
    market = EnforcementModel().market()
    free = replace(market, sanction_weeks=0.0)
    x0 = np.array([0.0])
    assert market.relative_value(x0) == free.relative_value(x0) == 1.0
    entry_scale = market.entry(x0)[0]
    free = replace(free, stores_2016=market.stores_2016 * entry_scale / free.entry(x0)[0])
    assert free.entry(x0) == pytest.approx(market.entry(x0), rel=1e-12)
    assert free.steady_stores(x0) == pytest.approx(market.steady_stores(x0), rel=1e-12)
    z = np.random.default_rng(3).standard_normal(80)
    start = float(market.steady_stores(np.float64(0.0)))  # both open at their x = 0 state
    one = market.simulate(x0, start=0.0, entry_shocks=z).stores
    two = free.simulate(x0, start=0.0, entry_shocks=z).stores
    assert one[0, 0] == pytest.approx(start, rel=1e-12)
    assert one == pytest.approx(two, rel=1e-12)


def test_without_a_sanction_only_shorter_store_lives_deter():
    """With S = 0, V(x) / V(0) = delta / (delta + h), entry falls by that ratio ** eta and
    each store lives 1 / (delta + h) weeks instead of 1 / delta, so
    N*(x) / N*(0) = (delta / (delta + h)) ** (eta + 1) whatever the 2016 anchoring."""
    model = EnforcementModel(takedown_loss=0.0, civil_probability=0.0, conviction_probability=0.0)
    assert model.sanction == 0.0
    market = model.market()
    h = hand_detection(model, GRID)
    ratio = (model.exit_rate / (model.exit_rate + h)) ** (model.entry_elasticity + 1)
    steady = market.steady_stores(GRID)
    assert steady / steady[0] == pytest.approx(ratio, rel=1e-12)
    # the same holds for a Market built directly with sanction_weeks = 0
    free = Market(
        detection_2016=0.04,
        detection_max=0.15,
        exit_rate=0.03,
        entry_elasticity=1.7,
        sanction_weeks=0.0,
        fake_share_2016=2.0,
        stores_2016=50_000.0,
        entry_shock_sd=0.1,
    )
    h = free.detection(GRID)
    ratio = (free.exit_rate / (free.exit_rate + h)) ** (free.entry_elasticity + 1)
    assert free.steady_stores(GRID) / free.steady_stores(GRID[:1]) == pytest.approx(
        ratio, rel=1e-12
    )


def test_sanction_that_eats_the_whole_profit_stops_entry():
    model = EnforcementModel(takedown_loss=4_100.0)  # S about 14 weeks of profit
    weeks = expected_sanction(model) / model.profit_per_week
    h = model.detection(np.array([1.0, 2.0, 3.0]))
    assert h[0] * weeks < 1 <= h[1] * weeks  # stores pay in 2016, not at intensity >= 2
    market = model.market()
    steady = market.steady_stores(np.array([0.0, 1.0, 2.0, 3.0]))
    assert steady[0] > steady[1] > 0
    assert np.all(steady[2:] == 0.0)
    assert np.all(market.entry(np.array([2.0, 3.0])) == 0.0)
    path = market.simulate(np.array([2.0]), start=1.0, entry_shocks=np.zeros(30))
    decay = (1 - model.exit_rate - h[1]) ** np.arange(30)
    assert path.stores[0] == pytest.approx(steady[1] * decay, rel=1e-12)


# --- validation --------------------------------------------------------------------------------


def test_detection_2016_must_be_below_detection_max():
    with pytest.raises(ValueError, match=r"detection_2016 = 0\.1 must be below detection_max"):
        EnforcementModel(detection_2016=0.1, detection_max=0.1)


def test_detection_max_plus_exit_rate_is_a_probability():
    with pytest.raises(ValueError, match=r"detection_max \+ exit_rate = 1\.1 must be at most 1"):
        EnforcementModel(detection_max=0.5, exit_rate=0.6)


@pytest.mark.parametrize(
    "field", ["takedown_loss", "civil_damages", "prison_cost", "entry_shock_sd", "programme_cost"]
)
def test_negative_values_are_rejected_by_name(field):
    with pytest.raises(ValueError, match=rf"{field}\n.*greater than or equal to 0"):
        EnforcementModel(**{field: -1.0})


@pytest.mark.parametrize("field", ["fake_share_2016", "profit_per_week", "entry_elasticity"])
def test_non_positive_values_are_rejected_by_name(field):
    with pytest.raises(ValueError, match=rf"{field}\n.*greater than 0"):
        EnforcementModel(**{field: 0.0})


def test_sanction_above_the_2016_profit_is_rejected():
    with pytest.raises(ValueError, match=r"detection_2016 x sanction = .* below profit_per_week"):
        EnforcementModel(prison_cost=1e9)


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf, [1.0, -1.0], [0.0, np.nan]])
def test_intensity_must_be_finite_and_non_negative(bad):
    with pytest.raises(ValueError, match="intensity must be finite and >= 0"):
        check_intensity(bad)
    with pytest.raises(ValueError, match="intensity must be finite and >= 0"):
        EnforcementModel().fake_share(bad)


def test_intensity_check_passes_valid_values_as_floats():
    values = check_intensity([0, 1, 2])
    assert values.dtype == float
    assert np.array_equal(values, [0.0, 1.0, 2.0])


def test_fake_share_above_all_orders_is_rejected_naming_the_fields():
    # eta = 5: (1 / 0.188) ** 5 x 4.1 x 2.1 is about 36,000 fakes per 10,000 orders
    assert peak_share_by_hand(EnforcementModel().model_copy(update={"entry_elasticity": 5.0})) > (
        MAX_FAKE_SHARE
    )
    with pytest.raises(
        ValueError,
        match=r"fake_share_2016 = 2\.1, entry_elasticity = 5\.0.*more "
        r"than all orders \(10000\)",
    ):
        EnforcementModel(entry_elasticity=5.0)


def test_fake_share_bound_is_the_steady_state_without_enforcement():
    model = EnforcementModel(entry_elasticity=2.5)
    assert float(model.market().peak_share()) == pytest.approx(peak_share_by_hand(model), rel=1e-12)
    # just below the bound is valid, just above is not (eta solves peak = 10,000 by bisection)
    low, high = 2.5, 5.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        over = peak_share_by_hand(model.model_copy(update={"entry_elasticity": mid})) > 1e4
        low, high = (low, mid) if over else (mid, high)
    EnforcementModel(entry_elasticity=low * (1 - 1e-9))
    with pytest.raises(ValueError, match="more than all orders"):
        EnforcementModel(entry_elasticity=high * (1 + 1e-9))


def test_feasible_is_elementwise_over_the_joint_constraints():
    market = EnforcementModel().market(
        detection_2016=np.array([0.05, 0.12, 0.05, 0.05, 0.05]),
        detection_max=np.array([0.1, 0.1, 0.99, 0.1, 0.1]),
        entry_elasticity=np.array([0.6, 0.6, 0.6, 6.0, 0.6]),
        profit_per_week=np.array([300.0, 300.0, 300.0, 300.0, 50.0]),
    )
    # h1 < h_max | h_max + delta <= 1 | peak share <= 10,000 | h1 S < pi
    assert market.feasible().tolist() == [True, False, False, False, False]


# --- Monte-Carlo draws -------------------------------------------------------------------------


DRAWS = {
    "exit_rate": np.array([[0.01], [0.02], [0.035]]),
    "entry_elasticity": np.array([[0.4], [0.9], [1.5]]),
    "detection_max": np.array([[0.08], [0.1], [0.3]]),
    "fake_share_2016": np.array([[1.5], [2.1], [2.8]]),
    "prison_cost": np.array([[5e5], [1e6], [3e6]]),
}


def test_market_draws_broadcast_against_intensities_row_by_row():
    model = EnforcementModel()
    intensities = np.array([0.0, 0.5, 1.0, 2.5, 4.0])
    block = model.market(**DRAWS)
    z = np.random.default_rng(11).standard_normal((3, 40))
    steady = block.steady_stores(intensities)
    detection = block.detection(intensities)
    path = block.simulate(intensities, start=1.0, entry_shocks=z)
    assert steady.shape == detection.shape == (3, intensities.size)
    assert path.stores.shape == (3, intensities.size, 40)
    for row in range(3):
        one = model.model_copy(update={k: float(v[row, 0]) for k, v in DRAWS.items()})
        market = one.market()
        assert steady[row] == pytest.approx(market.steady_stores(intensities), rel=1e-12)
        assert detection[row] == pytest.approx(one.detection(intensities), rel=1e-12)
        assert block.share(steady)[row] == pytest.approx(one.fake_share(intensities), rel=1e-12)
        alone = market.simulate(intensities, start=1.0, entry_shocks=z[row])
        for got, want in zip(path, alone, strict=True):
            assert got[row] == pytest.approx(want, rel=1e-12)


def test_entry_shock_sd_draws_broadcast_row_by_row():
    model = EnforcementModel()
    intensities = np.array([0.0, 1.0, 2.0])
    sd = np.array([[0.05], [0.1], [0.3]])
    z = np.random.default_rng(12).standard_normal((3, 20))
    path = model.market(entry_shock_sd=sd).simulate(intensities, start=1.0, entry_shocks=z)
    assert path.stores.shape == (3, intensities.size, 20)
    for row in range(3):
        market = model.model_copy(update={"entry_shock_sd": float(sd[row, 0])}).market()
        alone = market.simulate(intensities, start=1.0, entry_shocks=z[row])
        assert path.stores[row] == pytest.approx(alone.stores, rel=1e-12)


def test_market_rejects_unknown_parameters():
    with pytest.raises(ValueError, match=r"unknown parameter.*detection_2017"):
        EnforcementModel().market(detection_2017=np.array([[0.1]]))


def test_enforcement_cost_is_linear_in_the_programme():
    model = EnforcementModel(programme_cost=2.6e9)
    assert model.enforcement_cost(np.array([0.0, 1.0, 2.5])) == pytest.approx(
        [0.0, 2.6e9 / 52, 2.5 * 2.6e9 / 52], rel=1e-14
    )
