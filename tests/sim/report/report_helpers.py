"""Helpers shared by the report tests (tests/sim/report): the estimators of configs/quick.toml
and how a shown number (HTML or LaTeX) is read and checked against the stored value.

Numbers shown are compared with the stored outputs to half a unit of their last shown decimal
(the rounding of the display), and standard errors must also show at least two significant
digits (a relative error below 5%), so a table that rounds too coarsely fails.
"""

from __future__ import annotations

import re

import numpy as np

ESTIMATORS = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]  # configs/quick.toml


def number(text: str) -> tuple[float, int]:
    """A shown number (HTML or LaTeX) and its decimal places."""
    text = text.replace("\u2212", "-").replace("$-$", "-").replace(",", "").strip("()")
    text = re.sub(r"\\textbf\{(.*)\}", r"\1", text)
    decimals = len(text.partition(".")[2])
    return float(text), decimals


def assert_shown(text: str, value: float, relative: float | None = None) -> None:
    """``text`` shows ``value`` rounded to its decimals (and within ``relative`` of it)."""
    if not np.isfinite(value):
        assert text == "", f"{text!r} shown for a missing value"
        return
    shown, decimals = number(text)
    assert abs(shown - value) <= 0.5 * 10.0**-decimals + 1e-9 * abs(value), (text, value)
    if relative is not None:
        assert abs(shown - value) <= relative * abs(value), (text, value)
