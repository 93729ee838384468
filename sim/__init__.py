"""goodwill's engine around the models: configs, simulation runs, storage and the CLI."""

from sim.config import Config, ConfigError, load_config
from sim.panel import simulate_panel
from sim.pipeline import run

__all__ = ["Config", "ConfigError", "load_config", "run", "simulate_panel"]
