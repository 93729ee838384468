"""Each consumer's observation window: the contiguous weeks in which it is in the panel.

With ``consumer.activity`` shares of zero (the default) every consumer is observed in every
week and nothing is drawn. Otherwise block b draws four uniforms per consumer, in this order,
from the stream ``block_generator(seed, b, Stream.ACTIVITY)`` (spawn key ``(b, 6)``):
whether it joins late, whether it leaves early, its join week and its leave week. With
0-based weeks 0..T-1:

* a joiner's first week is uniform over 1..T-2 (1..T-3 if it also leaves);
* a leaver's last week is uniform over first+1..T-2;
* everyone else keeps week 0 and week T-1.

So every window has at least two weeks, a joiner misses the panel's first week and a leaver its
last. The uniforms are drawn for every consumer whatever the shares, so a larger share adds
joiners (leavers) and keeps everyone's weeks (common random numbers across scenarios).
"""

from __future__ import annotations

import numpy as np

from models.consumer.groups import Activity
from models.streams import Seed, Stream, block_generator


def check_window_weeks(activity: Activity, n_weeks: int) -> None:
    """Raise a clear error if a panel of ``n_weeks`` cannot hold the activity's windows."""
    joins, leaves = activity.join_share > 0, activity.leave_share > 0
    needed = 2 + joins + leaves
    if needed > 2 and n_weeks < needed:
        raise ValueError(
            f"consumer.activity (join_share {activity.join_share:g}, leave_share "
            f"{activity.leave_share:g}) needs n_weeks >= {needed} for windows of at least two "
            f"weeks, got {n_weeks}"
        )


def draw_windows(
    activity: Activity, seed: Seed, block: int, n: int, n_weeks: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and last observed 0-based weeks (inclusive) of a block's ``n`` consumers."""
    if activity.balanced:
        return np.zeros(n, np.int64), np.full(n, n_weeks - 1, np.int64)
    u_join, u_leave, u_start, u_end = block_generator(seed, block, Stream.ACTIVITY).random((4, n))
    joins = u_join < activity.join_share
    leaves = u_leave < activity.leave_share
    latest_start = n_weeks - 2 - leaves
    start = np.where(joins, 1 + _uniform_index(u_start, latest_start), 0)
    end = np.where(leaves, start + 1 + _uniform_index(u_end, n_weeks - 2 - start), n_weeks - 1)
    return start, end


def _uniform_index(u: np.ndarray, count: np.ndarray | int) -> np.ndarray:
    """Uniform integers 0..count-1 from uniforms on [0, 1) (guarded against rounding up)."""
    return np.minimum((u * count).astype(np.int64), np.asarray(count) - 1)


def window_mask(start: np.ndarray, end: np.ndarray, n_weeks: int) -> np.ndarray:
    """(n, n_weeks) boolean array: True in the weeks a consumer is observed."""
    weeks = np.arange(n_weeks)
    return (weeks >= start[:, None]) & (weeks <= end[:, None])
