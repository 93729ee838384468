"""How numbers are written (sim.formatting): format_number and estimate_decimals against
the expected strings written out here."""

from __future__ import annotations

import numpy as np

from sim.formatting import estimate_decimals, format_number


def test_format_number():
    assert format_number(-1234567.891, 2) == "\u22121,234,567.89"
    assert format_number(-0.0004, 3) == "0.000"  # no negative zero
    assert format_number(-0.5, 1, minus="$-$") == "$-$0.5"
    assert format_number(np.nan, 2) == "—" and format_number(np.inf, 2, missing="") == ""
    assert estimate_decimals(np.array([0.0138, 0.0142])) == 4  # 0.0138: three digits
    assert estimate_decimals(np.array([25.0, np.nan])) == 1
    assert estimate_decimals(np.array([5000.0])) == 0
