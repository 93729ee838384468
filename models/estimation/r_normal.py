"""Standard normal draws bit-identical to R's ``set.seed(seed); rnorm(n)``.

HonestDiD (Rambachan and Roth, 2023) simulates two of its numbers: the folded-normal quantile
of the fixed-length confidence interval (a million draws) and the least-favourable critical
value of the conditional test (a thousand multivariate-normal draws), both after
``set.seed(0)``. Reproducing R's default generator (Mersenne-Twister seeded by R's scrambling of
the integer seed, normals by inversion with 2^27-spaced uniforms) makes goodwill's intervals
equal HonestDiD's rather than a different Monte-Carlo approximation of them.

References: R Core Team, ``src/main/RNG.c`` and ``src/nmath/snorm.c`` (the ``INVERSION``
method); Matsumoto, M. and Nishimura, T. (1998), "Mersenne Twister", ACM TOMACS 8(1), 3-30.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import ndtri

_MT_STATE_WORDS = 624
_TWO_POW_32_INV = 2.3283064365386963e-10
_BIG = 134217728.0  # 2^27, R's INVERSION spacing


def _mersenne_twister_state(seed: int) -> np.ndarray:
    """The 624 state words R's ``set.seed(seed)`` gives the Mersenne-Twister."""
    value = seed & 0xFFFFFFFF
    for _ in range(50):
        value = (69069 * value + 1) & 0xFFFFFFFF
    words = np.empty(_MT_STATE_WORDS + 1, dtype=np.uint32)
    for j in range(_MT_STATE_WORDS + 1):
        value = (69069 * value + 1) & 0xFFFFFFFF
        words[j] = value
    return words[1:]  # the first word is R's position counter, reset to 624


def r_uniform(n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniforms on (0, 1) equal to R's ``set.seed(seed); runif(n)``."""
    bit_generator = np.random.MT19937()
    bit_generator.state = {
        "bit_generator": "MT19937",
        "state": {"key": _mersenne_twister_state(seed), "pos": _MT_STATE_WORDS},
    }
    words = bit_generator.random_raw(n).astype(np.float64)
    uniform = words * _TWO_POW_32_INV
    uniform[uniform <= 0.0] = 0.5 * _TWO_POW_32_INV
    uniform[1.0 - uniform <= 0.0] = 1.0 - 0.5 * _TWO_POW_32_INV
    return uniform


@lru_cache(maxsize=4)
def r_standard_normal(n: int, seed: int = 0) -> np.ndarray:
    """``n`` standard normal draws equal to R's ``set.seed(seed); rnorm(n)``.

    Parameters
    ----------
    n : int
        Number of draws.
    seed : int, default 0
        R's integer seed.

    Returns
    -------
    numpy.ndarray
        Read-only float64 array of length ``n`` (cached: the same seed gives the same array).

    Examples
    --------
    >>> r_standard_normal(3, seed=0).round(7).tolist()
    [1.2629543, -0.3262334, 1.3297993]
    """
    uniform = r_uniform(2 * n, seed).reshape(n, 2)
    draws = ndtri((np.floor(_BIG * uniform[:, 0]) + uniform[:, 1]) / _BIG)
    draws.setflags(write=False)
    return draws


def r_multivariate_normal(n: int, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """``n`` draws of N(0, sigma) equal to R's ``set.seed(seed); mvtnorm::rmvnorm(n, sigma=sigma)``.

    ``rmvnorm``'s default fills an ``n x p`` matrix of standard normals by row and multiplies it
    by the symmetric square root of ``sigma`` (eigenvalues clipped at zero), which does not
    depend on the signs the eigen-solver gives the eigenvectors.
    """
    dim = sigma.shape[0]
    values, vectors = np.linalg.eigh(sigma)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return r_standard_normal(n * dim, seed).reshape(n, dim) @ root
