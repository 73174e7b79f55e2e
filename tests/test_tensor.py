"""The Tensor as a user meets it: construction, dtypes, properties, errors, numerics."""

import warnings

import numpy as np
import pytest

from tinygrad_ae import Tensor, concatenate, gradcheck, stack


def test_default_dtype_is_float32_and_float64_arrays_are_kept():
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor([[1.5, 2.5]]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_properties_and_conversions():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="w")
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and len(t) == 1
    assert t.numpy() is t.data
    assert Tensor([4.0]).item() == 4.0
    assert t.detach().requires_grad is False and t.detach().data is t.data
    assert repr(t) == "Tensor([[1., 2., 3.]], requires_grad=True, name='w')"
    assert "op=Mul" in repr(t * 2)
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(TypeError, match="ambiguous"):
        bool(t)


def test_constructors():
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.zeros((2, 3)).data.sum() == 0
    assert Tensor.ones(4).data.tolist() == [1, 1, 1, 1]
    a, b = Tensor.randn(3, 4, seed=1), Tensor.randn(3, 4, seed=1)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    u = Tensor.uniform(1000, low=2, high=3, seed=0)
    assert 2 <= u.data.min() and u.data.max() < 3
    assert Tensor.zeros(2, dtype=np.float64, requires_grad=True).requires_grad


def test_requires_grad_needs_floats():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), dtype=np.int64, requires_grad=True)


def test_numpy_arrays_on_the_left_give_tensors():
    x = Tensor([1.0, 2.0])
    for result in (np.ones(2) + x, np.ones(2) - x, np.ones(2) * x, np.ones(2) / x, np.ones((3, 2)) @ x):
        assert isinstance(result, Tensor) and result.dtype == np.float32


def test_matmul_error_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"MatMul of shapes \(3, 4\) and \(5, 6\).*inner dimensions differ"):
        Tensor.zeros(3, 4) @ Tensor.zeros(5, 6)


def test_broadcast_error_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add of shapes \(3,\) and \(4,\)"):
        Tensor.zeros(3) + Tensor.zeros(4)
    with pytest.raises(ValueError, match=r"Reshape of shape \(6,\)"):
        Tensor.zeros(6).reshape(4, 2)
    with pytest.raises(IndexError, match=r"GetItem of shape \(3,\)"):
        Tensor.zeros(3)[5]


def test_concatenate_and_stack_validate():
    with pytest.raises(ValueError, match="one shape"):
        stack([Tensor.zeros(2), Tensor.zeros(3)])
    with pytest.raises(ValueError, match="Concatenate"):
        concatenate([Tensor.zeros(2, 2), Tensor.zeros(3, 3)], axis=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sigmoid", "tanh", "softmax", "log_softmax"])
def test_exp_based_ops_stay_finite_without_warnings_at_1e4(dtype, op):
    x = Tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy RuntimeWarning fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = getattr(x, op)()
            y.sum().backward()
    assert y.dtype == dtype
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()
    if op == "sigmoid":
        assert 0 <= y.data[0] < 1e-38 and y.data[-1] == 1.0 and y.data[2] == 0.5


def test_index_with_a_tensor_and_repeated_indices():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = x[Tensor([2, 2, 0], dtype=np.int64)]  # an integer tensor: a float one is refused as an index
    np.testing.assert_array_equal(y.data, [30.0, 30.0, 10.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 2.0])


def test_float32_stays_float32_through_a_training_like_expression():
    x = Tensor(np.random.default_rng(0).random((4, 6), dtype=np.float32))
    W = Tensor.randn(3, 6, seed=0, requires_grad=True)
    b = Tensor.zeros(3, requires_grad=True)
    h = (x @ W.T + b).relu()
    loss = ((h.sigmoid() - 0.5) ** 2).mean() + h.log_softmax().mean() + h.clip(0, 1).sum() / 3
    assert loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_ties_share_the_gradient_as_central_differences_see_it():
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    assert gradcheck(lambda t: t.max(), Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True))
    a = Tensor(np.array([2.0]), requires_grad=True)
    b = Tensor(np.array([2.0]), requires_grad=True)
    a.maximum(b).sum().backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5


def test_pow_keeps_float32_for_numpy_exponents_and_has_no_nan_slope_at_power_zero():
    assert (Tensor([4.0]) ** np.float64(0.5)).dtype == np.float32
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
