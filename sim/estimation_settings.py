"""``[estimation]``: the panel columns every estimator shares and one section per estimator.

The shared keys (columns, sampling weights, estimators, the summed event times, the outcome's
sign, HonestDiD's sensitivity) are :class:`_EstimationKeys`; :data:`EstimationSettings` adds
one ``[estimation.<name>]`` section per registered estimator (``sim.estimators.ESTIMATORS``).
:func:`override_estimation` applies ``goodwill fit``'s command-line options to it.
"""

from __future__ import annotations

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    create_model,
    model_serializer,
    model_validator,
)

from models.parameters import Parameters
from sim.estimator_options import EstimatorOptions
from sim.estimators import (
    ESTIMATORS,
    STUDY_ESTIMATOR,
    EstimatorName,
    PanelColumns,
    estimators_help,
    move_flat_keys,
)
from sim.out_of_core_settings import OutOfCoreSettings
from sim.trend_sensitivity import TrendSensitivitySettings, check_trend_sensitivity
from sim.validation_messages import describe_validation_error


class _EstimationKeys(Parameters):
    """The keys of ``[estimation]`` that every estimator shares."""

    estimators: list[EstimatorName] = Field(
        [STUDY_ESTIMATOR],
        min_length=1,
        description=f"estimators to fit, in this order: {estimators_help()}",
    )
    outcome: str = Field("spend", min_length=1, description="outcome column")
    unit: str = Field("consumer_id", min_length=1, description="unit column (and its FE)")
    time: str = Field("week", min_length=1, description="period column (and its FE)")
    cohort: str = Field(
        "fake_week", min_length=1, description="first treated period; NaN/+inf never treated"
    )
    intensity: str | None = Field(
        "fake_value",
        min_length=1,
        description="column multiplying the indicators (per-yuan effects); omit for effects "
        "in yuan per treated unit",
    )
    weights: str | None = Field(
        None, min_length=1, description="sampling-weights column (positive); omit: unweighted"
    )
    cumulative: tuple[StrictInt, StrictInt] = Field(
        (0, 11), description="event times summed into the reported multiplier"
    )
    nonnegative_outcome: StrictBool = Field(
        True,
        description="refuse a panel with a negative outcome (spend is >= 0); false for an "
        "outcome such as log spend or a difference",
    )
    sensitivity: TrendSensitivitySettings | None = Field(
        None,
        description="HonestDiD's sensitivity of one estimator's effects to violations of "
        "parallel trends (sim.trend_sensitivity); off without the section",
    )

    out_of_core: OutOfCoreSettings | None = Field(
        None,
        description="where `goodwill fit` fits a directory of Parquet partitions out of core "
        "(default: a LocalCluster of 2 workers)",
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_keys(cls, data: object) -> object:
        return move_flat_keys(data)

    @model_validator(mode="after")
    def _consistent(self) -> _EstimationKeys:
        first, last = self.cumulative
        if first > last:
            raise ValueError(f"cumulative = [{first}, {last}]: expected first <= last")
        if len(set(self.estimators)) != len(self.estimators):
            raise ValueError(f"estimators = {self.estimators}: each estimator at most once")
        for name in self.estimators:
            self.options(name).check_design(self.cumulative, None, name)
            options = self.options(name)
            if self.weights is not None and getattr(options, "resamples_units", False):
                raise ValueError(
                    f"weights = {self.weights!r}: {name}'s jackknife and bootstrap pre-trend test "
                    "have no weighted version yet (set them off, or drop the weights)"
                )
        if self.sensitivity is not None:
            options = {name: self.options(name) for name in self.estimators}
            check_trend_sensitivity(self.sensitivity, self.estimators, options, self.intensity)
        return self

    @model_serializer(mode="wrap")
    def _without_absent_keys(self, handler: SerializerFunctionWrapHandler) -> dict:
        """The keys, without ``sensitivity``, ``weights`` and ``out_of_core`` when absent: a
        run's ``config.json`` and netCDF attributes stay as they were before those keys
        existed."""
        data = handler(self)
        for key in ("sensitivity", "weights", "out_of_core"):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data

    def options(self, name: str) -> EstimatorOptions:
        """The ``[estimation.<name>]`` section of a registered estimator."""
        return getattr(self, name)

    @property
    def columns(self) -> PanelColumns:
        """The shared panel columns, as the estimators' fit adapters take them."""
        return PanelColumns(
            self.outcome,
            self.unit,
            self.time,
            self.cohort,
            self.intensity,
            self.nonnegative_outcome,
            self.weights,
        )


EstimationSettings = create_model(
    "EstimationSettings",
    __base__=_EstimationKeys,
    __module__=__name__,
    __doc__="""The estimators ``goodwill run`` fits to the simulated panel (and ``goodwill fit``
    to a user's panel): the shared column keys, and one section of options per registered
    estimator (``sim.estimators.ESTIMATORS``), ``[estimation.<name>]``.""",
    **{name: (entry.options, entry.options()) for name, entry in ESTIMATORS.items()},
)


def override_estimation(
    settings: _EstimationKeys, shared: dict[str, object], options: dict[str, object]
) -> _EstimationKeys:
    """``[estimation]`` with some keys replaced, validated again.

    ``shared`` replaces keys of ``[estimation]`` itself (columns, estimators, cumulative);
    ``options`` sets a key in the section of every selected estimator whose options have it
    (``window`` for the event study, ``clusters`` for every estimator that clusters). A
    ``vcov`` other than CRV1 without ``clusters`` drops the clusters of the sections with a
    ``vcov``, which belong to their CRV1.

    Raises
    ------
    ValueError
        If an option is one that none of the selected estimators has (it is never dropped
        silently), or the result does not validate; the message names the key.
    """
    data = settings.model_dump()
    data.update(shared)
    names = [name for name in data["estimators"] if name in ESTIMATORS]
    for key, value in options.items():
        takers = [name for name in names if key in ESTIMATORS[name].options.model_fields]
        if not takers:
            raise ValueError(f"{key}: none of the estimators ({', '.join(names)}) has this option")
        for name in takers:
            data[name][key] = value
    if options.get("vcov", "CRV1") != "CRV1" and "clusters" not in options:
        for name in names:
            if "vcov" in ESTIMATORS[name].options.model_fields:
                data[name]["clusters"] = None
    try:
        return EstimationSettings.model_validate(data)
    except ValidationError as exc:
        message = describe_validation_error(exc, EstimationSettings, "estimation", "estimation.")
        raise ValueError(message) from None
