"""One conformance battery for every estimator in the registry (``sim.estimators``).

Each estimator, as its registry entry builds and fits it, must: leave its specification and the
data unchanged when fitting; give the same numbers when fitted twice; pickle; print a summary
with no "nan"; name its coefficients by the one scheme; lay its effects out with the same
columns; refuse a variance estimator it does not support; and answer the same bad input with
the same message as every other estimator.
"""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from models.estimation.results import Results
from models.exceptions import FewEffectiveUnitsWarning, SmallCohortWarning
from sim.estimators import ESTIMATORS, PanelColumns

COLUMNS = PanelColumns("spend", "consumer_id", "week", "fake_week", "fake_value")
NAME = re.compile(r"^(att|(event_time|cohort|period)::-?\d+(:(event_time|cohort|period)::-?\d+)*)$")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """1,500 consumers x 14 weeks of the default model, without the consumers cheated in week 1
    (no week before: Sun-Abraham and imputation would drop them with a warning)."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=1_500, n_weeks=14, seed=5)
    return panel[panel["fake_week"] != 1].reset_index(drop=True)


def fit(name: str, data: pd.DataFrame) -> Results:
    entry = ESTIMATORS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean panel: no estimator may drop anything
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)  # small panels
        warnings.simplefilter("ignore", SmallCohortWarning)  # late cohorts of a few consumers
        return entry.fit(data, COLUMNS, entry.options(), 7)


@pytest.fixture(scope="module")
def fitted(panel) -> dict[str, Results]:
    return {name: fit(name, panel) for name in ESTIMATORS}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_fitting_leaves_the_model_and_the_data_unchanged(panel, name):
    data = panel.copy()
    model = ESTIMATORS[name].model(data, **COLUMNS.as_kwargs())
    spec = {k: v for k, v in vars(model).items() if not k.startswith("_") and k != "df"}
    before = pickle.dumps(spec)
    first = model.fit()
    warm = pickle.dumps(model)  # the first fit may fill lazily computed caches
    second = model.fit()
    assert pickle.dumps(model) == warm
    assert pickle.dumps(spec) == before
    pd.testing.assert_frame_equal(data, panel)
    np.testing.assert_array_equal(first.coefficients, second.coefficients)
    np.testing.assert_array_equal(first.covariance.matrix, second.covariance.matrix)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_results_pickle(fitted, name):
    again = pickle.loads(pickle.dumps(fitted[name]))
    pd.testing.assert_frame_equal(again.to_frame(), fitted[name].to_frame())
    assert again.summary().as_text() == fitted[name].summary().as_text()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_the_summary_lists_only_rows_that_apply(fitted, name):
    text = fitted[name].summary().as_text()
    assert "nan" not in text.lower()
    assert ("R-squared (within)" in text) == (fitted[name].regression is not None)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_coefficients_follow_one_naming_scheme(fitted, name):
    names = fitted[name].names
    assert all(NAME.match(n) for n in names), names
    assert list(names) == [f"event_time::{t}" for t in fitted[name].event_times]


def test_effects_by_event_time_have_the_same_columns(fitted):
    columns = {name: list(res.event_time_effects().columns) for name, res in fitted.items()}
    plain = ["estimate", "se", "ci_low", "ci_high"]
    for name, got in columns.items():
        banded = fitted[name].uniform_band is not None
        assert got == plain + (["band_low", "band_high"] if banded else []), name
    assert {res.event_time_effects().index.name for res in fitted.values()} == {"event_time"}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_declares_and_checks_its_variance_estimators(panel, name):
    model_class = ESTIMATORS[name].model
    supported = model_class.VCOV
    assert supported and set(supported) <= {"iid", "HC1", "CRV1", "CR3"}
    model = model_class(panel, **COLUMNS.as_kwargs())
    for kind in {"iid", "HC1", "CR3"} - set(supported):
        with pytest.raises(ValueError, match=rf"{model_class.__name__}: vcov: '{kind}' is not "):
            model.fit(vcov=kind)
    with pytest.raises(ValueError, match=rf"{model_class.__name__}: vcov: unknown variance"):
        model.fit(vcov="CR2")


def _duplicate_row(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.iloc[[3]]], ignore_index=True)


def _with(df: pd.DataFrame, column: str, rows: pd.Series | list[int], value: object):
    out = df.copy()
    out.loc[rows, column] = value
    return out


def _first_treated(df: pd.DataFrame) -> int:
    return int(df.loc[df["fake_week"].notna(), "consumer_id"].iloc[0])


BAD_INPUTS = [
    (lambda d: d.drop(columns="spend"), r"column 'spend' not in the data \(columns: "),
    (lambda d: d.iloc[:0], r"data: the panel has no rows"),
    (
        lambda d: _with(d, "spend", [7], np.nan),
        r"column 'spend': expected finite numbers, found 1 missing or infinite value\(s\) "
        r"\(first at row 7\)",
    ),
    (
        _duplicate_row,
        r"columns 'consumer_id', 'week': expected one row per unit and period, found 1 "
        r"repeated pair\(s\), e.g. unit 0 in period 4",
    ),
    (
        lambda d: d.assign(week=d["week"] + 0.5),
        r"column 'week': expected integer periods, got 1.5",
    ),
    (
        lambda d: d.assign(consumer_id=d["consumer_id"].astype(np.int32)).pipe(
            _with, "fake_week", [d.index[d["consumer_id"] == 5][0]], 3.0
        ),
        r"column 'fake_week': expected one value per unit, but unit 5 has several",
    ),
    (
        lambda d: _with(d, "fake_week", [0], -np.inf),
        r"column 'fake_week': -inf is not a cohort \(never treated is NaN or \+inf\)",
    ),
    (
        lambda d: d.assign(fake_week=d["fake_week"].replace(3.0, 40.0)),
        r"column 'fake_week': cohort\(s\) 40 are not periods of column 'week'",
    ),
    (
        lambda d: _with(d, "fake_value", d["consumer_id"] == _first_treated(d), -1.0),
        r"column 'fake_value': expected a positive finite dose for every treated unit, got -1 "
        r"for unit \d+ \(1 unit\(s\) in all\)",
    ),
    (
        lambda d: _with(d, "fake_value", d.index[d["consumer_id"] == _first_treated(d)][:1], 9.0),
        r"column 'fake_value': expected one value per treated unit, but unit \d+ has several",
    ),
    (
        lambda d: _with(d, "consumer_id", [2], np.nan),
        r"column 'consumer_id': expected no missing values",
    ),
]


@pytest.mark.parametrize(("corrupt", "message"), BAD_INPUTS)
def test_the_same_bad_input_gets_the_same_message_from_every_estimator(panel, corrupt, message):
    bad = corrupt(panel)
    messages = {}
    for name in ESTIMATORS:
        with pytest.raises(ValueError) as error:
            fit(name, bad)
        messages[name] = str(error.value)
    assert len(set(messages.values())) == 1, messages
    assert re.search(message, next(iter(messages.values()))), messages
    assert "np." not in next(iter(messages.values()))  # no numpy reprs such as np.int32(5)


ROBUST = [name for name, entry in ESTIMATORS.items() if "jackknife" in entry.options.model_fields]


def test_the_robust_inference_options_are_offered_by_the_per_dose_estimators():
    assert ROBUST == ["twfe", "callaway_santanna", "sun_abraham"]


@pytest.mark.parametrize("name", ROBUST)
def test_the_robust_inference_options_reach_the_fit(panel, name):
    entry = ESTIMATORS[name]
    options = entry.options(jackknife=True, pretrend="bootstrap", pretrend_draws=49)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)
        robust = entry.fit(panel, COLUMNS, options, 3)
        again = entry.fit(panel, COLUMNS, options, 3)
    assert robust.vcov_type == "CR3 by consumer_id"
    assert robust.pretrend_test().n_draws == 49
    assert robust.pretrend_test() == again.pretrend_test()  # seeded by the config's seed
    assert robust.params.equals(fit(name, panel).params)
    assert robust.effective_treated == pytest.approx(fit(name, panel).effective_treated)


def test_the_robust_inference_options_are_checked():
    with pytest.raises(ValueError, match=r"jackknife = true replaces the CRV1 variance"):
        ESTIMATORS["sun_abraham"].options(jackknife=True, vcov="HC1")
    with pytest.raises(ValueError, match=r"need control = 'never'"):
        ESTIMATORS["callaway_santanna"].options(pretrend="bootstrap", control="notyet")
    with pytest.raises(ValueError, match=r"pretrend_draws"):
        ESTIMATORS["twfe"].options(pretrend_draws=5)
    with pytest.raises(ValueError, match=r"need bin_endpoints = true"):
        ESTIMATORS["twfe"].options(pretrend="bootstrap", bin_endpoints=False)
