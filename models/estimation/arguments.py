"""Checks of the estimators' arguments: each one line, naming the argument, the value seen and
what was expected.

The estimators (:class:`~models.EventStudy`, :class:`~models.CallawaySantAnna`,
:class:`~models.SunAbraham`, :class:`~models.ImputationDiD` and
:class:`~models.FixedEffectsOLS`) check every constructor and ``fit`` argument that can take a
bad value with these functions, so that ``bin_endpoints="no"`` or ``fit(tol=-1)`` is refused
instead of being read as True or as a tolerance nothing can meet. A boolean must be ``True`` or
``False`` (numpy's too), never a string or a number; numbers must be real numbers of the right
kind (a bool is not an integer here), finite and in range. ``owner`` (the estimator's name)
starts the message::

    EventStudy: bin_endpoints = 'no': expected True or False

Each function returns the value as a plain Python ``bool``, ``int`` or ``float``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def shown(value: object) -> str:
    """A value as a message shows it: numpy scalars as the Python numbers they hold.

    Examples
    --------
    >>> shown(np.int32(6)), shown("6"), shown(np.float64(2.5))
    ('6', "'6'", '2.5')
    """
    return repr(value.item() if isinstance(value, np.generic) else value)


def _refused(name: str, value: object, expected: str, owner: str | None) -> ValueError:
    prefix = f"{owner}: " if owner else ""
    return ValueError(f"{prefix}{name} = {shown(value)}: expected {expected}")


def strict_bool(name: str, value: object, owner: str | None = None) -> bool:
    """``value`` if it is True or False (Python or numpy), else a ValueError.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value given.
    owner : str, optional
        The estimator (or function) the argument belongs to, first in the message.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        For anything else, such as the string ``"no"`` (which Python reads as true) or ``1``.

    Examples
    --------
    >>> strict_bool("bin_endpoints", np.True_)
    True
    >>> strict_bool("bin_endpoints", "no", "EventStudy")
    Traceback (most recent call last):
    ValueError: EventStudy: bin_endpoints = 'no': expected True or False
    """
    if not isinstance(value, bool | np.bool_):
        raise _refused(name, value, "True or False", owner)
    return bool(value)


def at_least(name: str, value: object, low: int, owner: str | None = None) -> int:
    """``value`` if it is an integer (not a bool) >= ``low``, else a ValueError.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value given (a Python or numpy integer).
    low : int
        The smallest value allowed.
    owner : str, optional
        The estimator the argument belongs to, first in the message.

    Returns
    -------
    int

    Examples
    --------
    >>> at_least("maxiter", 10, 1)
    10
    >>> at_least("anticipation", True, 0, "CallawaySantAnna")
    Traceback (most recent call last):
    ValueError: CallawaySantAnna: anticipation = True: expected an integer >= 0
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral) or value < low:
        raise _refused(name, value, f"an integer >= {low}", owner)
    return int(value)


def optional_integer(name: str, value: object, owner: str | None = None) -> int | None:
    """``value`` if it is None or an integer (not a bool), else a ValueError.

    Examples
    --------
    >>> optional_integer("max_e", None), optional_integer("min_e", np.int64(-2))
    (None, -2)
    >>> optional_integer("max_e", 2.5, "aggregate")
    Traceback (most recent call last):
    ValueError: aggregate: max_e = 2.5: expected None or an integer
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise _refused(name, value, "None or an integer", owner)
    return int(value)


def positive(
    name: str, value: object, owner: str | None = None, *, below: float | None = None
) -> float:
    """``value`` if it is a finite real number > 0 (and < ``below``, if given), else a
    ValueError.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value given (a Python or numpy real number, not a bool).
    owner : str, optional
        The estimator the argument belongs to, first in the message.
    below : float, optional
        An upper bound the value must stay under (e.g. 1 for a relative tolerance).

    Returns
    -------
    float

    Examples
    --------
    >>> positive("tol", 1e-8)
    1e-08
    >>> positive("tol", -1, "EventStudy")
    Traceback (most recent call last):
    ValueError: EventStudy: tol = -1: expected a finite number > 0
    """
    expected = "a finite number > 0" if below is None else f"a number > 0 and < {below:g}"
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
        or (below is not None and value >= below)
    ):
        raise _refused(name, value, expected, owner)
    return float(value)


def probability(name: str, value: object, owner: str | None = None) -> float:
    """``value`` if it is a real number strictly between 0 and 1 (a test's level ``alpha``),
    else a ValueError.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value given.
    owner : str, optional
        The estimator or method the argument belongs to, first in the message.

    Returns
    -------
    float

    Examples
    --------
    >>> probability("alpha", 0.05)
    0.05
    >>> probability("alpha", 5, "aggregate")
    Traceback (most recent call last):
    ValueError: aggregate: alpha = 5: expected a number > 0 and < 1
    """
    return positive(name, value, owner, below=1.0)


def convergence(owner: str, tol: object, maxiter: object, collin_tol: object) -> None:
    """Check the least-squares engine's ``fit`` arguments: ``tol`` > 0, ``maxiter`` >= 1 and
    0 < ``collin_tol`` < 1 (see :func:`models.estimation.ols.fit_within`).

    Parameters
    ----------
    owner : str
        The estimator whose ``fit`` takes them.
    tol, maxiter, collin_tol : object
        The values given.

    Raises
    ------
    ValueError
        Naming the first argument out of range.

    Examples
    --------
    >>> convergence("EventStudy", 1e-8, 0, 1e-10)
    Traceback (most recent call last):
    ValueError: EventStudy: maxiter = 0: expected an integer >= 1
    """
    positive("tol", tol, owner)
    at_least("maxiter", maxiter, 1, owner)
    positive("collin_tol", collin_tol, owner, below=1.0)


def event_window(window: object, ref: object) -> tuple[tuple[int, int], int]:
    """An event window ``(lo, hi)`` of two integers lo < hi and a reference event time inside
    it, as plain ints; a ValueError naming ``window`` or ``ref`` otherwise.

    Examples
    --------
    >>> event_window([np.int64(-4), 12], -1)
    ((-4, 12), -1)
    >>> event_window((-2, 3), 5)
    Traceback (most recent call last):
    ValueError: ref: expected an integer event time in the window -2..3, got 5
    """
    if not (
        isinstance(window, tuple | list)
        and len(window) == 2
        and all(isinstance(w, int | np.integer) and not isinstance(w, bool) for w in window)
        and window[0] < window[1]
    ):
        raise ValueError(f"window: expected two integers lo < hi, got {window!r}")
    lo, hi = int(window[0]), int(window[1])
    if isinstance(ref, bool) or not isinstance(ref, int | np.integer) or not lo <= ref <= hi:
        raise ValueError(
            f"ref: expected an integer event time in the window {lo}..{hi}, got {ref!r}"
        )
    return (lo, hi), int(ref)


def observed_event_time(name: str, value: int, observed: np.ndarray, owner: str) -> None:
    """Raise a ValueError unless ``value`` is one of the ``observed`` event times.

    A reference event time that no treated row has would leave the effects measured against
    some other event time (whichever the collinearity check drops), so it is refused.

    Parameters
    ----------
    name : str
        The argument's name (``ref``).
    value : int
        The event time asked for.
    observed : numpy.ndarray
        The event times of the treated rows the estimator uses (any order, repeats allowed).
    owner : str
        The estimator, first in the message.

    Examples
    --------
    >>> observed_event_time("ref", -30, np.array([-3, -2, -1, 0, 1]), "SunAbraham")
    Traceback (most recent call last):
    ValueError: SunAbraham: ref = -30: expected an event time of the treated rows (observed: -3..1)
    """
    if observed.size and (observed == value).any():
        return
    span = f"{observed.min():g}..{observed.max():g}" if observed.size else "none"
    raise ValueError(
        f"{owner}: {name} = {value}: expected an event time of the treated rows (observed: {span})"
    )
