"""The report's break-even and sensitivity tables (sim.report.decision_tables), from a copy of
the small run with breakeven.nc and sensitivity.nc computed here."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sim.breakeven import breakeven
from sim.decision_settings import DecisionSettings
from sim.formatting import format_number, format_range
from sim.report.html import write_report
from sim.rundir import read_config, read_response_path
from sim.sensitivity import sensitivity
from tests.sim.report.test_html import parse_report


@pytest.fixture(scope="module")
def decided(small_run, tmp_path_factory):
    directory = tmp_path_factory.mktemp("decided") / "run"
    shutil.copytree(small_run, directory)
    config = read_config(directory)
    first, last = config.estimation.cumulative
    response = read_response_path(directory, config.projection.estimator, first, last)
    decision = DecisionSettings(sobol_samples=16, resamples=10, chunk_size=50, max_horizon=104)
    found = breakeven(config.projection, response, decision=decision)
    spread = sensitivity(config.projection, response, decision, config.seed)
    found.to_netcdf(directory / "breakeven.nc")
    spread.to_netcdf(directory / "sensitivity.nc")
    write_report(directory)
    return parse_report(directory / "report.html"), found, spread


def test_breakeven_tables_show_the_stored_intervals(decided):
    page, found, _ = decided
    for opening in ("status_quo", "no_programme"):
        rows = page.tables[f"breakeven-{opening.replace('_', '-')}"]["rows"]
        assert len(rows) == found.sizes["parameter"]
        for row, name in zip(rows, found["parameter"].to_numpy().tolist(), strict=True):
            stored = found.sel(opening=opening, parameter=name)
            limit = float(stored["parameter_limit"])
            assert row[0].startswith(name)
            assert row[2] == format_range(stored["optimal_low"], stored["optimal_high"], limit)
            assert row[3] == format_range(
                stored["beats_none_low"], stored["beats_none_high"], limit
            )


def test_sensitivity_table_shows_each_total_index(decided):
    page, _, spread = decided
    rows = page.tables["sensitivity"]["rows"]
    assert [row[0] for row in rows] == spread["input"].to_numpy().tolist()
    for row in rows:
        for k, (opening, output) in enumerate(
            [
                (o, q)
                for o in ("status_quo", "no_programme")
                for q in ("saving", "optimal_intensity")
            ]
        ):
            total = float(spread["ST"].sel(opening=opening, output=output, input=row[0]))
            assert row[2 + k].startswith(format_number(total, 2))
    assert np.isfinite(spread["evpi"]).all()
