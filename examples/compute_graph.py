"""The compute graph of one training step of a tiny denoising autoencoder, drawn by the framework.

A 4-3-4 autoencoder (ReLU bottleneck, Sigmoid output) gets a batch of two noisy inputs and
is scored with the mean squared error against the clean targets. Every op the forward pass
ran is recorded in a graph; ``backward()`` walks that graph from the loss to the parameters.
The pictures show it (colours: parameters light blue and named by their path such as
``layer1.W``, inputs light yellow, intermediate results white, ops grey, the loss green):

* ``compute_graph_before_backward.svg/.png``: right after the forward pass;
* ``compute_graph.svg/.png``: after ``loss.backward()``, each parameter with the size |grad|
  of its gradient, which the gradient-descent step then uses (the loss before and after the
  step is printed).

Run it from the repository's root (needs Graphviz's ``dot`` program)::

    python examples/compute_graph.py                    # pictures in examples/out/
    python examples/compute_graph.py --rankdir LR       # left to right instead of top down
    python examples/compute_graph.py --out docs --format svg --stage after   # the README's picture
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import _common
from tinygrad_ae import MLP, Dense, GraphvizNotFoundError, Tensor, mse

LEARNING_RATE = 0.5


def parse_args(argv=None):
    """The command line: ``--out``, ``--format``, ``--stage``, ``--rankdir``, ``--seed``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_output_options(parser, show=False)
    parser.add_argument("--format", choices=("svg", "png", "both"), default="both",
                        help="picture format (default: %(default)s)")
    parser.add_argument("--stage", choices=("before", "after", "both"), default="both",
                        help="draw the graph before backward, after it, or both (default: %(default)s)")
    parser.add_argument("--rankdir", choices=("TB", "LR"), default="TB",
                        help="TB: top to bottom (default, fits a page); LR: left to right")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch (default: 0)")
    return parser.parse_args(argv)


def tiny_autoencoder(seed: int) -> MLP:
    """A 4-3-4 autoencoder: small enough that every node of its graph can be read."""
    return MLP([Dense(4, 3, seed=seed), Dense(3, 4, activation="sigmoid", seed=seed + 1)])


def training_batch(seed: int):
    """Two clean 4-pixel "images" and noisy copies of them, as named Tensors (names show in the picture)."""
    rng = np.random.default_rng(seed)
    clean = rng.random((2, 4), dtype=np.float32)
    noisy = np.clip(clean + 0.1 * rng.standard_normal((2, 4), dtype=np.float32), 0, 1)
    return Tensor(noisy, name="x (noisy input)"), Tensor(clean, name="y (clean target)")


def write_picture(loss: Tensor, stem, formats, rankdir) -> list:
    """Render the graph behind ``loss`` to ``stem.svg`` and/or ``stem.png``; the paths written."""
    graph = loss.graph(rankdir=rankdir, legend=True)
    return [_common.save_graph(graph, stem.with_suffix("." + fmt)) for fmt in formats]


def main(argv=None) -> int:
    """Run one training step and draw its graph; returns the exit status (1 without Graphviz)."""
    args = parse_args(argv)
    out = _common.output_dir(args.out)
    formats = ("svg", "png") if args.format == "both" else (args.format,)
    model = tiny_autoencoder(args.seed)
    x, y = training_batch(args.seed)

    # One training step: forward pass and loss, backward pass, update. (No optimizer object:
    # creating one gives every parameter a zero gradient, which the "before" picture would show.)
    loss = mse(model(x), y)
    loss.name = "loss (MSE)"
    try:
        if args.stage in ("before", "both"):
            # backward() frees the arrays each op saved but keeps the links between tensors,
            # so the "after" picture below shows this same graph, now with gradients.
            write_picture(loss, out / "compute_graph_before_backward", formats, args.rankdir)
        loss.backward()
        if args.stage in ("after", "both"):
            write_picture(loss, out / "compute_graph", formats, args.rankdir)
    except GraphvizNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, parameter in model.named_parameters():
        print(f"  {name:9} shape {str(parameter.shape):7}  |grad| {np.linalg.norm(parameter.grad):.4f}")
        parameter.data -= LEARNING_RATE * parameter.grad  # what SGD(model.parameters(), lr).step() does
    print(f"loss before the step {loss.item():.5f}, after it {mse(model(x), y).item():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
