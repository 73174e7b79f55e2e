"""One check that several modules need: is a value a whole number?

Example:
    >>> import numpy as np
    >>> whole_number(3), whole_number(np.int64(3)), whole_number(2.5), whole_number(True)
    (3, 3, None, None)
"""

from __future__ import annotations

import operator


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
