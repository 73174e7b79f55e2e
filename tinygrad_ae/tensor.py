"""``Tensor``: a numpy array that remembers how it was computed, so it can be differentiated.

A tensor holds ``data`` (a numpy array) and, after ``backward()``, ``grad``: d(loss)/d(this
tensor), of the same shape. Every method that computes something either calls one primitive
from ``autograd.py`` (``Mul.apply(self, other)``: the op that knows its derivative) or is
composed of other methods (``mean`` is ``sum`` times ``1/n``; ``softmax`` is ``exp`` over a
``sum``). Compositions need no backward of their own: autodiff of the pieces is autodiff of
the whole.

Numbers and dtypes follow PyTorch. Python numbers and lists (and integer or boolean arrays)
become float32, the default; float32 and float64 arrays keep their dtype; ``dtype=`` can make
integer and boolean tensors (indices, counts, masks), and comparisons make boolean ones.
``+``, ``-``, ``*``, ``@`` of integer tensors stay integer; true division and the float
functions (``exp``, ``log``, ``sqrt``, ``sigmoid``, ``tanh``, ``softmax``, ``mean``, ...)
promote integers to float32, and so does meeting a float (``int_tensor * 0.5``). A constant
(a number or array) takes a float tensor's dtype, so ``x * 2.0`` stays float32. Only float
tensors can require grad. None, strings, complex numbers and other objects are refused with
a TypeError naming the op. A tensor used as an index acts as the numpy array it holds.

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
from ._support.tensor_html import tensor_table

DEFAULT_DTYPE = np.float32
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_REAL_KINDS = "biuf"  # numpy's dtype kinds: bool, signed int, unsigned int, float


def _describe(value, array) -> str:
    """What a refused value is, for error messages: "NoneType", "list of dtype <U1"."""
    of_dtype = f" of dtype {array.dtype}" if isinstance(value, (np.ndarray, list, tuple)) else ""
    return type(value).__name__ + of_dtype


def _real_array(value, op: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers, or a TypeError that names ``op``."""
    array = np.asarray(value)
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{op}: cannot combine a Tensor with {_describe(value, array)}; use a real "
                        "number, a list or array of them, or a Tensor")
    return array


def _to_array(data, dtype) -> np.ndarray:
    """numpy array of ``data``: floats keep float32/float64, anything else becomes float32."""
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data)
    if array.dtype.kind not in _REAL_KINDS:  # checked first: a cast would hide it (None -> nan)
        raise TypeError(f"Tensor needs real numbers (bool, int or float), got {_describe(data, array)}: {data!r:.80}")
    if dtype is not None:
        if np.dtype(dtype).kind not in _REAL_KINDS:
            raise TypeError(f"Tensor dtype must be a float, int or bool type, got {np.dtype(dtype)}")
        return array.astype(dtype, copy=False)
    # A float64 *array* was chosen by the user and is kept; Python floats (lists, scalars)
    # carry no such intent and become float32 like everything else.
    if array.dtype in _FLOAT_DTYPES and isinstance(data, (np.ndarray, np.floating)):
        return array
    return array.astype(DEFAULT_DTYPE)


def _axis_arg(axis):
    """numpy reductions take an int or a tuple; accept a list too."""
    return tuple(axis) if isinstance(axis, list) else axis


def _shape_arg(shape) -> tuple:
    """Accept both f(2, 3) and f((2, 3)): the arguments as one tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _index_arg(index):
    """A Tensor index is the numpy array it holds (integers pick, booleans mask); not a float."""
    if isinstance(index, Tensor):
        if index.dtype.kind == "f":  # numpy refuses float indices too; truncating 1.9 to 1 hides bugs
            raise IndexError(f"a float Tensor (dtype {index.dtype}) cannot be an index: use an integer "
                             "tensor, Tensor(i, dtype=np.int64), or a boolean mask such as x[x > 0]")
        return index.data
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
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.data.dtype}; "
                            "make it with dtype=np.float32")
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

    def _operands(self, other, op: str) -> tuple:
        """``self`` and ``other`` as two tensors of one dtype: how numbers join an op.

        The rule of the module docstring. A constant takes a float tensor's dtype, so that
        ``x * 2.0`` or ``x + np.ones(3)`` never turns float32 into float64 behind the user's
        back; an integer tensor meeting a float becomes float32 (or the float tensor's dtype).
        """
        a = self
        if isinstance(other, Tensor):
            if a.dtype.kind == "f" and other.dtype.kind != "f":
                return a, other._cast(a.dtype)
            if other.dtype.kind == "f" and a.dtype.kind != "f":
                return a._cast(other.dtype), other
            return a, other
        if type(other) in (float, int) and a.dtype.kind == "f":  # the common case, kept quick
            return a, a._from_op(np.asarray(other, dtype=a.dtype))
        array = _real_array(other, op)
        if a.dtype.kind != "f":  # Python numbers adapt to the tensor (numpy's NEP 50), arrays promote
            dtype = np.result_type(a.dtype, other if isinstance(other, (bool, int, float)) else array)
            a = a._cast(DEFAULT_DTYPE if dtype.kind == "f" else dtype)
        return a, a._from_op(np.asarray(other if isinstance(other, (int, float)) else array, dtype=a.dtype))

    def _lift(self, value, op: str) -> "Tensor":
        """``value`` as a constant (no grad) that can join this tensor in ``op``."""
        return self._operands(value, op)[1]

    def _cast(self, dtype) -> "Tensor":
        """This integer or bool tensor as a constant of ``dtype`` (they never carry a gradient)."""
        return self if self.dtype == dtype else self._constant(self.data.astype(dtype), self.name)

    def _float(self) -> "Tensor":
        """Itself if floating point, else a float32 copy: how float functions take integers."""
        return self if self.dtype.kind == "f" else self._cast(DEFAULT_DTYPE)

    def _constant(self, array, name) -> "Tensor":
        """A named constant made by a composite op (a relu mask, a max): named for pictures."""
        out = self._from_op(array)
        out.name = name
        return out

    # ------------------------------------------------------------------ constructors

    @classmethod
    def zeros(cls, *shape, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """A tensor of zeros. ``Tensor.zeros(2, 3).shape == (2, 3)``."""
        return cls(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad, name=name)

    @classmethod
    def ones(cls, *shape, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """A tensor of ones. ``Tensor.ones(3).data`` is ``array([1., 1., 1.], dtype=float32)``."""
        return cls(np.ones(_shape_arg(shape), dtype=dtype), requires_grad, name=name)

    @classmethod
    def randn(cls, *shape, seed=None, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """Standard normal samples; ``seed`` is an int or a ``numpy.random.Generator``.

        Example:
            >>> Tensor.randn(2, 3, seed=0).shape
            (2, 3)
        """
        rng = np.random.default_rng(seed)
        return cls(rng.standard_normal(_shape_arg(shape)).astype(dtype), requires_grad, name=name)

    @classmethod
    def uniform(cls, *shape, low=-1.0, high=1.0, seed=None, dtype=DEFAULT_DTYPE, requires_grad=False, name=None) -> "Tensor":
        """Uniform samples in [low, high); ``seed`` is an int or a ``numpy.random.Generator``.

        Example:
            >>> t = Tensor.uniform(100, low=0, high=1, seed=0)
            >>> bool((t.data >= 0).all() and (t.data < 1).all())
            True
        """
        rng = np.random.default_rng(seed)
        return cls(rng.uniform(low, high, _shape_arg(shape)).astype(dtype), requires_grad, name=name)

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
        """The numpy dtype, float32 unless asked otherwise. ``Tensor([1.0]).dtype == np.float32``."""
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
        return self._one_value("item()")

    def _one_value(self, caller: str):
        if self.data.size != 1:
            raise ValueError(f"{caller} needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph (no grad flows through it).

        Example:
            >>> w = Tensor([1.0], requires_grad=True)
            >>> (w * 2).detach().requires_grad
            False
        """
        return Tensor(self.data, dtype=self.dtype, name=self.name)

    @autograd.seen_by_jit
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

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of name, shape, dtype, grad and a few values.

        Example:
            >>> "<table" in Tensor([1.0, 2.0], name="w")._repr_html_()
            True
        """
        return tensor_table(self)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        raise TypeError(
            "the truth value of a Tensor is ambiguous; compare t.item() or t.data instead"
        )

    def __float__(self): return float(self._one_value("float()"))
    def __int__(self): return int(self._one_value("int()"))

    # Hashable by identity, as in PyTorch, although == is elementwise (see "comparisons"): a
    # dict or set of tensors must then never compare two of them, so the engine keys by id().
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ arithmetic

    def add(self, other):
        """Elementwise ``self + other`` with broadcasting. ``Tensor([1.0]).add(2).item() == 3.0``."""
        return autograd.Add.apply(*self._operands(other, "add"))

    def sub(self, other):
        """Elementwise ``self - other`` with broadcasting.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([5.0]) - 2).item()
            3.0
        """
        return autograd.Sub.apply(*self._operands(other, "sub"))

    def neg(self):
        """``-self``, composed as ``self * -1``. ``(-Tensor([2.0])).item() == -2.0``."""
        return autograd.Mul.apply(*self._operands(-1, "neg"))

    def mul(self, other):
        """Elementwise ``self * other`` with broadcasting. ``(Tensor([2.0]) * 3).item() == 6.0``."""
        return autograd.Mul.apply(*self._operands(other, "mul"))

    def div(self, other):
        """Elementwise true division ``self / other``, composed as ``self * other ** -1``.

        Integers become float32 first, so ``7 / 2`` is 3.5 for integer tensors too.

        Example:
            >>> import numpy as np
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([6.0]) / Tensor([4.0])).item(), (Tensor([7], dtype=np.int64) / 2).item()
            (1.5, 3.5)
        """
        a, b = self._operands(other, "div")
        a, b = a._float(), b._float()
        if not isinstance(other, Tensor):  # a constant: multiply by its reciprocal
            return autograd.Mul.apply(a, a._from_op(1 / b.data))
        return autograd.Mul.apply(a, autograd.PowScalar.apply(b, exponent=-1))

    def pow(self, exponent):
        """``self ** exponent``; the exponent is a number or a tensor (then it gets a grad too).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor([3.0]) ** 2).item(), (2 ** Tensor([3.0])).item()
            (9.0, 8.0)
        """
        if isinstance(exponent, numbers.Integral) and self.dtype.kind != "f":
            return autograd.PowScalar.apply(self, exponent=int(exponent))  # integers stay integers
        if isinstance(exponent, numbers.Real):  # numpy scalars too: as a Python float, so
            return autograd.PowScalar.apply(self._float(), exponent=float(exponent))  # float32 stays
        return autograd.Pow.apply(*self._operands(exponent, "pow"))

    def matmul(self, other):
        """Matrix product ``self @ other``, with numpy's rules for 1-D and batched operands.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> (Tensor.ones(2, 3) @ Tensor.ones(3)).data
            array([3., 3.], dtype=float32)
        """
        return autograd.MatMul.apply(*self._operands(other, "matmul"))

    def maximum(self, other):
        """Elementwise maximum; on ties the gradient is split evenly.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 5.0]).maximum(3).data
            array([3., 5.], dtype=float32)
        """
        return autograd.Maximum.apply(*self._operands(other, "maximum"))

    def minimum(self, other):
        """Elementwise minimum, composed as ``-max(-self, -other)``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 5.0]).minimum(3).data
            array([1., 3.], dtype=float32)
        """
        a, b = self._operands(other, "minimum")
        return a.neg().maximum(b.neg()).neg()

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
        return autograd.Exp.apply(self._float())

    def log(self):
        """Elementwise natural log (``-inf`` at 0). ``Tensor([1.0]).log().item() == 0.0``."""
        return autograd.Log.apply(self._float())

    def sqrt(self):
        """Elementwise square root, composed as ``self ** 0.5``. ``Tensor([9.0]).sqrt().item() == 3.0``."""
        return autograd.PowScalar.apply(self._float(), exponent=0.5)

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
        return autograd.Sigmoid.apply(self._float())

    def tanh(self):
        """Elementwise hyperbolic tangent. ``Tensor([0.0]).tanh().item() == 0.0``."""
        return autograd.Tanh.apply(self._float())

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so that exp never overflows.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([0.0, 0.0]).softmax().data
            array([0.5, 0.5], dtype=float32)
        """
        e = self._float()._shift_by_max(axis).exp()
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along ``axis``, computed as ``x - max - log(sum(exp(x - max)))``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> round(Tensor([1e4, 0.0]).log_softmax().data[1])
            -10000
        """
        shifted = self._float()._shift_by_max(axis)
        return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()

    def _shift_by_max(self, axis):
        # The max is a constant here (detached): softmax is shift-invariant, so its gradient is
        # zero. Computed with ops all the same, so that a compiled step (jit.py) recomputes it.
        shift = -autograd.Max.apply(self.detach(), axis=axis, keepdims=True)
        shift.name = "-max"
        return autograd.Add.apply(self, shift)

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
        total = self._float().sum(axis=axis, keepdims=keepdims)
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
        return autograd.Reshape.apply(self, shape=_shape_arg(shape))

    def transpose(self, *axes):
        """Permute axes (reverse them when none are given). ``Tensor.zeros(2, 3).transpose().shape == (3, 2)``."""
        return autograd.Transpose.apply(self, axes=_shape_arg(axes) or None)

    @property
    def T(self):
        """The transpose (all axes reversed). ``Tensor.zeros(2, 3).T.shape == (3, 2)``."""
        return autograd.Transpose.apply(self, axes=None)

    def index(self, index):
        """``self[index]``: slices, integers, integer arrays or tensors, boolean masks (``x[x > 0]``),
        as in numpy; repeated indices add their grads. A float tensor is refused as an index.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
            >>> x[[0, 0, 2]].sum().backward()
            >>> x.grad
            array([2., 0., 1.], dtype=float32)
            >>> x[x > 1.5].data
            array([2., 3.], dtype=float32)
        """
        return autograd.GetItem.apply(self, index=_index_arg(index))

    # ------------------------------------------------------------------ comparisons
    # ==, !=, <, <=, >, >= compare elementwise, with broadcasting, and give a bool tensor with
    # no gradient (a comparison is flat wherever it has a slope): a mask, as in numpy and
    # PyTorch. `t == None` is False, as for any object; `t < None` is a TypeError.

    def _compare(self, other, compare, op: str):
        """``compare(self, other)`` elementwise, as a bool tensor that carries no gradient.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> x = Tensor([-1.0, 0.0, 2.0])
            >>> (x > 0).data, (0 == x).data
            (array([False, False,  True]), array([False,  True, False]))
        """
        try:
            a, b = self._operands(other, op)
        except TypeError:
            if op in ("eq", "ne"):
                return NotImplemented  # Python then compares identities: t == None is False
            raise
        return a._from_op(compare(a.data, b.data))

    def __eq__(self, other): return self._compare(other, np.equal, "eq")
    def __ne__(self, other): return self._compare(other, np.not_equal, "ne")
    def __lt__(self, other): return self._compare(other, np.less, "lt")
    def __le__(self, other): return self._compare(other, np.less_equal, "le")
    def __gt__(self, other): return self._compare(other, np.greater, "gt")
    def __ge__(self, other): return self._compare(other, np.greater_equal, "ge")

    # ------------------------------------------------------------------ Python operators

    def __add__(self, other): return self.add(other)
    def __radd__(self, other): return self.add(other)
    def __sub__(self, other): return self.sub(other)
    def __rsub__(self, other): return self._lift(other, "sub").sub(self)
    def __mul__(self, other): return self.mul(other)
    def __rmul__(self, other): return self.mul(other)
    def __truediv__(self, other): return self.div(other)
    def __rtruediv__(self, other): return self._lift(other, "div").div(self)
    def __pow__(self, exponent): return self.pow(exponent)
    def __rpow__(self, base): return self._lift(base, "pow").pow(self)
    def __matmul__(self, other): return self.matmul(other)
    def __rmatmul__(self, other): return self._lift(other, "matmul").matmul(self)
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
    return autograd.Concatenate.apply(*[first._lift(t, "concatenate") for t in tensors], axis=axis)


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
        t = first._lift(t, "stack")
        expanded.append(t.reshape(t.shape[:axis] + (1,) + t.shape[axis:]))
    return concatenate(expanded, axis=axis)
