"""models.compare: several results side by side, each number the model's own."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from models import (
    CallawaySantAnna,
    ConsumerSpendModel,
    EventStudy,
    FewEffectiveUnitsWarning,
    FixedEffectsOLS,
    ImputationDiD,
    SmallCohortWarning,
    compare,
)

COLUMNS = dict(outcome="spend", unit="consumer_id", time="week", cohort="fake_week")


@pytest.fixture(scope="module")
def results():
    panel, _ = ConsumerSpendModel().simulate(n_consumers=2_000, n_weeks=12, seed=23)
    panel = panel[panel["fake_week"] != 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)  # small panels
        warnings.simplefilter("ignore", SmallCohortWarning)  # late cohorts of a few consumers
        return {
            "twfe": EventStudy(panel, **COLUMNS, window=(-3, 6)).fit(),
            "callaway_santanna": CallawaySantAnna(panel, **COLUMNS)
            .fit()
            .aggregate("dynamic", uniform_band=True, seed=3),
            "imputation": ImputationDiD(panel, **COLUMNS).fit(),
        }


def test_coefficients_line_up_by_name_in_event_time_order(results):
    table = compare(results)
    assert list(table.params.columns) == list(results)
    times = [int(name.split("::")[1]) for name in table.params.index]
    assert times == sorted(times) and len(set(times)) == len(times)
    for name, res in results.items():
        pd.testing.assert_series_equal(
            table.params[name].dropna(), res.params.loc[table.params[name].dropna().index],
            check_names=False,
        )  # fmt: skip
        assert table.bse[name].notna().sum() == len(res.names)
        np.testing.assert_array_equal(table.pvalues[name].dropna(), res.pvalues)


def test_effects_by_event_time_are_each_models_with_its_reference_row(results):
    tidy = compare(results).event_time_effects()
    assert list(tidy.columns) == [
        "model", "event_time", "estimate", "se", "ci_low", "ci_high", "band_low", "band_high",
    ]  # fmt: skip
    for name, res in results.items():
        own = tidy[tidy["model"] == name].set_index("event_time")
        effects = res.event_time_effects()
        np.testing.assert_array_equal(own.loc[effects.index, "estimate"], effects["estimate"])
        np.testing.assert_array_equal(own.loc[effects.index, "ci_high"], effects["ci_high"])
        if res.ref is not None:
            assert own.loc[res.ref, "estimate"] == 0 and np.isnan(own.loc[res.ref, "se"])
        banded = res.uniform_band is not None
        assert own["band_low"].notna().any() == banded


def test_cumulative_is_each_models_own(results):
    table = compare(results).cumulative(0, 5, alpha=0.1)
    for name, res in results.items():
        estimate, se = res.cumulative(0, 5)
        low, high = res.cumulative_conf_int(0, 5, alpha=0.1)
        assert table.loc[name, ["estimate", "se", "ci_low", "ci_high"]].tolist() == [
            estimate, se, low, high,
        ]  # fmt: skip
        assert table.loc[name, "vcov"] == res.vcov_type and table.loc[name, "nobs"] == res.nobs


def test_the_summary_shows_every_estimate_with_its_standard_error_beneath(results):
    text = compare(results).summary().as_text()
    lines = text.splitlines()
    for name, res in results.items():
        for coefficient, value, se in zip(res.names, res.params, res.bse, strict=True):
            row = next(i for i, line in enumerate(lines) if line.startswith(f"{coefficient} "))
            assert f"{value:.4f}" in lines[row] and f"({se:.4f})" in lines[row + 1], name
    assert re.search(r"^Observations\s", text, re.M)
    assert re.search(r"^R-squared \(within\)\s+\d", text, re.M)  # TWFE is a regression
    assert re.search(r"^Overall average\s", text, re.M)
    assert "nan" not in text.lower()


def test_regressions_keep_their_coefficients_order():
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        {"y": rng.normal(size=60), "b": rng.normal(size=60), "a": rng.normal(size=60)}
    ).assign(g=np.repeat(np.arange(6), 10))
    table = compare(
        {
            "one": FixedEffectsOLS(df, "y", ["b"], ["g"]).fit(),
            "two": FixedEffectsOLS(df, "y", ["b", "a"], ["g"]).fit(),
        }
    )
    assert list(table.params.index) == ["b", "a"]
    assert "Overall average" not in table.summary().as_text()


def test_compare_refuses_what_it_cannot_compare(results):
    with pytest.raises(ValueError, match="compare: expected a non-empty mapping"):
        compare({})
    with pytest.raises(TypeError, match="compare: 'x' is a int, not fitted results"):
        compare({"x": 1})
