"""Backpropagation, step by step: ``explain_backward`` runs ``backward()`` on your own graph and
records what every op did, so that you can print it, draw it, and play it like a film.

It is not a second chain rule: it calls the very walk of ``autograd.backward`` with a watcher
(``on_step``) that writes down, after each op, the gradient that arrived at the op's output and
the gradient it sent to each input, and, where an input is used more than once, the running sum
before and after (the gradient of a value used twice is the sum of both uses). The gradients
it leaves in ``.grad`` are exactly those ``root.backward()`` leaves. ``print(trace)`` reads
like a worked exercise; ``trace.frame(i)`` draws step ``i``; ``trace.to_html(path)`` writes a
player (one file, no network) and a notebook shows that player inline.

Read ``viz.py`` first (the pictures this builds on); this is the last concept module; the
player's HTML template is plumbing, in ``_support/player.html``.

Example:
    >>> from tinygrad_ae import Tensor, explain_backward
    >>> a = Tensor(2.0, requires_grad=True, name="a")
    >>> b = Tensor(3.0, requires_grad=True, name="b")
    >>> c = Tensor(4.0, requires_grad=True, name="c")
    >>> trace = explain_backward(a * b + c)
    >>> print(trace)                               # doctest: +NORMALIZE_WHITESPACE
    backward from t5 (shape ()): 2 steps, 3 leaves
    step 1  Add  t5.grad = 1  ->  t3.grad += 1 (d/da = 1), c.grad += 1 (d/db = 1)
    step 2  Mul  t3.grad = 1  ->  a.grad += 3 (d/da = b), b.grad += 2 (d/db = a)
    leaves: a.grad = 3, b.grad = 2, c.grad = 1
    >>> a.grad
    array(3., dtype=float32)
"""

from __future__ import annotations

from dataclasses import dataclass, field
import io

import numpy as np
from PIL import Image

from . import autograd
from .autograd import topological_order
from .gradcheck import central_difference
from .viz import draw_backward_frame, require_dot, summarize
from ._support.files import atomic_write_bytes
from ._support.player import player_fragment, player_page

MAX_FRAMES = 100  # the player of a bigger graph shows this many steps, evenly spread
SIDEWAYS_STEPS = 6  # frames of graphs with at most this many ops are drawn left to right
CHECK_ELEMENTS = 16  # check=True compares at most this many elements of each leaf
CHECK_TOLERANCE = (1e-3, 1e-2)  # (atol, rtol): float32 backward against float64 differences


@dataclass
class Contribution:
    """What one op sent to one input: the gradient, and the input's running sum around it."""

    name: str
    shape: tuple
    grad: np.ndarray
    before: np.ndarray | None  # the running sum before this use, None on the first use
    after: np.ndarray
    rule: str
    tensor: object = field(default=None, repr=False)  # the input tensor, for the pictures

    def __str__(self):
        text = f"{self.name}.grad += {summarize(self.grad)} ({self.rule})"
        if self.before is not None:  # a diamond: this value was used before
            text += f": {summarize(self.before)} -> {summarize(self.after)}"
        return text


@dataclass
class BackwardStep:
    """One op visited by backward: the gradient arriving at its output, and what it sent."""

    index: int  # 1-based, in walk order
    op: str
    rule: str
    output: str
    output_shape: tuple
    grad: np.ndarray
    inputs: list = field(default_factory=list)  # Contributions, one per input that got one
    constants: list = field(default_factory=list)  # names of inputs that need no gradient
    tensor: object = field(default=None, repr=False)  # the output tensor, for the pictures

    def __str__(self):
        sent = ", ".join(str(c) for c in self.inputs)
        return f"step {self.index}  {self.op}  {self.output}.grad = {summarize(self.grad)}  ->  {sent}"

    def explanation(self, names: dict) -> str:
        """The step as the player shows it: the rule, the values, and each input's gradient."""
        op = self.tensor._op
        args = ", ".join(names[id(p)] for p in op.parents)
        lines = [f"step {self.index}: {self.output} = {self.op}({args})", f"rule: {self.rule}", ""]
        lines += [f"  {names[id(p)]} = {summarize(p.data)}" for p in op.parents]
        lines += [f"  {self.output} = {summarize(self.tensor.data)}", "",
                  f"gradient arriving: {self.output}.grad = {summarize(self.grad)}", ""]
        for c in self.inputs:
            lines.append(f"{c.name}.grad += {summarize(c.grad)}   ({c.rule}, times the arriving grad)")
            if c.before is not None:
                lines.append(f"  used before: running sum {summarize(c.before)} -> {summarize(c.after)}")
        lines += [f"{name}: constant, no gradient" for name in self.constants]
        return "\n".join(lines)


@dataclass
class LeafCheck:
    """check=True: a leaf's analytic gradient beside central differences at a few elements."""

    name: str
    indices: list
    analytic: np.ndarray
    numeric: np.ndarray

    @property
    def ok(self) -> bool:
        """True when every checked element agrees within ``CHECK_TOLERANCE``."""
        atol, rtol = CHECK_TOLERANCE
        return bool(np.all(np.abs(self.analytic - self.numeric) <= atol + rtol * np.abs(self.numeric)))

    def __str__(self):
        worst = float(np.max(np.abs(self.analytic - self.numeric), initial=0.0))
        return (f"check {self.name}: analytic {summarize(self.analytic)} vs central difference "
                f"{summarize(self.numeric)} at {len(self.indices)} element(s), max |diff| {worst:.2g}"
                f" {'ok' if self.ok else 'DIFFERS'}")


def reading_order(root) -> list:
    """The tensors behind ``root``, inputs before outputs, first input's side first (a * b + c:
    a, b, a*b, c, the sum), the order a person reads the expression in.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> a, b = Tensor(1.0, name="a"), Tensor(2.0, requires_grad=True, name="b")
        >>> [t.name for t in reading_order(a * b)]
        ['a', 'b', None]
    """
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # iterative, like topological_order, but visiting inputs left to right
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            parents = node._op.parents if node._op is not None else ()
            stack.extend((p, False) for p in reversed(parents) if id(p) not in seen)
    return order


def _tensor_names(order) -> dict:
    """{id(tensor): its name, or t1, t2, ... in forward order for unnamed tensors}."""
    return {id(t): t.name or f"t{i}" for i, t in enumerate(order, start=1)}


def _rule_parts(op) -> list:
    """One rule per input when the rule lists them ("d/da = b, d/db = a"), else the whole rule."""
    rule = op.rule or op.name  # a student's op without a rule still traces
    parts = [part.strip() for part in rule.split(", ")]
    return parts if len(op.parents) > 1 and len(parts) == len(op.parents) else [rule] * len(op.parents)


def explain_backward(root, grad=None, check: bool = False) -> "BackwardTrace":
    """Run ``root.backward(grad)`` and record every step of it in a :class:`BackwardTrace`.

    Args:
        root: the tensor to differentiate (usually a loss); see ``autograd.backward``.
        grad: d(something)/d(root); needed when ``root`` is not a scalar.
        check: also estimate each leaf's gradient by central differences (float64, replaying
            the recorded forward pass; at most ``CHECK_ELEMENTS`` elements per leaf).

    The ``.grad`` of every leaf ends up exactly as ``root.backward(grad)`` leaves it, and the
    saved arrays are released as usual.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> x = Tensor(3.0, requires_grad=True, name="x")
        >>> trace = explain_backward(x * x, check=True)
        >>> print(trace[0])
        step 1  Mul  t2.grad = 1  ->  x.grad += 3 (d/da = b), x.grad += 3 (d/db = a): 3 -> 6
        >>> trace.checks[0].ok, x.grad
        (True, array(6., dtype=float32))
    """
    names = _tensor_names(reading_order(root))
    steps = []

    def record(node, arriving, sent):
        op = node._op
        contributions, constants, pending = [], [], list(sent)
        for parent, rule in zip(op.parents, _rule_parts(op)):  # sent follows the inputs' order
            if pending and pending[0][0] is parent:
                _, g, before, after = pending.pop(0)
                contributions.append(Contribution(names[id(parent)], parent.shape, g, before, after, rule, parent))
            else:
                constants.append(names[id(parent)])
        steps.append(BackwardStep(len(steps) + 1, op.name, op.rule or op.name, names[id(node)],
                                  node.shape, arriving, contributions, constants, node))

    autograd.backward(root, grad, on_step=record)
    # The gradient backward started from (a leaf as root has no step to read it from).
    seed = steps[0].grad if steps else np.ones_like(root.data) if grad is None else np.asarray(grad, root.dtype)
    trace = BackwardTrace(root, names, steps, seed)
    if check:
        trace.checks = _check_leaves(root, trace)
    return trace


def _replay(root, order, values: dict) -> np.ndarray:
    """The forward pass again from the recorded ops, with leaf arrays taken from ``values``."""
    computed = {}
    for t in order:
        if t._op is None:
            computed[id(t)] = values.get(id(t), t.data)
        else:
            inputs = [computed[id(p)] for p in t._op.parents]
            computed[id(t)] = type(t._op)().forward(*inputs, **t._op.options)
    return computed[id(root)]


def _check_leaves(root, trace) -> list:
    """Central differences of sum(root * seed) at a few elements of every leaf, in float64."""
    order = topological_order(root, include_constants=True)
    values = {id(t): np.array(t.data, dtype=np.float64) for t in order
              if t._op is None and np.issubdtype(t.dtype, np.floating)}
    seed = np.asarray(trace.seed, dtype=np.float64)
    checks = []
    for leaf, analytic in trace.leaves():
        x = values[id(leaf)]
        flat = np.unique(np.linspace(0, x.size - 1, min(x.size, CHECK_ELEMENTS)).round().astype(int))
        indices = [np.unravel_index(k, x.shape) for k in flat]
        numeric = [central_difference(lambda: float((_replay(root, order, values) * seed).sum()), x, i)
                   for i in indices]
        checks.append(LeafCheck(trace.names[id(leaf)], indices,
                                np.array([analytic[i] for i in indices]), np.array(numeric)))
    return checks


class BackwardTrace:
    """The steps of one backward pass, in walk order: print it, index it, draw it, play it.

    ``len(trace)`` steps; ``trace[i]`` is a :class:`BackwardStep`; ``trace.checks`` holds the
    central-difference checks when ``explain_backward(..., check=True)`` made them.

    Example:
        >>> from tinygrad_ae import Tensor, explain_backward
        >>> w = Tensor([1.0, 2.0], requires_grad=True, name="w")
        >>> trace = explain_backward((w * w).sum())
        >>> len(trace), [step.op for step in trace]
        (2, ['Sum', 'Mul'])
    """

    def __init__(self, root, names: dict, steps: list, seed):
        self.root, self.names, self.steps, self.seed = root, names, steps, seed
        self.checks = None

    def __len__(self):
        return len(self.steps)

    def __getitem__(self, index):
        return self.steps[index]

    def __iter__(self):
        return iter(self.steps)

    def leaves(self) -> list:
        """``[(leaf tensor, the gradient this backward gave it)]`` in forward order: the last word."""
        final = {}
        if not self.steps:  # backward on a leaf itself
            final[id(self.root)] = (self.root, self.seed)
        for step in self.steps:
            for c in step.inputs:
                if c.tensor._op is None:
                    final[id(c.tensor)] = (c.tensor, c.after)
        return [final[id(t)] for t in reading_order(self.root) if id(t) in final]

    def __str__(self):
        leaves = self.leaves()
        lines = [f"backward from {self.names[id(self.root)]} (shape {self.root.shape}): "
                 f"{len(self.steps)} steps, {len(leaves)} leaves"]
        lines += [str(step) for step in self.steps]
        lines.append("leaves: " + ", ".join(f"{self.names[id(t)]}.grad = {summarize(g)}" for t, g in leaves))
        lines += [str(check) for check in self.checks or ()]
        return "\n".join(lines)

    def __repr__(self):
        return f"<BackwardTrace: {len(self.steps)} steps from {self.names[id(self.root)]}>"

    def frame(self, i: int, rankdir: str | None = None, max_nodes: int = 40):
        """The compute graph at step ``i`` (0-based), as a ``graphviz.Digraph``.

        The op of step ``i`` is orange, the edges the gradient has travelled red, every
        gradient known so far written on its tensor; tensors not reached yet are grey.
        ``rankdir`` None: left to right for a few ops, top to bottom for more (a long row of
        boxes would shrink to an unreadable strip on screen). A graph of more than
        ``max_nodes`` tensors is drawn around the current op only.

        Example:
            >>> from tinygrad_ae import Tensor, explain_backward
            >>> a = Tensor(2.0, requires_grad=True, name="a")
            >>> picture = explain_backward(a.exp()).frame(0)
            >>> "orange" in picture.source and "grad 7.389" in picture.source
            True
        """
        if not -len(self.steps) <= i < len(self.steps):
            raise IndexError(f"frame {i} of a trace with {len(self.steps)} steps (0 to {len(self.steps) - 1})")
        i %= len(self.steps)
        grads, done = {id(self.root): self.seed}, set()
        for step in self.steps[:i + 1]:
            done.add(id(step.tensor))
            grads.update((id(c.tensor), c.after) for c in step.inputs)
        step = self.steps[i]
        if rankdir is None:
            rankdir = "LR" if len(self.steps) <= SIDEWAYS_STEPS else "TB"
        title = f"step {step.index} of {len(self.steps)}: {step.op}   {step.rule}"
        return draw_backward_frame(self.root, self.names, grads, done, step.tensor, title, rankdir, max_nodes)

    def _frames(self, max_frames: int, format: str) -> tuple:
        """The step numbers shown (all, or ``max_frames`` evenly spread) and their pictures."""
        if not self.steps:
            raise ValueError("this trace has no steps (backward started at a leaf): nothing to play")
        require_dot()
        count = min(len(self.steps), max_frames)
        shown = sorted(set(np.linspace(0, len(self.steps) - 1, count).round().astype(int).tolist()))
        return shown, [self.frame(i).pipe(format=format) for i in shown]

    def _player_frames(self, max_frames: int) -> tuple:
        shown, pictures = self._frames(max_frames, "svg")
        leaves = "\n\nthe last word, every leaf's gradient:\n" + "\n".join(
            f"  {self.names[id(t)]}.grad = {summarize(g)}" for t, g in self.leaves())
        leaves += "".join(f"\n{check}" for check in self.checks or ())
        frames = []
        for i, svg in zip(shown, pictures):
            svg = svg.decode("utf-8")
            text = self.steps[i].explanation(self.names) + (leaves if i == len(self.steps) - 1 else "")
            frames.append({"svg": svg[svg.index("<svg"):], "text": text, "step": i + 1})
        note = f"{len(self.steps)} steps, {len(shown)} frames"
        if len(shown) < len(self.steps):
            note += f" (every {len(self.steps) / len(shown):.1f}th step; max_frames={max_frames})"
        return frames, note

    def to_html(self, path, max_frames: int = MAX_FRAMES) -> str:
        """Write the player (one self-contained HTML file, no network) to ``path``; returns it.

        Example:
            >>> import os, tempfile, shutil
            >>> from tinygrad_ae import Tensor, explain_backward
            >>> trace = explain_backward(Tensor(2.0, requires_grad=True).exp())
            >>> out = os.path.join(tempfile.mkdtemp(), "backward.html")
            >>> trace.to_html(out) == out if shutil.which("dot") else True
            True
        """
        frames, note = self._player_frames(max_frames)
        title = f"backward() from {self.names[id(self.root)]}, step by step"
        atomic_write_bytes(path, player_page(frames, title, note).encode("utf-8"))
        return str(path)

    def _repr_html_(self):
        """Jupyter shows the player inline (its script runs in classic Notebook and JupyterLab)."""
        frames, note = self._player_frames(MAX_FRAMES)
        return player_fragment(frames, note)

    def to_gif(self, path, seconds_per_frame: float = 1.5, max_frames: int = MAX_FRAMES) -> str:
        """Write the frames as an animated GIF (for slides and READMEs); returns ``path``.

        Example:
            >>> import os, tempfile, shutil
            >>> from tinygrad_ae import Tensor, explain_backward
            >>> trace = explain_backward(Tensor(2.0, requires_grad=True).exp())
            >>> out = os.path.join(tempfile.mkdtemp(), "backward.gif")
            >>> trace.to_gif(out) == out if shutil.which("dot") else True
            True
        """
        _, pictures = self._frames(max_frames, "png")
        images = [Image.open(io.BytesIO(png)).convert("RGB") for png in pictures]
        width, height = max(im.width for im in images), max(im.height for im in images)
        canvas = []
        for image in images:  # frames differ in size (labels grow): pad all to the largest
            padded = Image.new("RGB", (width, height), "white")
            padded.paste(image, (0, 0))
            canvas.append(padded)
        buffer = io.BytesIO()
        canvas[0].save(buffer, format="GIF", save_all=True, append_images=canvas[1:],
                       duration=int(seconds_per_frame * 1000), loop=0)
        atomic_write_bytes(path, buffer.getvalue())
        return str(path)
