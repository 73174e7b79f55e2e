"""Pictures with Graphviz: the compute graph behind a tensor (and, in ``architecture.py``,
the layers of a network).

Builders return a ``graphviz.Digraph`` (Jupyter shows it inline); ``graph.source`` is the DOT
text and needs no Graphviz installed. Turning it into an SVG or PNG needs the ``dot`` program;
without it, rendering fails at once with how to install it.

Colour legend of compute graphs (fixed, also drawn with ``legend=True``):

=============  ===========  ====================================================
colour         shape        meaning
=============  ===========  ====================================================
light blue     box          parameter: a leaf tensor with ``requires_grad=True``
light yellow   box          input or constant: a leaf without gradient
white          box          intermediate result
pale green     box (bold)   the output the graph was drawn from
light grey     ellipse      an op (``MatMul``, ``Add``, ...)
=============  ===========  ====================================================

Example:
    >>> from tinygrad_ae import Tensor, draw_graph
    >>> w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    >>> g = draw_graph((w * w).sum())
    >>> "Mul" in g.source and "Sum" in g.source
    True
"""

from __future__ import annotations

import os
import shutil

import graphviz
import numpy as np

from .autograd import topological_order
from .files import atomic_write_bytes

COLORS = {
    "parameter": "lightblue",
    "constant": "lightyellow",
    "intermediate": "white",
    "output": "palegreen",
    "op": "lightgrey",
}
FONT = "Courier"
RANKDIRS = ("LR", "TB", "RL", "BT")  # graphviz's directions: left-right, top-bottom, ...

INSTALL_HINT = (
    "Rendering needs the Graphviz 'dot' program, which is not on PATH. Install it with "
    "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) or "
    "'conda install graphviz'. Building the graph and reading its DOT text (graph.source) "
    "work without it."
)


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is missing, so a picture cannot be rendered."""


def require_dot() -> None:
    """Raise :class:`GraphvizNotFoundError` with an install hint unless ``dot`` is on PATH.

    Example:
        >>> import shutil
        >>> require_dot() if shutil.which("dot") else None
    """
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(INSTALL_HINT)


class Picture(graphviz.Digraph):
    """A ``graphviz.Digraph`` that checks for ``dot`` *before* rendering or displaying.

    Plain graphviz fails deep inside a subprocess call; this fails with the install hint.
    """

    def pipe(self, *args, **kwargs):
        require_dot()
        return super().pipe(*args, **kwargs)

    def render(self, *args, **kwargs):
        require_dot()
        return super().render(*args, **kwargs)


def render(graph: graphviz.Digraph, path, format: str | None = None) -> str:
    """Render ``graph`` to the file ``path`` (format from its suffix, SVG when it has none).

    The image is written atomically; no ``.gv`` source file is left beside it. Returns the
    path written.

    Example:
        >>> import os, tempfile, shutil
        >>> from tinygrad_ae import Tensor, draw_graph
        >>> g = draw_graph(Tensor([1.0], requires_grad=True).exp())
        >>> out = os.path.join(tempfile.mkdtemp(), "graph.svg")
        >>> render(g, out) == out if shutil.which("dot") else True
        True
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if format is None:
        if suffix in graphviz.FORMATS:
            format = suffix
        else:  # no suffix, or not a picture format ("graph_v1.0"): SVG
            format, path = "svg", path + ".svg"
    require_dot()
    data = graphviz.Digraph.pipe(graph, format=format)
    atomic_write_bytes(path, data)
    return path


def _tensor_label(t) -> str:
    """name / shape / dtype, plus the value of a scalar and |grad| once backward ran."""
    lines = []
    if t.name:
        lines.append(t.name)
    lines.append(f"{t.shape} {t.dtype}")
    if t.data.size == 1:
        lines.append(f"value {t.data.item():.4g}")
    if t.grad is not None:
        lines.append(f"|grad| {float(np.linalg.norm(t.grad)):.4g}")
    return "\n".join(lines)


def _tensor_kind(t, is_output: bool) -> str:
    if is_output:
        return "output"
    if t._op is not None:
        return "intermediate"
    return "parameter" if t.requires_grad else "constant"


def _op_label(op) -> str:
    options = [f"{k}={v}" for k, v in vars(op).items()
               if k in ("axis", "axes", "exponent", "shape") and v is not None]
    return op.name + (f"\n{', '.join(options)}" if options else "")


def draw_graph(tensor, rankdir: str = "LR", max_nodes: int = 200, legend: bool = False) -> Picture:
    """The compute graph that produced ``tensor``: tensors as boxes, ops as ellipses.

    Args:
        tensor: usually a loss; drawn in pale green.
        rankdir: "LR" (left to right, default) or "TB" (top to bottom).
        max_nodes: at most this many tensors are drawn, those nearest the output; the rest
            are folded into one "... N more" node so that big graphs stay readable.
        legend: add a small box explaining the colours.

    Uses the same iterative walk as ``backward`` (so deep graphs work), visiting constants
    too. Works before and after ``backward()``; afterwards parameters show |grad|.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> x = Tensor([[1.0, 2.0]], name="x")
        >>> W = Tensor([[0.5], [0.5]], requires_grad=True, name="W")
        >>> "W" in draw_graph((x @ W).relu().sum()).source
        True
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    order = topological_order(tensor, include_constants=True)
    hidden = order[:-max_nodes] if len(order) > max_nodes else []
    shown = order[len(hidden):]
    ids = {t: f"t{i}" for i, t in enumerate(shown)}

    graph = Picture(name="compute_graph", graph_attr={"rankdir": rankdir})
    graph.attr("node", fontname=FONT, fontsize="10", style="filled")
    graph.attr("edge", fontname=FONT)
    if hidden:
        graph.node("hidden", f"... {len(hidden)} earlier tensors\n(max_nodes={max_nodes})",
                   shape="note", fillcolor="white")
    for t in shown:
        kind = _tensor_kind(t, t is tensor)
        graph.node(ids[t], _tensor_label(t), shape="box", fillcolor=COLORS[kind],
                   penwidth="2" if t is tensor else "1")
        if t._op is None:
            continue
        op_id = "op" + ids[t]
        graph.node(op_id, _op_label(t._op), shape="ellipse", fillcolor=COLORS["op"])
        graph.edge(op_id, ids[t])
        for parent in t._op.parents:
            graph.edge(ids.get(parent, "hidden"), op_id)
    if legend:
        _add_legend(graph)
    return graph


def _add_legend(graph) -> None:
    rows = "".join(
        f'<TR><TD BGCOLOR="{color}">{kind}</TD></TR>' for kind, color in COLORS.items()
    )
    graph.node("legend", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">{rows}</TABLE>>',
               shape="plaintext", style="")
