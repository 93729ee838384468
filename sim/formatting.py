"""How goodwill writes numbers for people: in figures, the HTML report and LaTeX tables.

Thousands separators, a real minus sign, decimals set by the standard errors, and money in
readable units (million or billion yuan).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

MINUS = "\u2212"
"""The minus sign of numbers in HTML (LaTeX uses ``$-$``)."""


def format_number(value: float, decimals: int, minus: str = MINUS, missing: str = "—") -> str:
    """A number for reading: thousands separators, ``decimals`` places, a real minus sign.

    Examples
    --------
    >>> format_number(-1234.5678, 2)
    '−1,234.57'
    >>> format_number(-0.0001, 2), format_number(float("nan"), 2)
    ('0.00', '—')
    """
    if not np.isfinite(value):
        return missing
    rounded = round(float(value), decimals) or 0.0  # no negative zero
    return f"{rounded:,.{decimals}f}".replace("-", minus)


def format_interval(low: float, high: float, decimals: int, minus: str = MINUS) -> str:
    """A confidence interval as ``[low, high]``, both ends formatted by :func:`format_number`.

    Examples
    --------
    >>> format_interval(-3.19751, -2.65718, 3)
    '[−3.198, −2.657]'
    """
    return f"[{format_number(low, decimals, minus)}, {format_number(high, decimals, minus)}]"


def estimate_decimals(se: np.ndarray | pd.Series | xr.DataArray) -> int:
    """Decimal places that give the median standard error three significant digits (0 to 4).

    Examples
    --------
    >>> estimate_decimals(np.array([0.0138, 0.0142, np.nan])), estimate_decimals(np.array([1.2]))
    (4, 2)
    """
    values = np.abs(np.asarray(se, dtype=float))
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 3
    return int(np.clip(2 - np.floor(np.log10(np.median(values))), 0, 4))


def money_unit(values: np.ndarray) -> tuple[float, str]:
    """A divisor and its name that keep yuan amounts readable (billion, million, ...).

    Examples
    --------
    >>> money_unit(np.array([3.2e8, 4.7e9])), money_unit(np.array([950.0]))
    ((1000000000.0, 'billion yuan'), (1.0, 'yuan'))
    """
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    for scale, name in ((1e9, "billion yuan"), (1e6, "million yuan"), (1e3, "thousand yuan")):
        if top >= scale:
            return scale, name
    return 1.0, "yuan"


def format_quantity(value: float) -> str:
    """A quantity of any size in four significant digits (three from 100,000 on)."""
    return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.3g}"


def format_range(low: float, high: float, upper: float) -> str:
    """A range of values found by a search up to ``upper``, in words: "never" (NaN), "always",
    ">= low" (open above), "<= high" (from zero) or "low to high"."""
    low, high = float(low), float(high)
    if np.isnan(low):
        return "never"
    if high >= upper:
        return f">= {format_quantity(low)}" if low > 0 else "always"
    if low <= 0:
        return f"<= {format_quantity(high)}"
    return f"{format_quantity(low)} to {format_quantity(high)}"
