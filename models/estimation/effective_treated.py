"""The effective number of treated units behind a per-unit-of-dose estimate.

With a dose v_i per treated unit (the yuan value of a consumer's first counterfeit), every
goodwill estimator's per-dose effect is ``sum_i v_i tau_i / sum_i v_i^2``: a weighted mean of
the units' per-dose effects ``tau_i / v_i`` with weights ``v_i^2``. Its precision, and how well
a clustered variance estimates that precision, depend not on the number of treated units n but
on Kish's effective size of those weights,

    n_eff = (sum_i v_i^2)^2 / sum_i v_i^4,

which is n when the doses are equal and falls towards 1 as one dose dominates. It is also the
effective number of clusters of the clustered variance (Carter, Schnepel and Steigerwald, 2017)
and, for normal errors, about the degrees of freedom of its t statistic. With heavy-tailed doses
it is a few percent of n: on goodwill's baseline process, 189 of 4,176 victims among 50,000
consumers and 1,483 of 50,348 among the study's 603,000.

A value-weighted estimate (:func:`models.value_weighted`: the effect per treated unit divided by
the mean dose) weights treated units equally, so its n_eff is the number of treated units.

References: Kish, L. (1965), Survey Sampling, Wiley, section 11.7; Carter, A. V., Schnepel, K. T.
and Steigerwald, D. G. (2017), "Asymptotic behavior of a t-test robust to cluster
heterogeneity", Review of Economics and Statistics 99(4), 698-709; Cameron, A. C. and Miller,
D. L. (2015), "A practitioner's guide to cluster-robust inference", Journal of Human Resources
50(2), 317-372.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from models.exceptions import FewEffectiveUnitsWarning

FEW_EFFECTIVE_TREATED = 500.0
"""Below this many effective treated units, per-dose fits warn (:class:`FewEffectiveUnitsWarning`).

Chosen from goodwill's Monte Carlo (README, "Few effective treated units"): on the baseline
process with 20,000 and 50,000 consumers (about 88 and 198 effective victims of 1,670 and
4,170) Sun-Abraham's CRV1 95% intervals of the 12-week per-yuan sum cover 89% and 92%, and the
5% pre-trend tests of Sun-Abraham and Callaway-Sant'Anna reject 59% and 41%, then 29% and 21%,
of panels with parallel trends; at the study's 603,000 consumers (about 1,480 effective of
50,350) both are right. The far leads rest on one or two late cohorts, each with about a
twentieth of n_eff, so an event study needs several hundred effective units before every
coefficient has the few dozen effective clusters that clustered inference needs (Cameron and
Miller, 2015).
"""


@dataclass(frozen=True)
class EffectiveTreated:
    """The effective number of treated units of a fit, and the number they stand for.

    Attributes
    ----------
    effective : float
        Kish's effective size of the weights the estimand gives the treated units.
    treated : int
        The number of treated units.
    weights : str
        Those weights: ``"dose squared"`` (per-dose fits), ``"equal"`` (value-weighted), or
        either with ``" x sampling"`` when the fit has sampling weights.

    Examples
    --------
    >>> EffectiveTreated.of_doses(np.array([1.0, 1.0, 2.0]))
    EffectiveTreated(effective=2.0, treated=3, weights='dose squared')
    """

    effective: float
    treated: int
    weights: str = "dose squared"

    @classmethod
    def of_doses(cls, doses: np.ndarray, sampling: np.ndarray | None = None) -> EffectiveTreated:
        """``(sum v^2)^2 / sum v^4`` over the treated units' doses ``v`` (all positive); with
        sampling weights ``w``, of the weights ``w v^2``."""
        squared = doses**2 if sampling is None else sampling * doses**2
        effective = float(squared.sum() ** 2 / (squared @ squared))
        label = "dose squared" if sampling is None else "dose squared x sampling"
        return cls(effective, int(doses.size), label)

    @classmethod
    def equal(cls, treated: int) -> EffectiveTreated:
        """Equal weights: every one of the ``treated`` units counts fully."""
        return cls(float(treated), int(treated), "equal")

    @classmethod
    def of_sampling(cls, sampling: np.ndarray) -> EffectiveTreated:
        """Kish's ``(sum w)^2 / sum w^2`` over the treated units' sampling weights ``w``."""
        return cls(
            float(sampling.sum() ** 2 / (sampling @ sampling)),
            int(sampling.size),
            "equal x sampling",
        )

    def summary_rows(self) -> dict[str, str]:
        """The summary's row, e.g. ``Effective treated: 189.1 of 4,176 (dose squared weights)``."""
        return {
            "Effective treated:": f"{self.effective:,.1f} of {self.treated:,} "
            f"({self.weights} weights)"
        }


def warn_few_effective(effective: EffectiveTreated | None, owner: str, dose: str | None) -> None:
    """Warn (:class:`FewEffectiveUnitsWarning`) when a per-dose fit has fewer than
    :data:`FEW_EFFECTIVE_TREATED` effective treated units; nothing without a dose."""
    if effective is None or effective.effective >= FEW_EFFECTIVE_TREATED:
        return
    if effective.weights.endswith("sampling"):
        weight, formula = "sampling weight w times its dose", "(sum w v^2)^2 / sum (w v^2)^2"
        remedy = "(CR3 and the bootstrap pre-test are not available with weights yet)"
    else:
        weight, formula = "dose", "(sum v^2)^2 / sum v^4"
        remedy = "(fit with vcov='CR3' and pretrend='bootstrap')"
    warnings.warn(
        f"{owner}: the effects per unit of {dose!r} weight each treated unit by its {weight} "
        f"squared, so the {effective.treated:,} treated units count as "
        f"n_eff = {effective.effective:,.1f} effective ones ({formula}), below "
        f"{FEW_EFFECTIVE_TREATED:g}: a few large doses dominate the estimates, and clustered "
        f"standard errors can be too small and pre-trend tests oversized {remedy}",
        FewEffectiveUnitsWarning,
        stacklevel=4,  # the estimator's constructor, via its panel check
    )
