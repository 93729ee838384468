"""Simulate consumer spend panels from a config or a model."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from models import ConsumerSpendModel, SpendTruth
from models.consumer.calibration import calibrate_loss_per_yuan
from sim.config import Config, PanelSettings


def _progress_bar(description: str, enabled: bool) -> Callable[[Iterable], Iterable] | None:
    """A tqdm wrapper for chunk loops; silent when stderr is not a terminal."""
    if not enabled:
        return None
    return lambda chunks: tqdm(chunks, desc=description, unit="chunk", disable=None, leave=False)


def simulate_panel(
    config_or_model: Config | ConsumerSpendModel,
    n_consumers: int | None = None,
    n_weeks: int | None = None,
    seed: int | np.random.SeedSequence | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, SpendTruth]:
    """Simulate a weekly consumer spend panel with its ground truth.

    Parameters
    ----------
    config_or_model : Config or ConsumerSpendModel
        A run config (its panel settings and seed apply, and with a calibration section
        ``loss_per_yuan`` is first calibrated on this same panel so that
        ``truth.multiplier`` equals the target) or a model.
    n_consumers, n_weeks, chunk_size : int, optional
        Override the config's panel settings (defaults for a model: 603,000 x 22).
    seed : int or numpy.random.SeedSequence, optional
        Overrides the config's seed; required with a model.
    progress : bool
        Show a progress bar on a terminal.

    Returns
    -------
    panel : pandas.DataFrame
        Long panel, one row per consumer and week (see ``ConsumerSpendModel.simulate``).
    truth : SpendTruth
        The true effects; ``truth.multiplier`` is the 12-week spend change per yuan.

    Examples
    --------
    >>> panel, truth = simulate_panel(ConsumerSpendModel(), n_consumers=5_000, seed=3)
    >>> panel.shape[0]
    110000
    """
    if isinstance(config_or_model, Config):
        config = config_or_model
        model, settings = config.consumer, config.panel
        seed = config.seed if seed is None else seed
    elif isinstance(config_or_model, ConsumerSpendModel):
        if seed is None:
            raise ValueError("simulate_panel: seed is required when given a model")
        config, model, settings = None, config_or_model, PanelSettings()
    else:
        raise TypeError(
            "simulate_panel: expected a Config or a ConsumerSpendModel, "
            f"got {type(config_or_model).__name__}"
        )
    size = {
        "n_consumers": settings.n_consumers if n_consumers is None else n_consumers,
        "n_weeks": settings.n_weeks if n_weeks is None else n_weeks,
        "seed": seed,
        "chunk_size": settings.chunk_size if chunk_size is None else chunk_size,
    }
    if config is not None and config.calibration is not None:
        loss_per_yuan = calibrate_loss_per_yuan(
            model,
            config.calibration.target_multiplier,
            progress=_progress_bar("calibrate", progress),
            weighting=config.calibration.weighting,
            **size,
        )
        model = model.with_loss_per_yuan(loss_per_yuan)
    return model.simulate(progress=_progress_bar("simulate", progress), **size)


def describe_panel(panel: pd.DataFrame, truth: SpendTruth) -> str:
    """A short plain-text summary of a simulated panel and its truth."""
    consumers = truth.consumers
    victims = truth.victims
    n_consumers, n_weeks = len(consumers), truth.n_weeks
    response = truth.model.response
    lines = [
        f"panel: {n_consumers:,} consumers x {n_weeks} weeks = {len(panel):,} rows"
        + ("" if len(panel) == n_consumers * n_weeks else " (unbalanced: consumers join and leave)")
        + "; "
        f"mean weekly spend {panel['spend_cf'].mean():.1f} yuan without counterfeits, "
        f"{panel['spend'].mean():.1f} with",
        f"counterfeit buyers: {len(victims):,} ({len(victims) / n_consumers:.1%})"
        + (
            f"; first fake mean {victims['fake_value'].mean():.1f} yuan, "
            f"{int(victims['n_fakes'].sum()):,} counterfeit orders in all; "
            f"{victims['churned'].mean():.1%} of buyers churned"
            if len(victims)
            else ""
        ),
        f"response: loss_per_yuan {response.loss_per_yuan:.4f} over {response.horizon} weeks; "
        f"{truth.capped_share:.1%} of response weeks at the cap (max_share "
        f"{response.max_share:g})",
    ]
    if truth.horizon_observed:
        lines.append(
            f"truth: {truth.horizon}-week spend change per yuan of counterfeit "
            f"{truth.multiplier:+.4f} (realised in the panel {truth.realized_multiplier:+.4f}; "
            f"intensity-weighted {truth.intensity_multiplier:+.4f}); spillover to contacts "
            f"{truth.spillover_multiplier:+.4f}"
        )
    else:
        lines.append(
            f"truth: no victim is observed at event week {truth.horizon - 1} in this "
            f"{n_weeks}-week panel, so it has no {truth.horizon}-week multiplier "
            "(see truth_event_time.csv)"
        )
    return "\n".join(lines)


def spend_trajectories(
    panel: pd.DataFrame,
    outcome: str = "spend",
    time: str = "week",
    cohort: str = "fake_week",
    counterfactual: str | None = None,
) -> pd.DataFrame:
    """Mean outcome by event time of the treated, beside the never-treated in the same weeks.

    The treated units' mean at event time e averages their rows e periods after their
    cohort. The never-treated comparison averages, over those same rows, the never-treated
    mean of each row's calendar period, so both series have the same calendar composition
    at every event time and a calendar shock (a promotion week) moves both alike.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel, one row per unit and period.
    outcome, time, cohort : str
        Outcome, period and cohort columns (cohort: first treated period, NaN or +inf for
        never treated).
    counterfactual : str, optional
        Column of the outcome without treatment (known in a simulation); its mean over the
        treated rows is the ``counterfactual`` column.

    Returns
    -------
    pandas.DataFrame
        Indexed by integer ``event_time``; columns ``treated``, ``counterfactual`` (with a
        counterfactual column), ``never_treated`` (NaN where no unit is never treated) and
        ``n_treated`` (rows averaged).

    Raises
    ------
    ValueError
        If a column is missing.

    Examples
    --------
    >>> panel, _ = simulate_panel(ConsumerSpendModel(), n_consumers=2_000, seed=3)
    >>> table = spend_trajectories(panel, counterfactual="spend_cf")
    >>> list(table.columns)
    ['treated', 'counterfactual', 'never_treated', 'n_treated']
    """
    columns = [outcome, time, cohort] + ([counterfactual] if counterfactual else [])
    missing = [c for c in columns if c not in panel.columns]
    if missing:
        raise ValueError(f"spend_trajectories: column(s) {', '.join(map(repr, missing))} missing")
    first = panel[cohort].to_numpy(dtype=float)
    treated = np.isfinite(first)
    period_code, periods = pd.factorize(panel[time])
    values = panel[outcome].to_numpy(dtype=float)
    never_rows = np.bincount(period_code[~treated], minlength=periods.size)
    never_sum = np.bincount(period_code[~treated], values[~treated], minlength=periods.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        never_mean = never_sum / never_rows  # NaN in a period without never-treated rows
    event_time = panel[time].to_numpy()[treated] - first[treated]
    event_code, event_times = pd.factorize(event_time.astype(np.int64), sort=True)
    n_treated = np.bincount(event_code, minlength=event_times.size)

    def mean_by_event_time(weights: np.ndarray) -> np.ndarray:
        return np.bincount(event_code, weights, minlength=event_times.size) / n_treated

    table = {"treated": mean_by_event_time(values[treated])}
    if counterfactual:
        table["counterfactual"] = mean_by_event_time(
            panel[counterfactual].to_numpy(dtype=float)[treated]
        )
    table["never_treated"] = mean_by_event_time(never_mean[period_code[treated]])
    table["n_treated"] = n_treated
    return pd.DataFrame(table, index=pd.Index(event_times, name="event_time"))


def horizon_multipliers(truth: SpendTruth) -> dict[str, float | None]:
    """The true multipliers, or None where the panel is too short for the horizon."""
    observed = truth.horizon_observed
    return {
        "true_multiplier": truth.multiplier if observed else None,
        "realized_multiplier": truth.realized_multiplier if observed else None,
        "intensity_multiplier": truth.intensity_multiplier if observed else None,
        "spillover_multiplier": truth.spillover_multiplier,
    }


def truth_table(truth: SpendTruth) -> pd.DataFrame:
    """True effects by event time: per yuan of counterfeit (value and intensity weighting)
    and in yuan per victim."""
    per_yuan = truth.event_time_effects(per_yuan=True)
    intensity = truth.event_time_effects(per_yuan=True, weighting="intensity")
    in_yuan = truth.event_time_effects(per_yuan=False)
    return pd.DataFrame(
        {
            "per_yuan": per_yuan["estimate"],
            "per_yuan_realized": per_yuan["realized"],
            "per_yuan_intensity": intensity["estimate"],
            "yuan": in_yuan["estimate"],
            "yuan_realized": in_yuan["realized"],
            "n_treated": per_yuan["n_treated"],
        }
    )
