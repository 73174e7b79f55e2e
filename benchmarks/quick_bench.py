"""How fast is tinygrad_ae? A short benchmark you can read in five minutes.

It trains the seed's denoising autoencoder (784 -> 10 ReLU -> 784 Sigmoid, MSE, Adam lr 1e-3,
Gaussian noise of std 0.1) on the real MNIST for one epoch, twice per batch size: once with
tinygrad_ae's `train_step` (autograd does the backward pass) and once with the hand-written
numpy version in `numpy_autoencoder.py` (every derivative written out by hand, no autograd: the
bar a numpy framework is measured against). Both see the very same batches and start from the
same weights, so their losses must agree; the ratio of their times is the price of autograd.

    python benchmarks/quick_bench.py                 # batch sizes 32 and 128, ~20 s
    python benchmarks/quick_bench.py --batch-sizes 64

Both run with one BLAS thread and with freed memory kept for reuse, the settings `fit` uses
(see tinygrad_ae/_support/). `bench_training.py` is the full harness (PyTorch, batch size 1,
medians of several epochs, memory, per-op overhead).
"""

import argparse
import time

import numpy as np

from numpy_autoencoder import NumpyAutoencoder
from tinygrad_ae import MLP, Dataset, Dense, FusedAdam, train_step
from tinygrad_ae._support.memory import keep_freed_memory
from tinygrad_ae._support.threads import limit_blas_threads


def make_models():
    """The same network twice: tinygrad_ae's, and the hand-written one with a copy of its weights."""
    model = MLP([Dense(784, 10, activation="relu", seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
    (w1, b1), (w2, b2) = [(layer.W.data.copy(), layer.b.data.copy()) for layer in model.layers]
    by_hand = NumpyAutoencoder.from_arrays(W1=w1, b1=b1, W2=w2, b2=b2)
    return model, FusedAdam(model.parameters(), lr=1e-3), by_hand


def one_epoch(step, batches):
    """Seconds for one pass over ``batches``, and the mean loss per image."""
    total, count = 0.0, 0
    start = time.perf_counter()
    for x, y in batches:
        total += step(x, y) * len(x)
        count += len(x)
    return time.perf_counter() - start, total / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args()

    print(f"{'batch':>5}  {'hand-written numpy':>18}  {'tinygrad_ae':>11}  {'ratio':>6}  loss (numpy / tinygrad_ae)")
    for batch_size in args.batch_sizes:
        ds = Dataset(name="mnist", batch_size=batch_size, seed=0)
        # The batches made once, before timing: both implementations get exactly the same ones,
        # and the clock measures the models, not the noise generator.
        batches = [(x, y) for (x, y), _ in ds.batches(autoencoder=True, noise=0.1, test_batches=False)]
        model, optimizer, by_hand = make_models()

        def tinygrad_step(x, y):
            return train_step(model, optimizer, x, y, loss="mse").item()

        with limit_blas_threads(1), keep_freed_memory():
            one_epoch(tinygrad_step, batches[:20])  # warm up both (first calls allocate)
            one_epoch(by_hand.train_step, batches[:20])
            numpy_seconds, numpy_loss = one_epoch(by_hand.train_step, batches[20:])
            ours_seconds, ours_loss = one_epoch(tinygrad_step, batches[20:])
        print(f"{batch_size:>5}  {numpy_seconds:>16.2f} s  {ours_seconds:>9.2f} s  {ours_seconds / numpy_seconds:>5.2f}x"
              f"  {numpy_loss:.5f} / {ours_loss:.5f}")
        if not np.isclose(numpy_loss, ours_loss, rtol=1e-3):
            print("       the two disagree: they should compute the same function")


if __name__ == "__main__":
    main()
