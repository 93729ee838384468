"""Random streams: seed checks, block generators and the one table of stream numbers.

Every independent unit of work draws from its own PCG64 stream, derived from the run's root
seed, the unit's index (a block of 1,024 consumers, a Monte-Carlo draw) and a stream number from
:class:`Stream`. A unit's numbers therefore depend neither on how many units are computed
together nor on the executor, and two kinds of work never share a stream. A new kind of random
work takes the next number in :class:`Stream`; the numbers of the existing kinds never change,
since they define what a seed's results are.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

Seed = int | np.random.SeedSequence

MAX_SEED = 2**64 - 1
"""The largest seed: numpy's SeedSequence takes any integer >= 0, but a run stores its seed in
netCDF attributes, whose widest integer is unsigned 64-bit (2**64 fails there, after the
computation)."""


class Stream(IntEnum):
    """Stream numbers of the kinds of random work: the last element of a stream's spawn key."""

    CONSUMER = 0
    """A consumer block's traits, purchases, counterfeits and baskets (``models.consumer``)."""
    CONTACTS = 1
    """A consumer block's word-of-mouth contacts, kept apart so that spillover settings leave
    every panel draw unchanged."""
    PROJECTION = 2
    """One Monte-Carlo draw of the goodwill projection (``models.market.loss_draws``)."""
    MARKET_POSTERIOR = 3
    """The posterior sample of the market's parameters, computed once per seed as one unit of
    work (``sim.market_draws``)."""
    DECISION = 4
    """The decision analysis's Sobol design and bootstrap resamples (``sim.sensitivity``)."""
    VALUE_TAIL = 5
    """A consumer block's Pareto multipliers of counterfeit values, drawn only with
    ``consumer.exposure.value_tail`` set (``models.consumer.draws``)."""
    ACTIVITY = 6
    """A consumer block's observation windows (joining and leaving), drawn only with a positive
    ``consumer.activity`` share (``models.consumer.window``)."""


def block_generator(seed: Seed, block: int, stream: Stream) -> np.random.Generator:
    """The PCG64 generator of one unit of work, derived from the root seed and its index.

    The spawn key is the root's own key followed by (block, stream), so a seed spawned from
    another never shares a stream with it.

    Examples
    --------
    >>> a = block_generator(1, 0, Stream.CONSUMER).standard_normal(2)
    >>> b = block_generator(1, 0, Stream.CONTACTS).standard_normal(2)
    >>> bool((a != b).all())
    True
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    key = (*root.spawn_key, block, int(stream))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=key)))


def check_seed(seed: Seed) -> None:
    """Raise a clear error unless ``seed`` is an int in ``0..MAX_SEED`` or a SeedSequence."""
    valid_int = (
        isinstance(seed, int | np.integer) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED
    )
    if not (valid_int or isinstance(seed, np.random.SeedSequence)):
        raise ValueError(
            f"seed must be a non-negative integer below 2**64 or a numpy SeedSequence, got {seed!r}"
        )
