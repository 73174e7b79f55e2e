"""Checks that several modules need: is a value a whole number, a finite number in a range?

Example:
    >>> import numpy as np
    >>> whole_number(3), whole_number(np.int64(3)), whole_number(2.5), whole_number(True)
    (3, 3, None, None)
"""

from __future__ import annotations

import math
import operator

import numpy as np


def whole_number(value) -> int | None:
    """``value`` as an int if it is an integer (numpy integers too), else None.

    ``operator.index`` accepts exactly the integer types and refuses 1.5 and "10"; bools are
    integers to Python but never a size or a count, so they are refused too.

    Example:
        >>> whole_number("10") is None
        True
    """
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def checked_number(what: str, value, low=None, high=None, low_allowed=True, hint="") -> float:
    """``value`` as a float if it is a finite real number in the range, else a ValueError
    that says what is allowed (strings such as "0.1" and bools are refused, not converted).

    Example:
        >>> checked_number("momentum", 0.9, low=0, high=1)
        0.9
        >>> checked_number("lr", "0.1", low=0, low_allowed=False)
        Traceback (most recent call last):
        ...
        ValueError: lr must be a finite number > 0, got '0.1' of type str
    """
    number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and (low is None or value > low or (low_allowed and value == low))
            and (high is None or value < high)):
        bounds = ([] if low is None else [f" {'>=' if low_allowed else '>'} {low}"]) + \
            ([] if high is None else [f" < {high}"])
        kind = "" if number else f" of type {type(value).__name__}"
        raise ValueError(f"{what} must be a finite number{' and'.join(bounds)}{hint}, got {value!r}{kind}")
    return float(value)
