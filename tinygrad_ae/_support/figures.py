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


class DrawnOnceFigure(Figure):
    """A matplotlib Figure that Jupyter draws once when a cell returns it.

    In a notebook, pyplot draws every open figure when the cell ends, and IPython draws the
    cell's value too: a plain figure returned as the last expression appears twice. This
    one leaves it to pyplot while pyplot will draw it, and draws itself otherwise (a figure
    shown again in a later cell, after pyplot closed it). Make it with
    ``plt.subplots(FigureClass=DrawnOnceFigure)``.

    Example:
        >>> isinstance(DrawnOnceFigure(), Figure)
        True
    """

    def _ipython_display_(self):
        from IPython.display import display  # lazy: only called by IPython itself

        manager = self.canvas.manager
        if manager is not None and plt.fignum_exists(manager.num) and matplotlib.is_interactive():
            return  # pyplot draws it at the end of the cell
        png = io.BytesIO()
        self.savefig(png, format="png", bbox_inches="tight")
        display({"image/png": png.getvalue(), "text/plain": repr(self)}, raw=True)
