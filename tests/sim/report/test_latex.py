"""The LaTeX tables: well formed, plain ASCII, every number as stored, the estimates in a window.

Numbers are checked as in test_html.py (``assert_shown``, report_helpers.py): to half a unit
of their last shown decimal, standard errors also to 5%.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.estimators import label as estimator_label
from sim.report.latex import estimates_latex, latex_escape, latex_tables, stacked
from sim.report.outputs import read_run
from sim.rundir import select_estimand
from tests.sim.report.report_helpers import (
    ESTIMATORS,
    assert_shown,
    assert_tables_compile,
    needs_pdflatex,
    number,
)


def body_rows(tex: str) -> list[list[str]]:
    """The body rows of a booktabs table, split into cells (rule lines dropped)."""
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    lines = [line.strip() for line in body.splitlines()]
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)&", line.removesuffix(r"\\"))]
        for line in lines
        if line.endswith(r"\\")
    ]


def assert_well_formed(text: str) -> None:
    """Environments nest, one booktabs tabular whose rows all have its columns, escaped."""
    stack = []
    for command, environment in re.findall(r"\\(begin|end)\{(\w+)\}", text):
        if command == "begin":
            stack.append(environment)
        else:
            assert stack.pop() == environment
    assert stack == []
    assert re.findall(r"\\(begin)\{(\w+)\}", text)[:2] == [("begin", "table"), ("begin", "tabular")]
    assert text.count(r"\toprule") == text.count(r"\bottomrule") == 1
    assert r"\caption{" in text and r"\label{tab:goodwill-" in text
    assert text.isascii(), "non-ASCII character: pdflatex without inputenc may reject it"
    columns = len(re.search(r"\\begin\{tabular\}\{(\w+)\}", text).group(1))
    assert all(len(row) == columns for row in body_rows(text))
    for special in ("_", "%", "#"):
        assert not re.search(rf"(?<!\\){special}", text), f"unescaped {special}"
    assert text.count("{") == text.count("}")


def assert_event_time_rows(rows: list[list[str]], stored: pd.DataFrame, times: list[int]):
    """``rows`` start with the event times ``times``, each an estimate row and an SE row
    showing every stored estimate and SE of each estimator."""
    shown = [number(row[0])[0] for row in rows[: 2 * len(times) : 2]]
    assert shown == times
    for i, t in enumerate(times):
        estimates, ses = rows[2 * i], rows[2 * i + 1]
        assert number(estimates[0])[0] == t and ses[0] == ""
        for j, name in enumerate(ESTIMATORS, start=1):
            if (name, t) not in stored.index:
                assert estimates[j] == ses[j] == ""
                continue
            assert_shown(estimates[j], stored.at[(name, t), "estimate"])
            se = stored.at[(name, t), "se"]
            assert ses[j] == "" if np.isnan(se) else ses[j].startswith("(")
            assert_shown(ses[j].strip("()"), se, relative=None if np.isnan(se) else 0.05)


@pytest.fixture(scope="module")
def tex(small_run) -> dict[str, str]:
    return latex_tables(read_run(small_run))


@pytest.fixture(scope="module")
def estimates(small_run) -> xr.Dataset:
    """The value-weighted estimates, which estimates.tex shows."""
    return select_estimand(xr.load_dataset(small_run / "estimates.nc"), "value")


@pytest.fixture(scope="module")
def stored(small_run) -> pd.DataFrame:
    every = pd.read_csv(small_run / "estimates.csv")
    return every[every["estimand"] == "value"].set_index(["estimator", "event_time"])


def value_multipliers(small_run) -> pd.DataFrame:
    every = pd.read_csv(small_run / "multipliers.csv", index_col="estimator")
    return every[every["estimand"] == "value"]


def test_latex_escape():
    assert latex_escape("a_b 5% & $x$ #1 {y} ~^\\") == (
        r"a\_b 5\% \& \$x\$ \#1 \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert latex_escape("Callaway–Sant'Anna \u22121") == "Callaway--Sant'Anna $-$1"


def test_latex_tables_of_a_run(tex):
    assert list(tex) == ["estimates.tex", "multipliers.tex", "costs.tex"]


@pytest.mark.parametrize("name", ["estimates.tex", "multipliers.tex", "costs.tex"])
def test_latex_tables_are_well_formed(tex, name):
    assert_well_formed(tex[name])


def test_estimates_tex_has_every_estimate_and_se_in_the_binned_window(
    small_run, tex, estimates, stored
):
    text = tex["estimates.tex"]
    header = body_rows(text.replace(r"\toprule", r"\midrule", 1))[0]
    names = [latex_escape(estimator_label(n)) for n in ESTIMATORS]
    assert [h.strip() for h in header] == ["Event time", *map(stacked, names), "Truth"]
    assert header[2] == r"\shortstack{Callaway--\\Sant'Anna}"  # two lines: fits a page
    twfe = estimates.sel(estimator="twfe")  # the one estimator with binned end points
    lo, hi = int(twfe["window_low"]), int(twfe["window_high"])
    every = sorted(stored.index.get_level_values("event_time").unique())
    times = [t for t in every if lo <= t <= hi]
    assert lo > every[0] and hi < every[-1], "the window leaves no event time out"
    rows = body_rows(text)
    assert_event_time_rows(rows, stored, times)
    outside = {t for t in every if not lo <= t <= hi}
    assert not outside & {number(row[0])[0] for row in rows if re.match(r"[$\d]", row[0])}
    assert len(rows) == 2 * len(times) + 4
    multipliers = value_multipliers(small_run)
    cumulative, cumulative_se, nobs, variance = rows[2 * len(times) :]
    assert cumulative[0] == r"\shortstack[l]{Cumulative,\\0 to 11}"
    for j, name in enumerate(ESTIMATORS, start=1):
        assert_shown(cumulative[j], multipliers.at[name, "estimate"])
        assert_shown(cumulative_se[j].strip("()"), multipliers.at[name, "se"], relative=0.05)
    assert_shown(cumulative[-1], multipliers["truth"].iloc[0])
    counts = estimates["nobs"].to_numpy()
    assert nobs == ["N obs", *(f"{n:,}" for n in counts), ""]
    assert variance[1:] == [
        "CRV1",
        r"\shortstack{influence\\function}",
        "CRV1",
        r"\shortstack{BJS\\conservative}",
        "",
    ]
    assert "yuan of spend per yuan of counterfeit" in text
    assert "standard errors in parentheses, clustered by consumer\\_id." in text
    assert "reference period" in text and "Clusters" not in text  # one cluster: the note
    shows = f"The table shows event times {lo} to {hi}".replace("-", "$-$")
    assert f"{shows}; estimates.csv has every event time." in text


def test_estimates_tex_in_an_explicit_window(tex, estimates, stored):
    text = estimates_latex(estimates, window=(-2, 3))
    assert_well_formed(text)
    rows = body_rows(text)
    assert_event_time_rows(rows, stored, [-2, -1, 0, 1, 2, 3])
    assert len(rows) == 2 * 6 + 4
    assert rows[12:] == body_rows(tex["estimates.tex"])[-4:]  # the cumulative rows unchanged
    assert "The table shows event times $-$2 to 3; estimates.csv has every event time." in text
    every = sorted(stored.index.get_level_values("event_time").unique())
    wide = estimates_latex(estimates, window=(-100, 100))  # every event time: no such note
    assert_event_time_rows(body_rows(wide), stored, every)
    assert "The table shows" not in wide and "estimates.csv" not in wide


def test_estimates_tex_without_binned_end_points_shows_every_event_time(estimates, stored):
    robust = estimates.sel(estimator=["callaway_santanna", "sun_abraham", "imputation"])
    assert not robust["bin_endpoints"].any()
    rows = body_rows(estimates_latex(robust))
    times = sorted(stored.index.get_level_values("event_time").unique())
    assert [number(row[0])[0] for row in rows[: 2 * len(times) : 2]] == times
    assert len(rows) == 2 * len(times) + 4


def test_estimates_tex_has_a_clusters_row_when_estimators_cluster_differently(estimates):
    vcov = estimates["vcov"].to_numpy().copy()
    vcov[3] = "BJS conservative by week"
    text = estimates_latex(estimates.assign(vcov=("estimator", vcov)))
    assert_well_formed(text)
    clusters = body_rows(text)[-1]
    assert clusters == ["Clusters", *[r"consumer\_id"] * 3, "week", ""]
    assert "clustered by" not in text


def test_estimates_tex_rejects_a_window_without_event_times(estimates):
    with pytest.raises(ValueError, match=r"window = \[3, -2\]: expected lo <= hi"):
        estimates_latex(estimates, window=(3, -2))
    times = estimates["event_time"].to_numpy()
    beyond = (int(times.max()) + 1, int(times.max()) + 5)
    message = (
        f"window = [{beyond[0]}, {beyond[1]}] holds none of the estimated event times "
        f"({times.min()} to {times.max()})"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        estimates_latex(estimates, window=beyond)


def test_multipliers_and_costs_tex_show_the_stored_numbers(small_run, tex):
    multipliers = pd.read_csv(small_run / "multipliers.csv")  # intensity rows, then value
    rows = body_rows(tex["multipliers.tex"])
    for row, (_, stored) in zip(rows, multipliers.iterrows(), strict=True):
        label, estimate, se, ci, truth = row
        named = f"{estimator_label(stored['estimator'])}, {stored['estimand']}-weighted"
        assert label == latex_escape(named)
        assert_shown(estimate, stored["estimate"])
        assert_shown(se, stored["se"], relative=0.05)
        low, high = ci.strip("[]").split(", ")
        assert_shown(low, stored["ci_low"])
        assert_shown(high, stored["ci_high"])
        assert_shown(truth, stored["truth"])
    costs = pd.read_csv(small_run / "projection_summary.csv")
    rows = body_rows(tex["costs.tex"])
    best = costs["total_cost_mean"].idxmin()
    for i, (row, (_, expected)) in enumerate(zip(rows, costs.iterrows(), strict=True)):
        assert all(c.startswith(r"\textbf{") for c in row) == (i == best)
        cells = [re.sub(r"\\textbf\{(.*)\}", r"\1", c) for c in row]
        assert float(cells[0]) == expected["intensity"]
        low, high = cells[2].split("--")
        assert_shown(cells[1], expected["total_cost_mean"] / 1e6)
        assert_shown(low, expected["total_cost_q5"] / 1e6)
        assert_shown(high, expected["total_cost_q95"] / 1e6)
        assert_shown(cells[3], expected["goodwill_loss_mean"] / 1e6)
        assert_shown(cells[4], expected["enforcement_cost"] / 1e6)
        assert_shown(cells[5], expected["fake_share_mean"], relative=0.01)
        assert_shown(cells[6], 100 * expected["optimal_share"])


@needs_pdflatex
def test_latex_tables_compile(tex, tmp_path):
    for name, text in tex.items():
        (tmp_path / name).write_text(text)
    assert_tables_compile([tmp_path / name for name in sorted(tex)], tmp_path)
