"""The consumer model's random draws (models.consumer.draws), reproducibility: the panel is
bit-identical for any chunk size, a consumer's draws depend neither on the panel size nor on
the block they are drawn in, and the seed changes the panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.mark.parametrize("chunk_size", [7, 1000, 1024, 2500, 100_000])
def test_panel_is_bit_identical_for_any_chunk_size(baseline_model, chunk_size):
    reference, truth = baseline_model.simulate(n_consumers=3_000, n_weeks=22, seed=5)
    panel, other = baseline_model.simulate(
        n_consumers=3_000, n_weeks=22, seed=5, chunk_size=chunk_size
    )
    pd.testing.assert_frame_equal(panel, reference, check_exact=True)
    pd.testing.assert_frame_equal(other.consumers, truth.consumers, check_exact=True)
    np.testing.assert_array_equal(other.expected, truth.expected)
    np.testing.assert_array_equal(other.realized, truth.realized)


def test_consumers_do_not_depend_on_panel_size(baseline_model):
    small, _ = baseline_model.simulate(n_consumers=1_500, n_weeks=22, seed=5)
    large, _ = baseline_model.simulate(n_consumers=4_000, n_weeks=22, seed=5)
    pd.testing.assert_frame_equal(small, large.iloc[: len(small)], check_exact=True)


def test_seed_changes_the_panel(baseline_model):
    one, _ = baseline_model.simulate(n_consumers=500, n_weeks=22, seed=1)
    two, _ = baseline_model.simulate(n_consumers=500, n_weeks=22, seed=2)
    assert not np.array_equal(one["spend"].to_numpy(), two["spend"].to_numpy())


def test_partial_block_draws_match_the_whole_block(baseline_model):
    whole = baseline_model.draw(0, 4096, 22, seed=3)
    part = baseline_model.draw(1000, 3000, 22, seed=3)
    np.testing.assert_array_equal(part.purchase_prob, whole.purchase_prob[1000:3000])
    np.testing.assert_array_equal(part.fake_first, whole.fake_first[1000:3000])
    rows = (whole.victims >= 1000) & (whole.victims < 3000)
    np.testing.assert_array_equal(part.victims, whole.victims[rows] - 1000)
    np.testing.assert_array_equal(part.victim_fake_value, whole.victim_fake_value[rows])
