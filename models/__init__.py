"""goodwill's model classes: pure computation on arrays and DataFrames.

No file I/O, no config parsing and no plotting here; ``sim`` builds on these classes.
"""

from models.absorb import ConvergenceWarning, SingletonWarning
from models.consumer import ConsumerSpendModel
from models.did import CallawaySantAnna, CallawaySantAnnaResults
from models.eventstudy import EventStudy
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
    "EventStudy",
    "EventStudyResults",
    "FixedEffectsOLS",
    "ImputationDiD",
    "ImputationWarning",
    "RegressionResults",
    "SingletonWarning",
    "SpendTruth",
    "SunAbraham",
    "SunAbrahamResults",
]
