"""The engine: how an op is recorded, and the one graph walk that runs backward.

Every differentiable op is a subclass of :class:`Function` (see ``ops.py`` and
``array_ops.py``) with a ``forward`` that computes numpy arrays and a ``backward`` that turns
the output's gradient into one gradient per input. ``Function.apply`` runs ``forward`` and, when some input requires a
gradient, links the output tensor to this op so that :func:`backward` can find its way back.

Example:
    >>> from tinygrad_ae import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4.], dtype=float32)
"""

from __future__ import annotations

import contextlib

import numpy as np

_grad_enabled = True


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
    # saved: the arrays backward needs.
    parents: tuple = ()
    needs_input_grad: tuple = ()
    saved = None
    released = False

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
        except (ValueError, IndexError) as error:
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise type(error)(f"{op.name} of shape{'s' if len(inputs) > 1 else ''} {shapes}: {error}") from None
        out = inputs[0]._from_op(data)
        if _grad_enabled:
            needs = tuple([t.requires_grad for t in inputs])  # (a list is built faster than a generator runs)
            if True in needs:
                op.parents = inputs
                op.needs_input_grad = needs
                out.requires_grad = True
                out._op = op
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
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        op = node._op
        if op is not None:
            for parent in op.parents:
                if (include_constants or parent.requires_grad) and parent not in visited:
                    stack.append((parent, False))
    return order


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Reverse-mode autodiff: add d(root)/d(leaf) into ``leaf.grad`` for every leaf.

    Gradients flowing into one tensor from several uses are summed (a diamond gets both
    contributions), and leaf gradients accumulate across calls, as in PyTorch; call
    ``zero_grad()`` between steps. Unless ``retain_graph`` is True, the arrays each op saved
    are released afterwards, so memory is freed right away.

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

    grads = {root: grad}
    for node in reversed(topological_order(root)):
        g = grads.pop(node, None)
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
            earlier = grads.get(parent)
            grads[parent] = parent_grad if earlier is None else earlier + parent_grad
        if not retain_graph:
            op.release()
