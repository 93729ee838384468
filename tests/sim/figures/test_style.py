"""The figures' style (sim.figures.style): figure size and type sizes follow the configured
[figures] settings, read back from a real run's figures."""

from __future__ import annotations

from sim.config import FigureSettings
from sim.figures import draw_run_figures


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
