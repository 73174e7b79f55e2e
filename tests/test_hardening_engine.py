"""Issue 10, engine part: no silent wrong results from dtypes, non-numbers, indices, comparisons,
sigmoid's tails or bce's floor; friendly errors from Function, gradcheck; Jupyter's view of a Tensor;
MatMul's small-product blocks equal plain ``a @ b``."""

import traceback
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import strategies as S
from tinygrad_ae import Tensor, autograd, draw_graph, gradcheck
from tinygrad_ae.autograd import Function, matmul_in_small_blocks
from tinygrad_ae.losses import bce

INT = np.int64


# ---------------------------------------------------------------- 1. integer tensors and constants


def test_true_division_of_integer_tensors_promotes_to_float32():
    i = Tensor([1, 2], dtype=INT)
    for result in (i / 2, i / Tensor([2, 4], dtype=INT), 2 / i, i / 2.0):
        assert result.dtype == np.float32
    np.testing.assert_array_equal((i / 2).data, [0.5, 1.0])
    np.testing.assert_array_equal((i / Tensor([2, 4], dtype=INT)).data, [0.5, 0.5])
    np.testing.assert_array_equal((2 / i).data, [2.0, 1.0])
    assert (i / Tensor([2.0, 4.0], dtype=np.float64)).dtype == np.float64  # the float tensor's dtype


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sigmoid", "tanh", "softmax", "log_softmax", "mean"])
def test_float_functions_promote_integer_inputs_to_float32(name):
    values = np.array([[1, 2, 3], [4, 5, 6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy casting warning on the way
        result = getattr(Tensor(values, dtype=INT), name)()
    expected = getattr(Tensor(values.astype(np.float32)), name)()
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.data, expected.data)


def test_add_sub_mul_matmul_of_integer_tensors_stay_integer():
    a, b = Tensor([[1, 2], [3, 4]], dtype=INT), Tensor([[5, 6], [7, 8]], dtype=INT)
    for result, expected in [(a + b, a.data + b.data), (a - b, a.data - b.data), (a * b, a.data * b.data),
                             (a @ b, a.data @ b.data), (a * 3, a.data * 3), (10 - a, 10 - a.data),
                             (a ** 2, a.data ** 2), (-a, -a.data), (a.maximum(2), np.maximum(a.data, 2))]:
        assert result.dtype == INT
        np.testing.assert_array_equal(result.data, expected)
    assert (Tensor([1, 2], dtype=np.int8) + 1).dtype == np.int8  # a Python int adapts, as in PyTorch


def test_integer_tensor_meeting_a_float_becomes_float():
    i = Tensor([1, 2], dtype=INT)
    assert (i + 0.5).dtype == np.float32 and (i + 0.5).data.tolist() == [1.5, 2.5]
    assert (i * np.array([0.5, 0.25])).dtype == np.float32
    assert (i ** 0.5).dtype == np.float32
    w = Tensor([1.0, 1.0], requires_grad=True)
    (w * i).sum().backward()  # an integer input joins a float32 computation as float32
    assert (w * i).dtype == np.float32
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])


def test_integer_tensors_exist_but_cannot_require_grad():
    assert Tensor([1, 2], dtype=INT).dtype == INT
    assert Tensor([1, 2]).dtype == np.float32  # from a Python list: float32, by design
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        Tensor([1, 2], dtype=INT, requires_grad=True)


# ---------------------------------------------------------------- 2. non-numbers are refused

NOT_NUMBERS = [None, "3", 1 + 2j, np.array([1 + 1j]), np.array([object()]), ["a", "b"], np.array(["1.5"])]
BINARY_OPS = {"add": lambda t, v: t + v, "sub": lambda t, v: t - v, "mul": lambda t, v: t * v,
              "div": lambda t, v: t / v, "pow": lambda t, v: t ** v, "maximum": lambda t, v: t.maximum(v),
              "minimum": lambda t, v: t.minimum(v), "matmul": lambda t, v: t @ v, "lt": lambda t, v: t < v}


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=repr)
@pytest.mark.parametrize("op", BINARY_OPS)
def test_combining_a_tensor_with_a_non_number_is_a_type_error_naming_the_op(op, value):
    with pytest.raises(TypeError, match=rf"^{op}: cannot combine a Tensor with"):
        BINARY_OPS[op](Tensor([1.0]), value)


def test_reflected_ops_with_non_numbers_are_refused_too():
    t = Tensor([1.0])
    with pytest.raises(TypeError, match="add: cannot combine a Tensor with NoneType"):
        None + t
    with pytest.raises(TypeError, match="sub: cannot combine a Tensor with str"):
        "1" - t
    with pytest.raises(TypeError, match="cannot combine a Tensor with complex"):
        1j * t


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=repr)
@pytest.mark.parametrize("dtype", [None, np.float32, np.float64])
def test_a_tensor_of_non_numbers_is_refused_at_creation(value, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning would mean the value got cast
        with pytest.raises(TypeError, match="Tensor needs real numbers"):
            Tensor(value, dtype=dtype)


def test_a_complex_dtype_is_refused():
    with pytest.raises(TypeError, match="dtype must be a float, int or bool type"):
        Tensor([1.0, 2.0], dtype=np.complex64)


# ---------------------------------------------------------------- 3. a Tensor used as an index


def test_a_boolean_tensor_masks_like_numpy():
    v = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    mask = Tensor(np.array([True, False, True]), dtype=bool)
    np.testing.assert_array_equal(v[mask].data, v.data[mask.data])
    np.testing.assert_array_equal(v[v > 15].data, [20.0, 30.0])
    v[mask].sum().backward()
    np.testing.assert_array_equal(v.grad, [1.0, 0.0, 1.0])


def test_a_float_tensor_is_refused_as_an_index():
    v = Tensor([10.0, 20.0, 30.0])
    for index in (Tensor([1.9]), Tensor(1.0), (Tensor([0.0]), slice(None))):
        with pytest.raises(IndexError, match="a float Tensor .* cannot be an index"):
            v[index]
    assert v[Tensor([2, 0], dtype=INT)].data.tolist() == [30.0, 10.0]


@given(x=S.arrays((4, 3)), rows=hnp.arrays(bool, 4), cols=hnp.arrays(bool, 3))
def test_gradients_through_boolean_masks(x, rows, cols):
    rows, positive = Tensor(rows, dtype=bool), Tensor(x, dtype=np.float64) > 0  # before gradcheck moves x
    for pick in (lambda t: t[rows], lambda t: t[positive], lambda t: t[rows, 1:], lambda t: t[:, cols]):
        if pick(Tensor(x)).size:  # an empty selection has no gradient to check
            assert gradcheck(pick, Tensor(x.copy(), requires_grad=True))


# ---------------------------------------------------------------- 4. sigmoid's tails and bce


def ulps_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float32 values lie between a and b (both >= 0, as sigmoid's values are)."""
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def sigmoid_float64(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x.astype(np.float64)))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


SIGMOID_ULPS = 3  # the largest error seen over 6 million float32 inputs, every exponent included
TINY = np.finfo(np.float32).tiny  # the smallest normal float32, 1.2e-38


def assert_sigmoid_close(x):
    """Within SIGMOID_ULPS where the true value is a normal float32 (sigmoid(x) >= 1.2e-38, i.e.
    x > -87.3); below that within TINY (the primitive may give 0 where exp(-x) overflows)."""
    s, reference = Tensor(x).sigmoid().data, sigmoid_float64(x).astype(np.float32)
    assert s.dtype == np.float32
    normal = reference >= TINY
    assert ulps_apart(s[normal], reference[normal]).max(initial=0) <= SIGMOID_ULPS
    assert (np.abs(s[~normal] - reference[~normal]) < TINY).all()


@given(x=hnp.arrays(np.float32, st.integers(1, 64),
                    elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_float32_sigmoid_is_within_a_few_ulps_of_float64_over_the_whole_range(x):
    assert_sigmoid_close(x)


def test_float32_sigmoid_ulps_over_every_bit_pattern_family():
    bits = np.random.default_rng(0).integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    assert_sigmoid_close(np.concatenate([x[np.isfinite(x)], np.linspace(-110, 110, 100_001, dtype=np.float32)]))


def test_log_of_sigmoid_in_the_tail_is_finite_with_a_finite_gradient():
    """The logistic-regression exercise: log(sigmoid(x)) by hand, at x = -20."""
    x = Tensor([-20.0], requires_grad=True)
    log_p = x.sigmoid().log()
    log_p.sum().backward()
    assert np.isfinite(log_p.item()) and log_p.item() == pytest.approx(-20.0, rel=1e-6)
    assert np.isfinite(x.grad).all() and x.grad[0] == pytest.approx(1.0, rel=1e-6)  # 1 - sigmoid(-20)


@pytest.mark.parametrize("x", [-17.0, -30.0, -80.0])
def test_bce_on_probabilities_pushes_a_confidently_wrong_unit_back(x):
    logits = Tensor([x, 0.0], requires_grad=True)
    bce(logits.sigmoid(), Tensor([1.0, 1.0])).backward()
    # d/dx of mean(-log sigmoid(x)) = -(1 - sigmoid(x)) / 2, about -1/2 in the tail
    assert logits.grad[0] == pytest.approx(-0.5, rel=1e-5)
    from_logits = Tensor([x, 0.0], requires_grad=True)
    bce(from_logits, Tensor([1.0, 1.0]), from_logits=True).backward()
    np.testing.assert_allclose(logits.grad, from_logits.grad, rtol=1e-5)


def test_bce_of_probabilities_exactly_0_or_1_is_finite_with_finite_gradients():
    p = Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    with np.errstate(all="raise"):
        loss = bce(p, Tensor([1.0, 0.0, 0.0, 1.0]))
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(p.grad).all()


# ---------------------------------------------------------------- 5. comparisons, hashing, float()/int()

COMPARISONS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
               ">": np.greater, ">=": np.greater_equal}


@pytest.mark.parametrize("symbol", COMPARISONS)
def test_comparisons_are_elementwise_bool_tensors_without_gradient(symbol):
    compare = COMPARISONS[symbol]
    a = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = np.array([[3.0], [2.0]])
    cases = [(a, Tensor(b)), (a, b), (b, a), (a, 2.0), (2, a), (Tensor([1, 2, 3], dtype=INT), 2.5)]
    for left, right in cases:
        result = eval(f"left {symbol} right")
        assert isinstance(result, Tensor) and result.dtype == bool
        assert not result.requires_grad and result.op is None
        np.testing.assert_array_equal(result.data, compare(np.asarray(left), np.asarray(right)))


def test_a_comparison_makes_a_mask():
    x = Tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    ((x > 0) * x).sum().backward()  # keeps the positive elements, like relu
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 1.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711 - the point of the test


def test_tensors_stay_usable_as_dict_keys_and_in_sets_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: "a", b: "b"}[b] == "b"
    assert a in {a} and b not in {a} and hash(a) == object.__hash__(a)


def test_the_engine_never_compares_tensors_even_when_every_hash_collides(monkeypatch):
    """With __eq__ elementwise, a set or dict keyed by tensors would call bool(a == b) on a hash
    collision; the walk keys by id(tensor), so even all-equal hashes change nothing."""
    monkeypatch.setattr(Tensor, "__hash__", lambda self: 0)
    x = Tensor(np.linspace(-1, 1, 5), requires_grad=True)
    w = Tensor(np.ones(5), requires_grad=True)
    total = x * w
    for i in range(300):  # many tensors, each used twice: a long chain of diamonds
        h = (total * 0.5 + w).tanh()
        total = total + h * h
    loss = total.sum()
    loss.backward(retain_graph=True)
    assert np.isfinite(x.grad).all() and np.isfinite(w.grad).all()
    assert len(autograd.topological_order(loss, include_constants=True)) > 1200
    assert "tanh" in draw_graph(loss, max_nodes=50).source.lower()


def test_float_and_int_of_one_element_tensors():
    assert float(Tensor([2.5])) == 2.5 and int(Tensor([[3.9]])) == 3 and int(Tensor(7, dtype=INT)) == 7
    for convert in (float, int):
        with pytest.raises(ValueError, match=rf"{convert.__name__}\(\) needs a tensor with one element.*\(2,\)"):
            convert(Tensor([1.0, 2.0]))


# ---------------------------------------------------------------- 6. a student's Function that raises


class StudentsSquare(Function):
    error_type = ValueError

    def forward(self, x):
        raise self.error_type("my forward is not finished")  # the student's line

    def backward(self, grad):  # pragma: no cover - forward raises first
        return (grad,)


@pytest.mark.parametrize("error_type", [ValueError, TypeError, IndexError, ZeroDivisionError, RuntimeError])
def test_a_students_forward_error_keeps_its_type_gains_the_op_prefix_and_shows_the_students_line(error_type, monkeypatch):
    monkeypatch.setattr(StudentsSquare, "error_type", error_type)
    with pytest.raises(error_type, match=r"^StudentsSquare of shape \(2,\): my forward is not finished") as info:
        StudentsSquare.apply(Tensor([1.0, 2.0]))
    assert type(info.value) is error_type
    assert type(info.value.__cause__) is error_type  # the original, chained
    shown = "".join(traceback.format_exception(info.value))
    assert "# the student's line" in shown and "The above exception was the direct cause" in shown


def test_an_error_class_that_needs_other_arguments_is_raised_as_it_is():
    class NeedsTwo(Exception):
        def __init__(self, code, detail):
            super().__init__(code, detail)

    class Broken(Function):
        def forward(self, x):
            raise NeedsTwo(7, "detail")

    with pytest.raises(NeedsTwo) as info:
        Broken.apply(Tensor([1.0]))
    assert info.value.args == (7, "detail")


# ---------------------------------------------------------------- 7. gradcheck of a non-Tensor function


@pytest.mark.parametrize("fn", [lambda t: np.exp(t.data).sum(), lambda t: np.exp(t.data),
                                lambda t: (t * t).sum().item()], ids=["numpy scalar", "numpy array", "float"])
def test_gradcheck_of_a_function_returning_no_tensor_says_to_return_a_tensor(fn):
    with pytest.raises(TypeError, match="not a Tensor.*return a Tensor"):
        gradcheck(fn, Tensor(np.array([0.5, 1.0]), requires_grad=True))


# ---------------------------------------------------------------- 8. Jupyter's view of a Tensor


def test_tensor_html_is_a_valid_table_with_the_facts_and_escaped_names():
    w = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True, name="<W & b>")
    y = w * 2
    y.sum().backward()
    for tensor, expected in [(w, {"name": "<W & b>", "shape": "(3, 4)", "dtype": "float32", "requires_grad": "True",
                                  "op": "- (a leaf)"}),
                             (y, {"name": "-", "op": "Mul", "grad": "no"})]:
        html = tensor._repr_html_()
        table = ET.fromstring(html)  # well formed, or this raises
        assert table.tag == "table"
        rows = {tr.find("th").text: tr.find("td").text for tr in table.iter("tr")}
        assert set(rows) == {"name", "shape", "dtype", "requires_grad", "grad", "op", "values"}
        for key, value in expected.items():
            assert rows[key] == value
    assert "<W & b>" not in w._repr_html_() and "&lt;W &amp; b&gt;" in w._repr_html_()
    rows = {tr.find("th").text: tr.find("td").text for tr in ET.fromstring(w._repr_html_()).iter("tr")}
    assert rows["grad"].startswith("yes") and "12 values" in rows["values"] and rows["values"].startswith("[0.")


# ---------------------------------------------------------------- 9. small products in blocks


@given(m=st.integers(1, 200), k=st.integers(1, 800), n=st.integers(1, 800),
       dtypes=st.sampled_from([(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64)]),
       transpose=st.booleans())
def test_small_products_in_blocks_equal_plain_matmul(m, k, n, dtypes, transpose):
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((k, m) if transpose else (m, k)).astype(dtypes[0])
    a = a.T if transpose else a  # transposed views, as backward passes them
    b = rng.standard_normal((k, n)).astype(dtypes[1])
    plain, blocks = a @ b, matmul_in_small_blocks(a, b)
    assert blocks.dtype == plain.dtype and blocks.shape == plain.shape
    # Both within the textbook bound of a dot product, k eps sum |a||b|, of each other
    bound = 2 * k * np.finfo(plain.dtype).eps * (np.abs(a) @ np.abs(b))
    assert (np.abs(blocks - plain) <= bound).all()


def test_matmul_gradients_are_the_same_with_and_without_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((128, 784), dtype=np.float32), rng.standard_normal((784, 10), dtype=np.float32)
    results = []
    for split in (False, True):
        monkeypatch.setattr(autograd, "SPLIT_SMALL_PRODUCTS", split)
        w = Tensor(W, requires_grad=True)
        xt = Tensor(x, requires_grad=True)
        out = (xt @ w).sigmoid()
        out.sum().backward()
        results.append((out.data, w.grad, xt.grad))
    # float32 sums of 128 or 784 terms: the two orders of summation (BLAS kernels differ
    # between processors) may differ by a few float32 steps of the largest value
    for plain, blocks in zip(*results):
        np.testing.assert_allclose(blocks, plain, rtol=1e-5, atol=1e-5 * np.abs(plain).max())


def test_a_number_summed_over_axis_0_has_a_gradient():
    """numpy sums a 0-d array over axis 0 or -1 (it is the number itself); backward did 0 % 0."""
    with pytest.raises(np.exceptions.AxisError, match=r"Sum of shape \(\): axis 0 is out of bounds"):
        Tensor(3.0).sum(axis=(0,))                        # as numpy: a tuple of axes is refused
    for axis in (0, -1):
        for keepdims in (False, True):
            t = Tensor(3.0, requires_grad=True)
            out = t.sum(axis=axis, keepdims=keepdims)
            (out * 2).backward()
            assert out.item() == 3.0 and t.grad == 2.0, (axis, keepdims)
            t = Tensor(3.0, requires_grad=True)
            t.max(axis=axis, keepdims=keepdims).backward()
            assert t.grad == 1.0, (axis, keepdims)
