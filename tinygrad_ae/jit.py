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
function (``step.source()`` prints it): the common ops write into arrays made once, shared
by ops that are never alive at the same time, with the very same numbers (see the end of this
file). tinygrad's ``TinyJit`` does the same at a larger scale (it records GPU kernels and
replays them), and JAX's ``jit`` traces a function into a graph that a compiler (XLA) turns
into fused machine code; both, like this one, re-trace for new input shapes.

What does not compile: Python work in the step that is not an op or an optimizer call
(printing, counters, ``loss.item()``) runs only while tracing; control flow that depends on
tensor values is replayed as traced (a different path on the second call is an error, one
that changes later cannot be seen); tensors that require grad must exist before the step.

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

import functools
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
            self._plans[key] = GeneratedPlan(recorder) if GENERATE_CODE else Plan(recorder)
        return result


class Recorder:
    """Watches one eager call of the step and writes down its plan (``autograd._recorder``)."""

    def __init__(self, args):
        self.args, self.arrays = args, [a.data if isinstance(a, Tensor) else a for a in args]
        self.forward, self.events = [], []
        self.arrays_seen = []  # per op: its inputs' and its output's (shape, dtype), and the output's memory order
        self.produced, self.produced_data = {}, {}  # id(tensor), id(its array) -> op index
        self.keep = []  # the traced tensors stay alive while tracing, so that ids stay unique
        self.seen_parameters = {}  # id -> (tensor, its values when the trace first used it)
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
        if not any(kind == "call" for kind, _, _ in self.events):
            for tensor, before in self.seen_parameters.values():
                if not np.array_equal(tensor.data, before, equal_nan=True):
                    raise JitError("jit: the step changed a parameter outside an optimizer (e.g. "
                                   "p.data -= lr * p.grad), which a replay would not repeat; use an "
                                   "optimizer from optim.py, or a method decorated with seen_by_jit")
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
        """Called when an optimizer method starts: record ``obj.name(*args)`` (not nested calls)."""
        if self.inside_call == 0:
            self.events.append(("call", len(self.forward), (obj, name, args, kwargs)))
        self.inside_call += 1

    def call_done(self) -> None:
        """Called when that optimizer method returns."""
        self.inside_call -= 1

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
                method(*call_args, **kwargs)
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


def _empty(shape, dtype, order=None) -> np.ndarray:
    """``np.empty(shape, dtype)`` laid out in memory in ``order`` (see _memory_order).

    Example:
        >>> a = _empty((2, 3, 4), np.float32, (0, 2, 1))
        >>> a.shape, _memory_order(a)
        ((2, 3, 4), (0, 2, 1))
    """
    if order is None:
        return np.empty(shape, dtype)
    return np.empty([shape[axis] for axis in order], dtype).transpose(np.argsort(order))


def _summed_axes(shape, target):
    """The leading axes that ``unbroadcast`` sums to take ``shape`` to ``target``, when that
    is all it does (a bias added to every row); else None.

    Example:
        >>> _summed_axes((128, 784), (784,)), _summed_axes((4, 3), (4, 1))
        ((0,), None)
    """
    if len(shape) <= len(target) or tuple(shape[len(shape) - len(target):]) != tuple(target):
        return None
    return tuple(range(len(shape) - len(target)))


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


def _key(ref):
    """A dictionary key for a gradient: op outputs by index, leaves by identity."""
    return ref if ref[0] != CONSTANT and ref[0] != PARAMETER else (ref[0], id(ref[1]))


# ----------------------------------------------------------------- the fast replay: generated code
# Plan.run above is the plain replay: a loop that looks at each instruction, fetches its
# inputs and calls the op. A compiler does that looking once. GeneratedPlan writes the
# verified trace out as the source of one straight-line Python function (print it with
# step.source()): every array is a local variable, every shape and dtype question was
# answered while tracing, and the ops with a rule in _support/jit_rules.py write into arrays
# made once per plan (numpy's out=) instead of new ones every step; the others call their
# own forward/backward, as Plan does. Same numbers as Plan, bit for bit (tests/test_jit.py).
GENERATE_CODE = True
# ... and lets ops whose arrays are never alive at the same time share one (share_buffers)
SHARE_BUFFERS = True


class GeneratedPlan:
    """A verified trace as one generated Python function: see the comment above.

    In the source, ``A[i]`` is the step's i-th array argument, ``P[k]`` a parameter, ``C[k]``
    a constant, ``B[k]`` an array made once with the plan, ``O[k]`` an op without a rule (``X[k]``
    its options), ``K[k]`` an optimizer call, ``H`` the helpers in _support/jit_rules.py, ``v<i>`` op i's output and ``g<n>_<i>`` its gradient in the
    n-th backward().

    Example:
        >>> step = jit(lambda x: (Tensor(x) * 2).sum())
        >>> _ = [step(np.ones(3, np.float32)) for _ in range(2)]
        >>> print(step.source().splitlines()[1])        # op 0, Mul, into an array made once
            v0 = np.multiply(A[0], C[0], out=B[0])  # op 0: Mul
    """

    def __init__(self, recorder):
        from ._support import jit_rules

        self.parameters, self.constants, self.ops, self.options, self.calls, self.buffers = [], [], [], [], [], []
        self.trace_ops, self.arrays_seen = recorder.forward, recorder.arrays_seen
        self.return_kind, self.saved = None, {}  # saved: what a forward rule keeps for its backward rule
        self.out_shape, self.out_order = (), None  # the op being written: its output's shape and memory order
        lines, done = [], 0
        for number, (kind, at, detail) in enumerate(recorder.events + [("end", len(recorder.forward), None)]):
            for i in range(done, at):  # the ops recorded before this event
                lines += self._forward(i, jit_rules)
            done = at
            if kind == "call":
                obj, name, call_args, kwargs = detail
                self.calls.append(functools.partial(getattr(obj, name), *call_args, **kwargs))
                lines.append(f"K[{len(self.calls) - 1}]()  # {type(obj).__name__}.{name}")
            elif kind == "backward":
                lines += self._backward(number, *detail, jit_rules)
        lines.append(f"return {self._returned(recorder.returns)}")
        if SHARE_BUFFERS:
            lines, specs = jit_rules.share_buffers(lines, [(b.shape, b.dtype, _memory_order(b)) for b in self.buffers])
            self.buffers[:] = [_empty(shape, dtype, order) for shape, dtype, order in specs]
        self.text = "def replay(A, T):\n" + "".join(f"    {line}\n" for line in lines)
        namespace = {"np": np, "H": jit_rules, "P": self.parameters, "C": self.constants, "O": self.ops,
                     "X": self.options, "K": self.calls, "B": self.buffers, "R": self.return_kind}
        exec(compile(self.text, "<jit plan>", "exec"), namespace)
        self.function = namespace["replay"]
        self.trace_ops = self.arrays_seen = None

    def value(self, ref) -> str:
        """The expression for an array: ``v<i>``, ``A[i]``, ``P[k].data`` or ``C[k]``."""
        kind, what = ref
        if kind == OUTPUT:
            return f"v{what}"
        if kind == ARGUMENT:
            return f"A[{what}]"
        return f"P[{self._index(self.parameters, what)}].data" if kind == PARAMETER else f"C[{self._index(self.constants, what)}]"

    @staticmethod
    def _index(pool, item) -> int:
        for k, known in enumerate(pool):
            if known is item:
                return k
        pool.append(item)
        return len(pool) - 1

    def buffer(self, shape, dtype) -> str:
        """A new array made once with this plan, for a rule to write into: ``B[k]``. One of the
        op's output's shape is laid out in memory as eager's output was (a convolution's output is
        channels-last under its NCHW shape), so that the ops after it read it as fast as eagerly."""
        order = self.out_order if tuple(shape) == tuple(self.out_shape) else None
        self.buffers.append(_empty(shape, dtype, order))
        return f"B[{len(self.buffers) - 1}]"

    def _op(self, i):
        """Op i as traced: (op, refs, options, inputs, shape, dtype); buffer() now lays out its output."""
        op, refs, options = self.trace_ops[i]
        inputs, (shape, dtype), self.out_order = self.arrays_seen[i]
        self.out_shape = shape
        return op, refs, options, inputs, shape, dtype

    def _forward(self, i, rules) -> list:
        op, refs, options, inputs, shape, dtype = self._op(i)
        names = [self.value(r) for r in refs]
        rule = rules.FORWARD.get(type(op))
        lines = rule(self, f"v{i}", names, inputs, shape, dtype, options) if rule else None
        if lines is None:  # no rule (or none for these shapes): the op's own forward, as Plan runs it
            self.ops.append(op)
            self.options.append(options)
            k = len(self.ops) - 1
            op.jit_index = k
            lines = [f"v{i} = H.as_array(O[{k}].forward({', '.join(names)}, **X[{k}]))"]
        return [lines[0] + f"  # op {i}: {type(op).__name__}"] + lines[1:]

    def _backward(self, number, root, grad, walk, retain_graph, rules) -> list:
        """One backward() call's walk, in the recorded order: a block per node reached."""
        def gname(ref):
            kind, what = ref
            if kind == OUTPUT:
                return f"g{number}_{what}"
            return f"g{number}_a{what}" if kind == ARGUMENT else f"g{number}_p{self._index(self.parameters, what)}"

        # Which gradients may exist at each point (assigned) and which surely do (sure), known
        # while writing the code: a block runs under "if g is not None" only when g may be missing.
        root_name = gname(root)
        assigned, sure = {root_name}, {root_name}
        lines = [" = ".join(gname(source) for source, _ in walk) + " = None"]
        lines.append(f"{root_name} = " + (f"np.ones_like({self.value(root)})" if grad is None
                                           else self.value((CONSTANT, grad))))

        def send(p, expr, guarded, block):
            """Add one gradient contribution ``expr`` to ``p``, as backward() does."""
            if p not in assigned:
                block.append(f"{p} = {expr}")
            else:
                block.append(f"{p} = {p} + {expr}" if p in sure else f"{p} = {expr} if {p} is None else {p} + {expr}")
            assigned.add(p)
            if not guarded:
                sure.add(p)

        for source, parents in walk:
            g, block = gname(source), []
            if g not in assigned:  # no gradient reaches this node
                continue
            guarded = g not in sure
            if source[0] == PARAMETER:  # a leaf: accumulate into its .grad, as eager does
                leaf = self.value(source)[:-len(".data")]
                block += [f"if {leaf}.grad is None: H.accumulate({leaf}, {g})", f"else: {leaf}.grad += {g}"]
            elif source[0] == ARGUMENT:
                block.append(f"H.accumulate(T[{source[1]}], {g})")
            elif source[0] == OUTPUT:
                i = source[1]
                op, refs, options, inputs, shape, dtype = self._op(i)
                rule = rules.BACKWARD.get(type(op)) if getattr(op, "jit_index", None) is None else None
                if rule is not None:
                    block, results = rule(self, g, [self.value(r) for r in refs], inputs, f"v{i}", shape, dtype,
                                          options, op.needs_input_grad)
                else:  # the op's own backward; its saved arrays are freed right away, as eager does
                    k = op.jit_index  # (the comment names what it saved: share_buffers keeps those alive)
                    block = [f"r = O[{k}].backward({g})  # saved {', '.join(self.value(r) for r in refs)}"]
                    if not retain_graph:  # else a later backward() reads them again
                        block.append(f"O[{k}].saved = None")
                    results = [(f"r[{j}]", None, None) for j in range(len(parents))]
                for (parent, requires_grad, p_shape, p_dtype), (expr, r_shape, r_dtype) in zip(parents, results):
                    if not requires_grad or expr is None or parent[0] == CONSTANT:
                        continue
                    p, p_shape = gname(parent), tuple(p_shape)
                    if r_shape == p_shape and r_dtype == p_dtype:
                        send(p, expr, guarded, block)
                    # a broadcast input, e.g. a bias: unbroadcast's sum over the leading axes (r_shape is
                    # None for an op's own backward, whose r_dtype None would equal a float64 dtype)
                    elif r_shape is not None and r_dtype == p_dtype and (summed := _summed_axes(r_shape, p_shape)):
                        block.append(f"r = np.add.reduce({expr}, axis={summed})")
                        send(p, "r", guarded, block)
                    else:  # None, or to be summed down (unbroadcast) and cast, as Plan does
                        block.append(f"{p} = H.add_grad({p}, {expr}, {p_shape}, np.{np.dtype(p_dtype).name})")
                        assigned.add(p)
            if guarded and block:
                lines.append(f"if {g} is not None:")
                lines += [f"    {line}" for line in block]
            else:
                lines += block
        return lines

    def _returned(self, returns) -> str:
        """The returned tensors, copied: this plan's arrays are overwritten by the next replay."""
        if returns is None:
            return "None"
        if isinstance(returns[0], str):
            return f"H.Tensor(np.array({self.value(returns)}))"
        self.return_kind, refs = returns
        return "R([" + ", ".join(f"H.Tensor(np.array({self.value(r)}))" for r in refs) + "])"

    def run(self, args, arrays):
        """One replay: call the generated function."""
        return self.function(arrays, args)
