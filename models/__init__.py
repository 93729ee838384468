"""goodwill's model classes: pure computation on arrays and DataFrames.

No file I/O, no config parsing and no plotting here; ``sim`` builds on these classes. Three
domains, one package each: ``models.estimation`` (fixed-effects regression and staggered DiD),
``models.consumer`` (the data-generating process of weekly spend) and ``models.market`` (from
counterfeit sales to the platform's loss); every public name is importable from here.
"""

from models.consumer import ConsumerSpendModel, SpendTruth
from models.estimation import (
    CallawaySantAnna,
    CallawaySantAnnaResults,
    Comparison,
    EventStudy,
    EventStudyResults,
    FixedEffectsOLS,
    ImputationDiD,
    RegressionResults,
    SunAbraham,
    SunAbrahamResults,
    compare,
)
from models.exceptions import (
    AlwaysTreatedWarning,
    CollinearityWarning,
    ConvergenceWarning,
    GoodwillDeprecationWarning,
    ImputationWarning,
    SingletonWarning,
)
from models.market import (
    Damages,
    EnforcementFit,
    EnforcementModel,
    GoodwillModel,
    ResponsePath,
    calibrate_enforcement,
    damages,
)

__all__ = [
    "AlwaysTreatedWarning",
    "CallawaySantAnna",
    "CallawaySantAnnaResults",
    "CollinearityWarning",
    "Comparison",
    "ConsumerSpendModel",
    "ConvergenceWarning",
    "Damages",
    "EnforcementFit",
    "EnforcementModel",
    "EventStudy",
    "EventStudyResults",
    "FixedEffectsOLS",
    "GoodwillDeprecationWarning",
    "GoodwillModel",
    "ImputationDiD",
    "ImputationWarning",
    "RegressionResults",
    "ResponsePath",
    "SingletonWarning",
    "SpendTruth",
    "SunAbraham",
    "SunAbrahamResults",
    "calibrate_enforcement",
    "compare",
    "damages",
]
