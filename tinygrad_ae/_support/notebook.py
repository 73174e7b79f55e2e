"""Looking right in Jupyter: the progress bar and small HTML tables.

Nothing here imports IPython or ipywidgets unless a notebook is already running them, so a
script or a test pays nothing. Inside a notebook kernel, ``fit``'s progress bar is tqdm's
widget bar when ipywidgets is installed and a plain text bar on stdout otherwise (never
tqdm's "IProgress not found" warning, never a red stderr box). Figures drawn once are in
``figures.py``, which loads matplotlib.

Example:
    >>> in_notebook()
    False
    >>> print(html_table(["epoch", "loss"], [[1, 0.5]]))
    <table><thead><tr><th>epoch</th><th>loss</th></tr></thead><tbody><tr><td>1</td><td>0.5</td></tr></tbody></table>
"""

from __future__ import annotations

import html
import sys

from tqdm import tqdm


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel), False in a script or terminal.

    Example:
        >>> in_notebook()
        False
    """
    ipython = sys.modules.get("IPython")  # only look: importing IPython here would be slow
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def progress_bar(iterable, **options):
    """A tqdm bar for where it will be seen: tqdm's widget in a notebook with ipywidgets, a
    text bar on stdout in a notebook without it, plain tqdm on stderr anywhere else.

    Example:
        >>> list(progress_bar(range(3), disable=True))
        [0, 1, 2]
    """
    if options.get("disable") or not in_notebook():
        return tqdm(iterable, **options)
    try:
        import ipywidgets  # noqa: F401  (optional dependency: only tqdm's widget bar needs it)
    except ImportError:
        return tqdm(iterable, file=sys.stdout, **options)
    from tqdm.notebook import tqdm as widget_bar  # lazy: it imports IPython and ipywidgets
    return widget_bar(iterable, **options)


def html_table(header, rows, caption: str = "") -> str:
    """An HTML table (escaped text) for a ``_repr_html_``: Jupyter's own CSS styles it.

    Example:
        >>> html_table(["a"], [["<b>"]], caption="x & y")
        '<table><caption>x &amp; y</caption><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    def cells(tag, values):
        return "<tr>" + "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values) + "</tr>"
    head = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    body = "".join(cells("td", row) for row in rows)
    return f"<table>{head}<thead>{cells('th', header)}</thead><tbody>{body}</tbody></table>"
