"""goodwill's model classes: pure computation on arrays and DataFrames.

No file I/O, no config parsing and no plotting here; ``sim`` builds on these classes. Three
domains, one package each: ``models.estimation`` (fixed-effects regression and staggered DiD),
``models.consumer`` (the data-generating process of weekly spend) and ``models.market`` (from
counterfeit sales to the platform's loss); every public name is importable from here.
"""

from models.consumer import ConsumerSpendModel, SpendTruth
from models.estimation.callaway_santanna import CallawaySantAnna, CallawaySantAnnaResults
from models.estimation.compare import Comparison, compare
from models.estimation.event_study import EventStudy
from models.estimation.imputation import ImputationDiD
from models.estimation.ols import FixedEffectsOLS
from models.estimation.results import EventStudyResults, RegressionResults, Results
from models.estimation.sun_abraham import SunAbraham, SunAbrahamResults
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
from models.moved import keep_importable

keep_importable(
    "models",
    {
        "absorb": ("models.estimation.absorb", "models.exceptions"),
        "design": ("models.estimation.design",),
        "vcov": ("models.estimation.vcov",),
        "ols": ("models.estimation.ols", "models.exceptions"),
        "results": ("models.estimation.results", "models.estimation.inference"),
        "columns": ("models.estimation.panel_data",),
        "eventstudy": ("models.estimation.event_study",),
        "did": ("models.estimation.callaway_santanna", "models.estimation.influence"),
        "drdid": ("models.estimation.drdid",),
        "sunab": ("models.estimation.sun_abraham", "models.exceptions"),
        "imputation": ("models.estimation.imputation", "models.exceptions"),
        "consumer_params": ("models.consumer.groups", "models.parameters"),
        "consumer_draws": ("models.consumer.draws", "models.streams"),
        "truth": ("models.consumer.truth",),
        "calibration": ("models.consumer.calibration",),
        "enforcement": ("models.market.enforcement",),
        "goodwill": ("models.market.platform", "models.market.response"),
    },
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
    "Results",
    "SingletonWarning",
    "SpendTruth",
    "SunAbraham",
    "SunAbrahamResults",
    "calibrate_enforcement",
    "compare",
    "damages",
]
