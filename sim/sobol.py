"""Variance-based global sensitivity: Sobol indices through SALib.

A thin wrapper over SALib (Herman and Usher 2017, JOSS 2(9), 97): the Saltelli design
(``SALib.sample.sobol``, a scrambled Sobol sequence; Saltelli et al. 2010, Comput. Phys. Commun.
181, 259-270) of N base samples gives N (D + 2) rows, and ``SALib.analyze.sobol`` estimates
each input's first-order index S1 (the share of the output's variance its main effect
explains) and total index ST (its share including every interaction; Jansen's estimator),
each with a bootstrap confidence interval. The randomness (the scrambling and the bootstrap)
comes from one ``numpy.random.Generator``, so the same seed gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from SALib.analyze import sobol as sobol_analysis
from SALib.sample import sobol as sobol_sampling

INDICES = ("S1", "S1_conf", "ST", "ST_conf")
"""The indices :func:`sobol_indices` returns: S1 and ST with the half-widths of their
intervals (bootstrap standard deviation times the normal quantile of the confidence)."""


def _problem(bounds: Mapping[str, tuple[float, float]]) -> dict:
    return {
        "num_vars": len(bounds),
        "names": list(bounds),
        "bounds": [list(map(float, pair)) for pair in bounds.values()],
    }


def sobol_design(
    bounds: Mapping[str, tuple[float, float]], n_base: int, rng: np.random.Generator
) -> np.ndarray:
    """The Saltelli design: N (D + 2) rows of the D inputs, uniform within their bounds.

    Rows come in groups of D + 2 per base sample: A, the D rows of A with one column taken
    from B, and B (:func:`base_rows` finds A and B).

    Parameters
    ----------
    bounds : mapping of str to (low, high)
        Each input's uniform range, in order.
    n_base : int
        Base samples N (a power of 2, as the Sobol sequence's balance needs).
    rng : numpy.random.Generator
        Scrambles the sequence.
    """
    if n_base < 2 or n_base & (n_base - 1):
        raise ValueError(f"Sobol base samples must be a power of 2 >= 2, got {n_base}")
    return sobol_sampling.sample(_problem(bounds), n_base, calc_second_order=False, seed=rng)


def base_rows(n_rows: int, n_inputs: int) -> np.ndarray:
    """Indices of the design's A and B rows (2 N independent points of the inputs)."""
    step = n_inputs + 2
    starts = np.arange(0, n_rows, step)
    return np.sort(np.concatenate([starts, starts + step - 1]))


def sobol_indices(
    bounds: Mapping[str, tuple[float, float]],
    outputs: np.ndarray,
    rng: np.random.Generator,
    resamples: int = 200,
    confidence: float = 0.95,
) -> dict[str, np.ndarray]:
    """First-order and total Sobol indices of each output column, with intervals.

    Parameters
    ----------
    bounds : mapping of str to (low, high)
        The inputs, as given to :func:`sobol_design`.
    outputs : ndarray, shape (n_rows, ...)
        The model's outputs at the design's rows; each trailing column is analysed alone.
    rng : numpy.random.Generator
        Seeds the bootstrap.
    resamples : int
        Bootstrap resamples of each interval.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict of str to ndarray
        :data:`INDICES`, each of shape ``(*outputs.shape[1:], D)``. An output that does not
        vary gives NaN.

    Examples
    --------
    >>> bounds = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    >>> x = sobol_design(bounds, 256, np.random.default_rng(1))
    >>> s = sobol_indices(bounds, 2 * x[:, 0] + x[:, 1], np.random.default_rng(2))
    >>> np.round(s["ST"], 1)
    array([0.8, 0.2])
    """
    problem = _problem(bounds)
    columns = outputs.reshape(outputs.shape[0], -1)
    result = {name: np.full((columns.shape[1], len(bounds)), np.nan) for name in INDICES}
    for j in range(columns.shape[1]):
        y = columns[:, j]
        if np.ptp(y) == 0:
            continue
        seed = int(rng.integers(1, 2**31))  # SALib treats a seed of 0 as none
        found = sobol_analysis.analyze(
            problem,
            y,
            calc_second_order=False,
            num_resamples=resamples,
            conf_level=confidence,
            seed=seed,
        )
        for name in INDICES:
            result[name][j] = found[name]
    return {name: v.reshape(*outputs.shape[1:], len(bounds)) for name, v in result.items()}
