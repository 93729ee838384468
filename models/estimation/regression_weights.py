"""Sampling weights in the event-time regressions of ``EventStudy`` and ``SunAbraham``.

With a weights column the regressions are weighted least squares, as fixest's
``feols(..., weights = ~w)``: the fixed effects are absorbed with weighted means, the
within-transformed regressors and outcome are multiplied by the square root of the weights
(:mod:`models.estimation.design`), and the variances of :mod:`models.estimation.vcov` follow
from the weighted scores ``w_i X~_i e_i`` with the unchanged small-sample factor (n is the number
of rows). The exact sparse design of a balanced unweighted panel does not apply: a weighted
fit takes the dense design.

The leave-one-unit-out CR3 jackknife and the wild bootstrap of the pre-trend test are built on
that sparse design; with weights they are refused rather than computed unweighted.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.estimation.absorb import FixedEffects
from models.estimation.vcov import VcovRequest


def weighted_effects(
    fe: FixedEffects, row_weights: np.ndarray | None, sample: np.ndarray | None
) -> FixedEffects:
    """The fixed effects ``fe`` of the sample rows, with their weights attached (``fe`` itself
    without weights).

    Parameters
    ----------
    fe : FixedEffects
        The absorbed fixed effects on the estimation sample (unweighted).
    row_weights : numpy.ndarray or None
        The weight of every row of the panel, or None without weights.
    sample : numpy.ndarray of bool or None
        The panel rows in the estimation sample (None: all).
    """
    if row_weights is None:
        return fe
    return replace(fe, weights=row_weights if sample is None else row_weights[sample])


def refuse_with_weights(
    model: str, weights: str | None, request: VcovRequest, bootstrap: bool
) -> None:
    """Raise a ValueError if a weighted fit asks for CR3 or the bootstrap pre-trend test.

    Parameters
    ----------
    model : str
        The estimator's name, for the message.
    weights : str or None
        The weights column (None: nothing to refuse).
    request : VcovRequest
        The parsed variance request.
    bootstrap : bool
        Whether ``pretrend="bootstrap"`` was asked for.
    """
    if weights is None:
        return
    if request.kind == "CR3":
        raise ValueError(
            f"{model}: vcov='CR3' is not supported with weights (column {weights!r}); use "
            "'CRV1', 'HC1' or 'iid'"
        )
    if bootstrap:
        raise ValueError(
            f"{model}: pretrend='bootstrap' is not supported with weights (column {weights!r}); "
            "use pretrend='wald'"
        )


def weights_note(weights: str | None) -> tuple[tuple[str, str], ...]:
    """The summary row naming the weights column (none without weights)."""
    return () if weights is None else (("Sampling weights", weights),)
