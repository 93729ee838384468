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
    **study: object,
) -> Config:
    """A study of ``replications`` panels of ``n_consumers`` x 14 weeks per scenario (default:
    the default model, and the same without churn), every estimator, the
    cumulative effect over event times 0..3."""
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
            "panel": {"n_consumers": n_consumers, "n_weeks": 14},
            "estimation": {
                "estimators": estimators
                or ["twfe", "callaway_santanna", "sun_abraham", "imputation"],
                "cumulative": [0, 3],
                "twfe": {"window": [-3, 6]},
                "callaway_santanna": {"uniform_band": False},
            },
            "study": {
                "replications": replications,
                "block_size": block_size,
                "scenarios": scenarios,
                **study,
            },
            "figures": {"formats": ["png"], "dpi": 80},
            "output": {"directory": str(directory)},
        }
    )
