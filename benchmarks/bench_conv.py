"""How fast are tinygrad_ae's convolutions? Three measurements, printed as ratios.

1. Training the shipped conv denoiser (examples/train_denoisers.py --arch conv) on the same
   batches with tinygrad_ae and with PyTorch CPU (same architecture, same initial weights,
   Adam lr 1e-3, one thread each): seconds per epoch and their ratio. ``--steps`` limits the
   "epoch" to its first N batches (a full epoch is 1,875 batches of 32).
2. conv2d forward + backward per call (32 -> 32 channels, 3x3, padding 1, 14x14 images, the
   shipped model's middle layer) at batch 1, 32 and 128, against the floor: the three
   matmuls it does (forward, weight gradient, input gradient) timed alone.
3. Peak RSS of a training step of the shipped model at batch 64, in a fresh process.

    python benchmarks/bench_conv.py              # ~2 minutes on a quiet 2-core machine
    python benchmarks/bench_conv.py --steps 1875 # a whole epoch

Timings on a shared machine are noisy: the load average is printed with them.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
from train_denoisers import TRAIN_NOISE, build  # noqa: E402  (the shipped architecture itself)

from tinygrad_ae import Dataset, FusedAdam, Tensor, conv2d, train_step  # noqa: E402
from tinygrad_ae._support.memory import keep_freed_memory  # noqa: E402
from tinygrad_ae._support.threads import limit_blas_threads  # noqa: E402


def torch_twin(model):
    """The same network in PyTorch, with a copy of the weights (NCHW, the same kernel layout)."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            convs = model.layers[1].body[1:-1]
            self.convs = nn.ModuleList(nn.Conv2d(c.in_channels, c.out_channels, 3, padding=1) for c in convs)
            for mine, theirs in zip(convs, self.convs):
                theirs.weight.data = torch.tensor(mine.W.data.copy())
                theirs.bias.data = torch.tensor(mine.b.data.copy())

        def forward(self, x):
            n = x.shape[0]
            y = nn.functional.pixel_unshuffle(x.reshape(n, 1, 28, 28), 2)
            for i, conv in enumerate(self.convs):
                y = conv(y)
                y = torch.relu(y) if i < len(self.convs) - 1 else y
            return x + nn.functional.pixel_shuffle(y, 2).reshape(n, 784)
    return Net()


def epoch_seconds(batches, steps):
    """tinygrad_ae and PyTorch over the same batches: (seconds, seconds, last losses)."""
    import torch

    model = build("conv", 0)
    twin = torch_twin(model)
    optimizer, torch_optimizer = FusedAdam(model.parameters(), lr=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    torch.set_num_threads(1)
    started = time.perf_counter()
    with limit_blas_threads(1), keep_freed_memory():
        for x, y in batches[:steps]:
            ours = train_step(model, optimizer, x, y).item()
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for x, y in batches[:steps]:
        torch_optimizer.zero_grad()
        loss = ((twin(torch.from_numpy(np.array(x))) - torch.from_numpy(np.array(y))) ** 2).mean()
        loss.backward()
        torch_optimizer.step()
    return ours_seconds, time.perf_counter() - started, (ours, loss.item())


def best_of(function, repeats):
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other programs)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def conv_versus_matmuls(batch, repeats):
    """Seconds of conv2d forward + backward, and of its three matmuls alone."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((batch, 32, 14, 14), dtype=np.float32), requires_grad=True)
    w = Tensor(rng.random((32, 32, 3, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(32, np.float32), requires_grad=True)

    def step():
        x.grad = w.grad = b.grad = None
        conv2d(x, w, b, padding=1).sum().backward()
    cols = rng.random((batch * 14 * 14, 288), dtype=np.float32)
    kernels, grad = rng.random((288, 32), dtype=np.float32), rng.random((batch * 196, 32), dtype=np.float32)

    def matmuls():
        cols @ kernels, cols.T @ grad, grad @ kernels.T
    with limit_blas_threads(1):
        return best_of(step, repeats), best_of(matmuls, repeats)


def peak_rss_of_one_step():
    """Peak RSS (MiB) of a fresh process that runs two training steps at batch 64."""
    probe = ("import resource, numpy as np, sys; sys.path.insert(0, 'examples');"
             "from train_denoisers import build; from tinygrad_ae import FusedAdam, train_step;"
             "m = build('conv', 0); o = FusedAdam(m.parameters()); x = np.random.rand(64, 784).astype('float32');"
             "[train_step(m, o, x, x) for _ in range(2)];"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(run.stdout.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="batches of the 'epoch' (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings are indicative)")

    if not args.no_torch:
        dataset = Dataset(train_size=32 * args.steps, test_size=1, batch_size=32, seed=0)
        batches = [batch for batch, _ in dataset.batches(autoencoder=True, noise=TRAIN_NOISE, test_batches=False)]
        ours, theirs, losses = epoch_seconds(batches, args.steps)
        print(f"conv denoiser, {args.steps} steps at batch 32: tinygrad_ae {ours:.1f} s, PyTorch {theirs:.1f} s, "
              f"ratio {ours / theirs:.2f}x (last losses {losses[0]:.5f} / {losses[1]:.5f})")
    for batch in (1, 32, 128):
        conv, floor = conv_versus_matmuls(batch, args.repeats)
        print(f"conv2d 32->32 3x3 on 14x14, batch {batch:3}: forward+backward {1e3 * conv:7.2f} ms, "
              f"its matmuls alone {1e3 * floor:7.2f} ms, ratio {conv / floor:.2f}x")
    print(f"peak RSS of a training step at batch 64: {peak_rss_of_one_step():.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
