"""The Gaussian noise of the denoising task: exactly normal, float32, reproducible."""

import math

import numpy as np

from tinygrad_ae.dataset import add_noise


def test_noise_is_standard_normal_before_clipping():
    images = np.full((1, 200_001), 0.5, np.float32)
    z = (add_noise(images, 0.01, np.random.default_rng(1)) - np.float32(0.5)) / np.float32(0.01)  # 0.5 +- 50 sigma: never clipped
    z = z.ravel()
    assert z.dtype == np.float32 and z.shape == (200_001,)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs((z.astype(np.float64) ** 4).mean() - 3) < 0.05  # kurtosis of a normal
    # Kolmogorov-Smirnov distance to the normal CDF: about 1/sqrt(n) for a true sample.
    sample = np.sort(z[::10].astype(np.float64))
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in sample])
    ranks = np.arange(1, len(sample) + 1) / len(sample)
    assert np.abs(cdf - ranks).max() < 1.6 / math.sqrt(len(sample))  # 99.9 % level is ~1.95/sqrt(n)
    # successive draws are independent: no correlation between the two halves
    half = len(z) // 2
    assert abs(np.corrcoef(z[:half], z[half:2 * half])[0, 1]) < 0.01


def test_noise_is_reproducible_clipped_and_float32():
    images = np.full((4, 784), 0.5, np.float32)
    a = add_noise(images, 0.1, np.random.default_rng(3))
    b = add_noise(images, 0.1, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert abs((a - 0.5).std() - 0.1) < 0.005
    assert add_noise(images, 0.0) is images
