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
from models.estimation.honest_did import SensitivityResults, honest_did, honest_did_from_results
from models.estimation.imputation import ImputationDiD
from models.estimation.ols import FixedEffectsOLS
from models.estimation.results import EventStudyResults, RegressionResults, Results
from models.estimation.small_sample import SmallSample, ssc
from models.estimation.sun_abraham import SunAbraham, SunAbrahamResults
from models.estimation.two_stage import TwoStageDiD
from models.estimation.value_weighted import DoseMeans, dose_means, value_weighted
from models.exceptions import (
    AlwaysTreatedWarning,
    CheckpointWarning,
    CollinearityWarning,
    ConvergenceWarning,
    FewEffectiveUnitsWarning,
    GoodwillDeprecationWarning,
    ImputationWarning,
    SingletonWarning,
    SmallCohortWarning,
    UnbalancedPanelWarning,
)
from models.market import (
    Damages,
    EnforcementFit,
    EnforcementModel,
    GoodwillModel,
    ResponsePath,
    calibrate_enforcement,
    compare_indices,
    damages,
    ridge_profile,
)
from models.moved import keep_importable

keep_importable(
    {
        "models.absorb": ("models.estimation.absorb", "models.exceptions"),
        "models.design": ("models.estimation.design",),
        "models.vcov": ("models.estimation.vcov",),
        "models.ols": ("models.estimation.ols", "models.exceptions"),
        "models.results": ("models.estimation.results", "models.estimation.inference"),
        "models.columns": ("models.estimation.panel_data",),
        "models.eventstudy": ("models.estimation.event_study",),
        "models.did": ("models.estimation.callaway_santanna", "models.estimation.influence"),
        "models.drdid": ("models.estimation.drdid",),
        "models.sunab": ("models.estimation.sun_abraham", "models.exceptions"),
        "models.imputation": ("models.estimation.imputation", "models.exceptions"),
        "models.consumer_params": ("models.consumer.groups", "models.parameters"),
        "models.consumer_draws": ("models.consumer.draws", "models.streams"),
        "models.truth": ("models.consumer.truth",),
        "models.calibration": ("models.consumer.calibration",),
        "models.enforcement": ("models.market.enforcement", "models.market.market_calibration"),
        "models.goodwill": ("models.market.platform", "models.market.response"),
    }
)

__all__ = [
    "AlwaysTreatedWarning",
    "CallawaySantAnna",
    "CallawaySantAnnaResults",
    "CheckpointWarning",
    "CollinearityWarning",
    "Comparison",
    "ConsumerSpendModel",
    "ConvergenceWarning",
    "Damages",
    "DoseMeans",
    "EnforcementFit",
    "EnforcementModel",
    "EventStudy",
    "EventStudyResults",
    "FewEffectiveUnitsWarning",
    "FixedEffectsOLS",
    "GoodwillDeprecationWarning",
    "GoodwillModel",
    "ImputationDiD",
    "ImputationWarning",
    "RegressionResults",
    "ResponsePath",
    "Results",
    "SensitivityResults",
    "SingletonWarning",
    "SmallCohortWarning",
    "SmallSample",
    "SpendTruth",
    "SunAbraham",
    "SunAbrahamResults",
    "TwoStageDiD",
    "UnbalancedPanelWarning",
    "calibrate_enforcement",
    "compare",
    "compare_indices",
    "damages",
    "dose_means",
    "honest_did",
    "honest_did_from_results",
    "ridge_profile",
    "ssc",
    "value_weighted",
]
