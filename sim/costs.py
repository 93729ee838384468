"""What a goodwill projection costs by intensity: the summary table and the optimum.

Functions of a projection Dataset (:func:`sim.project_goodwill`, a run's ``projection.nc``),
for one opening (``status_quo``: should the platform stop its programme?; ``no_programme``:
should it have started one?): the total cost (goodwill loss by channel, enforcement and the
terminal value of the stores left at the horizon, present value) by intensity with its spread
across draws, the intensity with the lowest mean cost and the distribution of each draw's own
cheapest intensity, both on a continuum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from models.market.cost_paths import CHANNELS

LOSS_PARTS = (*(f"loss_{channel}" for channel in CHANNELS), "terminal_value")
"""The parts of the goodwill loss in a projection: each channel over the horizon, and the
terminal value of the stores left at the horizon."""

OPENING_QUESTIONS = {
    "status_quo": "should the platform stop? (the market opens at the status quo, intensity {x:g})",
    "no_programme": "should it have started? (the market opens with no programme)",
}


def projection_summary(
    ds: xr.Dataset, opening: str = "status_quo", interval: float = 0.90
) -> pd.DataFrame:
    """Total cost over the horizon by intensity, for one opening.

    Columns: the mean and the ``interval`` (default 90%) quantile interval across draws of
    the total cost; its parts (means): the goodwill loss by channel, the terminal value, their
    sum (``goodwill_loss_mean``) and the enforcement cost; the mean fake share; and the share
    of draws in which the intensity is the cheapest of the grid (``optimal_share``). Yuan,
    present value at week 0.
    """
    one = ds.sel(opening=opening)
    total = one["total_cost"]
    low, high = (1 - interval) / 2, (1 + interval) / 2
    intensities = ds["intensity"].to_numpy()
    cheapest = intensities[total.argmin("intensity").to_numpy()]
    columns = {
        "total_cost_mean": total.mean("draw").to_numpy(),
        f"total_cost_q{low * 100:g}": total.quantile(low, "draw").to_numpy(),
        f"total_cost_q{high * 100:g}": total.quantile(high, "draw").to_numpy(),
    }
    for channel in CHANNELS:
        columns[f"loss_{channel}_mean"] = one[f"loss_{channel}"].mean("draw").to_numpy()
    columns["terminal_value_mean"] = one["terminal_value"].mean("draw").to_numpy()
    columns["goodwill_loss_mean"] = sum(columns[f"{name}_mean"] for name in LOSS_PARTS)
    columns["enforcement_cost"] = ds["enforcement_cost"].sum("week").to_numpy()
    columns["fake_share_mean"] = one["fake_share"].mean("week").to_numpy()
    columns["optimal_share"] = [(cheapest == x).mean() for x in intensities]
    return pd.DataFrame(columns, index=pd.Index(intensities, name="intensity"))


def optimal_intensity(
    ds: xr.Dataset, opening: str = "status_quo", interval: float = 0.90
) -> dict[str, float]:
    """The cost-minimising intensity on a continuum, for one opening.

    Keys: ``intensity`` (the lowest mean cost across draws) and its ``cost``; the grid
    intensity with the lowest mean cost (``grid_intensity``); and the distribution of each
    draw's own cost-minimising intensity (mean, median, ``interval`` quantiles and the share
    of draws for which no programme, intensity 0, is cheapest).
    """
    one = ds.sel(opening=opening)
    per_draw = one["optimal_intensity"].to_numpy()
    low, high = (1 - interval) / 2, (1 + interval) / 2
    mean_cost = one["total_cost"].mean("draw")
    return {
        "intensity": float(one["mean_optimal_intensity"]),
        "cost": float(one["mean_optimal_cost"]),
        "grid_intensity": float(ds["intensity"][int(mean_cost.argmin("intensity"))]),
        "draws_mean": float(per_draw.mean()),
        "draws_median": float(np.quantile(per_draw, 0.5)),
        f"draws_q{low * 100:g}": float(np.quantile(per_draw, low)),
        f"draws_q{high * 100:g}": float(np.quantile(per_draw, high)),
        "draws_zero_share": float((per_draw == 0).mean()),
    }


def describe_projection(ds: xr.Dataset) -> str:
    """A printable summary: cost by intensity and the cost-minimising intensity, for each
    opening."""
    weeks = ds.sizes["week"]
    lines = [
        f"Goodwill projection ({ds.sizes['draw']:,} draws x {weeks} weeks plus the terminal "
        f"value, response {ds.attrs['estimator']} multiplier "
        f"{ds.attrs['response_multiplier']:+.3f} per yuan); million yuan, present value"
    ]
    for opening in ds["opening"].to_numpy():
        table = projection_summary(ds, opening)
        money = table.columns.drop(["fake_share_mean", "optimal_share"])
        shown = table[money].div(1e6).round(1)
        shown = shown.loc[:, (shown != 0).any()]  # channels left at zero add nothing
        shown["fake_share"] = table["fake_share_mean"].round(2)
        best = optimal_intensity(ds, opening)
        start = float(ds["opening_intensity"].sel(opening=opening))
        lines += [
            f"\n{OPENING_QUESTIONS[str(opening)].format(x=start)}:",
            shown.to_string(),
            f"cost-minimising intensity {best['intensity']:.3f} (lowest mean cost, on a "
            f"continuum; {best['cost'] / 1e6:,.1f} million; best grid point "
            f"{best['grid_intensity']:g}); across draws: median {best['draws_median']:.3f}, "
            f"90% interval [{best['draws_q5']:.3f}, {best['draws_q95']:.3f}], "
            f"no programme cheapest in {best['draws_zero_share']:.1%}",
        ]
    return "\n".join(lines)
