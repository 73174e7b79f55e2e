"""``Tensor``: a numpy array that remembers how it was computed, so it can be differentiated.

The maths a tensor can do lives in ``tensor_ops.py`` (inherited from ``TensorOps``); this file
holds what a tensor *is*: its data and gradient, how it is created, Python's operators, and
``backward``.

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

import numpy as np

from . import autograd
from .tensor_ops import TensorOps, shape_arg

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


class Tensor(TensorOps):
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

