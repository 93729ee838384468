"""What would have to be true: the break-even values of the enforcement decision.

For a chosen intensity (default: the status quo), the value of each of five assumptions at
which that intensity becomes cost-minimising, and at which it costs no more than no programme,
for both openings of the projection (the market opens at the status quo: should the platform
stop?; with no programme: should it have started?). The costs are **expected** costs given the
config's market and platform parameters and the mean of the fitted response path
(:func:`models.market.cost_paths.expected_totals`; no priors, no sampling error).
"Cost-minimising" is among the intensities of ``projection.intensities`` plus the chosen one
(on the grid, not a continuum).

The total cost is linear in four of the assumptions: C(x; s) = A(x) s + B(x) for the value
counted per counterfeit order (``brand_cost_per_fake``), the take rate, the spillover
contacts and the programme's cost. Two evaluations (s = 0 and s = a reference value) give A
and B; the chosen intensity x0 is cheapest where (A(x0) - A(x)) s <= B(x) - B(x0) for every
other x, an interval of s found in closed form. The horizon is searched week by week.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from models import ResponsePath
from models.market.cost_paths import expected_totals
from models.market.enforcement import WEEKS_PER_YEAR
from sim.config import ProjectionSettings
from sim.costs import OPENING_QUESTIONS
from sim.decision_settings import DecisionSettings
from sim.formatting import format_quantity, format_range
from sim.projection import OPENINGS

LINEAR = {
    "cost_per_fake": ("platform", "brand_cost_per_fake", 100.0, np.inf),
    "take_rate": ("platform", "take_rate", 1.0, 1.0),
    "spillover_contacts": ("platform", "spillover_contacts", 1.0, np.inf),
    "programme_cost": ("market", "programme_cost", 1e9, np.inf),
}
"""The assumptions the cost is linear in: (model, field, reference value, upper bound)."""

UNITS = {
    "cost_per_fake": "yuan counted per counterfeit order (brand_cost_per_fake)",
    "take_rate": "share of each yuan of lost spend the platform counts",
    "spillover_contacts": "contacts per victim who cut their spend",
    "programme_cost": "yuan a year that intensity 1 costs",
    "n_weeks": "weeks projected (the horizon; a terminal value follows)",
}
PARAMETERS = tuple(UNITS)
FRONTIER_TAKE_RATES = np.geomspace(0.01, 1.0, 61)
"""Take rates of the frontier figure (log-spaced, 1% to all of GMV)."""
FRONTIER_STEP = 13
"""Weeks between the horizons of the frontier (a quarter)."""


def expected_costs(
    settings: ProjectionSettings,
    path: np.ndarray,
    intensities: np.ndarray,
    n_weeks: int | None = None,
    **values: float,
) -> np.ndarray:
    """Expected total cost by (opening, intensity), given the parameters (no noise).

    Parameters
    ----------
    settings : ProjectionSettings
        The market, platform, status quo and horizon.
    path : ndarray, shape (horizon,)
        Per-yuan spend response by event week (signed).
    intensities : ndarray, shape (k,)
        Intensities from week 0 on.
    n_weeks : int, optional
        The horizon (default ``settings.n_weeks``).
    **values : float
        Fields of :data:`LINEAR` (``take_rate=0.5``, ...) replacing the config's values.

    Returns
    -------
    ndarray, shape (2, k)
        Present value at week 0 (yuan) of goodwill loss, enforcement and terminal value.
    """
    fields = {"platform": {}, "market": {}}
    for name, value in values.items():
        model, field, _, _ = LINEAR[name]
        fields[model][field] = value
    programme_cost = fields["market"].get("programme_cost", settings.market.programme_cost)
    paths = expected_totals(
        settings.market.market(),
        settings.platform.platform(**fields["platform"]),
        np.asarray(path, dtype=float),
        np.asarray(intensities, dtype=float),
        np.array([settings.status_quo, 0.0])[:, None],
        settings.n_weeks if n_weeks is None else n_weeks,
        programme_cost / WEEKS_PER_YEAR,
    )
    return paths.total_cost()


def linear_coefficients(
    settings: ProjectionSettings,
    path: np.ndarray,
    intensities: np.ndarray,
    name: str,
    n_weeks: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Slope A and intercept B of the total cost C(x; s) = A(x) s + B(x) in one linear
    assumption ``name`` (of :data:`LINEAR`), from two evaluations; each shape (2, k)."""
    reference = LINEAR[name][2]
    at_zero = expected_costs(settings, path, intensities, n_weeks, **{name: 0.0})
    at_reference = expected_costs(settings, path, intensities, n_weeks, **{name: reference})
    return (at_reference - at_zero) / reference, at_zero


def cheapest_interval(
    slope: np.ndarray, intercept: np.ndarray, chosen: int, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """The interval of s in [low, high] where candidate ``chosen`` has the lowest A s + B.

    Parameters
    ----------
    slope, intercept : ndarray, shape (..., k)
        The lines of the k candidates.
    chosen : int
        Index of the candidate of interest.
    low, high : float
        The valid range of s.

    Returns
    -------
    lower, upper : ndarray, shape (...)
        The interval's ends; NaN where the candidate is never cheapest in [low, high]. Ties
        count as cheapest.

    Examples
    --------
    >>> cheapest_interval(np.array([0.0, -1.0]), np.array([1.0, 3.0]), 1, 0.0, 10.0)
    (array(2.), array(10.))
    """
    gap_slope = slope[..., chosen, None] - slope  # cheapest where gap_slope * s <= gap_level
    gap_level = intercept - intercept[..., chosen, None]
    scale = np.maximum(np.abs(intercept).max(axis=-1, keepdims=True), 1.0)
    flat = np.abs(gap_slope) * max(abs(low), abs(high) if np.isfinite(high) else 1.0) <= (
        1e-12 * scale
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = gap_level / gap_slope
    upper = np.where(~flat & (gap_slope > 0), bound, np.inf).min(axis=-1)
    lower = np.where(~flat & (gap_slope < 0), bound, -np.inf).max(axis=-1)
    feasible = np.all(~flat | (gap_level >= -1e-12 * scale), axis=-1)
    lower, upper = np.maximum(lower, low), np.minimum(upper, high)
    found = feasible & (lower <= upper)
    return np.where(found, lower, np.nan), np.where(found, upper, np.nan)


def breakeven(
    settings: ProjectionSettings,
    response: ResponsePath,
    intensity: float | None = None,
    decision: DecisionSettings | None = None,
) -> xr.Dataset:
    """Break-even values of five assumptions for one intensity, for both openings.

    Parameters
    ----------
    settings : ProjectionSettings
        The projection's market, platform, intensities, status quo and horizon.
    response : ResponsePath
        The fitted per-yuan response; its mean path is used.
    intensity : float, optional
        The intensity to examine (default: ``settings.status_quo``).
    decision : DecisionSettings, optional
        ``max_horizon``, the longest horizon searched (default 520 weeks).

    Returns
    -------
    xarray.Dataset
        By (opening, parameter): the config's value (``baseline``); the interval over which
        the intensity is cost-minimising among the grid (``optimal_low``, ``optimal_high``)
        and the one over which it costs no more than no programme (``beats_none_low``,
        ``beats_none_high``); NaN where there is none within the parameter's valid range
        (>= 0; a take rate <= 1; horizons 1..max_horizon, where low and high are the first
        and last week at which it holds). By opening: the value per counterfeit order the
        model counts already (``model_value_per_fake``, the cost other than enforcement and
        ``brand_cost_per_fake`` per expected counterfeit order avoided, relative to no
        programme). By (opening, horizon, take_rate): the cost-minimising grid intensity
        (``frontier_intensity``).

    Examples
    --------
    >>> path = ResponsePath(np.full(12, -3.57 / 12), np.eye(12) * 1e-4)  # doctest: +SKIP
    >>> breakeven(config.projection, path).sel(parameter="take_rate")  # doctest: +SKIP
    """
    decision = DecisionSettings() if decision is None else decision
    chosen_x = settings.status_quo if intensity is None else float(intensity)
    if not (np.isfinite(chosen_x) and chosen_x >= 0):
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
    candidates = np.unique(np.concatenate([settings.intensities, [chosen_x, 0.0]]))
    chosen = int(np.flatnonzero(candidates == chosen_x)[0])
    none = int(np.flatnonzero(candidates == 0.0)[0])
    pair = [chosen, none]
    path = response.mean
    shape = (len(OPENINGS), len(PARAMETERS))
    out = {name: np.full(shape, np.nan) for name in ("baseline", "optimal_low", "optimal_high")}
    out.update({name: np.full(shape, np.nan) for name in ("beats_none_low", "beats_none_high")})
    models = {"platform": settings.platform, "market": settings.market}
    coefficients = {}
    for j, name in enumerate(LINEAR):
        model, field, _, upper = LINEAR[name]
        slope, intercept = linear_coefficients(settings, path, candidates, name)
        out["baseline"][:, j] = getattr(models[model], field)
        low, high = cheapest_interval(slope, intercept, chosen, 0.0, upper)
        out["optimal_low"][:, j], out["optimal_high"][:, j] = low, high
        low, high = cheapest_interval(slope[:, pair], intercept[:, pair], 0, 0.0, upper)
        out["beats_none_low"][:, j], out["beats_none_high"][:, j] = low, high
        coefficients[name] = slope, intercept
    horizons = np.arange(1, decision.max_horizon + 1)
    take = settings.platform.take_rate
    optimal = np.zeros((len(OPENINGS), horizons.size), dtype=bool)
    beats = np.zeros_like(optimal)
    frontier_weeks = horizons[FRONTIER_STEP - 1 :: FRONTIER_STEP]
    frontier = np.empty((len(OPENINGS), frontier_weeks.size, FRONTIER_TAKE_RATES.size))
    for i, weeks in enumerate(horizons):
        if weeks % FRONTIER_STEP:
            cost = expected_costs(settings, path, candidates, weeks)
        else:  # the take rate's lines give the frontier, and the cost at the config's take
            slope, intercept = linear_coefficients(settings, path, candidates, "take_rate", weeks)
            costs = slope[:, None, :] * FRONTIER_TAKE_RATES[:, None] + intercept[:, None, :]
            frontier[:, weeks // FRONTIER_STEP - 1] = candidates[costs.argmin(axis=-1)]
            cost = slope * take + intercept
        optimal[:, i] = cost[:, chosen] <= cost.min(axis=-1)
        beats[:, i] = cost[:, chosen] <= cost[:, none]
    j = PARAMETERS.index("n_weeks")
    out["baseline"][:, j] = settings.n_weeks
    for key, holds in (("optimal", optimal), ("beats_none", beats)):
        for k in range(len(OPENINGS)):
            weeks = horizons[holds[k]]
            if weeks.size:
                out[f"{key}_low"][k, j], out[f"{key}_high"][k, j] = weeks[0], weeks[-1]
    units = {
        "baseline": "the config's value (units by parameter: the units attribute of parameter)",
        "optimal_low": "lowest value at which the intensity is cost-minimising on the grid",
        "optimal_high": "highest value at which the intensity is cost-minimising on the grid",
        "beats_none_low": "lowest value at which it costs no more than no programme",
        "beats_none_high": "highest value at which it costs no more than no programme",
    }
    data = {name: (("opening", "parameter"), out[name], {"units": units[name]}) for name in out}
    data["model_value_per_fake"] = (
        "opening",
        _model_value_per_fake(coefficients, settings.market.programme_cost, chosen, none),
        {"units": "yuan the model counts per expected counterfeit order avoided"},
    )
    data["frontier_intensity"] = (
        ("opening", "horizon", "take_rate"),
        frontier,
        {"units": "cost-minimising intensity of the grid (multiples of the 2016 programme)"},
    )
    return xr.Dataset(
        data,
        coords={
            "opening": list(OPENINGS),
            "parameter": list(PARAMETERS),
            "parameter_units": ("parameter", [UNITS[name] for name in PARAMETERS]),
            "parameter_limit": ("parameter", [_limit(name, decision) for name in PARAMETERS]),
            "horizon": frontier_weeks,
            "take_rate": FRONTIER_TAKE_RATES,
        },
        attrs={
            "intensity": chosen_x,
            "status_quo_intensity": settings.status_quo,
            "candidates": candidates,
            "response_multiplier": response.multiplier,
            "n_weeks": settings.n_weeks,
            "max_horizon": decision.max_horizon,
            "basis": "expected costs given the config's parameters and the mean response path; "
            "cost-minimising among projection.intensities plus the chosen intensity (grid)",
        },
    )


def _model_value_per_fake(
    lines: dict[str, tuple[np.ndarray, np.ndarray]], programme_cost: float, chosen: int, none: int
) -> np.ndarray:
    """Goodwill loss (every channel but ``brand_cost_per_fake``, terminal value included) that
    the chosen intensity avoids relative to no programme, per counterfeit order it avoids (both
    present values), by opening. The cost at ``brand_cost_per_fake = 0`` less enforcement
    (the programme cost's slope times the cost) is that loss; the slope in
    ``brand_cost_per_fake`` is the present value of the counterfeit orders."""
    fakes, cost = lines["cost_per_fake"]
    loss = cost - lines["programme_cost"][0] * programme_cost
    avoided = fakes[:, none] - fakes[:, chosen]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(avoided != 0, (loss[:, none] - loss[:, chosen]) / avoided, np.nan)


def describe_breakeven(ds: xr.Dataset) -> str:
    """A printable table of :func:`breakeven`'s intervals, by opening."""
    x = float(ds.attrs["intensity"])
    lines = [
        f"Break-even of intensity {x:g}: {ds.attrs['basis']} (response multiplier "
        f"{float(ds.attrs['response_multiplier']):+.3f} per yuan, horizon "
        f"{int(ds.attrs['n_weeks'])} weeks, searched 1..{int(ds.attrs['max_horizon'])})"
    ]
    for opening in ds["opening"].to_numpy():
        one = ds.sel(opening=opening)
        start = float(ds.attrs["status_quo_intensity"])
        lines += [
            "\n" + OPENING_QUESTIONS[str(opening)].format(x=start),
            f"{'parameter':<20}{'config':>12}  {'cost-minimising for':<26}beats no programme for",
        ]
        for name in PARAMETERS:
            row = one.sel(parameter=name)
            upper = float(row["parameter_limit"])
            lines.append(
                f"{name:<20}{format_quantity(float(row['baseline'])):>12}  "
                f"{format_range(row['optimal_low'], row['optimal_high'], upper):<26}"
                f"{format_range(row['beats_none_low'], row['beats_none_high'], upper)}"
            )
        lines.append(
            f"the model counts {float(one['model_value_per_fake']):,.1f} yuan per counterfeit "
            f"order that intensity {x:g} avoids relative to none (cost_per_fake adds to it)"
        )
    return "\n".join(lines)


def _limit(name: str, decision: DecisionSettings) -> float:
    """The largest value of a break-even parameter that was searched."""
    return LINEAR[name][3] if name in LINEAR else float(decision.max_horizon)
