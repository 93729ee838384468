"""Sensitivity of event-study conclusions to violations of parallel trends (HonestDiD).

Rambachan and Roth (2023) replace "parallel trends holds" by "the post-treatment violation is
not too different from the pre-treatment one" and report confidence sets for a scalar
theta = l'tau_post that stay valid under that weaker assumption, over a range of how much
worse the violation may be:

* smoothness, Delta^SD(M): the slope of the differential trend changes by at most M per
  period (M = 0: the pre-trend extrapolates linearly); sets are fixed-length confidence
  intervals (:mod:`~models.estimation.smoothness_flci`), HonestDiD's default;
* relative magnitudes, Delta^RM(Mbar): each post-period change of the differential trend is at
  most Mbar times the largest pre-period change; sets are the conditional least-favourable
  hybrid (:mod:`~models.estimation.relative_magnitudes`), HonestDiD's default.

The breakdown value is the smallest M (or Mbar) on the grid whose robust set includes zero.
Defaults and numbers follow the R package HonestDiD (``createSensitivityResults``,
``createSensitivityResults_relativeMagnitudes``, ``constructOriginalCS``); the simulated
quantities use R's ``set.seed(0)`` draws, so results equal HonestDiD's.

Reference: Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel Trends",
Review of Economic Studies 90(5), 2555-2591.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm

from models.estimation.relative_magnitudes import GRID_POINTS, GridCentre, relative_magnitude_ci
from models.estimation.smoothness_flci import optimal_flci

Restriction = Literal["SD", "RM"]
Target = Literal["first", "average"] | tuple[int, int]


class EventTimeResults(Protocol):
    """What :func:`honest_did_from_results` reads: ``event_time::e`` coefficients."""

    @property
    def params(self) -> pd.Series: ...

    def cov_params(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class SensitivityResults:
    """Robust confidence sets over a grid of M (or Mbar), with the original interval.

    Attributes
    ----------
    robust : pandas.DataFrame
        HonestDiD's table: one row per grid value with ``lb``, ``ub``, ``method`` ("FLCI" or
        "C-LF"), ``Delta`` ("DeltaSD" or "DeltaRM") and ``M`` or ``Mbar``; then ``lb_open``
        and ``ub_open``, True where the set reaches the end of the theta values tested (Delta^RM
        only: the bound is then that end, and the set may extend beyond it).
    original : tuple of float
        The usual interval ``l'beta_post -/+ z_{1 - alpha/2} sd`` (parallel trends exact).
    l_vec : numpy.ndarray
        Weights of theta on the post-period coefficients.
    alpha : float
        One minus the coverage.
    """

    robust: pd.DataFrame
    original: tuple[float, float]
    l_vec: np.ndarray
    alpha: float

    @property
    def restriction(self) -> Restriction:
        """The restriction: "SD" (smoothness) or "RM" (relative magnitudes)."""
        return "SD" if "M" in self.robust.columns else "RM"

    @property
    def breakdown(self) -> float:
        """The smallest grid value whose robust set includes zero; NaN if none does.

        A robust set that is empty (no value accepted) does not include zero.
        """
        grid = self.robust["M" if self.restriction == "SD" else "Mbar"]
        covers = (self.robust["lb"] <= 0) & (self.robust["ub"] >= 0)
        return float(grid[covers].min()) if covers.any() else np.nan

    def summary(self) -> pd.DataFrame:
        """The original interval above the robust ones, as HonestDiD's sensitivity plot shows."""
        original = pd.DataFrame(
            {"lb": [self.original[0]], "ub": [self.original[1]], "method": ["Original"]}
        )
        return pd.concat([original, self.robust], ignore_index=True)


def original_ci(
    betahat: np.ndarray, sigma: np.ndarray, n_pre: int, l_vec: np.ndarray, alpha: float = 0.05
) -> tuple[float, float]:
    """The usual interval for l'tau_post, exact parallel trends (``constructOriginalCS``)."""
    estimate = float(l_vec @ betahat[n_pre:])
    sd = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
    z = norm.ppf(1 - alpha / 2)
    return float(estimate - z * sd), float(estimate + z * sd)


def smoothness_upper_bound(
    betahat: np.ndarray, sigma: np.ndarray, n_pre: int, alpha: float = 0.05
) -> float:
    """The largest one-sided upper bound of |pre second differences| (``DeltaSD_upperBound_Mpre``).

    Second differences run over the pre periods and the reference period (delta = 0 there).
    """
    second = np.zeros((n_pre - 1, n_pre + 1))
    for row in range(n_pre - 1):
        second[row, row : row + 3] = (1.0, -2.0, 1.0)
    a = np.vstack([second, -second])[:, :n_pre]
    se = np.sqrt(np.diag(a @ sigma[:n_pre, :n_pre] @ a.T))
    return float((a @ betahat[:n_pre] + norm.ppf(1 - alpha) * se).max())


def _check_inputs(betahat, sigma, n_pre: int, n_post: int, l_vec) -> tuple[np.ndarray, ...]:
    betahat = np.asarray(betahat, dtype=float).reshape(-1)
    sigma = np.asarray(sigma, dtype=float)
    if n_pre < 1 or n_post < 1:
        raise ValueError(f"n_pre and n_post must be >= 1, got {n_pre} and {n_post}")
    if betahat.size != n_pre + n_post or sigma.shape != (betahat.size, betahat.size):
        raise ValueError(
            f"betahat must have n_pre + n_post = {n_pre + n_post} entries and sigma be "
            f"{n_pre + n_post} x {n_pre + n_post}, got {betahat.size} and {sigma.shape}"
        )
    if (
        not np.allclose(sigma, sigma.T)
        or np.linalg.eigvalsh(sigma).min() < -1e-12 * np.abs(sigma).max()
    ):
        raise ValueError("sigma must be a symmetric positive semi-definite matrix")
    l_vec = np.eye(n_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float).reshape(-1)
    if l_vec.size != n_post or not np.any(l_vec):
        raise ValueError(f"l_vec must be a nonzero vector of n_post = {n_post} weights")
    return betahat, sigma, l_vec


def honest_did(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    n_post: int,
    restriction: Restriction = "SD",
    grid: np.ndarray | list[float] | None = None,
    l_vec: np.ndarray | None = None,
    alpha: float = 0.05,
    grid_points: int = GRID_POINTS,
    grid_centre: GridCentre = "zero",
    seed: int = 0,
) -> SensitivityResults:
    """Robust confidence sets for l'tau_post over a grid of M (Delta^SD) or Mbar (Delta^RM).

    Parameters
    ----------
    betahat : array_like
        Event-study coefficients ordered by event time, pre periods first, the reference period
        (the last pre-treatment period) omitted.
    sigma : array_like
        Their covariance matrix.
    n_pre, n_post : int
        Numbers of pre- and post-period coefficients.
    restriction : {"SD", "RM"}, default "SD"
        Smoothness (FLCI) or relative magnitudes (conditional least-favourable hybrid).
    grid : array_like, optional
        Values of M or Mbar. Defaults as HonestDiD: for "SD" ten values from 0 to
        :func:`smoothness_upper_bound` (to sd of the first coefficient with one pre period),
        for "RM" ten values from 0 to 2.
    l_vec : array_like, optional
        Weights on the post-period coefficients; default the first post period. Use
        ``np.full(n_post, 1 / n_post)`` for the average, ones over weeks 0..11 for a 12-week sum.
    alpha : float, default 0.05
        One minus the coverage.
    grid_points : int, default 1000
        Delta^RM only: number of theta values tested (HonestDiD's ``gridPoints``).
    grid_centre : {"zero", "identified"}, default "zero"
        Delta^RM only: theta is tested on 0 -/+ 20 sd of l'betahat_post (HonestDiD's default),
        or on the identified set of Delta^RM(Mbar) at betahat -/+ 20 sd, which grows with Mbar
        (the variant behind the tables printed in HonestDiD's README and its Stata port).
    seed : int, default 0
        R seed of the simulated quantities (HonestDiD's ``seed``).

    Returns
    -------
    SensitivityResults

    Examples
    --------
    >>> import numpy as np
    >>> beta = np.array([0.0, 0.0, 1.0])
    >>> res = honest_did(beta, np.eye(3) * 0.01, n_pre=2, n_post=1, grid=[0.0, 1.0])
    >>> res.robust[["lb", "ub", "M"]].round(2).values.tolist()
    [[0.79, 1.21, 0.0], [-0.23, 2.23, 1.0]]
    >>> res.breakdown
    1.0
    """
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, n_pre, n_post, l_vec)
    if restriction not in ("SD", "RM"):
        raise ValueError(f"restriction must be 'SD' or 'RM', got {restriction!r}")
    if grid_centre not in ("zero", "identified"):
        raise ValueError(f"grid_centre must be 'zero' or 'identified', got {grid_centre!r}")
    if grid is None:
        top = (
            2.0
            if restriction == "RM"
            else np.sqrt(sigma[0, 0])
            if n_pre == 1
            else smoothness_upper_bound(betahat, sigma, n_pre)
        )
        grid = np.linspace(0.0, top, 10)
    grid = np.asarray(grid, dtype=float).reshape(-1)
    if np.any(grid < 0) or np.any(np.isnan(grid)):
        raise ValueError(f"grid values must be >= 0, got {grid.tolist()}")
    rows = []
    for value in grid:
        if restriction == "SD":
            ci = optimal_flci(betahat, sigma, n_pre, l_vec, value, alpha=alpha, seed=seed)
            rows.append((ci.lb, ci.ub, "FLCI", "DeltaSD", value, False, False))
        else:
            found = relative_magnitude_ci(
                betahat, sigma, n_pre, l_vec, value, alpha, grid_points, grid_centre, seed
            )
            rows.append((found.lb, found.ub, "C-LF", "DeltaRM", value, *found[2:]))
    grid_name = "M" if restriction == "SD" else "Mbar"
    columns = ["lb", "ub", "method", "Delta", grid_name, "lb_open", "ub_open"]
    return SensitivityResults(
        robust=pd.DataFrame(rows, columns=columns),
        original=original_ci(betahat, sigma, n_pre, l_vec, alpha),
        l_vec=l_vec,
        alpha=alpha,
    )


def _event_time_weights(post_times: list[int], target: Target | np.ndarray) -> np.ndarray:
    if isinstance(target, str):
        if target == "first":
            return np.eye(len(post_times))[0]
        if target == "average":
            return np.full(len(post_times), 1.0 / len(post_times))
        raise ValueError(
            f"target must be 'first', 'average', (first, last) or weights, got {target!r}"
        )
    if isinstance(target, tuple):
        first, last = target
        if first not in post_times or last not in post_times or first > last:
            raise ValueError(
                f"target window {target!r} must lie in the post event times "
                f"{post_times[0]}..{post_times[-1]}"
            )
        return np.array([1.0 if first <= e <= last else 0.0 for e in post_times])
    return np.asarray(target, dtype=float)


def honest_did_from_results(
    results: EventTimeResults,
    restriction: Restriction = "SD",
    grid: np.ndarray | list[float] | None = None,
    target: Target | np.ndarray = "first",
    ref: int = -1,
    **options,
) -> SensitivityResults:
    """:func:`honest_did` on the ``event_time::e`` coefficients of a goodwill event-time fit.

    Parameters
    ----------
    results : results object
        Any fit whose ``params`` and ``cov_params()`` carry ``event_time::e`` coefficients
        before and after ``ref`` (:class:`~models.EventStudy`, Sun-Abraham, Callaway-Sant'Anna's
        dynamic aggregation with ``base_period="universal"``, the imputation event study with
        leads of :meth:`~models.ImputationDiD.event_study`); other coefficients are ignored.
        A plain :meth:`~models.ImputationDiD.fit` has no pre-period coefficients and is refused.
    restriction, grid
        As in :func:`honest_did`.
    target : {"first", "average"}, (first, last) or array_like, default "first"
        theta: the first post-reference effect, the average of the post effects, the sum over
        event times first..last (``(0, 11)``: the 12-week sum), or weights on the post effects.
    ref : int, default -1
        The omitted reference event time: pre periods are the event times before it, post
        periods those after it; both must be consecutive. Delta^SD and Delta^RM speak of one
        period per coefficient: an event study's binned end points (``bin_endpoints=True``)
        pool several.
    **options
        ``alpha``, ``grid_points``, ``grid_centre``, ``seed`` of :func:`honest_did`.

    Returns
    -------
    SensitivityResults
    """
    if getattr(results, "model_name", None) == "ImputationDiD":
        raise ValueError(
            "ImputationDiD.fit() estimates no pre-period coefficients, and its pre-trend leads "
            "(pretrends) have no covariance with its effects: use "
            "ImputationDiD(...).event_study(leads=range(-K, 0)), leads and effects from one "
            "model of the untreated outcome with their joint covariance"
        )
    names = {}
    for name in results.params.index:
        if isinstance(name, str) and name.startswith("event_time::") and ":" not in name[12:]:
            names[int(name[12:])] = name
    times = sorted(names)
    pre = [e for e in times if e < ref]
    post = [e for e in times if e > ref]
    if ref in names:
        raise ValueError(
            f"the reference event time ref={ref} has a coefficient: HonestDiD needs an event "
            "study normalised to zero there (Callaway-Sant'Anna: base_period='universal'; "
            "ImputationDiD.event_study: ref=-1)"
        )
    if not pre or not post:
        raise ValueError(
            f"need event_time coefficients before and after the omitted ref={ref}, got event "
            f"times {times}"
        )
    if pre != list(range(pre[0], ref)) or post != list(range(ref + 1, post[-1] + 1)):
        raise ValueError(f"event times must be consecutive around ref={ref}, got {times}")
    labels = [names[e] for e in pre + post]
    return honest_did(
        results.params[labels].to_numpy(),
        results.cov_params().loc[labels, labels].to_numpy(),
        n_pre=len(pre),
        n_post=len(post),
        restriction=restriction,
        grid=grid,
        l_vec=_event_time_weights(post, target),
        **options,
    )
