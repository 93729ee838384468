"""[estimation.sensitivity]: validation naming the key, trend_sensitivity.csv equal to HonestDiD
called directly on the same fit, and the file, figure and report section only with the section."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel, ImputationDiD, honest_did_from_results
from sim import load_config, run
from sim.config_files import ConfigError
from sim.estimation_settings import EstimationSettings
from sim.estimators import ESTIMATORS
from sim.figures import CAPTIONS, draw_run_figures, trend_sensitivity_figure
from sim.jobs import fit_panel
from sim.report.html import render_html, write_report
from sim.report.outputs import read_run
from sim.report.trend_sensitivity_table import OPEN_MARK, trend_sensitivity_html
from sim.rundir import FILES, read_manifest, read_trend_sensitivity
from sim.trend_sensitivity import COLUMNS, trend_sensitivity_table

GRID = [0.0, 0.05, 0.1]

ESTIMATION = """
[estimation]
estimators = {estimators}

[estimation.twfe]
bin_endpoints = {bin_endpoints}

[estimation.sensitivity]
{sensitivity}
"""


def config_text(
    directory: Path,
    sensitivity: str | None = f"m = {GRID}",
    estimators: str = '["twfe"]',
    bin_endpoints: str = "false",
) -> str:
    """A small config: 3,000 consumers, the event study alone, PNG figures."""
    text = f"""seed = 7
[panel]
n_consumers = 3000
n_weeks = 22

[figures]
formats = ["png"]
dpi = 60

[output]
directory = "{directory}"
"""
    estimation = ESTIMATION.format(
        estimators=estimators, bin_endpoints=bin_endpoints, sensitivity=sensitivity or ""
    )
    if sensitivity is None:
        estimation = estimation.replace("[estimation.sensitivity]\n", "")
    return text + estimation


@pytest.mark.parametrize(
    ("sensitivity", "estimators", "bin_endpoints", "message"),
    [
        ('estimator = "sun_abraham"', None, "false", r"estimation\.sensitivity\.estimator = "),
        ("", None, "true", r"estimation\.twfe\.bin_endpoints = false"),
        ('estimand = "yuan"', None, "false", r"estimation\.sensitivity\.estimand: "),
        ('restrictions = ["SD", "XX"]', None, "false", r"estimation\.sensitivity\.restrictions"),
        ('restrictions = ["SD", "SD"]', None, "false", r"each restriction at most once"),
        ("m = [0.0, -1.0]", None, "false", r"estimation\.sensitivity\.m: expected values >= 0"),
        ("m = [0.1, 0.0]", None, "false", r"estimation\.sensitivity\.m: expected increasing"),
        ("mbar = [1.0]", None, "false", r"estimation\.sensitivity: mbar is the grid of RM"),
        ('target = "last"', None, "false", r"estimation\.sensitivity\.target: "),
        ("alpha = 0.0", None, "false", r"estimation\.sensitivity\.alpha: "),
        ("grid = [1.0]", None, "false", r"estimation\.sensitivity\.grid: unknown key"),
        (
            'estimator = "imputation"',
            '["twfe", "imputation"]',
            "false",
            r"estimation\.sensitivity\.estimator = 'imputation' needs estimation\.imputation\.le",
        ),
        (
            'estimator = "callaway_santanna"',
            '["callaway_santanna"]',
            "false",
            r"estimation\.callaway_santanna\.base_period = 'universal'",
        ),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(
    tmp_path, sensitivity, estimators, bin_endpoints, message
):
    path = tmp_path / "bad.toml"
    text = config_text(tmp_path / "run", sensitivity, estimators or '["twfe"]', bin_endpoints)
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@pytest.mark.filterwarnings("ignore::models.exceptions.ImputationWarning")
@pytest.mark.parametrize("anticipation", [0, 1])
def test_imputation_with_leads_is_honest_did_on_its_event_study(anticipation):
    """estimation.imputation.leads = 3 fits ImputationDiD.event_study with the three leads
    before the anticipation window (ref the last of them), which HonestDiD then reads (with
    anticipation no effect is estimated inside the window, so HonestDiD refuses the gap)."""
    settings = EstimationSettings.model_validate(
        {"estimators": ["imputation"], "intensity": None, "cumulative": (0, 5),
         "imputation": {"leads": 3, "anticipation": anticipation},
         "sensitivity": {"estimator": "imputation", "m": GRID}}
    )  # fmt: skip
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_500, n_weeks=14, seed=4)
    fitted = ESTIMATORS["imputation"].fit(panel, settings.columns, settings.imputation, 0)
    model = ImputationDiD(panel, **settings.columns.as_kwargs(), anticipation=anticipation)
    ref = -1 - anticipation
    direct = model.event_study(range(ref - 2, ref + 1), ref=ref)
    pd.testing.assert_series_equal(fitted.params, direct.params)
    assert fitted.ref == ref and min(fitted.event_times) == ref - 2
    if anticipation:  # no effect is estimated in the anticipation window: HonestDiD refuses
        with pytest.raises(ValueError, match=r"event times must be consecutive around ref=-2"):
            trend_sensitivity_table(fitted, settings.sensitivity, settings.cumulative)
        return
    table = trend_sensitivity_table(fitted, settings.sensitivity, settings.cumulative)
    expected = honest_did_from_results(direct, "SD", grid=GRID, target=(0, 5), ref=ref)
    np.testing.assert_array_equal(table["lb"].iloc[1:], expected.robust["lb"])
    np.testing.assert_array_equal(table["ub"].iloc[1:], expected.robust["ub"])


def test_the_value_estimand_needs_an_intensity():
    data = {"intensity": None, "twfe": {"bin_endpoints": False}, "sensitivity": {}}
    EstimationSettings.model_validate({**data, "intensity": "fake_value"})
    data["sensitivity"] = {"estimand": "value"}
    with pytest.raises(ValueError, match=r"estimation\.sensitivity\.estimand = 'value' needs"):
        EstimationSettings.model_validate(data)


def test_the_defaults_are_honest_did_s_and_an_absent_section_is_not_dumped(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path / "run", sensitivity=""))
    settings = load_config(path).estimation.sensitivity
    assert (settings.estimator, settings.estimand, settings.restrictions) == (
        "twfe",
        "intensity",
        ["SD"],
    )
    assert (settings.grid("SD"), settings.grid("RM"), settings.target, settings.alpha) == (
        None,
        None,
        "cumulative",
        0.05,
    )
    path.write_text(config_text(tmp_path / "run", sensitivity=None))
    config = load_config(path)
    assert config.estimation.sensitivity is None
    assert "sensitivity" not in config.model_dump_json()
    assert "sensitivity" not in config.model_dump()["estimation"]


@pytest.fixture(scope="module")
def sensitivity_run(tmp_path_factory):
    """A small run with [estimation.sensitivity] (SD on a three-value grid) and its result."""
    base = tmp_path_factory.mktemp("trend_sensitivity")
    path = base / "config.toml"
    path.write_text(config_text(base / "run"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return path, run(path, progress=False)


def test_the_csv_is_honest_did_on_the_run_s_fit(sensitivity_run):
    _, result = sensitivity_run
    table = read_trend_sensitivity(result.directory)
    assert list(table.columns) == COLUMNS
    direct = honest_did_from_results(
        result.estimates["intensity"]["twfe"], "SD", grid=GRID, target=(0, 11), ref=-1
    )
    original, robust = table.iloc[0], table.iloc[1:]
    assert original["method"] == "original" and np.isnan(original["M"])
    assert (original["lb"], original["ub"]) == direct.original
    np.testing.assert_array_equal(robust["M"], GRID)
    np.testing.assert_array_equal(robust["lb"], direct.robust["lb"])
    np.testing.assert_array_equal(robust["ub"], direct.robust["ub"])
    assert list(robust["method"]) == ["FLCI"] * len(GRID)
    np.testing.assert_array_equal(table["breakdown"], direct.breakdown)
    assert set(table["target"]) == {"cumulative 0..11"}
    assert FILES["trend_sensitivity.csv"].stage == "run"
    assert "trend_sensitivity.csv" in read_manifest(result.directory)["files"]
    assert "sensitivity to parallel trends (HonestDiD)" in result.summary


@pytest.mark.filterwarnings("ignore::models.exceptions.FewEffectiveUnitsWarning")
def test_fit_out_writes_the_same_csv(sensitivity_run, tmp_path):
    config_path, result = sensitivity_run
    fitted = fit_panel(result.directory / "panel.parquet", config_path, out=tmp_path / "fit")
    assert tmp_path / "fit" / "trend_sensitivity.csv" in fitted.files
    pd.testing.assert_frame_equal(
        read_trend_sensitivity(tmp_path / "fit"), read_trend_sensitivity(result.directory)
    )


def test_the_figure_and_report_section_appear(sensitivity_run):
    _, result = sensitivity_run
    assert result.directory / "figures" / "trend_sensitivity.png" in result.figures
    assert "trend_sensitivity" in CAPTIONS
    write_report(result.directory)
    html = (result.directory / "report.html").read_text()
    section = html.index('id="section-trend-sensitivity"')  # the figure beside its table
    assert section < html.index('id="figure-trend_sensitivity"') < html.index("</section>", section)
    assert html.count('id="figure-trend_sensitivity"') == 1


def test_the_figure_has_its_artists(sensitivity_run):
    _, result = sensitivity_run
    table = read_trend_sensitivity(result.directory)
    rm = table.assign(restriction="RM", method=["original", "C-LF", "C-LF", "C-LF"])
    rm["lb"], rm["breakdown"] = -np.abs(rm["ub"]) - 10.0, np.nan  # no interval includes 0
    rm["ub"] = rm["lb"] + 1.0
    rm["ub_open"] = [False, False, True, True]  # the last two sets reach the range's top
    rm_rows = rm
    figure = trend_sensitivity_figure(pd.concat([table, rm], ignore_index=True))
    assert len(figure.axes) == 2
    sd, rm = figure.axes
    gids = {artist.get_gid() for artist in sd.get_children() if artist.get_gid()}
    assert {"zero", "original:SD", "robust:SD"} <= gids
    assert ("breakdown:SD" in gids) == (not np.isnan(table["breakdown"].iloc[0]))
    rm_gids = {artist.get_gid() for artist in rm.get_children() if artist.get_gid()}
    assert "robust:RM" in rm_gids and "breakdown:RM" not in rm_gids
    assert "open:SD" not in gids and "open:RM" in rm_gids
    (arrows,) = [line for line in rm.get_lines() if line.get_gid() == "open:RM"]
    np.testing.assert_array_equal(arrows.get_ydata(), rm_rows["ub"].to_numpy()[2:])
    assert sd.get_xticklabels()[0].get_text() == "Orig."
    assert "no breakdown value" in rm.get_title()
    assert sd.get_title().startswith("Smoothness (FLCI)")
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[:3] == ["Original CI", "Robust CI", "Set reaches the tested range's end"]


def test_without_the_section_nothing_is_computed_or_shown(small_run):
    assert not (small_run / "trend_sensitivity.csv").exists()
    assert not (small_run / "figures" / "trend_sensitivity.png").exists()
    assert "trend_sensitivity" not in draw_run_figures(small_run)
    outputs = read_run(small_run)
    assert outputs.trend_sensitivity is None
    assert "trend-sensitivity" not in render_html(outputs, [])


def test_the_report_table_marks_an_interval_cut_at_the_tested_range():
    table = pd.DataFrame(
        {
            "estimator": "twfe",
            "estimand": "intensity",
            "target": "first",
            "restriction": "RM",
            "method": ["original", "C-LF", "C-LF"],
            "M": [np.nan, 0.0, 2.0],
            "lb": [-1.0, -1.5, -4.0],
            "ub": [-0.5, -0.2, 3.0],
            "lb_open": False,
            "ub_open": [False, False, True],
            "breakdown": 2.0,
        }
    )
    html = trend_sensitivity_html(table)
    intervals = [row[3] for row in html.rows]
    assert [cell.endswith(OPEN_MARK) for cell in intervals] == [False, False, True]
    assert f"{OPEN_MARK} The interval reaches the end" in html.note
    closed = trend_sensitivity_html(table.assign(ub_open=False))
    assert OPEN_MARK not in closed.note and not any(OPEN_MARK in row[3] for row in closed.rows)
