"""From counterfeit sales to the platform's loss.

The counterfeit-seller market under enforcement (:mod:`~models.market.enforcement`), its
calibration (:mod:`~models.market.market_calibration`) and posterior
(:mod:`~models.market.market_posterior`), the
platform's loss and a seller's damages (:mod:`~models.market.platform`), the fitted per-yuan
response (:mod:`~models.market.response`) and the pure kernel of one block of projection draws
(:mod:`~models.market.loss_draws`).
"""

from models.market.enforcement import EnforcementModel
from models.market.market_calibration import (
    EnforcementFit,
    calibrate_enforcement,
    compare_indices,
    ridge_profile,
)
from models.market.platform import Damages, GoodwillModel, damages
from models.market.response import ResponsePath

__all__ = [
    "Damages",
    "EnforcementFit",
    "EnforcementModel",
    "GoodwillModel",
    "ResponsePath",
    "calibrate_enforcement",
    "compare_indices",
    "damages",
    "ridge_profile",
]
