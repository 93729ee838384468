"""The base of every parameter group: a frozen pydantic model.

The consumer process (``models.consumer``), the enforcement market and the platform loss
(``models.market``) and the run configs (``sim.config``) all declare their parameters as
subclasses, so defaults, units and allowed ranges live next to each other and a bad value is
rejected on construction with a message that names the field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Parameters(BaseModel):
    """Base of every parameter group: immutable, unknown keys rejected.

    Numbers are ``StrictFloat``/``StrictInt``: a boolean or a string is not a number, and
    NaN or infinity is never a valid parameter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
