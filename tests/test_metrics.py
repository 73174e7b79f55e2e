"""The figures the README's quality table and the demo report."""

import numpy as np
import pytest

from tinygrad_ae import MLP, Dense
from tinygrad_ae.metrics import PCA, dead_units, encode, mean_psnr, mean_squared_error, psnr


def test_mse_and_psnr():
    clean = np.zeros((2, 4))
    noisy = clean + 0.1
    assert mean_squared_error(noisy, clean) == pytest.approx(0.01)
    assert psnr(noisy, clean) == pytest.approx(20.0)
    assert mean_psnr(noisy, clean) == pytest.approx(20.0)
    assert psnr(clean, clean) == float("inf")
    with pytest.raises(ValueError, match="differ in shape"):
        mean_squared_error(np.zeros(3), np.zeros(4))


def test_pca_finds_the_subspace_of_low_rank_data():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((20, 3)))[0].T  # 3 orthonormal directions in 20-D
    x = rng.standard_normal((500, 3)) * [5.0, 3.0, 1.0] @ basis + 2.0
    pca = PCA(3).fit(x)
    np.testing.assert_allclose(pca.reconstruct(x), x, atol=1e-8)
    assert pca.variance_share.sum() == pytest.approx(1.0)
    assert list(pca.variance_share) == sorted(pca.variance_share, reverse=True)
    # the components span the same space as the basis: projecting the basis loses nothing
    np.testing.assert_allclose(np.abs(np.linalg.svd(pca.components @ basis.T, compute_uv=False)), 1.0, atol=1e-8)


def test_encode_stops_at_the_bottleneck_and_dead_units_are_counted():
    model = MLP([Dense(6, 4, seed=0), Dense(4, 2, seed=0), Dense(2, 6, seed=0)])
    assert encode(model, np.ones((3, 6))).shape == (3, 2)
    model.layers[1].b.data[:] = [-100.0, 100.0]
    assert dead_units(model, np.ones((5, 6))) == 1
