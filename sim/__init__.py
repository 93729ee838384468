"""goodwill's engine around the models: configs, simulation runs, the goodwill Monte Carlo,
executors, storage and the CLI."""

from sim.config import Config, ConfigError, load_config
from sim.jobs import run
from sim.panel import simulate_panel
from sim.projection import project_goodwill

__all__ = ["Config", "ConfigError", "load_config", "project_goodwill", "run", "simulate_panel"]
