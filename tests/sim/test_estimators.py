"""The estimator registry: one entry per estimator, read by config, CLI, figures and report."""

from __future__ import annotations

import typing
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models import CallawaySantAnna, ImputationDiD, value_weighted
from models.exceptions import GoodwillDeprecationWarning
from sim.cli import build_parser
from sim.config import load_config
from sim.estimation_settings import EstimationSettings, override_estimation
from sim.estimator_options import EstimatorOptions
from sim.estimators import (
    ESTIMANDS,
    ESTIMATORS,
    STUDY_ESTIMATOR,
    estimands,
    label,
)
from sim.figures.style import OKABE_ITO, estimator_style


def test_every_entry_is_complete_and_distinct():
    assert list(ESTIMATORS) == ["twfe", "callaway_santanna", "sun_abraham", "imputation"]
    for name, entry in ESTIMATORS.items():
        assert entry.name == name and entry.label and entry.description
        assert issubclass(entry.options, EstimatorOptions)
        entry.options()  # every option has a default
        assert entry.colour in OKABE_ITO and estimator_style(name) == (
            OKABE_ITO[entry.colour],
            entry.marker,
        )
    assert len({e.colour for e in ESTIMATORS.values()}) == len(ESTIMATORS)
    assert len({e.marker for e in ESTIMATORS.values()}) == len(ESTIMATORS)
    assert STUDY_ESTIMATOR in ESTIMATORS


@pytest.mark.filterwarnings("ignore::models.AlwaysTreatedWarning")
@pytest.mark.filterwarnings("ignore::models.ImputationWarning")
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_fits_both_estimands(small_panel, name):
    panel, _ = small_panel
    entry, settings = ESTIMATORS[name], EstimationSettings()
    columns, options = settings.columns, settings.options(name)
    fits = entry.fit_estimands(panel, columns, options, 0)
    assert list(fits) == list(ESTIMANDS) == list(estimands(columns.intensity))
    per_unit = entry.fit(panel, replace(columns, intensity=None), options, 0)
    expected = value_weighted(per_unit, panel, "consumer_id", "week", "fake_week", "fake_value")
    pd.testing.assert_series_equal(fits["value"].params, expected.params)
    pd.testing.assert_series_equal(
        fits["intensity"].params, entry.fit(panel, columns, options, 0).params
    )
    without = entry.fit_estimands(panel, replace(columns, intensity=None), options, 0)
    assert list(without) == ["intensity"] and without["intensity"].intensity is None


def test_config_and_cli_take_their_names_and_sections_from_the_registry():
    literal = EstimationSettings.model_fields["estimators"].annotation
    assert typing.get_args(typing.get_args(literal)[0]) == tuple(ESTIMATORS)
    for name, entry in ESTIMATORS.items():
        assert EstimationSettings.model_fields[name].annotation is entry.options
    subcommands = build_parser()._subparsers._group_actions[0].choices
    estimators = next(a for a in subcommands["fit"]._actions if a.dest == "estimators")
    assert estimators.choices == list(ESTIMATORS)
    for entry in ESTIMATORS.values():
        assert entry.name in estimators.help and entry.description in estimators.help


def test_labels_fall_back_to_the_name_of_an_unregistered_estimator():
    assert label("callaway_santanna") == "Callaway–Sant'Anna"
    assert label("did2s") == "did2s"
    assert estimator_style("did2s") == (OKABE_ITO["black"], "o")


def test_flat_twfe_keys_still_work_with_a_deprecation_warning(write_config):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = load_config(write_config("new.toml"))
    flat = write_config("flat.toml", **{"[estimation.twfe]\n": ""})  # its keys in [estimation]
    with pytest.warns(GoodwillDeprecationWarning, match=r"estimation.window, estimation.ref"):
        old = load_config(flat)
    assert old == new


def test_flat_and_sectioned_twfe_keys_together_are_an_error(write_config):
    both = write_config(**{"cumulative = [0, 11]": "cumulative = [0, 11]\nref = -2"})
    with pytest.raises(ValueError, match=r"ref: given both in \[estimation\] and in "):
        load_config(both)


def test_options_apply_to_every_estimator_that_has_them(write_config):
    settings = load_config(write_config()).estimation
    changed = override_estimation(
        settings, {"cumulative": (0, 5)}, {"vcov": "CRV1", "clusters": ["week"], "ref": -2}
    )
    assert changed.cumulative == (0, 5)
    assert changed.twfe.clusters == changed.sun_abraham.clusters == ["week"]
    assert changed.imputation.clusters == changed.callaway_santanna.clusters == ["week"]
    assert changed.twfe.ref == -2
    assert changed.callaway_santanna == settings.callaway_santanna.model_copy(
        update={"clusters": ["week"]}
    )
    # A vcov without CRV1 drops the clusters of the regressions' CRV1, not the others'.
    iid = override_estimation(changed, {}, {"vcov": "iid"})
    assert iid.twfe.clusters is None and iid.imputation.clusters == ["week"]
    assert iid.callaway_santanna.clusters == ["week"]


def test_callaway_santanna_clusters_reach_its_fit(small_panel):
    panel = small_panel[0]
    settings = EstimationSettings.model_validate({"callaway_santanna": {"clusters": ["segment"]}})
    entry = ESTIMATORS["callaway_santanna"]
    fitted = entry.fit(panel, settings.columns, settings.callaway_santanna, 0)
    model = CallawaySantAnna(panel, **settings.columns.as_kwargs(), cluster="segment")
    direct = model.fit().aggregate("dynamic", uniform_band=True, seed=0)
    pd.testing.assert_series_equal(fitted.bse, direct.bse)
    assert not np.allclose(fitted.bse, entry.fit(panel, settings.columns, entry.options(), 0).bse)
    with pytest.raises(ValueError, match="cannot go with clusters"):
        EstimationSettings.model_validate(
            {"callaway_santanna": {"clusters": ["segment"], "jackknife": True}}
        )


def test_weights_refuse_the_resampling_options_naming_the_estimator():
    with pytest.raises(ValueError, match=r"weights = 'w': sun_abraham's jackknife and bootstrap"):
        EstimationSettings.model_validate(
            {"estimators": ["twfe", "sun_abraham"], "weights": "w",
             "sun_abraham": {"pretrend": "bootstrap"}}
        )  # fmt: skip
    assert EstimationSettings.model_validate({"weights": "w"}).columns.weights == "w"


def test_imputation_clusters_reach_its_fit(small_panel):
    panel = small_panel[0]
    settings = EstimationSettings.model_validate({"imputation": {"clusters": ["segment"]}})
    fitted = ESTIMATORS["imputation"].fit(panel, settings.columns, settings.imputation, 0)
    direct = ImputationDiD(panel, **settings.columns.as_kwargs(), cluster="segment").fit()
    pd.testing.assert_series_equal(fitted.bse, direct.bse)
    by_unit = ImputationDiD(panel, **settings.columns.as_kwargs()).fit()
    assert not np.allclose(fitted.bse, by_unit.bse)
    with pytest.raises(ValueError, match="clusters"):
        EstimationSettings.model_validate({"imputation": {"clusters": ["segment", "week"]}})


def test_an_option_no_selected_estimator_has_is_an_error(write_config):
    settings = load_config(write_config()).estimation
    robust = override_estimation(settings, {"estimators": ["callaway_santanna"]}, {})
    with pytest.raises(ValueError, match=r"window: none of the estimators \(callaway_santanna\)"):
        override_estimation(robust, {}, {"window": (-2, 5)})


def test_an_estimators_options_reach_its_fit(small_panel):
    settings = EstimationSettings.model_validate(
        {
            "estimators": ["sun_abraham"],
            "sun_abraham": {"vcov": "HC1"},
            "callaway_santanna": {"control": "notyet"},
        }
    )
    panel = small_panel[0]
    panel = panel[panel["fake_week"] != 1]
    entry = ESTIMATORS["sun_abraham"]
    fitted = entry.fit(panel, settings.columns, settings.sun_abraham, 0)
    assert fitted.vcov_type == "HC1"
    entry = ESTIMATORS["callaway_santanna"]
    fitted = entry.fit(panel, settings.columns, settings.callaway_santanna, 0)
    never = entry.fit(panel, settings.columns, entry.options(), 0)
    assert fitted.params.to_numpy().tolist() != never.params.to_numpy().tolist()


def test_small_sample_settings_reach_the_regression_fits(small_panel):
    """``[estimation.<name>.ssc]`` reaches EventStudy's and SunAbraham's ``fit``: without both
    factors every variance shrinks by the same G / (G - 1) (n - 1) / (n - K) > 1."""
    panel = small_panel[0]
    panel = panel[panel["fake_week"] != 1]
    for name in ("twfe", "sun_abraham"):
        settings = EstimationSettings.model_validate(
            {"estimators": [name], name: {"ssc": {"adj": False, "cluster_adj": False}}}
        )
        entry = ESTIMATORS[name]
        bare = entry.fit(panel, settings.columns, getattr(settings, name), 0)
        default = entry.fit(panel, settings.columns, entry.options(), 0)
        ratio = (default.bse / bare.bse) ** 2
        assert bare.vcov_type.endswith("ssc(adj=False, cluster_adj=False)")
        assert ratio.min() > 1
        np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-10)


def test_the_dynamic_aggregation_options_reach_callaway_santannas_fit(small_panel):
    panel = small_panel[0]
    panel = panel[panel["fake_week"] != 1]
    entry = ESTIMATORS["callaway_santanna"]
    columns = EstimationSettings().columns
    options = entry.options(balance_e=3, min_e=-2, max_e=2, uniform_band=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few effective units, small late cohorts
        fitted = entry.fit(panel, columns, options, 0)
        direct = (
            entry.model(panel, **columns.as_kwargs())
            .fit()
            .aggregate("dynamic", balance_e=3, min_e=-2, max_e=2)
        )
    assert fitted.event_times == (-2, -1, 0, 1, 2)
    pd.testing.assert_series_equal(fitted.params, direct.params)
    assert fitted.overall == direct.overall


def test_allow_unbalanced_panel_reaches_callaway_santannas_fit(small_panel):
    """Off (did's default) an unbalanced panel is refused naming the option; on, it is fitted
    from the rows present (without the intensity, which is per treated unit there)."""
    panel = small_panel[0]
    panel = panel[panel["fake_week"] != 1]
    panel = panel[np.arange(len(panel)) % 7 != 0]  # every 7th row dropped
    entry = ESTIMATORS["callaway_santanna"]
    columns = replace(EstimationSettings().columns, intensity=None)
    with pytest.raises(ValueError, match=r"allow_unbalanced_panel=True"):
        entry.fit(panel, columns, entry.options(uniform_band=False), 0)
    options = entry.options(allow_unbalanced_panel=True, uniform_band=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # absent units, small late cohorts
        fitted = entry.fit(panel, columns, options, 0)
        direct = (
            entry.model(panel, **columns.as_kwargs(), allow_unbalanced_panel=True)
            .fit()
            .aggregate("dynamic")
        )
    pd.testing.assert_series_equal(fitted.params, direct.params)
    assert ("Panel", "unbalanced (rows present in t and the base period)") in fitted.notes
    # A cohort without rows in one week: its cells are NA (did); na_rm averages the others.
    late = panel["fake_week"].max()
    holed = panel[~((panel["fake_week"] == late) & (panel["week"] == late - 1))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"could not be estimated .* na_rm=True"):
            entry.fit(holed, columns, options, 0)
        kept = entry.fit(holed, columns, options.model_copy(update={"na_rm": True}), 0)
        direct = (
            entry.model(holed, **columns.as_kwargs(), allow_unbalanced_panel=True)
            .fit()
            .aggregate("dynamic", na_rm=True)
        )
    pd.testing.assert_series_equal(kept.params, direct.params)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"min_e": 3, "max_e": 1}, r"min_e = 3 is above max_e = 1"),
        ({"balance_e": -1}, r"balance_e\n  Input should be greater than or equal to 0"),
        ({"max_e": 5}, r"cumulative = \[0, 11\] must lie inside the event times of "
                       r"callaway_santanna \(min_e = None, max_e = 5, balance_e = None\)"),
        ({"balance_e": 4}, r"cumulative = \[0, 11\] must lie inside"),
    ],
)  # fmt: skip
def test_the_dynamic_aggregation_options_are_checked(section, message):
    with pytest.raises(ValueError, match=message):
        EstimationSettings.model_validate(
            {"estimators": ["callaway_santanna"], "callaway_santanna": section}
        )
