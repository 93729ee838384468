"""Calibration of the market to Alibaba's series (models.market.market_calibration).

References: the model's equations written out by hand (``log_errors``) and scipy's Nelder-Mead
on that hand-written objective.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from models import EnforcementModel, calibrate_enforcement, compare_indices, ridge_profile
from models.market.market_calibration import INTENSITY_INDICES, enforcement_series
from tests.models.market.market_helpers import (
    ENFORCEMENT_DATA,
    expected_sanction,
    hand_relative_value,
    peak_share_by_hand,
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(ENFORCEMENT_DATA)


def log_errors(
    h1: float, eta: float, model: EnforcementModel, data: pd.DataFrame, index: str = "arrests"
) -> np.ndarray:
    """Log fitted minus log observed fake shares of the years besides 2016, written out."""
    delta, h_max = model.exit_rate, model.detection_max
    weeks = expected_sanction(model) / model.profit_per_week
    index_2016 = data.loc[data["year"] == 2016, index].item()
    share_2016 = data.loc[data["year"] == 2016, "suspected_fakes_per_10k_orders"].item()
    rows = data[(data["year"] != 2016) & data["suspected_fakes_per_10k_orders"].notna()]
    x = rows[index].to_numpy(float) / index_2016
    h = h_max * (1 - (1 - h1 / h_max) ** x)
    r1 = (1 - h1 * weeks) * delta / (delta + h1)
    fitted = share_2016 * (hand_relative_value(h, delta, weeks) / r1) ** eta * (delta + h1)
    fitted = fitted / (delta + h)
    return np.log(fitted) - np.log(rows["suspected_fakes_per_10k_orders"].to_numpy(float))


def test_shipped_defaults_are_the_calibration_of_the_shipped_data(data):
    default = EnforcementModel()
    fit = calibrate_enforcement(default, data)
    assert fit.model.detection_2016 == pytest.approx(default.detection_2016, rel=1e-3)
    assert fit.model.entry_elasticity == pytest.approx(default.entry_elasticity, rel=1e-3)
    untouched = set(type(default).model_fields) - {"detection_2016", "entry_elasticity"}
    assert {k: getattr(fit.model, k) for k in untouched} == {
        k: getattr(default, k) for k in untouched
    }


def test_calibration_table_matches_2016_and_reports_the_log_rmse(data):
    fit = calibrate_enforcement(EnforcementModel(), data)
    table = fit.table
    assert list(table.index) == data["year"].tolist()
    row = table.loc[2016]
    assert row["intensity"] == 1.0
    assert row["fitted"] == pytest.approx(row["observed"], rel=1e-12)
    assert row["stores_closed_fitted"] == pytest.approx(row["stores_closed"], rel=1e-12)
    assert table["intensity"].to_numpy() == pytest.approx(
        data["arrests"].to_numpy() / data.loc[data["year"] == 2016, "arrests"].item(), rel=1e-15
    )
    later = table.loc[2017:2019]
    rmse = np.sqrt(np.mean((np.log(later["fitted"]) - np.log(later["observed"])) ** 2))
    assert fit.rmse_log == pytest.approx(rmse, rel=1e-12)
    assert fit.rmse_log < 0.1
    errors = log_errors(fit.model.detection_2016, fit.model.entry_elasticity, fit.model, data)
    assert fit.rmse_log == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-10)


def test_calibration_is_the_least_squares_minimum(data):
    model = EnforcementModel()
    fit = calibrate_enforcement(model, data)

    def objective(params: np.ndarray) -> float:
        h1, eta = params
        if not (0 < h1 < model.detection_max and eta > 0):
            return np.inf
        return float(np.sum(log_errors(h1, eta, model, data) ** 2))

    found = minimize(
        objective,
        x0=np.array([0.05, 0.9]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 10_000, "maxfev": 20_000},
    )
    assert found.success
    assert found.x[0] == pytest.approx(fit.model.detection_2016, rel=1e-4)
    assert found.x[1] == pytest.approx(fit.model.entry_elasticity, rel=1e-4)
    assert found.fun == pytest.approx(3 * fit.rmse_log**2, rel=1e-6)


@pytest.mark.parametrize(("h1", "eta"), [(0.01, 0.1), (0.02, 2.0), (0.09, 0.2)])
def test_calibration_does_not_depend_on_its_starting_point(data, h1, eta):
    reference = calibrate_enforcement(EnforcementModel(), data).model
    fit = calibrate_enforcement(EnforcementModel(detection_2016=h1, entry_elasticity=eta), data)
    # the objective is flat near its minimum: starts agree to about 1e-7
    assert fit.model.detection_2016 == pytest.approx(reference.detection_2016, rel=1e-5)
    assert fit.model.entry_elasticity == pytest.approx(reference.entry_elasticity, rel=1e-5)


def test_calibration_recovers_the_parameters_of_its_own_model(data):
    truth = EnforcementModel(detection_2016=0.05, entry_elasticity=0.9)
    synthetic = data.copy()
    x = synthetic["arrests"].to_numpy(float) / data.loc[data["year"] == 2016, "arrests"].item()
    synthetic["suspected_fakes_per_10k_orders"] = truth.fake_share(x)
    fit = calibrate_enforcement(EnforcementModel(), synthetic)
    assert fit.model.detection_2016 == pytest.approx(0.05, rel=1e-6)
    assert fit.model.entry_elasticity == pytest.approx(0.9, rel=1e-6)
    assert fit.rmse_log < 1e-9


def test_calibration_needs_its_columns(data):
    with pytest.raises(ValueError, match=r"missing column\(s\) arrests"):
        calibrate_enforcement(EnforcementModel(), data.drop(columns="arrests"))


def test_calibration_needs_a_2016_row(data):
    with pytest.raises(ValueError, match="exactly one row for the year 2016"):
        calibrate_enforcement(EnforcementModel(), data[data["year"] != 2016])
    twice = pd.concat([data, data[data["year"] == 2016]])
    with pytest.raises(ValueError, match="exactly one row for the year 2016"):
        calibrate_enforcement(EnforcementModel(), twice)


def test_calibration_needs_two_other_years(data):
    short = data.copy()
    short.loc[short["year"] >= 2018, "suspected_fakes_per_10k_orders"] = np.nan
    with pytest.raises(ValueError, match="at least two years besides 2016"):
        calibrate_enforcement(EnforcementModel(), short)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_calibration_needs_positive_2016_arrests(data):
    no_arrests = data.copy()
    no_arrests.loc[no_arrests["year"] == 2016, "arrests"] = 0
    with pytest.raises(ValueError, match="arrests"):
        calibrate_enforcement(EnforcementModel(), no_arrests)


# --- multi-start, ridge and indices --------------------------------------------------------------


def nelder_mead(model: EnforcementModel, data: pd.DataFrame, index: str, start) -> tuple:
    """(h1, eta, rmse) minimising the hand-written objective from one start (the reference)."""

    def objective(params: np.ndarray) -> float:
        h1, eta = params
        if not (0 < h1 < model.detection_max and eta > 0):
            return np.inf
        return float(np.sum(log_errors(h1, eta, model, data, index) ** 2))

    found = minimize(
        objective,
        x0=np.asarray(start),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 10_000, "maxfev": 20_000},
    )
    return found.x[0], found.x[1], np.sqrt(found.fun / 3)


def test_multi_start_finds_the_good_fit_where_one_start_does_not(data):
    # issue 16: one Levenberg-Marquardt start from the shipped values gave log RMSE 0.177
    model = EnforcementModel(detection_2016=0.05, detection_max=0.07)
    fit = calibrate_enforcement(model, data)
    h1, eta, rmse = nelder_mead(model, data, "arrests", [0.04, 0.9])
    assert fit.rmse_log == pytest.approx(0.0790, abs=5e-4)
    assert fit.rmse_log == pytest.approx(rmse, rel=1e-6)
    assert fit.model.detection_2016 == pytest.approx(h1, rel=1e-4)
    assert fit.model.entry_elasticity == pytest.approx(eta, rel=1e-4)


def test_multi_start_is_deterministic(data):
    model = EnforcementModel(detection_2016=0.05, detection_max=0.07)
    assert calibrate_enforcement(model, data).model == calibrate_enforcement(model, data).model


def test_ridge_profile_is_flat_in_the_fit_but_not_in_the_share_without_enforcement(data):
    grid = [0.065, 0.08, 0.1, 0.15, 0.2]
    profile = ridge_profile(EnforcementModel(), data, grid)
    assert list(profile.index) == grid
    # flat: every ceiling fits within 1% of the best (0.0785 to 0.0790)
    assert profile["rmse_log"].max() < 1.01 * profile["rmse_log"].min()
    assert profile["rmse_log"].max() < 0.08
    # each row is the Nelder-Mead minimum of the hand objective at that ceiling
    for ceiling, row in profile.iterrows():
        model = EnforcementModel(detection_2016=0.5 * ceiling, detection_max=ceiling)
        h1, eta, rmse = nelder_mead(model, data, "arrests", [0.6 * ceiling, 0.7])
        assert row["detection_2016"] == pytest.approx(h1, rel=1e-4)
        assert row["entry_elasticity"] == pytest.approx(eta, rel=1e-4)
        assert row["rmse_log"] == pytest.approx(rmse, rel=1e-6)
    # ... yet the market without enforcement differs by a factor of two along the ridge
    share_0 = profile["fake_share_0"]
    assert share_0.is_monotonic_increasing
    assert share_0.iloc[-1] > 2 * share_0.iloc[0]
    fitted = EnforcementModel(
        detection_max=0.2,
        detection_2016=profile.loc[0.2, "detection_2016"],
        entry_elasticity=profile.loc[0.2, "entry_elasticity"],
    )
    assert share_0.loc[0.2] == pytest.approx(peak_share_by_hand(fitted), rel=1e-10)


@pytest.mark.parametrize("index", INTENSITY_INDICES)
def test_each_index_calibrates_to_its_least_squares_minimum(data, index):
    fit = calibrate_enforcement(EnforcementModel(), data, index)
    assert fit.index == index
    x = data[index].to_numpy(float) / data.loc[data["year"] == 2016, index].item()
    assert fit.table["intensity"].to_numpy() == pytest.approx(x, rel=1e-15)
    errors = log_errors(
        fit.model.detection_2016, fit.model.entry_elasticity, fit.model, data, index
    )
    assert fit.rmse_log == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-9)
    # no point of a grid of the hand objective does better (the grid broadcasts: h1 by eta)
    h1 = np.linspace(0.001, 0.099, 99)[:, None, None]
    eta = np.geomspace(1e-3, 50, 201)[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        grid = np.sqrt(np.mean(log_errors(h1, eta, fit.model, data, index) ** 2, axis=-1))
    assert fit.rmse_log <= np.nanmin(grid) + 1e-9


def test_compare_indices_lists_each_index_fit(data):
    table = compare_indices(EnforcementModel(), data)
    assert list(table.index) == list(INTENSITY_INDICES)
    for index in INTENSITY_INDICES:
        fit = calibrate_enforcement(EnforcementModel(), data, index)
        assert table.loc[index, "rmse_log"] == fit.rmse_log
        assert table.loc[index, "entry_elasticity"] == fit.model.entry_elasticity


def test_unknown_index_is_rejected_by_name(data):
    with pytest.raises(ValueError, match="intensity index 'budget': expected one of arrests"):
        enforcement_series(data, "budget")


def test_a_fit_above_all_orders_fails_clearly(data):
    # fake shares that fall 100-fold as arrests double need a huge deterrence elasticity
    steep = data.copy()
    steep.loc[steep["year"] > 2016, "suspected_fakes_per_10k_orders"] = [0.021, 0.01, 0.005]
    with pytest.raises(ValueError, match="more than all orders"):
        calibrate_enforcement(EnforcementModel(), steep)
