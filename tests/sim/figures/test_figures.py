"""The figures: each draws what it claims, from a real run's stored outputs.

Every check reads the artists back (data, labels, gids) and compares them with numbers
computed here from the stored files, not with the figure code's own intermediate results.
"""

from __future__ import annotations

import json
import shutil

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.cli import main
from sim.config import FigureSettings
from sim.estimators import ESTIMATORS
from sim.figures import (
    CAPTIONS,
    cost_by_intensity_figure,
    default_fan_intensities,
    draw_run_figures,
    event_study_figure,
    goodwill_fan_figure,
    response_path_figure,
    save_figure,
    spend_trajectories_figure,
    write_run_figures,
)
from sim.figures.style import OKABE_ITO


def by_gid(figure: Figure, gid: str) -> list:
    return figure.findobj(lambda artist: artist.get_gid() == gid)


def one(figure: Figure, gid: str):
    found = by_gid(figure, gid)
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def polygon_y_range(collection: PolyCollection) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between polygon, sorted by x."""
    vertices = collection.get_paths()[0].vertices
    frame = pd.DataFrame(vertices, columns=["x", "y"]).groupby("x")["y"]
    return frame.min().to_numpy(), frame.max().to_numpy()


@pytest.fixture(scope="module")
def estimates(small_run) -> xr.Dataset:
    return xr.load_dataset(small_run / "estimates.nc")


@pytest.fixture(scope="module")
def projection(small_run) -> xr.Dataset:
    return xr.load_dataset(small_run / "projection.nc")


# --- event study -------------------------------------------------------------------------


def test_event_study_draws_each_estimator_with_its_intervals(estimates):
    figure = event_study_figure(estimates)
    names = estimates["estimator"].values.tolist()
    assert names == ["twfe", "callaway_santanna", "sun_abraham", "imputation"]
    ax = figure.axes[0]
    assert len(ax.containers) == len(names)  # one errorbar series per estimator
    twfe = estimates.sel(estimator="twfe")
    lo, hi = int(twfe["window_low"]), int(twfe["window_high"])  # binned: the default window
    assert (lo, hi) == (-4, 12) and twfe["bin_endpoints"]
    for name, container in zip(names, ax.containers, strict=True):
        stored = estimates.sel(estimator=name, event_time=slice(lo, hi))
        drawn = stored["se"].notnull().to_numpy()
        x, y = container.lines[0].get_data()
        assert container.lines[0].get_gid() == f"estimate:{name}"
        np.testing.assert_allclose(y, stored["estimate"].to_numpy()[drawn], rtol=1e-12)
        np.testing.assert_allclose(
            np.round(x), stored["event_time"].to_numpy()[drawn], atol=0
        )  # dodged around the integer event time
        segments = np.array(container.lines[2][0].get_segments())  # the CI bars
        np.testing.assert_allclose(segments[:, 0, 1], stored["ci_low"].to_numpy()[drawn])
        np.testing.assert_allclose(segments[:, 1, 1], stored["ci_high"].to_numpy()[drawn])
        colour = mcolors.to_hex(container.lines[0].get_color()).upper()
        assert colour in OKABE_ITO.values()
        assert colour == OKABE_ITO[ESTIMATORS[name].colour]


def test_event_study_dodges_estimators_at_each_event_time(estimates):
    figure = event_study_figure(estimates)
    x_at_zero = [
        container.lines[0].get_xdata()[np.round(container.lines[0].get_xdata()) == 0][0]
        for container in figure.axes[0].containers
    ]
    assert len(set(np.round(x_at_zero, 9))) == len(x_at_zero)
    assert max(x_at_zero) - min(x_at_zero) < 1  # still read as event time 0


def test_event_study_marks_references_bands_truth_and_onset(estimates):
    figure = event_study_figure(estimates)
    # Reference periods (estimate 0 without an SE): TWFE and Sun-Abraham at ref = -1.
    ref = int(estimates["ref"].sel(estimator="twfe"))
    for name in ("twfe", "sun_abraham"):
        x, y = one(figure, f"reference:{name}").get_data()
        assert np.round(x).tolist() == [ref] and y.tolist() == [0.0]
    assert not by_gid(figure, "reference:callaway_santanna")
    # Only Callaway-Sant'Anna stores a uniform band; it is wider than its pointwise CI.
    band = one(figure, "uniform_band:callaway_santanna")
    assert isinstance(band, LineCollection)
    stored = estimates.sel(estimator="callaway_santanna", event_time=slice(-4, 12))
    segments = np.array(band.get_segments())
    np.testing.assert_allclose(segments[:, 0, 1], stored["band_low"].dropna("event_time"))
    assert (stored["band_high"] - stored["band_low"] > stored["ci_high"] - stored["ci_low"]).all()
    for name in ("twfe", "sun_abraham", "imputation"):
        assert not by_gid(figure, f"uniform_band:{name}")
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts[-1] == "Callaway–Sant'Anna: 95% uniform band" and len(texts) == 6
    truth = one(figure, "truth")
    np.testing.assert_allclose(
        truth.get_ydata(), estimates["truth"].sel(event_time=slice(-4, 12)).to_numpy()
    )
    assert one(figure, "onset").get_xdata()[0] == -0.5


def test_event_study_legend_gives_each_multiplier_and_the_truth(estimates):
    figure = event_study_figure(estimates, estimators=["twfe", "imputation"])
    legend = figure.legends[0]
    texts = [t.get_text().replace("\u2212", "-") for t in legend.get_texts()]
    for name in ("twfe", "imputation"):
        multiplier = float(estimates["cumulative_estimate"].sel(estimator=name))
        low = float(estimates["cumulative_ci_low"].sel(estimator=name))
        assert any(f"{multiplier:.2f} [{low:.2f}" in text for text in texts), texts
    truth = float(estimates["truth"].sel(event_time=slice(0, 11)).sum())
    assert any(text.endswith(f"{truth:.2f}") and "truth" in text for text in texts)
    assert len(texts) == 3  # two estimators and the truth: no band without CS
    assert "12 weeks" in legend.get_title().get_text()
    ax = figure.axes[0]
    assert "yuan per yuan of counterfeit" in ax.get_ylabel()
    assert "Weeks" in ax.get_xlabel()


def test_event_study_in_yuan_per_buyer_from_a_fit_directory(small_run, tmp_path):
    out = tmp_path / "fit"
    argv = ["fit", str(small_run / "panel.parquet"), "--intensity", "none", "--out", str(out)]
    assert main(argv) == 0
    figures = draw_run_figures(out)
    assert list(figures) == ["event_study"]  # no trajectories or projection stored there
    figure = figures["event_study"]
    assert "(yuan per buyer)" in figure.axes[0].get_ylabel()
    assert "yuan per buyer" in figure.legends[0].get_title().get_text()
    stored = xr.load_dataset(out / "estimates.nc").sel(estimator="twfe")
    drawn = figure.axes[0].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(
        drawn, stored["estimate"].where(stored["se"].notnull()).dropna("event_time")
    )
    assert not by_gid(figure, "truth")  # a user's panel has no simulated truth


def test_event_study_refuses_an_estimator_not_fitted(estimates):
    with pytest.raises(ValueError, match=r"estimator\(s\) bogus not in the estimates"):
        event_study_figure(estimates, estimators=["twfe", "bogus"])


# --- spend trajectories --------------------------------------------------------------------


def test_spend_trajectories_draw_the_stored_means(small_run):
    table = pd.read_csv(small_run / "spend_trajectories.csv", index_col="event_time")
    figure = spend_trajectories_figure(table, window=(-4, 12))
    shown = table.loc[-4:12]
    for column in ("treated", "counterfactual", "never_treated"):
        x, y = one(figure, column).get_data()
        np.testing.assert_array_equal(x, shown.index.to_numpy())
        np.testing.assert_allclose(y, shown[column].to_numpy())
    low, high = polygon_y_range(one(figure, "lost_spend"))
    after = shown.loc[0:]
    np.testing.assert_allclose(low, np.minimum(after["treated"], after["counterfactual"]))
    np.testing.assert_allclose(high, np.maximum(after["treated"], after["counterfactual"]))
    assert figure.axes[0].get_ylabel() == "Mean weekly spend (yuan)"


def test_spend_trajectories_without_a_counterfactual_draw_two_lines(small_run):
    table = pd.read_csv(small_run / "spend_trajectories.csv", index_col="event_time")
    figure = spend_trajectories_figure(table.drop(columns="counterfactual"))
    lines = [line.get_gid() for line in figure.axes[0].get_lines()]
    assert lines == ["onset", "treated", "never_treated"]
    assert not by_gid(figure, "lost_spend")


# --- projection figures --------------------------------------------------------------------


def test_response_path_shows_the_fitted_path_and_the_draws(projection, estimates):
    figure = response_path_figure(projection, estimates)
    x, y = one(figure, "fitted").get_data()
    np.testing.assert_array_equal(x, np.arange(0, 12))
    np.testing.assert_allclose(
        y, estimates["estimate"].sel(estimator="twfe", event_time=slice(0, 11)).to_numpy()
    )
    paths = projection["response_path"].to_numpy()
    low, high = polygon_y_range(one(figure, "band_90"))
    np.testing.assert_allclose(low, np.quantile(paths, 0.05, axis=0))
    np.testing.assert_allclose(high, np.quantile(paths, 0.95, axis=0))
    np.testing.assert_allclose(one(figure, "median").get_ydata(), np.median(paths, axis=0))
    title = figure.axes[0].get_legend().get_title().get_text().replace("\u2212", "-")
    assert f"{projection.attrs['response_multiplier']:.2f}" in title


def test_fan_chart_draws_median_and_bands_of_the_cumulative_loss(projection):
    assert default_fan_intensities(projection) == [0.0, 1.0, 4.75]
    figure = goodwill_fan_figure(projection, intensities=[0.0, 2.0])
    medians = [a for a in figure.findobj(Line2D) if str(a.get_gid()).startswith("median:")]
    assert [m.get_gid() for m in medians] == ["median:0", "median:2"]
    cumulative = projection["goodwill_loss"].cumsum("week")
    ylabel = figure.axes[0].get_ylabel()
    scale = 1e6 if "million yuan" in ylabel else 1e9 if "billion yuan" in ylabel else None
    assert scale is not None, ylabel
    for intensity, line in zip([0.0, 2.0], medians, strict=True):
        expected = cumulative.sel(intensity=intensity).median("draw").to_numpy() / scale
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
        np.testing.assert_array_equal(line.get_xdata(), projection["week"].to_numpy() + 1)
        low, high = polygon_y_range(one(figure, f"band_50:{intensity:g}"))
        values = cumulative.sel(intensity=intensity).to_numpy() / scale
        np.testing.assert_allclose(low, np.quantile(values, 0.25, axis=0))
        np.testing.assert_allclose(high, np.quantile(values, 0.75, axis=0))
        assert by_gid(figure, f"band_90:{intensity:g}")
    assert "present value" in ylabel
    with pytest.raises(ValueError, match=r"intensity 0\.3 was not projected"):
        goodwill_fan_figure(projection, intensities=[0.3])


def test_cost_figure_marks_the_optimum_and_the_per_draw_optima(projection):
    figure = cost_by_intensity_figure(projection)
    top, bottom = figure.axes
    total = projection["total_cost"].sum("week")  # (intensity, draw)
    mean = total.mean("draw")
    best = float(projection["intensity"][int(mean.argmin("intensity"))])
    x, y = one(figure, "optimum").get_data()
    assert x.tolist() == [best]
    scale = 1e9 if "billion" in top.get_ylabel() else 1e6
    np.testing.assert_allclose(y, [float(mean.min()) / scale])
    np.testing.assert_allclose(one(figure, "total_cost").get_ydata(), mean.to_numpy() / scale)
    low, high = polygon_y_range(one(figure, "interval"))
    np.testing.assert_allclose(low, total.quantile(0.05, "draw").to_numpy() / scale)
    np.testing.assert_allclose(high, total.quantile(0.95, "draw").to_numpy() / scale)
    enforcement = projection["enforcement_cost"].sum("week").to_numpy() / scale
    np.testing.assert_allclose(one(figure, "enforcement_cost").get_ydata(), enforcement)
    # The bars: each draw's own cheapest intensity, counted here from total_cost.
    cheapest = projection["intensity"].to_numpy()[total.argmin("intensity").to_numpy()]
    share = [100 * np.mean(cheapest == x) for x in projection["intensity"].to_numpy()]
    bars = [patch.get_height() for patch in bottom.patches]
    np.testing.assert_allclose(bars, share)
    assert sum(bars) == pytest.approx(100)
    assert "Lowest mean cost" in top.get_legend().get_texts()[-1].get_text()
    assert "intensity" in bottom.get_xlabel() and "%" in bottom.get_ylabel()


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


# --- a run's figures ---------------------------------------------------------------------


def test_draw_run_figures_draws_every_kind_the_outputs_allow(small_run, tmp_path):
    figures = draw_run_figures(small_run)
    assert list(figures) == list(CAPTIONS)
    only_estimates = tmp_path / "fit"
    only_estimates.mkdir()
    shutil.copy(small_run / "estimates.nc", only_estimates)
    assert list(draw_run_figures(only_estimates)) == ["event_study"]
    with pytest.raises(ValueError, match="nothing to draw"):
        draw_run_figures(tmp_path / "empty")


def test_figures_follow_the_configured_size_and_type(small_run):
    settings = FigureSettings(width=7.0, height=3.0, font_size=10.0)
    figures = draw_run_figures(small_run, settings)
    for kind, figure in figures.items():
        width, height = figure.get_size_inches()
        assert width == 7.0
        assert height == 3.0 if kind != "event_study" else height > 3.0  # legend below
        ax = figure.axes[0]
        assert ax.xaxis.label.get_fontsize() == 10.0 or kind == "cost_by_intensity"
        assert ax.yaxis.label.get_fontsize() == 10.0
        tick = ax.yaxis.get_major_ticks()[0]
        assert tick.label1.get_fontsize() == 9.0


def test_write_run_figures_saves_each_format_reproducibly(small_run, tmp_path):
    out = tmp_path / "figures"
    (out).mkdir()
    (out / "goodwill_fan.pdf").write_text("stale")  # a previous run's file of a kind/format
    files = write_run_figures(small_run, output=out, formats=["png", "pdf", "svg"])
    assert sorted(f.name for f in files) == sorted(
        f"{kind}.{fmt}" for kind in CAPTIONS for fmt in ("png", "pdf", "svg")
    )
    magic = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}
    for path in files:
        assert path.read_bytes().startswith(magic[path.suffix])
    assert b'id="optimum"' in (out / "cost_by_intensity.svg").read_bytes()
    first = {path.name: path.read_bytes() for path in files}
    # Redrawn, PNG and PDF files are bit-identical (SVG clip-path ids follow object ids).
    again = write_run_figures(small_run, output=out, formats=["png", "pdf"])
    assert {p.name: p.read_bytes() for p in again} == {p.name: first[p.name] for p in again}
    assert not list(out.glob("*.svg"))  # formats not drawn this time are removed
    assert not list(out.glob(".*.tmp"))
    assert png_size(out / "cost_by_intensity.png") == (1050, 780)  # 3.5 x 2.6 in, 300 dpi


def test_save_figure_refuses_an_unknown_format(tmp_path, estimates):
    with pytest.raises(ValueError, match=r"expected a \.png, \.pdf or \.svg file"):
        save_figure(event_study_figure(estimates), tmp_path / "figure.jpg")
    assert not list(tmp_path.iterdir())


def test_run_draws_its_figures_and_lists_them_in_the_manifest(small_run):
    manifest = json.loads((small_run / "manifest.json").read_text())
    expected = [f"{kind}.{fmt}" for kind in CAPTIONS for fmt in ("png", "pdf", "svg")]
    assert manifest["figures"] == expected
    assert sorted(p.name for p in (small_run / "figures").iterdir()) == sorted(expected)
    assert manifest["timings"]["figures_s"] > 0


def test_figures_command_redraws_into_a_folder(small_run, tmp_path, capsys):
    out = tmp_path / "readme"
    assert main(["figures", str(small_run), "--output", str(out), "--format", "png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{kind}.png" for kind in CAPTIONS)
    assert f"wrote {out}/" in capsys.readouterr().out
    assert main(["figures", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nothing to draw" in error


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


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
            "fan_intensities = [0.0, 0.3]",
            "figures.fan_intensities[1] = 0.3 is not among projection.intensities",
        ),
        ("width = 3.5 ", "width = 0.0 ", "figures.width: Input should be greater than 0"),
    ],
)
def test_figure_settings_are_validated(write_config, capsys, old, new, message):
    path = write_config(**{old: new})
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err
