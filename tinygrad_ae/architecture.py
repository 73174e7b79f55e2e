"""The picture of a network's layers: the classic circles-and-lines diagram (``MLP.plotGraph``).

One column per layer, one circle per unit, a line from every drawn unit of a layer to every
drawn unit of the next. An autoencoder comes out as the textbook hourglass tilted sideways.

Colour legend (fixed, as in the seed notebook):

======  ===========  =========  =========  ==========================================
layer   colour       fill       border     units
======  ===========  =========  =========  ==========================================
input   light red    #f8cecc    #b85450    x1, x2, ...
hidden  light blue   #dae8fc    #6c8ebf    h1, h2, ... (the smallest is the bottleneck)
output  light green  #d5e8d4    #82b366    y1, y2, ...
======  ===========  =========  =========  ==========================================

Big layers stay readable: a layer of more than ``max_units`` units shows its first and last
few units around an "N more" node, which dashed lines lead to and from. A layer's column grows
with the logarithm of its size past ``max_units``, so 784 pixels still look bigger than a
bottleneck of 10, and the number of lines stays small (about 50 for 784-10-784).

Example:
    >>> g = draw_architecture([6, 3, 6], ["ReLU", "Sigmoid"])
    >>> "hidden 3 [ReLU]" in g.source and "#dae8fc" in g.source
    True
"""

from __future__ import annotations

import math

from .checks import whole_number
from .viz import FONT, RANKDIRS, Picture

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
