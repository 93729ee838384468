"""A run's figures (sim.figures.run_figures): drawn from a real run's stored outputs, saved in
each format reproducibly, the `goodwill figures` command and the [figures] settings."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim.cli import main
from sim.figures import (
    CAPTIONS,
    cost_by_intensity_figure,
    draw_run_figures,
    event_study_figure,
    goodwill_fan_figure,
    response_path_figure,
    save_figure,
    spend_trajectories_figure,
    write_run_figures,
)
from sim.owned_directory import DirectoryError
from tests.sim.figures.figure_helpers import (
    by_gid,
    estimates_fixture,  # noqa: F401 (a fixture)
    png_size,
    projection_fixture,  # noqa: F401 (a fixture)
)

DRAWN = [kind for kind in CAPTIONS if kind != "trend_sensitivity"]
"""The kinds a run draws without [estimation.sensitivity] (tests/sim/test_trend_sensitivity.py)."""


def test_each_figure_can_draw_into_axes_of_your_own(small_run, estimates, projection):
    trajectories = pd.read_csv(small_run / "spend_trajectories.csv", index_col="event_time")
    mine = Figure(figsize=(10, 8))
    grid = mine.subplots(3, 2)
    drawn = [
        event_study_figure(estimates, ax=grid[0, 0]),
        spend_trajectories_figure(trajectories, ax=grid[0, 1]),
        response_path_figure(projection, estimates, ax=grid[1, 0]),
        goodwill_fan_figure(projection, ax=grid[1, 1]),
        cost_by_intensity_figure(projection, axes=(grid[2, 0], grid[2, 1])),
    ]
    assert all(figure is mine for figure in drawn)
    assert len(mine.axes) == 6 and not mine.legends  # the legends stay on their axes
    assert len(grid[0, 0].containers) == 4 and grid[0, 0].get_legend() is not None
    assert by_gid(mine, "optimum")[0].axes is grid[2, 0]
    assert grid[2, 1].patches and "%" in grid[2, 1].get_ylabel()


def test_draw_run_figures_draws_every_kind_the_outputs_allow(small_run, tmp_path):
    figures = draw_run_figures(small_run)
    assert list(figures) == DRAWN
    only_estimates = tmp_path / "fit"
    only_estimates.mkdir()
    shutil.copy(small_run / "estimates.nc", only_estimates)
    assert list(draw_run_figures(only_estimates)) == ["event_study"]
    with pytest.raises(ValueError, match="nothing to draw"):
        draw_run_figures(tmp_path / "empty")


def test_write_run_figures_saves_each_format_reproducibly(small_run, tmp_path):
    out = tmp_path / "figures"
    files = write_run_figures(small_run, output=out, formats=["png", "pdf", "svg"])
    assert sorted(f.name for f in files) == sorted(
        f"{kind}.{fmt}" for kind in DRAWN for fmt in ("png", "pdf", "svg")
    )
    magic = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}
    for path in files:
        assert path.read_bytes().startswith(magic[path.suffix])
    assert b'id="optimum"' in (out / "cost_by_intensity.svg").read_bytes()
    first = {path.name: path.read_bytes() for path in files}
    # Redrawn, PNG and PDF files are bit-identical (SVG clip-path ids follow object ids).
    again = write_run_figures(small_run, output=out, formats=["png", "pdf"])
    assert {p.name: p.read_bytes() for p in again} == {p.name: first[p.name] for p in again}
    assert not list(out.glob("*.svg"))  # formats goodwill drew before but not now are removed
    assert not list(out.glob(".*.tmp"))
    assert png_size(out / "cost_by_intensity.png") == (1050, 780)  # 3.5 x 2.6 in, 300 dpi


def test_save_figure_refuses_an_unknown_format(tmp_path, estimates):
    with pytest.raises(ValueError, match=r"expected a \.png, \.pdf or \.svg file"):
        save_figure(event_study_figure(estimates), tmp_path / "figure.jpg")
    assert not list(tmp_path.iterdir())


def test_a_folder_goodwill_did_not_write_is_refused_or_adopted_and_kept(small_run, tmp_path):
    out = tmp_path / "figures"
    out.mkdir()
    (out / "goodwill_fan.pdf").write_text("someone else's")
    (out / "notes.txt").write_text("someone else's")
    with pytest.raises(DirectoryError, match=r"figures: not empty .* not a goodwill directory"):
        write_run_figures(small_run, output=out, formats=["png"])
    assert sorted(p.name for p in out.iterdir()) == ["goodwill_fan.pdf", "notes.txt"]
    assert (
        main(["figures", str(small_run), "--output", str(out), "--format", "png", "--adopt"]) == 0
    )
    names = {p.name for p in out.iterdir()}
    assert {"goodwill_fan.pdf", "notes.txt"} | {f"{kind}.png" for kind in DRAWN} <= names
    assert (out / "goodwill_fan.pdf").read_text() == "someone else's"  # not goodwill's: kept


def test_run_draws_its_figures_and_lists_them_in_the_manifest(small_run):
    manifest = json.loads((small_run / "manifest.json").read_text())
    expected = [f"{kind}.{fmt}" for kind in DRAWN for fmt in ("png", "pdf", "svg")]
    assert [f for f in manifest["files"] if f.startswith("figures/")] == [
        f"figures/{name}" for name in sorted(expected)
    ]
    assert sorted(p.name for p in (small_run / "figures").iterdir()) == sorted(expected)
    assert manifest["timings"]["figures_s"] > 0


def test_figures_command_redraws_into_a_folder(small_run, tmp_path, capsys):
    out = tmp_path / "readme"
    assert main(["figures", str(small_run), "--output", str(out), "--format", "png"]) == 0
    drawn = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert drawn == sorted(f"{kind}.png" for kind in DRAWN)
    assert f"wrote {out}/" in capsys.readouterr().out
    assert main(["figures", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing: no such run directory" in error
    assert not (tmp_path / "missing").exists()


def test_figures_command_can_take_another_configs_figure_settings(
    small_run, write_config, tmp_path
):
    path = write_config(**{"width = 3.5 ": "width = 7.0 ", "dpi = 300 ": "dpi = 100 "})
    out = tmp_path / "wide"
    argv = ["figures", str(small_run), "--output", str(out), "--format", "png"]
    assert main([*argv, "--config", str(path)]) == 0
    assert png_size(out / "goodwill_fan.png") == (700, 260)
    assert main(argv) == 0  # the run's own [figures]: 3.5 x 2.6 inches at 300 dpi
    assert png_size(out / "goodwill_fan.png") == (1050, 780)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('formats = ["png", "pdf", "svg"]', 'formats = ["png", "gif"]', "figures.formats[1]"),
        (
            "fan_intensities = [0.0, 1.0, 4.75]",
            "fan_intensities = [0.0, 0.33]",
            "figures.fan_intensities[1] = 0.33 is not among projection.intensities",
        ),
        ("width = 3.5 ", "width = 0.0 ", "figures.width: Input should be greater than 0"),
    ],
)
def test_figure_settings_are_validated(write_config, capsys, old, new, message):
    path = write_config(**{old: new})
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err
