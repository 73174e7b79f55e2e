"""How well a denoiser works: mean squared error and PSNR against the clean images, the PCA baseline, and
the bottleneck's dead ReLU units. Plain numpy; used by the training script, the demo and
the tests that check the shipped model.

Example:
    >>> import numpy as np
    >>> clean = np.zeros((2, 4)); noisy = clean + 0.1
    >>> round(psnr(noisy, clean), 1)
    20.0
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .dataset import add_noise
from .tensor import Tensor
from ._support.threads import limit_blas_threads


def mean_squared_error(prediction, clean) -> float:
    """Mean squared error over all pixels of all images.

    Example:
        >>> mean_squared_error(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]))
        0.5
    """
    prediction, clean = np.asarray(prediction, np.float64), np.asarray(clean, np.float64)
    if prediction.shape != clean.shape:
        raise ValueError(f"mean_squared_error: prediction {prediction.shape} and clean images {clean.shape} differ in shape")
    return float(np.mean((prediction - clean) ** 2))


def mean_psnr(prediction, clean, peak: float = 1.0) -> float:
    """The PSNR of each image (row) to its clean version, averaged: the usual way to report
    a test set image by image (``psnr`` pools all pixels first, so the two differ a little).

    Example:
        >>> round(mean_psnr(np.full((2, 4), 0.5), np.full((2, 4), 0.6)), 1)
        20.0
    """
    errors = np.mean((np.asarray(prediction, np.float64) - np.asarray(clean, np.float64)) ** 2, axis=1)
    return float(np.mean(10 * np.log10(peak**2 / np.maximum(errors, 1e-12))))


def psnr(prediction, clean, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(peak^2 / MSE), over the whole set (higher is better).

    Example:
        >>> round(psnr(np.full((1, 4), 0.5), np.full((1, 4), 0.6)), 1)
        20.0
    """
    error = mean_squared_error(prediction, clean)
    return float("inf") if error == 0 else float(10 * np.log10(peak**2 / error))


# The protocol of the README's quality table: the test images, these levels, this noise seed.
TEST_STDS = (0.1, 0.2, 0.3, 0.5)
TEST_NOISE_SEED = 1234


def denoising_scores(denoise, clean, levels=TEST_STDS, kind="gaussian", seed=TEST_NOISE_SEED) -> dict:
    """Dataset PSNR (dB) of the noisy input and of ``denoise(noisy)`` at each noise level.

    `denoise` maps a batch ``(n, 784)`` to the same shape (``model.predict``); the noise
    of each level comes from a fresh generator seeded with `seed`, so every model is
    scored on the very same noisy images.

    Example:
        >>> clean = np.full((4, 784), 0.5, np.float32)
        >>> scores = denoising_scores(lambda x: np.full_like(x, 0.5), clean, levels=[0.1])
        >>> scores["0.1"]["denoised"]
        inf
    """
    scores = {}
    for level in levels:
        noisy = add_noise(clean, level, np.random.default_rng(seed), kind=kind)
        denoised = np.concatenate([denoise(noisy[i:i + 1000]) for i in range(0, len(noisy), 1000)])
        scores[str(level)] = {"noisy": psnr(noisy, clean), "denoised": psnr(denoised, clean)}
    return scores


class PCA:
    """Principal component analysis by SVD: the best linear k-dimensional code (in MSE).

    Example:
        >>> x = np.random.default_rng(0).random((100, 6))
        >>> pca = PCA(2).fit(x)
        >>> pca.reconstruct(x).shape
        (100, 6)
    """

    def __init__(self, components: int):
        if components < 1:
            raise ValueError(f"PCA needs at least 1 component, got {components}")
        self.k = components

    def fit(self, x) -> "PCA":
        """Learn the mean and the top-k directions of ``x`` (rows are samples)."""
        x = np.asarray(x, np.float64)
        self.mean = x.mean(axis=0)
        centred = x - self.mean
        # The eigenvectors of the covariance matrix are the principal directions. Forming the
        # features x features matrix first is much faster than an SVD of all the samples
        # (MNIST: a 784 x 784 eigenproblem instead of a 60000 x 784 SVD).
        # One BLAS thread: on our 2-core test machine OpenBLAS took 1 s with two threads and
        # 0.07 s with one for this (see threads.py).
        with limit_blas_threads(1):
            eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(eigenvalues)[::-1]  # eigh sorts ascending
        variances = np.clip(eigenvalues[order], 0, None)
        self.components = eigenvectors[:, order[: self.k]].T
        self.variance_share = variances[: self.k] / variances.sum()  # of the total variance
        return self

    def encode(self, x) -> np.ndarray:
        """The k-number code of each row: ``PCA(2).fit(x).encode(x).shape == (len(x), 2)``."""
        return (np.asarray(x, np.float64) - self.mean) @ self.components.T

    def reconstruct(self, x) -> np.ndarray:
        """Project onto the k directions and back: ``PCA(2).fit(x).reconstruct(x).shape == x.shape``."""
        return self.encode(x) @ self.components + self.mean


def bottleneck_layers(model) -> int:
    """How many layers the encoder has: up to and including the one with the fewest outputs.

    Example:
        >>> from tinygrad_ae import MLP, Dense
        >>> bottleneck_layers(MLP([Dense(8, 4), Dense(4, 2), Dense(2, 4), Dense(4, 8)]))
        2
    """
    return int(np.argmin([layer.out_features for layer in model.layers])) + 1


def encode(model, x, layers: int | None = None) -> np.ndarray:
    """The activations after the first ``layers`` layers (default: up to the narrowest one,
    the bottleneck) for inputs ``x``, without recording a graph.

    Example:
        >>> from tinygrad_ae import MLP, Dense
        >>> model = MLP([Dense(6, 3), Dense(3, 6)])
        >>> encode(model, np.ones((2, 6))).shape
        (2, 3)
    """
    if layers is None:
        layers = bottleneck_layers(model)
    h = Tensor(np.asarray(x, np.float32))
    with no_grad():
        for layer in model.layers[:layers]:
            h = layer(h)
    return h.data


def dead_units(model, x) -> int:
    """Bottleneck units that output 0 for every input in ``x`` (dead ReLUs carry no information).

    Example:
        >>> from tinygrad_ae import MLP, Dense
        >>> model = MLP([Dense(2, 2), Dense(2, 2)])
        >>> model.layers[0].b.data[:] = [-100, 1]; model.layers[0].W.data[:] = 0
        >>> dead_units(model, np.ones((5, 2)))
        1
    """
    return int(np.sum(np.all(encode(model, x) <= 0, axis=0)))
