"""Every op, checked two ways under hypothesis: forward equals numpy, and the analytic gradient
equals central differences (float64). One table per kind of op drives the tests.

Each table row is ``(name, numpy reference, tensor op, domain)``: the domain moves the drawn
values away from kinks and poles (``relu`` near 0, ``log`` near 0, ...), where a central
difference straddles the kink and cannot agree with any one-sided derivative.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from tinygrad_ae import Tensor, concatenate, gradcheck, stack


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# (name, numpy reference, tensor op, domain, minimum number of axes)
UNARY_OPS = [
    ("neg", np.negative, lambda t: -t, S.identity, 0),
    ("exp", np.exp, lambda t: t.exp(), S.identity, 0),
    ("log", np.log, lambda t: t.log(), S.positive, 0),
    ("sqrt", np.sqrt, lambda t: t.sqrt(), S.positive, 0),
    ("abs", np.abs, lambda t: t.abs(), S.away_from_zero, 0),
    ("relu", lambda x: np.maximum(x, 0), lambda t: t.relu(), S.away_from_zero, 0),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda t: t.sigmoid(), S.identity, 0),
    ("tanh", np.tanh, lambda t: t.tanh(), S.identity, 0),
    ("square", lambda x: x**2, lambda t: t**2, S.identity, 0),
    ("cube", lambda x: x**3, lambda t: t**3, S.identity, 0),
    ("pow -1", lambda x: x**-1.0, lambda t: t**-1, S.away_from_zero, 0),
    ("pow 1.5", lambda x: x**1.5, lambda t: t**1.5, S.positive, 0),
    ("add scalar", lambda x: x + 2.5, lambda t: t + 2.5, S.identity, 0),
    ("scalar sub", lambda x: 2.5 - x, lambda t: 2.5 - t, S.identity, 0),
    ("mul scalar", lambda x: x * -1.5, lambda t: t * -1.5, S.identity, 0),
    ("div scalar", lambda x: x / 4.0, lambda t: t / 4.0, S.identity, 0),
    ("scalar div", lambda x: 2.0 / x, lambda t: 2.0 / t, S.away_from_zero, 0),
    ("scalar pow", lambda x: 2.0**x, lambda t: 2.0**t, S.identity, 0),
    ("clip", lambda x: np.clip(x, -0.5, 0.5), lambda t: t.clip(-0.5, 0.5), S.off_grid, 0),
    ("maximum scalar", lambda x: np.maximum(x, 0.3), lambda t: t.maximum(0.3), S.off_grid, 0),
    ("minimum scalar", lambda x: np.minimum(x, -0.2), lambda t: t.minimum(-0.2), S.off_grid, 0),
    ("softmax", softmax, lambda t: t.softmax(), S.identity, 1),
    ("softmax axis 0", lambda x: softmax(x, 0), lambda t: t.softmax(axis=0), S.identity, 1),
    ("log_softmax", log_softmax, lambda t: t.log_softmax(), S.identity, 1),
    ("log_softmax axis 0", lambda x: log_softmax(x, 0), lambda t: t.log_softmax(axis=0), S.identity, 1),
    ("reshape", lambda x: x.reshape(-1), lambda t: t.reshape(-1), S.identity, 0),
    ("T", lambda x: x.T, lambda t: t.T, S.identity, 0),
    ("transpose axes", lambda x: np.moveaxis(x, 0, -1),
     lambda t: t.transpose(tuple(range(1, t.ndim)) + (0,)), S.identity, 1),
    ("transpose negative axes", lambda x: np.moveaxis(x, -1, 0),
     lambda t: t.transpose((-1,) + tuple(range(-t.ndim, -1))), S.identity, 1),
]

# (name, numpy reference, tensor op, domain of a, domain of b)
BINARY_OPS = [
    ("add", np.add, lambda a, b: a + b, S.identity, S.identity),
    ("sub", np.subtract, lambda a, b: a - b, S.identity, S.identity),
    ("mul", np.multiply, lambda a, b: a * b, S.identity, S.identity),
    ("div", np.divide, lambda a, b: a / b, S.identity, S.away_from_zero),
    ("pow", np.power, lambda a, b: a**b, S.positive, S.identity),
    ("maximum", np.maximum, lambda a, b: a.maximum(b), S.off_grid, S.on_grid),
    ("minimum", np.minimum, lambda a, b: a.minimum(b), S.off_grid, S.on_grid),
]

# (name, numpy reference, tensor op, domain): reductions, called with (array, axis, keepdims)
REDUCTIONS = [
    ("sum", np.sum, lambda t, axis, keep: t.sum(axis=axis, keepdims=keep), S.identity),
    ("mean", np.mean, lambda t, axis, keep: t.mean(axis=axis, keepdims=keep), S.identity),
    ("max", np.max, lambda t, axis, keep: t.max(axis=axis, keepdims=keep), S.distinct),
    ("min", np.min, lambda t, axis, keep: t.min(axis=axis, keepdims=keep), S.distinct),
]


def t64(x):
    return Tensor(np.array(x, dtype=np.float64), requires_grad=True)


def check_forward(reference, op, *arrays):
    """Same values as numpy in float64, and in float32 the result stays float32."""
    expected = reference(*arrays)
    got = op(*[Tensor(a) for a in arrays])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-12)
    got32 = op(*[Tensor(a.astype(np.float32)) for a in arrays])
    assert got32.dtype == np.float32, "a float32 computation must stay float32"
    np.testing.assert_allclose(got32.data, expected, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("name, reference, op, domain, min_dims", UNARY_OPS, ids=[r[0] for r in UNARY_OPS])
@given(data=st.data())
def test_unary_op(name, reference, op, domain, min_dims, data):
    x = domain(data.draw(S.arrays(min_dims=min_dims)))
    check_forward(reference, op, x)
    assert gradcheck(op, t64(x))


@pytest.mark.parametrize("name, reference, op, domain_a, domain_b", BINARY_OPS, ids=[r[0] for r in BINARY_OPS])
@given(pair=S.broadcast_pairs())
def test_binary_op_broadcasting(name, reference, op, domain_a, domain_b, pair):
    a, b = domain_a(pair[0]), domain_b(pair[1])
    check_forward(reference, op, a, b)
    assert gradcheck(op, t64(a), t64(b))


OPERATORS = [row for row in BINARY_OPS if row[0] in ("add", "sub", "mul", "div", "pow")]


@pytest.mark.parametrize("name, reference, op, domain_a, domain_b", OPERATORS, ids=[r[0] for r in OPERATORS])
@given(x=S.arrays(), scalar=st.floats(0.5, 2.0))
def test_constants_on_either_side(name, reference, op, domain_a, domain_b, x, scalar):
    """Python scalars and float64 numpy arrays join a float32 tensor on either side of an
    operator as constants in the tensor's dtype: the result is a float32 Tensor."""
    a, b = domain_a(x), domain_b(np.full(x.shape, scalar))
    a32, b32 = Tensor(a.astype(np.float32)), Tensor(b.astype(np.float32))
    for got in (op(a32, b), op(a, b32), op(a32, scalar), op(float(a.flat[0]), b32)):
        assert isinstance(got, Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(op(a, b32).data, reference(a, b), rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(op(a32, scalar).data, reference(a, scalar), rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("name, reference, op, domain", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@given(x_axis=S.array_and_axis(min_dims=0), keepdims=st.booleans())
def test_reduction(name, reference, op, domain, x_axis, keepdims):
    x, axis = x_axis
    x = domain(x)
    expected = reference(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(Tensor(x), axis, keepdims).data, expected, rtol=1e-10)
    assert op(Tensor(x), axis, keepdims).shape == np.shape(expected)
    assert gradcheck(lambda t: op(t, axis, keepdims), t64(x))


@given(pair=S.matmul_pairs())
def test_matmul(pair):
    a, b = pair
    check_forward(np.matmul, lambda x, y: x @ y, a, b)
    assert gradcheck(lambda x, y: x @ y, t64(a), t64(b))


@st.composite
def indexed(draw):
    """An array and an index of each kind numpy has: int, slice, integer array, mixed."""
    x = draw(S.arrays(min_dims=1))
    n = x.shape[0]
    kind = draw(st.sampled_from(["int", "slice", "step", "array", "mixed", "mask"]))
    if kind == "int":
        index = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        start = draw(st.integers(0, n - 1))
        index = slice(start, draw(st.integers(start + 1, n)))
    elif kind == "step":
        index = slice(None, None, draw(st.sampled_from([-1, 2, -2])))
    elif kind == "array":  # repeats allowed: their grads must add up
        index = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=7))
    elif kind == "mask":
        index = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    else:
        index = (slice(None), draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=1, max_size=4))) \
            if x.ndim >= 2 else draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    return x, index


@given(x_index=indexed())
def test_getitem(x_index):
    x, index = x_index
    np_index = tuple(np.asarray(i) if isinstance(i, list) else i for i in index) \
        if isinstance(index, tuple) else (np.asarray(index) if isinstance(index, list) else index)
    check_forward(lambda a: a[np_index], lambda t: t[index], x)
    assert gradcheck(lambda t: t[index], t64(x))


@st.composite
def pieces(draw):
    """2-4 arrays that agree on every axis but ``axis``, for concatenate."""
    shape = list(draw(S.shapes(min_dims=1, max_dims=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(2, 4))):
        shape[axis] = draw(st.integers(1, 3))
        arrays.append(draw(S.arrays(tuple(shape))))
    return arrays, axis


@given(arrays_axis=pieces())
def test_concatenate(arrays_axis):
    arrays, axis = arrays_axis
    check_forward(lambda *a: np.concatenate(a, axis=axis), lambda *t: concatenate(t, axis=axis), *arrays)
    assert gradcheck(lambda *t: concatenate(t, axis=axis), *[t64(a) for a in arrays])


@given(shape=S.shapes(max_dims=3), count=st.integers(1, 3), data=st.data())
def test_stack(shape, count, data):
    arrays = [data.draw(S.arrays(shape)) for _ in range(count)]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_forward(lambda *a: np.stack(a, axis=axis), lambda *t: stack(t, axis=axis), *arrays)
    assert gradcheck(lambda *t: stack(t, axis=axis), *[t64(a) for a in arrays])
