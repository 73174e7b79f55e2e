"""``Tensor``: a numpy array that remembers how it was computed, so it can be differentiated.

A tensor holds ``data`` (a numpy array) and, after ``backward()``, ``grad``: d(loss)/d(this
tensor), of the same shape. Every method that computes something either calls one primitive
from ``autograd.py`` (``Mul.apply(self, other)``: the op that knows its derivative) or is
composed of other methods (``mean`` is ``sum`` times ``1/n``; ``softmax`` is ``exp`` over a
``sum``). Compositions need no backward of their own: autodiff of the pieces is autodiff of
the whole.

Read this file first; next, ``autograd.py`` shows what ``backward()`` does.

Example:
    >>> from tinygrad_ae import Tensor
    >>> w = Tensor([[1.0, 2.0]], requires_grad=True, name="w")
    >>> x = Tensor([[3.0], [4.0]])
    >>> loss = (w @ x).sum()
    >>> loss.backward()
    >>> w.grad
    array([[3., 4.]], dtype=float32)
"""

from __future__ import annotations

import numbers

import numpy as np

from . import autograd

DEFAULT_DTYPE = np.float32
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _to_array(data, dtype) -> np.ndarray:
    """numpy array of ``data``: floats keep float32/float64, anything else becomes float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    # A float64 *array* was chosen by the user and is kept; Python floats (lists, scalars)
    # carry no such intent and become float32 like everything else.
    if array.dtype in _FLOAT_DTYPES and isinstance(data, (np.ndarray, np.floating)):
        return array
    if array.dtype == object:
        raise TypeError(f"Tensor needs numbers, got an object array: {data!r:.80}")
    return array.astype(DEFAULT_DTYPE)


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
    if isinstance(index, Tensor):
        return index.data.astype(np.intp)
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    return index


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    Args:
        data: a number, (nested) list, numpy array or Tensor. Float32 and float64 arrays keep
            their dtype (and share memory, like ``torch.from_numpy``, until an optimizer moves
            a parameter into its flat buffer: then use ``t.data``); everything else becomes
            float32, the default.
        requires_grad: compute ``.grad`` for this tensor when ``backward()`` runs.
        dtype: force a dtype, e.g. ``np.float64`` for gradient checks.
        name: a label shown in ``repr`` and in compute-graph pictures.

    Example:
        >>> import numpy as np
        >>> Tensor([1, 2, 3])
        Tensor([1., 2., 3.])
        >>> Tensor(np.zeros(2), requires_grad=True, name="b")
        Tensor([0., 0.], dtype=float64, requires_grad=True, name='b')
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_op", "__weakref__")
    # Makes numpy hand `array + tensor` to Tensor.__radd__ instead of looping over elements.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.data.dtype}")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._op = None  # the Function that produced this tensor (None for leaves)

    def _from_op(self, data) -> "Tensor":
        """A new tensor for an op's result, skipping __init__'s checks (the hot path)."""
        out = Tensor.__new__(Tensor)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        out.requires_grad = False
        out.name = None
        out._op = None
        return out

    def _lift(self, value) -> "Tensor":
        """A constant (no grad) in this tensor's dtype: how scalars and arrays join an op.

        Converting to *our* dtype means ``x * 2.0`` or ``x + np.ones(3)`` never turns a
        float32 computation into float64 behind the user's back.
        """
        if isinstance(value, Tensor):
            return value
        return self._from_op(np.asarray(value, dtype=self.data.dtype))

    def _constant(self, array, name) -> "Tensor":
        """A named constant made by a composite op (a relu mask, a max): named for pictures."""
        out = self._from_op(array)
        out.name = name
        return out

    # ------------------------------------------------------------------ constructors

    @classmethod
    def zeros(cls, *shape, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """A tensor of zeros. ``Tensor.zeros(2, 3).shape == (2, 3)``."""
        return cls(np.zeros(shape_arg(shape), dtype=dtype), requires_grad, name=name)

    @classmethod
    def ones(cls, *shape, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """A tensor of ones. ``Tensor.ones(3).data`` is ``array([1., 1., 1.], dtype=float32)``."""
        return cls(np.ones(shape_arg(shape), dtype=dtype), requires_grad, name=name)

    @classmethod
    def randn(cls, *shape, seed=None, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """Standard normal samples; ``seed`` is an int or a ``numpy.random.Generator``.

        Example:
            >>> Tensor.randn(2, 3, seed=0).shape
            (2, 3)
        """
        rng = np.random.default_rng(seed)
        return cls(rng.standard_normal(shape_arg(shape)).astype(dtype), requires_grad, name=name)

    @classmethod
    def uniform(cls, *shape, low=-1.0, high=1.0, seed=None, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """Uniform samples in [low, high); ``seed`` is an int or a ``numpy.random.Generator``.

        Example:
            >>> t = Tensor.uniform(100, low=0, high=1, seed=0)
            >>> bool((t.data >= 0).all() and (t.data < 1).all())
            True
        """
        rng = np.random.default_rng(seed)
        return cls(rng.uniform(low, high, shape_arg(shape)).astype(dtype), requires_grad, name=name)

    # ------------------------------------------------------------------ what a tensor is

    @property
    def shape(self) -> tuple:
        """The array's shape, e.g. ``(64, 784)``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of axes: ``Tensor([[1, 2]]).ndim == 2``."""
        return self.data.ndim

    @property
    def dtype(self):
        """The numpy dtype, float32 unless asked otherwise."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements: ``Tensor.zeros(2, 3).size == 6``."""
        return self.data.size

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (``"MatMul"``, ...), None for a leaf."""
        return None if self._op is None else self._op.name

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied): ``Tensor([1.0]).numpy()``."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number: ``Tensor([2.5]).item() == 2.5``."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph (no grad flows through it).

        Example:
            >>> w = Tensor([1.0], requires_grad=True)
            >>> (w * 2).detach().requires_grad
            False
        """
        return Tensor(self.data, name=self.name)

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zero, in place (its buffer is reused).

        Example:
            >>> w = Tensor([1.0], requires_grad=True)
            >>> (w * 3).sum().backward(); w.zero_grad(); w.grad
            array([0.], dtype=float32)
        """
        if self.grad is not None:
            self.grad.fill(0)

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor w.r.t. every leaf that requires grad.

        See :func:`tinygrad_ae.autograd.backward`.

        Example:
            >>> x = Tensor(2.0, requires_grad=True)
            >>> (x ** 3).backward()
            >>> x.grad  # 3 x^2
            array(12., dtype=float32)
        """
        autograd.backward(self, grad, retain_graph=retain_graph)

    def graph(self, **options):
        """The compute graph that produced this tensor, as a ``graphviz.Digraph``.

        Keyword options go to :func:`tinygrad_ae.viz.draw_graph`.

        Example:
            >>> w = Tensor([1.0, 2.0], requires_grad=True, name="w")
            >>> "w" in (w * w).sum().graph().source
            True
        """
        from .viz import draw_graph  # viz is a leaf module that imports Tensor's users, not vice versa

        return draw_graph(self, **options)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extras = ""
        if self.data.dtype != DEFAULT_DTYPE:
            extras += f", dtype={self.data.dtype}"
        if self._op is not None:
            extras += f", op={self._op.name}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        if self.name is not None:
            extras += f", name={self.name!r}"
        return f"Tensor({body}{extras})"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        raise TypeError(
            "the truth value of a Tensor is ambiguous; compare t.item() or t.data instead"
        )

    # ------------------------------------------------------------------ arithmetic

    def add(self, other):
        """Elementwise ``self + other`` with broadcasting. ``Tensor([1.0]).add(2).item() == 3.0``."""
        return autograd.Add.apply(self, self._lift(other))

    def sub(self, other):
        """Elementwise ``self - other`` with broadcasting.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([5.0]) - 2).item()
            3.0
        """
        return autograd.Sub.apply(self, self._lift(other))

    def neg(self):
        """``-self``, composed as ``self * -1``. ``(-Tensor([2.0])).item() == -2.0``."""
        return autograd.Mul.apply(self, self._lift(-1))

    def mul(self, other):
        """Elementwise ``self * other`` with broadcasting. ``(Tensor([2.0]) * 3).item() == 6.0``."""
        return autograd.Mul.apply(self, self._lift(other))

    def div(self, other):
        """Elementwise ``self / other``, composed as ``self * other ** -1``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([6.0]) / Tensor([4.0])).item()
            1.5
        """
        if not isinstance(other, Tensor):
            return autograd.Mul.apply(self, self._lift(1 / np.asarray(other, dtype=self.dtype)))
        return autograd.Mul.apply(self, autograd.PowScalar.apply(other, exponent=-1))

    def pow(self, exponent):
        """``self ** exponent``; the exponent is a number or a tensor (then it gets a grad too).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([3.0]) ** 2).item(), (2 ** Tensor([3.0])).item()
            (9.0, 8.0)
        """
        if isinstance(exponent, numbers.Number):  # numpy scalars too: as a Python float, so
            return autograd.PowScalar.apply(self, exponent=float(exponent))  # float32 stays float32
        return autograd.Pow.apply(self, self._lift(exponent))

    def matmul(self, other):
        """Matrix product ``self @ other``, with numpy's rules for 1-D and batched operands.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor.ones(2, 3) @ Tensor.ones(3)).data
            array([3., 3.], dtype=float32)
        """
        return autograd.MatMul.apply(self, self._lift(other))

    def maximum(self, other):
        """Elementwise maximum; on ties the gradient is split evenly.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 5.0]).maximum(3).data
            array([3., 5.], dtype=float32)
        """
        return autograd.Maximum.apply(self, self._lift(other))

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
        return autograd.Exp.apply(self)

    def log(self):
        """Elementwise natural log (``-inf`` at 0). ``Tensor([1.0]).log().item() == 0.0``."""
        return autograd.Log.apply(self)

    def sqrt(self):
        """Elementwise square root, composed as ``self ** 0.5``. ``Tensor([9.0]).sqrt().item() == 3.0``."""
        return autograd.PowScalar.apply(self, exponent=0.5)

    def abs(self):
        """Elementwise |x|, composed as ``x * sign(x)`` (gradient 0 at 0, as in PyTorch).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 3.0]).abs().data
            array([2., 3.], dtype=float32)
        """
        return autograd.Mul.apply(self, self._constant(np.sign(self.data), "sign"))

    def relu(self):
        """max(x, 0) elementwise; the gradient is 0 at x == 0, as in PyTorch.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-1.0, 2.0]).relu().data
            array([0., 2.], dtype=float32)
        """
        return autograd.ReLU.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e^-x), safe for any x. ``Tensor([0.0]).sigmoid().item() == 0.5``."""
        return autograd.Sigmoid.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent. ``Tensor([0.0]).tanh().item() == 0.0``."""
        return autograd.Tanh.apply(self)

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
        return autograd.Add.apply(self, self._constant(-np.max(self.data, axis=axis, keepdims=True), "-max"))

    # ------------------------------------------------------------------ reductions

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None = all, an int, or a tuple).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).data
            array([4., 6.], dtype=float32)
        """
        return autograd.Sum.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

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
        return autograd.Max.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Smallest value over ``axis``, composed as ``-max(-x)``. ``Tensor([2.0, 1.0]).min().item() == 1.0``."""
        return self.neg().max(axis=axis, keepdims=keepdims).neg()

    # ------------------------------------------------------------------ shapes

    def reshape(self, *shape):
        """Same data, new shape (``-1`` infers one axis). ``Tensor.zeros(6).reshape(2, 3).shape == (2, 3)``."""
        return autograd.Reshape.apply(self, shape=shape_arg(shape))

    def transpose(self, *axes):
        """Permute axes (reverse them when none are given). ``Tensor.zeros(2, 3).transpose().shape == (3, 2)``."""
        return autograd.Transpose.apply(self, axes=shape_arg(axes) or None)

    @property
    def T(self):
        """The transpose (all axes reversed). ``Tensor.zeros(2, 3).T.shape == (3, 2)``."""
        return autograd.Transpose.apply(self, axes=None)

    def index(self, index):
        """``self[index]``: slices, integers, integer arrays; repeated indices add their grads.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
            >>> x[[0, 0, 2]].sum().backward()
            >>> x.grad
            array([2., 0., 1.], dtype=float32)
        """
        return autograd.GetItem.apply(self, index=_index_arg(index))

    # ------------------------------------------------------------------ images (conv.py)
    # conv.py builds on Tensor, so it is imported inside these methods: a real import cycle.

    def conv2d(self, weight, bias=None, stride=1, padding=0):
        """:func:`tinygrad_ae.conv.conv2d` of this NCHW batch. ``Tensor.zeros(1, 2, 5, 5).conv2d(Tensor.zeros(3, 2, 3, 3)).shape == (1, 3, 3, 3)``."""
        from . import conv
        return conv.conv2d(self, weight, bias, stride=stride, padding=padding)

    def max_pool2d(self, kernel, stride=None):
        """:func:`tinygrad_ae.conv.max_pool2d`. ``Tensor.zeros(1, 1, 4, 4).max_pool2d(2).shape == (1, 1, 2, 2)``."""
        from . import conv
        return conv.max_pool2d(self, kernel, stride)

    def avg_pool2d(self, kernel, stride=None):
        """:func:`tinygrad_ae.conv.avg_pool2d`. ``Tensor.zeros(1, 1, 4, 4).avg_pool2d(2).shape == (1, 1, 2, 2)``."""
        from . import conv
        return conv.avg_pool2d(self, kernel, stride)

    def upsample2d(self, scale):
        """:func:`tinygrad_ae.conv.upsample2d`. ``Tensor.zeros(1, 1, 2, 2).upsample2d(2).shape == (1, 1, 4, 4)``."""
        from . import conv
        return conv.upsample2d(self, scale)

    def pad2d(self, padding):
        """:func:`tinygrad_ae.conv.pad2d`. ``Tensor.zeros(1, 1, 2, 2).pad2d(1).shape == (1, 1, 4, 4)``."""
        from . import conv
        return conv.pad2d(self, padding)

    # ------------------------------------------------------------------ Python operators

    def __add__(self, other): return self.add(other)
    def __radd__(self, other): return self.add(other)
    def __sub__(self, other): return self.sub(other)
    def __rsub__(self, other): return self._lift(other).sub(self)
    def __mul__(self, other): return self.mul(other)
    def __rmul__(self, other): return self.mul(other)
    def __truediv__(self, other): return self.div(other)
    def __rtruediv__(self, other): return self._lift(other).div(self)
    def __pow__(self, exponent): return self.pow(exponent)
    def __rpow__(self, base): return self._lift(base).pow(self)
    def __matmul__(self, other): return self.matmul(other)
    def __rmatmul__(self, other): return self._lift(other).matmul(self)
    def __neg__(self): return self.neg()
    def __getitem__(self, index): return self.index(index)


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
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError("concatenate needs at least one Tensor among its inputs")
    return autograd.Concatenate.apply(*[first._lift(t) for t in tensors], axis=axis)


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
    shapes = {tuple(np.shape(t.data if isinstance(t, Tensor) else t)) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got shapes {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack axis {axis} is out of range for {ndim - 1}-d tensors")
    axis %= ndim
    first = next(t for t in tensors if isinstance(t, Tensor))
    expanded = []
    for t in tensors:
        t = first._lift(t)
        expanded.append(t.reshape(t.shape[:axis] + (1,) + t.shape[axis:]))
    return concatenate(expanded, axis=axis)
