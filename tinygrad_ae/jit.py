"""``jit``: trace a training step once, then replay it straight on numpy arrays.

Eager autodiff pays for its flexibility on every step: each op makes a Tensor, links it into
a graph, and ``backward()`` sorts that graph before it can walk it. But a training step does
the same ops on the same shapes every time, so :func:`jit` watches one call (it *traces*):
it writes down each primitive's ``forward``, the order ``backward()`` visits them in, and the
optimizer's ``zero_grad``/``step``. A second traced call must write down the very same plan
(this catches most steps whose ops depend on the data). From then on a call with inputs of
the same shapes and dtypes *replays* the plan: the recorded primitives' own ``forward`` and
``backward`` run on numpy arrays, with no Tensor objects, no graph and no sort. Any
:class:`~tinygrad_ae.Function` subclass compiles, because it is its own forward and backward
that are replayed. The plan is then written out as the source of one straight-line Python
function (``step.source()`` prints it; the generator is ``_support/jit_codegen.py``): the
common ops write into arrays made once, shared by ops that are never alive at the same time,
with the very same numbers. tinygrad's ``TinyJit`` does the same at a larger scale (it
records GPU kernels and replays them), and JAX's ``jit`` traces a function into a graph that
a compiler (XLA) turns into fused machine code; both, like this one, re-trace for new input
shapes.

State changed outside the ops is replayed only through methods decorated with
``autograd.seen_by_jit`` (the optimizers' ``zero_grad`` and ``step``, ``clip_grad_norm``,
BatchNorm's running averages): each replay calls them again, passing any op output they got
as that step's array.

What does not compile: other Python work in the step
(printing, counters, ``loss.item()``) runs only while tracing; control flow that depends on
tensor values is replayed as traced (a different path on the second call is an error, one
that changes later cannot be seen); tensors that require grad must exist before the step.
Values read as constants are those of the trace: a layer's train/eval mode, and BatchNorm's
running averages in eval mode. Compile one step per mode, and call ``step.reset()`` when such
values change (``fit`` compiles only its training step, in training mode).

``fit`` (in ``training.py``) compiles its step with this by default. Read next: ``dataset.py``.

Example:
    >>> import numpy as np
    >>> from tinygrad_ae import MLP, Dense, SGD, Tensor, mse, jit
    >>> model = MLP([Dense(3, 2, seed=0)])
    >>> opt = SGD(model.parameters(), lr=0.1)
    >>> def train_step(x, y):
    ...     opt.zero_grad()
    ...     loss = mse(model(Tensor(x)), Tensor(y))
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> step = jit(train_step)
    >>> x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    >>> losses = [step(x, y).item() for _ in range(4)]   # trace, check, replay, replay
    >>> losses[3] < losses[0], step.plans
    (True, 1)
"""

from __future__ import annotations

import warnings

import numpy as np

from . import autograd
from .autograd import topological_order, unbroadcast
from .tensor import Tensor

# Where an op's input comes from: an earlier op's output, a parameter (read live, so that
# loading weights into it is seen), the step's i-th argument, or a constant array.
OUTPUT, PARAMETER, ARGUMENT, CONSTANT = "output", "parameter", "argument", "constant"
_loads = [0]  # bumped by MLP.load: new parameter tensors make every plan stale


def parameters_replaced() -> None:
    """Make every compiled step re-trace on its next call (``MLP.load`` calls this).

    Example:
        >>> parameters_replaced()
    """
    _loads[0] += 1


class JitError(RuntimeError):
    """A step that cannot be compiled, with what differed and how to fix it."""


def jit(step_fn, fallback: bool = False):
    """Compile ``step_fn(*arrays)`` (zero_grad, forward, loss, backward, optimizer step).

    Returns a callable :class:`CompiledStep`; see the module docstring for what compiles. A
    step that cannot be compiled raises :class:`JitError`, or with ``fallback=True`` warns
    once and runs eagerly from then on (``fit`` does that).

    Example:
        >>> step = jit(lambda x: (Tensor(x) * 2).sum())
        >>> [float(step(np.ones(3, np.float32)).item()) for _ in range(3)]
        [6.0, 6.0, 6.0]
    """
    return CompiledStep(step_fn, fallback)


class CompiledStep:
    """A step function with one replay plan per input signature (shapes and dtypes).

    Example:
        >>> step = CompiledStep(lambda x: Tensor(x).sum())
        >>> for n in (2, 2, 5, 5):   # each shape: traced, then traced again and checked
        ...     _ = step(np.ones(n, np.float32))
        >>> step.plans
        2
    """

    def __init__(self, step_fn, fallback: bool = False):
        self.step_fn, self.fallback, self.eager = step_fn, fallback, False
        self._plans, self._first_trace, self._loads = {}, {}, _loads[0]

    @property
    def plans(self) -> int:
        """How many input signatures have a verified plan."""
        return len(self._plans)

    def source(self) -> str:
        """The Python function the newest plan runs (with ``GENERATE_CODE``; '' before a plan).

        Example:
            >>> step = jit(lambda x: Tensor(x).exp().sum())
            >>> _ = [step(np.ones(2, np.float32)) for _ in range(2)]
            >>> step.source().splitlines()[0]
            'def replay(A, T):'
        """
        plans = [plan for plan in self._plans.values() if hasattr(plan, "text")]
        return plans[-1].text if plans else ""

    def reset(self) -> None:
        """Forget every plan: the next calls trace again."""
        self._plans.clear()
        self._first_trace.clear()

    def __call__(self, *args):
        if self.eager:
            return self.step_fn(*args)
        if self._loads != _loads[0]:
            self.reset()
            self._loads = _loads[0]
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        # shapes and dtypes, and which arguments are one and the same array (x is y, say, for an
        # autoencoder without noise): a trace reads such an array from the first of them
        ids = [id(a) for a in arrays]
        key = tuple(((a.shape, a.dtype.str) if isinstance(a, np.ndarray) else ("value", repr(a)), ids.index(i))
                    for a, i in zip(arrays, ids))
        plan = self._plans.get(key)
        if plan is not None:
            return plan.run(args, arrays)
        recorder = Recorder(args)
        result = recorder.trace(self.step_fn)
        first = self._first_trace.pop(key, None)
        if first is None:
            self._first_trace[key] = recorder
        else:
            difference = first.difference(recorder)
            if difference:
                message = (f"jit: the step did different work on its second call ({difference}). Only "
                           "steps whose ops do not depend on the data's values can be compiled; "
                           "run this one eagerly (fit(..., jit=False)).")
                if not self.fallback:
                    raise JitError(message)
                warnings.warn(message + " Running it eagerly from now on.", stacklevel=2)
                self.eager = True
            self._plans[key] = _make_plan(recorder)
        return result


class Recorder:
    """Watches one eager call of the step and writes down its plan (``autograd._recorder``)."""

    def __init__(self, args):
        self.args, self.arrays = args, [a.data if isinstance(a, Tensor) else a for a in args]
        self.forward, self.events = [], []
        self.arrays_seen = []  # per op: its inputs' and its output's (shape, dtype), and the output's memory order
        self.produced, self.produced_data = {}, {}  # id(tensor), id(its array) -> op index
        self.keep = []  # the traced tensors stay alive while tracing, so that ids stay unique
        self.seen_parameters = {}  # id -> (tensor, its values when first used or after the last call)
        self.gradient_orders = {}  # (op index, input index) -> memory order of eager's gradient
        self.inside_call = 0

    def trace(self, step_fn):
        """Call ``step_fn`` eagerly with this recorder listening; check what it returned."""
        if autograd._recorder is not None:
            raise JitError("jit: a compiled step called another compiled step while tracing")
        autograd._recorder = self
        try:
            result = step_fn(*self.args)
        finally:
            autograd._recorder = None
        self.returns = self._returned(result)
        self._check_parameters_unchanged()
        self.keep = self.seen_parameters = self.produced = self.produced_data = None  # the trace's arrays can go now
        return result

    def _returned(self, result):
        if result is None:
            return None
        if isinstance(result, Tensor):
            return self.ref(result)
        if isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) for r in result):
            return type(result), [self.ref(r) for r in result]
        raise JitError(f"jit: the step returned {type(result).__name__}; return tensors (or None), "
                       "e.g. the loss Tensor, so that replays can return them too")

    def ref(self, tensor):
        """Where ``tensor``'s array comes from (see OUTPUT, PARAMETER, ARGUMENT, CONSTANT)."""
        if id(tensor) in self.produced:
            return OUTPUT, self.produced[id(tensor)]
        for i, (arg, array) in enumerate(zip(self.args, self.arrays)):
            if tensor is arg or tensor.data is array:
                return ARGUMENT, i
        if id(tensor.data) in self.produced_data:  # e.g. out.detach(): an op's output all the same
            return OUTPUT, self.produced_data[id(tensor.data)]
        if tensor.requires_grad:
            self.seen_parameters.setdefault(id(tensor), (tensor, tensor.data.copy()))
            return PARAMETER, tensor
        return CONSTANT, tensor.data

    def op(self, op, inputs, options, out) -> None:
        """Called by ``Function.apply`` after each op: record it (not inside optimizer calls)."""
        if self.inside_call:
            return
        fresh = type(op)()  # its own instance: replays overwrite its saved arrays, not the graph's
        fresh.needs_input_grad = op.needs_input_grad or (False,) * len(inputs)
        self.forward.append((fresh, [self.ref(t) for t in inputs], options))
        self.arrays_seen.append(([(t.shape, t.dtype) for t in inputs], (out.shape, out.dtype), _memory_order(out.data)))
        self.produced[id(out)] = self.produced_data[id(out.data)] = len(self.forward) - 1
        self.keep.append(out)

    def call(self, obj, name, args, kwargs) -> None:
        """Called when an optimizer method starts: record ``obj.name(*args)`` (not nested calls).
        An argument that is an op's output (BatchNorm hands over its batch's mean and variance)
        is recorded as that op's number, so that each replay passes the new step's array."""
        if self.inside_call == 0:
            self._check_parameters_unchanged()
            for tensor in getattr(obj, "params", None) or ():  # an optimizer's: watched from here on
                if isinstance(tensor, Tensor):
                    self.seen_parameters.setdefault(id(tensor), (tensor, tensor.data.copy()))
            args = tuple(self._call_argument(a) for a in args)
            kwargs = {key: self._call_argument(value) for key, value in kwargs.items()}
            self.events.append(("call", len(self.forward), (obj, name, args, kwargs)))
        self.inside_call += 1

    def _call_argument(self, value):
        if isinstance(value, Tensor) and (ref := self.ref(value))[0] == OUTPUT:  # (ref: also a detached output)
            return OpOutput(ref[1])
        return value

    def call_done(self) -> None:
        """Called when that optimizer method returns: parameters may have changed inside it."""
        self.inside_call -= 1
        if self.inside_call == 0:
            self.seen_parameters = {key: (t, t.data.copy()) for key, (t, _) in self.seen_parameters.items()}

    def _check_parameters_unchanged(self) -> None:
        """Refuse a step that changed a parameter outside the recorded calls: no replay would."""
        for tensor, before in self.seen_parameters.values():
            if tensor.data.shape != before.shape or not np.array_equal(tensor.data, before, equal_nan=True):
                raise JitError("jit: the step changed a parameter outside an optimizer (e.g. "
                               "p.data -= lr * p.grad), which a replay would not repeat; use an "
                               "optimizer from optim.py, or a method decorated with seen_by_jit")

    def backward(self, root, grad, retain_graph=False) -> None:
        """Called by ``backward()`` before its walk: record the walk's order, node by node (and
        whether the ops keep their saved arrays for another backward())."""
        if self.inside_call:
            return
        walk = []
        for node in reversed(topological_order(root)):
            source = self.ref(node)
            parents = [] if node._op is None else [
                (self.ref(p), p.requires_grad, p.shape, p.dtype) for p in node._op.parents]
            walk.append((source, parents))
        self.events.append(("backward", len(self.forward), (self.ref(root), grad, walk, retain_graph)))

    def gradients(self, node, input_grads) -> None:
        """Called by ``backward()`` after each op's backward: how numpy laid out each input's
        gradient in memory (a sum over a differently laid out copy would add in another order)."""
        if not self.inside_call and id(node) in self.produced:
            i = self.produced[id(node)]
            for j, grad in enumerate(input_grads):
                if isinstance(grad, np.ndarray):
                    self.gradient_orders[i, j] = _memory_order(grad)

    def difference(self, other) -> str:
        """'' if two traces did the same work, else the first thing that differed."""
        mine = [(type(op).__name__, refs, options) for op, refs, options in self.forward]
        theirs = [(type(op).__name__, refs, options) for op, refs, options in other.forward]
        if len(mine) != len(theirs):
            return f"{len(mine)} ops, then {len(theirs)}"
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if a[0] != b[0]:
                return f"op {i} was {a[0]}, then {b[0]}"
            if not _same(a, b):
                return f"op {i} ({a[0]}) got other inputs, constants or options"
        if not _same(self.events, other.events) or not _same(self.returns, other.returns):
            return "the backward walk or the optimizer calls differed"
        return ""


def _same(a, b) -> bool:
    """Equal values, arrays compared by their numbers, tensors and optimizers by identity."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (Tensor, autograd.Function)) or not isinstance(a, (int, float, str, type(None), np.generic, np.dtype, type)):
        return a is b or (isinstance(a, autograd.Function) and type(a) is type(b))
    return type(a) is type(b) and a == b


class Plan:
    """A verified trace, replayed by :meth:`run` on numpy arrays.

    The trace is turned into one list of instructions once, with every dictionary key and
    method looked up in advance, so that a replay does little Python beyond the numpy calls.
    """

    def __init__(self, recorder):
        self.size, self.returns = len(recorder.forward), recorder.returns
        self.instructions, done = [], 0
        for kind, at, detail in recorder.events + [("end", len(recorder.forward), None)]:
            for i in range(done, at):  # the ops recorded before this event
                op, refs, options = recorder.forward[i]
                self.instructions.append(("forward", i, (op.forward, refs, options)))
            done = at
            if kind == "call":
                obj, name, call_args, kwargs = detail
                self.instructions.append(("call", None, (getattr(obj, name), call_args, kwargs)))
            elif kind == "backward":
                root, grad, walk, retain_graph = detail
                steps = [(_key(source), source, None if source[0] != OUTPUT else recorder.forward[source[1]][0],
                          [(_key(parent), requires_grad, shape, dtype) for parent, requires_grad, shape, dtype in parents])
                         for source, parents in walk]
                self.instructions.append(("backward", None, (root, _key(root), grad, steps, retain_graph)))

    def run(self, args, arrays):
        """One replayed step: the recorded forwards, backward walks and optimizer calls in order."""
        values = [None] * self.size
        for kind, i, detail in self.instructions:
            if kind == "forward":
                forward, refs, options = detail
                data = forward(*[_fetch(r, values, arrays) for r in refs], **options)
                values[i] = data if type(data) is np.ndarray else np.asarray(data)
            elif kind == "call":
                method, call_args, kwargs = detail
                method(*[_call_value(a, values) for a in call_args], **{k: _call_value(v, values) for k, v in kwargs.items()})
            else:
                self._backward(values, args, arrays, *detail)
        return self._result(self.returns, values, arrays)

    @staticmethod
    def _backward(values, args, arrays, root, root_key, grad, steps, retain_graph):
        """``autograd.backward``'s loop over the recorded order (the error checks passed at trace)."""
        grads = {root_key: np.ones_like(_fetch(root, values, arrays)) if grad is None else grad}
        for key, source, op, parents in steps:
            g = grads.pop(key, None)
            if g is None:
                continue
            if op is None:  # a leaf: accumulate into its .grad, as eager does
                leaf = source[1] if source[0] == PARAMETER else args[source[1]]
                if not isinstance(leaf, Tensor):  # Tensor(x, requires_grad=True) made inside the step
                    continue
                if leaf.grad is None:
                    leaf.grad = np.array(g, dtype=leaf.dtype, copy=True)
                else:
                    leaf.grad += g
                continue
            input_grads = op.backward(g)
            if not retain_graph:
                op.saved = None  # freed right away, as eager's release() does
            for (parent_key, requires_grad, shape, dtype), parent_grad in zip(parents, input_grads):
                if parent_grad is None or not requires_grad:
                    continue
                if parent_grad.shape != shape:
                    parent_grad = unbroadcast(parent_grad, shape)
                if parent_grad.dtype != dtype:
                    parent_grad = parent_grad.astype(dtype)
                earlier = grads.get(parent_key)
                grads[parent_key] = parent_grad if earlier is None else earlier + parent_grad

    def _result(self, returns, values, arrays):
        if returns is None:
            return None
        if isinstance(returns[0], str):
            return Tensor(_fetch(returns, values, arrays))
        kind, refs = returns
        return kind(Tensor(_fetch(r, values, arrays)) for r in refs)


def _memory_order(array) -> tuple | None:
    """The axes from the largest stride to the smallest, or None for plain C order.

    Example:
        >>> _memory_order(np.zeros((2, 3))), _memory_order(np.zeros((2, 3, 4)).transpose(0, 2, 1))
        (None, (0, 2, 1))
    """
    order = tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))
    return None if order == tuple(range(array.ndim)) or array.size <= 1 else order


def _fetch(ref, values, arrays):
    """The array ``ref`` points to, in this replay."""
    kind, what = ref
    if kind == OUTPUT:
        return values[what]
    if kind == PARAMETER:
        return what.data
    if kind == ARGUMENT:
        return arrays[what]
    return what


class OpOutput(int):
    """A recorded call's argument that was op i's output: a replay passes op i's new array."""


def _call_value(argument, values):
    """A recorded call's argument in this replay: an op's new output, or the value as traced."""
    return values[argument] if type(argument) is OpOutput else argument


def _key(ref):
    """A dictionary key for a gradient: op outputs by index, leaves by identity."""
    return ref if ref[0] != CONSTANT and ref[0] != PARAMETER else (ref[0], id(ref[1]))


# ----------------------------------------------------------------- the fast replay
# Plan.run above is the plain replay. By default a verified trace is instead written out as
# the source of one straight-line Python function (_support/jit_codegen.py: every array a
# local variable, the common ops writing into arrays made once), with the same numbers.
GENERATE_CODE = True


def _make_plan(recorder):
    """The replay of a verified trace: generated code (``GENERATE_CODE``) or the plain loop."""
    if not GENERATE_CODE:
        return Plan(recorder)
    from ._support.jit_codegen import GeneratedPlan  # (it imports this module's names)
    return GeneratedPlan(recorder)
