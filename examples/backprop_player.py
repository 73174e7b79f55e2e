"""Backpropagation, step by step: write the player of backward() on L = (a * b + c) * a.

The scalar lesson with a diamond (``a`` is used twice, so its gradient is a sum). It prints the
worked exercise and writes ``backprop_player.html``: one self-contained page (no network) with
Prev / Next, a slider, the arrow keys and Play. ``--gif`` also writes the animation.

Run it from the repository's root (needs Graphviz's ``dot`` program)::

    python examples/backprop_player.py                          # examples/out/backprop_player.html
    python examples/backprop_player.py --out docs --gif         # the README's animation too
"""

from __future__ import annotations

import argparse
import sys

import _common
from tinygrad_ae import GraphvizNotFoundError, Tensor, explain_backward


def lesson():
    """L = (a * b + c) * a with a = 2, b = 3, c = 4: dL/da = 2a b + c = 16, dL/db = 4, dL/dc = 2."""
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(3.0, requires_grad=True, name="b")
    c = Tensor(4.0, requires_grad=True, name="c")
    loss = (a * b + c) * a
    loss.name = "L"
    return loss


def main(argv=None) -> int:
    """Print the trace and write the player (and the GIF); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_output_options(parser, show=False)
    parser.add_argument("--gif", action="store_true", help="also write backprop_step_by_step.gif")
    args = parser.parse_args(argv)
    out = _common.output_dir(args.out)
    trace = explain_backward(lesson(), check=True)
    print(trace)
    try:
        print(f"wrote {trace.to_html(out / 'backprop_player.html')}")
        if args.gif:
            print(f"wrote {trace.to_gif(out / 'backprop_step_by_step.gif', seconds_per_frame=2.0)}")
    except GraphvizNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
