"""What a goodwill projection costs by intensity: the summary table and the optimum.

Functions of a projection Dataset (:func:`sim.project_goodwill`, a run's ``projection.nc``):
the total cost (goodwill loss plus enforcement, present value) by intensity with its spread
across draws, the intensity with the lowest mean cost and the distribution of each draw's own
cheapest intensity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def projection_summary(ds: xr.Dataset, interval: float = 0.90) -> pd.DataFrame:
    """Total cost over the projected weeks by intensity.

    Columns: the mean and the ``interval`` (default 90%) quantile interval across draws of
    the total cost, its goodwill-loss and enforcement parts (means), and the share of draws
    in which the intensity is the cheapest. Yuan, present value at week 0.
    """
    total = ds["total_cost"].sum("week")
    low, high = (1 - interval) / 2, (1 + interval) / 2
    optimal = ds["optimal_intensity"].to_numpy()
    intensities = ds["intensity"].to_numpy()
    table = pd.DataFrame(
        {
            "total_cost_mean": total.mean("draw").to_numpy(),
            f"total_cost_q{low * 100:g}": total.quantile(low, "draw").to_numpy(),
            f"total_cost_q{high * 100:g}": total.quantile(high, "draw").to_numpy(),
            "goodwill_loss_mean": ds["goodwill_loss"].sum("week").mean("draw").to_numpy(),
            "enforcement_cost": ds["enforcement_cost"].sum("week").to_numpy(),
            "fake_share_mean": ds["fake_share"].mean(("draw", "week")).to_numpy(),
            "optimal_share": [(optimal == x).mean() for x in intensities],
        },
        index=pd.Index(intensities, name="intensity"),
    )
    return table


def optimal_intensity(ds: xr.Dataset, interval: float = 0.90) -> dict[str, float]:
    """The intensity with the lowest mean total cost, and the across-draw distribution of
    each draw's cost-minimising intensity (mean, median and ``interval`` quantiles)."""
    mean_cost = ds["total_cost"].sum("week").mean("draw")
    per_draw = ds["optimal_intensity"].to_numpy()
    low, high = (1 - interval) / 2, (1 + interval) / 2
    return {
        "intensity": float(ds["intensity"][int(mean_cost.argmin("intensity"))]),
        "draws_mean": float(per_draw.mean()),
        "draws_median": float(np.quantile(per_draw, 0.5)),
        f"draws_q{low * 100:g}": float(np.quantile(per_draw, low)),
        f"draws_q{high * 100:g}": float(np.quantile(per_draw, high)),
    }


def describe_projection(ds: xr.Dataset) -> str:
    """A printable summary: cost by intensity and the cost-minimising intensity."""
    table = projection_summary(ds)
    money = ["total_cost_mean", *table.columns[1:3], "goodwill_loss_mean", "enforcement_cost"]
    millions = table[money].div(1e6).round(1)
    millions["fake_share"] = table["fake_share_mean"].round(2)
    millions["optimal_share"] = table["optimal_share"].round(3)
    best = optimal_intensity(ds)
    weeks = ds.sizes["week"]
    return (
        f"Goodwill projection ({ds.sizes['draw']:,} draws x {weeks} weeks, response "
        f"{ds.attrs['estimator']} multiplier {ds.attrs['response_multiplier']:+.3f} per yuan); "
        f"million yuan, present value:\n{millions.to_string()}\n"
        f"cost-minimising intensity {best['intensity']:g} (lowest mean {weeks}-week cost); "
        f"across draws: median {best['draws_median']:g}, 90% interval "
        f"[{best['draws_q5']:g}, {best['draws_q95']:g}]"
    )
