"""Train the denoising autoencoder that the seed notebook loads, on the real MNIST.

    python examples/train_denoising_autoencoder.py                 # the seed's 784-10-784 model
    python examples/train_denoising_autoencoder.py --arch deep     # 784-256-64-10-64-256-784

Inputs are training images with Gaussian noise (std 0.1, clipped to [0, 1]); targets are the
clean images; the loss is MSE; the optimizer Adam with a learning rate that halves on a fixed
schedule. At the end the script measures, on the 10,000 test images with noise from a fixed
seed, the MSE and PSNR of the noisy input itself, of PCA with 10 components fitted on the
clean training images, and of the model; counts dead bottleneck units; and writes

    models/<name>.npz    the model, with how it was trained and its metrics in its metadata
    models/<name>.json   the same record, for people and for the tests
    models/<name>_loss.png  the loss curves
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad_ae import MLP, Adam, Dataset, Dense
from tinygrad_ae.dataset import add_noise
from tinygrad_ae._support.files import atomic_write_bytes
from tinygrad_ae.metrics import PCA, dead_units, encode, mean_squared_error, psnr

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = {
    # name: (layer sizes, hidden activation, bottleneck activation)
    "seed": ([784, 10, 784], "relu", "relu"),
    "deep": ([784, 256, 64, 10, 64, 256, 784], "relu", "linear"),
}
DEFAULT_NAMES = {"seed": "mnist_denoising_autoencoder", "deep": "mnist_denoising_autoencoder_deep"}
EVAL_NOISE_SEED = 1234  # the test noise is fixed, so every model is scored on the same images


def build(arch: str, seed: int, bias_init: float) -> MLP:
    """The MLP for ``arch``; the output layer is a sigmoid (pixels live in [0, 1])."""
    sizes, hidden, bottleneck = ARCHITECTURES[arch]
    narrowest = int(np.argmin(sizes))
    rng = np.random.default_rng(seed)
    model = MLP()
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        last = i == len(sizes) - 1
        activation = "sigmoid" if last else (bottleneck if i == narrowest else hidden)
        # A small positive bias starts every ReLU in its active region, so no bottleneck
        # unit is dead from the first step (dead units never recover: their gradient is 0).
        model.addLayer(Dense(n_in, n_out, activation=activation, seed=rng,
                             bias_init=0.0 if last or activation != "relu" else bias_init))
    return model


def learning_rate(epoch: int, base: float, epochs: int) -> float:
    """Constant for the first half, then halved three times: big steps early, fine ones late."""
    fraction = epoch / max(epochs, 1)
    return base * (1.0 if fraction < 0.5 else 0.5 if fraction < 0.7 else 0.25 if fraction < 0.85 else 0.125)


def evaluate(model: MLP, dataset: Dataset, noise: float) -> dict:
    """Test-set MSE/PSNR of noisy input, PCA-10 and the model, plus dead bottleneck units."""
    x_train, _ = dataset.train
    x_test, _ = dataset.test
    noisy = add_noise(x_test, noise, np.random.default_rng(EVAL_NOISE_SEED))
    pca = PCA(10).fit(x_train)
    denoised = model.predict(noisy)
    by_pca = pca.reconstruct(noisy)
    results = {
        "noisy_input": {"mse": mean_squared_error(noisy, x_test), "psnr": psnr(noisy, x_test)},
        "pca_10": {"mse": mean_squared_error(by_pca, x_test), "psnr": psnr(by_pca, x_test)},
        # PCA's output is not limited to [0, 1] like the model's sigmoid; clipping helps it a bit
        "pca_10_clipped": {"mse": mean_squared_error(np.clip(by_pca, 0, 1), x_test), "psnr": psnr(np.clip(by_pca, 0, 1), x_test)},
        "model": {"mse": mean_squared_error(denoised, x_test), "psnr": psnr(denoised, x_test)},
        "bottleneck_units": int(encode(model, noisy[:1]).shape[1]),
        "dead_bottleneck_units": dead_units(model, noisy),
        "test_images": int(len(x_test)),
        "noise_seed": EVAL_NOISE_SEED,
    }
    return results


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="seed")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="initial Adam learning rate")
    parser.add_argument("--noise", type=float, default=0.1, help="std of the Gaussian input noise")
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and noise")
    parser.add_argument("--bias-init", type=float, default=0.1, help="initial bias of ReLU layers")
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--out", type=Path, default=None,
                        help="model path without suffix (default models/<name>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = args.out or ROOT / "models" / DEFAULT_NAMES[args.arch]
    dataset = Dataset(name="mnist", train_size=args.train_size, test_size=10000,
                      batch_size=args.batch_size, seed=args.seed)
    model = build(args.arch, args.seed, args.bias_init)
    optimizer = Adam(model.parameters(), lr=args.lr)
    print(model)

    started = time.perf_counter()
    history = model.fit(dataset, epochs=args.epochs, optimizer=optimizer, autoencoder=True, noise=args.noise,
                        verbose=False if args.quiet else None,
                        lr_schedule=lambda epoch: learning_rate(epoch, args.lr, args.epochs))
    if history.interrupted:
        print(f"interrupted: saving the model as it is after {history.epochs} complete epochs")
    wall = time.perf_counter() - started

    metrics = evaluate(model, dataset, args.noise)
    record = {
        "architecture": "-".join(map(str, model.layer_sizes)),
        "activations": [layer.activation.name for layer in model.layers],
        "parameters": model.num_parameters,
        "training": {
            "command": " ".join(["python examples/train_denoising_autoencoder.py", *(argv if argv is not None else sys.argv[1:])]),
            "data": f"MNIST train, {args.train_size} images, noise std {args.noise} clipped to [0, 1]",
            "loss": "mse", "optimizer": "Adam", "lr": args.lr, "lr_schedule": "halved at 50%, 70%, 85% of epochs",
            "batch_size": args.batch_size, "epochs": history.epochs, "seed": args.seed,
            "bias_init": args.bias_init, "wall_seconds": round(wall, 1),
        },
        "test_metrics": metrics,
        "history": dict(history),
    }
    path = model.save(out, metadata=record)
    atomic_write_bytes(Path(out).with_suffix(".json"), (json.dumps(record, indent=2) + "\n").encode())
    history.plot(Path(str(out) + "_loss.png"), title=f"Denoising autoencoder {record['architecture']}: MSE per epoch")
    print(json.dumps(metrics, indent=2))
    print(f"wrote {path}, {Path(out).with_suffix('.json')} and {out}_loss.png in {wall:.0f} s of training")
    return record


if __name__ == "__main__":
    main()
