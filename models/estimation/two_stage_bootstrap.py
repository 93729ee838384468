"""did2s's bootstrap of the two-stage estimator: clusters drawn with replacement, both stages refit.

What did2s does (R/did2s.R, ``did2s(..., bootstrap = TRUE, n_bootstraps = 250)``): it passes the
unique values of ``cluster_var`` in the data to ``boot::boot`` (ordinary nonparametric
resampling: each replicate draws as many clusters as there are, uniformly with replacement),
stacks the rows of the clusters drawn (a cluster drawn twice appears twice, its ids unchanged)
and on that data re-runs the whole estimator (``did2s_estimate``: the first stage on its
untreated rows, the prediction and residualisation of every row, the second stage). The
covariance is ``stats::cov`` of the replicates' second-stage coefficients (denominator B - 1),
given to fixest's ``summary`` as the coefficients' covariance (t statistics on n - k degrees of
freedom, as for the GMM covariance); ``return_bootstrap = TRUE`` returns the replicates instead.
goodwill's names: ``TwoStageDiD(..., cluster=...).fit(vcov="bootstrap", draws=250, seed=0)`` and
``TwoStageDiD.bootstrap_draws`` for ``return_bootstrap``. The clusters drawn are those of the
whole data, as did2s's: one whose rows the fit drops (an always-treated unit) adds no row.

Here, a row repeated m times with the same ids is a row of frequency weight m in both
least-squares stages, so a draw is the fit with the weights ``w_i m_g(i)`` (``m_g`` the times
cluster g was drawn): nothing is copied, and the rows of clusters not drawn leave the sample.
A draw reuses the fit's pieces: its first stage's fixed-effect normal equations are sums of its
weights into a sparsity pattern found once, solved by conjugate gradients (covariates, if any,
by the fit's least squares on the drawn untreated rows), and its second stage is the weighted
least squares of the k second-stage regressors; only the draws are a Python loop.
For fixed effects nested in the clusters (the unit, when clustering by the unit or above it)
this also equals relabelling each copy as a new cluster and unit: the copies' effects are then
equal. As in the fit, a treated row whose untreated outcome the draw's first stage cannot
predict is dropped (did2s: fixest predicts NA, and the second stage drops the row). A draw in
which a second-stage coefficient has no variation left (its rows all in clusters not drawn)
is refused: did2s's ``boot`` cannot stack such a replicate either.

Randomness: R's generator cannot be reproduced. Draw b picks its clusters with numpy's
``default_rng(SeedSequence([seed, b]))``, so a draw does not depend on the others and
:func:`resampled_clusters` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from models.estimation.absorb import DEFAULT_MAXITER, DEFAULT_TOL, FixedEffects
from models.estimation.arguments import at_least
from models.estimation.design import DenseDesign
from models.estimation.fixed_effect_coefficients import FixedEffectEquations
from models.estimation.ols import DEFAULT_COLLIN_TOL, collinear_columns, fit_within
from models.estimation.vcov import VcovRequest

DEFAULT_DRAWS = 250
"""did2s's ``n_bootstraps`` default."""


def bootstrap_request(
    vcov: object, draws: object, seed: object, default_cluster: str, owner: str
) -> tuple[str, int, int] | None:
    """For ``vcov="bootstrap"`` or ``{"bootstrap": column}``: the cluster column, the draws
    (default :data:`DEFAULT_DRAWS`, at least 2) and the seed (default 0, at least 0), checked.
    None for any other ``vcov``, with which ``draws`` and ``seed`` must be None.

    Examples
    --------
    >>> bootstrap_request({"bootstrap": "state"}, None, 7, "unit", "TwoStageDiD")
    ('state', 250, 7)
    >>> bootstrap_request("bootstrap", 1, None, "unit", "TwoStageDiD")
    Traceback (most recent call last):
    ValueError: TwoStageDiD: draws = 1: expected an integer >= 2
    """
    if isinstance(vcov, Mapping) and list(vcov) == ["bootstrap"]:
        cluster = vcov["bootstrap"]
        if not isinstance(cluster, str) or not cluster.strip() or "+" in cluster:
            raise ValueError(
                f"{owner}: vcov: the bootstrap draws the clusters of one column, got {cluster!r}"
            )
    elif vcov == "bootstrap":
        cluster = default_cluster
    else:
        if draws is not None or seed is not None:
            raise ValueError(
                f"{owner}: draws and seed apply to vcov='bootstrap' only, got vcov={vcov!r}"
            )
        return None
    n_draws = at_least("draws", DEFAULT_DRAWS if draws is None else draws, 2, owner)
    return cluster.strip(), n_draws, at_least("seed", 0 if seed is None else seed, 0, owner)


def resampled_clusters(n_clusters: int, seed: int, draw: int) -> np.ndarray:
    """The clusters (codes ``0..n_clusters - 1``) bootstrap draw ``draw`` stacks, in order.

    ``n_clusters`` picks, uniformly with replacement, from
    ``default_rng(SeedSequence([seed, draw]))``.

    Examples
    --------
    >>> picks = resampled_clusters(5, seed=0, draw=3)
    >>> picks.size, bool((picks == resampled_clusters(5, 0, 3)).all())
    (5, True)
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, draw]))
    return rng.integers(0, n_clusters, size=n_clusters)


@dataclass(frozen=True)
class TwoStageSample:
    """The rows of a two-stage fit as arrays, which each draw reweights and refits.

    Attributes
    ----------
    outcome : numpy.ndarray
        The outcome of every row.
    untreated : numpy.ndarray of bool
        The rows of the first stage.
    fixed_effects : tuple of str
        The first stage's fixed effects, with their ``codes`` (``0..size-1``) and ``sizes``.
    covariate_names : tuple of str
        The first stage's covariates, with their values ``covariates`` (rows x k1).
    names : tuple of str
        The second stage's coefficients, with their regressors ``design`` (rows x k2).
    weights : numpy.ndarray
        The observation weights (ones without).
    clusters : numpy.ndarray
        The cluster code of every row (``0..n_clusters - 1``).
    """

    outcome: np.ndarray
    untreated: np.ndarray
    fixed_effects: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]
    covariate_names: tuple[str, ...]
    covariates: np.ndarray
    names: tuple[str, ...]
    design: np.ndarray
    weights: np.ndarray
    clusters: np.ndarray
    n_clusters: int

    def draws(self, n_draws: int, seed: int) -> np.ndarray:
        """The second-stage coefficients of draws ``0..n_draws - 1`` (draws x k2)."""
        out = np.empty((n_draws, len(self.names)))
        for b in range(n_draws):
            picks = resampled_clusters(self.n_clusters, seed, b)
            times = np.bincount(picks, minlength=self.n_clusters)
            out[b] = self.refit(times[self.clusters].astype(float), b)
        return out

    @cached_property
    def _pattern(self) -> _GramPattern:
        return _GramPattern.of([c[self.untreated] for c in self.codes], self.sizes)

    def refit(self, frequency: np.ndarray, draw: int = 0) -> np.ndarray:
        """Both stages on the rows repeated ``frequency`` times (0: left out); ``draw`` names
        the draw in errors."""
        weights = self.weights * frequency
        sample = self.untreated & (frequency > 0)
        w0 = weights[self.untreated]
        equations = self._pattern.equations(w0)
        offset = self.covariates @ self._covariate_coefficients(sample, weights[sample])
        totals = equations.totals(self._pattern.codes, (self.outcome - offset)[self.untreated], w0)
        predicted = offset + equations.predict(equations.solve(totals), self.codes)
        used = (frequency > 0) & (self.untreated | equations.identified(self.codes))
        return self._second_stage((self.outcome - predicted)[used], used, weights[used], draw)

    def _covariate_coefficients(self, sample: np.ndarray, w0: np.ndarray) -> np.ndarray:
        """The first stage's covariate coefficients on the draw (0 for one it drops as
        collinear, as the fit would)."""
        beta = np.zeros(len(self.covariate_names))
        if not self.covariate_names:
            return beta
        fe = FixedEffects.from_codes(self.fixed_effects, [c[sample] for c in self.codes], w0)
        fitted = fit_within(
            y=self.outcome[sample],
            design=DenseDesign.absorb(self.covariate_names, self.covariates[sample], fe),
            fe=fe,
            request=VcovRequest("iid"),
            cluster_values=lambda name: (np.zeros(0, dtype=np.intp), 0),
            tol=DEFAULT_TOL,
            maxiter=DEFAULT_MAXITER,
            collin_tol=DEFAULT_COLLIN_TOL,
        )
        for name, value in zip(fitted.estimates.names, fitted.estimates.coefficients, strict=True):
            beta[self.covariate_names.index(name)] = value
        return beta

    def _second_stage(
        self, residualised: np.ndarray, used: np.ndarray, weights: np.ndarray, draw: int
    ) -> np.ndarray:
        """Weighted least squares of the residualised outcome on the second-stage design."""
        x = self.design[used]
        weighted = weights[:, None] * x
        gram = x.T @ weighted
        keep = collinear_columns(gram, np.diag(gram).copy(), DEFAULT_COLLIN_TOL)
        if not keep.all():
            lost = ", ".join(n for n, k in zip(self.names, keep, strict=True) if not k)
            raise ValueError(
                f"TwoStageDiD: bootstrap draw {draw} cannot estimate {lost}: no variation left "
                "in the clusters it drew (did2s's bootstrap fails there too); pool rare event "
                "times in the second stage or use the GMM standard errors"
            )
        return cho_solve(cho_factor(gram), weighted.T @ residualised)


@dataclass(frozen=True)
class _GramPattern:
    """Where each untreated row of the fit adds to the first stage's normal equations D'WD,
    found once: a draw's equations (those :meth:`FixedEffectEquations.from_codes` builds from
    the rows it draws) are then sums of its weights, a row not drawn adding zeros.

    ``entry`` holds, per row, the stored entry of each pair of its levels, in the CSR layout
    ``indices`` and ``indptr`` over the stacked levels (``offsets``).
    """

    codes: tuple[np.ndarray, ...]
    offsets: np.ndarray
    entry: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray

    @classmethod
    def of(cls, codes: list[np.ndarray], sizes: tuple[int, ...]) -> _GramPattern:
        """The pattern of the rows with levels ``codes`` (``0..size-1`` per fixed effect)."""
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        size = int(offsets[-1])
        levels = np.column_stack([c + o for c, o in zip(codes, offsets[:-1], strict=True)])
        pairs = (levels[:, :, None] * size + levels[:, None, :]).reshape(len(levels), -1)
        stored, entry = np.unique(pairs, return_inverse=True)  # sorted: row-major, as CSR
        rows, columns = np.divmod(stored, size)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=size))])
        return cls(tuple(codes), offsets, entry.reshape(pairs.shape), columns, indptr)

    def equations(self, weights: np.ndarray) -> FixedEffectEquations:
        """The normal equations of the rows with ``weights`` (0: not in the sample)."""
        values = np.bincount(
            self.entry.ravel(),
            weights=np.repeat(weights, self.entry.shape[1]),
            minlength=self.indices.size,
        )
        size = self.indptr.size - 1
        gram = csr_matrix((values, self.indices, self.indptr), shape=(size, size))
        links = gram.copy()
        links.eliminate_zeros()  # levels share a drawn row, not just a row
        _, labels = connected_components(links, directed=False)
        return FixedEffectEquations(self.offsets, gram, np.where(gram.diagonal() > 0, labels, -1))
