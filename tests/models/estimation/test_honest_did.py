"""HonestDiD sensitivity analysis against the R package's own numbers and on simulated cases.

References (tests/data/README.md): HonestDiD's README example (Medicaid expansion, ``ehec``),
whose knitr cache keeps the full-precision results, the Lovenheim-Willen Delta^SD vignette
results and the Benzarti-Carloni data, all from github.com/asheshrambachan/HonestDiD.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import EventStudy
from models.estimation.honest_did import (
    honest_did,
    honest_did_from_results,
    original_ci,
    smoothness_upper_bound,
)
from models.estimation.r_normal import r_standard_normal, r_uniform
from models.estimation.relative_magnitudes import relative_magnitude_constraints

DATA = Path(__file__).parents[2] / "data"
REFERENCE = json.loads((DATA / "honestdid_reference.json").read_text())
# Bounds computed from the same inputs with the same algorithm: only solver tolerances differ.
TIGHT = 1e-6
# The brief's tolerance on bounds, for numbers printed to three significant digits.
PRINTED = 1e-3


@pytest.fixture(scope="module")
def ehec_fit():
    """HonestDiD README's TWFE event study: Medicaid expansion in 2014 vs never (to 2015)."""
    df = pd.read_csv(DATA / "ehec_data.csv")
    keep = (df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))
    df = df[keep].assign(cohort=lambda d: np.where(d["yexp2"] == 2014, 2014.0, np.nan))
    return EventStudy(
        df, outcome="dins", unit="stfips", time="year", cohort="cohort", window=(-6, 1), ref=-1
    ).fit(vcov="CRV1")


def test_r_normal_draws_equal_r():
    # R: set.seed(0); runif(3); set.seed(0); rnorm(5); set.seed(42); rnorm(1)
    assert np.allclose(r_uniform(3, 0), [0.8966972, 0.2655087, 0.3721239], atol=5e-8)
    assert np.allclose(
        r_standard_normal(5, 0), [1.2629543, -0.3262334, 1.3297993, 1.2724293, 0.4146414], atol=5e-8
    )
    assert r_standard_normal(1, 42)[0] == pytest.approx(1.3709584, abs=5e-8)


def test_sd_flci_equals_honestdid_readme(ehec_fit):
    ref = REFERENCE["ehec_twfe"]["sd_first_post_cache_chunk6"]
    res = honest_did_from_results(ehec_fit, "SD", grid=ref["M"])
    assert np.allclose(res.robust["lb"][1:], ref["lb"][1:], atol=TIGHT)
    assert np.allclose(res.robust["ub"][1:], ref["ub"][1:], atol=TIGHT)
    # M = 0: the minimum-variance estimator. goodwill solves it in closed form; HonestDiD's
    # conic solvers stop ~4e-6 (relative) short of the minimum variance, which moves the
    # centre by 1e-5 (a thousandth of the standard error).
    assert res.robust.loc[0, ["lb", "ub"]].tolist() == pytest.approx(
        [ref["lb"][0], ref["ub"][0]], abs=2e-5
    )
    assert res.breakdown == pytest.approx(0.03)  # the README: "breakdown value ... M = 0.03"
    assert res.restriction == "SD"
    assert res.summary()["method"].tolist() == ["Original"] + ["FLCI"] * 6


def test_sd_flci_with_control_matches_printed_readme():
    ref = REFERENCE["ehec_twfe_control"]
    res = honest_did(
        ref["betahat"], ref["sigma"], 5, 2, "SD", grid=ref["sd_first_post_readme"]["M"]
    )
    assert np.allclose(res.robust["lb"], ref["sd_first_post_readme"]["lb"], atol=PRINTED)
    assert np.allclose(res.robust["ub"], ref["sd_first_post_readme"]["ub"], atol=PRINTED)


def test_sd_flci_matches_lovenheim_willen_vignette():
    # Units are percentage points (bounds up to 14); R's conic solver leaves ~1e-4 relative
    # error in the estimator's weights, most at M = 0 (2e-3) where the optimal sd is the
    # minimum one and the bias problem has a single feasible point that ECOS finds inexactly.
    ref = REFERENCE["lw"]
    l_vec = np.eye(ref["n_post"])[ref["l_index"] - 1]
    grid = ref["sd_flci"]["M"][1::4]
    res = honest_did(ref["betahat"], ref["sigma"], 9, 23, "SD", grid=grid, l_vec=l_vec)
    assert np.allclose(res.robust["lb"], ref["sd_flci"]["lb"][1::4], atol=5e-4)
    assert np.allclose(res.robust["ub"], ref["sd_flci"]["ub"][1::4], atol=5e-4)


def test_rm_clf_equals_honestdid(ehec_fit):
    # HonestDiD's master code tests theta on 0 -/+ 20 sd (its 2022 README run, cached).
    ref = REFERENCE["ehec_twfe"]["rm_first_post_cache_chunk5"]
    res = honest_did_from_results(ehec_fit, "RM", grid=[0.5, 2.0])
    picks = [1, 4]
    assert np.allclose(res.robust["lb"], np.take(ref["lb"], picks), atol=TIGHT)
    assert np.allclose(res.robust["ub"], np.take(ref["ub"], picks), atol=TIGHT)
    assert res.breakdown == 2.0  # the README: "the breakdown value ... is Mbar = 2"


def test_rm_clf_equals_honestdid_readme_table(ehec_fit):
    # The table printed in HonestDiD's README (2024) tests theta on the identified set
    # -/+ 20 sd (HonestDiD commit 888de5e): grid_centre="identified".
    ref = REFERENCE["ehec_twfe"]["rm_first_post_readme_chunk4"]
    res = honest_did_from_results(ehec_fit, "RM", grid=[1.0, 2.0], grid_centre="identified")
    assert np.allclose(res.robust["lb"], ref["lb"][1::2], atol=TIGHT)
    assert np.allclose(res.robust["ub"], ref["ub"][1::2], atol=TIGHT)
    printed = {"lb": [0.0171, -0.00107], "ub": [0.0720, 0.0883]}  # the README's digits
    assert np.allclose(res.robust["lb"], printed["lb"], atol=PRINTED)
    assert np.allclose(res.robust["ub"], printed["ub"], atol=PRINTED)


@pytest.mark.slow
def test_rm_clf_full_grids_equal_honestdid(ehec_fit):
    ref = REFERENCE["ehec_twfe"]["rm_first_post_cache_chunk5"]
    res = honest_did_from_results(ehec_fit, "RM", grid=ref["Mbar"])
    assert np.allclose(res.robust[["lb", "ub"]], np.c_[ref["lb"], ref["ub"]], atol=TIGHT)
    identified = {"rm_first_post_readme_chunk4": "first", "rm_average_cache_chunk7": "average"}
    for key, target in identified.items():
        ref = REFERENCE["ehec_twfe"][key]
        res = honest_did_from_results(
            ehec_fit, "RM", grid=ref["Mbar"], target=target, grid_centre="identified"
        )
        assert np.allclose(res.robust[["lb", "ub"]], np.c_[ref["lb"], ref["ub"]], atol=TIGHT)
    ref = REFERENCE["sunab"]
    res = honest_did(
        ref["betahat"],
        ref["sigma"],
        10,
        6,
        "RM",
        grid=ref["rm_first_post"]["Mbar"],
        grid_points=100,
        grid_centre="identified",
    )
    expected = np.c_[ref["rm_first_post"]["lb"], ref["rm_first_post"]["ub"]]
    assert np.allclose(res.robust[["lb", "ub"]], expected, atol=TIGHT)


def test_rm_average_target_equals_honestdid(ehec_fit):
    ref = REFERENCE["ehec_twfe"]
    res = honest_did_from_results(
        ehec_fit, "RM", grid=[1.0], target="average", grid_centre="identified"
    )
    assert np.array_equal(res.l_vec, [0.5, 0.5])
    expected = [ref["rm_average_cache_chunk7"][k][2] for k in ("lb", "ub")]
    assert res.robust.loc[0, ["lb", "ub"]].tolist() == pytest.approx(expected, abs=TIGHT)
    original = ref["original_average_cache_chunk7"]
    assert res.original == pytest.approx((original["lb"], original["ub"]), abs=1e-7)


def test_original_ci_equals_honestdid_on_benzarti_carloni():
    bc = REFERENCE["bc"]
    lb, ub = original_ci(np.array(bc["betahat"]), np.array(bc["sigma"]), 4, np.eye(4)[0])
    assert (lb, ub) == pytest.approx(
        (bc["original_first_post"]["lb"], bc["original_first_post"]["ub"]), abs=1e-12
    )


def test_rm_six_post_periods_equals_honestdid_sun_abraham():
    # HonestDiD README's Sun-Abraham example: 10 pre and 6 post periods, gridPoints = 100.
    ref = REFERENCE["sunab"]
    args = (ref["betahat"], ref["sigma"], 10, 6, "RM")
    res = honest_did(*args, grid=[2.0], grid_points=100, grid_centre="identified")
    expected = [ref["rm_first_post"][k][3] for k in ("lb", "ub")]
    assert res.robust.loc[0, ["lb", "ub"]].tolist() == pytest.approx(expected, abs=TIGHT)
    assert res.original == pytest.approx(
        (ref["original_first_post"]["lb"], ref["original_first_post"]["ub"]), abs=1e-12
    )
    # On 0 -/+ 20 sd the set at Mbar = 2 is cut at the end of the range: say so.
    with pytest.warns(UserWarning, match="reaches the end of the tested range"):
        cut = honest_did(*args, grid=[2.0], grid_points=100)
    assert cut.robust.loc[0, "ub"] < expected[1]
    # ... and flag that bound as open (the wider range's set is closed at both ends).
    assert cut.robust.loc[0, ["lb_open", "ub_open"]].tolist() == [False, True]
    assert res.robust.loc[0, ["lb_open", "ub_open"]].tolist() == [False, False]


def _simulated_event_study(slope: float, tau: float, seed: int = 7):
    """Event times -4..2 without the reference -1: trend slope * (t + 1) plus effects tau."""
    times = np.array([-4, -3, -2, 0, 1, 2])
    sigma = 0.01**2 * (np.eye(6) + 0.3)
    truth = slope * (times + 1) + np.where(times >= 0, tau, 0.0)
    rng = np.random.default_rng(seed)
    return truth + rng.multivariate_normal(np.zeros(6), sigma), sigma


def test_sd_m0_is_linear_extrapolation_and_covers_truth():
    betahat, sigma = _simulated_event_study(slope=0.05, tau=0.05)
    original = original_ci(betahat, sigma, 3, np.eye(3)[0])
    assert original[0] > 0.05  # the linear pre-trend biases the usual interval upwards
    res = honest_did(betahat, sigma, 3, 3, "SD", grid=[0.0, 0.005, 0.01])
    assert (res.robust["lb"] <= 0.05).all() and (res.robust["ub"] >= 0.05).all()
    # Without noise, a linear pre-trend is extrapolated exactly: the M = 0 interval is
    # centred on tau whatever the covariance.
    exact = 0.05 * (np.array([-4, -3, -2, 0, 1, 2]) + 1) + np.r_[0, 0, 0, 0.05, 0.05, 0.05]
    centre = honest_did(exact, sigma, 3, 3, "SD", grid=[0.0]).robust[["lb", "ub"]].mean(axis=1)
    assert centre.iloc[0] == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("restriction", ["SD", "RM"])
def test_robust_sets_widen_with_m_and_breakdown_is_the_first_covering_zero(restriction):
    betahat, sigma = _simulated_event_study(slope=0.0, tau=0.03)
    grid = [0.0, 0.5, 1.0, 2.0] if restriction == "RM" else [0.0, 0.01, 0.02, 0.04]
    res = honest_did(betahat, sigma, 3, 3, restriction, grid=grid, grid_points=200)
    assert (np.diff(res.robust["lb"]) <= 1e-12).all()
    assert (np.diff(res.robust["ub"]) >= -1e-12).all()
    covers = (res.robust["lb"] <= 0) & (res.robust["ub"] >= 0)
    first = np.asarray(grid)[covers.to_numpy()].min() if covers.any() else np.nan
    assert res.breakdown == first or (np.isnan(first) and np.isnan(res.breakdown))
    assert (res.robust["lb"] <= 0.03).all() and (res.robust["ub"] >= 0.03).all()


def test_default_grids_follow_honestdid():
    ref = REFERENCE["ehec_twfe_control"]
    beta, sigma = np.array(ref["betahat"]), np.array(ref["sigma"])
    top = smoothness_upper_bound(beta, sigma, 5)
    second = np.array(
        [b - 2 * a + c for a, b, c in zip(beta[1:4], beta[:3], beta[2:5], strict=True)]
    )
    assert top >= np.abs(second).max()
    assert relative_magnitude_constraints(5, 2, 1.0, 0, True).shape == (2 * 7 - 1, 7)


def test_twelve_week_sum_target(ehec_fit):
    res = honest_did_from_results(ehec_fit, "SD", grid=[0.0], target=(0, 1))
    assert np.array_equal(res.l_vec, [1.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pre": 4}, "betahat must have n_pre \\+ n_post = 6"),
        ({"l_vec": [0.0, 0.0]}, "l_vec must be a nonzero vector of n_post = 2"),
        ({"restriction": "SDRM"}, "restriction must be 'SD' or 'RM', got 'SDRM'"),
        ({"grid": [-1.0]}, "grid values must be >= 0"),
        ({"grid_centre": "estimate"}, "grid_centre must be 'zero' or 'identified'"),
        ({"sigma": -np.eye(7)}, "sigma must be a symmetric positive semi-definite"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    ref = REFERENCE["ehec_twfe_control"]
    args = {"betahat": ref["betahat"], "sigma": ref["sigma"], "n_pre": 5, "n_post": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        honest_did(**args)


def test_from_results_needs_event_times_around_ref(ehec_fit):
    with pytest.raises(ValueError, match="before and after the omitted ref=-7"):
        honest_did_from_results(ehec_fit, ref=-7)
    with pytest.raises(ValueError, match=r"ref=-2 has a coefficient.*base_period='universal'"):
        honest_did_from_results(ehec_fit, ref=-2)
    with pytest.raises(ValueError, match="target window \\(0, 5\\)"):
        honest_did_from_results(ehec_fit, target=(0, 5))


def test_one_post_period_uses_the_test_without_nuisance_parameters():
    # No HonestDiD number to compare with: at Mbar = 0 the post trend equals the reference
    # period's, so the hybrid set is close to the usual interval (a little longer: it spends
    # kappa on the first stage) and it grows with Mbar.
    beta, sigma = np.array([0.01, 0.05]), 0.01**2 * (np.eye(2) + 0.2)
    res = honest_did(beta, sigma, 1, 1, "RM", grid=[0.0, 1.0])
    lb, ub = res.original
    assert res.robust.loc[0, "lb"] <= lb + 2e-4 and res.robust.loc[0, "ub"] >= ub - 2e-4
    assert res.robust.loc[0, "ub"] - res.robust.loc[0, "lb"] < 1.1 * (ub - lb)
    assert res.robust.loc[1, "lb"] < res.robust.loc[0, "lb"] < 0.05 < res.robust.loc[0, "ub"]
