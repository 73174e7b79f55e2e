"""``jit``'s fast replay: a verified trace written out as one generated Python function.

``Plan.run`` in ``jit.py`` is the plain replay: a loop that looks at each instruction, fetches
its inputs and calls the op. A compiler does that looking once. ``GeneratedPlan`` writes the
verified trace out as the source of one straight-line Python function (print it with
``step.source()``): every array is a local variable, every shape and dtype question was
answered while tracing, and the ops with a rule in ``jit_rules.py`` write into arrays made
once per plan (numpy's ``out=``) instead of new ones every step; the others call their own
forward/backward, as ``Plan`` does. Ops whose arrays are never alive at the same time share
one (``jit_rules.share_buffers``). Same numbers as ``Plan``, bit for bit (``tests/test_jit.py``).
"""

from __future__ import annotations

import re

import numpy as np

from ..jit import ARGUMENT, CONSTANT, OUTPUT, PARAMETER, OpOutput, _memory_order
from . import jit_rules

# Let ops whose arrays are never alive at the same time share one (share_buffers).
SHARE_BUFFERS = True


class GeneratedPlan:
    """A verified trace as one generated Python function: see this module's opening paragraph.

    In the source, ``A[i]`` is the step's i-th array argument, ``P[k]`` a parameter, ``C[k]``
    a constant, ``B[k]`` an array made once with the plan, ``O[k]`` an op without a rule
    (``X[k]`` its options), ``K[k]`` an optimizer call, ``H`` the helpers in jit_rules.py,
    ``v<i>`` op i's output and ``g<n>_<i>`` its gradient in the n-th backward().

    Example:
        >>> from tinygrad_ae import Tensor, jit
        >>> step = jit(lambda x: (Tensor(x) * 2).sum())
        >>> _ = [step(np.ones(3, np.float32)) for _ in range(2)]
        >>> print(step.source().splitlines()[1])        # op 0, Mul, into an array made once
            v0 = np.multiply(A[0], C[0], out=B[0])  # op 0: Mul
    """

    def __init__(self, recorder):
        self.parameters, self.constants, self.ops, self.options, self.calls, self.buffers = [], [], [], [], [], []
        self.trace_ops, self.arrays_seen = recorder.forward, recorder.arrays_seen
        self.gradient_orders = recorder.gradient_orders
        self.return_kind, self.saved = None, {}  # saved: what a forward rule keeps for its backward rule
        self.out_shape, self.out_order = (), None  # the op being written: its output's shape and memory order
        lines, done = [], 0
        for number, (kind, at, detail) in enumerate(recorder.events + [("end", len(recorder.forward), None)]):
            for i in range(done, at):  # the ops recorded before this event
                lines += self._forward(i, jit_rules)
            done = at
            if kind == "call":
                obj, name, call_args, kwargs = detail
                self.calls.append(getattr(obj, name))
                passed = [self._call_argument(a) for a in call_args]
                passed += [f"{key}={self._call_argument(value)}" for key, value in kwargs.items()]
                lines.append(f"K[{len(self.calls) - 1}]({', '.join(passed)})  # {type(obj).__name__}.{name}")
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

    def _call_argument(self, argument) -> str:
        """A recorded call's argument in the source: ``v<i>`` for op i's output, else ``C[k]``."""
        return f"v{argument}" if type(argument) is OpOutput else self.value((CONSTANT, argument))

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
                    self._lay_out_as_eager(i, results)
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

    def _lay_out_as_eager(self, i, results) -> None:
        """Give a rule's gradient arrays the memory layout eager's gradients had: the same numbers
        either way, but a sum over them (a bias's gradient, say) adds in memory order."""
        for j, (expr, shape, dtype) in enumerate(results):
            bare = re.fullmatch(r"B\[(\d+)\]", expr or "")
            if bare and (i, j) in self.gradient_orders:  # (an order of None is plain C order)
                order = self.gradient_orders[i, j]
                if _memory_order(self.buffers[int(bare.group(1))]) != order:
                    self.buffers[int(bare.group(1))] = _empty(shape, dtype, order)

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
