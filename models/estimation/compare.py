"""Several fitted models side by side: :func:`compare` (linearmodels' ``compare``, pyfixest's
``etable``).

A :class:`Comparison` lines up the coefficients of its models by name, lays their effects by
event time out as one tidy table, sums each model's effects over a range of event times, and
prints them as one statsmodels ``Summary``: a coefficient in a row, its standard error in
parentheses beneath, a model in a column. The run's tables (``estimates.csv``,
``multipliers.csv``) and ``goodwill fit``'s comparison table are built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from models.estimation.results import Results


@dataclass(frozen=True)
class Comparison:
    """Fitted models by name; see :func:`compare`."""

    results: Mapping[str, Results]

    @cached_property
    def names(self) -> list[str]:
        """Every model's coefficient names once: in order of event time (or cohort or period)
        when every model has effects by it, else in order of first appearance."""
        labels: dict[str, float] = {}
        for fitted in self.results.values():
            times = fitted.event.event_times if fitted.event is not None else None
            for j, name in enumerate(fitted.names):
                labels.setdefault(name, np.nan if times is None else times[j])
        if any(np.isnan(label) for label in labels.values()):
            return list(labels)
        return sorted(labels, key=labels.__getitem__)

    def _by_model(self, attribute: str) -> pd.DataFrame:
        frames = {name: getattr(fitted, attribute) for name, fitted in self.results.items()}
        return pd.DataFrame(frames).reindex(self.names)

    @cached_property
    def params(self) -> pd.DataFrame:
        """Coefficients, one column per model (NaN where a model has no such coefficient)."""
        return self._by_model("params")

    @cached_property
    def bse(self) -> pd.DataFrame:
        """Standard errors, one column per model."""
        return self._by_model("bse")

    @cached_property
    def tvalues(self) -> pd.DataFrame:
        """t statistics, one column per model."""
        return self._by_model("tvalues")

    @cached_property
    def pvalues(self) -> pd.DataFrame:
        """Two-sided p-values, one column per model."""
        return self._by_model("pvalues")

    def event_time_effects(self, alpha: float = 0.05) -> pd.DataFrame:
        """Every model's effects by event time in one tidy table.

        Columns model, event_time, estimate, se, ci_low, ci_high, band_low and band_high (a
        uniform band, where the model has one; NaN elsewhere): each model's
        ``event_time_effects(alpha)``, with its omitted reference period as a row of estimate 0
        and no standard error.
        """
        frames = []
        for name, fitted in self.results.items():
            table = fitted.event_time_effects(alpha)
            if fitted.ref is not None:
                table.loc[fitted.ref] = 0.0
                table.loc[fitted.ref, table.columns != "estimate"] = np.nan
            frames.append(table.sort_index().reset_index().assign(model=name))
        table = pd.concat(frames, ignore_index=True)
        for column in ("band_low", "band_high"):
            if column not in table:
                table[column] = np.nan
        columns = ["model", "event_time", "estimate", "se", "ci_low", "ci_high"]
        return table[[*columns, "band_low", "band_high"]]

    def cumulative(self, first: int, last: int, alpha: float = 0.05) -> pd.DataFrame:
        """Each model's sum of effects over event times ``first..last`` (``cumulative``).

        Returns
        -------
        pandas.DataFrame
            Indexed by model: estimate, se, ci_low, ci_high (level ``1 - alpha``), vcov (the
            variance estimator) and nobs.
        """
        rows = {}
        for name, fitted in self.results.items():
            estimate, se = fitted.cumulative(first, last)
            low, high = fitted.cumulative_conf_int(first, last, alpha)
            rows[name] = (estimate, se, low, high, fitted.vcov_type, fitted.nobs)
        table = pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "se", "ci_low", "ci_high", "vcov", "nobs"]
        )
        table.index.name = "model"
        return table

    def summary(self, decimals: int = 4) -> Summary:
        """A statsmodels ``Summary`` of the models side by side (``as_text``, ``as_latex``,
        ``as_html``): each coefficient with its standard error in parentheses beneath, then
        the observations, the variance estimator, the within R-squared of the regressions and
        each model's overall average where it has one."""
        params, bse = self.params, self.bse
        cells: dict[str, list[str]] = {name: [] for name in self.results}
        index: list[str] = []
        for coefficient in params.index:
            index += [coefficient, ""]
            for name in self.results:
                value, se = params.at[coefficient, name], bse.at[coefficient, name]
                cells[name] += (
                    [f"{value:.{decimals}f}", f"({se:.{decimals}f})"]
                    if np.isfinite(value)
                    else ["", ""]
                )
        for label, row in self._statistics(decimals).items():
            index.append(label)
            for name in self.results:
                cells[name].append(row.get(name, ""))
        summary = Summary()
        summary.add_title("Model comparison")
        summary.add_df(pd.DataFrame(cells, index=index))
        summary.add_text("Standard errors in parentheses.")
        return summary

    def _statistics(self, decimals: int) -> dict[str, dict[str, str]]:
        """The rows under the coefficients: label -> model -> cell (only rows that apply)."""
        rows: dict[str, dict[str, str]] = {
            "Observations": {n: f"{r.nobs:,}" for n, r in self.results.items()},
            "Standard errors": {n: r.vcov_type for n, r in self.results.items()},
        }
        within = {
            n: f"{r.rsquared_within:.4f}"
            for n, r in self.results.items()
            if r.regression is not None and r.regression.tss_within > 0
        }
        if within:
            rows["R-squared (within)"] = within
        overall = {
            n: f"{r.overall[0]:.{decimals}f} ({r.overall[1]:.{decimals}f})"
            for n, r in self.results.items()
            if r.overall is not None
        }
        if overall:
            rows["Overall average"] = overall
        return rows

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def compare(results: Mapping[str, Results]) -> Comparison:
    """Several fitted models side by side.

    Parameters
    ----------
    results : mapping of str to Results
        Fitted models by the name each column gets, in order.

    Returns
    -------
    Comparison
        ``params``, ``bse``, ``tvalues``, ``pvalues`` (coefficients x models),
        ``event_time_effects()``, ``cumulative(first, last)`` and ``summary()``.

    Examples
    --------
    >>> from models import ConsumerSpendModel, EventStudy, ImputationDiD
    >>> panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=22, seed=1)
    >>> panel = panel[panel["fake_week"] != 1]  # cheated in week 1: no week before
    >>> columns = dict(outcome="spend", unit="consumer_id", time="week", cohort="fake_week")
    >>> table = compare({
    ...     "twfe": EventStudy(panel, **columns).fit(),
    ...     "imputation": ImputationDiD(panel, **columns).fit(),
    ... })
    >>> table.params.columns.tolist()
    ['twfe', 'imputation']
    >>> table.cumulative(0, 11).columns.tolist()
    ['estimate', 'se', 'ci_low', 'ci_high', 'vcov', 'nobs']
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError("compare: expected a non-empty mapping of names to fitted results")
    for name, fitted in results.items():
        if not isinstance(fitted, Results):
            raise TypeError(f"compare: {name!r} is a {type(fitted).__name__}, not fitted results")
    return Comparison(dict(results))
