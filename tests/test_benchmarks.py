"""The benchmark's hand-written numpy autoencoder is the bar tinygrad_ae is measured against,
so it must compute the same thing: here autograd and backprop by hand check each other."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ae import MLP, Adam, Dense, Tensor, mse

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from numpy_autoencoder import NumpyAutoencoder  # noqa: E402


def test_hand_written_backprop_and_autograd_take_the_same_steps():
    rng = np.random.default_rng(0)
    model = MLP([Dense(784, 10, seed=1), Dense(10, 784, activation="sigmoid", seed=2)])
    by_hand = NumpyAutoencoder.from_arrays(W1=model.layers[0].W.data, b1=model.layers[0].b.data,
                                           W2=model.layers[1].W.data, b2=model.layers[1].b.data)
    optimizer = Adam(model.parameters(), lr=1e-3)
    for _ in range(10):
        x = rng.random((16, 784), dtype=np.float32)
        optimizer.zero_grad()
        loss = mse(model(Tensor(x)), Tensor(x))
        loss.backward()
        optimizer.step()
        assert by_hand.train_step(x, x) == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(model.layers[0].W.data, by_hand.params["W1"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.layers[1].b.data, by_hand.params["b2"], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.real_data
def test_training_benchmark_runs(tmp_path):
    out = tmp_path / "results.md"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "bench_training.py"), "--quick", "--batch-sizes", "32",
                          "--epochs", "1", "--max-steps", "20", "--no-torch", "--no-memory", "--output", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "tinygrad_ae / numpy" in run.stdout and "| 32 |" in out.read_text()
