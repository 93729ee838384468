"""Upper bounds of the config's sizes, each with its reason (``sim.config`` applies them).

Sizes within these bounds can still exceed a machine's memory: ``sim.resources.check_memory``
estimates a run's peak from the config and refuses what cannot fit.
"""

from __future__ import annotations

MAX_CONSUMERS = 10**9
"""Most consumers in a panel: ids are 32-bit (below 2**31), and 10**9 is more than any
platform's users."""
MAX_PANEL_WEEKS = 520
"""Most weeks in a panel (ten years of weekly spend), and so most periods of anticipation."""
MAX_DRAWS = 10**7
"""Most Monte-Carlo draws (and posterior samples): at 10**7 the Monte-Carlo error is 0.03% of
the draws' sd, far below the parameters' uncertainty; more only costs time."""
MAX_INTENSITY = 1000.0
"""Largest enforcement intensity: 1,000 times the 2016 programme (a trillion yuan a year)."""
MAX_PIXELS = 10_000
"""Most pixels along a side of a PNG (width or height times dpi): matplotlib draws into a 4-byte
RGBA buffer, 0.4 GB at 10,000 x 10,000; a 20-inch side at 500 dpi still fits."""
