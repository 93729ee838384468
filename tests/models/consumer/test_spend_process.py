"""ConsumerSpendModel: panel layout, the response and its common random numbers, churn,
segments and calendar (the draws, the recorded truth and the parameter groups: test_draws.py,
test_truth.py, test_groups.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import ConsumerSpendModel
from tests.models.consumer.consumer_helpers import _replace, _with_event_time


def test_panel_layout(small_panel):
    panel, truth = small_panel
    assert list(panel.columns) == [
        "consumer_id", "week", "spend", "fake_week", "fake_value", "fake_spend", "segment",
        "tenure", "spend_cf",
    ]  # fmt: skip
    assert len(panel) == 5_000 * 22
    assert panel["week"].min() == 1 and panel["week"].max() == 22
    assert not panel.duplicated(["consumer_id", "week"]).any()
    assert panel.equals(panel.sort_values(["consumer_id", "week"]))
    assert panel["segment"].cat.categories.tolist() == ["occasional", "regular", "heavy"]
    never = panel["fake_week"].isna()
    assert (panel.loc[never, "fake_value"] == 0).all()
    assert (panel.loc[~never, "fake_value"] > 0).all()
    # one cohort and one value per consumer, matching the consumer table
    per_consumer = panel.groupby("consumer_id")[["fake_week", "fake_value"]].nunique(dropna=False)
    assert (per_consumer <= 1).all().all()
    first = panel.groupby("consumer_id")[["fake_week", "fake_value"]].first()
    pd.testing.assert_frame_equal(
        first, truth.consumers[["fake_week", "fake_value"]], check_index_type=False
    )


def test_response_settings_keep_the_counterfactual(baseline_model):
    """Common random numbers: response, churn and spillover leave spend_cf untouched."""
    panel, _ = baseline_model.simulate(n_consumers=3_000, n_weeks=22, seed=8)
    changed = _replace(
        baseline_model,
        response={"loss_per_yuan": 9.0, "dispersion": 1.2, "decay": 0.5},
        churn={"probability": 0.3},
        spillover={"contacts": 4.0, "share": 1.0},
    )
    other, _ = changed.simulate(n_consumers=3_000, n_weeks=22, seed=8)
    for column in ("spend_cf", "fake_week", "fake_value", "segment", "tenure"):
        pd.testing.assert_series_equal(other[column], panel[column], check_exact=True)
    assert not other["spend"].equals(panel["spend"])


def test_untreated_rows_are_untouched(small_panel):
    panel, _ = small_panel
    panel = _with_event_time(panel)
    untreated = panel["fake_week"].isna() | (panel["event_time"] < 0)
    assert untreated.sum() > 0.5 * len(panel)
    rows = panel[untreated]
    np.testing.assert_array_equal(rows["spend"], rows["spend_cf"])
    assert (rows["fake_spend"] == 0).all()


def test_first_fake_and_repeats_are_recorded(small_panel):
    panel, truth = small_panel
    at_fake = panel[panel["week"] == panel["fake_week"]]
    np.testing.assert_array_equal(at_fake["fake_spend"], at_fake["fake_value"])
    n_fakes = (panel["fake_spend"] > 0).groupby(panel["consumer_id"]).sum()
    np.testing.assert_array_equal(n_fakes.to_numpy(), truth.consumers["n_fakes"].to_numpy())
    assert truth.consumers["n_fakes"].max() > 1  # some victims buy a second fake
    assert (truth.consumers.loc[truth.consumers["fake_week"].isna(), "n_fakes"] == 0).all()


def test_churn_starts_the_week_after_the_fake(baseline_model):
    """Common random numbers: churners respond like everyone else at k = 0, fully after."""
    no_churn = _replace(baseline_model, churn={"probability": 0.0})
    churn = _replace(baseline_model, churn={"probability": 0.4})
    _, with_churn = churn.simulate(n_consumers=5_000, n_weeks=22, seed=6)
    _, without = no_churn.simulate(n_consumers=5_000, n_weeks=22, seed=6)
    churned = with_churn.victims["churned"].to_numpy()
    assert churned.sum() > 100
    np.testing.assert_array_equal(with_churn.expected[:, 0], without.expected[:, 0])
    later = with_churn.expected[churned, 1:], without.expected[churned, 1:]
    observed = ~np.isnan(later[0])
    assert (later[0][observed] <= later[1][observed]).all()
    assert (later[0][observed] < later[1][observed]).mean() > 0.9
    np.testing.assert_array_equal(with_churn.expected[~churned], without.expected[~churned])


def test_response_multiplier_follows_segment_tenure_and_dispersion(baseline_model):
    segment_multiplier = {"occasional": 1.3, "regular": 1.0, "heavy": 0.7}
    flat = _replace(baseline_model, response={"dispersion": 0.0, "tenure_slope": 0.0})
    _, truth = flat.simulate(n_consumers=3_000, n_weeks=22, seed=2)
    consumers = truth.consumers
    expected = consumers["segment"].map(segment_multiplier).astype(float)
    np.testing.assert_allclose(consumers["response_multiplier"], expected, rtol=1e-12)

    sloped = _replace(baseline_model, response={"dispersion": 0.0, "tenure_slope": -0.1})
    _, truth = sloped.simulate(n_consumers=3_000, n_weeks=22, seed=2)
    consumers = truth.consumers
    tenure_effect = np.exp(-0.1 * (consumers["tenure"] - baseline_model.baseline.tenure_mean))
    np.testing.assert_allclose(consumers["response_multiplier"], expected * tenure_effect,
                               rtol=1e-12)  # fmt: skip

    spread = _replace(baseline_model, response={"dispersion": 0.8, "tenure_slope": 0.0})
    _, truth = spread.simulate(n_consumers=40_000, n_weeks=22, seed=2)
    consumers = truth.consumers
    scale = consumers["segment"].map(segment_multiplier).astype(float)
    factor = consumers["response_multiplier"] / scale
    # mean-one lognormal with sd 0.8: sd of the factor is sqrt(exp(0.64) - 1) = 0.94
    assert factor.mean() == pytest.approx(1.0, abs=4 * 0.94 / np.sqrt(len(factor)))
    assert np.log(factor).std() == pytest.approx(0.8, rel=0.02)


def test_churn_probability_follows_segments(baseline_model):
    model = _replace(baseline_model, churn={"probability": 0.4})
    _, truth = model.simulate(n_consumers=60_000, n_weeks=22, seed=5)
    victims = truth.victims
    share = victims.groupby("segment", observed=True)["churned"].agg(["mean", "size"])
    for name, probability in {"occasional": 0.6, "regular": 0.4, "heavy": 0.2}.items():
        se = np.sqrt(probability * (1 - probability) / share.loc[name, "size"])
        assert share.loc[name, "mean"] == pytest.approx(probability, abs=4 * se)


def test_fake_rate_multiplier_scales_exposure(baseline_model):
    """Raising a segment's multiplier only adds victims in that segment (common numbers)."""
    segments = baseline_model.model_dump()["segments"]
    low = [s | {"fake_rate_multiplier": m} for s, m in zip(segments, (0.0, 1.0, 1.0), strict=True)]
    high = [s | {"fake_rate_multiplier": m} for s, m in zip(segments, (0.0, 3.0, 1.0), strict=True)]
    truths = [
        ConsumerSpendModel.model_validate(
            baseline_model.model_dump() | {"segments": segs}
        ).simulate(n_consumers=20_000, n_weeks=22, seed=7)[1]
        for segs in (low, high)
    ]
    victims = [t.consumers["fake_week"].notna() for t in truths]
    segment = truths[0].consumers["segment"]
    assert not victims[0][segment == "occasional"].any()
    assert not victims[1][segment == "occasional"].any()
    assert (victims[1] | ~victims[0]).all()  # a superset
    regular = segment == "regular"
    assert victims[1][regular].sum() > 2 * victims[0][regular].sum()
    assert (victims[1] == victims[0])[segment == "heavy"].all()


def test_churned_victims_stop_buying(small_panel):
    panel, truth = small_panel
    churned = truth.consumers.index[truth.consumers["churned"]]
    assert len(churned) > 0
    rows = panel[panel["consumer_id"].isin(churned) & (panel["week"] > panel["fake_week"])]
    assert (rows["spend"] == 0).all() and (rows["fake_spend"] == 0).all()


def test_promotion_raises_spend_in_its_week(baseline_model):
    panel, _ = baseline_model.simulate(n_consumers=5_000, n_weeks=22, seed=2)
    weekly = panel.groupby("week")["spend_cf"].mean()
    promotion = baseline_model.calendar.promotions[0]
    others = weekly.drop(promotion.week)
    ratio = weekly[promotion.week] / others.mean()
    # purchase probability x1.6 (capped at 1 for a few) and basket x1.2: about 1.9
    assert 1.6 < ratio < 2.1


def test_segments_differ_as_configured(small_panel):
    panel, _ = small_panel
    rate = (panel["spend_cf"] > 0).groupby(panel["segment"], observed=True).mean()
    assert rate["occasional"] < rate["regular"] < rate["heavy"]
    assert rate["heavy"] == pytest.approx(0.85, abs=0.03)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    loss_per_yuan=st.floats(0, 50),
    max_share=st.floats(0.01, 1),
    churn=st.floats(0, 0.6),
    fake_rate=st.floats(0, 1),
    value_ratio=st.floats(0.01, 10),
    n_weeks=st.integers(2, 30),
)
def test_spend_is_never_negative(
    baseline_model, loss_per_yuan, max_share, churn, fake_rate, value_ratio, n_weeks
):
    model = _replace(
        baseline_model,
        response={"loss_per_yuan": loss_per_yuan, "max_share": max_share},
        churn={"probability": churn},
        exposure={"fake_rate": fake_rate, "value_ratio": value_ratio},
        calendar={"promotions": []},
    )
    panel, truth = model.simulate(n_consumers=300, n_weeks=n_weeks, seed=9)
    spend, spend_cf = panel["spend"].to_numpy(), panel["spend_cf"].to_numpy()
    assert np.isfinite(spend).all() and (spend >= 0).all()
    assert (spend <= spend_cf).all()  # the response only removes purchases
    assert (panel["fake_spend"] >= 0).all()
    observed = ~np.isnan(truth.expected)
    assert (truth.expected[observed] <= 0).all()


def test_promotion_outside_panel_is_named(baseline_model):
    with pytest.raises(ValueError, match=r"calendar.promotions\[0\].week must be <= n_weeks"):
        baseline_model.simulate(n_consumers=100, n_weeks=10, seed=1)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7"])
def test_bad_seed_is_named(baseline_model, seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        baseline_model.simulate(n_consumers=10, n_weeks=22, seed=seed)


def test_model_is_immutable_and_truth_pickles(baseline_model, small_panel):
    """The model is an immutable specification; results survive a pickle round trip."""
    import pickle

    before = baseline_model.model_dump()
    baseline_model.simulate(n_consumers=200, n_weeks=22, seed=1)
    assert baseline_model.model_dump() == before
    _, truth = small_panel
    again = pickle.loads(pickle.dumps(truth))
    assert again.multiplier == truth.multiplier
