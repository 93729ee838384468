"""The effective number of treated units: its value, where fits report it, and its warning."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from models import (
    CallawaySantAnna,
    EventStudy,
    FewEffectiveUnitsWarning,
    ImputationDiD,
    SunAbraham,
    value_weighted,
)
from models.estimation.effective_treated import (
    FEW_EFFECTIVE_TREATED,
    EffectiveTreated,
    warn_few_effective,
)
from models.estimation.panel_data import PanelData

COLUMNS = dict(outcome="y", unit="i", time="t", cohort="g")


def _panel(cohorts: np.ndarray, doses: np.ndarray, n_periods: int, seed: int = 0) -> pd.DataFrame:
    """A balanced panel with noise, one row per unit and period; dose 0 on untreated units."""
    n_units = cohorts.size
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n_units * n_periods),
            "i": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(np.arange(1, n_periods + 1), n_units),
            "g": np.repeat(cohorts, n_periods),
            "v": np.repeat(doses, n_periods),
        }
    )


# Four treated units with doses 1, 2, 3, 4 (two in cohort 3, two in cohort 4) and four
# never-treated ones: n_eff = (1 + 4 + 9 + 16)^2 / (1 + 16 + 81 + 256) = 900 / 354.
HAND_MADE = _panel(
    np.array([3, 3, 4, 4, np.nan, np.nan, np.nan, np.nan]),
    np.array([1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]),
    n_periods=5,
)
HAND_MADE_N_EFF = 900 / 354


def test_the_effective_number_of_a_hand_made_panel():
    read = PanelData.read(HAND_MADE, "y", "i", "t", "g", "v").effective_treated
    assert read == EffectiveTreated(pytest.approx(HAND_MADE_N_EFF, rel=1e-15), 4)
    assert PanelData.read(HAND_MADE, "y", "i", "t", "g").effective_treated is None


def _fits(intensity: str | None) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewEffectiveUnitsWarning)
        cells = CallawaySantAnna(HAND_MADE, **COLUMNS, intensity=intensity).fit()
        return {
            "twfe": EventStudy(HAND_MADE, **COLUMNS, window=(-2, 1), intensity=intensity).fit(),
            "callaway_santanna (cells)": cells,
            "callaway_santanna (dynamic)": cells.aggregate("dynamic"),
            "sun_abraham": SunAbraham(HAND_MADE, **COLUMNS, intensity=intensity).fit(),
            "imputation": ImputationDiD(HAND_MADE, **COLUMNS, intensity=intensity).fit(),
        }


def test_every_per_dose_fit_reports_it_and_per_unit_fits_do_not():
    for name, fitted in _fits("v").items():
        assert fitted.effective_treated == pytest.approx(HAND_MADE_N_EFF, rel=1e-15), name
        assert fitted.n_treated == 4, name
        assert fitted.summary_rows()["Effective treated:"] == "2.5 of 4 (dose squared weights)"
        assert "Effective treated:" in fitted.summary().as_text()
    for name, fitted in _fits(None).items():
        assert fitted.effective_treated is None and fitted.n_treated is None, name
        assert "Effective treated:" not in fitted.summary_rows()


def test_a_value_weighted_fit_weights_treated_units_equally():
    per_unit = _fits(None)["twfe"]
    weighted = value_weighted(per_unit, HAND_MADE, "i", "t", "g", "v")
    assert (weighted.effective_treated, weighted.n_treated) == (4.0, 4)
    assert weighted.summary_rows()["Effective treated:"] == "4.0 of 4 (equal weights)"


def _equal_doses(n_treated: int) -> pd.DataFrame:
    """n_treated units with equal doses (n_eff = n_treated) in two cohorts, as many controls."""
    cohorts = np.where(np.arange(2 * n_treated) < n_treated, 2 + np.arange(2 * n_treated) % 2, 0)
    return _panel(np.where(cohorts > 0, cohorts, np.nan), (cohorts > 0) * 7.0, n_periods=3)


@pytest.mark.parametrize("model", [EventStudy, SunAbraham, CallawaySantAnna, ImputationDiD])
def test_the_warning_fires_below_the_threshold_and_not_at_it(model):
    enough = math.ceil(FEW_EFFECTIVE_TREATED)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewEffectiveUnitsWarning)
        model(_equal_doses(enough), **COLUMNS, intensity="v")
        model(_equal_doses(enough - 1), **COLUMNS)  # per treated unit: no dose, no warning
    message = (
        rf"{model.__name__}: the effects per unit of 'v' weight each treated unit by its dose "
        rf"squared, so the {enough - 1:,} treated units count as n_eff = {enough - 1:,}\.0 "
        rf"effective ones .* below {FEW_EFFECTIVE_TREATED:g}"
    )
    with pytest.warns(FewEffectiveUnitsWarning, match=message):
        model(_equal_doses(enough - 1), **COLUMNS, intensity="v")


def test_sampling_weights_multiply_the_dose_weights():
    """A unit with sampling weight w and dose v weighs w v^2: Kish's size of those weights,
    by hand on three units (not the size of the units repeated w times: a weighted unit is
    still one draw)."""
    doses, sampling = np.array([1.0, 1.0, 2.0]), np.array([1.0, 3.0, 0.5])
    a = np.array([1.0, 3.0, 2.0])  # w v^2
    got = EffectiveTreated.of_doses(doses, sampling)
    assert got.effective == pytest.approx(a.sum() ** 2 / (a @ a), rel=1e-12)
    assert (got.treated, got.weights) == (3, "dose squared x sampling")
    kish = EffectiveTreated.of_sampling(sampling)
    assert kish.effective == pytest.approx(4.5**2 / 10.25, rel=1e-12) and kish.treated == 3
    units = [1, 1, 2, 2, 3, 3]
    df = pd.DataFrame(
        {"y": 0.0, "i": units, "t": [1, 2] * 3, "g": 2.0, "v": doses[np.array(units) - 1]}
    )
    df["w"] = [1.0, 1.0, 2.0, 4.0, 0.5, 0.5]
    panel = PanelData.read(df, "y", "i", "t", "g", "v", weights="w")
    assert panel.effective_treated == got  # a unit's weight: its rows' mean (3 for unit 2)


def test_the_warning_of_a_weighted_fit_gives_its_formula_and_no_unavailable_remedy():
    weighted = EffectiveTreated.of_doses(np.array([1.0, 50.0]), np.array([2.0, 1.0]))
    with pytest.warns(
        FewEffectiveUnitsWarning,
        match=r"sampling weight w times its dose squared.*"
        r"\(sum w v\^2\)\^2 / sum \(w v\^2\)\^2.*not available with weights",
    ) as got:
        warn_few_effective(weighted, "EventStudy", "fake_value")
    assert "vcov='CR3'" not in str(got[0].message)
