"""The run directory: the files a run holds, and how they are read back.

Readers here interpret the stored files for the figures and the report, so that neither needs
to know how an estimator's metadata is laid out in them.
"""

from __future__ import annotations

import xarray as xr


def binned_window(estimates: xr.Dataset) -> tuple[int, int] | None:
    """The event times shown by default: the span of the windows of the estimators whose end
    points pool every event time beyond them (their end points are bins, not event times),
    or None when no estimator bins (then every event time is shown)."""
    binned = estimates["bin_endpoints"].to_numpy().astype(bool)
    if not binned.any():
        return None
    low = int(estimates["window_low"].to_numpy()[binned].min())
    high = int(estimates["window_high"].to_numpy()[binned].max())
    return low, high
