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
from ._support.checks import whole_number
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


def _axis(tensor, axis, op) -> int:
    """``axis`` as a non-negative int for ``tensor``, or an error naming the op and the shape."""
    if whole_number(axis) is None or not -max(tensor.ndim, 1) <= axis < max(tensor.ndim, 1):
        raise ValueError(f"{op}: axis {axis!r} is out of range for a tensor of shape {tensor.shape}")
    return int(axis) % max(tensor.ndim, 1)


def _mask(cond) -> np.ndarray:
    """A condition as a numpy bool array: a bool (or 0/1) Tensor, an array, a list or a bool."""
    return np.asarray(cond.data if isinstance(cond, Tensor) else cond).astype(bool, copy=False)


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
        """Elementwise |x|; the gradient is sign(x), 0 at 0 as in PyTorch (the ``Abs`` primitive).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 3.0]).abs().data
            array([2., 3.], dtype=float32)
        """
        return autograd.Abs.apply(self)

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

    def sin(self):
        """Elementwise sine (a primitive). ``Tensor([0.0]).sin().item() == 0.0``."""
        return autograd.Sin.apply(self._float())

    def cos(self):
        """Elementwise cosine (a primitive). ``Tensor([0.0]).cos().item() == 1.0``."""
        return autograd.Cos.apply(self._float())

    def log1p(self):
        """log(1 + x), accurate for tiny x (a primitive).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1e-10]).log1p().item() > 0, (Tensor([1e-10]) + 1).log().item()
            (True, 0.0)
        """
        return autograd.Log1p.apply(self._float())

    def expm1(self):
        """exp(x) - 1, accurate for tiny x (a primitive). ``Tensor([0.0]).expm1().item() == 0.0``."""
        return autograd.Expm1.apply(self._float())

    def erf(self):
        """The error function (a primitive; see ``autograd.Erf``). ``Tensor([0.0]).erf().item() == 0.0``."""
        return autograd.Erf.apply(self._float())

    def _zero_gradient(self, values, name):
        # The values as a constant, yet still connected to self so that backward gives 0
        # (not "does not require grad"): Where picks the constant everywhere.
        return autograd.Where.apply(self._constant(np.asarray(values, dtype=self.dtype), name), self, cond=np.True_)

    def sign(self):
        """-1, 0 or 1 elementwise; its gradient is 0 (it is flat wherever it is defined).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 0.0, 3.0]).sign().data
            array([-1.,  0.,  1.], dtype=float32)
        """
        return self._zero_gradient(np.sign(self.data), "sign")

    def floor(self):
        """Round down elementwise; gradient 0 (a step function is flat between its steps).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-1.5, 1.5]).floor().data
            array([-2.,  1.], dtype=float32)
        """
        return self._zero_gradient(np.floor(self.data), "floor")

    def ceil(self):
        """Round up elementwise; gradient 0. ``Tensor([1.2]).ceil().item() == 2.0``."""
        return self._zero_gradient(np.ceil(self.data), "ceil")

    def round(self, decimals=0):
        """Round to ``decimals`` places, halves to even like numpy; gradient 0.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([0.5, 1.5, 2.25]).round().data
            array([0., 2., 2.], dtype=float32)
        """
        return self._zero_gradient(np.round(self.data, decimals), "round")

    # ------------------------------------------------------------------ activations (composed)

    def leaky_relu(self, negative_slope=0.01):
        """x where x > 0, else ``negative_slope * x``.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-2.0, 3.0]).leaky_relu(0.1).data
            array([-0.2,  3. ], dtype=float32)
        """
        return where(self.data > 0, self, self * negative_slope)

    def elu(self, alpha=1.0):
        """x where x > 0, else ``alpha * (exp(x) - 1)``; expm1 gets only the x <= 0 values, so
        large positive x never overflow in the branch not taken.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([-1.0, 2.0]).elu().data.round(4)
            array([-0.6321,  2.    ], dtype=float32)
        """
        positive = self.data > 0
        return where(positive, self, where(positive, 0.0, self).expm1() * alpha)

    def gelu(self, approximate="none"):
        """x Phi(x), Phi the standard normal CDF: ``x (1 + erf(x / sqrt 2)) / 2``; with
        ``approximate="tanh"``, ``x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2`` (as in PyTorch).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0]).gelu().data.round(4), Tensor([1.0]).gelu("tanh").data.round(4)
            (array([0.8413], dtype=float32), array([0.8412], dtype=float32))
        """
        if approximate == "tanh":
            inner = (self + self ** 3 * 0.044715) * float(np.sqrt(2 / np.pi))
            return self * (inner.tanh() + 1) * 0.5
        if approximate != "none":
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return self * ((self * float(1 / np.sqrt(2))).erf() + 1) * 0.5

    def softplus(self):
        """log(1 + e^x), as ``max(x, 0) + log1p(e^-|x|)``: never overflows (x = 1e4 gives 1e4).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> y = Tensor([0.0, 1e4]).softplus().data
            >>> y[0].round(4), y[1]
            (np.float32(0.6931), np.float32(10000.0))
        """
        # maximum's tie rule gives slope 1/2 at 0, which is sigmoid(0): smooth, like softplus
        return self.maximum(0) + (-self.abs()).exp().log1p()

    def log_sigmoid(self):
        """log(sigmoid(x)) = -softplus(-x), stable for any x. ``Tensor([0.0]).log_sigmoid().data.round(4)`` is -0.6931."""
        return -(-self).softplus()

    def silu(self):
        """x * sigmoid(x), also called swish. ``Tensor([0.0]).silu().item() == 0.0``."""
        return self * self.sigmoid()

    swish = silu

    def relu6(self):
        """min(max(x, 0), 6), composed as ``clip(0, 6)``. ``Tensor([7.0]).relu6().item() == 6.0``."""
        return self.clip(0, 6)

    def hardtanh(self, min_val=-1.0, max_val=1.0):
        """x limited to [min_val, max_val], composed as ``clip``. ``Tensor([2.0]).hardtanh().item() == 1.0``."""
        return self.clip(min_val, max_val)

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
        shift = -self._max_without_gradient(axis)
        shift.name = "-max"
        return autograd.Add.apply(self, shift)

    def _max_without_gradient(self, axis):
        # softmax and logsumexp are shift-invariant, so the max they shift by gets no gradient
        # (detached); it is computed with an op all the same, so that jit.py recomputes it.
        return autograd.Max.apply(self.detach(), axis=axis, keepdims=True)

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

    def prod(self, axis=None, keepdims=False):
        """Product over ``axis`` (a primitive: the gradient stays right where elements are 0).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).prod(axis=1).data
            array([ 2., 12.], dtype=float32)
        """
        return autograd.Prod.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def cumsum(self, axis=None):
        """Running sum along ``axis`` (None: of the flattened tensor, as in numpy).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 2.0, 3.0]).cumsum().data
            array([1., 3., 6.], dtype=float32)
        """
        if axis is None:
            return autograd.Cumsum.apply(self.reshape(-1), axis=0)
        return autograd.Cumsum.apply(self, axis=axis)

    def var(self, axis=None, ddof=0, keepdims=False):
        """Variance ``sum((x - mean)^2) / (n - ddof)``; ddof=1 gives the unbiased estimate.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 2.0, 3.0, 4.0]).var().item(), Tensor([1.0, 2.0, 3.0, 4.0]).var(ddof=1).item()
            (1.25, 1.6666667461395264)
        """
        axis = _axis_arg(axis)
        centred = self - self.mean(axis=axis, keepdims=True)
        squares = (centred * centred).sum(axis=axis, keepdims=keepdims)
        count = self.size // max(squares.size, 1)
        if count - ddof <= 0:
            raise ValueError(f"var of {count} values per group with ddof={ddof} divides by {count - ddof}")
        return squares * (1.0 / (count - ddof))

    def std(self, axis=None, ddof=0, keepdims=False):
        """Standard deviation, ``sqrt(var)`` (its gradient is infinite where all values are equal).

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1.0, 3.0]).std().item()
            1.0
        """
        return self.var(axis=axis, ddof=ddof, keepdims=keepdims).sqrt()

    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x))) over ``axis``, as ``max + log(sum(exp(x - max)))``: no overflow.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([1e4, 1e4]).logsumexp().item() - 1e4
            0.693359375
        """
        axis = _axis_arg(axis)
        top = self._max_without_gradient(axis)
        out = (self - top).exp().sum(axis=axis, keepdims=True).log() + top
        return out if keepdims else out.reshape(np.sum(top.data, axis=axis).shape)

    def norm(self, ord=2, axis=None, keepdims=False):
        """The vector p-norm ``sum(|x|^p)^(1/p)`` over ``axis`` (None: all elements, as one vector;
        ``ord=np.inf``: the largest |x|). The gradient of the 2-norm is infinite at 0.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([3.0, -4.0]).norm().item(), Tensor([3.0, -4.0]).norm(1).item()
            (5.0, 7.0)
        """
        axis = _axis_arg(axis)
        if ord == np.inf:
            return self.abs().max(axis=axis, keepdims=keepdims)
        if not ord > 0:
            raise ValueError(f"norm: ord must be > 0 or np.inf, got {ord!r}")
        return (self.abs() ** ord).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)

    def any(self, axis=None, keepdims=False):
        """Whether any element (of each group along ``axis``) is non-zero: a bool tensor, no gradient.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[0.0, 1.0], [0.0, 0.0]]).any(axis=1).data
            array([ True, False])
        """
        return self._constant(np.any(self.data, axis=_axis_arg(axis), keepdims=keepdims), "any")

    def all(self, axis=None, keepdims=False):
        """Whether every element (of each group along ``axis``) is non-zero: a bool tensor.

        Example:
            >>> from tinygrad_ae import Tensor
            >>> Tensor([[1.0, 1.0], [0.0, 1.0]]).all(axis=1).data
            array([ True, False])
        """
        return self._constant(np.all(self.data, axis=_axis_arg(axis), keepdims=keepdims), "all")

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

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge axes start_dim..end_dim into one, as in PyTorch: ``(n, 1, 28, 28)`` -> ``(n, 784)``
        with ``flatten(1)``.

        Example:
            >>> Tensor.zeros(2, 3, 4).flatten(1).shape, Tensor.zeros(2, 3, 4).flatten().shape
            ((2, 12), (24,))
        """
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _axis(self, start_dim, "flatten"), _axis(self, end_dim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def squeeze(self, axis=None):
        """Drop axes of size 1 (all of them, or those in ``axis``), like ``np.squeeze``.

        Example:
            >>> Tensor.zeros(1, 3, 1).squeeze().shape, Tensor.zeros(1, 3, 1).squeeze(0).shape
            ((3,), (3, 1))
        """
        drop = [i for i, n in enumerate(self.shape) if n == 1] if axis is None else \
            [_axis(self, a, "squeeze") for a in np.atleast_1d(axis)]
        if any(self.shape[a] != 1 for a in drop):
            raise ValueError(f"squeeze: axes {drop} of shape {self.shape} are not all of size 1")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def unsqueeze(self, axis):
        """A new axis of size 1 at position ``axis`` (``expand_dims`` is the numpy name).

        Example:
            >>> Tensor.zeros(3).unsqueeze(0).shape, Tensor.zeros(3).unsqueeze(-1).shape
            ((1, 3), (3, 1))
        """
        return self.reshape(np.expand_dims(np.broadcast_to(0, self.shape), axis).shape)

    expand_dims = unsqueeze

    def permute(self, *axes):
        """Reorder the axes, PyTorch's name for ``transpose(axes)``. ``Tensor.zeros(2, 3, 4).permute(2, 0, 1).shape == (4, 2, 3)``."""
        return self.transpose(*axes)

    def swapaxes(self, axis1, axis2):
        """Exchange two axes. ``Tensor.zeros(2, 3, 4).swapaxes(0, 2).shape == (4, 3, 2)``."""
        a, b = _axis(self, axis1, "swapaxes"), _axis(self, axis2, "swapaxes")
        return self.transpose([{a: b, b: a}.get(i, i) for i in range(self.ndim)])

    def moveaxis(self, source, destination):
        """Move axes to new positions, the rest keeping their order, like ``np.moveaxis``.

        Example:
            >>> Tensor.zeros(2, 3, 4).moveaxis(0, -1).shape
            (3, 4, 2)
        """
        source = [_axis(self, a, "moveaxis") for a in np.atleast_1d(source)]
        destination = [_axis(self, a, "moveaxis") for a in np.atleast_1d(destination)]
        if len(source) != len(destination):
            raise ValueError(f"moveaxis: {len(source)} source axes but {len(destination)} destinations")
        order = [a for a in range(self.ndim) if a not in source]
        for dest, src in sorted(zip(destination, source)):  # numpy's own construction
            order.insert(dest, src)
        return self.transpose(order)

    def broadcast_to(self, *shape):
        """The tensor copied along new or size-1 axes to ``shape``, like ``np.broadcast_to``;
        composed as ``self + zeros(shape)``, whose backward sums the copies' gradients.

        Example:
            >>> Tensor([1.0, 2.0]).broadcast_to(3, 2).data
            array([[1., 2.],
                   [1., 2.],
                   [1., 2.]], dtype=float32)
        """
        shape = _shape_arg(shape)
        if len(shape) < self.ndim or any(n not in (1, m) for n, m in zip(self.shape[::-1], shape[::-1])):
            raise ValueError(f"broadcast_to: shape {self.shape} cannot be broadcast to {shape}")
        return self + self._constant(np.zeros(shape, dtype=self.dtype), "zeros")

    def expand(self, *shape):
        """PyTorch's ``broadcast_to``, where -1 keeps an axis's size. ``Tensor.zeros(3, 1).expand(-1, 4).shape == (3, 4)``."""
        shape = _shape_arg(shape)
        lead = len(shape) - self.ndim
        return self.broadcast_to(tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape)))

    def repeat(self, repeats, axis=None):
        """Repeat each element ``repeats`` times along ``axis`` (None: flattened), like ``np.repeat``;
        ``repeats`` may be a list, one count per element. (PyTorch's ``repeat`` is ``tile``.)

        Example:
            >>> Tensor([1.0, 2.0]).repeat(2).data
            array([1., 1., 2., 2.], dtype=float32)
        """
        x, axis = (self.reshape(-1), 0) if axis is None else (self, _axis(self, axis, "repeat"))
        picks = np.repeat(np.arange(x.shape[axis]), repeats)
        return x[(slice(None),) * axis + (picks,)]

    def tile(self, *reps):
        """The whole tensor repeated ``reps`` times along each axis, like ``np.tile``.

        Example:
            >>> Tensor([1.0, 2.0]).tile(2).data
            array([1., 2., 1., 2.], dtype=float32)
        """
        reps = _shape_arg(reps)
        ndim = max(len(reps), self.ndim)
        reps, shape = (1,) * (ndim - len(reps)) + reps, (1,) * (ndim - self.ndim) + self.shape
        # each axis n becomes (1, n), is broadcast to (r, n), and the pair is merged to r * n
        paired = self.reshape(tuple(d for n in shape for d in (1, n)))
        copies = paired.broadcast_to(tuple(d for r, n in zip(reps, shape) for d in (r, n)))
        return copies.reshape(tuple(r * n for r, n in zip(reps, shape)))

    def pad(self, pad_width, value=0.0):
        """Surround with a constant: ``pad_width`` is numpy's ((before, after), ...) per axis,
        one (before, after) for all axes, or one number; composed with ``concatenate``.

        Example:
            >>> Tensor([[1.0]]).pad(1).data
            array([[0., 0., 0.],
                   [0., 1., 0.],
                   [0., 0., 0.]], dtype=float32)
        """
        widths = np.asarray(pad_width)
        if widths.dtype.kind not in "iu" or np.any(widths < 0) or widths.size not in (1, 2, 2 * self.ndim):
            raise ValueError(f"pad: pad_width {pad_width!r} for shape {self.shape}: give whole numbers >= 0, "
                             "one (before, after) pair per axis, one pair for all, or one number")
        out = self
        for axis, widths_here in enumerate(np.broadcast_to(widths.reshape(-1, 2) if widths.ndim else widths, (self.ndim, 2))):
            sides = [self._constant(np.full(out.shape[:axis] + (int(w),) + out.shape[axis + 1:], value, self.dtype), "pad")
                     for w in widths_here]
            out = concatenate([sides[0], out, sides[1]], axis=axis)
        return out

    def split(self, indices_or_sections, axis=0):
        """Pieces along ``axis``, like ``np.split``: n equal sections, or cuts at the given indices.

        Example:
            >>> [t.data for t in Tensor([1.0, 2.0, 3.0]).split([1])]
            [array([1.], dtype=float32), array([2., 3.], dtype=float32)]
        """
        axis = _axis(self, axis, "split")
        try:
            sizes = [len(p) for p in np.split(np.arange(self.shape[axis]), indices_or_sections)]
        except ValueError as error:
            raise ValueError(f"split of shape {self.shape} along axis {axis}: {error}") from None
        starts = np.cumsum([0] + sizes)
        return [self[(slice(None),) * axis + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:])]

    def chunk(self, chunks, axis=0):
        """``chunks`` pieces of ceil(n / chunks) along ``axis`` (the last may be smaller), as in PyTorch.

        Example:
            >>> [t.shape for t in Tensor.zeros(5).chunk(2)]
            [(3,), (2,)]
        """
        if whole_number(chunks) is None or chunks < 1:
            raise ValueError(f"chunk: chunks must be a whole number >= 1, got {chunks!r}")
        size = max(-(-self.shape[_axis(self, axis, "chunk")] // chunks), 1)
        return self.split(list(range(size, self.shape[axis], size)), axis=axis)

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
    return autograd.Concatenate.apply(*_tensors(tensors, "concatenate"), axis=axis)


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


def where(cond, a, b):
    """``a`` where ``cond`` is true, else ``b`` (all three broadcast); gradients flow to a and b.

    ``cond`` is a boolean Tensor (``x > 0`` on tensors) or numpy array (``x.data > 0``); it gets
    no gradient. The branch not taken never reaches the result, and gets a zero gradient; but
    its own backward still runs, so ``where(x > 0, x.log(), 0)`` has a NaN slope at x = 0
    (0 / 0 inside log, as in PyTorch). Keep such values out of the op as well:
    ``where(x > 0, where(x > 0, x, 1.0).log(), 0)``.

    Example:
        >>> from tinygrad_ae import Tensor, where
        >>> x = Tensor([-1.0, 2.0])
        >>> where(x.data > 0, x, 0.0).data
        array([0., 2.], dtype=float32)
    """
    first = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if first is None:
        raise TypeError("where needs a Tensor for a or b")
    # a shape mismatch is reported by Function.apply as "Where of shapes ...", naming all three
    return autograd.Where.apply(first._lift(a, "where"), first._lift(b, "where"), cond=_mask(cond))


def outer(a, b):
    """The outer product of two vectors (flattened first, like ``np.outer``): ``a[i] * b[j]``.

    Example:
        >>> from tinygrad_ae import Tensor, outer
        >>> outer(Tensor([1.0, 2.0]), Tensor([1.0, 10.0])).data
        array([[ 1., 10.],
               [ 2., 20.]], dtype=float32)
    """
    a = a if isinstance(a, Tensor) else b._lift(a, "outer")
    return a.reshape(-1, 1) * a._lift(b, "outer").reshape(1, -1)


def hstack(tensors):
    """Join along the second axis (the first for 1-D tensors), like ``np.hstack``.

    Example:
        >>> from tinygrad_ae import Tensor, hstack
        >>> hstack([Tensor.ones(2, 1), Tensor.zeros(2, 2)]).shape
        (2, 3)
    """
    tensors = [t if t.ndim else t.reshape(1) for t in _tensors(tensors, "hstack")]
    return concatenate(tensors, axis=0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along the first axis, 1-D tensors as rows, like ``np.vstack``.

    Example:
        >>> from tinygrad_ae import Tensor, vstack
        >>> vstack([Tensor.ones(3), Tensor.zeros(3)]).shape
        (2, 3)
    """
    return concatenate([t.reshape(1, -1) if t.ndim < 2 else t for t in _tensors(tensors, "vstack")], axis=0)


def _tensors(tensors, op):
    """Every item as a Tensor (arrays join as constants in the first tensor's dtype)."""
    tensors = list(tensors)
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError(f"{op} needs at least one Tensor among its inputs")
    return [first._lift(t, op) for t in tensors]


def einsum(subscripts, *operands):
    """Einstein summation for one or two operands, e.g. ``"ij,jk->ik"``, ``"bij,bjk->bik"``,
    ``"i,j->ij"``, ``"ij->ji"``: written as sums, transposes, reshapes and one matmul.

    Letters that appear in only one operand and not in the output are summed first; then the
    letters of both operands are sorted into batch axes (kept), contracted axes (summed by
    the matmul) and each side's own axes. Repeated letters within one operand (traces,
    diagonals) and ``...`` are not supported.

    Example:
        >>> from tinygrad_ae import Tensor, einsum
        >>> einsum("ij,jk->ik", Tensor.ones(2, 3), Tensor.ones(3, 4)).shape
        (2, 4)
        >>> einsum("bi,bi->b", Tensor([[1.0, 2.0]]), Tensor([[3.0, 4.0]])).data
        array([11.], dtype=float32)
    """
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    inputs, tensors, sizes = inputs.split(","), _tensors(operands, "einsum"), {}
    letters = "".join(inputs)
    if not arrow:  # numpy's implicit output: the letters used once, in alphabetical order
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if not 1 <= len(operands) == len(inputs) <= 2 or set(output) - set(letters) or len(set(output)) != len(output):
        raise ValueError(f"einsum {subscripts!r}: one or two operands (got {len(operands)}), and each output "
                         "letter once and in an input")
    for term, t in zip(inputs, tensors):
        if len(term) != t.ndim or len(set(term)) != len(term) or not term.isalpha():
            raise ValueError(f"einsum {subscripts!r}: subscripts {term!r} for an operand of shape {t.shape} "
                             "(one distinct letter per axis; no '...')")
        for c, n in zip(term, t.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum {subscripts!r}: letter {c!r} is size {sizes[c]} in one place and {n} in another")
    # sum away each operand's letters that go nowhere else
    for i, term in enumerate(inputs):
        elsewhere = output + "".join(inputs[:i] + inputs[i + 1:])
        gone = tuple(k for k, c in enumerate(term) if c not in elsewhere)
        if gone:
            tensors[i] = tensors[i].sum(axis=gone)
            inputs[i] = "".join(c for c in term if c in elsewhere)
    if len(tensors) == 1:
        return tensors[0].transpose([inputs[0].index(c) for c in output])
    (a, b), (ta, tb) = tensors, inputs
    batch, contract = [c for c in ta if c in tb and c in output], [c for c in ta if c in tb and c not in output]
    own_a, own_b = [c for c in ta if c not in tb], [c for c in tb if c not in ta]

    def as_matrices(t, term, rows, columns):  # the batch axes, then rows x columns
        size = [int(np.prod([sizes[c] for c in group], dtype=np.int64)) for group in (batch, rows, columns)]
        return t.transpose([term.index(c) for c in batch + rows + columns]).reshape(size)
    order = batch + own_a + own_b
    result = (as_matrices(a, ta, own_a, contract) @ as_matrices(b, tb, contract, own_b)).reshape(tuple(sizes[c] for c in order))
    return result.transpose([order.index(c) for c in output])
