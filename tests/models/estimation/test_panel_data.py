"""PanelData: the one reader of outcome, unit, period, cohort and dose, against pandas.

The messages of each kind of bad input are checked for every estimator at once in
test_conformance.py; here the values read, on a panel stored unit by unit (the fast grid path)
and on the same rows shuffled with some dropped (the general path), are compared with pandas
group-bys of the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import ConsumerSpendModel
from models.estimation.panel_data import PanelData, shown

COLUMNS = ("spend", "consumer_id", "week", "fake_week", "fake_value")


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    panel, _ = ConsumerSpendModel().simulate(n_consumers=600, n_weeks=9, seed=31)
    return panel


@pytest.fixture(scope="module")
def shuffled(grid) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = rng.permutation(len(grid))[: len(grid) - 50]  # shuffled, 50 rows missing
    return grid.iloc[rows].reset_index(drop=True)


def _by_unit(df: pd.DataFrame, column: str) -> np.ndarray:
    return df.groupby("consumer_id")[column].first().to_numpy()


@pytest.mark.parametrize("which", ["grid", "shuffled"])
def test_values_match_pandas(request, which):
    df = request.getfixturevalue(which)
    panel = PanelData.read(df, *COLUMNS)
    assert panel.grid == (which == "grid") and panel.balanced == (which == "grid")
    np.testing.assert_array_equal(panel.periods, np.sort(df["week"].unique()))
    cohorts = _by_unit(df, "fake_week")
    np.testing.assert_array_equal(panel.cohorts, np.where(np.isnan(cohorts), np.inf, cohorts))
    doses = _by_unit(df, "fake_value")
    np.testing.assert_array_equal(panel.doses, np.where(np.isnan(cohorts), 0.0, doses))
    np.testing.assert_array_equal(panel.y, df["spend"].to_numpy())
    wide = df.pivot(index="consumer_id", columns="week", values="spend").to_numpy()
    np.testing.assert_array_equal(panel.to_grid(panel.y), wide)
    order = np.argsort(panel.cohorts, kind="stable")
    np.testing.assert_array_equal(panel.to_grid(panel.y, order=order), wide[order])


@pytest.mark.parametrize("which", ["grid", "shuffled"])
def test_treated_rows_and_their_event_times(request, which):
    df = request.getfixturevalue(which)
    rows, event_time = PanelData.read(df, *COLUMNS).treated_rows()
    expected = np.flatnonzero(df["fake_week"].notna().to_numpy())
    np.testing.assert_array_equal(np.sort(rows), expected)
    np.testing.assert_array_equal(
        event_time[np.argsort(rows)], (df["week"] - df["fake_week"]).to_numpy()[expected]
    )


def test_a_dose_is_read_only_on_treated_units(grid):
    never = grid["fake_week"].isna()
    odd = grid.assign(fake_value=grid["fake_value"].where(~never, np.nan))
    odd.loc[never & (odd["week"] == 3), "fake_value"] = -7.0  # anything on never-treated rows
    panel = PanelData.read(odd, *COLUMNS)
    assert (panel.doses[~panel.treated] == 0).all() and (panel.doses[panel.treated] > 0).all()
    np.testing.assert_array_equal(panel.row_doses, odd["fake_value"].to_numpy())


def test_messages_show_ids_as_python_values():
    assert shown(np.int32(6)) == "6" and shown(np.float64(2.5)) == "2.5"
    assert shown("a") == "'a'" and shown(7) == "7"


@pytest.mark.parametrize("which", ["grid", "shuffled"])
def test_sampling_weights_by_row_and_by_unit(request, which):
    df = request.getfixturevalue(which)
    units = df["consumer_id"].to_numpy()
    weighted = df.assign(w=1.0 + (units % 7) / 3.0)  # constant within a unit
    panel = PanelData.read(weighted, *COLUMNS, weights="w")
    np.testing.assert_array_equal(panel.row_weights, weighted["w"].to_numpy())
    np.testing.assert_array_equal(panel.unit_weights, _by_unit(weighted, "w"))
    assert PanelData.read(df, *COLUMNS).unit_weights is None


def test_bad_sampling_weights_are_named(grid):
    with pytest.raises(ValueError, match="weights column 'w': expected positive weights, found 1 "):
        PanelData.read(grid.assign(w=np.where(grid.index == 4, 0.0, 1.0)), *COLUMNS, weights="w")
    with pytest.raises(ValueError, match="column 'w': expected finite numbers"):
        PanelData.read(grid.assign(w=np.where(grid.index == 4, np.nan, 1.0)), *COLUMNS, weights="w")
    with pytest.raises(ValueError, match="weights 'v' not in the data"):
        PanelData.read(grid, *COLUMNS, weights="v")
    varying = PanelData.read(grid.assign(w=1.0 + grid.index % 2), *COLUMNS, weights="w")
    with pytest.raises(ValueError, match="column 'w': expected one value per unit"):
        _ = varying.unit_weights
