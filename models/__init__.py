"""goodwill's model classes: pure computation on arrays and DataFrames.

No file I/O, no config parsing and no plotting here; ``sim`` builds on these classes.
"""

from models.absorb import ConvergenceWarning, SingletonWarning
from models.consumer import ConsumerSpendModel
from models.did import CallawaySantAnna, CallawaySantAnnaResults
from models.enforcement import EnforcementFit, EnforcementModel, calibrate_enforcement
from models.eventstudy import EventStudy
from models.goodwill import GoodwillModel, ResponsePath
from models.imputation import ImputationDiD, ImputationWarning
from models.ols import CollinearityWarning, FixedEffectsOLS
from models.results import EventStudyResults, RegressionResults
from models.sunab import AlwaysTreatedWarning, SunAbraham, SunAbrahamResults
from models.truth import SpendTruth

__all__ = [
    "AlwaysTreatedWarning",
    "CallawaySantAnna",
    "CallawaySantAnnaResults",
    "CollinearityWarning",
    "ConsumerSpendModel",
    "ConvergenceWarning",
    "EnforcementFit",
    "EnforcementModel",
    "EventStudy",
    "EventStudyResults",
    "FixedEffectsOLS",
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
]
