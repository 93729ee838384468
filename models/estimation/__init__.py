"""Fixed-effects regression and staggered difference-in-differences estimators.

One engine serves them all: one reader of the panel (:mod:`~models.estimation.panel_data`),
fixed-effect absorption (:mod:`~models.estimation.absorb`), the designs
(:mod:`~models.estimation.design`), the variance estimators (:mod:`~models.estimation.vcov`),
least squares (:mod:`~models.estimation.ols`) and one results family
(:mod:`~models.estimation.results`). This package imports nothing from ``models.consumer`` or
``models.market``. Its public names are exported by ``models``.
"""
