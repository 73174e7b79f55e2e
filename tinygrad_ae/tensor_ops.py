"""What a Tensor can compute: primitives from ``ops.py``/``array_ops.py`` and compositions.

A method here either calls one primitive (``Add.apply(...)``) or is written with other
methods, e.g. ``mean`` is ``sum`` times ``1/n``, ``softmax`` is ``exp`` divided by a ``sum``.
Compositions need no backward of their own: autodiff of the pieces is autodiff of the whole.
``Tensor`` (in ``tensor.py``) inherits all of this.

Example:
    >>> from tinygrad_ae import Tensor
    >>> x = Tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    >>> x.relu().mean().backward()
    >>> x.grad
    array([[0.33333334, 0.        , 0.33333334]], dtype=float32)
"""

from __future__ import annotations

import numbers

import numpy as np

from . import array_ops, ops


def _axis_arg(axis):
    """numpy reductions take an int or a tuple; accept a list too."""
    return tuple(axis) if isinstance(axis, list) else axis


def shape_arg(shape) -> tuple:
    """Accept both f(2, 3) and f((2, 3)): the arguments as one tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _index_arg(index):
    """Tensors used as indices become integer numpy arrays (indices carry no gradient)."""
    if isinstance(index, TensorOps):
        return index.data.astype(np.intp)
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    return index


class TensorOps:
    """The maths of ``Tensor``, kept apart from its bookkeeping. Not used on its own."""

    __slots__ = ()

    # ------------------------------------------------------------------ arithmetic

    def add(self, other):
        """Elementwise ``self + other`` with broadcasting. ``Tensor([1.0]).add(2).item() == 3.0``."""
        return ops.Add.apply(self, self._lift(other))

    def sub(self, other):
        """Elementwise ``self - other`` with broadcasting.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([5.0]) - 2).item()
            3.0
        """
        return ops.Sub.apply(self, self._lift(other))

    def neg(self):
        """``-self``, composed as ``self * -1``. ``(-Tensor([2.0])).item() == -2.0``."""
        return ops.Mul.apply(self, self._lift(-1))

    def mul(self, other):
        """Elementwise ``self * other`` with broadcasting. ``(Tensor([2.0]) * 3).item() == 6.0``."""
        return ops.Mul.apply(self, self._lift(other))

    def div(self, other):
        """Elementwise ``self / other``, composed as ``self * other ** -1``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([6.0]) / Tensor([4.0])).item()
            1.5
        """
        if not isinstance(other, TensorOps):
            return ops.Mul.apply(self, self._lift(1 / np.asarray(other, dtype=self.dtype)))
        return ops.Mul.apply(self, ops.PowScalar.apply(other, exponent=-1))

    def pow(self, exponent):
        """``self ** exponent``; the exponent is a number or a tensor (then it gets a grad too).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([3.0]) ** 2).item(), (2 ** Tensor([3.0])).item()
            (9.0, 8.0)
        """
        if isinstance(exponent, numbers.Number):  # numpy scalars too: as a Python float, so
            return ops.PowScalar.apply(self, exponent=float(exponent))  # float32 stays float32
        return ops.Pow.apply(self, self._lift(exponent))

    def matmul(self, other):
        """Matrix product ``self @ other``, with numpy's rules for 1-D and batched operands.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor.ones(2, 3) @ Tensor.ones(3)).data
            array([3., 3.], dtype=float32)
        """
        return array_ops.MatMul.apply(self, self._lift(other))

    def maximum(self, other):
        """Elementwise maximum; on ties the gradient is split evenly.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 5.0]).maximum(3).data
            array([3., 5.], dtype=float32)
        """
        return ops.Maximum.apply(self, self._lift(other))

    def minimum(self, other):
        """Elementwise minimum, composed as ``-max(-self, -other)``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 5.0]).minimum(3).data
            array([1., 3.], dtype=float32)
        """
        return self.neg().maximum(-self._lift(other)).neg()

    def clip(self, low=None, high=None):
        """Limit values to [low, high] (either may be None): ``maximum`` then ``minimum``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 0.5, 2.0]).clip(0, 1).data
            array([0. , 0.5, 1. ], dtype=float32)
        """
        out = self
        if low is not None:
            out = out.maximum(low)
        if high is not None:
            out = out.minimum(high)
        return out

    # ------------------------------------------------------------------ elementwise functions

    def exp(self):
        """Elementwise e ** x. ``Tensor([0.0]).exp().item() == 1.0``."""
        return ops.Exp.apply(self)

    def log(self):
        """Elementwise natural log (``-inf`` at 0). ``Tensor([1.0]).log().item() == 0.0``."""
        return ops.Log.apply(self)

    def sqrt(self):
        """Elementwise square root, composed as ``self ** 0.5``. ``Tensor([9.0]).sqrt().item() == 3.0``."""
        return ops.PowScalar.apply(self, exponent=0.5)

    def abs(self):
        """Elementwise |x|, composed as ``x * sign(x)`` (gradient 0 at 0, as in PyTorch).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 3.0]).abs().data
            array([2., 3.], dtype=float32)
        """
        return ops.Mul.apply(self, self._constant(np.sign(self.data), "sign"))

    def relu(self):
        """max(x, 0) elementwise; the gradient is 0 at x == 0, as in PyTorch.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-1.0, 2.0]).relu().data
            array([0., 2.], dtype=float32)
        """
        return ops.ReLU.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e^-x), safe for any x. ``Tensor([0.0]).sigmoid().item() == 0.5``."""
        return ops.Sigmoid.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent. ``Tensor([0.0]).tanh().item() == 0.0``."""
        return ops.Tanh.apply(self)

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so that exp never overflows.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([0.0, 0.0]).softmax().data
            array([0.5, 0.5], dtype=float32)
        """
        e = self._shift_by_max(axis).exp()
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along ``axis``, computed as ``x - max - log(sum(exp(x - max)))``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> round(Tensor([1e4, 0.0]).log_softmax().data[1])
            -10000
        """
        shifted = self._shift_by_max(axis)
        return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()

    def _shift_by_max(self, axis):
        # The max is a constant here: softmax is shift-invariant, so its gradient is zero.
        return ops.Add.apply(self, self._constant(-np.max(self.data, axis=axis, keepdims=True), "-max"))

    # ------------------------------------------------------------------ reductions

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None = all, an int, or a tuple).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).data
            array([4., 6.], dtype=float32)
        """
        return array_ops.Sum.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Average over ``axis``, composed as ``sum * (1 / count)``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).mean().item()
            2.5
        """
        axis = _axis_arg(axis)
        total = self.sum(axis=axis, keepdims=keepdims)
        count = self.size // max(total.size, 1) if self.size else 0
        return total * (1.0 / count if count else np.nan)

    def max(self, axis=None, keepdims=False):
        """Largest value over ``axis``; ties share the gradient.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 5.0], [3.0, 4.0]]).max(axis=1).data
            array([5., 4.], dtype=float32)
        """
        return array_ops.Max.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Smallest value over ``axis``, composed as ``-max(-x)``. ``Tensor([2.0, 1.0]).min().item() == 1.0``."""
        return self.neg().max(axis=axis, keepdims=keepdims).neg()

    # ------------------------------------------------------------------ shapes

    def reshape(self, *shape):
        """Same data, new shape (``-1`` infers one axis). ``Tensor.zeros(6).reshape(2, 3).shape == (2, 3)``."""
        return array_ops.Reshape.apply(self, shape=shape_arg(shape))

    def transpose(self, *axes):
        """Permute axes (reverse them when none are given). ``Tensor.zeros(2, 3).transpose().shape == (3, 2)``."""
        return array_ops.Transpose.apply(self, axes=shape_arg(axes) or None)

    @property
    def T(self):
        """The transpose (all axes reversed). ``Tensor.zeros(2, 3).T.shape == (3, 2)``."""
        return array_ops.Transpose.apply(self, axes=None)

    def index(self, index):
        """``self[index]``: slices, integers, integer arrays; repeated indices add their grads.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
            >>> x[[0, 0, 2]].sum().backward()
            >>> x.grad
            array([2., 0., 1.], dtype=float32)
        """
        return array_ops.GetItem.apply(self, index=_index_arg(index))


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis, like ``np.concatenate``.

    Example:
        >>> from tinygrad_ae import Tensor, concatenate
        >>> concatenate([Tensor.ones(2), Tensor.zeros(1)]).data
        array([1., 1., 0.], dtype=float32)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    first = next((t for t in tensors if isinstance(t, TensorOps)), None)
    if first is None:
        raise TypeError("concatenate needs at least one Tensor among its inputs")
    return array_ops.Concatenate.apply(*[first._lift(t) for t in tensors], axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis, like ``np.stack``: each gets a size-1 axis,
    then they are concatenated.

    Example:
        >>> from tinygrad_ae import Tensor, stack
        >>> stack([Tensor.ones(3), Tensor.zeros(3)]).shape
        (2, 3)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {tuple(np.shape(t.data if isinstance(t, TensorOps) else t)) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got shapes {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack axis {axis} is out of range for {ndim - 1}-d tensors")
    axis %= ndim
    first = next(t for t in tensors if isinstance(t, TensorOps))
    expanded = []
    for t in tensors:
        t = first._lift(t)
        expanded.append(t.reshape(t.shape[:axis] + (1,) + t.shape[axis:]))
    return concatenate(expanded, axis=axis)
