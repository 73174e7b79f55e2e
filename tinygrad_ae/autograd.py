"""The engine of reverse-mode autodiff: how an op is recorded, every derivative the package
knows, and the one walk that chains them (the chain rule).

An op is a subclass of :class:`Function` with ``forward`` (numpy arrays in, an array out) and
``backward`` (the output's gradient in, one gradient per input out) written side by side, the
derivative in its docstring and in ``rule``. ``Function.apply`` runs ``forward`` and, when an
input wants a gradient, links the new tensor to the op. :func:`backward` then walks those links
from the loss back to the leaves, once, in reverse topological order, summing where a value was
used twice. These twenty-seven primitives are the only derivatives written by hand; everything else
(``-x``, ``/``, ``mean``, ``softmax``, the layers and losses) is composed of them in ``tensor.py``.

Read ``tensor.py`` first (what a tensor is), then this file; next comes ``gradcheck.py``.

Example:
    >>> from tinygrad_ae import Tensor
    >>> a, b = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
    >>> (a * b).backward()          # Mul: d/da = b, d/db = a
    >>> a.grad, b.grad
    (array(5., dtype=float32), array(2., dtype=float32))
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

_grad_enabled = True
_recorder = None  # set by jit.py while it traces a step: it is told of each op and backward()


def is_grad_enabled() -> bool:
    """True when new ops are recorded for backward (the default), False inside ``no_grad``.

    Example:
        >>> from tinygrad_ae import no_grad, is_grad_enabled
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph (inference, optimizer steps).

    Example:
        >>> from tinygrad_ae import Tensor, no_grad
        >>> w = Tensor([1.0], requires_grad=True)
        >>> with no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    def __init__(self):
        self._previous = []  # a stack: the same object may be entered again inside itself

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


def seen_by_jit(method):
    """Decorator for a method that changes state outside the ops (``zero_grad``, an optimizer's
    ``step``, BatchNorm's running averages): while ``jit.py`` traces a step it records the call,
    and its replays make it again (an argument that is an op's output gets that step's array).

    Example:
        >>> class Counter:
        ...     calls = 0
        ...     @seen_by_jit
        ...     def tick(self):
        ...         self.calls += 1
        >>> c = Counter(); c.tick(); c.calls
        1
    """
    @functools.wraps(method)
    def recorded_method(self, *args, **kwargs):
        recorder = _recorder
        if recorder is None:
            return method(self, *args, **kwargs)
        recorder.call(self, method.__name__, args, kwargs)
        try:
            return method(self, *args, **kwargs)
        finally:
            recorder.call_done()
    return recorded_method


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting.

    Broadcasting copies an input along new leading axes and along its size-1 axes; the
    gradient of a copy is the sum over the copies.

    Example:
        >>> import numpy as np
        >>> unbroadcast(np.ones((4, 3)), (3,))
        array([4., 4., 4.])
        >>> unbroadcast(np.ones((4, 3)), (4, 1)).shape
        (4, 1)
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """Base class of every primitive op: ``forward`` and ``backward`` side by side.

    Subclasses implement ``forward(self, *arrays, **options) -> array``, keeping the arrays
    backward needs in ``self.saved`` (freed after backward) and small options such as an axis
    as attributes, and ``backward(self, grad) -> tuple`` with one gradient (or None) per
    input. ``self.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so an op
    can skip work nobody will use.

    A class attribute ``rule`` states the derivative in words (``"d/da = b, d/db = a"``) for
    people: the backward-pass pictures show it.

    Example (a student's own op):
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor
        >>> class Square(Function):
        ...     def forward(self, x):
        ...         self.saved = x
        ...         return x * x
        ...     def backward(self, grad):
        ...         return (2 * self.saved * grad,)
        >>> x = Tensor([3.0], requires_grad=True)
        >>> Square.apply(x).sum().backward()
        >>> x.grad
        array([6.], dtype=float32)
    """

    # parents: the input tensors; needs_input_grad: which of them want a gradient;
    # saved: the arrays backward needs; rule: the derivative in words, for people;
    # options: the keyword options forward got (explain_backward replays forward with them).
    rule: str | None = None
    parents: tuple = ()
    needs_input_grad: tuple = ()
    saved = None
    released = False
    options: dict = {}

    @property
    def name(self) -> str:
        """The op's name as shown in errors and pictures, e.g. ``"MatMul"``."""
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on tensors and record it when gradients are wanted."""
        op = cls()
        try:
            data = op.forward(*[t.data for t in inputs], **options)
        except Exception as error:
            # Say which op and shapes failed, keeping the error's type; the chained original
            # shows the line that raised (in numpy, or in a student's own forward).
            shapes = " and ".join(str(t.shape) for t in inputs)
            try:
                prefixed = type(error)(f"{op.name} of shape{'s' if len(inputs) > 1 else ''} {shapes}: {error}")
            except Exception:  # an exception class that needs other arguments
                prefixed = None
            if prefixed is None:
                raise  # the original, as it is
            raise prefixed from error
        out = inputs[0]._from_op(data)
        if _grad_enabled:
            needs = tuple(t.requires_grad for t in inputs)
            if any(needs):
                op.parents = inputs
                op.needs_input_grad = needs
                out.requires_grad = True
                out._op = op
                op.options = options  # so explain_backward(check=True) can replay the forward pass
        if _recorder is not None:
            _recorder.op(op, inputs, options, out)
        return out

    def forward(self, *arrays, **options):  # pragma: no cover - every op overrides it
        """Compute the op's result from numpy arrays; save what backward needs in ``self.saved``."""
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - every op overrides it
        """Given d(loss)/d(output), return d(loss)/d(input) for each input (None: not needed)."""
        raise NotImplementedError

    def release(self):
        """Drop the arrays saved for backward; the graph's shape stays, for pictures."""
        self.saved = None
        self.released = True


def topological_order(root, include_constants: bool = False) -> list:
    """All tensors that ``root`` was computed from, inputs before outputs.

    Only tensors that require grad are visited unless ``include_constants`` (the picture
    wants inputs and constants too; backward does not). An explicit stack instead of
    recursion, so a chain of 100,000 ops works. Shared by ``backward`` and ``draw_graph``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([1.0], requires_grad=True)
        >>> [t.shape for t in topological_order((a * 2).sum())]
        [(1,), (1,), ()]
    """
    # Keyed by id(tensor), never by the tensor: == on tensors is elementwise. The stack and
    # `order` hold the tensors themselves, so no id is reused while the walk runs.
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        op = node._op
        if op is not None:
            for parent in op.parents:
                if (include_constants or parent.requires_grad) and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward(root, grad=None, retain_graph: bool = False, on_step=None) -> None:
    """Reverse-mode autodiff: add d(root)/d(leaf) into ``leaf.grad`` for every leaf.

    Gradients flowing into one tensor from several uses are summed (a diamond gets both
    contributions), and leaf gradients accumulate across calls, as in PyTorch; call
    ``zero_grad()`` between steps. Unless ``retain_graph`` is True, the arrays each op saved
    are released afterwards, so memory is freed right away.

    ``on_step``, if given, is called after each op's backward with what the walk just did:
    ``on_step(tensor, grad, sent)``, ``sent`` holding ``(input, gradient sent to it, running
    sum before or None, running sum after)`` per input that got one. It only watches (it
    is how ``explain_backward`` records the steps without a second chain rule).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(3.0, requires_grad=True)
        >>> b = a + a          # a is used twice ...
        >>> (b * b).backward() # ... d(4a^2)/da = 8a
        >>> a.grad
        array(24., dtype=float32)
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: none of its inputs had "
            "requires_grad=True (or it was computed inside no_grad()). "
            "Create parameters with Tensor(..., requires_grad=True)."
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output, got shape {root.shape}. "
                "Reduce it first (e.g. loss.sum() or loss.mean()) or pass "
                "grad=np.ones(shape) explicitly."
            )
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(grad.data if hasattr(grad, "data") else grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"backward(grad=...) got grad of shape {grad.shape} for a tensor of shape {root.shape}")

    if _recorder is not None:
        _recorder.backward(root, grad, retain_graph)
    grads = {id(root): grad}  # by id(tensor), as in topological_order; `order` keeps them alive
    order = topological_order(root)
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        op = node._op
        if op is None:  # a leaf (parameter or input): accumulate in place
            if node.grad is None:
                node.grad = np.array(g, dtype=node.dtype, copy=True)
            else:
                node.grad += g
            continue
        if op.released:
            raise RuntimeError(
                f"backward() through {op.name} a second time, but its saved arrays were freed "
                "by the first backward(). Pass retain_graph=True to the first call if you "
                "need to go backward twice, or recompute the forward pass."
            )
        input_grads = op.backward(g)
        if not isinstance(input_grads, tuple) or len(input_grads) != len(op.parents):
            raise RuntimeError(
                f"{op.name}.backward must return a tuple with one gradient (or None) per input, "
                f"{len(op.parents)} here; got {type(input_grads).__name__}. Write e.g. `return (grad_x,)`."
            )
        if _recorder is not None:  # jit lays out its arrays for these gradients as numpy did here
            _recorder.gradients(node, input_grads)
        sent = []
        for parent, parent_grad in zip(op.parents, input_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            data = parent.data
            if parent_grad.shape != data.shape:  # broadcast in forward: sum the copies' grads
                returned = parent_grad.shape
                try:
                    parent_grad = unbroadcast(parent_grad, data.shape)
                except (ValueError, IndexError):  # not a broadcast of the input's shape at all
                    pass
                if parent_grad.shape != data.shape:
                    raise RuntimeError(
                        f"{op.name}.backward returned a gradient of shape {returned} "
                        f"for an input of shape {data.shape}"
                    )
            if parent_grad.dtype != data.dtype:
                parent_grad = parent_grad.astype(data.dtype)
            earlier = grads.get(id(parent))
            grads[id(parent)] = parent_grad if earlier is None else earlier + parent_grad
            if on_step is not None:  # the watcher's record of this contribution
                sent.append((parent, parent_grad, earlier, grads[id(parent)]))
        if on_step is not None:
            on_step(node, g, sent)
        if not retain_graph:
            op.release()


# ----------------------------------------------------------------- elementwise, two inputs
# Gradients may come back in the output's broadcast shape: backward() sums them down to each
# input's shape (unbroadcast), once, for every op.


class Add(Function):
    """a + b. d/da = 1, d/db = 1: the gradient passes through unchanged to both.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor(3.0, requires_grad=True)
        >>> Add.apply(a, b).sum().backward()
        >>> a.grad, b.grad      # b was broadcast to both elements: its two grads are summed
        (array([1., 1.], dtype=float32), array(2., dtype=float32))
    """

    rule = "d/da = 1, d/db = 1"

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """a - b. d/da = 1, d/db = -1.

    A primitive rather than ``a + (-b)``: every loss subtracts a target, and the negation
    would be one more pass over the batch.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor(5.0, requires_grad=True), Tensor(2.0, requires_grad=True)
        >>> Sub.apply(a, b).backward()
        >>> a.grad, b.grad
        (array(1., dtype=float32), array(-1., dtype=float32))
    """

    rule = "d/da = 1, d/db = -1"

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    """a * b. d/da = b, d/db = a: each input's gradient is the other input.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
        >>> Mul.apply(a, b).backward()
        >>> a.grad, b.grad
        (array(5., dtype=float32), array(2., dtype=float32))
    """

    rule = "d/da = b, d/db = a"

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Pow(Function):
    """a ** b with b a tensor. d/da = b a^(b-1), d/db = a^b log(a) (defined for a > 0).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
        >>> Pow.apply(a, b).backward()
        >>> a.grad, b.grad.round(3)      # 3 * 2^2, 2^3 * log 2
        (array(12., dtype=float32), np.float32(5.545))
    """

    rule = "d/da = b a^(b-1), d/db = a^b log(a)"

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
    """a ** p for a fixed number p. d/da = p a^(p-1).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(3.0, requires_grad=True)
        >>> PowScalar.apply(a, exponent=2).backward()
        >>> a.grad                       # 2 * 3
        array(6., dtype=float32)
    """

    rule = "d/da = p a^(p-1)"

    def forward(self, a, exponent):
        self.exponent = exponent
        self.saved = a
        return a**exponent

    def backward(self, grad):
        a, p = self.saved, self.exponent
        if p == 0:  # a^0 = 1 everywhere: no slope, even at 0 (where 0 * 0^-1 would be NaN)
            return (np.zeros_like(a),)
        return (grad * (p * a ** (p - 1)),)


class Maximum(Function):
    """max(a, b) elementwise. d/da = 1 where a > b, d/db = 1 where b > a; on a tie, 1/2 each.

    The half on ties is the average of the two one-sided derivatives, which is what central
    differences see. ``minimum`` and ``clip`` are written with it.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([1.0, 5.0, 3.0], requires_grad=True)
        >>> Maximum.apply(a, Tensor(3.0)).sum().backward()
        >>> a.grad
        array([0. , 1. , 0.5], dtype=float32)
    """

    rule = "d/da = [a > b], d/db = [b > a], 1/2 each on a tie"

    def forward(self, a, b):
        self.saved = (a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved
        share_a = np.where(a == b, 0.5, a > b).astype(grad.dtype)
        need_a, need_b = self.needs_input_grad
        return (grad * share_a if need_a else None), (grad * (1 - share_a) if need_b else None)


# ----------------------------------------------------------------- elementwise, one input


class Abs(Function):
    """|a|. d/da = sign(a): -1, 0 at 0 (as in PyTorch), 1; NaN stays NaN.

    A primitive, not ``a * sign(a)``: sign(a) would be a constant taken from the data, which a
    compiled step (jit.py) cannot replay; nor ``maximum(a, -a)``, which gives -0.0 at 0 and a
    gradient of -1 at NaN.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> Abs.apply(a).sum().backward()
        >>> a.grad
        array([-1.,  0.,  1.], dtype=float32)
    """

    rule = "d/da = sign(a)"

    def forward(self, a):
        self.saved = a
        return np.abs(a)

    def backward(self, grad):
        return (grad * np.sign(self.saved),)


class Exp(Function):
    """exp(a). d/da = exp(a): the output itself, so forward keeps it.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(0.0, requires_grad=True)
        >>> Exp.apply(a).backward()
        >>> a.grad
        array(1., dtype=float32)
    """

    rule = "d/da = exp(a)"

    def forward(self, a):
        out = np.exp(a)
        self.saved = out
        return out

    def backward(self, grad):
        return (grad * self.saved,)


class Log(Function):
    """log(a), the natural logarithm. d/da = 1 / a.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(4.0, requires_grad=True)
        >>> Log.apply(a).backward()
        >>> a.grad
        array(0.25, dtype=float32)
    """

    rule = "d/da = 1 / a"

    def forward(self, a):
        self.saved = a
        return np.log(a)

    def backward(self, grad):
        return (grad / self.saved,)


class ReLU(Function):
    """max(a, 0). d/da = 1 where a > 0, else 0 (0 at a == 0, as in PyTorch).

    A primitive, though ``a * (a > 0)`` computes the same: that gives -0.0 for negative
    inputs, which prints confusingly.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([-1.0, 2.0], requires_grad=True)
        >>> ReLU.apply(a).sum().backward()
        >>> a.grad
        array([0., 1.], dtype=float32)
    """

    rule = "d/da = 1 where a > 0, else 0"

    def forward(self, a):
        self.saved = a > 0
        return np.maximum(a, 0)

    def backward(self, grad):
        return (grad * self.saved,)


class Sigmoid(Function):
    """s = 1 / (1 + exp(-a)). d/da = s (1 - s): again the output, so forward keeps it.

    The textbook formula is also the precise one: for a < 0, 1 + exp(-a) is a large number
    known to full precision, so sigmoid(-20) comes out as 2.06e-9 (writing it as
    0.5 + 0.5 tanh(a/2) would give 0, and log(sigmoid) would be -inf). Only below
    a = -88, where exp(-a) overflows float32 to inf, is the formula replaced: there
    1 + exp(a) is 1 to float32's precision, so sigmoid(a) = exp(a) / (1 + exp(a)) = exp(a),
    down to the smallest float32 (a = -103.9).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([0.0, -20.0], requires_grad=True)
        >>> [f"{v:.3g}" for v in Sigmoid.apply(a).data]
        ['0.5', '2.06e-09']
        >>> Sigmoid.apply(a).sum().backward()
        >>> [f"{v:.3g}" for v in a.grad]     # s (1 - s): 0.25 at 0
        ['0.25', '2.06e-09']
    """

    rule = "d/da = s (1 - s), s = sigmoid(a)"

    def forward(self, a):
        with np.errstate(over="ignore"):  # the far tail is fixed below
            s = np.asarray(1 / (1 + np.exp(-a)))
        far = a < -88
        if far.any():
            s[far] = np.exp(a[far])
        self.saved = s
        return s

    def backward(self, grad):
        s = self.saved
        return (grad * s * (1 - s),)


class Tanh(Function):
    """t = tanh(a). d/da = 1 - t^2.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(0.0, requires_grad=True)
        >>> Tanh.apply(a).backward()
        >>> a.grad
        array(1., dtype=float32)
    """

    rule = "d/da = 1 - tanh(a)^2"

    def forward(self, a):
        out = np.tanh(a)
        self.saved = out
        return out

    def backward(self, grad):
        t = self.saved
        return (grad * (1 - t * t),)


# ----------------------------------------------------------------- matrix product
# OpenBLAS (numpy's BLAS) hands a product to its thread pool above m*n*k = 4 * 65536
# multiply-adds. For a small network's products the hand-off costs far more than it saves:
# 10 ms instead of 0.2 ms for a 128x10 @ 10x784 product on a busy 2-core machine
# (benchmarks/bench_student_loop.py). So products up to SMALL_PRODUCT multiply-adds are
# computed in row or column blocks below that threshold: each block runs on the calling
# thread, and no thread setting changes anywhere. SPLIT_SMALL_PRODUCTS = False is plain a @ b
# (a step jit compiled earlier keeps the choice it was compiled with: _support/jit_rules.py).
SPLIT_SMALL_PRODUCTS = True
ONE_THREAD_WORK = 4 * 65536  # OpenBLAS's GEMM_MULTITHREAD_THRESHOLD * SMP_THRESHOLD_MIN
SMALL_PRODUCT = 1 << 23  # ~8 million (batch 1024 here); larger ones: plain a @ b, BLAS decides


def matmul_in_small_blocks(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b``; a small 2-D product is computed in blocks that BLAS runs on one thread.
    ``out``: an array of the result's shape and dtype to write it into (jit.py passes one).

    Example:
        >>> import numpy as np
        >>> a, b = np.ones((128, 784), np.float32), np.ones((784, 10), np.float32)
        >>> bool((matmul_in_small_blocks(a, b) == a @ b).all())
        True
    """
    if not SPLIT_SMALL_PRODUCTS or a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b, out=out)
    (m, k), n = a.shape, b.shape[1]
    work = m * n * k
    if work <= ONE_THREAD_WORK or work > SMALL_PRODUCT:
        return np.matmul(a, b, out=out)
    out = np.empty((m, n), dtype=np.result_type(a, b)) if out is None else out
    step = ONE_THREAD_WORK // (n * k)
    if step >= 1:  # blocks of rows of a: each block's rows of out are contiguous, as BLAS wants
        for i in range(0, m, step):
            np.matmul(a[i:i + step], b, out=out[i:i + step])
    else:  # even one row is too much work: blocks of columns, each made whole, then copied in
        step = max(1, ONE_THREAD_WORK // (m * k))
        for j in range(0, n, step):
            out[:, j:j + step] = a @ b[:, j:j + step]
    return out



class MatMul(Function):
    """C = A @ B with numpy's rules (2-D, batched, 1-D on either side). dA = G @ B^T, dB = A^T @ G.

    Why the transposes: C[i, j] = sum_k A[i, k] B[k, j], so A[i, k] touches every C[i, j]
    with weight B[k, j], and dA[i, k] = sum_j G[i, j] B[k, j], which is (G @ B^T)[i, k].
    A 1-D operand is a row (left) or column (right) matrix, as in numpy, and its gradient is
    squeezed back; batch axes that were broadcast are summed away by backward().

    Example:
        >>> from tinygrad_ae import Tensor
        >>> A = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> B = Tensor([[3.0], [4.0]], requires_grad=True)
        >>> MatMul.apply(A, B).backward()
        >>> A.grad, B.grad               # G = [[1]]: dA = B^T, dB = A^T
        (array([[3., 4.]], dtype=float32), array([[1.],
               [2.]], dtype=float32))
    """

    rule = "dA = G @ B.T, dB = A.T @ G"

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
        return matmul_in_small_blocks(a, b)

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        # As matrices: a 1-D operand gets its missing axis back as size 1, and so does grad.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if need_a:
            grad_a = matmul_in_small_blocks(g2, np.swapaxes(b2, -1, -2))
            grad_a = grad_a[..., 0, :] if a.ndim == 1 else grad_a
        if need_b:
            grad_b = matmul_in_small_blocks(np.swapaxes(a2, -1, -2), g2)
            grad_b = grad_b[..., 0] if b.ndim == 1 else grad_b
        return grad_a, grad_b


# ----------------------------------------------------------------- reductions


def _keepdims_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keepdims=True (to re-broadcast grads)."""
    if axis is None or len(shape) == 0:  # numpy lets a 0-d array be summed over axis 0 or -1
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {ax % len(shape) for ax in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """Sum over ``axis`` (None, an int or a tuple). d/da = 1 for every summed element:
    each element gets the gradient of the sum it went into.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> (Sum.apply(a, axis=1) * Tensor([1.0, 10.0])).sum().backward()
        >>> a.grad
        array([[ 1.,  1.],
               [10., 10.]], dtype=float32)
    """

    rule = "d/da = 1 (each element gets its sum's grad)"

    def forward(self, a, axis=None, keepdims=False):
        self.in_shape, self.axis = a.shape, axis
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        grad = grad.reshape(_keepdims_shape(self.in_shape, self.axis))
        return (np.broadcast_to(grad, self.in_shape),)


class Max(Function):
    """Max over ``axis``. d/da = 1 for the largest element, 0 elsewhere; ties share it equally.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([[1.0, 5.0], [3.0, 3.0]], requires_grad=True)
        >>> Max.apply(a, axis=1).sum().backward()
        >>> a.grad
        array([[0. , 1. ],
               [0.5, 0.5]], dtype=float32)
    """

    rule = "d/da = 1 at the max (shared among ties), else 0"

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
    """a.reshape(shape). The same numbers in a new arrangement: the grad is reshaped back.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        >>> Reshape.apply(a, shape=(2, 2)).sum().backward()
        >>> a.grad.shape
        (4,)
    """

    rule = "grad reshaped back to a's shape"

    def forward(self, a, shape):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


class Transpose(Function):
    """a.transpose(axes). The grad is permuted back by the inverse permutation.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor.zeros(2, 3, 4, requires_grad=True)
        >>> Transpose.apply(a, axes=(2, 0, 1)).sum().backward()
        >>> a.grad.shape
        (2, 3, 4)
    """

    rule = "grad transposed back (inverse permutation)"

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
    """a[index] with slices, integers, integer arrays and boolean masks. d/da = 1 at the
    picked elements, 0 elsewhere.

    The grad is scattered back into zeros of a's shape with ``np.add.at``, which adds rather
    than overwrites when an index repeats: ``a[[0, 0]]`` uses a[0] twice, so it gets 2 grads.
    A boolean mask picks where it is True, so only those elements get a grad.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([10.0, 20.0, 30.0], requires_grad=True)
        >>> GetItem.apply(a, index=[2, 0, 0]).sum().backward()
        >>> a.grad
        array([2., 0., 1.], dtype=float32)
        >>> a.grad = None
        >>> GetItem.apply(a, index=np.array([True, False, True])).sum().backward()
        >>> a.grad
        array([1., 0., 1.], dtype=float32)
    """

    rule = "grad scattered back to the picked elements (repeats add)"

    def forward(self, a, index):
        self.in_shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, grad):
        out = np.zeros(self.in_shape, dtype=self.dtype)
        np.add.at(out, self.index, grad)
        return (out,)


class Concatenate(Function):
    """np.concatenate(arrays, axis). The grad is split back into the pieces.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor([1.0], requires_grad=True), Tensor([2.0, 3.0], requires_grad=True)
        >>> (Concatenate.apply(a, b, axis=0) * Tensor([1.0, 2.0, 3.0])).sum().backward()
        >>> a.grad, b.grad
        (array([1.], dtype=float32), array([2., 3.], dtype=float32))
    """

    rule = "grad split back into the pieces"

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, np.cumsum(self.sizes)[:-1], axis=self.axis))


class Where(Function):
    """np.where(cond, a, b) for a fixed boolean ``cond``. d/da = cond, d/db = not cond.

    A primitive because the composition ``a * cond + b * (1 - cond)`` computes both branches
    into the result: an inf or NaN in the branch *not* chosen (``where(x > 0, x.log(), 0)``)
    would turn ``inf * 0`` into NaN there.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([9.0, 9.0], requires_grad=True)
        >>> Where.apply(a, b, cond=np.array([True, False])).sum().backward()
        >>> a.grad, b.grad
        (array([1., 0.], dtype=float32), array([0., 1.], dtype=float32))
    """

    rule = "d/da = cond, d/db = not cond"

    def forward(self, a, b, cond):
        self.cond = cond
        return np.asarray(np.where(cond, a, b))

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        return (np.where(self.cond, grad, 0) if need_a else None), (np.where(self.cond, 0, grad) if need_b else None)


# ----------------------------------------------------------------- more elementwise maths
# Each of these could only be composed badly: sin and cos not at all from exp/log of reals,
# log1p and expm1 only as log(1 + a) and exp(a) - 1, which lose every digit for tiny a.


class Sin(Function):
    """sin(a). d/da = cos(a).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(0.0, requires_grad=True)
        >>> Sin.apply(a).backward(); a.grad
        array(1., dtype=float32)
    """

    rule = "d/da = cos(a)"

    def forward(self, a):
        self.saved = a
        return np.sin(a)

    def backward(self, grad):
        return (grad * np.cos(self.saved),)


class Cos(Function):
    """cos(a). d/da = -sin(a).

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(np.pi / 2, requires_grad=True)
        >>> Cos.apply(a).backward(); a.grad
        array(-1., dtype=float32)
    """

    rule = "d/da = -sin(a)"

    def forward(self, a):
        self.saved = a
        return np.cos(a)

    def backward(self, grad):
        return (-grad * np.sin(self.saved),)


class Log1p(Function):
    """log(1 + a), exact for tiny a (log1p(1e-10) is 1e-10; log(1 + 1e-10) is 0 in float32). d/da = 1 / (1 + a).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(1.0, requires_grad=True)
        >>> Log1p.apply(a).backward(); a.grad
        array(0.5, dtype=float32)
    """

    rule = "d/da = 1 / (1 + a)"

    def forward(self, a):
        self.saved = a
        return np.log1p(a)

    def backward(self, grad):
        return (grad / (1 + self.saved),)


class Expm1(Function):
    """exp(a) - 1, exact for tiny a. d/da = exp(a), which is the output plus 1.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(0.0, requires_grad=True)
        >>> Expm1.apply(a).backward(); a.grad
        array(1., dtype=float32)
    """

    rule = "d/da = exp(a) = output + 1"

    def forward(self, a):
        out = np.expm1(a)
        self.saved = out
        return out

    def backward(self, grad):
        return (grad * (self.saved + 1),)


class Erf(Function):
    """The error function erf(a), for the exact GELU. d/da = 2 / sqrt(pi) exp(-a^2).

    numpy has no erf, so forward applies Python's ``math.erf`` to each element (exact, but a
    Python call per element: about 0.1 s per million).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(0.0, requires_grad=True)
        >>> Erf.apply(a).backward(); a.grad.round(4)
        np.float32(1.1284)
    """

    rule = "d/da = 2 / sqrt(pi) exp(-a^2)"
    _erf = np.frompyfunc(math.erf, 1, 1)

    def forward(self, a):
        self.saved = a
        return np.asarray(self._erf(a), dtype=a.dtype)

    def backward(self, grad):
        a = self.saved
        return (grad * (2 / math.sqrt(math.pi)) * np.exp(-a * a),)


class Prod(Function):
    """Product over ``axis``. d/da_i = the product of the other elements of a_i's group.

    Not ``out / a``, which is 0 / 0 wherever an element is zero (and inexact for tiny ones):
    the product of the others is the product of everything before a_i times everything
    after it, two running products (``cumprod``) from either end.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> Prod.apply(a).backward(); a.grad
        array([0., 6., 0.], dtype=float32)
    """

    rule = "d/da_i = product of the other elements"

    def forward(self, a, axis=None, keepdims=False):
        self.axis = axis
        self.saved = a
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdims))

    def backward(self, grad):
        a = self.saved
        axes = tuple(range(a.ndim)) if self.axis is None else tuple(np.atleast_1d(self.axis) % max(a.ndim, 1))
        if a.ndim == 0:
            return (grad * np.ones_like(a),)
        # the reduced axes moved to the end and merged into one: groups are rows
        kept = [i for i in range(a.ndim) if i not in axes]
        rows = np.transpose(a, kept + list(axes)).reshape([a.shape[i] for i in kept] + [-1])
        ones = np.ones(rows.shape[:-1] + (1,), dtype=a.dtype)
        before = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (before * after).reshape([a.shape[i] for i in kept] + [a.shape[i] for i in axes])
        others = np.transpose(others, np.argsort(kept + list(axes)))
        return (others * grad.reshape(_keepdims_shape(a.shape, self.axis)),)


class Cumsum(Function):
    """Running sum along ``axis``. d/da_i = 1 for every output at or after i: the grad is
    summed from the end backwards (a reversed cumsum).

    A primitive because the composition (a triangular matrix of ones times a) costs n^2.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> Cumsum.apply(a, axis=0).sum().backward(); a.grad
        array([3., 2., 1.], dtype=float32)
    """

    rule = "grad = reversed cumsum of the output's grad"

    def forward(self, a, axis):
        self.axis = axis
        return np.cumsum(a, axis=axis)

    def backward(self, grad):
        return (np.flip(np.cumsum(np.flip(grad, self.axis), axis=self.axis), self.axis),)
