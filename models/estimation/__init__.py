"""Fixed-effects regression and staggered difference-in-differences estimators.

One engine serves them all: fixed-effect absorption (:mod:`~models.estimation.absorb`), the
designs (:mod:`~models.estimation.design`), the variance estimators
(:mod:`~models.estimation.vcov`), least squares (:mod:`~models.estimation.ols`) and one
results family (:mod:`~models.estimation.results`). This package imports nothing from
``models.consumer`` or ``models.market``.
"""

from models.estimation.callaway_santanna import CallawaySantAnna, CallawaySantAnnaResults
from models.estimation.compare import Comparison, compare
from models.estimation.event_study import EventStudy
from models.estimation.imputation import ImputationDiD
from models.estimation.ols import FixedEffectsOLS
from models.estimation.results import EventStudyResults, RegressionResults
from models.estimation.sun_abraham import SunAbraham, SunAbrahamResults

__all__ = [
    "CallawaySantAnna",
    "CallawaySantAnnaResults",
    "Comparison",
    "EventStudy",
    "EventStudyResults",
    "FixedEffectsOLS",
    "ImputationDiD",
    "RegressionResults",
    "SunAbraham",
    "SunAbrahamResults",
    "compare",
]
