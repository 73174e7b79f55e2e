"""The primitive ops that move or combine elements: matrix product, reductions, reshapes,
indexing and joins. (The elementwise ones are in ``ops.py``.)

As there, each class has ``forward`` and ``backward`` side by side, and the engine sums
broadcast gradients down to each input's shape.

Example:
    >>> from tinygrad_ae import Tensor
    >>> from tinygrad_ae.array_ops import Sum
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> Sum.apply(x, axis=0).sum().backward()
    >>> x.grad
    array([[1., 1.],
           [1., 1.]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from .autograd import Function

# ----------------------------------------------------------------- matrix product


class MatMul(Function):
    """a @ b with numpy's rules: 2-D, batched (..., n, k), and 1-D vectors on either side.

    d/da = grad @ b^T and d/db = a^T @ grad; a 1-D operand is treated as a row (left) or
    column (right) matrix, as numpy does, and its gradient squeezed back.
    
    Example:
        >>> from tinygrad_ae import Tensor
        >>> MatMul.apply(Tensor([[1.0, 2.0]]), Tensor([[3.0], [4.0]])).item()
        11.0
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


# ----------------------------------------------------------------- reductions


def _keepdims_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keepdims=True (to re-broadcast grads)."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {ax % len(shape) for ax in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """Sum over ``axis`` (None, int or tuple). Every summed element gets the output's grad.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Sum.apply(Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1).data
        array([3., 7.], dtype=float32)
    """

    def forward(self, a, axis=None, keepdims=False):
        self.in_shape, self.axis = a.shape, axis
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        if grad.size == 1:
            # A full sum (a loss): a read-only view repeating the one number, built directly
            # because np.broadcast_to takes ten times as long, which counts at batch size 1.
            view = np.ndarray(self.in_shape, grad.dtype, np.ascontiguousarray(grad), 0, (0,) * len(self.in_shape))
            view.flags.writeable = False
            return (view,)
        grad = grad.reshape(_keepdims_shape(self.in_shape, self.axis))
        return (np.broadcast_to(grad, self.in_shape),)


class Max(Function):
    """Max over ``axis``. The grad goes to the maximal elements, shared equally among ties.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Max.apply(Tensor([[1.0, 5.0], [3.0, 3.0]]), axis=1).data
        array([5., 3.], dtype=float32)
    """

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
    """a.reshape(shape). The grad is reshaped back.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Reshape.apply(Tensor([1.0, 2.0, 3.0, 4.0]), shape=(2, 2)).shape
        (2, 2)
    """

    def forward(self, a, shape):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


class Transpose(Function):
    """a.transpose(axes): permute axes. The grad is permuted back by the inverse permutation.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Transpose.apply(Tensor.zeros(2, 3, 4), axes=(2, 0, 1)).shape
        (4, 2, 3)
    """

    def forward(self, a, axes=None):
        out = np.transpose(a, axes)  # validates the axes first
        # stored non-negative, so that argsort below is the inverse permutation
        self.axes = None if axes is None else tuple(ax % a.ndim for ax in axes)
        return out

    def backward(self, grad):
        if self.axes is None:
            return (np.transpose(grad),)
        return (np.transpose(grad, np.argsort(self.axes)),)


class GetItem(Function):
    """a[index] with slices, integers and integer arrays.

    The grad is scattered back into zeros of a's shape with ``np.add.at``, which adds (rather
    than overwrites) when an index repeats: ``a[[0, 0]]`` uses a[0] twice, so it gets 2 grads.
    
    Example:
        >>> from tinygrad_ae import Tensor
        >>> GetItem.apply(Tensor([10.0, 20.0, 30.0]), index=[2, 0]).data
        array([30., 10.], dtype=float32)
    """

    def forward(self, a, index):
        self.in_shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, grad):
        out = np.zeros(self.in_shape, dtype=self.dtype)
        np.add.at(out, self.index, grad)
        return (out,)


class Concatenate(Function):
    """np.concatenate(tensors, axis). The grad is split back into the pieces.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Concatenate.apply(Tensor([1.0]), Tensor([2.0, 3.0]), axis=0).data
        array([1., 2., 3.], dtype=float32)
    """

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, np.cumsum(self.sizes)[:-1], axis=self.axis))
