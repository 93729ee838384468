"""The data-generating process of weekly consumer spend with counterfeit purchases.

Parameter groups (:mod:`~models.consumer.groups`), the block-seeded random draws
(:mod:`~models.consumer.draws`), the spend process (:mod:`~models.consumer.spend_process`), its
ground truth (:mod:`~models.consumer.truth`) and the calibration of the response scale
(:mod:`~models.consumer.calibration`).
"""

from models.consumer.calibration import calibrate_loss_per_yuan
from models.consumer.spend_process import DEFAULT_CHUNK_SIZE, ConsumerSpendModel
from models.consumer.truth import SpendTruth

__all__ = ["DEFAULT_CHUNK_SIZE", "ConsumerSpendModel", "SpendTruth", "calibrate_loss_per_yuan"]
