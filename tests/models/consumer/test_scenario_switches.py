"""The data-generating-process switches for estimator studies. Each is checked against its
definition, on common random numbers with the switch off where the switch should leave draws
unchanged; the truth is checked against the panel under every switch, and the default's
bit-identity with the code before the switches is pinned by a digest. The observation windows
have their own module, test_window.py."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models import ConsumerSpendModel
from models.consumer.truth import per_yuan_effects
from tests.models.consumer.consumer_helpers import (
    SWITCHES,
    _replace,
    _switched,
    _with_event_time,
    _with_segments,
)

DEFAULT_TRUTH_DIGEST = "c6dedcee3250ab8ef6edb10a840cfffea2ab65a6cded54103945d12438c50229"
"""sha256 of the default model's truth (3,000 consumers x 22 weeks, seed 20170301): the effect
arrays and the consumer columns that predate the switches. Computed by ``_truth_digest`` with
the code before the switches (commit 380df99) and unchanged after them; the panel's own digest
is pinned in tests/models/test_streams.py."""

FIRST_COLUMNS = (
    "segment", "tenure", "purchase_prob", "fake_rate", "response_multiplier", "fake_week",
    "fake_value", "n_fakes", "churned", "contacts",
)  # fmt: skip
"""The consumer table's columns before the switches."""


def _truth_digest() -> str:
    _, truth = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=22, seed=20170301)
    digest = hashlib.sha256()
    for array in (truth.expected, truth.realized, truth.spillover, truth.capped):
        digest.update(np.ascontiguousarray(array).tobytes())
    for column in FIRST_COLUMNS:
        values = truth.consumers[column]
        if column == "segment":
            digest.update(values.astype(str).str.cat(sep=",").encode())
        else:
            digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    return digest.hexdigest()


def test_the_default_truth_is_pinned():
    assert _truth_digest() == DEFAULT_TRUTH_DIGEST


@pytest.fixture(scope="module")
def plain_model(baseline_model) -> ConsumerSpendModel:
    """The baseline without its promotion week, so weekly rates follow the switches alone."""
    return _replace(baseline_model, calendar={"promotions": []})


# ------------------------------------------------------ every switch against its panel
@pytest.mark.parametrize("name", list(SWITCHES))
def test_the_truth_matches_the_panel_under_each_switch(baseline_model, name):
    """spend - spend_cf of the rows the panel holds, by recorded event time over the victims
    it records, equals the truth's realised effects and counts (value and intensity weights)."""
    panel, truth = _switched(baseline_model, name).simulate(n_consumers=6_000, n_weeks=22, seed=9)
    panel = _with_event_time(panel).dropna(subset=["fake_week"])
    panel["effect"] = panel["spend"] - panel["spend_cf"]
    panel["v_effect"] = panel["fake_value"] * panel["effect"]
    panel["v2"] = panel["fake_value"] ** 2
    by_time = panel.groupby("event_time").agg(
        effect=("effect", "sum"), value=("fake_value", "sum"), n=("effect", "size"),
        v_effect=("v_effect", "sum"), v2=("v2", "sum"),
    )  # fmt: skip
    by_time.index = by_time.index.astype(int)
    value = truth.event_time_effects(per_yuan=True)
    intensity = truth.event_time_effects(per_yuan=True, weighting="intensity")
    pd.testing.assert_index_equal(value.index, by_time.index, check_names=False)
    np.testing.assert_array_equal(value["n_treated"], by_time["n"])
    np.testing.assert_allclose(value["realized"], by_time["effect"] / by_time["value"],
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(intensity["realized"], by_time["v_effect"] / by_time["v2"],
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    lag = truth.model.exposure.report_lag
    assert (value.loc[: -lag - 1, ["estimate", "realized"]] == 0).all().all()
    assert (value.loc[-lag:11, "estimate"] < 0).all()


# ------------------------------------------------------------------ segment trend
def test_segment_trend_grows_its_members_purchase_probability(plain_model):
    """Members of a segment with trend g buy in week t with probability min(1, p_i (1+g)^t).

    The weekly purchase rate of the segment is compared with mean_i min(1, p_i 1.03^t) given
    the drawn p_i: conditional on them the weekly count is a sum of independent Bernoullis, so
    |z| < 4.5 in each of 22 weeks fails with probability about 1.5e-4 if the trend is right.
    The other segments buy in exactly the same weeks as without the trend.
    """
    trended = _with_segments(plain_model, weekly_trend=(0.03, 0.0, 0.0))
    panel, truth = trended.simulate(n_consumers=20_000, n_weeks=22, seed=4)
    flat, _ = plain_model.simulate(n_consumers=20_000, n_weeks=22, seed=4)
    bought, bought_flat = panel["spend_cf"] > 0, flat["spend_cf"] > 0
    members = panel["segment"] == "occasional"
    pd.testing.assert_series_equal(bought[~members], bought_flat[~members])

    consumers = truth.consumers
    p = consumers.loc[consumers["segment"] == "occasional", "purchase_prob"].to_numpy()
    p_t = np.minimum(p[:, None] * 1.03 ** np.arange(22), 1.0)
    rate = bought[members].groupby(panel.loc[members, "week"]).mean().to_numpy()
    se = np.sqrt((p_t * (1 - p_t)).sum(axis=0)) / p.size
    z = (rate - p_t.mean(axis=0)) / se
    assert np.abs(z).max() < 4.5, np.round(z, 2)
    assert rate[-1] / rate[0] > 1.6  # 1.03^21 = 1.86, less the cap at 1
    # spend follows purchases: last five weeks over first five, as the purchase rates say
    spend = panel.loc[members].groupby("week")["spend_cf"].mean().to_numpy()
    ratio = p_t.mean(axis=0)[-5:].sum() / p_t.mean(axis=0)[:5].sum()
    assert spend[-5:].sum() / spend[:5].sum() == pytest.approx(ratio, rel=0.1)


# ------------------------------------------------------- exposure and purchase frequency
@pytest.fixture(scope="module")
def unresponsive(plain_model) -> ConsumerSpendModel:
    """Ten times the fake rate, one rate for all, no response: arrivals alone are visible."""
    return _replace(
        plain_model,
        exposure={"fake_rate": 0.1, "fake_rate_dispersion": 0.0},
        response={"loss_per_yuan": 0.0},
        churn={"probability": 0.0},
    )


def _by_segment(truth) -> pd.DataFrame:
    """Victim share and repeat fakes per remaining panel week after the first, by segment."""
    consumers = truth.consumers.assign(
        victim=truth.consumers["fake_week"].notna(),
        repeats=truth.consumers["n_fakes"] - 1,
        weeks_after=truth.n_weeks - truth.consumers["fake_week"],
    )
    groups = consumers.groupby("segment", observed=True)
    victims = consumers[consumers["victim"]].groupby("segment", observed=True)
    return pd.DataFrame(
        {
            "victim_share": groups["victim"].mean(),
            "n": groups.size(),
            "repeats": victims["repeats"].sum(),
            "weeks_after": victims["weeks_after"].sum(),
        }
    )


def test_exposure_can_ignore_purchase_frequency(unresponsive):
    """With scales_with_purchases false every consumer meets a fake with probability
    phi pbar = 0.1 x 0.445 a week, whatever its segment: the victim share over 22 weeks is
    1 - (1 - 0.0445)^22 in each segment and repeat fakes arrive at 0.0445 a week. Binomial
    z-scores, |z| < 4 (about 6e-5 each if the rule holds). By default heavy buyers meet
    several times more fakes than occasional ones."""
    pbar = 0.5 * 0.25 + 0.35 * 0.55 + 0.15 * 0.85
    weekly = 0.1 * pbar
    flat = _replace(unresponsive, exposure={"scales_with_purchases": False})
    table = _by_segment(flat.simulate(n_consumers=20_000, n_weeks=22, seed=5)[1])
    share = 1 - (1 - weekly) ** 22
    z_share = (table["victim_share"] - share) / np.sqrt(share * (1 - share) / table["n"])
    expected_repeats = weekly * table["weeks_after"]
    z_repeat = (table["repeats"] - expected_repeats) / np.sqrt(expected_repeats * (1 - weekly))
    assert np.abs(z_share).max() < 4 and np.abs(z_repeat).max() < 4, (z_share, z_repeat)

    scaled = _by_segment(unresponsive.simulate(n_consumers=20_000, n_weeks=22, seed=5)[1])
    assert scaled.loc["heavy", "victim_share"] > 1.5 * scaled.loc["occasional", "victim_share"]
    rate = scaled["repeats"] / scaled["weeks_after"]
    assert rate["heavy"] > 2 * rate["occasional"]  # 0.088 against 0.037


def test_repeat_fakes_follow_the_response_when_exposure_ignores_purchases(unresponsive):
    """The response scales repeat arrivals as it scales purchases: a churner meets no more."""
    model = _replace(
        unresponsive,
        exposure={"scales_with_purchases": False},
        churn={"probability": 0.5},
    )
    _, truth = model.simulate(n_consumers=10_000, n_weeks=22, seed=5)
    victims = truth.victims
    churned = victims["churned"].to_numpy()
    assert churned.sum() > 500
    assert (victims.loc[churned, "n_fakes"] == 1).all()
    assert (victims.loc[~churned, "n_fakes"] > 1).mean() > 0.2


# ------------------------------------------------------------------ heavy-tailed dose
def test_value_tail_multiplies_each_victims_values_by_a_mean_one_pareto(plain_model):
    """Every counterfeit value of a victim is its value without the tail times one Pareto I
    draw with tail 1.5 and scale 1/3 (mean one); a Kolmogorov-Smirnov test of the ~1,700
    multipliers against that law (p > 0.001). Everything but counterfeit values and spend is
    unchanged (common random numbers)."""
    tailed = _replace(plain_model, exposure={"value_tail": 1.5})
    panel, truth = tailed.simulate(n_consumers=20_000, n_weeks=22, seed=6)
    base, base_truth = plain_model.simulate(n_consumers=20_000, n_weeks=22, seed=6)
    for column in ("spend_cf", "fake_week", "segment", "tenure"):
        pd.testing.assert_series_equal(panel[column], base[column], check_exact=True)
    values = truth.victims["fake_value"] / base_truth.victims["fake_value"]
    both = (panel["fake_spend"] > 0) & (base["fake_spend"] > 0)
    ratio = panel.loc[both, "fake_spend"] / base.loc[both, "fake_spend"]
    per_victim = values.reindex(panel.loc[both, "consumer_id"]).to_numpy()
    np.testing.assert_allclose(ratio.to_numpy(), per_victim, rtol=1e-12)
    assert stats.kstest(values, stats.pareto(b=1.5, scale=1 / 3).cdf).pvalue > 1e-3


def _top_share(truth, share: float = 0.01) -> float:
    """Share of the sum of squared first-fake values held by the top ``share`` of victims."""
    v2 = np.sort(truth.victims["fake_value"].to_numpy() ** 2)[::-1]
    return float(v2[: max(1, int(share * v2.size))].sum() / v2.sum())


def test_value_tail_concentrates_the_squared_doses(plain_model):
    """The top 1% of victims hold about a quarter of sum v^2 by default; with a tail index
    of 1.2 most of it (median over three seeds, 20,000 consumers: 0.26 and 0.81)."""
    tailed = _replace(plain_model, exposure={"value_tail": 1.2})
    shares = [
        [_top_share(model.simulate(n_consumers=20_000, n_weeks=22, seed=seed)[1])
         for seed in (1, 2, 3)]
        for model in (plain_model, tailed)
    ]  # fmt: skip
    assert np.median(shares[0]) < 0.4
    assert np.median(shares[1]) > 0.6


# ------------------------------------------------------------------ cohort heterogeneity
def _homogeneous(model: ConsumerSpendModel, **response: float) -> ConsumerSpendModel:
    """m_i = 1 but for the cohort slope, no churn, a small loss so the cap never binds."""
    model = _with_segments(model, response_multiplier=(1.0, 1.0, 1.0))
    return _replace(
        model,
        baseline={"purchase_concentration": 1e4},
        response={"loss_per_yuan": 0.02, "dispersion": 0.0, "tenure_slope": 0.0, **response},
        churn={"probability": 0.0},
    )


def test_cohort_slope_scales_each_cohorts_effect(plain_model):
    """With m_i = 1 the per-yuan effect of cohort g at event week k is exactly
    -L h_k exp(slope (g - 1)); the draws are those of the model without the slope."""
    sloped = _homogeneous(plain_model, cohort_slope=0.1)
    panel, truth = sloped.simulate(n_consumers=20_000, n_weeks=22, seed=7)
    base, base_truth = _homogeneous(plain_model).simulate(n_consumers=20_000, n_weeks=22, seed=7)
    for column in ("spend_cf", "fake_week", "fake_value"):
        pd.testing.assert_series_equal(panel[column], base[column], check_exact=True)
    assert truth.capped_share == 0
    cohort = truth.victims["fake_week"].to_numpy()
    value = truth.victims["fake_value"].to_numpy()
    np.testing.assert_allclose(truth.victims["response_multiplier"], np.exp(0.1 * (cohort - 1)),
                               rtol=1e-12)  # fmt: skip
    weights = sloped.response.weights()
    for g in np.unique(cohort):
        rows = cohort == g
        effects = per_yuan_effects(truth.expected[rows], value[rows])
        observed = min(12, 22 - int(g) + 1)
        expected = -0.02 * weights[:observed] * np.exp(0.1 * (g - 1))
        np.testing.assert_allclose(effects[:observed], expected, rtol=1e-10)
    assert truth.multiplier < 2 * base_truth.multiplier  # later cohorts lose up to e^2.1 more


# ------------------------------------------------------------------ report lag
@pytest.fixture(scope="module")
def lagged(baseline_model):
    """The baseline with a report lag of three weeks, and without one, on the same seed."""
    lagged = _replace(baseline_model, exposure={"report_lag": 3})
    return (
        lagged.simulate(n_consumers=10_000, n_weeks=22, seed=8),
        baseline_model.simulate(n_consumers=10_000, n_weeks=22, seed=8),
    )


def test_report_lag_moves_only_the_recorded_cohort(lagged):
    (panel, truth), (base, base_truth) = lagged
    for column in ("consumer_id", "week", "spend", "spend_cf", "fake_spend", "segment"):
        pd.testing.assert_series_equal(panel[column], base[column], check_exact=True)
    shifted = base["fake_week"] + 3
    recorded = shifted <= 22
    np.testing.assert_array_equal(panel["fake_week"], shifted.where(recorded))
    np.testing.assert_array_equal(panel["fake_value"], base["fake_value"].where(recorded, 0.0))
    assert (~recorded & base["fake_week"].notna()).any()  # purchased in weeks 20-22
    # the truth keeps every victim in purchase time: same arrays, same multipliers
    np.testing.assert_array_equal(truth.expected, base_truth.expected)
    np.testing.assert_array_equal(truth.realized, base_truth.realized)
    assert truth.multiplier == base_truth.multiplier
    assert truth.intensity_multiplier == base_truth.intensity_multiplier
    victims = truth.victims
    np.testing.assert_array_equal(
        victims["recorded_week"], (victims["fake_week"] + 3).where(victims["fake_week"] <= 19)
    )


@pytest.mark.parametrize("per_yuan", [True, False])
def test_report_lag_shows_the_response_as_anticipation(lagged, per_yuan):
    """Leads -3..-1 hold the effects of purchase weeks 0..2 over the recorded victims; earlier
    leads are zero; victims the panel never records are left out."""
    (_, truth), (_, base_truth) = lagged
    effects = truth.event_time_effects(per_yuan=per_yuan)
    recorded = truth.victims["recorded_week"].notna().to_numpy()
    expected = base_truth.expected[recorded]
    if per_yuan:
        unlagged = per_yuan_effects(expected, truth.victims["fake_value"].to_numpy()[recorded])
    else:
        unlagged = np.nanmean(expected, axis=0)
    np.testing.assert_allclose(effects.loc[-3:-1, "estimate"], unlagged[:3], rtol=1e-12)
    assert (effects.loc[-3:-1, "estimate"] < 0).all()
    assert (effects.loc[:-4, ["estimate", "realized"]] == 0).all().all()
    assert (effects.loc[-3:-1, "n_treated"] == recorded.sum()).all()
    assert effects.index.max() == 21 - 3


def test_the_largest_report_lag_records_only_the_first_week(baseline_model):
    model = _replace(baseline_model, exposure={"report_lag": 21})
    panel, truth = model.simulate(n_consumers=3_000, n_weeks=22, seed=8)
    assert set(panel["fake_week"].dropna().unique()) == {22.0}
    effects = truth.event_time_effects()
    assert effects.index.min() == -21 and effects.index.max() == 0
    assert (effects["n_treated"] == (truth.victims["fake_week"] == 1).sum()).all()


# ------------------------------------------------ homogeneous consumers, heavy churn
def test_homogeneous_consumers_and_heavy_churn_simulate(plain_model):
    """No new field is needed for identical consumers (equal purchase_prob, a huge Beta
    concentration, no basket spread) or for heavy churn (probability 0.9 in every segment)."""
    model = _with_segments(plain_model, purchase_prob=(0.5, 0.5, 0.5), churn_multiplier=(1, 1, 1))
    model = _replace(
        model,
        baseline={"purchase_concentration": 1e6, "basket_consumer_sd": 0.0},
        churn={"probability": 0.9},
    )
    panel, truth = model.simulate(n_consumers=10_000, n_weeks=22, seed=10)
    p = truth.consumers["purchase_prob"]
    assert p.std() < 2e-3 and p.between(0.497, 0.503).all()  # Beta sd 0.0005
    assert np.unique(model.draw(0, 2_048, 22, seed=10).basket_mean).size == 1
    churned = truth.victims["churned"]
    assert churned.mean() == pytest.approx(0.9, abs=4 * np.sqrt(0.09 / churned.size))
    after = panel["consumer_id"].isin(churned.index[churned]) & (panel["week"] > panel["fake_week"])
    assert (panel.loc[after, "spend"] == 0).all()
    assert np.isfinite(truth.multiplier) and truth.multiplier < 0
