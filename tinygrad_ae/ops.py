"""The primitive ops: the only places in the package that know a derivative.

Each class computes its result in ``forward`` and the chain rule in ``backward`` right beside
it. Gradients may come back with the broadcast shape of the output: the engine
(``autograd.backward``) sums them down to each input's shape once, for every op. Everything
else a Tensor can do (``-``, ``/``, ``mean``, ``relu``, ``softmax``, ``clip``, ...) is
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
    """a + b (broadcasting). d/da = 1, d/db = 1."""

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """a - b (broadcasting). d/da = 1, d/db = -1. (A primitive, not a + (-b), because every
    loss subtracts a target and the extra negation was a full pass over the batch.)"""

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    """a * b (broadcasting). d/da = b, d/db = a."""

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Pow(Function):
    """a ** b, with b a tensor. d/da = b a^(b-1), d/db = a^b log(a) (needs a > 0)."""

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
    """a ** p for a fixed Python number p. d/da = p a^(p-1)."""

    def forward(self, a, exponent):
        self.exponent = exponent
        self.saved = a
        return a**exponent

    def backward(self, grad):
        a, p = self.saved, self.exponent
        if p == 2:  # the square in every MSE: skip the general power
            return (grad * (2 * a),)
        return (grad * (p * a ** (p - 1)),)


class MatMul(Function):
    """a @ b with numpy's rules: 2-D, batched (..., n, k), and 1-D vectors on either side.

    d/da = grad @ b^T and d/db = a^T @ grad; a 1-D operand is treated as a row (left) or
    column (right) matrix, as numpy does, and its gradient squeezed back.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands; use * to multiply by a scalar")
        inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if inner_a != inner_b:
            raise ValueError(
                f"inner dimensions differ ({inner_a} vs {inner_b}): a @ b needs a.shape[-1] == "
                f"b.shape[-2]; did you mean to transpose one of them (.T)?"
            )
        self.saved = (a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the reshaping below
            return (grad @ b.T if need_a else None), (a.T @ grad if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # the output as if both were matrices: 1-D operands' missing axes put back as size 1
        g2 = grad.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if need_a:
            grad_a = g2 @ np.swapaxes(b2, -1, -2)
            grad_a = grad_a[..., 0, :] if a.ndim == 1 else grad_a
        if need_b:
            grad_b = np.swapaxes(a2, -1, -2) @ g2
            grad_b = grad_b[..., 0] if b.ndim == 1 else grad_b
        return grad_a, grad_b  # extra batch axes are summed away by the engine


class Maximum(Function):
    """Elementwise max(a, b). The grad goes to the larger input; on a tie, half to each
    (the average of the two one-sided derivatives, which is what central differences see).
    ``minimum`` and ``clip`` are written with it."""

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
    """exp(a). d/da = exp(a), which is the output itself."""

    def forward(self, a):
        out = np.exp(a)
        self.saved = out
        return out

    def backward(self, grad):
        return (grad * self.saved,)


class Log(Function):
    """log(a), natural logarithm. d/da = 1 / a."""

    def forward(self, a):
        self.saved = a
        return np.log(a)

    def backward(self, grad):
        return (grad / self.saved,)


class ReLU(Function):
    """max(a, 0). d/da = 1 where a > 0, else 0 (0 at a == 0, as in PyTorch).

    A primitive, though ``a * (a > 0)`` would compute it: that gives -0.0 for negative
    inputs, which prints confusingly, and takes an extra array for the mask.
    """

    def forward(self, a):
        self.saved = a > 0
        return np.maximum(a, 0)

    def backward(self, grad):
        return (grad * self.saved,)


# Largest x with exp(x) finite, a little under log(max float), per dtype.
_EXP_LIMIT = {np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}


class Sigmoid(Function):
    """1 / (1 + exp(-a)). d/da = s (1 - s).

    A primitive rather than a composition, for two reasons: exp(-a) overflows for a < -88 in
    float32, so the exponent is capped there first (1 / (1 + e^88) is 6e-39 instead of a
    true value even closer to 0); and in-place steps on one buffer make it as fast as the
    network's matmuls, where the composition took four temporary arrays.
    """

    def forward(self, a):
        z = np.asarray(np.negative(a))  # asarray: a 0-d input gives a scalar, not a buffer
        np.minimum(z, _EXP_LIMIT.get(a.dtype, 88.0), out=z)
        np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)
        self.saved = z
        return z

    def backward(self, grad):
        s = self.saved
        out = 1 - s
        out *= s
        out *= grad
        return (out,)


class Tanh(Function):
    """tanh(a). d/da = 1 - tanh(a)^2."""

    def forward(self, a):
        out = np.tanh(a)
        self.saved = out
        return out

    def backward(self, grad):
        t = self.saved
        return (grad * (1 - t * t),)


# ----------------------------------------------------------------- reductions


def _keepdims_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keepdims=True (to re-broadcast grads)."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {ax % len(shape) for ax in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """Sum over ``axis`` (None, int or tuple). Every summed element gets the output's grad."""

    def forward(self, a, axis=None, keepdims=False):
        self.in_shape, self.axis = a.shape, axis
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        grad = grad.reshape(_keepdims_shape(self.in_shape, self.axis))
        return (np.broadcast_to(grad, self.in_shape),)


class Max(Function):
    """Max over ``axis``. The grad goes to the maximal elements, shared equally among ties."""

    def forward(self, a, axis=None, keepdims=False):
        if a.size == 0:
            raise ValueError("max of an empty tensor has no value")
        self.axis = axis
        out = np.max(a, axis=axis, keepdims=True)
        self.saved = (a, out)
        return out if keepdims else np.asarray(np.squeeze(out, axis=axis))

    def backward(self, grad):
        a, out = self.saved
        is_max = a == out
        share = is_max / is_max.sum(axis=self.axis, keepdims=True)
        return (share.astype(a.dtype) * grad.reshape(out.shape),)


# ----------------------------------------------------------------- shapes and indexing


class Reshape(Function):
    """a.reshape(shape). The grad is reshaped back."""

    def forward(self, a, shape):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


class Transpose(Function):
    """a.transpose(axes): permute axes. The grad is permuted back by the inverse permutation."""

    def forward(self, a, axes=None):
        self.axes = axes
        return np.transpose(a, axes)

    def backward(self, grad):
        if self.axes is None:
            return (np.transpose(grad),)
        return (np.transpose(grad, np.argsort(self.axes)),)


class GetItem(Function):
    """a[index] with slices, integers and integer arrays.

    The grad is scattered back into zeros of a's shape with ``np.add.at``, which adds (rather
    than overwrites) when an index repeats: ``a[[0, 0]]`` uses a[0] twice, so it gets 2 grads.
    """

    def forward(self, a, index):
        self.in_shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, grad):
        out = np.zeros(self.in_shape, dtype=self.dtype)
        np.add.at(out, self.index, grad)
        return (out,)


class Concatenate(Function):
    """np.concatenate(tensors, axis). The grad is split back into the pieces."""

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, np.cumsum(self.sizes)[:-1], axis=self.axis))
