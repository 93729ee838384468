"""The report's decision tables: break-even values (``breakeven.nc``) and global sensitivity
with the value of information (``sensitivity.nc``), written by a run with ``[decision]``."""

from __future__ import annotations

import xarray as xr

from sim.costs import OPENING_QUESTIONS
from sim.formatting import format_number, format_range
from sim.report.table import Table


def breakeven_html(ds: xr.Dataset) -> list[Table]:
    """One table per opening: each parameter's config value and the values at which the
    chosen intensity is cost-minimising, and at which it beats no programme."""
    x = float(ds.attrs["intensity"])
    tables = []
    for opening in ds["opening"].to_numpy().tolist():
        one = ds.sel(opening=opening)
        rows = []
        for name in ds["parameter"].to_numpy().tolist():
            row = one.sel(parameter=name)
            limit = float(row["parameter_limit"])
            rows.append(
                [
                    f"{name} ({row['parameter_units'].item()})",
                    f"{float(row['baseline']):,.4g}",
                    format_range(row["optimal_low"], row["optimal_high"], limit),
                    format_range(row["beats_none_low"], row["beats_none_high"], limit),
                ]
            )
        start = float(ds.attrs["status_quo_intensity"]) if opening == "status_quo" else 0.0
        question = OPENING_QUESTIONS[opening].format(x=start)
        tables.append(
            Table(
                id=f"breakeven-{opening.replace('_', '-')}",
                title=f"Break-even: {question.split(' (')[0]}",
                caption=f"What would have to be true for intensity {x:g} to pay: {question}",
                columns=["Parameter", "Config", "Cost-minimising for", "Beats no programme for"],
                rows=rows,
                numeric=[False, True, False, False],
                note=f"{ds.attrs['basis']}; horizon {int(ds.attrs['n_weeks'])} weeks plus the "
                f"terminal value. The model itself counts "
                f"{format_number(float(one['model_value_per_fake']), 1)} yuan of goodwill per "
                f"counterfeit order that intensity {x:g} avoids relative to none.",
            )
        )
    return tables


def sensitivity_html(ds: xr.Dataset) -> Table:
    """Total-order Sobol indices of the saving and of the optimal intensity for each input,
    by opening, with their intervals; EVPI and EVPPI in the note."""
    level = f"{float(ds.attrs['confidence']):.0%}"
    openings = ds["opening"].to_numpy().tolist()
    outputs = ("saving", "optimal_intensity")
    rows = []
    for name in ds["input"].to_numpy().tolist():
        cells = [name, str(ds["input_group"].sel(input=name).item())]
        for opening in openings:
            for output in outputs:
                one = ds.sel(opening=opening, output=output, input=name)
                index, interval = float(one["ST"]), float(one["ST_conf"])
                cells.append(f"{format_number(index, 2)} ± {format_number(interval, 2)}")
        rows.append(cells)
    value = "; ".join(_value_of_information(ds.sel(opening=o), o) for o in openings)
    return Table(
        id="sensitivity",
        title="Global sensitivity and value of information",
        caption=f"Total-order Sobol indices with {level} intervals "
        f"({int(ds.attrs['sobol_samples']):,} base samples)",
        columns=["Input", "Group"] + ["Saving", "Optimal intensity"] * len(openings),
        groups=[("", 2)] + [(opening.replace("_", " "), 2) for opening in openings],
        rows=rows,
        numeric=[False, False] + [True] * (2 * len(openings)),
        note=f"{ds.attrs['basis']}. Saving: the status quo's cost advantage over no programme. "
        f"Value of information, million yuan: {value}.",
    )


def _value_of_information(one: xr.Dataset, opening: str) -> str:
    def millions(value: xr.DataArray) -> str:
        return format_number(float(value) / 1e6, 1)

    groups = ", ".join(
        f"EVPPI {group} {millions(one['evppi'].sel(group=group))}"
        for group in one["group"].to_numpy().tolist()
    )
    return f"{opening}: EVPI {millions(one['evpi'])} (MC SE {millions(one['evpi_se'])}), {groups}"
