"""Every warning goodwill raises, one class each, so a user can filter exactly one.

Each says what was dropped or approximated and how much; none is raised for a result that is
exact.
"""

from __future__ import annotations


class ConvergenceWarning(UserWarning):
    """The alternating projections stopped at ``maxiter`` before reaching ``tol``."""


class SingletonWarning(UserWarning):
    """Observations alone in a level of a fixed effect were dropped."""


class CollinearityWarning(UserWarning):
    """Regressors were dropped because they are collinear."""


class AlwaysTreatedWarning(UserWarning):
    """Units treated from their first observed period on (no pre-period) were dropped."""


class ImputationWarning(UserWarning):
    """Treated observations whose untreated outcome cannot be imputed were dropped."""


class GoodwillDeprecationWarning(FutureWarning):
    """A name or config key that still works in this release and goes in the next one."""


class CheckpointWarning(UserWarning):
    """Finished blocks of a checkpoint were discarded: of other inputs, or damaged."""


class FewEffectiveUnitsWarning(UserWarning):
    """A per-dose fit rests on few effective treated units: a few large doses dominate it.

    The message gives the effective number ``n_eff = (sum v^2)^2 / sum v^4`` and the number of
    treated units (:mod:`models.estimation.effective_treated`).
    """


class SmallCohortWarning(UserWarning):
    """A cohort has fewer units than did's threshold (5 plus one per covariate): its ATT(g, t)
    are estimated, but their standard errors rest on few units (a single treated unit adds no
    variance of its own). The message names the cohorts and their sizes.
    """


class UnbalancedPanelWarning(UserWarning):
    """Callaway and Sant'Anna on an unbalanced panel (``allow_unbalanced_panel=True``): some
    ATT(g, t) miss units without a row in t or in the base period. The message counts them per
    cell, treated and controls, for the cells that miss the most.
    """
