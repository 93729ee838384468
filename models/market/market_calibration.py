"""Calibration of the counterfeit-seller market to Alibaba's published series.

:func:`calibrate_enforcement` fits detection (``detection_2016``) and deterrence
(``entry_elasticity``) of :class:`~models.market.enforcement.EnforcementModel` to the yearly fake
shares; :func:`ridge_profile` repeats the fit over a grid of the detection ceiling
``detection_max``, which the data cannot pin down (the fit is equally good along a ridge), and
:func:`compare_indices` fits each published measure of the programme's output in turn.

Each year's intensity is one index column of the data relative to its 2016 value
(``INTENSITY_INDICES``; the budget by year is not published), and each year's fake share is taken
to be the steady state at that intensity (the market adjusts with a half-life of
ln 2 / (delta + h), about 8 weeks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from models.market.enforcement import WEEKS_PER_YEAR, EnforcementModel

INTENSITY_INDICES = (
    "arrests",
    "leads_to_police",
    "production_sites_closed",
    "case_value_billion_yuan",
)
"""Columns of the enforcement data that may measure the programme's intensity by year."""

SHARE_COLUMN = "suspected_fakes_per_10k_orders"

RIDGE_GRID = (0.065, 0.07, 0.08, 0.1, 0.125, 0.15, 0.2)
"""Detection ceilings of the ridge profile that ``goodwill calibrate-market`` shows."""

START_LOGITS = (-3.0, 0.0, 3.0)
"""Starting logits of detection_2016 / detection_max of the multi-start fit."""
START_ELASTICITIES = (0.05, 1.0, 5.0)
"""Starting entry elasticities of the multi-start fit."""
LOGIT_BOUND = 15.0
"""The fit keeps |logit(detection_2016 / detection_max)| at most this."""
ELASTICITY_RANGE = (1e-6, 50.0)
"""The fit keeps entry_elasticity within this range (an index that the model cannot fit ends
on its edge instead of drifting without end)."""


class EnforcementSeries(NamedTuple):
    """The published series a calibration fits, one entry per year.

    Attributes
    ----------
    years : ndarray of int
    intensity : ndarray
        The index column relative to its 2016 value.
    observed : ndarray
        Suspected fakes per 10,000 orders (NaN where not published).
    index : str
        The index column that measures intensity.
    """

    years: np.ndarray
    intensity: np.ndarray
    observed: np.ndarray
    index: str

    @property
    def base(self) -> np.ndarray:
        """True in the 2016 row."""
        return self.years == 2016

    @property
    def later(self) -> np.ndarray:
        """True in the years besides 2016 with a published fake share (the fitted years)."""
        return np.isfinite(self.observed) & ~self.base


def enforcement_series(data: pd.DataFrame, index: str = "arrests") -> EnforcementSeries:
    """Check the yearly enforcement data and measure intensity with one index column.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``year``, the index column and ``suspected_fakes_per_10k_orders`` (NaN where
        not published), with one row for 2016 and fake shares for 2016 and two other years.
    index : str
        One of ``INTENSITY_INDICES``.

    Returns
    -------
    EnforcementSeries
    """
    if index not in INTENSITY_INDICES:
        raise ValueError(
            f"intensity index {index!r}: expected one of {', '.join(INTENSITY_INDICES)}"
        )
    missing = [c for c in ("year", index, SHARE_COLUMN) if c not in data.columns]
    if missing:
        raise ValueError(f"enforcement data: missing column(s) {', '.join(missing)}")
    years = data["year"].to_numpy()
    if (years == 2016).sum() != 1:
        raise ValueError("enforcement data: expected exactly one row for the year 2016")
    values = data[index].to_numpy(float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"enforcement data: {index} must be positive numbers in every year")
    observed = data[SHARE_COLUMN].to_numpy(float)
    if np.any(observed <= 0) or not np.isfinite(observed[years == 2016][0]):
        raise ValueError(f"enforcement data: {SHARE_COLUMN} must be positive, and given for 2016")
    series = EnforcementSeries(years, values / values[years == 2016][0], observed, index)
    if series.later.sum() < 2:
        raise ValueError("enforcement data: need fake shares for at least two years besides 2016")
    return series


class EnforcementFit(NamedTuple):
    """Result of :func:`calibrate_enforcement`.

    Attributes
    ----------
    model : EnforcementModel
        The model with the calibrated ``detection_2016`` and ``entry_elasticity`` (and the
        data's ``fake_share_2016``).
    table : pandas.DataFrame
        By year: intensity, observed and fitted fakes per 10,000 orders, and the fitted
        stores closed.
    rmse_log : float
        Root mean squared error of the log fake share over the years besides 2016.
    index : str
        The data column that measures intensity.
    """

    model: EnforcementModel
    table: pd.DataFrame
    rmse_log: float
    index: str


def calibrate_enforcement(
    model: EnforcementModel, data: pd.DataFrame, index: str = "arrests"
) -> EnforcementFit:
    """Calibrate detection (``detection_2016``) and deterrence (``entry_elasticity``).

    The 2016 level is matched by construction (``fake_share_2016``); the two parameters
    minimise the squared log errors of the other years. The least-squares problem has local
    minima, so it is solved from the model's own values and from each of a fixed grid of
    starts (``START_LOGITS`` x ``START_ELASTICITIES``, in the coordinates logit of
    detection_2016 / detection_max and log entry_elasticity) and the best fit is kept (the first
    of equal ones): deterministic.

    Parameters
    ----------
    model : EnforcementModel
        Supplies every parameter that is not calibrated.
    data : pandas.DataFrame
        See :func:`enforcement_series`; ``stores_closed`` is reported when present.
    index : str
        The column whose value relative to 2016 is each year's intensity.

    Returns
    -------
    EnforcementFit

    Raises
    ------
    ValueError
        If the best fit is not a valid market (e.g. its fake share exceeds all orders).
    """
    series = enforcement_series(data, index)
    share_2016 = float(series.observed[series.base][0])
    model = model.model_copy(update={"fake_share_2016": share_2016})
    detection, elasticity, rmse = _best_fit(model, series)
    calibrated = EnforcementModel.model_validate(
        {**model.model_dump(), "detection_2016": detection, "entry_elasticity": elasticity}
    )
    market = calibrated.market()
    stores = market.steady_stores(series.intensity)
    table = pd.DataFrame(
        {
            "intensity": series.intensity,
            "observed": series.observed,
            "fitted": market.share(stores),
            "stores_closed_fitted": WEEKS_PER_YEAR * market.detection(series.intensity) * stores,
        },
        index=pd.Index(series.years, name="year"),
    )
    if "stores_closed" in data.columns:
        table.insert(3, "stores_closed", data["stores_closed"].to_numpy(float))
    return EnforcementFit(calibrated, table, rmse, index)


def ridge_profile(
    model: EnforcementModel,
    data: pd.DataFrame,
    detection_max: Sequence[float],
    index: str = "arrests",
) -> pd.DataFrame:
    """The best fit at each detection ceiling: how flat the calibration's ridge is.

    Parameters
    ----------
    model : EnforcementModel
        Supplies every parameter that is not calibrated.
    data : pandas.DataFrame
        See :func:`enforcement_series`.
    detection_max : sequence of float
        Ceilings to fit at, each in (0, 1 - exit_rate].
    index : str
        The column that measures intensity.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``detection_max``: ``detection_2016``, ``entry_elasticity``, ``rmse_log`` and
        ``fake_share_0`` (the steady-state fakes per 10,000 orders without enforcement).
    """
    rows = []
    for ceiling in detection_max:
        fit = calibrate_enforcement(
            model.model_copy(update={"detection_max": ceiling}), data, index
        )
        rows.append(_summary(fit))
    return pd.DataFrame(rows, index=pd.Index(list(detection_max), name="detection_max"))


def compare_indices(
    model: EnforcementModel, data: pd.DataFrame, indices: Sequence[str] = INTENSITY_INDICES
) -> pd.DataFrame:
    """The calibration with each index column as the intensity, side by side.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``index``: ``detection_2016``, ``entry_elasticity``, ``rmse_log`` and
        ``fake_share_0`` as in :func:`ridge_profile`.
    """
    rows = [_summary(calibrate_enforcement(model, data, index)) for index in indices]
    return pd.DataFrame(rows, index=pd.Index(list(indices), name="index"))


def _summary(fit: EnforcementFit) -> dict[str, float]:
    return {
        "detection_2016": fit.model.detection_2016,
        "entry_elasticity": fit.model.entry_elasticity,
        "rmse_log": fit.rmse_log,
        "fake_share_0": float(fit.model.fake_share(0.0)),
    }


def _best_fit(model: EnforcementModel, series: EnforcementSeries) -> tuple[float, float, float]:
    """detection_2016, entry_elasticity and log RMSE of the best of the multi-start fits."""
    ceiling = model.detection_max
    observed = np.log(series.observed[series.later])
    intensity = series.intensity[series.later]
    base = model.market()

    def residuals(params: np.ndarray) -> np.ndarray:
        detection, elasticity = _unpack(params, ceiling)
        market = replace(base, detection_2016=detection, entry_elasticity=elasticity)
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(market.steady_share(intensity), 1e-300)) - observed

    low = np.array([-LOGIT_BOUND, np.log(ELASTICITY_RANGE[0])])
    high = np.array([LOGIT_BOUND, np.log(ELASTICITY_RANGE[1])])
    own = np.clip(_pack(model.detection_2016, model.entry_elasticity, ceiling), low, high)
    starts = [own] + [
        np.array([logit, np.log(elasticity)])
        for logit in START_LOGITS
        for elasticity in START_ELASTICITIES
    ]
    best = None
    for start in starts:
        solution = least_squares(
            residuals, start, bounds=(low, high), method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-15
        )
        if best is None or solution.cost < best.cost:
            best = solution
    detection, elasticity = _unpack(best.x, ceiling)
    return detection, elasticity, float(np.sqrt(np.mean(best.fun**2)))


def _pack(detection: float, elasticity: float, detection_max: float) -> np.ndarray:
    """Unbounded coordinates: logit of h_1 / h_max and log eta."""
    share = min(detection / detection_max, 1.0 - 1e-12)
    return np.array([np.log(share / (1 - share)), np.log(elasticity)])


def _unpack(params: np.ndarray, detection_max: float) -> tuple[float, float]:
    share = 1.0 / (1.0 + np.exp(-params[0]))
    return float(detection_max * share), float(np.exp(params[1]))
