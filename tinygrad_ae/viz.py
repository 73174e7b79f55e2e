"""Pictures with Graphviz: the compute graph behind a tensor (``draw_graph``) and the layers
of a network (``draw_architecture``, behind ``MLP.plotGraph``).

Builders return a ``graphviz.Digraph`` (Jupyter shows it inline); ``graph.source`` is the DOT
text and needs no Graphviz installed. Turning it into an SVG or PNG (``render``) needs the
``dot`` program; without it, rendering fails at once with how to install it.

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

Colour legend of architecture pictures (fixed, as in the seed notebook):

======  ===========  =========  =========  ==========================================
layer   colour       fill       border     units
======  ===========  =========  =========  ==========================================
input   light red    #f8cecc    #b85450    x1, x2, ...
hidden  light blue   #dae8fc    #6c8ebf    h1, h2, ... (the smallest is the bottleneck)
output  light green  #d5e8d4    #82b366    y1, y2, ...
======  ===========  =========  =========  ==========================================

Next comes ``explain.py``, which plays backward() on these pictures step by step; the
package's plumbing (files, the MNIST download, the model format) lives in ``_support/``,
which you never need to open.

Example:
    >>> from tinygrad_ae import Tensor, draw_graph
    >>> w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    >>> g = draw_graph((w * w).sum())
    >>> "Mul" in g.source and "Sum" in g.source
    True
    >>> "#dae8fc" in draw_architecture([6, 3, 6], ["ReLU", "Sigmoid"]).source
    True
"""

from __future__ import annotations

import math
import os
import shutil

import graphviz
import numpy as np

from .autograd import topological_order
from ._support.checks import whole_number
from ._support.files import atomic_write_bytes

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
    ids = {id(t): f"t{i}" for i, t in enumerate(shown)}  # by id: == on tensors is elementwise

    graph = Picture(name="compute_graph", graph_attr={"rankdir": rankdir})
    graph.attr("node", fontname=FONT, fontsize="10", style="filled")
    graph.attr("edge", fontname=FONT)
    if hidden:
        graph.node("hidden", f"... {len(hidden)} earlier tensors\n(max_nodes={max_nodes})",
                   shape="note", fillcolor="white")
    for t in shown:
        kind = _tensor_kind(t, t is tensor)
        graph.node(ids[id(t)], _tensor_label(t), shape="box", fillcolor=COLORS[kind],
                   penwidth="2" if t is tensor else "1")
        if t._op is None:
            continue
        op_id = "op" + ids[id(t)]
        graph.node(op_id, _op_label(t._op), shape="ellipse", fillcolor=COLORS["op"])
        graph.edge(op_id, ids[id(t)])
        for parent in t._op.parents:
            graph.edge(ids.get(id(parent), "hidden"), op_id)
    if legend:
        _add_legend(graph)
    return graph


def _add_legend(graph) -> None:
    rows = "".join(
        f'<TR><TD BGCOLOR="{color}">{kind}</TD></TR>' for kind, color in COLORS.items()
    )
    graph.node("legend", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">{rows}</TABLE>>',
               shape="plaintext", style="")


# ----------------------------------------------------------------- the network's architecture
# One column per layer, one circle per unit, a line from every drawn unit of a layer to every
# drawn unit of the next: an autoencoder comes out as the textbook hourglass tilted sideways.
# A layer of more than ``max_units`` units shows its first and last few units around an
# "N more" node, which dashed lines lead to and from. Its column grows with the logarithm of
# its size past ``max_units``, so 784 pixels still look bigger than a bottleneck of 10, and
# the number of lines stays small (about 50 for 784-10-784).

LAYER_COLORS = {  # role -> (fill, border, text): light fills keep the unit names readable
    "input": ("#f8cecc", "#b85450", "#9a3b37"),
    "hidden": ("#dae8fc", "#6c8ebf", "#3f6496"),
    "output": ("#d5e8d4", "#82b366", "#4a7a32"),
}
UNIT_LETTERS = {"input": "x", "hidden": "h", "output": "y"}
EDGE_COLOR = "#777777"
UNIT = 0.42  # diameter of a unit's circle, inches
NODESEP = 0.06  # gap between units, inches
SLOT = UNIT + NODESEP


def draw_architecture(layer_sizes, activations, max_units: int = 8, title: str | None = None,
                      rankdir: str = "LR") -> Picture:
    """The diagram of a fully connected network, as a :class:`~tinygrad_ae.viz.Picture`.

    Args:
        layer_sizes: units per layer, ``[input, hidden..., output]``, e.g. ``[784, 10, 784]``.
        activations: one name per Dense layer (``len(layer_sizes) - 1`` of them), e.g.
            ``["ReLU", "Sigmoid"]``; ``None`` or ``""`` for a layer without one.
        max_units: layers with more units than this are folded ("N more").
        title: an optional caption above the picture.
        rankdir: "LR" (left to right, default), "TB", "RL" or "BT".

    ``graph.source`` (the DOT text) needs no Graphviz; rendering (``viz.render``, Jupyter)
    needs the ``dot`` program and says how to install it when it is missing.

    Example:
        >>> g = draw_architecture([784, 10, 784], ["ReLU", "Sigmoid"])
        >>> "780 more" in g.source, g.source.count("->") < 1000
        (True, True)
    """
    sizes, activations = _checked(layer_sizes, activations, max_units, rankdir)
    graph = Picture(name="architecture")
    graph.attr(rankdir=rankdir, splines="line", nodesep=str(NODESEP), ranksep="1.2",
               fontname=FONT)
    if title:
        graph.attr(label=title, labelloc="t", fontsize="16")
    graph.attr("node", fontname=FONT)
    graph.attr("edge", color=EDGE_COLOR, arrowhead="none", penwidth="0.7")

    hidden = sizes[1:-1]
    # The bottleneck: the narrowest hidden layer, if it is narrower than both ends.
    bottleneck = min(hidden) if hidden and min(hidden) < min(sizes[0], sizes[-1]) else None
    columns = []
    for index, size in enumerate(sizes):
        role = "input" if index == 0 else "output" if index == len(sizes) - 1 else "hidden"
        label = f"{role} {size}"
        if index and activations[index - 1]:
            label += f" [{activations[index - 1]}]"
        if role == "hidden" and size == bottleneck:
            label += r"\nbottleneck"  # DOT's own line break keeps the source on one line
        columns.append(_draw_layer(graph, index, size, role, label, max_units, rankdir))

    for left, right in zip(columns, columns[1:]):
        for tail, tail_folded in left:
            for head, head_folded in right:
                dashed = tail_folded or head_folded  # a line to or from "N more" units
                graph.edge(tail, head, **({"style": "dashed"} if dashed else {}))
    return graph


def _draw_layer(graph, index, size, role, label, max_units, rankdir):
    """One layer: its title, then its units; returns [(node id, is the 'N more' node)].

    The column is a rank=same subgraph chained by invisible edges, which keeps the units in
    order, first at the top. (Not a cluster: dot reorders chained nodes inside clusters.)
    """
    fill, border, text = LAYER_COLORS[role]
    vertical = rankdir in ("LR", "RL")  # a layer's units stack vertically
    shown = _shown_units(size, max_units)
    chain, nodes = [f"L{index}_title"], []
    with graph.subgraph(name=f"layer_{index}") as column:
        column.attr(rank="same")
        column.node(chain[0], label, shape="plaintext", fontcolor=text, fontsize="12")
        for unit in shown:
            if unit is None:
                # The folded middle: dotted spacers stretch the column around one small
                # "N more" node, which the dashed lines meet.
                node = f"L{index}_more"
                drawn = len(shown) - 1
                gap = (_column_slots(size, max_units) - drawn - 1) / 2
                spacer = _spacer(text, gap, vertical)
                column.node(f"{node}_above", **spacer)
                column.node(node, f"{size - drawn} more", shape="plaintext", fontcolor=text,
                            fontsize="11", height=str(UNIT))
                column.node(f"{node}_below", **spacer)
                chain += [f"{node}_above", node, f"{node}_below"]
            else:
                node = f"L{index}_u{unit}"
                column.node(node, f"<{UNIT_LETTERS[role]}<SUB>{unit}</SUB>>", shape="circle",
                            style="filled", fillcolor=fill, color=border, penwidth="1.3",
                            width=str(UNIT), fixedsize="shape",  # equal circles, long names too
                            fontsize="10" if unit < 1000 else "8")
                chain.append(node)
            nodes.append((node, unit is None))
        for above, below in zip(chain, chain[1:]):
            column.edge(above, below, style="invis")
    return nodes


def _shown_units(size, max_units):
    """Unit numbers to draw (1-based), with None where the 'N more' node goes."""
    if size <= max_units:
        return list(range(1, size + 1))
    # As many last units as first ones: the "N more" node sits in the middle of the column,
    # and dot then centres the columns on each other (the hourglass).
    ends = max(1, max_units // 4)
    return list(range(1, ends + 1)) + [None] + list(range(size - ends + 1, size + 1))


def _column_slots(size, max_units):
    """How many unit-heights a layer's column takes: its size up to max_units, then growing
    with the logarithm, so that a bigger layer always looks bigger."""
    if size <= max_units:
        return size
    return max_units + 0.7 * math.log2(size / max_units)


def _spacer(color, slots, vertical):
    """A dotted stretch of ``slots`` unit-heights: the units that are not drawn."""
    length = f"{max(slots * SLOT - NODESEP, 0.1):.2f}"
    dots = max(1, round(2 * slots))  # about two dots per unit
    label = r"\n".join("⋮" * dots) if vertical else "⋯" * dots
    return {"label": label, "shape": "plaintext", "fontcolor": color, "fontsize": "11",
            "height" if vertical else "width": length}


def _checked(layer_sizes, activations, max_units, rankdir):
    """Sizes as ints and the activations as a list, or a ValueError saying what is wrong."""
    sizes = list(layer_sizes)
    if not sizes:
        raise ValueError("layer_sizes is empty: give the number of units of each layer, input "
                         "first, e.g. [784, 10, 784]")
    for position, size in enumerate(sizes):
        number = whole_number(size)
        if number is None or number < 1:
            raise ValueError(f"layer_sizes[{position}] is {size!r}, but every layer needs a "
                             f"positive whole number of units (layer_sizes={sizes!r})")
        sizes[position] = number
    activations = list(activations)
    if len(activations) != len(sizes) - 1:
        raise ValueError(f"{len(sizes)} layer sizes {sizes} need {len(sizes) - 1} activations "
                         f"(one per Dense layer), got {len(activations)}: {activations!r}")
    for position, name in enumerate(activations):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"activations[{position}] is {name!r}; give activation names as "
                             "strings such as 'ReLU', or None for a layer without one")
    if isinstance(max_units, bool) or not isinstance(max_units, int) or max_units < 3:
        raise ValueError(f"max_units must be an integer of at least 3 (first unit, 'N more', "
                         f"last unit), got {max_units!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    return sizes, activations


# ----------------------------------------------------------------- the backward pass, frame by frame
# explain.py's pictures: the compute graph as draw_graph draws it, in the middle of backward().
# The op that just ran is orange, the edges its gradient has travelled red, each gradient known
# so far is written on its tensor, and tensors the gradient has not reached yet are grey.

BACKWARD_COLORS = {
    "current op": "orange",
    "gradient travelled": "red3",
    "not reached yet": "#eeeeee",
}
UNREACHED_TEXT = "#999999"


def summarize(array, max_elements: int = 6) -> str:
    """An array in a few characters: the value of a scalar or small array, else shape and norm.

    Example:
        >>> import numpy as np
        >>> summarize(np.float32(2.5)), summarize(np.array([1.0, -2.0]))
        ('2.5', '[1, -2]')
        >>> summarize(np.ones((10, 784)))
        '(10, 784) |.| 88.54'
    """
    array = np.asarray(array)
    if array.size == 1:
        return f"{array.item():.4g}"
    if array.size <= max_elements:
        return np.array2string(array, separator=", ", formatter={"float_kind": lambda v: f"{v:.4g}"}
                               ).replace("\n", "")
    return f"{array.shape} |.| {float(np.linalg.norm(array)):.4g}"


def draw_backward_frame(root, names: dict, grads: dict, done: set, current=None, title: str = "",
                        rankdir: str = "LR", max_nodes: int = 40) -> Picture:
    """The compute graph of ``root`` during backward: one frame of ``BackwardTrace``'s player.

    Args:
        root: the tensor backward started from (pale green, as in ``draw_graph``).
        names: ``{id(tensor): label}`` for every tensor (``explain_backward`` names unnamed ones).
        grads: ``{id(tensor): gradient known so far}``; written on the tensors.
        done: ids of the tensors whose op has already run backward (their edges are red).
        current: the tensor whose op runs in this frame (the op drawn orange), or None.
        title: a caption above the graph (the step and its rule).
        max_nodes: a bigger graph is drawn around ``current`` only, the rest counted in a note.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor
        >>> a = Tensor(2.0, requires_grad=True, name="a")
        >>> y = a * a
        >>> g = draw_backward_frame(y, {id(a): "a", id(y): "y"}, {id(y): np.float32(1)}, {id(y)}, y)
        >>> "orange" in g.source and "grad 1" in g.source
        True
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    shown, whole = _window(topological_order(root, include_constants=True), current, max_nodes)
    node_ids = {id(t): f"t{i}" for i, t in enumerate(shown)}

    graph = Picture(name="backward_step", graph_attr={"rankdir": rankdir, "label": title,
                                                      "labelloc": "t", "fontname": FONT})
    graph.attr("node", fontname=FONT, fontsize="10", style="filled")
    graph.attr("edge", fontname=FONT)
    if whole > len(shown):
        graph.node("hidden", f"{whole - len(shown)} more tensors\nnot drawn\n(max_nodes={max_nodes})",
                   shape="note", fillcolor="white")
    travelled = {"color": BACKWARD_COLORS["gradient travelled"], "penwidth": "2"}
    for t in shown:
        key = id(t)
        lines = [names.get(key, "?"), f"{t.shape} {t.dtype}"]
        if t.data.size == 1:
            lines.append(f"value {t.data.item():.4g}")
        look = {"fillcolor": COLORS[_tensor_kind(t, t is root)]}
        if key in grads:
            lines.append(f"grad {summarize(grads[key])}")
        elif t.requires_grad:  # on the gradient's way, but not reached yet
            look = {"fillcolor": BACKWARD_COLORS["not reached yet"], "fontcolor": UNREACHED_TEXT,
                    "color": UNREACHED_TEXT}
        graph.node(node_ids[key], "\n".join(lines), shape="box",
                   penwidth="2" if t is root else "1", **look)
        if t._op is None or any(id(p) not in node_ids for p in t._op.parents):
            continue  # a leaf, or an input drawn for the window's sake: its own op is not drawn
        op_id = "op" + node_ids[key]
        is_current = current is not None and t is current
        graph.node(op_id, _op_label(t._op), shape="ellipse",
                   fillcolor=BACKWARD_COLORS["current op"] if is_current else COLORS["op"],
                   penwidth="3" if is_current else "1")
        ran = key in done
        graph.edge(op_id, node_ids[key], **(travelled if ran else {}))
        for parent in t._op.parents:
            graph.edge(node_ids[id(parent)], op_id, **(travelled if ran and parent.requires_grad else {}))
    _add_backward_legend(graph)
    return graph


def _window(order, current, max_nodes):
    """At most about ``max_nodes`` tensors around ``current`` (in walk order), plus the inputs of
    the ops drawn, so that every drawn op has all its inputs; returns (tensors, how many in all).

    A window, not the tensors nearest the output: the frame must show the op that runs now,
    and dot slows down badly on one "the rest" node joined to many ops.
    """
    if len(order) <= max_nodes:
        return order, len(order)
    at = next((k for k, t in enumerate(order) if t is current), len(order) - 1)
    start = min(max(0, at - max_nodes // 2), len(order) - max_nodes)
    window = order[start:start + max_nodes]
    inside = {id(t) for t in window}
    inputs = {id(p): p for t in window if t._op is not None for p in t._op.parents if id(p) not in inside}
    return list(inputs.values()) + window, len(order)


def _add_backward_legend(graph) -> None:
    rows = "".join(f'<TR><TD BGCOLOR="{color}">{kind}</TD></TR>' for kind, color in COLORS.items())
    rows += "".join(
        f'<TR><TD BGCOLOR="{color}">{kind}</TD></TR>' if kind != "gradient travelled"
        else f'<TR><TD><FONT COLOR="{color}">&#8594; {kind}</FONT></TD></TR>'
        for kind, color in BACKWARD_COLORS.items())
    graph.node("legend", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">{rows}</TABLE>>',
               shape="plaintext", style="")


# ----------------------------------------------------------------- feature maps (Sequential)
# A convolutional network is drawn as its data: after each layer, the feature maps it holds,
# as a stack (one card per channel, a few shown) sized by height and width; vectors are bars.
# Colours as above: the input red, what the layers compute blue, the output green.


def draw_feature_maps(shapes, layers, title: str | None = None, max_cards: int = 4) -> Picture:
    """A picture of what flows through a ``Sequential``: one stack of feature maps per step.

    Args:
        shapes: one sample's shape before the first layer and after each layer, e.g.
            ``[(784,), (1, 28, 28), (32, 28, 28), ...]`` (``Sequential.shapes()``).
        layers: one caption per layer (``len(shapes) - 1`` of them), e.g. ``"Conv2D 3x3"``.
        title: an optional caption above. max_cards: channels drawn per stack.

    Example:
        >>> g = draw_feature_maps([(784,), (1, 28, 28), (32, 28, 28)], ["Reshape", "Conv2D 3x3"])
        >>> g.source.count("32 x 28 x 28"), "#f8cecc" in g.source
        (1, True)
    """
    if len(layers) != len(shapes) - 1:
        raise ValueError(f"draw_feature_maps needs one caption per layer: {len(shapes)} shapes, {len(layers)} captions")
    graph = Picture(name="feature_maps")
    graph.attr(rankdir="LR", nodesep="0.3", ranksep="0.35", fontname=FONT)
    if title:
        graph.attr(label=title, labelloc="t", fontsize="16")
    graph.attr("node", fontname=FONT, shape="plaintext")
    graph.attr("edge", color=EDGE_COLOR, arrowsize="0.6", fontname=FONT, fontsize="10")
    for index, shape in enumerate(shapes):
        role = "input" if index == 0 else "output" if index == len(shapes) - 1 else "hidden"
        graph.node(f"maps{index}", _stack_label(tuple(shape), LAYER_COLORS[role], max_cards))
        if index:
            graph.edge(f"maps{index - 1}", f"maps{index}", label=str(layers[index - 1]))
    return graph


def _stack_label(shape, colors, max_cards):
    """An HTML-like label: offset cards for (C, H, W), a bar for a vector, and the shape."""
    fill, border, text = colors
    caption = " x ".join(str(n) for n in shape)
    if len(shape) != 3:
        size = int(np.prod(shape))
        height = int(12 + 8 * np.log2(max(size, 1)))
        card = f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}" WIDTH="10" HEIGHT="{height}"></TD>'
        return f'<<TABLE BORDER="0" CELLSPACING="0"><TR>{card}</TR><TR><TD><FONT COLOR="{text}">{caption}</FONT></TD></TR></TABLE>>'
    channels, h, w = shape
    side = int(10 + 2.5 * max(h, w))
    cards = "".join(f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}" WIDTH="{side // 3}" HEIGHT="{side}"></TD>'
                    for _ in range(min(channels, max_cards)))
    return (f'<<TABLE BORDER="0" CELLSPACING="2"><TR>{cards}</TR>'
            f'<TR><TD COLSPAN="{min(channels, max_cards)}"><FONT COLOR="{text}">{caption}</FONT></TD></TR></TABLE>>')
