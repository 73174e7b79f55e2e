"""The denoising-autoencoder demo: the seed notebook as a script, plus the pictures a reader wants.

What it shows, in order (every picture is written to ``--out``, default ``examples/out/``):

1. ``architecture_6_3_6.svg``: an autoencoder's shape, built layer by layer as in the
   notebook (6 inputs, a bottleneck of 3, 6 outputs).
2. The pretrained model (784 -> 10 ReLU -> 784 Sigmoid), printed with ``print(autoencoder)``,
   and its architecture ``architecture_784_10_784.svg`` (named after the layer sizes).
3. ``demo_single.png``: one shuffled test digit with noise (std 0.1), the model's prediction,
   and the clean original, with their MSE and PSNR printed.
4. ``denoising_grid.png``: the real denoisers side by side. Ten test digits at noise std
   0.1, 0.2, 0.3 and 0.5, with rows noisy / the seed's model / the wide MLP / the conv net,
   and a table of each one's PSNR and gain over the noisy input (dataset PSNR,
   10 log10(1 / MSE) over all pixels of ``--test-images`` test digits, higher is better),
   then the conv net on each noise kind (Gaussian, salt-and-pepper, masking). The seed's
   10-number code blurs the strokes, so its output is further from the original than the
   noisy input; the blind denoisers (trained at every std in [0, 0.5]) remove the noise.
5. ``latent_space.png``: the 10-number codes the encoder gives the test digits, projected to
   2-D with PCA and coloured by digit, and each digit's mean code: what the bottleneck learned.

Run it from the repository's root::

    python examples/denoising_demo.py                 # pictures in examples/out/
    python examples/denoising_demo.py --seed 7 --show # another digit, in windows
    python examples/denoising_demo.py --model path/to/my_model.npz --out /tmp/pictures
    python examples/denoising_demo.py --model mnist_denoising_autoencoder_deep
    python examples/denoising_demo.py --out docs --seed 2   # the README's pictures

Figures open in windows when a display is available (``--no-show``: never); otherwise (SSH,
CI, Docker) the script just writes the files. Architecture pictures need Graphviz's ``dot`` program and
are skipped with a note when it is missing.
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np

import _common
from tinygrad_ae import MLP, Dataset, Dense, GraphvizNotFoundError, load_model
from tinygrad_ae.dataset import NOISE_KINDS, add_noise
from tinygrad_ae.metrics import PCA, TEST_NOISE_SEED, TEST_STDS, bottleneck_layers, denoising_scores, encode, mean_squared_error, psnr

DEFAULT_MODEL = "mnist_denoising_autoencoder"
DENOISERS = {"wide MLP": "mnist_denoising_wide", "conv net": "mnist_denoising_conv"}  # shipped, blind


def parse_args(argv=None):
    """The command line: ``--out``, ``--model``, ``--seed``, ``--noise``, ``--show/--no-show``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="a shipped model's name or a .npz path (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="shuffle seed: which test digits are drawn and their noise (default: random)")
    parser.add_argument("--noise", type=float, default=0.1,
                        help="noise std of the single-digit demo, as in the notebook (default: %(default)s)")
    parser.add_argument("--test-images", type=int, default=1000,
                        help="test digits the denoisers are scored on (default: %(default)s; the README uses 10000)")
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def save_architecture(model, path) -> None:
    """Render ``model.plotGraph`` to ``path``; without Graphviz, say so and go on."""
    try:
        model.plotGraph(str(path))
        print(f"wrote {path}")
    except GraphvizNotFoundError as error:
        print(f"skipped {path}: {error}")


def toy_autoencoder() -> MLP:
    """The notebook's 6-3-6 autoencoder, built layer by layer (only its shape matters here)."""
    nn = MLP()
    nn.addLayer(Dense(6, 3))
    nn.addLayer(Dense(3, 6))
    return nn


def draw_random_test_image(seed, noise):
    """One shuffled test digit exactly as the notebook draws it: ``(noisy, clean)``, each (1, 784)."""
    dataset = Dataset(name="mnist", train_size=60000, test_size=10000, batch_size=1, seed=seed)
    randomBatch = next(dataset.batches(autoencoder=True, noise=noise))
    return randomBatch[1][0], randomBatch[1][1]  # the test batch: noisy input, clean target


def show_image(ax, image, title) -> None:
    """A 28x28 image in grey (white digit on black, like MNIST) without axes."""
    ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_single(noisy, prediction, clean, noise):
    """Input, prediction and clean original side by side, with each one's PSNR to the original."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    show_image(axes[0], noisy, f"noisy input (std {noise:g})\nPSNR {psnr(noisy, clean):.1f} dB")
    show_image(axes[1], prediction, f"prediction\nPSNR {psnr(prediction, clean):.1f} dB")
    show_image(axes[2], clean, "clean original\n ")
    fig.suptitle("Denoising one test digit", fontsize=12)
    fig.tight_layout()
    return fig


def plot_grid(clean, noisy, denoised, chosen):
    """For each noise std: a row of noisy digits, then one row per model; columns: one digit each."""
    import matplotlib.pyplot as plt

    rows = [("clean", clean[chosen], "#888888")]
    for std in noisy:
        rows.append((f"noisy {std:g}\n{psnr(noisy[std], clean):.1f} dB", noisy[std][chosen], "#b85450"))
        for name, outputs in denoised.items():
            rows.append((f"{name}\n{psnr(outputs[std], clean):.1f} dB", outputs[std][chosen], "#82b366"))
    height = 0.85 * len(rows) + 0.7
    fig, axes = plt.subplots(len(rows), len(chosen), figsize=(0.85 * len(chosen) + 1.4, height),
                             gridspec_kw={"wspace": 0.05, "hspace": 0.08})
    fig.subplots_adjust(top=1 - 0.75 / height, bottom=0.01)
    for row, (label, images, color) in enumerate(rows):
        for col, image in enumerate(images):
            ax = axes[row, col]
            ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():  # noisy rows red, denoised rows green
                spine.set_edgecolor(color)
                spine.set_linewidth(1.5)
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
    fig.suptitle("Test digits with Gaussian noise of std 0.1-0.5, and three denoisers\n"
                 "(PSNR to the clean digits over the scored test digits; higher is better)", fontsize=11)
    return fig


def plot_latent(points, labels, explained, codes, model):
    """Left: the 2-D PCA view of the codes, one colour per digit, with each digit's
    one-standard-deviation ellipse. Right: the mean code of each digit, unit by unit."""
    import matplotlib.patheffects as effects
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    fig, (ax, heat) = plt.subplots(1, 2, figsize=(13, 5.8), gridspec_kw={"width_ratios": [1.25, 1]})
    cmap = plt.get_cmap("tab10")
    for digit in range(10):
        mine = points[labels == digit]
        ax.scatter(mine[:, 0], mine[:, 1], s=4, alpha=0.35, color=cmap(digit), label=str(digit), linewidths=0)
    for digit in range(10):
        mine = points[labels == digit]
        centre = mine.mean(axis=0)
        # One standard deviation along each axis of the digit's covariance: shows where its
        # codes gather better than the overlapping dots do.
        variance, axes = np.linalg.eigh(np.cov(mine.T))
        angle = np.degrees(np.arctan2(axes[1, -1], axes[0, -1]))
        width, height = 2 * np.sqrt(variance[::-1])
        ax.add_patch(Ellipse(centre, width, height, angle=angle, fill=False, color=cmap(digit), linewidth=1.6))
        ax.text(*centre, str(digit), fontsize=17, fontweight="bold", color=cmap(digit), ha="center", va="center",
                path_effects=[effects.withStroke(linewidth=3, foreground="white")])
    ax.set_xlabel("principal direction 1 of the codes")
    ax.set_ylabel("principal direction 2 of the codes")
    ax.set_title(f"{len(points):,} test digits, their {codes.shape[1]}-number codes projected to 2-D with PCA\n"
                 f"({100 * explained:.0f}% of the codes' variance; ellipses: one standard deviation around each digit's mean)", fontsize=10)
    legend = ax.legend(title="digit", markerscale=4, loc="best", fontsize=8, ncol=2, framealpha=0.9)
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    ax.grid(alpha=0.2)

    means = np.array([codes[labels == digit].mean(axis=0) for digit in range(10)])
    image = heat.imshow(means, cmap="viridis", aspect="auto")
    heat.set_xticks(range(codes.shape[1]), [str(unit + 1) for unit in range(codes.shape[1])])
    heat.set_yticks(range(10))
    heat.set_xlabel("bottleneck unit")
    heat.set_ylabel("digit")
    heat.set_title("The mean code of each digit: every digit\nlights up its own mix of units", fontsize=10)
    activation = model.layers[bottleneck_layers(model) - 1].activation.name
    fig.colorbar(image, ax=heat, label=f"mean output of the bottleneck ({activation})", shrink=0.9)
    fig.suptitle(f"What the bottleneck of the {'-'.join(map(str, model.layer_sizes))} autoencoder learned", fontsize=12)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    """Run the demo; returns the exit status (0 on success, 1 when the model is missing)."""
    args = parse_args(argv)
    show = _common.setup_matplotlib(args.show)
    out = _common.output_dir(args.out)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    print(f"seed {seed} (run again with --seed {seed} for the same digits)")

    # 1. Theory: the shape of an autoencoder (the notebook's 6-3-6 picture).
    save_architecture(toy_autoencoder(), out / "architecture_6_3_6.svg")

    # 2. The pretrained model, printed exactly as in the notebook.
    autoencoder = MLP()
    try:
        autoencoder.load(args.model)
    except FileNotFoundError as error:
        print(f"error: {error}\nTrain the model first (python examples/train_denoising_autoencoder.py) "
              "or pass --model PATH.", file=sys.stderr)
        return 1
    print(autoencoder)
    sizes = autoencoder.layer_sizes
    save_architecture(autoencoder, out / f"architecture_{'_'.join(map(str, sizes))}.svg")

    # 3. One shuffled noisy test digit, denoised.
    inputImage, clean = draw_random_test_image(seed, args.noise)
    prediction = autoencoder.predict(inputImage)
    print(f"one test digit, noise std {args.noise:g}:")
    print(f"  noisy input vs clean: MSE {mean_squared_error(inputImage, clean):.5f}  PSNR {psnr(inputImage, clean):5.2f} dB")
    print(f"  prediction  vs clean: MSE {mean_squared_error(prediction, clean):.5f}  PSNR {psnr(prediction, clean):5.2f} dB")
    _common.save_figure(plot_single(inputImage, prediction, clean, args.noise), out / "demo_single.png")

    # 4. The real denoisers side by side, on the same noisy test digits.
    images, labels = Dataset(name="mnist", train_size=1, test_size=10000).test
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))[:args.test_images]
    clean = images[order]
    models = {"seed model": autoencoder}
    for name, file in DENOISERS.items():
        try:
            models[name] = load_model(file)
        except FileNotFoundError:
            print(f"note: {file} is not there; train it with python examples/train_denoisers.py")
    noisy = {std: add_noise(clean, std, np.random.default_rng(TEST_NOISE_SEED)) for std in TEST_STDS}
    denoised = {name: {std: model.predict(noisy[std]) for std in TEST_STDS} for name, model in models.items()}
    print(f"{len(clean):,} test digits, dataset PSNR in dB (gain over the noisy input):")
    print("  noise std   noisy  " + "".join(f"{name:>18}" for name in models))
    for std in TEST_STDS:
        base = psnr(noisy[std], clean)
        cells = "".join(f"{psnr(denoised[name][std], clean):9.2f} ({psnr(denoised[name][std], clean) - base:+5.2f})"
                        for name in models)
        print(f"  {std:9g}  {base:6.2f}  {cells}")
    chosen = [np.flatnonzero(labels[order] == digit)[0] for digit in range(10) if (labels[order] == digit).any()]
    _common.save_figure(plot_grid(clean, noisy, denoised, chosen), out / "denoising_grid.png")
    if "conv net" in models:
        print("the conv net on each noise kind (level = std, or the fraction of pixels replaced):")
        for kind in NOISE_KINDS:
            scores = denoising_scores(models["conv net"].predict, clean, levels=(0.1, 0.3), kind=kind)
            print(f"  {kind:12}" + "".join(f"  {level}: {s['noisy']:5.2f} -> {s['denoised']:5.2f} dB" for level, s in scores.items()))
        gains = [psnr(denoised[name][0.1], clean) - psnr(noisy[0.1], clean) for name in ("seed model", "conv net")]
        print(f"reading: the seed's model compresses each digit to 10 numbers ({gains[0]:+.1f} dB at std 0.1); "
              f"the conv net removes the noise ({gains[1]:+.1f} dB at 0.1).")

    # 5. What the bottleneck learned: the codes of 5,000 test digits.
    subset = rng.permutation(len(images))[:5000]
    codes = encode(autoencoder, images[subset])
    projection = PCA(2).fit(codes)
    points, explained = projection.encode(codes), float(projection.variance_share.sum())
    _common.save_figure(plot_latent(points, labels[subset], explained, codes, autoencoder), out / "latent_space.png")

    _common.finish(show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
