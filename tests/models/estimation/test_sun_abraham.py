"""SunAbraham against independent references.

References: the numbers fixest prints for ``feols(y ~ x1 + sunab(year_treated, year) | id +
year, base_stagg)`` (six decimals), pyfixest 0.60 run in the test on the saturated regression
with explicit cohort x event-time interactions (aggregated here with cohort shares),
statsmodels OLS with dummy variables, and closed forms on balanced panels.

pyfixest 0.60 decides nondeterministically (it depends on the hash seed) whether the unit fixed
effect is nested in the unit clusters, and so which small-sample factor its CRV1 uses; the
comparisons rescale its covariance to fixest's count (unit fixed effect nested: one
coefficient), as tests/test_eventstudy.py does.
"""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from models import ConsumerSpendModel, EventStudy
from models.estimation.sun_abraham import SunAbraham
from models.exceptions import AlwaysTreatedWarning
from tests.conftest import DATA

COEF_RTOL = 1e-8
SE_RTOL = 1e-6
PRINTED = 5e-7 + 1e-12
"""Half a unit in the sixth decimal: numbers printed to six decimals agree within it."""

# fixest's summary(res_sa20, agg = c("att" = "year::[^-]")) of
# feols(y ~ x1 + sunab(year_treated, year) | id + year, base_stagg), standard errors clustered
# by id, as knitted in Mike Nguyen's "A Guide on Data Analysis" (github.com/mikenguyen13/
# data_analysis, chapter "Difference-in-Differences"): the pre-treatment CATT(g, e) with their
# standard errors, then x1 and the ATT; fixest's sunab documentation prints the same ATT.
FIXEST_BASE_STAGG_CATT = """event_time cohort estimate se
-9 10 0.351766 0.359073
-8 9 0.033914 0.471437
-8 10 -0.191932 0.352896
-7 8 -0.589387 0.736910
-7 9 0.872995 0.493427
-7 10 0.019512 0.603411
-6 7 -0.042147 0.865736
-6 8 -0.657571 0.573257
-6 9 0.877743 0.533331
-6 10 -0.403635 0.347412
-5 6 -0.658034 0.913407
-5 7 -0.316974 0.697939
-5 8 -0.238213 0.469744
-5 9 0.301477 0.604201
-5 10 -0.564801 0.463214
-4 5 -0.983453 0.634492
-4 6 0.360407 0.858316
-4 7 -0.430610 0.661356
-4 8 -0.895195 0.374901
-4 9 -0.392478 0.439547
-4 10 0.519001 0.597880
-3 4 0.591288 0.680169
-3 5 -1.000650 0.971741
-3 6 0.072188 0.652641
-3 7 -0.836820 0.804275
-3 8 -0.783148 0.701312
-3 9 0.811285 0.564470
-3 10 0.527203 0.320051
-2 3 0.036941 0.673771
-2 4 0.832250 0.859544
-2 5 -1.574086 0.525563
-2 6 0.311758 0.832095
-2 7 -0.558631 0.871993
-2 8 0.429591 0.305270
-2 9 1.201899 0.819186
-2 10 -0.002429 0.682087
"""
FIXEST_BASE_STAGG_X1 = (0.994678, 0.018378)
FIXEST_BASE_STAGG_ATT = (-1.133749, 0.205070)


@pytest.fixture(scope="module")
def base_stagg() -> pd.DataFrame:
    df = pd.read_csv(DATA / "base_stagg.csv")
    df["cohort"] = df["year_treated"].where(df["year_treated"] < 10000)
    return df


@pytest.fixture(scope="module")
def spend_panel() -> pd.DataFrame:
    """3,000 consumers x 12 weeks, without the consumers first cheated in week 1 (fixest and
    SunAbraham drop them: they have no week before; see the always-treated test)."""
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=12, seed=1)
    return panel.loc[panel["fake_week"] != 1].reset_index(drop=True)


@pytest.fixture(scope="module")
def unbalanced_panel(spend_panel) -> pd.DataFrame:
    """A tenth of the rows missing at random, the rest shuffled."""
    rng = np.random.default_rng(5)
    kept = spend_panel.loc[rng.random(len(spend_panel)) > 0.1]
    return kept.sample(frac=1.0, random_state=2)


def _study(panel: pd.DataFrame, **kwargs) -> SunAbraham:
    return SunAbraham(panel, "spend", "consumer_id", "week", "fake_week", **kwargs)


def test_base_stagg_matches_fixest_printed_numbers(base_stagg):
    res = SunAbraham(base_stagg, "y", "id", "year", "cohort", covariates=["x1"]).fit()
    assert res.nobs == 950 and res.df_t == 94
    assert res.overall == pytest.approx(FIXEST_BASE_STAGG_ATT, abs=PRINTED)
    x1 = (res.saturated.params["x1"], res.saturated.bse["x1"])
    assert x1 == pytest.approx(FIXEST_BASE_STAGG_X1, abs=PRINTED)
    expected = pd.read_csv(io.StringIO(FIXEST_BASE_STAGG_CATT), sep=" ")
    catt = res.cohort_effects.set_index(["event_time", "cohort"])
    catt = catt.loc[list(expected.set_index(["event_time", "cohort"]).index)]
    np.testing.assert_allclose(catt["estimate"], expected["estimate"], rtol=0, atol=PRINTED)
    np.testing.assert_allclose(catt["se"], expected["se"], rtol=0, atol=PRINTED)
    # 9 cohorts x 9 event times (all but -1) in the saturated regression, plus x1.
    assert len(res.saturated.params) == 82
    assert res.event_times == (-9, -8, -7, -6, -5, -4, -3, -2, 0, 1, 2, 3, 4, 5, 6, 7, 8)


def _cell_labels(panel: pd.DataFrame, time: str, cohort: str, ref: int) -> pd.Series:
    """pyfixest factor levels of the cohort x event-time cells, 'ref' for rows with none."""
    rel = panel[time] - panel[cohort]
    label = "e" + rel.astype("Int64").astype(str) + "_g" + panel[cohort].astype("Int64").astype(str)
    return label.where(rel.notna() & (rel != ref), "ref").astype(str)


def _pyfixest_sunab(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    *,
    dose: str | None = None,
    covariates: tuple[str, ...] = (),
    vcov: str | dict[str, str] = "CRV1",
) -> dict[str, object]:
    """The interaction-weighted estimator from pyfixest's saturated regression (``vcov`` in
    pyfixest's spelling, "CRV1" clustering by ``unit``).

    Aggregated here as fixest's ``aggregate`` does: by event time with each cohort's share of
    the cell weights (counts of rows, or sums of squared doses), and the ATT over e >= 0.
    """
    pf = pytest.importorskip("pyfixest")
    data = panel.assign(cell=_cell_labels(panel, time, cohort, ref=-1))
    term = f"i(cell, {dose}, ref='ref')" if dose else "i(cell, ref='ref')"
    formula = f"{outcome} ~ {' + '.join([*covariates, term])} | {unit} + {time}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = pf.feols(formula, data, vcov={"CRV1": unit} if vcov == "CRV1" else vcov)
    covariance = peer._vcov
    if vcov == "CRV1":  # fixest's count: the unit fixed effect, nested, is one coefficient
        df_k = len(peer.coef()) + data[time].nunique()
        covariance = covariance * (peer._N - peer._df_k) / (peer._N - df_k)
    names = list(peer.coef().index)
    cells = data.loc[data["cell"] != "ref"]
    squared = cells[dose] ** 2 if dose else pd.Series(1.0, index=cells.index)
    weight = squared.groupby(cells["cell"]).sum()
    table = pd.DataFrame({"name": [n for n in names if n.startswith("cell::")]})
    table["cell"] = table["name"].str.extract(r"cell::([^:]+)", expand=False)
    table["event_time"] = table["cell"].str.extract(r"e(-?\d+)_", expand=False).astype(int)
    table["weight"] = weight.loc[table["cell"]].to_numpy()
    times = np.sort(table["event_time"].unique())
    combination = np.zeros((times.size + 1, len(names)))
    columns = np.array([names.index(n) for n in table["name"]])
    weight, event_time = table["weight"].to_numpy(), table["event_time"].to_numpy()
    for row, e in enumerate(times):
        combination[row, columns[event_time == e]] = weight[event_time == e]
    combination[-1, columns[event_time >= 0]] = weight[event_time >= 0]
    combination /= combination.sum(axis=1, keepdims=True)
    estimates = combination @ peer.coef().to_numpy()
    se = np.sqrt(np.diag(combination @ covariance @ combination.T))
    return {
        "params": pd.Series(estimates[:-1], index=times),
        "bse": pd.Series(se[:-1], index=times),
        "overall": (estimates[-1], se[-1]),
        "nobs": peer._N,
    }


def _assert_matches(res, expected) -> None:
    effects = res.event_time_effects()
    assert effects.index.tolist() == expected["params"].index.tolist()
    np.testing.assert_allclose(effects["estimate"], expected["params"], rtol=COEF_RTOL)
    np.testing.assert_allclose(effects["se"], expected["bse"], rtol=SE_RTOL)
    assert res.overall[0] == pytest.approx(expected["overall"][0], rel=COEF_RTOL)
    assert res.overall[1] == pytest.approx(expected["overall"][1], rel=SE_RTOL)
    assert res.nobs == expected["nobs"]


@pytest.mark.parametrize("vcov", ["CRV1", "HC1"])
def test_base_stagg_event_time_effects_match_pyfixest(base_stagg, vcov):
    res = SunAbraham(base_stagg, "y", "id", "year", "cohort", covariates=["x1"]).fit(vcov=vcov)
    expected = _pyfixest_sunab(
        base_stagg, "y", "id", "year", "cohort", covariates=("x1",),
        vcov="hetero" if vcov == "HC1" else vcov,
    )  # fmt: skip
    _assert_matches(res, expected)


@pytest.mark.parametrize(
    ("panel_name", "dose", "vcov"),
    [
        ("spend_panel", "fake_value", "CRV1"),
        pytest.param("spend_panel", None, "CRV1", marks=pytest.mark.slow),
        pytest.param("spend_panel", "fake_value", "hetero", marks=pytest.mark.slow),
        pytest.param("spend_panel", "fake_value", {"CRV1": "segment"}, marks=pytest.mark.slow),
        pytest.param("unbalanced_panel", "fake_value", "CRV1", marks=pytest.mark.slow),
        pytest.param("unbalanced_panel", None, "CRV1", marks=pytest.mark.slow),
    ],
)
def test_simulated_panels_match_pyfixest(request, panel_name, dose, vcov):
    """Balanced (sparse indicator design) and unbalanced, shuffled (dense design) panels, with
    and without the per-yuan intensity, clustered by consumer or segment or heteroskedastic.
    pyfixest takes about 3 s a fit here, so only the first case runs by default (base_stagg
    covers the dense design and unweighted cells)."""
    panel = request.getfixturevalue(panel_name)
    res = _study(panel, intensity=dose).fit(vcov=vcov)
    expected = _pyfixest_sunab(
        panel, "spend", "consumer_id", "week", "fake_week", dose=dose, vcov=vcov
    )
    _assert_matches(res, expected)
    assert res.window == (-11, 10)
    assert res.params.index[0] == "event_time::-11"  # one naming scheme, dose or not


@pytest.mark.slow
def test_last_cohort_control_matches_pyfixest_on_the_earlier_periods(spend_panel):
    """control='last': the week-12 cohort is the control and weeks 12 on are dropped."""
    res = _study(spend_panel, control="last").fit()
    subset = spend_panel.loc[spend_panel["week"] < 12].copy()
    subset["fake_week"] = subset["fake_week"].where(subset["fake_week"] < 12)
    expected = _pyfixest_sunab(subset, "spend", "consumer_id", "week", "fake_week")
    _assert_matches(res, expected)
    assert res.window == (-10, 9)


def test_intensity_matches_statsmodels_dummies():
    """Coefficients of OLS with unit and period dummies and dose-weighted cell dummies; the
    CRV1 covariance is statsmodels' clustered sandwich with fixest's small-sample factor."""
    rng = np.random.default_rng(3)
    n_units, n_periods = 40, 6
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(np.arange(n_periods), n_units),
        }
    )
    unit_cohort = rng.choice([2.0, 3.0, 4.0, np.nan], size=n_units)
    df["g"] = unit_cohort[df["unit"]]
    df["dose"] = rng.uniform(50, 500, n_units)[df["unit"]]
    df["y"] = rng.normal(size=len(df)) + 0.01 * df["dose"] * (df["t"] >= df["g"])
    res = SunAbraham(df, "y", "unit", "t", "g", intensity="dose").fit()
    df["cell"] = _cell_labels(df, "t", "g", ref=-1)
    cells = sorted(c for c in df["cell"].unique() if c != "ref")
    ours = ["event_time::{}:cohort::{}".format(*c[1:].split("_g")) for c in cells]
    terms = [f"d{j}" for j in range(len(cells))]
    for term, cell in zip(terms, cells, strict=True):
        df[term] = (df["cell"] == cell) * df["dose"]
    sm = smf.ols(f"y ~ {' + '.join(terms)} + C(unit) + C(t)", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["unit"], "use_correction": False}
    )
    np.testing.assert_allclose(res.saturated.params[ours], sm.params[terms], rtol=COEF_RTOL)
    n, k = len(df), len(cells)
    factor = n_units / (n_units - 1) * (n - 1) / (n - k - (n_periods - 1) - 1)
    np.testing.assert_allclose(
        res.saturated.bse[ours], np.sqrt(factor) * sm.bse[terms], rtol=SE_RTOL
    )
    # Each per-dose CATT is the cohort's dose-weighted change net of the fitted period effects.
    period_effect = pd.Series({t: sm.params.get(f"C(t)[T.{t}]", 0.0) for t in range(n_periods)})
    wide = df.pivot(index="unit", columns="t", values="y")
    dose = df.groupby("unit")["dose"].first()
    for row in res.cohort_effects.itertuples():
        units = dose.index[unit_cohort == row.cohort]
        g, t = int(row.cohort), int(row.cohort + row.event_time)
        change = (
            wide.loc[units, t] - wide.loc[units, g - 1] - period_effect[t] + period_effect[g - 1]
        )
        ratio = (dose[units] * change).sum() / (dose[units] ** 2).sum()
        assert row.estimate == pytest.approx(ratio, rel=COEF_RTOL)
    # Aggregation: cohort weights proportional to the sum of squared doses at each event time.
    cohort_effects = res.cohort_effects
    squared = (df["dose"] ** 2).groupby(df["cell"]).sum()
    for e, group in cohort_effects.groupby("event_time"):
        labels = [f"e{e}_g{g}" for g in group["cohort"]]
        weights = squared.loc[labels].to_numpy() / squared.loc[labels].sum()
        np.testing.assert_allclose(group["weight"], weights, rtol=1e-12)
        assert res.params[f"event_time::{e}"] == pytest.approx(
            weights @ group["estimate"].to_numpy(), rel=COEF_RTOL
        )


@pytest.mark.parametrize("control", ["never", "last"])
def test_balanced_catt_is_the_difference_in_differences_of_cohort_means(spend_panel, control):
    """CATT(g, e) = (Y_g[g+e] - Y_g[g-1]) - (Y_C[g+e] - Y_C[g-1]), to rounding, with C the
    never-treated units, or with control='last' those and the week-12 cohort (weeks 1-11)."""
    res = _study(spend_panel, control=control).fit()
    wide = spend_panel.pivot(index="consumer_id", columns="week", values="spend")
    cohort = spend_panel.groupby("consumer_id")["fake_week"].first()
    if control == "last":
        wide, cohort = wide.loc[:, :11], cohort.where(cohort < 12)
    never = wide.loc[cohort.isna()].mean()
    assert res.cohort_effects["cohort"].max() == (11 if control == "last" else 12)
    for row in res.cohort_effects.itertuples():
        cohort_mean = wide.loc[cohort == row.cohort].mean()
        g, t = row.cohort, row.cohort + row.event_time
        expected = (cohort_mean[t] - cohort_mean[g - 1]) - (never[t] - never[g - 1])
        assert row.estimate == pytest.approx(expected, rel=1e-9, abs=1e-9)


def _additive_panel(dose_by_cohort: dict[int, float] | None = None) -> pd.DataFrame:
    """y = unit effect + period effect + tau_e (times the dose) with no noise: 8 periods,
    cohorts 3, 5 and 6 of different sizes and never-treated units."""
    rng = np.random.default_rng(7)
    n_units, n_periods = 60, 8
    df = pd.DataFrame(
        {"unit": np.repeat(np.arange(n_units), n_periods), "t": np.tile(np.arange(1, 9), n_units)}
    )
    unit_cohort = np.select(
        [np.arange(n_units) < 10, np.arange(n_units) < 30, np.arange(n_units) < 40],
        [3.0, 5.0, 6.0],
        np.nan,
    )
    df["g"] = unit_cohort[df["unit"]]
    if dose_by_cohort is None:
        df["dose"] = rng.uniform(1, 5, n_units)[df["unit"]]
    else:
        df["dose"] = df["g"].map(dose_by_cohort)
    event_time = df["t"] - df["g"]
    tau = np.where(event_time >= 0, -1.0 - 0.5 * event_time, 0.0)
    df["y_flat"] = rng.normal(size=n_units)[df["unit"]] + np.sin(df["t"]) + tau
    df["y_dose"] = df["y_flat"] - tau + tau * df["dose"]
    return df


def test_homogeneous_effects_give_the_twfe_estimates_and_the_truth():
    """With the same effect path in every cohort (no noise) the interaction-weighted and the
    two-way event study both recover it exactly, per unit of dose too."""
    df = _additive_panel()
    truth = pd.Series(np.where(np.arange(-5, 6) >= 0, -1.0 - 0.5 * np.arange(-5, 6), 0.0),
                      index=range(-5, 6)).drop(-1)  # fmt: skip
    for outcome, dose in [("y_flat", None), ("y_dose", "dose")]:
        res = SunAbraham(df, outcome, "unit", "t", "g", intensity=dose).fit()
        twfe = EventStudy(df, outcome, "unit", "t", "g", window=(-5, 5), intensity=dose).fit()
        np.testing.assert_allclose(res.event_time_effects()["estimate"], truth, atol=1e-10)
        np.testing.assert_allclose(twfe.params.to_numpy(), res.params.to_numpy(), atol=1e-10)


def test_equal_doses_within_cohorts_scale_the_binary_catt():
    """With one dose v_g per cohort, the per-unit CATT is the binary CATT / v_g and the cohort
    weights at e are n_g v_g^2 (n_g: the cohort's units observed at e)."""
    doses = {3: 2.0, 5: 0.5, 6: 4.0}
    df = _additive_panel(doses)
    df["y"] = df["y_flat"] + np.random.default_rng(1).normal(size=len(df))
    binary = SunAbraham(df, "y", "unit", "t", "g").fit().cohort_effects
    per_dose = SunAbraham(df, "y", "unit", "t", "g", intensity="dose").fit()
    scale = binary["cohort"].map(doses).to_numpy()
    np.testing.assert_allclose(per_dose.cohort_effects["estimate"], binary["estimate"] / scale)
    units = df.groupby("g")["unit"].nunique()
    for e, group in per_dose.cohort_effects.groupby("event_time"):
        weight = units.loc[group["cohort"]].to_numpy() * group["cohort"].map(doses) ** 2
        np.testing.assert_allclose(group["weight"], weight / weight.sum(), rtol=1e-12)
        assert per_dose.params.loc[f"event_time::{e}"] == pytest.approx(
            (group["weight"] * group["estimate"]).sum(), rel=1e-12
        )


def test_always_treated_units_are_dropped_with_a_warning():
    panel, _ = ConsumerSpendModel().simulate(n_consumers=3_000, n_weeks=12, seed=1)
    n_first_week = panel.loc[panel["fake_week"] == 1, "consumer_id"].nunique()
    with pytest.warns(
        AlwaysTreatedWarning,
        match=rf"dropped {n_first_week} unit\(s\) \({12 * n_first_week} rows\) of cohort\(s\) 1 "
        r"in column 'fake_week': treated from their first observed period on",
    ):
        res = _study(panel).fit()
    without = _study(panel.loc[panel["fake_week"] != 1]).fit()
    np.testing.assert_allclose(res.params, without.params, rtol=1e-12)
    np.testing.assert_allclose(res.bse, without.bse, rtol=1e-10)
    assert res.nobs == len(panel) - 12 * n_first_week


def test_results_api(spend_panel):
    study = _study(spend_panel, intensity="fake_value")
    before = dict(vars(study))
    res, again = study.fit(), study.fit()
    assert all(vars(study)[k] is before[k] for k in before)
    assert res.params.equals(again.params) and res.bse.equals(again.bse)
    estimate, se = res.cumulative(0, 9)
    weights = np.isin(res.event_times, range(10)).astype(float)
    assert estimate == pytest.approx(weights @ res.params.to_numpy(), rel=1e-12)
    assert se == pytest.approx(np.sqrt(weights @ res.cov_params().to_numpy() @ weights))
    assert res.cohort_effects.groupby("event_time")["weight"].sum().to_numpy() == pytest.approx(1)
    assert list(res.cohort_effects.columns) == ["cohort", "event_time", "estimate", "se", "weight"]
    assert res.df_t == spend_panel["consumer_id"].nunique() - 1
    text = res.summary().as_text()
    assert "SunAbraham" in text and "CRV1 by consumer_id" in text and "-11..10 (ref -1)" in text
    restored = pickle.loads(pickle.dumps(res))
    assert restored.params.equals(res.params) and restored.cohort_effects.equals(res.cohort_effects)


def _tiny_panel() -> pd.DataFrame:
    df = pd.DataFrame({"unit": np.repeat(np.arange(6), 4), "t": np.tile(np.arange(1, 5), 6)})
    df["g"] = np.repeat([2.0, 2.0, 3.0, 3.0, np.nan, np.nan], 4)
    df["dose"] = np.repeat([10.0, 20.0, 30.0, 40.0, 0.0, 0.0], 4)
    df["y"] = np.arange(len(df), dtype=float) % 5
    return df


def _with(df: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    df = df.copy()
    df.loc[row, column] = value
    return df


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        (_tiny_panel(), {"cohort": "first"}, ValueError, r"column 'first' not in the data"),
        (_tiny_panel(), {"control": "notyet"}, ValueError,
         r"control: expected 'never' or 'last', got 'notyet'"),
        (_tiny_panel(), {"ref": 0}, ValueError, r"ref: expected a negative integer event time"),
        (_tiny_panel(), {"covariates": "dose"}, TypeError, r"covariates: expected a list"),
        (_with(_tiny_panel(), "dose", 3, np.nan), {"covariates": ["dose"]}, ValueError,
         r"column 'dose': expected finite numbers, found 1 missing"),
        (pd.concat([_tiny_panel(), _tiny_panel().iloc[[2]]]), {}, ValueError,
         r"columns 'unit', 't': expected one row per unit and period, found 1 repeated pair"),
        (_tiny_panel().assign(g=lambda d: d["g"].fillna(4.0)), {}, ValueError,
         r"control='never' needs never-treated units \(cohort NaN or \+inf in column 'g'\); "
         r"there are none: use control='last'"),
        (_tiny_panel().assign(g=lambda d: d["g"].replace(3.0, 7.0)), {}, ValueError,
         r"column 'g': cohort\(s\) 7 are not periods of column 't'"),
        (_tiny_panel().assign(g=np.nan), {}, ValueError, r"column 'g': no treated unit"),
        (_with(_tiny_panel(), "g", 1, 3.0), {}, ValueError,
         r"column 'g': expected one \w+ per unit, but unit"),
        (_tiny_panel().assign(g=lambda d: d["g"].replace(3.0, 2.0)), {"control": "last"},
         ValueError, r"control='last' needs two treated cohorts in column 'g', found only 2"),
        (_with(_tiny_panel(), "dose", 9, -1.0), {"intensity": "dose"}, ValueError,
         r"column 'dose': expected one value per treated unit, but unit 2 has several"),
        (_with(_tiny_panel(), "dose", 1, 11.0), {"intensity": "dose"}, ValueError,
         r"column 'dose': expected one value per treated unit, but unit 0 has several"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_clear_message(data, kwargs, error, message):
    arguments = {"outcome": "y", "unit": "unit", "time": "t", "cohort": "g", **kwargs}
    with pytest.raises(error, match=message):
        SunAbraham(data, **arguments)


def test_only_always_treated_cohorts_is_refused():
    df = _tiny_panel().assign(g=lambda d: d["g"].replace(2.0, 1.0).replace(3.0, 1.0))
    with (
        pytest.warns(AlwaysTreatedWarning, match=r"cohort\(s\) 1 in column 'g'"),
        pytest.raises(ValueError, match=r"column 'g': no treated cohort is observed both"),
    ):
        SunAbraham(df, "y", "unit", "t", "g")


@pytest.mark.slow
def test_homogeneous_per_yuan_effect_is_recovered():
    """Every victim loses the same spend per yuan: the 12-week per-yuan sum's 95% CI covers the
    truth on a panel of 60,000 consumers x 22 weeks."""
    from tests.models.estimation.test_event_study import _homogeneous_model

    panel, truth = _homogeneous_model().simulate(n_consumers=60_000, n_weeks=22, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlwaysTreatedWarning)
        res = _study(panel, intensity="fake_value").fit()
    low, high = res.cumulative_conf_int(0, 11)
    assert low <= truth.intensity_multiplier <= high
    assert res.pretrend_test().pvalue > 0.001
