"""Variance estimators for fixed-effects least squares: iid, HC1, CRV1 (one- and two-way), CR3.

Each estimator is the sandwich ``c B M B`` with bread ``B = (X~'X~)^-1`` on the within-transformed
regressors, a meat ``M`` and a small-sample factor ``c`` chosen by the request's
:class:`~models.estimation.small_sample.SmallSample` (fixest's ``ssc()``). Under the default,
fixest's and pyfixest's (``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE, cluster.df =
"min", t.df = "min")``), with n observations, k estimated coefficients and F identified
fixed-effect coefficients (see :attr:`models.estimation.absorb.FixedEffects.dof`):

``iid``
    ``c M = e'e / (n - k - F) * X~'X~``: the classical estimator.
``HC1``
    ``M = sum_i e_i^2 X~_i X~_i'`` and ``c = n / (n - k - F)``.
``CRV1``
    ``M = sum_g s_g s_g'`` with cluster scores ``s_g = sum_{i in g} X~_i e_i`` and
    ``c = G / (G - 1) * (n - 1) / (n - k - F_c)``, where in F_c a fixed effect nested in the
    cluster variable (every level inside one cluster) counts as one coefficient, not as its
    number of levels: the cluster adjustment already accounts for it.
    Two-way clustering by A and B is ``V_A + V_B - V_{A and B}`` (Cameron, Gelbach and Miller,
    2011) with G = min(G_A, G_B) in every term, and a fixed effect nested in either variable
    counts as nested. If the sum has a negative eigenvalue it is floored at zero (fixest).

``CR3``
    The leave-one-unit-out jackknife ``sum_i (b_(-i) - b)(b_(-i) - b)'``, clustered by the unit,
    without a small-sample factor: robust to units with high leverage (a few large doses).
    Event studies on a balanced two-way panel only (:mod:`models.estimation.jackknife`).

F counts the levels of every fixed effect minus one for each fixed effect after the first
(fixest's default count, see :attr:`models.estimation.absorb.FixedEffects.dof`).

Inference uses the t distribution with ``n - k - F`` degrees of freedom for iid and HC1 and
``G - 1`` (the smallest G for two-way clustering) for CRV1 and CR3. The other settings of
:mod:`models.estimation.small_sample` change ``c`` and the degrees of freedom as fixest does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.estimation.absorb import FixedEffects, combine_codes
from models.estimation.design import DenseDesign, IndicatorDesign
from models.estimation.jackknife import cr3
from models.estimation.small_sample import SmallSample

Design = DenseDesign | IndicatorDesign
VcovSpec = str | Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class VcovRequest:
    """A parsed variance request: its kind, for CRV1 the cluster columns, and the
    small-sample settings."""

    kind: str
    clusters: tuple[str, ...] = ()
    ssc: SmallSample = field(default_factory=SmallSample)

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``CRV1 by consumer_id`` or ``HC1, ssc(adj=False)``."""
        label = f"{self.kind} by {' and '.join(self.clusters)}" if self.clusters else self.kind
        return f"{label}, {self.ssc.label}" if self.ssc.label else label


@dataclass(frozen=True)
class Covariance:
    """An estimated covariance matrix with the degrees of freedom for t inference."""

    matrix: np.ndarray
    df_t: float
    request: VcovRequest
    n_clusters: tuple[int, ...] = ()


def parse_vcov(
    spec: VcovSpec,
    default_clusters: Sequence[str],
    supported: Sequence[str] | None = None,
    model: str = "",
    ssc: SmallSample | None = None,
) -> VcovRequest:
    """Read ``"iid"``, ``"HC1"``, ``"CRV1"``, ``{"CRV1": "col"}``, ``{"CRV1": "a+b"}``, ``"CR3"``.

    ``"CRV1"`` alone clusters by ``default_clusters`` (the estimator's unit), ``"CR3"`` by the
    first of them (the unit). ``supported``
    names the variance estimators the ``model`` (an estimator's class name, for the message)
    can compute: any other is refused with a message that says which it supports. ``ssc``
    sets the small-sample factor (default: fixest's); CR3 has none and takes only the default.
    """
    who = f"{model}: " if model else ""
    ssc = SmallSample() if ssc is None else ssc
    if not isinstance(ssc, SmallSample):
        raise ValueError(f"{who}ssc: expected the result of ssc(...), got {ssc!r}")
    if isinstance(spec, str):
        kind, clusters = spec, tuple(default_clusters)
    elif isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, value),) = spec.items()
        columns = value.split("+") if isinstance(value, str) else list(value)
        clusters = tuple(c.strip() for c in columns)
        if kind != "CRV1":
            raise ValueError(f"{who}vcov: only CRV1 takes cluster columns, got {{{kind!r}: ...}}")
    else:
        raise ValueError(
            f"{who}vcov: expected 'iid', 'HC1', 'CRV1', {{'CRV1': 'column'}} or 'CR3', got {spec!r}"
        )
    kind = {"hetero": "HC1"}.get(kind, kind)
    if kind not in VARIANCE_ESTIMATORS:
        raise ValueError(
            f"{who}vcov: unknown variance estimator {kind!r}; expected one of "
            f"{', '.join(VARIANCE_ESTIMATORS)}"
        )
    if supported is not None and kind not in supported:
        raise ValueError(
            f"{who}vcov: {kind!r} is not available for this estimator; it supports "
            f"{', '.join(supported)}"
        )
    if kind == "CR3":
        if not ssc.is_default:
            raise ValueError(
                f"{who}ssc: the CR3 jackknife has no small-sample factor to set, got {ssc.label}"
            )
        return VcovRequest(kind, tuple(default_clusters)[:1])
    if kind != "CRV1":
        return VcovRequest(kind, ssc=ssc)
    if not clusters or len(clusters) > 2 or not all(clusters):
        raise ValueError(f"{who}vcov: CRV1 needs one or two cluster columns, got {clusters!r}")
    return VcovRequest(kind, clusters, ssc)


def parse_unit_clustered(
    spec: VcovSpec, unit: str, model: str, supported: Sequence[str] = ("CRV1",)
) -> VcovRequest:
    """A variance request that must be clustered by the unit (CRV1, or another of
    ``supported``): the variance of an estimator whose standard errors come from unit-level
    scores (influence functions)."""
    request = parse_vcov(spec, [unit], supported, model)
    if request.clusters != (unit,):
        raise ValueError(
            f"{model}: vcov: clustered by the unit {unit!r} only (its variance comes from "
            f"unit-level scores), got clusters {', '.join(map(repr, request.clusters))}; to "
            f"cluster above the unit, give the column as {model}(..., cluster=...)"
        )
    return request


def _iid(
    design: Design,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
    ssc: SmallSample,
) -> tuple[np.ndarray, float, tuple[int, ...]]:
    n = e.size
    k = ssc.k(bread.shape[0], fe.dof, None)
    scale = n - k if ssc.adj else n - 1  # e'e / (n - 1) times (n - 1) / (n - K)
    return bread * float(e @ e) / scale, ssc.t_degrees(n, k, None), ()


def _hc1(
    design: Design,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
    ssc: SmallSample,
) -> tuple[np.ndarray, float, tuple[int, ...]]:
    n = e.size
    k = ssc.k(bread.shape[0], fe.dof, None)
    # n / (n - 1) with cluster_adj (G = n), times (n - 1) / (n - K) with adj
    factor = (n if ssc.cluster_adj else n - 1) / (n - k if ssc.adj else n - 1)
    return factor * bread @ design.hetero_meat(e) @ bread, ssc.t_degrees(n, k, None), ()


def _crv1(
    design: Design,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
    ssc: SmallSample,
) -> tuple[np.ndarray, float, tuple[int, ...]]:
    encoded = list(clusters)
    if len(encoded) == 2:
        (a, _), (b, n_b) = encoded
        encoded.append(combine_codes(a, b, n_b))
    sizes = tuple(g for _, g in encoded)
    n_groups = min(sizes[:2]) if len(sizes) == 3 else sizes[0]
    if n_groups < 2:
        raise ValueError("vcov: CRV1 needs at least two clusters")
    n = e.size
    each = ssc.cluster_adj and ssc.cluster_df == "conventional"
    signs = (1.0, 1.0, -1.0)
    meat = np.zeros_like(bread)
    for sign, (codes, size) in zip(signs, encoded, strict=False):
        term = design.cluster_meat(e, codes, size)
        meat += sign * (term * size / (size - 1) if each and size > 1 else term)
    k = ssc.k(bread.shape[0], fe.dof, _fe_dof_outside(fe, [codes for codes, _ in encoded[:2]]))
    factor = n_groups / (n_groups - 1) if ssc.cluster_adj and ssc.cluster_df == "min" else 1.0
    if ssc.adj:
        factor = factor * (n - 1) / (n - k)
    matrix = factor * bread @ meat @ bread
    if len(encoded) == 3:
        matrix = _nearest_positive_semidefinite(matrix)
    return matrix, ssc.t_degrees(n, k, n_groups), sizes[:2]


def _fe_dof_outside(fe: FixedEffects, clusters: Sequence[np.ndarray]) -> int:
    """Fixed-effect coefficients counted in k for CRV1 (fixest's ``fixef.K = "nested"``).

    A fixed effect whose every level lies inside one cluster (of either variable, for two-way
    clustering) counts as one coefficient instead of its number of levels.
    """
    nested = [
        any(fe.is_nested(which, codes) for codes in clusters) for which in range(len(fe.codes))
    ]
    return fe.dof - sum(g - 1 for g, is_nested in zip(fe.sizes, nested, strict=True) if is_nested)


def _nearest_positive_semidefinite(matrix: np.ndarray) -> np.ndarray:
    """Floor negative eigenvalues at zero, as fixest (>= 0.13) does for two-way clustering."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    if values.min() >= 0:
        return matrix
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def _cr3(
    design: Design,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
    ssc: SmallSample,
) -> tuple[np.ndarray, float, tuple[int, ...]]:
    return cr3(design, e, bread, fe, clusters)  # parse_vcov admits only the default ssc


VARIANCE_ESTIMATORS: dict[
    str,
    Callable[
        [
            Design,
            np.ndarray,
            np.ndarray,
            FixedEffects,
            Sequence[tuple[np.ndarray, int]],
            SmallSample,
        ],
        tuple[np.ndarray, float, tuple[int, ...]],
    ],
] = {"iid": _iid, "HC1": _hc1, "CRV1": _crv1, "CR3": _cr3}


def estimate_vcov(
    request: VcovRequest,
    design: Design,
    e: np.ndarray,
    bread: np.ndarray,
    fe: FixedEffects,
    clusters: Sequence[tuple[np.ndarray, int]],
) -> Covariance:
    """Covariance of the coefficients for one request.

    Parameters
    ----------
    request : VcovRequest
        From :func:`parse_vcov`.
    design : DenseDesign or IndicatorDesign
        The within-transformed regressors of the fit.
    e : numpy.ndarray
        Within residuals (square-root weighted).
    bread : numpy.ndarray
        ``(X~'X~)^-1``.
    fe : FixedEffects
        The absorbed fixed effects (for the degrees-of-freedom count).
    clusters : sequence of (numpy.ndarray, int)
        Codes ``0..G-1`` and G for each column of ``request.clusters``.

    Returns
    -------
    Covariance
    """
    matrix, df_t, n_clusters = VARIANCE_ESTIMATORS[request.kind](
        design, e, bread, fe, clusters, request.ssc
    )
    return Covariance((matrix + matrix.T) / 2, float(df_t), request, n_clusters)
