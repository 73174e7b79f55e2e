"""Properties of the engine itself: how gradients flow, accumulate and get freed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from tinygrad_ae import Tensor, gradcheck, is_grad_enabled, no_grad
from tinygrad_ae.autograd import topological_order, unbroadcast


def test_diamond_gets_both_contributions():
    a = Tensor(3.0, requires_grad=True)
    b = a + a
    c = b * b  # c = 4 a^2, dc/da = 8 a
    c.backward()
    assert a.grad == pytest.approx(24.0)


def test_value_reused_in_many_places():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x + x * 3 + x.exp()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3 + np.exp(x.data), rtol=1e-6)


def test_repeated_backward_accumulates_like_pytorch():
    w = Tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 3 * 2 * w.data)
    w.zero_grad()
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])


def test_retain_graph_allows_a_second_backward_and_accumulates():
    w = Tensor([2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(w.grad, [8.0])


def test_second_backward_without_retain_graph_explains_itself():
    w = Tensor([2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_saved_buffers_are_released_after_backward():
    w = Tensor(np.ones((3, 3)), requires_grad=True)
    loss = (w @ w).exp().sum()
    ops = [t._op for t in topological_order(loss) if t._op is not None]
    assert all(op.saved is not None for op in ops if op.name in ("MatMul", "Exp"))
    loss.backward()
    assert all(op.saved is None for op in ops)


def test_non_scalar_backward_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(grad=np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_backward_on_a_constant_explains_itself():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (Tensor([1.0]) * 2).sum().backward()


def test_no_grad_context_records_nothing():
    w = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = w * 2 + 1
    assert is_grad_enabled()
    assert not y.requires_grad and y._op is None


def test_no_grad_decorator_and_nesting():
    @no_grad()
    def predict(w):
        return w * 3

    w = Tensor([1.0], requires_grad=True)
    assert not predict(w).requires_grad
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()  # the inner block restored the outer state
    assert (w * 3).requires_grad


def test_a_chain_of_100000_ops_needs_no_recursion():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_leaf_gradients_keep_the_leaf_dtype_and_shape():
    w = Tensor(np.ones((1, 3), dtype=np.float32), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    (x * w).sum().backward()  # broadcast over 4 rows: grad summed back to (1, 3)
    assert w.grad.shape == (1, 3) and w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, [[4.0, 4.0, 4.0]])


def test_unbroadcast_sums_leading_and_size_one_axes():
    g = np.ones((2, 4, 3))
    assert unbroadcast(g, (3,)).tolist() == [8.0, 8.0, 8.0]
    assert unbroadcast(g, (4, 1)).shape == (4, 1)
    assert unbroadcast(g, ()).item() == 24.0


def test_gradients_do_not_flow_into_constants_or_detached_tensors():
    w = Tensor([2.0], requires_grad=True)
    c = Tensor([5.0])
    (w * c + (w * 10).detach()).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(w.grad, [5.0])


# Safe unary steps for random compositions: each keeps values bounded and away from poles.
STEPS = {
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "square": lambda t: t * t,
    "exp_small": lambda t: (t * 0.3).exp(),
    "log_shift": lambda t: (t * t + 1).log(),
    "affine": lambda t: t * 1.7 - 0.4,
    "softmax": lambda t: t.softmax(axis=-1),
    "sqrt_shift": lambda t: (t * t + 0.5).sqrt(),
    "mean_keep": lambda t: t - t.mean(axis=-1, keepdims=True),
}


@given(x=S.arrays(min_dims=1), names=st.lists(st.sampled_from(sorted(STEPS)), min_size=2, max_size=5))
def test_random_compositions_match_central_differences(x, names):
    def composed(t):
        for name in names:
            t = STEPS[name](t)
        return t

    assert gradcheck(composed, Tensor(x, requires_grad=True))


@given(x=S.arrays(min_dims=1), names=st.lists(st.sampled_from(sorted(STEPS)), min_size=2, max_size=4))
def test_reusing_an_intermediate_matches_central_differences(x, names):
    """A diamond built from random steps: the intermediate feeds two branches."""
    def diamond(t):
        h = STEPS[names[0]](t)
        left, right = h, h
        for name in names[1:]:
            left = STEPS[name](left)
        return left * right + h

    assert gradcheck(diamond, Tensor(x, requires_grad=True))


def test_the_same_no_grad_object_can_be_entered_inside_itself():
    ng = no_grad()
    with ng:
        with ng:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @no_grad()
    def countdown(n):
        return countdown(n - 1) if n else is_grad_enabled()

    assert countdown(3) is False and is_grad_enabled()


def test_a_students_backward_returning_a_bare_array_is_explained():
    from tinygrad_ae import Function

    class Double(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return 2 * grad  # forgot the tuple

    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Double.backward must return a tuple.*return \(grad_x,\)"):
        Double.apply(x).sum().backward()


def test_wrong_gradient_shapes_are_reported_as_returned():
    from tinygrad_ae import Function

    class Bad(Function):
        def forward(self, x):
            return x.sum(axis=0)

        def backward(self, grad):
            return (np.ones(3),)  # the input is (1, 3): a (3,) grad is not a broadcast of it

    x = Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\) for an input of shape \(1, 3\)"):
        Bad.apply(x).sum().backward()
