"""goodwill's engine around the models: configs, simulation runs, the goodwill Monte Carlo,
the run directory, figures, reports and the command line.

Every public name a script needs is importable from here; the modules are where each idea
lives (``sim.estimators``, the estimator registry; ``sim.rundir``, the run directory;
``sim.jobs``, one function per command; ...).
"""

from models.moved import keep_importable
from sim.config import Config, ConfigError, load_config
from sim.costs import optimal_intensity, projection_summary
from sim.ingest import ingest_log
from sim.jobs import run
from sim.out_of_core import fit_partitioned, fit_partitioned_sun_abraham
from sim.panel import simulate_panel
from sim.projection import project_goodwill
from sim.study import plan_study, simulate_study
from sim.study_diagnosis import diagnose

keep_importable(
    {
        "sim.goodwill": ("sim.projection", "sim.costs", "models.market.loss_draws", "sim.jobs"),
        "sim.estimation": ("sim.fit", "sim.estimators"),
        "sim.pipeline": ("sim.jobs", "sim.panel"),
        "sim.run_outputs": ("sim.report.outputs", "sim.rundir", "sim.formatting"),
        "sim.latex": ("sim.report.latex",),
        "sim.figure_style": ("sim.figures.style", "sim.formatting"),
    }
)

__all__ = [
    "Config",
    "ConfigError",
    "diagnose",
    "fit_partitioned",
    "fit_partitioned_sun_abraham",
    "ingest_log",
    "load_config",
    "optimal_intensity",
    "plan_study",
    "project_goodwill",
    "projection_summary",
    "run",
    "simulate_panel",
    "simulate_study",
]
