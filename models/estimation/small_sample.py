"""Small-sample corrections of regression variances, with fixest's ``ssc()`` semantics.

A variance estimator (:mod:`models.estimation.vcov`) is a sandwich times a small-sample factor;
:class:`SmallSample` says which factor, under the names of fixest's ``ssc()`` (and pyfixest's
``ssc()`` where it has them):

=====================  ============================  =====================================
goodwill               fixest ``ssc()``              pyfixest ``ssc()``
=====================  ============================  =====================================
``adj``                ``adj``                       ``k_adj``
``fixef_k``            ``fixef.K``                   ``k_fixef`` ("nested" is "nonnested")
``cluster_adj``        ``cluster.adj``               ``G_adj``
``cluster_df``         ``cluster.df``                ``G_df``
``t_df``               ``t.df``                      (none: always "min")
=====================  ============================  =====================================

With n observations, k regressors and K the parameter count ``fixef_k`` gives:

* ``adj`` multiplies every variance by (n - 1) / (n - K); the iid variance is then
  ``e'e / (n - 1) (X'X)^-1`` times that factor (so ``e'e / (n - K)`` by default, the classical
  one), and HC1's sandwich by it and by n / (n - 1) when ``cluster_adj`` (n / (n - K) in all).
* ``fixef_k``: K is k (``"none"``), k plus every fixed-effect coefficient (``"full"``: the
  levels of each fixed effect, minus one for each fixed effect after the first), or
  ``"nested"`` (the default), "full" except that, with clustered standard errors, a fixed
  effect nested in a cluster variable counts as one coefficient.
* ``cluster_adj`` multiplies a clustered variance by G / (G - 1); with two-way clustering
  ``cluster_df="min"`` (the default) uses the smallest G for the whole sum and
  ``"conventional"`` adjusts each of its three terms by its own G.
* ``t_df``: the degrees of freedom of the t distribution behind p-values and intervals of a
  clustered variance: the smallest G minus one (``"min"``), n - K (``"conventional"``), or a
  given number. Unclustered variances use n - K (or the given number).

The default is fixest's and pyfixest's default, so a fit without ``ssc`` reproduces
``feols``. fixest's ``fixef.force_exact`` (counting redundant fixed-effect levels exactly) is not
offered. The CR3 jackknife has no small-sample factor: it accepts only the default.

Examples
--------
>>> from models.estimation.small_sample import ssc
>>> ssc(adj=False, cluster_df="conventional")
SmallSample(adj=False, fixef_k='nested', cluster_adj=True, cluster_df='conventional', t_df='min')
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

__all__ = ["SmallSample", "ssc"]

FIXEF_K = ("nested", "none", "full")
CLUSTER_DF = ("min", "conventional")


@dataclass(frozen=True)
class SmallSample:
    """Which small-sample factor a variance gets (see the module docstring).

    Attributes
    ----------
    adj : bool
        Multiply by (n - 1) / (n - K).
    fixef_k : {"nested", "none", "full"}
        How fixed-effect coefficients count in K.
    cluster_adj : bool
        Multiply a clustered variance by G / (G - 1) (and HC1 by n / (n - 1)).
    cluster_df : {"min", "conventional"}
        With two-way clustering: one G / (G - 1) with the smallest G, or one per term.
    t_df : {"min", "conventional"} or int
        Degrees of freedom of the t distribution: smallest G - 1, n - K, or this number.
    """

    adj: bool = True
    fixef_k: Literal["nested", "none", "full"] = "nested"
    cluster_adj: bool = True
    cluster_df: Literal["min", "conventional"] = "min"
    t_df: Literal["min", "conventional"] | int = "min"

    def __post_init__(self) -> None:
        for name in ("adj", "cluster_adj"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"ssc: {name}: expected True or False, got {getattr(self, name)!r}"
                )
        if self.fixef_k not in FIXEF_K:
            raise ValueError(f"ssc: fixef_k: expected one of {FIXEF_K}, got {self.fixef_k!r}")
        if self.cluster_df not in CLUSTER_DF:
            raise ValueError(
                f"ssc: cluster_df: expected one of {CLUSTER_DF}, got {self.cluster_df!r}"
            )
        integer = isinstance(self.t_df, int) and not isinstance(self.t_df, bool)
        if not (self.t_df in CLUSTER_DF or (integer and self.t_df > 0)):
            raise ValueError(
                "ssc: t_df: expected 'min', 'conventional' or a positive integer, "
                f"got {self.t_df!r}"
            )

    @property
    def is_default(self) -> bool:
        """Whether this is fixest's default (``ssc()``)."""
        return self == SmallSample()

    @property
    def label(self) -> str:
        """The settings that differ from the default, e.g. ``ssc(adj=False)``; "" if none."""
        changed = [
            f"{field.name}={getattr(self, field.name)!r}"
            for field in fields(self)
            if getattr(self, field.name) != field.default
        ]
        return f"ssc({', '.join(changed)})" if changed else ""

    def k(self, k: int, fe_dof: int, fe_dof_nested: int | None) -> int:
        """K of (n - 1) / (n - K): k regressors plus the fixed effects as ``fixef_k`` says.

        ``fe_dof`` counts every fixed-effect coefficient, ``fe_dof_nested`` the count with the
        fixed effects nested in a cluster variable as one each (None if unclustered).
        """
        if self.fixef_k == "none":
            return k
        if self.fixef_k == "full" or fe_dof_nested is None:
            return k + fe_dof
        return k + fe_dof_nested

    def t_degrees(self, n: int, k: int, n_groups: int | None) -> float:
        """Degrees of freedom of t inference for n observations, K = k and the smallest number
        of clusters (None if unclustered)."""
        if not isinstance(self.t_df, str):
            return float(self.t_df)
        if self.t_df == "min" and n_groups is not None:
            return float(max(n_groups - 1, 1))
        return float(max(n - k, 1))


def ssc(
    adj: bool = True,
    fixef_k: Literal["nested", "none", "full"] = "nested",
    cluster_adj: bool = True,
    cluster_df: Literal["min", "conventional"] = "min",
    t_df: Literal["min", "conventional"] | int = "min",
) -> SmallSample:
    """Small-sample settings, as fixest's ``ssc()`` with its dots as underscores.

    Parameters
    ----------
    adj, fixef_k, cluster_adj, cluster_df, t_df
        See :class:`SmallSample`; the defaults are fixest's.

    Returns
    -------
    SmallSample
    """
    return SmallSample(adj, fixef_k, cluster_adj, cluster_df, t_df)
