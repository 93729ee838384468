"""Global sensitivity and value of information of the enforcement decision.

Which uncertain inputs drive the platform's total cost and its cost-minimising intensity, and
what learning them would be worth. The inputs
(:data:`sim.decision_settings.DECISION_INPUTS`, uniform over the ranges of ``[decision]
ranges``) are five market parameters, the response path's scale and six assumptions of the
platform's scope. Each row of a Saltelli design (:mod:`sim.sobol`) is
one set of inputs; its **expected** costs given them (:func:`models.market.cost_paths.
expected_totals`, the fitted mean response path times the scale) are computed at
every intensity of ``projection.intensities`` (plus the status quo and zero), for both
openings, over the projection's horizon plus the terminal value.

Every input enters one evaluation per row as an array: the market's and the platform's fields
(``cost_per_fake`` as ``brand_cost_per_fake``) and the path's scale.

Outputs by opening: the total cost at the status quo and with no programme, the saving of the
status quo over no programme, and the cost-minimising intensity on a continuum (golden section
to :data:`TOLERANCE`). Sobol indices of each; the EVPI of the choice among the grid's
intensities, and the EVPPI of the input groups (market, response, platform), estimated on the
design's 2 N independent A and B rows (:mod:`sim.value_of_information`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from models import ResponsePath
from models.market.cost_paths import expected_totals
from models.market.enforcement import WEEKS_PER_YEAR, EnforcementModel
from models.market.optimum import continuous_minimum
from models.streams import Stream, block_generator
from sim.config import ProjectionSettings
from sim.decision_settings import DECISION_INPUTS, DecisionSettings
from sim.projection import OPENINGS
from sim.sobol import INDICES, base_rows, sobol_design, sobol_indices
from sim.value_of_information import evpi, evppi

OUTPUTS = ("cost_status_quo", "cost_no_programme", "saving", "optimal_intensity")
"""What the indices are of, by opening (yuan, present value; the intensity in multiples of
the 2016 programme)."""
GROUPS = ("market", "response", "platform")
MARKET = tuple(n for n, spec in DECISION_INPUTS.items() if spec[0] == "market")
PLATFORM = tuple(n for n, spec in DECISION_INPUTS.items() if spec[0] == "platform")
TOLERANCE = 1e-3
"""Width, in intensity units, of the continuous optimum's final bracket."""


def check_bounds(bounds: dict[str, tuple[float, float]], market: EnforcementModel) -> None:
    """A clear error unless every corner of the ranges is a valid market and platform."""
    d_high, (m_low, m_high) = bounds["detection_2016"][1], bounds["detection_max"]
    if d_high >= m_low:
        raise ValueError(
            f"decision.ranges: detection_2016 up to {d_high} must stay below detection_max "
            f"from {m_low}"
        )
    if m_high + bounds["exit_rate"][1] > 1:
        raise ValueError("decision.ranges: detection_max + exit_rate must be at most 1")
    if d_high * market.sanction >= market.profit_per_week:
        raise ValueError(
            f"decision.ranges: detection_2016 up to {d_high} makes the expected penalty exceed "
            "profit_per_week"
        )
    limits = {"take_rate": 1.0, "churn_probability": 1.0, "discount_rate": 0.999,
              "reputation_loss": 1e-2, "exit_rate": 0.999}  # fmt: skip
    for name, (low, high) in bounds.items():
        if low < 0 or high > limits.get(name, np.inf):
            raise ValueError(
                f"decision.ranges.{name} = [{low}, {high}]: expected values in "
                f"[0, {limits.get(name, np.inf)}]"
            )


def decision_costs(
    settings: ProjectionSettings,
    path: np.ndarray,
    rows: np.ndarray,
    intensities: np.ndarray,
) -> tuple[np.ndarray, callable]:
    """Expected total cost of each row of inputs at each intensity, and the cost function.

    Parameters
    ----------
    settings : ProjectionSettings
        Supplies every parameter that is not an input.
    path : ndarray, shape (horizon,)
        The mean per-yuan response path (scaled by each row's ``response_scale``).
    rows : ndarray, shape (m, D)
        Inputs in the order of :data:`sim.decision_settings.DECISION_INPUTS`.
    intensities : ndarray, shape (k,)

    Returns
    -------
    costs : ndarray, shape (m, 2, k)
        Yuan, present value at week 0, by (row, opening, intensity).
    cost : callable
        Maps intensities of shape (m, 2, j) to costs of that shape (for the optimum).
    """
    value = {name: rows[:, j, None, None] for j, name in enumerate(DECISION_INPUTS)}
    market = settings.market.market(**{name: value[name] for name in MARKET})
    fields = {"brand_cost_per_fake" if n == "cost_per_fake" else n: value[n] for n in PLATFORM}
    platform = settings.platform.platform(**fields)
    scaled = path * value["response_scale"][..., None]

    def cost(x: np.ndarray) -> np.ndarray:
        return expected_totals(
            market,
            platform,
            scaled,
            x,
            np.array([settings.status_quo, 0.0])[:, None],
            settings.n_weeks,
            settings.market.programme_cost / WEEKS_PER_YEAR,
        ).total_cost()

    return cost(np.asarray(intensities, dtype=float)), cost


def evaluate_design(
    settings: ProjectionSettings,
    path: np.ndarray,
    rows: np.ndarray,
    chunk_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Costs on the grid and the continuous optimum of every row, chunk by chunk.

    Returns
    -------
    intensities : ndarray, shape (k,)
        The grid (``projection.intensities``, the status quo and 0, sorted).
    costs : ndarray, shape (n, 2, k)
    optimum : ndarray, shape (n, 2)
        Each row's cost-minimising intensity on a continuum within the grid's range.
    """
    grid = np.unique(np.concatenate([settings.intensities, [settings.status_quo, 0.0]]))
    costs = np.empty((rows.shape[0], len(OPENINGS), grid.size))
    optimum = np.empty((rows.shape[0], len(OPENINGS)))
    for start in range(0, rows.shape[0], chunk_size):
        chunk = slice(start, start + chunk_size)
        costs[chunk], cost = decision_costs(settings, path, rows[chunk], grid)
        optimum[chunk] = continuous_minimum(cost, grid, costs[chunk], TOLERANCE)[0]
    return grid, costs, optimum


def sensitivity(
    settings: ProjectionSettings,
    response: ResponsePath,
    decision: DecisionSettings,
    seed: int,
) -> xr.Dataset:
    """Sobol indices, EVPI and EVPPI of the enforcement decision.

    Parameters
    ----------
    settings : ProjectionSettings
        The projection (market, platform, intensities, status quo, horizon).
    response : ResponsePath
        The fitted response; its mean path, scaled by the ``response_scale`` input.
    decision : DecisionSettings
        Input ranges, base samples, bootstrap resamples, confidence, chunk size.
    seed : int
        The config's seed (stream :attr:`models.streams.Stream.DECISION`).

    Returns
    -------
    xarray.Dataset
        ``S1``, ``ST`` and the half-widths of their intervals (``S1_conf``, ``ST_conf``) by
        (opening, output, input); ``evpi`` and ``evpi_se`` by opening; ``evppi`` and
        ``evppi_se`` by (opening, group); the outputs' mean and sd by (opening, output); the
        inputs' ranges and groups as coordinates.
    """
    bounds = decision.bounds
    check_bounds(bounds, settings.market)
    rows = sobol_design(bounds, decision.sobol_samples, block_generator(seed, 0, Stream.DECISION))
    grid, costs, optimum = evaluate_design(settings, response.mean, rows, decision.chunk_size)
    status_quo = int(np.flatnonzero(grid == settings.status_quo)[0])
    none = int(np.flatnonzero(grid == 0.0)[0])
    outputs = np.stack(
        [
            costs[..., status_quo],
            costs[..., none],
            costs[..., none] - costs[..., status_quo],
            optimum,
        ],
        axis=-1,
    )
    indices = sobol_indices(
        bounds,
        outputs,
        block_generator(seed, 1, Stream.DECISION),
        decision.resamples,
        decision.confidence,
    )
    sample = base_rows(rows.shape[0], len(bounds))
    value, value_se = evpi(costs[sample])
    partial, partial_se = [], []
    rng = block_generator(seed, 2, Stream.DECISION)
    for group in GROUPS:
        columns = [j for j, spec in enumerate(DECISION_INPUTS.values()) if spec[0] == group]
        found = evppi(costs[sample], rows[np.ix_(sample, columns)], rng, decision.resamples)
        partial.append(found[0])
        partial_se.append(found[1])
    cube = ("opening", "output", "input")
    data = {name: (cube, indices[name], {"units": "share of variance"}) for name in INDICES}
    pv = "yuan, present value at week 0"
    data.update(
        evpi=("opening", value, {"units": pv}),
        evpi_se=("opening", value_se, {"units": f"{pv}; Monte-Carlo standard error"}),
        evppi=(("opening", "group"), np.stack(partial, -1), {"units": pv}),
        evppi_se=(("opening", "group"), np.stack(partial_se, -1), {"units": f"{pv}; bootstrap"}),
        output_mean=(("opening", "output"), outputs.mean(axis=0)),
        output_sd=(("opening", "output"), outputs.std(axis=0, ddof=1)),
    )
    return xr.Dataset(
        data,
        coords={
            "opening": list(OPENINGS),
            "output": list(OUTPUTS),
            "input": list(bounds),
            "input_group": ("input", [DECISION_INPUTS[name][0] for name in bounds]),
            "input_low": ("input", [low for low, _ in bounds.values()]),
            "input_high": ("input", [high for _, high in bounds.values()]),
            "group": list(GROUPS),
        },
        attrs={
            "sobol_samples": decision.sobol_samples,
            "evaluations": rows.shape[0],
            "voi_samples": sample.size,
            "resamples": decision.resamples,
            "confidence": decision.confidence,
            "seed": seed,
            "intensities": grid,
            "n_weeks": settings.n_weeks,
            "response_multiplier": response.multiplier,
            "basis": "expected costs given each row's inputs (uniform over their ranges) and "
            "the mean response path times response_scale; Sobol indices by SALib (Saltelli "
            "design, Jansen total order, bootstrap intervals); EVPI and EVPPI (quadratic "
            "regression) of the choice among the grid on the design's A and B rows",
        },
    )


def describe_sensitivity(ds: xr.Dataset) -> str:
    """A printable summary: total and first-order indices of the saving and the optimum,
    EVPI and EVPPI, by opening."""
    level = f"{float(ds.attrs['confidence']):.0%}"
    lines = [
        f"Global sensitivity ({int(ds.attrs['sobol_samples']):,} base samples, "
        f"{int(ds.attrs['evaluations']):,} evaluations of every intensity over "
        f"{int(ds.attrs['n_weeks'])} weeks; Sobol indices with {level} intervals)"
    ]
    for opening in ds["opening"].to_numpy():
        one = ds.sel(opening=opening)
        lines.append(f"\nopening {opening}:")
        header = f"{'input':<20}" + "".join(
            f"{name + ' ' + kind:>30}" for name in ("saving", "optimal_intensity")
            for kind in ("S1", "ST")
        )  # fmt: skip
        lines.append(header)
        for name in ds["input"].to_numpy():
            cells = []
            for output in ("saving", "optimal_intensity"):
                row = one.sel(output=output, input=name)
                for kind in ("S1", "ST"):
                    cells.append(f"{float(row[kind]):>21.3f} +- {float(row[kind + '_conf']):<5.3f}")
            lines.append(f"{name:<20}" + "".join(cells))
        lines.append(
            f"EVPI {float(one['evpi']) / 1e6:,.1f} million yuan (MC se "
            f"{float(one['evpi_se']) / 1e6:,.1f}); EVPPI "
            + ", ".join(
                f"{g} {float(one['evppi'].sel(group=g)) / 1e6:,.1f} "
                f"(se {float(one['evppi_se'].sel(group=g)) / 1e6:,.1f})"
                for g in ds["group"].to_numpy()
            )
        )
    return "\n".join(lines)
