"""The event-study figure (sim.figures.event_study_figure), drawn from a real run's stored
estimates: the artists read back are compared with numbers computed here from the stored files."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import LineCollection

from sim.cli import main
from sim.estimators import ESTIMATORS
from sim.figures import draw_run_figures, event_study_figure
from sim.figures.style import OKABE_ITO
from tests.sim.figures.figure_helpers import (
    by_gid,
    estimates_fixture,  # noqa: F401 (a fixture)
    one,
)


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
    stored = xr.load_dataset(out / "estimates.nc").sel(estimator="twfe", estimand="intensity")
    drawn = figure.axes[0].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(
        drawn, stored["estimate"].where(stored["se"].notnull()).dropna("event_time")
    )
    assert not by_gid(figure, "truth")  # a user's panel has no simulated truth


def test_event_study_refuses_an_estimator_not_fitted(estimates):
    with pytest.raises(ValueError, match=r"estimator\(s\) bogus not in the estimates"):
        event_study_figure(estimates, estimators=["twfe", "bogus"])
