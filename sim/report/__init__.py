"""The run report: ``write_report`` turns a run directory into HTML and LaTeX tables.

:mod:`~sim.report.html` writes the self-contained ``report.html`` (from the jinja2 template in
``templates/``), :mod:`~sim.report.latex` the booktabs tables of ``tables/``, both from the
run's stored outputs as :mod:`~sim.report.outputs` reads them.
"""

from sim.report.html import FIGURE_DPI, write_report
from sim.report.latex import latex_tables

__all__ = ["FIGURE_DPI", "latex_tables", "write_report"]
