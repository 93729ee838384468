"""The HTML report and ``write_report``: every figure and table embedded, numbers as stored,
the LaTeX tables written beside it, atomicity (the LaTeX tables themselves: test_latex.py;
reading the run directory: test_outputs.py).

Numbers shown are compared with the stored outputs to half a unit of their last shown decimal
(the rounding of the display), and standard errors must also show at least two significant
digits (a relative error below 5%), so a table that rounds too coarsely fails.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure
from PIL import Image

import sim.report.html
import sim.store
from sim.cli import main
from sim.estimators import label
from sim.figures import CAPTIONS
from sim.figures.run_figures import SIMULATED_PARTS
from sim.formatting import estimate_decimals, format_interval, format_number
from sim.report import FIGURE_DPI, latex_tables, write_report
from sim.report.outputs import read_run
from tests.sim.report.report_helpers import ESTIMATORS, assert_shown, number


class ReportParser(HTMLParser):
    """The parts of report.html the tests check: tables (cells by row, row classes),
    figures (img attributes, captions), every URL-bearing attribute and the tags used."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.images: list[dict[str, str]] = []
        self.captions: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.pre: dict[str, str] = {}
        self._table: dict | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._pre: tuple[str, list[str]] | None = None
        self._section = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.urls += [attrs[a] for a in ("src", "href", "srcset", "action") if a in attrs]
        if tag == "table":
            self._table = {"rows": [], "classes": [], "section": ""}
            self.tables[attrs["id"]] = self._table
        elif tag == "thead" and self._table is not None:
            self._section = "head"
        elif tag == "tbody" and self._table is not None:
            self._section = "body"
        elif tag == "tr" and self._table is not None and self._section == "body":
            self._table["rows"].append([])
            self._table["classes"].append(attrs.get("class", ""))
        elif tag == "td" and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "figcaption":
            self._caption = []
        elif tag == "pre":
            self._pre = (attrs.get("id", ""), [])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "td" and self._cell is not None:
            self._table["rows"][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "figcaption":
            self.captions.append(" ".join("".join(self._caption).split()))
            self._caption = None
        elif tag == "pre":
            self.pre[self._pre[0]] = "".join(self._pre[1])
            self._pre = None

    def handle_data(self, data):
        for collector in (self._cell, self._caption, self._pre and self._pre[1]):
            if collector is not None:
                collector.append(data)


def parse_report(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def reported(small_run, tmp_path_factory):
    """A copy of the small run with its report written, the figures drawn recorded."""
    directory = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(small_run, directory)
    drawn = {}
    draw = sim.report.html.draw_run_figures

    def spy(path):
        figures = draw(path)
        drawn.update({k: tuple(f.get_size_inches() * FIGURE_DPI) for k, f in figures.items()})
        return figures

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim.report.html, "draw_run_figures", spy)
        files = write_report(directory)
    return directory, files, drawn


@pytest.fixture(scope="module")
def page(reported) -> ReportParser:
    return parse_report(reported[0] / "report.html")


def test_writes_the_report_and_the_tables(reported):
    directory, files, _ = reported
    names = ["estimates.tex", "multipliers.tex", "costs.tex"]
    assert files == [directory / "tables" / n for n in names] + [directory / "report.html"]
    assert all(f.is_file() and f.stat().st_size > 500 for f in files)
    tables = latex_tables(read_run(directory))  # what test_latex.py checks
    assert {name: (directory / "tables" / name).read_text() for name in names} == tables


def test_embeds_every_figure_as_a_png_of_its_size(reported, page):
    _, _, drawn = reported
    assert list(drawn) == [k for k in CAPTIONS if k in drawn]  # CAPTIONS' order
    assert {"event_study", "response_path", "cost_by_intensity"} <= set(drawn)
    assert len(page.images) == len(drawn)
    for image, (kind, (width, height)), caption in zip(
        page.images, drawn.items(), page.captions, strict=True
    ):
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        png = Image.open(io.BytesIO(base64.b64decode(image["src"].removeprefix(prefix))))
        png.load()  # decodes every pixel
        assert png.format == "PNG"
        assert abs(png.width - width) <= 1 and abs(png.height - height) <= 1, kind
        assert image["alt"].startswith(CAPTIONS[kind])
        assert caption.endswith(image["alt"])
        simulated = SIMULATED_PARTS.get(kind, ("", ""))[1]  # the run is simulated
        assert image["alt"].endswith(simulated), kind


def test_is_self_contained(reported, page):
    html = (reported[0] / "report.html").read_text(encoding="utf-8")
    assert page.urls, "no src or href at all: the parser saw nothing"
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls), [
        u[:40] for u in page.urls if not u.startswith(("data:", "#"))
    ]
    assert not {"script", "link", "iframe", "object", "embed"} & page.tags
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"https?://", html)


def test_has_every_table_and_the_config(reported, page):
    assert list(page.tables) == [
        "multipliers",
        "event-time-estimates",
        "costs",
        "breakeven-status-quo",
        "breakeven-no-programme",
        "sensitivity",
        "versions",
        "timings",
    ]
    stored = json.loads((reported[0] / "config.json").read_text())
    assert json.loads(page.pre["config"]) == stored


def test_multiplier_table_shows_the_stored_multipliers(small_run, page):
    stored = pd.read_csv(small_run / "multipliers.csv")  # intensity rows, then value rows
    nobs = xr.load_dataset(small_run / "estimates.nc")["nobs"].to_series()
    rows = page.tables["multipliers"]["rows"]
    assert [r[0] for r in rows] == [
        f"{label(name)}, {estimand}-weighted"
        for estimand, name in zip(stored["estimand"], stored["estimator"], strict=True)
    ]
    assert stored["estimand"].tolist() == ["intensity"] * 4 + ["value"] * 4
    for (_, row), cells in zip(stored.iterrows(), rows, strict=True):
        _, estimate, se, ci, truth, inside, vcov, n = cells
        name = row["estimator"]
        assert_shown(estimate, row["estimate"])
        assert_shown(se, row["se"], relative=0.05)
        low, high = ci.strip("[]").split(", ")
        assert_shown(low, row["ci_low"])
        assert_shown(high, row["ci_high"])
        assert_shown(truth, row["truth"])
        assert inside == ("yes" if row["ci_low"] <= row["truth"] <= row["ci_high"] else "no")
        assert vcov.endswith("by consumer_id")
        assert n == f"{nobs[name]:,}"


def test_event_time_table_shows_every_stored_estimate(small_run, page):
    stored = pd.read_csv(small_run / "estimates.csv").query("estimand == 'value'")
    stored = stored.set_index(["estimator", "event_time"])  # the table shows the value path
    truth = stored["truth"].groupby("event_time").first()
    times = sorted(stored.index.get_level_values("event_time").unique())
    rows = page.tables["event-time-estimates"]["rows"]
    assert [number(r[0])[0] for r in rows] == times
    for t, row in zip(times, rows, strict=True):
        assert len(row) == 2 + 2 * len(ESTIMATORS)
        for i, name in enumerate(ESTIMATORS):
            estimate, se = row[1 + 2 * i], row[2 + 2 * i]
            if (name, t) not in stored.index:
                assert estimate == se == ""
                continue
            assert_shown(estimate, stored.at[(name, t), "estimate"])
            assert_shown(se, stored.at[(name, t), "se"], relative=0.05)
        assert_shown(row[-1], truth[t])


def test_cost_table_shows_the_stored_costs(small_run, page):
    stored = pd.read_csv(small_run / "projection_summary.csv")
    rows = page.tables["costs"]["rows"]
    assert len(rows) == len(stored)
    for row, (_, expected) in zip(rows, stored.iterrows(), strict=True):
        intensity, mean, interval, goodwill, enforcement, share, cheapest = row
        assert float(intensity) == expected["intensity"]
        low, high = interval.split(" – ")
        for shown, column in [
            (mean, "total_cost_mean"),
            (low, "total_cost_q5"),
            (high, "total_cost_q95"),
            (goodwill, "goodwill_loss_mean"),
            (enforcement, "enforcement_cost"),
        ]:
            assert_shown(shown, expected[column] / 1e6)
        assert_shown(share, expected["fake_share_mean"], relative=0.01)
        assert_shown(cheapest, 100 * expected["optimal_share"])


def test_the_optimum_row_has_the_lowest_mean_cost(small_run, page):
    stored = pd.read_csv(small_run / "projection_summary.csv")
    classes = page.tables["costs"]["classes"]
    assert classes.count("optimum") == 1
    row = page.tables["costs"]["rows"][classes.index("optimum")]
    assert float(row[0]) == stored.loc[stored["total_cost_mean"].idxmin(), "intensity"]
    assert number(row[1])[0] == pytest.approx(stored["total_cost_mean"].min() / 1e6, abs=0.05)


def test_summary_names_each_multiplier_and_the_optimum(small_run, reported):
    html = (reported[0] / "report.html").read_text(encoding="utf-8")
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    every = pd.read_csv(small_run / "multipliers.csv", index_col="estimator")
    decimals = estimate_decimals(every["se"])
    for estimand, stored in every.groupby("estimand"):
        for name in ESTIMATORS:
            shown = format_number(stored.at[name, "estimate"], decimals)
            named = re.escape(f"{label(name)}, {estimand}-weighted")
            pattern = rf"{named}</b> <span[^>]*>{shown} \["
            assert re.search(pattern, summary.replace("&#39;", "'")), name
    optima = json.loads((small_run / "manifest.json").read_text())["projection"]
    optimum = optima["status_quo"]
    assert f"<b>{format_number(optimum['intensity'], 3)}</b> times the 2016" in summary
    interval = format_interval(optimum["draws_q5"], optimum["draws_q95"], 3)
    assert f'90% interval\n    <span class="num-inline">{interval}</span>' in summary
    started = format_number(optima["no_programme"]["intensity"], 3)
    assert f"the\n    optimum is <b>{started}</b>" in summary
    assert "Across the 40 draws" in summary


def test_reproducibility_shows_seed_versions_and_timings(small_run, page, reported):
    manifest = json.loads((small_run / "manifest.json").read_text())
    versions = {row[0]: row[1:] for row in page.tables["versions"]["rows"]}
    assert versions["goodwill"][0] == manifest["goodwill_version"]
    assert versions["numpy"][0] == manifest["numpy"]
    assert versions["python"][0] == manifest["python"]
    for package in ("matplotlib", "xarray", "scipy"):
        assert versions[package] == ["not recorded", version(package)]
    timings = dict(page.tables["timings"]["rows"])
    for key, seconds in manifest["timings"].items():
        assert_shown(timings[key.removesuffix("_s")], seconds)
    assert_shown(timings["total"], sum(manifest["timings"].values()))
    html = (reported[0] / "report.html").read_text(encoding="utf-8")
    assert f"<dt>Seed</dt><dd>{manifest['seed']}</dd>" in html


def test_a_fit_directory_gives_a_report_without_projection(small_run, tmp_path):
    out = tmp_path / "fit"
    assert main(["fit", str(small_run / "panel.parquet"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".goodwill-run.json",
        ".goodwill-run.lock",
        "estimates.csv",
        "estimates.nc",
        "manifest.json",
        "multipliers.csv",
    ]
    files = write_report(out)
    assert [f.name for f in files] == ["estimates.tex", "multipliers.tex", "report.html"]
    page = parse_report(out / "report.html")
    assert list(page.tables) == ["multipliers", "event-time-estimates", "versions"]
    assert len(page.images) == 1  # the event study
    names = [row[0] for row in page.tables["multipliers"]["rows"]]
    assert names == ["TWFE, intensity-weighted", "TWFE, value-weighted"]  # default: TWFE
    assert len(page.tables["multipliers"]["rows"][0]) == 6  # no truth columns
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "No goodwill projection in this directory" in html
    assert "Timings: not recorded" in html and "Config: not recorded" in html
    assert "<dt>Seed</dt><dd>0</dd>" in html  # from the fit's manifest
    versions = {row[0]: row[1] for row in page.tables["versions"]["rows"]}
    assert versions["goodwill"] == xr.load_dataset(out / "estimates.nc").attrs["goodwill_version"]
    assert versions["numpy"] == json.loads((out / "manifest.json").read_text())["numpy"]
    assert not (out / "tables" / "costs.tex").exists()


def test_a_directory_without_projection_drops_a_previous_cost_table(small_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    write_report(directory, figures={})
    assert (directory / "tables" / "costs.tex").is_file()
    (directory / "projection.nc").unlink()
    files = write_report(directory, figures={})
    assert "costs.tex" not in [f.name for f in files]
    assert not (directory / "tables" / "costs.tex").exists()
    page = parse_report(directory / "report.html")
    assert "costs" not in page.tables and page.images == []


def test_report_command_writes_the_report_or_fails_in_one_line(small_run, tmp_path, capsys):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    assert main(["report", str(directory)]) == 0
    assert (directory / "report.html").is_file()
    assert f"{directory / 'report.html'}, {directory / 'manifest.json'} in " in (
        capsys.readouterr().out
    )
    assert main(["report", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing: no such run directory" in error
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--allow-incomplete"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no estimates.nc or projection.nc" in error


def test_text_from_the_run_is_escaped(small_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    config = json.loads((directory / "config.json").read_text())
    config["output"]["directory"] = "<script>alert(1)</script>"
    (directory / "config.json").write_text(json.dumps(config))
    write_report(directory, figures={})
    html = (directory / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_failed_write_keeps_the_previous_report(small_run, tmp_path, monkeypatch):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    (directory / "report.html").write_text("previous report")
    replace = sim.store.os.replace

    def failing(source, target):
        if Path(target).name == "report.html":
            raise OSError("disk full")
        replace(source, target)

    monkeypatch.setattr(sim.store.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        write_report(directory, figures={})
    assert (directory / "report.html").read_text() == "previous report"
    assert not list(directory.glob(".report.html.*"))  # no half-written temporary file
    assert (directory / "tables" / "estimates.tex").is_file()  # the tables come first


def test_a_failure_before_writing_writes_nothing(small_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)

    class Broken(Figure):
        def savefig(self, *args, **kwargs):
            raise RuntimeError("cannot draw")

    with pytest.raises(RuntimeError, match="cannot draw"):
        write_report(directory, figures={"event_study": Broken()})
    assert not (directory / "report.html").exists()
    assert not (directory / "tables").exists()
