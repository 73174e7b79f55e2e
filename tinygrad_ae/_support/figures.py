"""A matplotlib figure that a Jupyter cell draws once, not twice.

Imported only where pyplot is (``History.plot``), so that ``import tinygrad_ae`` does not load
matplotlib.

Example:
    >>> fig = plt.subplots(FigureClass=DrawnOnceFigure)[0]
    >>> type(fig).__name__
    'DrawnOnceFigure'
    >>> plt.close(fig)
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


# Backends that never show a figure by themselves (matplotlib's non-interactive ones).
FILE_ONLY_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


class DrawnOnceFigure(Figure):
    """A matplotlib Figure that Jupyter draws once when a cell returns it.

    In a notebook, pyplot's inline backend draws every open figure when the cell ends, and
    IPython draws the cell's value too: a plain figure returned as the last expression
    appears twice. This one draws itself as a PNG and then closes itself in pyplot, so the
    backend does not draw it again (and a figure shown in a later cell draws once more, as
    asked). Where a window or widget backend shows figures itself, it shows only its name.
    Make it with ``plt.subplots(FigureClass=DrawnOnceFigure)``.

    Example:
        >>> isinstance(DrawnOnceFigure(), Figure)
        True
    """

    def _ipython_display_(self):
        from IPython.display import display  # lazy: only IPython itself calls this

        backend = matplotlib.get_backend().lower()
        if "inline" not in backend and backend not in FILE_ONLY_BACKENDS:
            display({"text/plain": repr(self)}, raw=True)  # its window or widget shows it
            return
        png = io.BytesIO()
        self.savefig(png, format="png", bbox_inches="tight")
        display({"image/png": png.getvalue(), "text/plain": repr(self)}, raw=True)
        plt.close(self)  # drawn: the inline backend must not draw it again at the cell's end
