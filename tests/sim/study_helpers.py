"""A small estimator study for the tests: a config built in code (no file), with two scenarios
of the default consumer model on a short panel."""

from __future__ import annotations

from pathlib import Path

from sim.config import Config


def study_config(
    directory: Path,
    *,
    n_consumers: int = 1500,
    replications: int = 3,
    block_size: int = 2,
    scenarios: dict | None = None,
    estimators: list[str] | None = None,
    n_weeks: int = 14,
    cumulative: tuple[int, int] = (0, 3),
    window: tuple[int, int] = (-3, 6),
    study_estimators: list[str] | None = None,
    **study: object,
) -> Config:
    """A study of ``replications`` panels of ``n_consumers`` x ``n_weeks`` per scenario
    (default: the default model, and the same without churn), every estimator (default), the
    cumulative effect over event times ``cumulative`` and TWFE's ``window``; ``estimators``
    are ``[estimation] estimators``, ``study_estimators`` the study's own list (with
    variants)."""
    scenarios = scenarios or {
        "default": {"description": "the default consumer model"},
        "no_churn": {
            "description": "no victim stops buying",
            "consumer": {"churn": {"probability": 0.0}},
        },
    }
    return Config.model_validate(
        {
            "seed": 5,
            "panel": {"n_consumers": n_consumers, "n_weeks": n_weeks},
            "estimation": {
                "estimators": estimators
                or ["twfe", "callaway_santanna", "sun_abraham", "imputation"],
                "cumulative": list(cumulative),
                "twfe": {"window": list(window)},
                "callaway_santanna": {"uniform_band": False},
            },
            "study": {
                "replications": replications,
                "block_size": block_size,
                "scenarios": scenarios,
                **({"estimators": study_estimators} if study_estimators else {}),
                **study,
            },
            "figures": {"formats": ["png"], "dpi": 80},
            "output": {"directory": str(directory)},
        }
    )
