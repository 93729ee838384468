"""The formulas of the two-stage estimator: one-sided fixest-style formulas read by formulaic.

:class:`~models.estimation.two_stage.TwoStageDiD` takes its stages as did2s does: a first stage
``"~ x1 + x2 | fe1 + fe2"`` (covariates before ``|``, fixed effects after it, ``a^b`` for an
interaction) and a second stage ``"~ i(rel_year, ref=[-1, inf])"``. The part before ``|`` is a
Wilkinson formula read by formulaic, never with an intercept (did2s prepends ``0 +``: the first
stage's fixed effects absorb it and the second stage has none). Besides formulaic's own
transforms, the formulas know fixest's ``i(var, ref=...)``: one indicator for each value of
``var`` except those in ``ref``, named ``var::value`` as fixest names them (``rel_year::-3``,
``treat::True``); a missing value of ``var`` gets no indicator. R's spellings ``c(-1, Inf)``,
``TRUE`` and ``FALSE`` are understood too, so did2s's formulas can be pasted as they are.

Examples
--------
>>> df = pd.DataFrame({"rel": [-1.0, 0.0, 1.0, np.inf], "x": [1.0, 2.0, 3.0, 4.0]})
>>> names, _ = stage_design("~ i(rel, ref = c(-1, Inf)) + x", df, "second_stage")
>>> names
('rel::0', 'rel::1', 'x')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_I_COLUMN = re.compile(r"^i\(\s*([^,)\s]+).*\)\[([^\[\]]*)\]$")


@dataclass(frozen=True)
class StageFormula:
    """A one-sided stage formula split at ``|``.

    Attributes
    ----------
    rhs : str
        The Wilkinson part, without an intercept (``"0"`` when it has no term).
    fixed_effects : tuple of str
        The fixed effects after ``|``.
    """

    rhs: str
    fixed_effects: tuple[str, ...]

    @classmethod
    def parse(cls, formula: str, argument: str) -> StageFormula:
        """Read ``"~ terms | fe1 + fe2"``; ``argument`` names the formula in errors."""
        if not isinstance(formula, str) or "~" not in formula:
            raise ValueError(
                f"{argument}: expected a one-sided formula such as '~ 0 | unit + time', "
                f"got {formula!r}"
            )
        lhs, _, rest = formula.partition("~")
        if lhs.strip():
            raise ValueError(
                f"{argument}: expected a one-sided formula (the outcome is the `outcome` "
                f"argument), got {lhs.strip()!r} before '~' in {formula!r}"
            )
        rhs, _, fe_part = rest.partition("|")
        effects = tuple(f.strip() for f in fe_part.split("+") if f.strip())
        return cls(rhs.strip() or "0", effects)


def _indicators(values: Sequence[object], ref: object = None) -> dict[str, np.ndarray]:
    """fixest's ``i(var, ref)``: an indicator per value of ``var`` not in ``ref``."""
    series = pd.Series(np.asarray(values))
    refs = ref if isinstance(ref, list | tuple | set | np.ndarray) else [ref]
    refs = [r for r in refs if r is not None]
    levels = [v for v in pd.unique(series.dropna()) if not any(v == r for r in refs)]
    return {_label(v): (series == v).to_numpy(dtype=float) for v in sorted(levels)}


def _label(value: object) -> str:
    """A level as fixest prints it: ``-3`` for -3.0, ``True``, ``0.5``, ``"a"``."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _r_vector(*values: object) -> list[object]:
    return list(values)


CONTEXT = {
    "i": _indicators,
    "c": _r_vector,
    "Inf": np.inf,
    "inf": np.inf,
    "TRUE": True,
    "FALSE": False,
}
"""What the stage formulas can call besides formulaic's own transforms."""


def stage_design(rhs: str, df: pd.DataFrame, argument: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The columns of ``rhs`` (a one-sided formula or its right-hand side) on ``df``, without
    an intercept, and their names (fixest's ``var::value`` for ``i()`` terms).

    Raises a ValueError naming ``argument`` when formulaic cannot read or evaluate it or when a
    variable it uses has missing values.
    """
    from formulaic import Formula, model_matrix

    terms = rhs.partition("~")[2] if "~" in rhs else rhs
    spec = f"0 + {terms.strip() or '0'}"
    try:
        variables = [str(v) for v in Formula(spec).required_variables if str(v) in df.columns]
    except Exception as exc:  # formulaic's syntax errors have several types
        raise ValueError(f"{argument} {rhs!r}: {exc}") from None
    for column in variables:
        if df[column].isna().any() and not _only_in_i(spec, column):
            raise ValueError(
                f"column {column!r} ({argument}): expected no missing values, found "
                f"{int(df[column].isna().sum()):,}"
            )
    try:
        matrix = model_matrix(spec, df, context=CONTEXT, na_action="ignore")
    except Exception as exc:  # formulaic's evaluation errors have several types
        raise ValueError(f"{argument} {rhs!r}: {exc}") from None
    names = tuple(_column_name(str(c)) for c in matrix.columns)
    return names, np.asarray(matrix, dtype=float)


def _only_in_i(spec: str, column: str) -> bool:
    """Whether ``column`` appears in ``spec`` only as the variable of ``i()`` terms."""
    outside = re.sub(r"\bi\(\s*" + re.escape(column) + r"\s*[,)]", "", spec)
    return re.search(r"\b" + re.escape(column) + r"\b", outside) is None


def _column_name(column: str) -> str:
    """formulaic's ``i(rel, ref=-1)[3]`` as fixest's ``rel::3``; other names unchanged."""
    match = _I_COLUMN.match(column)
    return f"{match.group(1)}::{match.group(2)}" if match else column
