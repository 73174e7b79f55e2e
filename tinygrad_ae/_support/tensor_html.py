"""The HTML table Jupyter shows for a Tensor (``Tensor._repr_html_``): plumbing, not a concept.

One row per fact a student looks for first: name, shape, dtype, whether it requires grad and
has a gradient yet, the op that made it, and a few values. Everything user-supplied (the
name, the values) is escaped, so the fragment is always well formed.

Example:
    >>> from tinygrad_ae import Tensor
    >>> "<td>(2,)</td>" in tensor_table(Tensor([1.0, 2.0]))
    True
"""

from __future__ import annotations

import html

import numpy as np

SHOWN_VALUES = 6  # values at most, the first ones in memory order


def tensor_table(tensor) -> str:
    """A small ``<table>`` describing ``tensor`` (anything with Tensor's attributes).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> "requires_grad" in tensor_table(Tensor([0.5], requires_grad=True, name="b"))
        True
    """
    flat = tensor.data.ravel()
    values = np.array2string(flat[:SHOWN_VALUES], separator=", ", precision=4)
    if flat.size > SHOWN_VALUES:
        values = values[:-1] + f", ... ({flat.size} values)]"
    grad = "no" if tensor.grad is None else f"yes, |grad| max {float(np.abs(tensor.grad).max(initial=0)):.3g}"
    rows = [("name", tensor.name if tensor.name is not None else "-"), ("shape", str(tensor.shape)),
            ("dtype", str(tensor.dtype)), ("requires_grad", str(tensor.requires_grad)),
            ("grad", grad), ("op", tensor.op or "- (a leaf)"), ("values", values)]
    body = "".join(f"<tr><th style=\"text-align:left\">{key}</th><td>{html.escape(value)}</td></tr>"
                   for key, value in rows)
    return f"<table><caption>Tensor</caption>{body}</table>"
