"""The Gaussian noise of the denoising task: exactly normal, float32, reproducible."""

import math

import numpy as np
import pytest

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


def test_salt_pepper_and_masking_replace_the_given_fraction_of_pixels():
    images = np.full((20, 5000), 0.5, np.float32)
    salted = add_noise(images, 0.3, np.random.default_rng(0), kind="salt_pepper")
    changed = salted != 0.5
    assert abs(changed.mean() - 0.3) < 0.005                     # 30 % of the pixels
    assert set(np.unique(salted[changed])) == {0.0, 1.0}         # each set to 0 or 1
    assert abs((salted[changed] == 1).mean() - 0.5) < 0.01       # equally often
    masked = add_noise(images, 0.3, np.random.default_rng(0), kind="masking")
    assert abs((masked == 0).mean() - 0.3) < 0.005 and set(np.unique(masked)) == {0.0, 0.5}
    assert masked.dtype == salted.dtype == np.float32


def test_a_noise_range_gives_each_image_its_own_level():
    images = np.full((400, 2000), 0.5, np.float32)
    noisy = add_noise(images, (0.0, 0.2), np.random.default_rng(0))
    stds = (noisy - 0.5).std(axis=1)
    assert stds.min() < 0.01 and 0.19 < stds.max() <= 0.2 + 0.01   # from about 0 to about 0.2
    assert abs(stds.mean() - 0.1) < 0.01                               # uniform: mean 0.1
    fractions = (add_noise(images, (0.1, 0.3), np.random.default_rng(0), kind="masking") == 0).mean(axis=1)
    assert 0.07 < fractions.min() and fractions.max() < 0.33  # binomial spread: ~0.007 per image


def test_bad_noise_kinds_and_levels_are_refused():
    images = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match="unknown noise_kind 'speckle'"):
        add_noise(images, 0.1, kind="speckle")
    with pytest.raises(ValueError, match="fraction of pixels"):
        add_noise(images, 1.5, kind="masking")
    with pytest.raises(ValueError, match=r"pair \(low, high\) with low <= high"):
        add_noise(images, (0.3, 0.1))
