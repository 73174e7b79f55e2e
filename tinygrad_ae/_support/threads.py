"""How many threads numpy's BLAS (the library behind ``@``) may use while a model trains.

A small network's matrices (a batch times 784 x 10) are too small to be worth splitting
across threads: handing half a product to a second thread costs more than it saves, and when
the machine is busy, OpenBLAS threads waiting on each other made one 128x10 @ 10x784 product
take 30 ms instead of 0.13 ms on our 2-core test machine. So ``fit`` trains with one BLAS
thread by default; pass ``blas_threads=None`` to leave numpy's setting alone.

Example:
    >>> import numpy as np
    >>> with limit_blas_threads(1):
    ...     product = np.ones((2, 3)) @ np.ones((3, 2))

    Example:
        >>> product[0, 0]
        np.float64(3.0)
"""

from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_limits


def limit_blas_threads(count: int | None = 1):
    """A context manager limiting numpy's BLAS to ``count`` threads (None: no change).

    Example:
        >>> with limit_blas_threads(None):
        ...     pass
    """
    if count is None:
        return contextlib.nullcontext()
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"limit_blas_threads needs a whole number >= 1 or None, got {count!r}")
    return threadpool_limits(limits=count, user_api="blas")
