"""Random streams: stored digests of a fixed seed's draws, so a reordered draw fails a test.

The panel's bit-identity across chunk sizes and executors is checked elsewhere by comparing runs
with each other; these digests pin the draws themselves. They were computed with goodwill
0.1.0 (commit c2e3c3c, before the streams moved to models/streams.py) and again after it, with
the code in ``_panel_digest`` below; a change that reorders, adds or drops a random draw changes
them. Change them only with a deliberate change of what a seed's results are, and say so.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from models import ConsumerSpendModel
from models.streams import MAX_SEED, Stream, block_generator, check_seed

FIRST_BLOCK_DIGEST = "c19b339b7cd2c1fb32d9372088bb839780c6c37d52a86e610ec2cfb4db3f5d83"
"""sha256 of the first block (1,024 consumers x 22 weeks) of seed 20170301's default panel."""

FIRST_DRAW_DIGEST = "bf97aba731fad24c41424db90b33cc62319b8f487759edcceff2f02df75e4cc1"
"""sha256 of the first 64 standard normals of projection draw 0 for seed 20170301."""


def _panel_digest(n_consumers: int) -> str:
    panel, _ = ConsumerSpendModel().simulate(n_consumers=n_consumers, n_weeks=22, seed=20170301)
    panel = panel[panel["consumer_id"] < 1024]
    digest = hashlib.sha256()
    columns = ("consumer_id", "week", "spend", "spend_cf", "fake_week", "fake_value", "fake_spend")
    for column in (*columns, "tenure"):
        digest.update(np.ascontiguousarray(panel[column].to_numpy()).tobytes())
    digest.update(panel["segment"].astype(str).str.cat(sep=",").encode())
    return digest.hexdigest()


def test_the_first_block_of_a_seeds_panel_is_pinned():
    assert _panel_digest(1024) == FIRST_BLOCK_DIGEST


def test_the_first_block_does_not_depend_on_the_panel_size():
    assert _panel_digest(1500) == FIRST_BLOCK_DIGEST


def test_a_projection_draw_is_pinned():
    normals = block_generator(20170301, 0, Stream.PROJECTION).standard_normal(64)
    assert hashlib.sha256(normals.tobytes()).hexdigest() == FIRST_DRAW_DIGEST


def test_stream_numbers_are_fixed_and_distinct():
    assert [(s.name, int(s)) for s in Stream] == [
        ("CONSUMER", 0),
        ("CONTACTS", 1),
        ("PROJECTION", 2),
        ("MARKET_POSTERIOR", 3),
        ("DECISION", 4),
        ("VALUE_TAIL", 5),
        ("ACTIVITY", 6),
    ]
    draws = {s: block_generator(1, 0, s).standard_normal(8) for s in Stream}
    assert len({d.tobytes() for d in draws.values()}) == len(Stream)


def test_a_spawned_seed_never_shares_a_stream_with_its_root():
    root = np.random.SeedSequence(11)
    child = root.spawn(1)[0]
    a = block_generator(root, 0, Stream.CONSUMER).standard_normal(8)
    b = block_generator(child, 0, Stream.CONSUMER).standard_normal(8)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, block_generator(11, 0, Stream.CONSUMER).standard_normal(8))


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True, None, 2**64])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer below 2\*\*64"):
        check_seed(seed)


def test_the_largest_seed_is_accepted():
    check_seed(MAX_SEED)
    assert block_generator(MAX_SEED, 0, Stream.CONSUMER).standard_normal(1).shape == (1,)
