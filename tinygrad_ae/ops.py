"""The elementwise primitive ops: with ``array_ops.py``, the only places in the package that
know a derivative.

Each class computes its result in ``forward`` and the chain rule in ``backward`` right beside
it. Gradients may come back with the broadcast shape of the output: the engine
(``autograd.backward``) sums them down to each input's shape once, for every op. Everything
else a Tensor can do (unary ``-``, ``/``, ``mean``, ``softmax``, ``clip``, ...) is
composed from these in ``tensor_ops.py`` and needs no backward of its own.

Example:
    >>> from tinygrad_ae import Tensor
    >>> from tinygrad_ae.ops import Mul
    >>> a, b = Tensor([2.0], requires_grad=True), Tensor([5.0], requires_grad=True)
    >>> Mul.apply(a, b).sum().backward()
    >>> a.grad, b.grad
    (array([5.], dtype=float32), array([2.], dtype=float32))
"""

from __future__ import annotations

import numpy as np

from .autograd import Function

# ----------------------------------------------------------------- elementwise, two inputs


class Add(Function):
    """a + b (broadcasting). d/da = 1, d/db = 1.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Add.apply(Tensor([1.0]), Tensor([2.0])).item()
        3.0
    """

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """a - b (broadcasting). d/da = 1, d/db = -1. (A primitive, not a + (-b), because every
    loss subtracts a target and the extra negation was a full pass over the batch.)

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Sub.apply(Tensor([5.0]), Tensor([2.0])).item()
        3.0
    """

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    """a * b (broadcasting). d/da = b, d/db = a.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Mul.apply(Tensor([2.0]), Tensor([4.0])).item()
        8.0
    """

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Pow(Function):
    """a ** b, with b a tensor. d/da = b a^(b-1), d/db = a^b log(a) (needs a > 0).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Pow.apply(Tensor([2.0]), Tensor([3.0])).item()
        8.0
    """

    def forward(self, a, b):
        out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = grad * b * a ** (b - 1) if need_a else None
        grad_b = grad * out * np.log(a) if need_b else None
        return grad_a, grad_b


class PowScalar(Function):
    """a ** p for a fixed Python number p. d/da = p a^(p-1).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> PowScalar.apply(Tensor([3.0]), exponent=2).item()
        9.0
    """

    def forward(self, a, exponent):
        self.exponent = exponent
        self.saved = a
        return a**exponent

    def backward(self, grad):
        a, p = self.saved, self.exponent
        if grad.ndim and not any(grad.strides):
            # One number repeated (the gradient of a sum, as in every mean squared error):
            # multiplying by the number itself saves a pass over the whole array.
            grad = grad.flat[0]
        if p == 2:  # the square in every MSE: skip the general power
            return (a * (2 * grad),)
        if p == 0:  # a^0 = 1 everywhere: no slope, even at 0 (where 0 * 0^-1 would be NaN)
            return (np.zeros_like(a),)
        return (grad * (p * a ** (p - 1)),)


class Maximum(Function):
    """Elementwise max(a, b). The grad goes to the larger input; on a tie, half to each
    (the average of the two one-sided derivatives, which is what central differences see).
    ``minimum`` and ``clip`` are written with it.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Maximum.apply(Tensor([1.0, 5.0]), Tensor([3.0, 3.0])).data
        array([3., 5.], dtype=float32)
    """

    def forward(self, a, b):
        self.saved = (a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved
        share_a = np.where(a == b, 0.5, a > b).astype(grad.dtype)
        need_a, need_b = self.needs_input_grad
        return (grad * share_a if need_a else None), (grad * (1 - share_a) if need_b else None)


# ----------------------------------------------------------------- elementwise, one input


class Exp(Function):
    """exp(a). d/da = exp(a), which is the output itself.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Exp.apply(Tensor([0.0])).item()
        1.0
    """

    def forward(self, a):
        out = np.exp(a)
        self.saved = out
        return out

    def backward(self, grad):
        return (grad * self.saved,)


class Log(Function):
    """log(a), natural logarithm. d/da = 1 / a.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Log.apply(Tensor([1.0])).item()
        0.0
    """

    def forward(self, a):
        self.saved = a
        return np.log(a)

    def backward(self, grad):
        return (grad / self.saved,)


class ReLU(Function):
    """max(a, 0). d/da = 1 where a > 0, else 0 (0 at a == 0, as in PyTorch).

    A primitive, though ``a * (a > 0)`` would compute it: that gives -0.0 for negative
    inputs, which prints confusingly, and takes an extra array for the mask.
    
    Example:
        >>> from tinygrad_ae import Tensor
        >>> ReLU.apply(Tensor([-1.0, 2.0])).data
        array([0., 2.], dtype=float32)
    """

    def forward(self, a):
        self.saved = a > 0
        return np.maximum(a, 0)

    def backward(self, grad):
        return (grad * self.saved,)


class Sigmoid(Function):
    """1 / (1 + exp(-a)), computed as 0.5 + 0.5 tanh(a / 2). d/da = s (1 - s).

    The two are equal, but the tanh form cannot overflow (exp(-a) does for a < -88 in
    float32) and takes four in-place passes over one buffer, where the textbook form took
    five plus a guard against overflow: the output layer of the autoencoder runs it on every
    pixel of every batch.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Sigmoid.apply(Tensor([0.0, -1e4, 2.0])).data
        array([0.5      , 0.       , 0.8807971], dtype=float32)
    """

    def forward(self, a):
        out = np.asarray(np.multiply(a, 0.5, dtype=a.dtype))  # asarray: a 0-d input gives a scalar
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        self.saved = out
        return out

    def backward(self, grad):
        s = self.saved
        out = 1 - s
        out *= s
        out *= grad
        return (out,)


class Tanh(Function):
    """tanh(a). d/da = 1 - tanh(a)^2.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Tanh.apply(Tensor([0.0])).item()
        0.0
    """

    def forward(self, a):
        out = np.tanh(a)
        self.saved = out
        return out

    def backward(self, grad):
        t = self.saved
        return (grad * (1 - t * t),)
