"""Every op, checked two ways under hypothesis: forward equals numpy, and the analytic gradient
equals central differences (float64). One table per kind of op drives the tests.

Each table row is ``(name, numpy reference, tensor op, domain)``: the domain moves the drawn
values away from kinks and poles (``relu`` near 0, ``log`` near 0, ...), where a central
difference straddles the kink and cannot agree with any one-sided derivative.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import strategies as S
from tinygrad_ae import Tensor, concatenate, einsum, gradcheck, hstack, outer, stack, vstack, where

erf = np.vectorize(math.erf, otypes=[np.float64])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def log_sumexp(x, axis=None, keepdims=False):
    return np.log(np.exp(x).sum(axis=axis, keepdims=keepdims))


def vector_norm(x, ord, axis=None, keepdims=False):
    if ord == np.inf:
        return np.abs(x).max(axis=axis, keepdims=keepdims)
    return (np.abs(x) ** ord).sum(axis=axis, keepdims=keepdims) ** (1 / ord)


def above_minus_one(x):
    """Into [-0.9, 2.1]: log1p's domain, negatives included."""
    return np.abs(x) * 0.857 - 0.9


def wide_off_grid(x):
    """Into [-7.45, 7.55], off the multiples of 0.1: relu6's edges at 0 and 6 are both reached."""
    return S.off_grid(x * 2.5)


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

# The ops added later (issue 12): the same checks, with a quarter of the examples each
# (S.fewer_examples), so that the seventy rows keep the suite within its time budget.
MORE_UNARY_OPS = [
    # maths
    ("sin", np.sin, lambda t: t.sin(), S.identity, 0),
    ("cos", np.cos, lambda t: t.cos(), S.identity, 0),
    ("log1p", np.log1p, lambda t: t.log1p(), above_minus_one, 0),
    ("expm1", np.expm1, lambda t: t.expm1(), S.identity, 0),
    ("erf", erf, lambda t: t.erf(), S.identity, 0),
    ("sign", np.sign, lambda t: t.sign(), S.away_from_zero, 0),
    ("floor", np.floor, lambda t: t.floor(), S.off_grid, 0),
    ("ceil", np.ceil, lambda t: t.ceil(), S.off_grid, 0),
    ("round", np.round, lambda t: t.round(), S.off_grid, 0),
    ("cumsum", np.cumsum, lambda t: t.cumsum(), S.identity, 0),
    ("cumsum axis 0", lambda x: np.cumsum(x, axis=0), lambda t: t.cumsum(axis=0), S.identity, 1),
    ("cumsum axis -1", lambda x: np.cumsum(x, axis=-1), lambda t: t.cumsum(axis=-1), S.identity, 1),
    # activations
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x), lambda t: t.leaky_relu(), S.away_from_zero, 0),
    ("leaky_relu 0.2", lambda x: np.where(x > 0, x, 0.2 * x), lambda t: t.leaky_relu(0.2), S.away_from_zero, 0),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda t: t.elu(), S.identity, 0),
    ("elu 0.5", lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))), lambda t: t.elu(0.5),
     S.away_from_zero, 0),
    ("gelu", lambda x: x * (1 + erf(x / np.sqrt(2))) / 2, lambda t: t.gelu(), S.identity, 0),
    ("gelu tanh", lambda x: x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))) / 2,
     lambda t: t.gelu(approximate="tanh"), S.identity, 0),
    ("softplus", lambda x: np.logaddexp(0, x), lambda t: t.softplus(), S.identity, 0),
    ("log_sigmoid", lambda x: -np.logaddexp(0, -x), lambda t: t.log_sigmoid(), S.identity, 0),
    ("silu", lambda x: x * sigmoid(x), lambda t: t.silu(), S.identity, 0),
    ("swish", lambda x: x * sigmoid(x), lambda t: t.swish(), S.identity, 0),
    ("relu6", lambda x: np.clip(x, 0, 6), lambda t: t.relu6(), wide_off_grid, 0),
    ("hardtanh", lambda x: np.clip(x, -1, 1), lambda t: t.hardtanh(), S.off_grid, 0),
    # shapes
    ("flatten", lambda x: x.reshape(-1), lambda t: t.flatten(), S.identity, 0),
    ("flatten 1", lambda x: x.reshape(x.shape[0], -1), lambda t: t.flatten(1), S.identity, 2),
    ("flatten 0..1", lambda x: x.reshape((-1,) + x.shape[2:]), lambda t: t.flatten(0, 1), S.identity, 2),
    ("squeeze", np.squeeze, lambda t: t.squeeze(), S.identity, 0),
    ("unsqueeze 0", lambda x: np.expand_dims(x, 0), lambda t: t.unsqueeze(0), S.identity, 0),
    ("expand_dims -1", lambda x: np.expand_dims(x, -1), lambda t: t.expand_dims(-1), S.identity, 0),
    ("permute", np.transpose, lambda t: t.permute(*reversed(range(t.ndim))), S.identity, 1),
    ("swapaxes", lambda x: np.swapaxes(x, 0, -1), lambda t: t.swapaxes(0, -1), S.identity, 1),
    ("moveaxis", lambda x: np.moveaxis(x, 0, -1), lambda t: t.moveaxis(0, -1), S.identity, 1),
    ("moveaxis two", lambda x: np.moveaxis(x, [0, 1], [-1, 0]), lambda t: t.moveaxis([0, 1], [-1, 0]), S.identity, 2),
    ("broadcast_to", lambda x: np.broadcast_to(x, (3,) + x.shape), lambda t: t.broadcast_to((3,) + t.shape),
     S.identity, 0),
    ("expand", lambda x: np.broadcast_to(x, (2,) + x.shape), lambda t: t.expand((2,) + (-1,) * t.ndim), S.identity, 0),
    ("repeat", lambda x: np.repeat(x, 2), lambda t: t.repeat(2), S.identity, 0),
    ("repeat axis 0", lambda x: np.repeat(x, 3, axis=0), lambda t: t.repeat(3, axis=0), S.identity, 1),
    ("repeat counts", lambda x: np.repeat(x, np.arange(x.shape[-1]) % 3, axis=-1),
     lambda t: t.repeat(list(np.arange(t.shape[-1]) % 3), axis=-1), S.identity, 1),
    ("tile", lambda x: np.tile(x, (2, 1)), lambda t: t.tile(2, 1), S.identity, 0),
    ("tile 3", lambda x: np.tile(x, 3), lambda t: t.tile(3), S.identity, 0),
    ("pad", lambda x: np.pad(x, 1), lambda t: t.pad(1), S.identity, 1),
    ("pad per axis", lambda x: np.pad(x, [(i % 2, 2) for i in range(x.ndim)], constant_values=0.5),
     lambda t: t.pad([(i % 2, 2) for i in range(t.ndim)], value=0.5), S.identity, 1),
    ("split", lambda x: np.concatenate(np.split(x, [1])[::-1]), lambda t: concatenate(t.split([1])[::-1]),
     S.identity, 1),
    ("split sections", lambda x: np.concatenate(np.split(x, x.shape[-1], axis=-1)[::-1], axis=-1),
     lambda t: concatenate(t.split(t.shape[-1], axis=-1)[::-1], axis=-1), S.identity, 1),
    ("chunk", lambda x: np.concatenate(np.array_split(x, 2)[::-1]), lambda t: concatenate(t.chunk(2)[::-1]),
     S.identity, 1),
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

MORE_REDUCTIONS = [
    ("prod", np.prod, lambda t, axis, keep: t.prod(axis=axis, keepdims=keep), S.identity),
    ("var", np.var, lambda t, axis, keep: t.var(axis=axis, keepdims=keep), S.identity),
    ("logsumexp", log_sumexp, lambda t, axis, keep: t.logsumexp(axis=axis, keepdims=keep), S.identity),
    ("norm", lambda x, axis, keepdims: vector_norm(x, 2, axis, keepdims),
     lambda t, axis, keep: t.norm(axis=axis, keepdims=keep), S.away_from_zero),
    ("norm 1", lambda x, axis, keepdims: vector_norm(x, 1, axis, keepdims),
     lambda t, axis, keep: t.norm(1, axis=axis, keepdims=keep), S.away_from_zero),
    ("norm 3", lambda x, axis, keepdims: vector_norm(x, 3, axis, keepdims),
     lambda t, axis, keep: t.norm(3, axis=axis, keepdims=keep), S.away_from_zero),
    ("norm inf", lambda x, axis, keepdims: vector_norm(x, np.inf, axis, keepdims),
     lambda t, axis, keep: t.norm(np.inf, axis=axis, keepdims=keep),
     lambda x: S.away_from_zero(S.distinct(x))),
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
    check_unary(reference, op, domain(data.draw(S.arrays(min_dims=min_dims))))


def check_unary(reference, op, x):
    check_forward(reference, op, x)
    assert gradcheck(op, t64(x))


@pytest.mark.parametrize("name, reference, op, domain, min_dims", MORE_UNARY_OPS, ids=[r[0] for r in MORE_UNARY_OPS])
@S.fewer_examples()
@given(data=st.data())
def test_more_unary_ops(name, reference, op, domain, min_dims, data):
    check_unary(reference, op, domain(data.draw(S.arrays(min_dims=min_dims))))


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


@pytest.mark.parametrize("name, reference, op, domain", MORE_REDUCTIONS, ids=[r[0] for r in MORE_REDUCTIONS])
@S.fewer_examples()
@given(x_axis=S.array_and_axis(min_dims=0), keepdims=st.booleans())
def test_more_reductions(name, reference, op, domain, x_axis, keepdims):
    check_reduction(reference, op, domain, x_axis, keepdims)


@pytest.mark.parametrize("name, reference, op, domain", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@given(x_axis=S.array_and_axis(min_dims=0), keepdims=st.booleans())
def test_reduction(name, reference, op, domain, x_axis, keepdims):
    check_reduction(reference, op, domain, x_axis, keepdims)


def check_reduction(reference, op, domain, x_axis, keepdims):
    x, axis = x_axis
    x = domain(x)
    expected = reference(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(Tensor(x), axis, keepdims).data, expected, rtol=1e-10, atol=1e-12)
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


# ---------------------------------------------------------------- the ops beyond the tables


@pytest.mark.parametrize("name, op", [
    ("logsumexp", lambda t: t.logsumexp(axis=-1)), ("softmax", lambda t: t.softmax(axis=-1)),
    ("maximum", lambda t: t.maximum(t[..., :1] * 1.0)),
])
@S.fewer_examples()
@given(x=S.arrays(min_dims=1))
def test_smooth_and_pairwise_max_like_ops_with_ties(name, op, x):
    """Whole numbers from 1 to 7, so ties are everywhere: logsumexp and softmax shift by the
    max (a constant) and stay smooth; a tie of two, in maximum, splits the slope in halves,
    which is what central differences see."""
    assert gradcheck(op, t64(np.round(x) + 4))


@pytest.mark.parametrize("name, op", [("max", lambda t: t.max(axis=-1)), ("norm inf", lambda t: t.norm(np.inf, axis=-1))])
@S.fewer_examples()
@given(x=S.arrays(min_dims=1))
def test_max_over_ties_shares_the_gradient_evenly(name, op, x):
    """With k tied maxima each gets 1/k (as PyTorch's amax does): a subgradient, where central
    differences would give 1/2 to each and so no longer sum to 1 when k > 2."""
    x = np.round(x) + 4
    t = t64(x)
    op(t).sum().backward()
    is_max = x == x.max(axis=-1, keepdims=True)
    np.testing.assert_allclose(t.grad, is_max / is_max.sum(axis=-1, keepdims=True), rtol=1e-12)


@S.fewer_examples()
@given(x=S.arrays(min_dims=1), zeros=st.integers(0, 3), data=st.data())
def test_prod_with_zeros(x, zeros, data):
    """0, 1, 2 or 3 zeros in a row: the slope of each element is the product of the others."""
    for _ in range(zeros):
        x[(data.draw(st.integers(0, x.shape[0] - 1)),)] = 0.0
    check_forward(lambda a: np.prod(a, axis=0), lambda t: t.prod(axis=0), x)
    assert gradcheck(lambda t: t.prod(axis=0), t64(x))
    others = np.prod(np.delete(x, 0, axis=0), axis=0)  # d prod / d x[0], by definition
    grad = t64(x)
    grad.prod(axis=0).sum().backward()
    np.testing.assert_allclose(grad.grad[0], others, rtol=1e-12, atol=1e-300)


LARGE = [("logsumexp", lambda x: np.logaddexp.reduce(x, axis=-1), lambda t: t.logsumexp(axis=-1)),
         ("softplus", lambda x: np.logaddexp(0, x), lambda t: t.softplus()),
         ("log_sigmoid", lambda x: -np.logaddexp(0, -x), lambda t: t.log_sigmoid()),
         ("log_softmax", lambda x: x - np.logaddexp.reduce(x, axis=-1, keepdims=True), lambda t: t.log_softmax()),
         ("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda t: t.elu()),
         ("gelu", lambda x: x * (1 + erf(x / np.sqrt(2))) / 2, lambda t: t.gelu())]


@pytest.mark.parametrize("name, reference, op", LARGE, ids=[r[0] for r in LARGE])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@S.fewer_examples()
@given(x=hnp.arrays(np.float64, S.shapes(min_dims=1),
                    elements=st.floats(-1e4, 1e4) | st.sampled_from([-1e4, 1e4, 0.0])))
def test_large_magnitudes_neither_overflow_nor_warn(name, reference, op, dtype, x):
    t = Tensor(x.astype(dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = op(t)
        out.sum().backward()
    np.testing.assert_allclose(out.data, reference(x.astype(dtype).astype(np.float64)), rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-3 if dtype == np.float32 else 1e-9)
    assert np.isfinite(t.grad).all()


@S.fewer_examples()
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4), data=st.data())
def test_where(shapes, data):
    cond_shape, a_shape, b_shape = shapes.input_shapes
    mask = data.draw(S.arrays(cond_shape)) > 0
    a, b = data.draw(S.arrays(a_shape)), data.draw(S.arrays(b_shape))
    check_forward(lambda x, y: np.where(mask, x, y), lambda x, y: where(Tensor(mask), x, y), a, b)
    check_forward(lambda x, y: np.where(mask, x, y), lambda x, y: where(mask, x, y), a, b)
    assert gradcheck(lambda x, y: where(mask, x, y), t64(a), t64(b))


def test_where_keeps_the_branch_not_taken_out_of_the_value_and_a_second_where_out_of_the_gradient():
    x = Tensor([-1.0, 0.0, 4.0], requires_grad=True)
    positive = Tensor(x.data > 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # log of -1 and 0, in the branch not taken
        y = where(positive, x.log(), 0.0)
    np.testing.assert_allclose(y.data, [0.0, 0.0, np.log(4.0)], rtol=1e-7)
    with np.errstate(divide="ignore", invalid="ignore"):
        y.sum().backward()
    assert np.isnan(x.grad[1]), "log's own backward divides 0 by 0 at x = 0, as in PyTorch"
    x.grad = None
    safe = where(positive, where(positive, x, 1.0).log(), 0.0)  # log never sees x <= 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        safe.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.25])


@S.fewer_examples()
@given(x_axis=S.array_and_axis(min_dims=0), keepdims=st.booleans())
def test_any_and_all(x_axis, keepdims):
    x, axis = x_axis
    x = np.round(x / 3)  # plenty of zeros
    for name in ("any", "all"):
        got = getattr(Tensor(x), name)(axis=axis, keepdims=keepdims)
        expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
        assert got.dtype == bool and np.array_equal(got.data, expected)


@S.fewer_examples()
@given(x=S.arrays(min_dims=1).filter(lambda a: a.shape[-1] >= 2), ddof=st.sampled_from([0, 1]),
       axis=st.sampled_from([None, -1]), keepdims=st.booleans())
def test_var_and_std_with_ddof(x, ddof, axis, keepdims):
    """Groups of two or more distinct values: std's slope is infinite where all are equal."""
    x = S.distinct(x)
    for name in ("var", "std"):
        def op(t):
            return getattr(t, name)(axis=axis, ddof=ddof, keepdims=keepdims)
        check_forward(lambda a: getattr(np, name)(a, axis=axis, ddof=ddof, keepdims=keepdims), op, x)
        assert gradcheck(op, t64(x))


def test_erf_against_known_values():
    """math.erf behind the primitive, checked against tabulated values (Abramowitz & Stegun 7.1)."""
    got = Tensor(np.array([0.0, 0.5, 1.0, 2.0, -3.0])).erf().data
    np.testing.assert_allclose(got, [0.0, 0.5204998778, 0.8427007929, 0.9953222650, -0.9999779095], rtol=1e-9)


@S.fewer_examples()
@given(pair=st.tuples(S.arrays(min_dims=1, ), S.arrays(min_dims=1)))
def test_outer(pair):
    check_forward(np.outer, outer, *pair)
    assert gradcheck(outer, *[t64(a) for a in pair])


@S.fewer_examples()
@given(shape=S.shapes(max_dims=3), count=st.integers(1, 3), data=st.data())
def test_hstack_and_vstack(shape, count, data):
    arrays = [data.draw(S.arrays(shape)) for _ in range(count)]
    for numpy_join, join in ((np.hstack, hstack), (np.vstack, vstack)):
        check_forward(lambda *a: numpy_join(a), lambda *t: join(t), *arrays)
        assert gradcheck(lambda *t: join(t), *[t64(a) for a in arrays])


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "i,j->ij", "i,i->", "ij->ji", "ij->j", "ij->", "bi,bi->b",
           "ij,ij->ij", "ij,kj->ik", "ijk,ikl->jl", "ij,jk", "bhqd,bhkd->bhqk", "ij,k->ik"]


@pytest.mark.parametrize("spec", EINSUMS)
@S.fewer_examples()
@given(data=st.data())
def test_einsum(spec, data):
    sizes = {c: data.draw(st.integers(1, 3)) for c in set(spec) if c.isalpha()}
    arrays = [data.draw(S.arrays(tuple(sizes[c] for c in term))) for term in spec.split("->")[0].split(",")]
    check_forward(lambda *a: np.einsum(spec, *a), lambda *t: einsum(spec, *t), *arrays)
    assert gradcheck(lambda *t: einsum(spec, *t), *[t64(a) for a in arrays])


@pytest.mark.parametrize("call, message", [
    (lambda: einsum("ii->i", Tensor.ones(2, 2)), "one distinct letter"),
    (lambda: einsum("ij,jk->ik", Tensor.ones(2, 3), Tensor.ones(2, 3)), "letter 'j' is size 3"),
    (lambda: Tensor.ones(2, 3).squeeze(0), "axes [0] of shape (2, 3) are not all of size 1"),
    (lambda: Tensor.ones(2, 3).broadcast_to(4, 3, 2), "(2, 3) cannot be broadcast to (4, 3, 2)"),
    (lambda: Tensor.ones(5).split(2), "split of shape (5,)"),
    (lambda: Tensor.ones(2, 3).pad([(1, 1)] * 3), "pad: pad_width [(1, 1), (1, 1), (1, 1)] for shape (2, 3)"),
    (lambda: Tensor.ones(2).swapaxes(0, 1), "swapaxes: axis 1 is out of range for a tensor of shape (2,)"),
    (lambda: where(np.ones(3, bool), Tensor.ones(2), 0.0), "Where of shapes (2,) and ()"),
    (lambda: Tensor.ones(1).var(ddof=1), "ddof=1"),
])
def test_errors_name_the_op_and_the_shapes(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
