"""A linear autoencoder learns what PCA computes: the theory claim of the notebook, measured.

An autoencoder 784 -> k -> 784 whose two Dense layers have no activation (``"linear"``),
trained with the mean squared error, can only map its input into a k-dimensional subspace of
the 784 pixels and back. The best such subspace for the squared error is the one spanned by
the top k principal components of the centred data (Eckart-Young), so training should find
the PCA subspace. The biases take care of the centring: the decoder's bias learns the mean
image. The basis inside the subspace is not unique (any rotation of the codes gives the same
reconstructions), so we compare subspaces, not vectors, by their *principal angles*: with
orthonormal bases Q1, Q2 (QR of the decoder's weight columns, and the top-k components), the
singular values of Q1^T Q2 are the cosines of the angles. All angles near zero = same subspace.

Prints the k angles, the reconstruction errors of the autoencoder and of PCA, and writes

* ``linear_ae_vs_pca_components.png``: the PCA components, the decoder's columns as learned
  (a different basis of the same subspace), and that basis rotated inside the subspace by a
  PCA of the data projected onto it, which brings back the PCA components one by one;
* ``linear_ae_vs_pca_angles.png``: the largest angle after each epoch, and the final angles.

(Only the decoder is compared: the encoder's rows also move into the subspace wherever the
digits vary, but keep their random start where MNIST never varies, e.g. the always-black
border pixels, because no gradient ever reaches those weights.)

Run it from the repository's root (about 10 s on an idle 2-core machine)::

    python examples/linear_autoencoder_vs_pca.py
    python examples/linear_autoencoder_vs_pca.py --k 20 --epochs 120 --out /tmp/pca
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import _common
from tinygrad_ae import MLP, Adam, Dataset, Dense
from tinygrad_ae.metrics import PCA


def parse_args(argv=None):
    """The command line: ``--train-size``, ``--epochs``, ``--k``, ``--seed``, ``--out``, ``--show``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=10000, help="MNIST training images used (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=80, help="training epochs (default: %(default)s)")
    parser.add_argument("--k", type=int, default=10, help="size of the code, and number of principal components (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the shuffling (default: %(default)s)")
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between the column spaces of ``a`` and ``b`` (both (784, k)), smallest first."""
    q1, _ = np.linalg.qr(a.astype(np.float64))
    q2, _ = np.linalg.qr(b.astype(np.float64))
    cosines = np.linalg.svd(q1.T @ q2, compute_uv=False)  # largest first
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def linear_autoencoder(k: int, seed: int) -> MLP:
    """784 -> k -> 784 with identity activations: encoder and decoder are plain matrices (plus biases)."""
    return MLP([Dense(784, k, activation="linear", seed=seed),
                Dense(k, 784, activation="linear", seed=seed + 1)])


BATCH_SIZE = 250


def learning_rate(epoch: int, epochs: int) -> float:
    """Adam's learning rate in an epoch: 5e-3 for 70% of the epochs, then down to 5e-4.

    The last direction to settle is the one between the k-th and (k+1)-th components, whose
    variances differ by only ~8% for k = 10: the loss barely changes along it, so it needs
    many steps at a large learning rate. But Adam's steps stay about one learning rate long
    however small the gradient gets, which keeps that angle jittering at about 3 degrees;
    the final geometric decay lets it settle below half a degree.
    """
    hold = max(int(0.7 * epochs), 1)
    if epoch < hold:
        return 5e-3
    return 5e-3 * 0.1 ** ((epoch - hold + 1) / (epochs - hold))


def train(model: MLP, x: np.ndarray, components: np.ndarray, epochs: int, seed: int) -> list:
    """Train on ``x`` (target = input) and return the largest principal angle after each epoch."""
    optimizer = Adam(model.parameters())
    largest = []
    for epoch in range(epochs):
        optimizer.lr = learning_rate(epoch, epochs)
        model.fit(x, x, epochs=1, batch_size=BATCH_SIZE, optimizer=optimizer, verbose=False, seed=seed + epoch)
        largest.append(principal_angles(model.layers[1].W.data, components.T).max())
    return largest


def aligned_basis(decoder: np.ndarray, x: np.ndarray, components: np.ndarray) -> np.ndarray:
    """The decoder's subspace with its basis rotated to the principal directions of the data in it.

    Project the centred data onto an orthonormal basis Q of the subspace and run PCA on those
    k numbers per image: rotating Q by the result gives the directions of largest variance
    inside the subspace, which are the PCA components if the subspace is PCA's. Only the
    signs (arbitrary in PCA too) are taken from ``components``, so the pictures match.
    """
    q, _ = np.linalg.qr(decoder.astype(np.float64))
    coords = (x.astype(np.float64) - x.mean(axis=0)) @ q
    variance, rotation = np.linalg.eigh(coords.T @ coords)
    basis = (q @ rotation[:, ::-1]).T  # rows, largest variance first
    signs = np.sign(np.sum(basis * components, axis=1))
    return basis * np.where(signs == 0, 1, signs)[:, None]


def plot_components(components, decoder_columns, aligned, variance_share):
    """Three rows of 28x28 images: PCA, the decoder as learned, the decoder's basis aligned."""
    import matplotlib.pyplot as plt

    k = len(components)
    cosines = np.sum(aligned * components, axis=1)
    rows = [("PCA components", components, [f"{100 * v:.1f}% var" for v in variance_share]),
            ("decoder columns\n(as learned)", decoder_columns, [f"column {i + 1}" for i in range(k)]),
            ("decoder subspace,\nbasis aligned", aligned, [f"cos {c:.3f}" for c in cosines])]
    fig, axes = plt.subplots(3, k, figsize=(1.15 * k + 1.6, 4.6), squeeze=False)
    for r, (label, images, captions) in enumerate(rows):
        for c in range(k):
            image = images[c].reshape(28, 28)
            limit = np.abs(image).max() or 1.0
            ax = axes[r, c]
            # A diverging map with 0 in white: components have signs, and only the pattern matters.
            ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(captions[c], fontsize=7, labelpad=2)
        axes[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center", labelpad=8)
    fig.suptitle("A linear autoencoder spans the same subspace as PCA (red: positive, blue: negative)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_angles(largest, angles):
    """The largest principal angle per epoch (log scale), and the final angles as bars."""
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    left.semilogy(np.arange(1, len(largest) + 1), largest, marker=".", color="#6c8ebf")
    # Plain numbers on the log axis: 0.3, 1, 3, 10 degrees rather than 3x10^-1 ...
    ticks = [t for t in (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 90) if min(largest) / 3 <= t <= max(largest) * 1.5]
    left.set_yticks(ticks, [f"{t:g}" for t in ticks])
    left.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    hold = max(int(0.7 * len(largest)), 1)  # as in learning_rate()
    left.axvspan(hold + 0.5, len(largest) + 0.5, color="#dddddd", alpha=0.5, linewidth=0)
    left.text(hold + 1, max(largest), "learning rate\ndecays", fontsize=8, va="top", color="#555555")
    left.set_xlabel("epoch")
    left.set_ylabel("largest principal angle (degrees)")
    left.set_title("Decoder subspace vs PCA subspace during training", fontsize=10)
    left.grid(alpha=0.3, which="both")
    right.bar(np.arange(1, len(angles) + 1), angles, color="#82b366")
    right.set_xticks(np.arange(1, len(angles) + 1))
    right.set_xlabel("principal angle number (smallest first)")
    right.set_ylabel("degrees")
    right.set_title(f"Final principal angles (largest {max(angles):.2f}°)", fontsize=10)
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    """Train the linear autoencoder, compare it with PCA, write the two figures."""
    args = parse_args(argv)
    show = _common.setup_matplotlib(args.show)
    out = _common.output_dir(args.out)
    x, _ = Dataset(name="mnist", train_size=args.train_size, test_size=1).train
    fitted = PCA(args.k).fit(x)
    components, variance_share = fitted.components, fitted.variance_share
    print(f"PCA of {len(x):,} MNIST images: the top {args.k} components hold "
          f"{100 * variance_share.sum():.1f}% of the variance")

    model = linear_autoencoder(args.k, args.seed)
    started = time.perf_counter()
    largest = train(model, x, components, args.epochs, args.seed)
    print(f"trained the linear 784-{args.k}-784 autoencoder for {args.epochs} epochs "
          f"in {time.perf_counter() - started:.1f} s")

    decoder = model.layers[1].W.data  # (784, k): its columns span the reconstructions
    angles = principal_angles(decoder, components.T)
    print("principal angles between the decoder's subspace and the PCA subspace (degrees, smallest first):")
    print("  " + "  ".join(f"{a:.2f}" for a in angles))
    print(f"  largest {angles.max():.2f}, mean {angles.mean():.2f}")
    centered = x.astype(np.float64) - x.mean(axis=0)
    pca_error = np.mean((centered - centered @ components.T @ components) ** 2)
    print(f"reconstruction MSE: autoencoder {model.evaluate(x, x):.6f}, PCA {pca_error:.6f} (the optimum)")

    aligned = aligned_basis(decoder, x, components)
    _common.save_figure(plot_components(components, decoder.T, aligned, variance_share),
                        out / "linear_ae_vs_pca_components.png")
    _common.save_figure(plot_angles(largest, angles), out / "linear_ae_vs_pca_angles.png")
    _common.finish(show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
