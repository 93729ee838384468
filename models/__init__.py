"""goodwill's model classes: pure computation on arrays and DataFrames.

No file I/O, no config parsing and no plotting here; ``sim`` builds on these classes.
"""

from models.consumer import ConsumerSpendModel
from models.truth import SpendTruth

__all__ = ["ConsumerSpendModel", "SpendTruth"]
