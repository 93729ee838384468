"""The out-of-core event study's algebra (models.estimation.partitioned_event_study): combined
over partitions it is :class:`EventStudy`'s in-memory fit, whose within transformation and
sandwich it shares no code with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, EventStudy, ssc
from models.estimation.partitioned_event_study import (
    EventSpec,
    partition_moments,
    partition_scores,
    solve_moments,
)
from models.estimation.partitioned_inference import partitioned_results
from models.estimation.vcov import parse_vcov
from models.exceptions import FewEffectiveUnitsWarning, SingletonWarning

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=FewEffectiveUnitsWarning),
    pytest.mark.filterwarnings("ignore", category=SingletonWarning),
]

COLUMNS = {"outcome": "spend", "unit": "consumer_id", "time": "week", "cohort": "fake_week"}
TOL = 1e-8


@pytest.fixture(scope="module")
def panels() -> dict[str, pd.DataFrame]:
    """The balanced 3,000 x 12 panel and an unbalanced one (a fifth of its rows dropped)."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=12, seed=1)
    rows = np.random.default_rng(2).random(len(panel)) < 0.8
    return {"balanced": panel, "unbalanced": panel.loc[rows].reset_index(drop=True)}


def partitioned_fit(df: pd.DataFrame, n_parts: int = 4, vcov="CRV1", small=None, **options):
    """The pure functions called serially on ``n_parts`` partitions of whole units."""
    spec = EventSpec(**COLUMNS, **options)
    ids = df["consumer_id"].unique()
    parts = [df[df["consumer_id"].isin(ids[i::n_parts])] for i in range(n_parts)]
    moments = [partition_moments(part, spec) for part in parts]
    solution = solve_moments(moments, spec, [f"part {i}" for i in range(n_parts)])
    scores = [partition_scores(part, spec, solution) for part in parts]
    request = parse_vcov(vcov, ["consumer_id"], ("iid", "HC1", "CRV1"), "test", small)
    return partitioned_results(spec, solution, scores, request)


def assert_matches(got, expected) -> None:
    """Same names, coefficients and SEs to 1e-8 relative, same n, t df and within R2."""
    assert got.names == expected.names
    np.testing.assert_allclose(got.params, expected.params, rtol=TOL, atol=0)
    np.testing.assert_allclose(got.bse, expected.bse, rtol=TOL, atol=0)
    assert got.nobs == expected.nobs
    assert got.df_t == expected.df_t
    assert got.regression.df_resid == expected.regression.df_resid
    np.testing.assert_allclose(
        got.regression.rsquared_within, expected.regression.rsquared_within, rtol=TOL
    )


@pytest.mark.parametrize("layout", ["balanced", "unbalanced"])
@pytest.mark.parametrize("intensity", [None, "fake_value"])
@pytest.mark.parametrize("bin_endpoints", [True, False])
@pytest.mark.parametrize("vcov", ["CRV1", "iid", "HC1"])
def test_partitions_combine_to_the_in_memory_fit(panels, layout, intensity, bin_endpoints, vcov):
    options = {"window": (-3, 6), "ref": -1, "intensity": intensity, "bin_endpoints": bin_endpoints}
    df = panels[layout]
    expected = EventStudy(df, **COLUMNS, **options).fit(vcov=vcov)
    assert_matches(partitioned_fit(df, vcov=vcov, **options), expected)


def test_small_sample_settings_and_one_partition_match(panels):
    options = {"window": (-2, 4), "ref": -2}
    small = ssc(adj=False, cluster_adj=False)
    expected = EventStudy(panels["unbalanced"], **COLUMNS, **options).fit(ssc=small)
    got = partitioned_fit(panels["unbalanced"], n_parts=1, small=small, **options)
    assert_matches(got, expected)
    assert got.vcov_type == expected.vcov_type


def test_the_summary_and_effects_are_the_in_memory_ones(panels):
    options = {"window": (-3, 6), "ref": -1, "intensity": "fake_value"}
    expected = EventStudy(panels["balanced"], **COLUMNS, **options).fit()
    got = partitioned_fit(panels["balanced"], **options)
    pd.testing.assert_frame_equal(got.event_time_effects(), expected.event_time_effects(), rtol=TOL)
    assert got.treated_units.treated == expected.treated_units.treated
    assert got.treated_units.effective == pytest.approx(expected.treated_units.effective, rel=TOL)
    assert "out of core, 4 partitions" in str(got.summary())


def test_a_unit_in_two_partitions_is_refused_by_name(panels):
    df = panels["balanced"]
    spec = EventSpec(**COLUMNS, window=(-3, 6))
    unit = df["consumer_id"].iloc[0]
    first = df[df["consumer_id"] <= unit]
    second = df[(df["consumer_id"] > unit) | ((df["consumer_id"] == unit) & (df["week"] > 6))]
    moments = [partition_moments(part, spec) for part in (first.iloc[:-6], second)]
    with pytest.raises(ValueError, match=rf"unit {int(unit)} straddles partitions a and b: "):
        solve_moments(moments, spec, ["a", "b"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window": (3, 1)}, "window: expected two integers lo < hi"),
        ({"ref": 13}, "ref: expected an integer event time in the window"),
        ({"bin_endpoints": 1}, "bin_endpoints"),
    ],
)
def test_bad_arguments_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        EventSpec(**{**COLUMNS, **change})


def test_a_cohort_that_changes_within_a_unit_is_refused(panels):
    df = panels["balanced"].copy()
    treated = df.index[df["fake_week"].notna()][0]
    df.loc[treated, "fake_week"] += 1
    with pytest.raises(ValueError, match="column 'fake_week': changes within unit"):
        partition_moments(df, EventSpec(**COLUMNS))
