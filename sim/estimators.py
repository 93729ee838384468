"""THE estimator registry: everything goodwill needs to know about an estimator, in one entry.

An :class:`Estimator` entry holds an estimator's name (its key in ``[estimation] estimators``
and in every output file), the label figures and tables show, its options (the
``[estimation.<name>]`` section, a frozen pydantic model), the adapter that fits it to a panel
(once per estimand, :data:`ESTIMANDS`), and its colour and marker in figures. Config
validation, the command line, the fit stage, the figures, the report and the tests all read
:data:`ESTIMATORS`, so adding an estimator touches its own module in ``models/estimation/``,
``models/__init__.py`` and one entry here.

Every option an estimator's model supports and its section offers is passed to it: nothing
given in a config is silently dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from models import (
    CallawaySantAnna,
    EventStudy,
    EventStudyResults,
    ImputationDiD,
    SunAbraham,
    value_weighted,
)
from models.exceptions import GoodwillDeprecationWarning
from sim.estimator_options import (
    CallawaySantAnnaOptions,
    ClusteredOptions,
    EstimatorOptions,
    ImputationOptions,
    SunAbrahamOptions,
    TwfeOptions,
)
from sim.out_of_core import fit_partitioned, fit_partitioned_sun_abraham
from sim.out_of_core_settings import OutOfCoreSettings

Estimand = Literal["intensity", "value"]
"""The truth a fit's effects target, as a weighting of ``models.consumer.truth``: with a dose
v_i, ``"intensity"`` is sum_i v_i e_ik / sum_i v_i^2 over the victims at event time k (the fit
with the dose as intensity) and ``"value"`` is sum_i e_ik / sum_i v_i (the fit per treated
unit divided by the victims' mean dose, ``models.value_weighted``); without a dose only
``"intensity"`` is fitted, and it is the mean effect per treated unit."""

ESTIMANDS: tuple[Estimand, ...] = ("intensity", "value")
"""Every estimand, in the order they are reported."""


def estimands(intensity: str | None) -> tuple[Estimand, ...]:
    """The estimands fitted with this intensity column (both with one, else "intensity")."""
    return ESTIMANDS if intensity is not None else ("intensity",)


@dataclass(frozen=True)
class PanelColumns:
    """The panel columns every estimator reads (``[estimation]``'s shared keys), whether
    the outcome must be >= 0 (``nonnegative_outcome``: spend, the default), and the column of
    sampling weights (``weights``; None: unweighted)."""

    outcome: str
    unit: str
    time: str
    cohort: str
    intensity: str | None
    nonnegative_outcome: bool = True
    weights: str | None = None

    def as_kwargs(self) -> dict[str, str | bool | None]:
        """The columns as keyword arguments of an estimator's constructor."""
        return {
            "outcome": self.outcome,
            "unit": self.unit,
            "time": self.time,
            "cohort": self.cohort,
            "intensity": self.intensity,
            "nonnegative_outcome": self.nonnegative_outcome,
            "weights": self.weights,
        }


FitAdapter = Callable[[pd.DataFrame, PanelColumns, EstimatorOptions, int], EventStudyResults]
"""Fits an estimator: (panel, shared columns, its options, seed) -> effects by event time."""

PartitionedAdapter = Callable[
    [Path, PanelColumns, EstimatorOptions, OutOfCoreSettings], EventStudyResults
]
"""Fits an estimator out of core: (a directory of Parquet partitions, shared columns, its
options, where to run) -> effects by event time, as its :data:`FitAdapter` would."""


@dataclass(frozen=True)
class Estimator:
    """One registered estimator.

    Attributes
    ----------
    name : str
        Key in configs, on the command line and in every output.
    label : str
        Name in figures, the report and tables.
    description : str
        One line for help texts.
    model : type
        Its class in ``models`` (constructed from a panel and the shared columns).
    options : type of EstimatorOptions
        Its ``[estimation.<name>]`` section.
    fit : FitAdapter
        Fits it to a panel and returns effects by event time (per unit of the intensity
        column, if any); :meth:`fit_estimands` fits it once for each estimand.
    colour, marker : str
        An Okabe-Ito colour name (``sim.figures.style.OKABE_ITO``) and a matplotlib marker.
    fit_partitioned : PartitionedAdapter or None
        Fits it to a directory of Parquet partitions out of core; None if it cannot yet.
    """

    name: str
    label: str
    description: str
    model: type
    options: type[EstimatorOptions]
    fit: FitAdapter
    colour: str
    marker: str
    fit_partitioned: PartitionedAdapter | None = None

    def fit_estimands(
        self,
        panel: pd.DataFrame,
        columns: PanelColumns,
        options: EstimatorOptions,
        seed: int,
    ) -> dict[Estimand, EventStudyResults]:
        """The fits by estimand (:func:`estimands`): the fit itself as "intensity" and, with
        an intensity column, the fit per treated unit made value-weighted as "value"."""
        fits: dict[Estimand, EventStudyResults] = {
            "intensity": self.fit(panel, columns, options, seed)
        }
        if columns.intensity is not None:
            per_unit = self.fit(panel, replace(columns, intensity=None), options, seed)
            fits["value"] = value_weighted(
                per_unit,
                panel,
                columns.unit,
                columns.time,
                columns.cohort,
                columns.intensity,
                weights=columns.weights,
            )
        return fits


def _fit_twfe(
    panel: pd.DataFrame, columns: PanelColumns, options: TwfeOptions, seed: int
) -> EventStudyResults:
    study = EventStudy(
        panel,
        **columns.as_kwargs(),
        window=options.window,
        ref=options.ref,
        bin_endpoints=options.bin_endpoints,
    )
    return study.fit(vcov=options.vcov_spec, **options.fit_options(seed))


def _fit_twfe_partitioned(
    path: Path, columns: PanelColumns, options: TwfeOptions, where: OutOfCoreSettings
) -> EventStudyResults:
    _refuse_out_of_core("twfe", columns, options)
    return fit_partitioned(
        path,
        outcome=columns.outcome,
        unit=columns.unit,
        time=columns.time,
        cohort=columns.cohort,
        window=options.window,
        ref=options.ref,
        intensity=columns.intensity,
        bin_endpoints=options.bin_endpoints,
        vcov=options.vcov,
        ssc=options.ssc.small_sample(),
        executor=where.executor,
        scheduler=where.scheduler,
        n_workers=where.n_workers,
    )


def _fit_sun_abraham_partitioned(
    path: Path, columns: PanelColumns, options: SunAbrahamOptions, where: OutOfCoreSettings
) -> EventStudyResults:
    _refuse_out_of_core("sun_abraham", columns, options, weighted=True)
    return fit_partitioned_sun_abraham(
        path,
        **columns.as_kwargs(),
        control=options.control,
        vcov=options.vcov,
        ssc=options.ssc.small_sample(),
        executor=where.executor,
        scheduler=where.scheduler,
        n_workers=where.n_workers,
    )


def _refuse_out_of_core(
    name: str, columns: PanelColumns, options: ClusteredOptions, weighted: bool = False
) -> None:
    """Refuse the options an out-of-core fit does not offer, naming the key."""
    refused = {
        "estimation.weights": columns.weights is not None and not weighted,
        f"estimation.{name}.clusters": options.clusters is not None,
        f"estimation.{name}.jackknife": options.jackknife,
        f"estimation.{name}.pretrend = 'bootstrap'": options.pretrend == "bootstrap",
    }
    given = [key for key, used in refused.items() if used]
    if given:
        offered = "sampling weights" if weighted else "unweighted"
        raise ValueError(
            f"{', '.join(given)}: not offered out of core ({name} fits a directory of "
            f"partitions with CRV1 by the unit, HC1 or iid; {offered})"
        )


def _fit_callaway_santanna(
    panel: pd.DataFrame, columns: PanelColumns, options: CallawaySantAnnaOptions, seed: int
) -> EventStudyResults:
    model = CallawaySantAnna(
        panel,
        **columns.as_kwargs(),
        control=options.control,
        anticipation=options.anticipation,
        base_period=options.base_period,
        allow_unbalanced_panel=options.allow_unbalanced_panel,
        cluster=options.cluster,
    )
    fitted = model.fit(vcov=options.vcov_spec, **options.fit_options(seed))
    return fitted.aggregate(
        "dynamic", uniform_band=options.uniform_band, seed=seed, **options.dynamic_options
    )


def _fit_sun_abraham(
    panel: pd.DataFrame, columns: PanelColumns, options: SunAbrahamOptions, seed: int
) -> EventStudyResults:
    model = SunAbraham(panel, **columns.as_kwargs(), control=options.control)
    return model.fit(vcov=options.vcov_spec, **options.fit_options(seed))


def _fit_imputation(
    panel: pd.DataFrame, columns: PanelColumns, options: ImputationOptions, seed: int
) -> EventStudyResults:
    model = ImputationDiD(
        panel, **columns.as_kwargs(), anticipation=options.anticipation, cluster=options.cluster
    )
    if options.lead_times is None:
        return model.fit()
    leads, ref = options.lead_times
    return model.event_study(leads, ref=ref)


ESTIMATORS: Mapping[str, Estimator] = {
    entry.name: entry
    for entry in (
        Estimator(
            name="twfe",
            label="TWFE",
            description="the study's two-way fixed-effects event study",
            model=EventStudy,
            options=TwfeOptions,
            fit=_fit_twfe,
            colour="blue",
            marker="o",
            fit_partitioned=_fit_twfe_partitioned,
        ),
        Estimator(
            name="callaway_santanna",
            label="Callaway–Sant'Anna",
            description="Callaway and Sant'Anna's group-time ATTs, dynamic aggregation",
            model=CallawaySantAnna,
            options=CallawaySantAnnaOptions,
            fit=_fit_callaway_santanna,
            colour="vermillion",
            marker="s",
        ),
        Estimator(
            name="sun_abraham",
            label="Sun–Abraham",
            description="Sun and Abraham's interaction-weighted event study",
            model=SunAbraham,
            options=SunAbrahamOptions,
            fit=_fit_sun_abraham,
            colour="green",
            marker="^",
            fit_partitioned=_fit_sun_abraham_partitioned,
        ),
        Estimator(
            name="imputation",
            label="Imputation",
            description="Borusyak, Jaravel and Spiess's imputation estimator",
            model=ImputationDiD,
            options=ImputationOptions,
            fit=_fit_imputation,
            colour="purple",
            marker="D",
        ),
    )
}
"""Every estimator goodwill fits, in the order they are reported."""

EstimatorName = Literal[tuple(ESTIMATORS)]  # type: ignore[valid-type]
"""The registered names, for config validation."""

STUDY_ESTIMATOR = "twfe"
"""The study's own design: the default of ``[estimation] estimators`` and of the estimator
whose response path the projection uses."""


def label(name: str) -> str:
    """The estimator's name in figures and tables (its own name if not registered)."""
    return ESTIMATORS[name].label if name in ESTIMATORS else name


def estimators_help() -> str:
    """One line per estimator: its name and description, for help texts."""
    return "; ".join(f"{entry.name} ({entry.description})" for entry in ESTIMATORS.values())


FLAT_KEYS = ("window", "ref", "bin_endpoints", "vcov", "clusters")
"""``[estimation]`` keys of goodwill 0.1 that are now ``[estimation.twfe]`` keys."""


def move_flat_keys(data: object) -> object:
    """Move goodwill 0.1's flat TWFE keys of ``[estimation]`` into ``[estimation.twfe]``,
    with a :class:`GoodwillDeprecationWarning` (accepted until the next release)."""
    if not isinstance(data, dict):
        return data
    flat = [key for key in FLAT_KEYS if key in data]
    if not flat:
        return data
    section = data.get("twfe", {})
    if not isinstance(section, dict):
        return data
    both = [key for key in flat if key in section]
    if both:
        raise ValueError(
            f"{', '.join(both)}: given both in [estimation] and in [estimation.twfe]; keep the "
            "[estimation.twfe] ones"
        )
    warnings.warn(
        f"estimation.{', estimation.'.join(flat)}: these keys are now in [estimation.twfe]; "
        "move them there (the old place works until the next release)",
        GoodwillDeprecationWarning,
        stacklevel=2,
    )
    moved = {key: value for key, value in data.items() if key not in flat}
    moved["twfe"] = {**section, **{key: data[key] for key in flat}}
    return moved
