"""Helpers shared by the example scripts: the output folder, and figures on screen or on disk.
(Image-quality numbers, MSE and PSNR, come from ``tinygrad_ae.metrics``.)

The examples import it as ``import _common``: Python puts a script's own folder first on
``sys.path``, so this works from any working directory (``python examples/denoising_demo.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import matplotlib

from tinygrad_ae._support.files import atomic_writer

EXAMPLES = Path(__file__).resolve().parent
DEFAULT_OUT = EXAMPLES / "out"


def display_available() -> bool:
    """True when windows can be opened: an X11/Wayland display, or macOS/Windows."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _interactive_backends() -> set:
    """Names of matplotlib's window-opening backends (the API moved in matplotlib 3.9)."""
    try:
        from matplotlib.backends import BackendFilter, backend_registry
        return set(backend_registry.list_builtin(BackendFilter.INTERACTIVE))
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup
        return {name.lower() for name in rcsetup.interactive_bk}


def setup_matplotlib(show: bool | None) -> bool:
    """Choose matplotlib's backend before any figure is made; return whether to show windows.

    ``show=None`` (the default of ``--show/--no-show``) shows figures only when a display is
    there and matplotlib found a GUI backend for it. Otherwise the headless Agg backend is
    used, so the script works over SSH, in CI and in Docker, and just writes files.
    """
    if show is not False and display_available():
        if matplotlib.get_backend().lower() in _interactive_backends():
            return True
    if show:
        print("note: --show asked for windows, but no display or GUI backend is available; "
              "writing files only", file=sys.stderr)
    matplotlib.use("Agg")
    return False


def add_output_options(parser, show: bool = True) -> None:
    """``--out DIR`` and, for scripts with matplotlib figures, ``--show/--no-show``."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the pictures (default: examples/out/)")
    if show:
        parser.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                            help="open the figures in windows (default: only if a display is available)")


def output_dir(path) -> Path:
    """The output folder, created if needed."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Write a matplotlib figure atomically (a crash never leaves half a PNG) and say where."""
    path = Path(path)
    with atomic_writer(path) as f:
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    print(f"wrote {path}")
    return path


def save_graph(graph, path) -> Path:
    """Render a graphviz picture (from ``plotGraph`` or ``draw_graph``) to ``path`` and say where."""
    from tinygrad_ae import render

    render(graph, path)
    print(f"wrote {path}")
    return Path(path)


def finish(show: bool) -> None:
    """Show the figures (blocks until the windows are closed), or free them when headless."""
    import matplotlib.pyplot as plt

    if show:
        plt.show()
    plt.close("all")
