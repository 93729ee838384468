"""Reading a run directory for the report (sim.report.outputs.read_run, through write_report):
a directory with neither estimates.nc nor projection.nc is an error, and nothing is written."""

from __future__ import annotations

import re

import pytest

from sim.report import write_report


def test_a_directory_without_outputs_is_an_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path))}: no estimates.nc or "):
        write_report(tmp_path, figures={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
