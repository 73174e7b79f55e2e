"""gradcheck must accept right gradients and catch wrong ones, naming the worst element."""

import numpy as np
import pytest

from tinygrad_ae import Function, GradcheckError, Tensor, gradcheck


class WrongSquare(Function):
    """x^2 with a deliberately wrong derivative (3x instead of 2x)."""

    def forward(self, x):
        self.saved = x
        return x * x

    def backward(self, grad):
        return (3 * self.saved * grad,)


class TransposedGrad(Function):
    """y = A x for a fixed non-symmetric A, with backward using A instead of A^T."""

    A = np.array([[1.0, 2.0], [0.0, 1.0]])

    def forward(self, x):
        return self.A @ x

    def backward(self, grad):
        return (self.A @ grad,)


def t64(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_accepts_a_correct_gradient():
    assert gradcheck(lambda a, b: (a @ b).sigmoid(), t64([[1.0, 2.0]]), t64([[0.5], [-1.0]]))


def test_reports_the_worst_element():
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: WrongSquare.apply(x).sum(), t64([0.1, 2.0, -1.0]))
    message = str(info.value)
    assert "input 0 at index (1,)" in message  # |3x - 2x| is largest at x = 2
    assert "analytic 6 vs numeric 4 " in message


def test_catches_a_transposed_backward_on_a_non_scalar_output():
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: TransposedGrad.apply(x), t64([1.0, 1.0]))


def test_only_checks_inputs_that_require_grad():
    constant = Tensor(np.array([5.0]))
    assert gradcheck(lambda x, c: x * c, t64([2.0]), constant)
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda c: c * 2, constant)


def test_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, Tensor([1.0], requires_grad=True))


def test_restores_the_inputs():
    x = t64([0.3, 0.7])
    before = x.data.copy()
    gradcheck(lambda t: t.exp(), x)
    np.testing.assert_array_equal(x.data, before)
