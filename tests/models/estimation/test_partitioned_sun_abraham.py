"""The out-of-core Sun-Abraham algebra (models.estimation.partitioned_sun_abraham): combined
over partitions of whole units it is :class:`SunAbraham`'s in-memory fit, whose absorption,
design and sandwich it shares no code with (only the cohort rules and the aggregation).

Tolerance: 1e-8 relative, as the task's contract; the two fits agree to about 1e-12 (the
in-memory one demeans an unbalanced panel by alternating projections to 1e-10 and beyond)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, SunAbraham, ssc
from models.estimation.partitioned_sun_abraham import (
    SunAbrahamSpec,
    partition_moments,
    partition_scores,
    partition_structure,
    plan_fit,
    solve_moments,
    sun_abraham_results,
)
from models.estimation.vcov import parse_vcov
from models.exceptions import AlwaysTreatedWarning, FewEffectiveUnitsWarning, SingletonWarning

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=FewEffectiveUnitsWarning),
    pytest.mark.filterwarnings("ignore", category=SingletonWarning),
    pytest.mark.filterwarnings("ignore", category=AlwaysTreatedWarning),
]

COLUMNS = {"outcome": "spend", "unit": "consumer_id", "time": "week", "cohort": "fake_week"}
TOL = 1e-8


@pytest.fixture(scope="module")
def panels() -> dict[str, pd.DataFrame]:
    """The balanced 3,000 x 12 panel (its week-1 cohort has no pre-period) and an unbalanced one
    (a fifth of its rows dropped), each with sampling weights in column ``w``."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=12, seed=1)
    rng = np.random.default_rng(2)
    panel["w"] = rng.uniform(0.5, 2.0, len(panel))
    rows = rng.random(len(panel)) < 0.8
    return {"balanced": panel, "unbalanced": panel.loc[rows].reset_index(drop=True)}


def parts_of(df: pd.DataFrame, n_parts: int) -> list[pd.DataFrame]:
    """``n_parts`` partitions of whole consumers (every ``n_parts``-th consumer)."""
    ids = df["consumer_id"].unique()
    return [df[df["consumer_id"].isin(ids[i::n_parts])] for i in range(n_parts)]


def partitioned_fit(df: pd.DataFrame, n_parts: int = 4, vcov="CRV1", small=None, **options):
    """The three passes' pure functions called serially on ``n_parts`` partitions."""
    spec = SunAbrahamSpec(**COLUMNS, **options)
    parts = parts_of(df, n_parts)
    labels = [f"part {i}" for i in range(n_parts)]
    plan = plan_fit([partition_structure(part, spec) for part in parts], spec, labels)
    solution = solve_moments([partition_moments(part, plan) for part in parts], plan)
    scores = [partition_scores(part, plan, solution, hetero=vcov == "HC1") for part in parts]
    request = parse_vcov(vcov, ["consumer_id"], ("iid", "HC1", "CRV1"), "test", small)
    return sun_abraham_results(plan, solution, scores, request)


def assert_matches(got, expected) -> None:
    """Same names, effects, CATT(g, e), cohort shares, SEs and ATT to 1e-8 relative (covariances
    to 1e-8 of their largest entry); same n, t degrees of freedom and within R2."""
    assert got.names == expected.names
    assert got.saturated.names == expected.saturated.names
    for mine, theirs in ((got, expected), (got.saturated, expected.saturated)):
        np.testing.assert_allclose(mine.params, theirs.params, rtol=TOL, atol=0)
        np.testing.assert_allclose(mine.bse, theirs.bse, rtol=TOL, atol=0)
        scale = np.abs(theirs.cov_params().to_numpy()).max()  # entries 0 in theory: noise
        np.testing.assert_allclose(
            mine.cov_params(), theirs.cov_params(), rtol=TOL, atol=TOL * scale
        )
    pd.testing.assert_frame_equal(got.cohort_effects, expected.cohort_effects, rtol=TOL)
    assert got.overall.estimate == pytest.approx(expected.overall.estimate, rel=TOL)
    assert got.overall.se == pytest.approx(expected.overall.se, rel=TOL)
    assert got.nobs == expected.nobs
    assert got.df_t == expected.df_t
    assert got.regression.df_resid == expected.regression.df_resid
    np.testing.assert_allclose(
        got.regression.rsquared_within, expected.regression.rsquared_within, rtol=TOL
    )


@pytest.mark.parametrize("layout", ["balanced", "unbalanced"])
@pytest.mark.parametrize("intensity", [None, "fake_value"])
@pytest.mark.parametrize("control", ["never", "last"])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("vcov", ["CRV1", "iid", "HC1"])
def test_partitions_combine_to_the_in_memory_fit(panels, layout, intensity, control, weights, vcov):
    options = {"intensity": intensity, "control": control, "weights": weights}
    df = panels[layout]
    expected = SunAbraham(df, **COLUMNS, **options).fit(vcov=vcov)
    assert_matches(partitioned_fit(df, vcov=vcov, **options), expected)


def test_another_reference_small_sample_settings_and_one_partition_match(panels):
    options = {"ref": -2, "intensity": "fake_value"}
    small = ssc(adj=False, cluster_adj=False)
    expected = SunAbraham(panels["unbalanced"], **COLUMNS, **options).fit(ssc=small)
    got = partitioned_fit(panels["unbalanced"], n_parts=1, small=small, **options)
    assert_matches(got, expected)
    assert got.vcov_type == expected.vcov_type


def test_singletons_kept_on_request_match(panels):
    sparse = panels["unbalanced"].sample(frac=0.3, random_state=3).sort_index()
    options = {"drop_singletons": False}
    expected = SunAbraham(sparse, **COLUMNS, **options).fit()
    assert_matches(partitioned_fit(sparse, **options), expected)


def test_the_summary_effects_and_effective_units_are_the_in_memory_ones(panels):
    options = {"intensity": "fake_value", "weights": "w"}
    expected = SunAbraham(panels["balanced"], **COLUMNS, **options).fit()
    got = partitioned_fit(panels["balanced"], **options)
    pd.testing.assert_frame_equal(got.event_time_effects(), expected.event_time_effects(), rtol=TOL)
    assert got.cumulative(0, 5).estimate == pytest.approx(
        expected.cumulative(0, 5).estimate, rel=TOL
    )
    assert got.pretrend_test().statistic == pytest.approx(
        expected.pretrend_test().statistic, rel=1e-6
    )
    assert got.treated_units.treated == expected.treated_units.treated
    assert got.treated_units.effective == pytest.approx(expected.treated_units.effective, rel=TOL)
    assert got.treated_units.weights == expected.treated_units.weights
    summary = str(got.summary())
    assert "out of core, 4 partitions" in summary
    assert "Sampling weights" in summary


def test_cohort_rules_warn_as_in_memory():
    """Cohort 1 has no pre-period (dropped, with the in-memory warning's counts); cohort 8 is
    never observed from its treatment on (its units lack week 8: a control)."""
    rng = np.random.default_rng(5)
    units, weeks = np.arange(60), np.arange(1, 9)
    df = pd.DataFrame(
        {"consumer_id": np.repeat(units, weeks.size), "week": np.tile(weeks, units.size)}
    )
    cohort_of = np.select([units < 10, units < 20, units < 30, units < 40], [1, 4, 6, 8], np.nan)
    df["fake_week"] = cohort_of[df["consumer_id"]]
    df = df[(df["fake_week"] != 8) | (df["week"] < 8)].reset_index(drop=True)
    df["spend"] = rng.normal(size=len(df)) + (df["week"] >= df["fake_week"])
    with pytest.warns(AlwaysTreatedWarning) as in_memory:
        expected = SunAbraham(df, **COLUMNS).fit()
    with pytest.warns(AlwaysTreatedWarning) as out_of_core:
        got = partitioned_fit(df, n_parts=3)
    assert str(out_of_core[0].message) == str(in_memory[0].message)
    assert "dropped 10 unit(s) (80 rows) of cohort(s) 1" in str(in_memory[0].message)
    assert set(got.cohort_effects["cohort"]) == {4, 6}
    assert_matches(got, expected)


def test_a_partition_emptied_by_the_cohort_rules_adds_nothing(panels):
    """A partition holding only always-treated units (dropped) contributes no row."""
    df = panels["balanced"]
    spec = SunAbrahamSpec(**COLUMNS)
    parts = [df[df["fake_week"] == 1], df[df["fake_week"] != 1]]
    plan = plan_fit([partition_structure(part, spec) for part in parts], spec, ["a", "b"])
    moments = [partition_moments(part, plan) for part in parts]
    assert moments[0].n_rows == 0
    solution = solve_moments(moments, plan)
    scores = [partition_scores(part, plan, solution) for part in parts]
    request = parse_vcov("CRV1", ["consumer_id"], ("CRV1",), "test", None)
    assert_matches(
        sun_abraham_results(plan, solution, scores, request), SunAbraham(df, **COLUMNS).fit()
    )


def test_a_unit_in_two_partitions_is_refused_by_name(panels):
    df = panels["balanced"]
    spec = SunAbrahamSpec(**COLUMNS)
    unit = df["consumer_id"].iloc[0]
    first = df[df["consumer_id"] <= unit].iloc[:-6]
    second = df[(df["consumer_id"] > unit) | ((df["consumer_id"] == unit) & (df["week"] > 6))]
    structures = [partition_structure(part, spec) for part in (first, second)]
    with pytest.raises(ValueError, match=rf"unit {int(unit)} straddles partitions a and b: "):
        plan_fit(structures, spec, ["a", "b"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ref": 0}, "ref: expected a negative integer event time, got 0"),
        ({"ref": True}, "ref: expected a negative integer event time"),
        ({"control": "not_yet"}, "control: expected 'never' or 'last', got 'not_yet'"),
        ({"drop_singletons": 1}, "drop_singletons"),
    ],
)
def test_bad_arguments_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        SunAbrahamSpec(**{**COLUMNS, **change})


def test_bad_panels_are_refused(panels):
    df = panels["balanced"]
    spec = SunAbrahamSpec(**COLUMNS, weights="w")
    changed = df.copy()
    changed.loc[changed.index[changed["fake_week"].notna()][0], "fake_week"] += 1
    with pytest.raises(ValueError, match="column 'fake_week': changes within unit"):
        partition_structure(changed, spec)
    with pytest.raises(ValueError, match="weights column 'w': expected positive weights"):
        partition_structure(df.assign(w=df["w"] - 1.0), spec)
    treated = df[df["fake_week"].notna()]
    never = SunAbrahamSpec(**COLUMNS)
    with pytest.raises(ValueError, match="control='never' needs never-treated units"):
        plan_fit([partition_structure(treated, never)], never, ["a"])
    with pytest.raises(ValueError, match="fit_partitioned_sun_abraham: ref = -20"):
        partitioned_fit(df, ref=-20)
