"""Hypothesis strategies for the gradient tests: bounded float arrays of small shapes.

Values stay in [-3, 3] (``exp`` and ``**`` stay tame); shapes are 0-d to 4-d with axes of
size 1 to 5, so central differences over every element stay cheap.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

BOUND = 3.0
MAX_DIMS = 4
MAX_SIDE = 5


def floats(dtype=np.float64):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return st.floats(-BOUND, BOUND, allow_nan=False, allow_infinity=False, width=width)


def shapes(min_dims=0, max_dims=MAX_DIMS):
    """Array shapes with 0..4 axes of size 1..5."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)


def arrays(shape=None, dtype=np.float64, min_dims=0):
    """Bounded float arrays; a random shape unless ``shape`` is given."""
    return hnp.arrays(dtype, shape if shape is not None else shapes(min_dims=min_dims), elements=floats(dtype))


@st.composite
def broadcast_pairs(draw, dtype=np.float64):
    """Two arrays whose shapes broadcast against each other (e.g. (4, 1, 3) and (2, 3))."""
    a_shape, b_shape = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE)).input_shapes
    return draw(arrays(a_shape, dtype)), draw(arrays(b_shape, dtype))


@st.composite
def array_and_axis(draw, dtype=np.float64, min_dims=1):
    """An array and a reduction axis for it: None, an int (maybe negative) or a tuple."""
    x = draw(arrays(dtype=dtype, min_dims=min_dims))
    choices = [st.none()]
    if x.ndim >= 1:
        choices.append(st.integers(-x.ndim, x.ndim - 1))
    if x.ndim >= 2:
        choices.append(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim, unique=True).map(tuple))
    return x, draw(st.one_of(*choices))


@st.composite
def matmul_pairs(draw, dtype=np.float64):
    """Operands for ``@`` in each of numpy's cases: 1-D, 2-D, batched and broadcast batches."""
    n, m, k = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    a_batch = batch if draw(st.booleans()) else batch[len(batch) // 2:]  # sometimes broadcast
    case = draw(st.sampled_from(["vec@vec", "mat@vec", "vec@mat", "mat@mat", "batched"]))
    a_shape, b_shape = {
        "vec@vec": ((n,), (n,)),
        "mat@vec": ((m, n), (n,)),
        "vec@mat": ((n,), (n, k)),
        "mat@mat": ((m, n), (n, k)),
        "batched": (a_batch + (m, n), batch + (n, k)),
    }[case]
    return draw(arrays(a_shape, dtype)), draw(arrays(b_shape, dtype))


# ---------------------------------------------------------------- domains (away from kinks and poles)

def positive(x):
    """Into [0.5, 3.5]: for log, sqrt, fractional powers, and tensor exponents' bases."""
    return np.abs(x) + 0.5


def away_from_zero(x):
    """|x| >= 0.1: for relu, abs, 1/x, whose derivatives jump or blow up at 0."""
    return np.where(x >= 0, x + 0.1, x - 0.1)


def off_grid(x):
    """Onto the points 0.05 + k/10: at least 0.05 from every multiple of 0.1 (clip's edges)."""
    return np.round(x, 1) + 0.05


def on_grid(x):
    """Onto multiples of 0.1, so that off_grid(a) and on_grid(b) are never within 0.05."""
    return np.round(x, 1)


def distinct(x):
    """Every element at least 0.08 from every other: max has no ties to split."""
    flat = x.ravel()
    ranks = np.argsort(np.argsort(flat, kind="stable"), kind="stable")
    return (ranks * 0.1 + flat * 0.01).reshape(x.shape)


def identity(x):
    return x


def fewer_examples(divisor=4):
    """Hypothesis settings with a quarter of the profile's examples (25 in "ci", 125 in
    "thorough"): for the many ops of the larger tables, so the suite keeps its time budget."""
    from hypothesis import settings

    return settings(max_examples=max(settings.default.max_examples // divisor, 10))
