"""The recorded truth of a simulated panel (models.consumer.truth): spend changes aggregated
independently with pandas, expected against realised effects, and closed-form truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from tests.models.consumer.consumer_helpers import _replace, _with_event_time


def _homogeneous(model: ConsumerSpendModel, loss_per_yuan: float) -> ConsumerSpendModel:
    """Every victim responds alike (m_i = 1) and nobody churns.

    Purchase probabilities sit at their segment means, so with a small loss_per_yuan the cap
    never binds (the tests check ``capped_share == 0``).
    """
    data = model.model_dump()
    data["segments"] = [s | {"response_multiplier": 1.0} for s in data["segments"]]
    data["baseline"] |= {"purchase_concentration": 1e4}
    data["response"] |= {"loss_per_yuan": loss_per_yuan, "dispersion": 0.0, "tenure_slope": 0.0}
    data["churn"] |= {"probability": 0.0}
    return ConsumerSpendModel.model_validate(data)


def test_spend_change_equals_recorded_effect(small_panel):
    """spend - spend_cf, aggregated independently with pandas, equals the truth's record."""
    panel, truth = small_panel
    panel = _with_event_time(panel).dropna(subset=["fake_week"])
    panel["effect"] = panel["spend"] - panel["spend_cf"]
    by_time = panel.groupby("event_time").agg(
        effect=("effect", "sum"), value=("fake_value", "sum"), n=("effect", "size")
    )
    by_time.index = by_time.index.astype(int)
    per_yuan = truth.event_time_effects(per_yuan=True)
    in_yuan = truth.event_time_effects(per_yuan=False)
    pd.testing.assert_index_equal(per_yuan.index, by_time.index, check_names=False)
    np.testing.assert_allclose(per_yuan["realized"], by_time["effect"] / by_time["value"],
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(in_yuan["realized"], by_time["effect"] / by_time["n"],
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(per_yuan["n_treated"], by_time["n"])
    # intensity weighting: sum v e / sum v^2
    panel["v_effect"] = panel["fake_value"] * panel["effect"]
    panel["v2"] = panel["fake_value"] ** 2
    weighted = panel.groupby("event_time")[["v_effect", "v2"]].sum()
    intensity = truth.event_time_effects(per_yuan=True, weighting="intensity")
    np.testing.assert_allclose(intensity["realized"], weighted["v_effect"] / weighted["v2"],
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    assert (per_yuan.loc[per_yuan.index < 0, ["estimate", "realized"]] == 0).all().all()
    horizon = by_time.loc[0:11]
    assert truth.realized_multiplier == pytest.approx(
        (horizon["effect"] / horizon["value"]).sum(), rel=1e-10
    )


def test_realized_effects_agree_with_expected(baseline_model):
    """Given the draws, E[realised] = expected: per-victim sums over the horizon, z-test.

    Victims are independent, so z = mean(d) / se(d) is approximately N(0, 1); |z| < 4 fails
    with probability 6e-5 if the bookkeeping is right, and a wrong sign, scale or week
    alignment of the expected effects moves z by far more.
    """
    _, truth = baseline_model.simulate(n_consumers=40_000, n_weeks=22, seed=21)
    within = slice(0, truth.horizon)
    d = np.nansum(truth.realized[:, within] - truth.expected[:, within], axis=1)
    z = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    assert abs(z) < 4
    assert truth.multiplier == pytest.approx(truth.realized_multiplier, rel=0.05)


def test_expected_effects_track_each_calendar_week(baseline_model):
    """Realised minus expected, summed over the victims in each calendar week, is noise.

    A strong promotion (purchase x1.3, basket x2 in week 12) makes a misaligned expected
    spend E_it (off by a week, or missing the basket multiplier) show up as |z| of 6 or more
    in the weeks around it; the right alignment keeps every week's |z| below 4.
    """
    model = _replace(
        baseline_model,
        calendar={"promotions": [{"week": 12, "purchase_multiplier": 1.3,
                                  "basket_multiplier": 2.0}]},
    )  # fmt: skip
    _, truth = model.simulate(n_consumers=60_000, n_weeks=22, seed=13)
    first = truth.victims["fake_week"].to_numpy().astype(int) - 1
    weeks = first[:, None] + np.arange(truth.n_weeks)
    gap = truth.realized - truth.expected
    inside = ~np.isnan(gap)
    z = []
    for week in range(truth.n_weeks):
        cells = gap[inside & (weeks == week)]
        z.append(cells.sum() / np.sqrt((cells**2).sum()))
    assert np.max(np.abs(z)) < 4, np.round(z, 2)


def test_homogeneous_response_has_the_analytic_truth(baseline_model):
    """With m_i = 1, no churn and no capping the per-yuan effect at k is -L h_k exactly."""
    model = _homogeneous(baseline_model, loss_per_yuan=0.1)
    _, truth = model.simulate(n_consumers=4_000, n_weeks=22, seed=3)
    assert truth.capped_share == 0
    effects = truth.event_time_effects(per_yuan=True)["estimate"]
    expected = -0.1 * model.response.weights()
    np.testing.assert_allclose(effects.loc[0:11].to_numpy(), expected, rtol=1e-10)
    assert (effects.loc[12:] == 0).all()
    assert truth.multiplier == pytest.approx(-0.1, rel=1e-10)


def test_explicit_path_puts_the_loss_where_it_says(baseline_model):
    path = [0.0, 1.0] + [0.0] * 10
    model = _replace(_homogeneous(baseline_model, 0.02), response={"path": path})
    _, truth = model.simulate(n_consumers=4_000, n_weeks=22, seed=3)
    assert truth.capped_share == 0
    effects = truth.event_time_effects(per_yuan=True)["estimate"]
    assert effects.loc[1] == pytest.approx(-0.02, rel=1e-10)
    assert (effects.drop(1) == 0).all()


def test_spillover_truth(baseline_model):
    model = _replace(baseline_model, spillover={"contacts": 4.0, "share": 0.25})
    _, truth = model.simulate(n_consumers=4_000, n_weeks=22, seed=4)
    victims = truth.victims
    loss = model.response.loss_per_yuan
    expected = (
        -0.25
        * loss
        * (victims["contacts"] * victims["response_multiplier"] * victims["fake_value"]).sum()
    )
    assert truth.spillover_multiplier == pytest.approx(
        expected / victims["fake_value"].sum(), rel=1e-10
    )
    assert victims["contacts"].mean() == pytest.approx(4.0, rel=0.1)


def test_no_victims_gives_an_empty_truth(baseline_model):
    model = _replace(baseline_model, exposure={"fake_rate": 0.0})
    panel, truth = model.simulate(n_consumers=2_000, n_weeks=22, seed=1)
    assert panel["fake_week"].isna().all() and truth.victims.empty
    assert truth.event_time_effects().empty and not truth.horizon_observed
    np.testing.assert_array_equal(panel["spend"], panel["spend_cf"])


def test_short_panel_has_no_multiplier(baseline_model):
    model = _replace(baseline_model, calendar={"promotions": []})
    _, truth = model.simulate(n_consumers=2_000, n_weeks=11, seed=1)
    with pytest.raises(
        ValueError,
        match="at event week 11 in this 11-week panel, too short for a 12-week multiplier",
    ):
        _ = truth.multiplier
