"""Helpers shared by the report tests (tests/sim/report): the estimators of configs/quick.toml
and how a shown number (HTML or LaTeX) is read and checked against the stored value, and
whether LaTeX tables compile.

Numbers shown are compared with the stored outputs to half a unit of their last shown decimal
(the rounding of the display), and standard errors must also show at least two significant
digits (a relative error below 5%), so a table that rounds too coarsely fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ESTIMATORS = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]  # configs/quick.toml

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")


def assert_tables_compile(tables: list[Path], directory: Path) -> None:
    """The LaTeX tables, input one after another into a booktabs article, compile."""
    inputs = "\n".join(rf"\input{{{table.as_posix()}}}" for table in tables)
    document = directory / "tables.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"{inputs}\n\\end{{document}}\n"
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (directory / "tables.pdf").stat().st_size > 1000


def number(text: str) -> tuple[float, int]:
    """A shown number (HTML or LaTeX) and its decimal places."""
    text = text.replace("\u2212", "-").replace("$-$", "-").replace(",", "").strip("()")
    text = re.sub(r"\\textbf\{(.*)\}", r"\1", text)
    decimals = len(text.partition(".")[2])
    return float(text), decimals


def assert_shown(text: str, value: float, relative: float | None = None) -> None:
    """``text`` shows ``value`` rounded to its decimals (and within ``relative`` of it)."""
    if not np.isfinite(value):
        assert text == "", f"{text!r} shown for a missing value"
        return
    shown, decimals = number(text)
    assert abs(shown - value) <= 0.5 * 10.0**-decimals + 1e-9 * abs(value), (text, value)
    if relative is not None:
        assert abs(shown - value) <= relative * abs(value), (text, value)
