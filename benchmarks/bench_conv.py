"""How fast are tinygrad_ae's convolutions? Three measurements, printed as ratios.

1. Training the shipped conv denoiser (examples/train_denoisers.py --arch conv-two-scale) on the same
   batches with tinygrad_ae (``train_step`` compiled by ``jit``, as ``fit`` runs it) and with
   PyTorch CPU (the same layers, the same initial weights, Adam lr 1e-3, one thread each) at
   batch 1, 32 and 128: seconds and their ratio. ``--images`` sets how many training images
   each batch size runs over (a full epoch is 60,000); the first two batches of each run before
   the clock starts, for both (``jit`` traces the step there).
2. conv2d forward + backward per call (32 -> 32 channels, 3x3, padding 1, 28x28 images, the
   shipped model's full-resolution layers) at batch 1, 32 and 128, eager and compiled by ``jit``,
   against the floor: the three matmuls it does (forward, weight gradient, input gradient)
   timed alone.
3. Peak RSS of a training step of the shipped model at batch 64, in a fresh process.

    python benchmarks/bench_conv.py              # ~6 minutes on a quiet 2-core machine
    python benchmarks/bench_conv.py --images 60000  # whole epochs

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
from train_denoisers import SHIPPED_CONV, TRAIN_NOISE, build  # noqa: E402  (the shipped architecture itself)

from tinygrad_ae import SGD, Dataset, FusedAdam, Tensor, conv2d, jit, train_step  # noqa: E402
from tinygrad_ae import conv as conv_module  # noqa: E402  (its CONV2D_BACKWARD_AS_CONVOLUTION switch)
from tinygrad_ae._support.memory import keep_freed_memory  # noqa: E402
from tinygrad_ae._support.threads import limit_blas_threads  # noqa: E402


def torch_twin(model):
    """The same network in PyTorch, layer by layer, with a copy of the weights (NCHW, the same
    kernel layout; SpaceToDepth/DepthToSpace order channels as pixel_unshuffle/pixel_shuffle)."""
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "identity": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}

    class Add(nn.Module):  # Residual: x + body(x)
        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, x):
            return x + self.body(x)

    class Refine(nn.Module):  # Refinement: m + correction([x, m]), m = estimate(x)
        def __init__(self, estimate, correction):
            super().__init__()
            self.estimate, self.correction = estimate, correction

        def forward(self, x):
            m = self.estimate(x)
            return m + self.correction(torch.cat([x, m], dim=1))

    def twin(layer):
        kind = type(layer).__name__
        if kind == "Conv2D":
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)
            conv.weight.data, conv.bias.data = torch.tensor(layer.W.data.copy()), torch.tensor(layer.b.data.copy())
            return nn.Sequential(conv, activations[layer.activation.key]())
        if kind == "Dense":
            dense = nn.Linear(layer.in_features, layer.out_features)
            dense.weight.data, dense.bias.data = torch.tensor(layer.W.data.copy()), torch.tensor(layer.b.data.copy())
            return nn.Sequential(dense, activations[layer.activation.key]())
        if kind == "SpaceToDepth":
            return nn.PixelUnshuffle(layer.block)
        if kind == "DepthToSpace":
            return nn.PixelShuffle(layer.block)
        if kind in ("Reshape", "Flatten"):
            return nn.Unflatten(1, layer.shape) if kind == "Reshape" else nn.Flatten()
        if kind == "Residual":
            return Add(nn.Sequential(*[twin(inner) for inner in layer.body]))
        if kind == "Refinement":
            return Refine(nn.Sequential(*[twin(inner) for inner in layer.estimate]),
                          nn.Sequential(*[twin(inner) for inner in layer.correction]))
        if kind == "ClipWhenPredicting":  # the identity while training
            return nn.Identity()
        raise NotImplementedError(f"bench_conv: no PyTorch twin for {kind}")
    return nn.Sequential(*[twin(layer) for layer in model.layers])


WARM_UP_BATCHES = 2  # untimed, for both frameworks: jit traces the step on its first two calls


def epoch_seconds(batches, warm_up=WARM_UP_BATCHES):
    """tinygrad_ae (``train_step`` compiled by ``jit``, as ``fit`` runs it) and PyTorch over the
    same batches from the same weights, one thread each: (seconds, seconds, last losses).

    The first ``warm_up`` batches run before the clock starts, for both: there ``jit`` traces
    the step twice (eagerly, and checks the two traces agree) and PyTorch makes its first
    arrays. In a whole epoch those are 2 of its 469 steps at batch 128 (1,875 at batch 32); in
    this benchmark's short runs (25 steps at batch 128) they would be a tenth of the time,
    charged to one side.
    """
    import torch

    model = build(SHIPPED_CONV, 0)
    twin = torch_twin(model)
    optimizer, torch_optimizer = FusedAdam(model.parameters(), lr=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    step = jit(lambda x, y: train_step(model, optimizer, x, y))

    def torch_step(x, y):
        torch_optimizer.zero_grad()
        loss = ((twin(torch.from_numpy(np.array(x))) - torch.from_numpy(np.array(y))) ** 2).mean()
        loss.backward()
        torch_optimizer.step()
        return loss

    def timed(run):
        for x, y in batches[:warm_up]:
            run(x, y)
        started = time.perf_counter()
        for x, y in batches[warm_up:]:
            last = run(x, y)
        return time.perf_counter() - started, last.item()
    with limit_blas_threads(1), keep_freed_memory():  # as fit runs it
        ours, our_loss = timed(step)
    torch.set_num_threads(1)                          # as a PyTorch user would run it
    theirs, their_loss = timed(torch_step)
    return ours, theirs, (our_loss, their_loss)


def best_of(function, repeats):
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other programs)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def conv_versus_matmuls(batch, repeats, side=28):
    """Seconds of conv2d forward + backward (the shipped model's full-resolution layers: 32 -> 32
    channels, 3x3, padding 1, side x side images) run eagerly and compiled by ``jit`` (as
    ``fit`` runs it: windows copied into arrays made once), and of its three matmuls alone."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((batch, 32, side, side), dtype=np.float32), requires_grad=True)
    w = Tensor(rng.random((32, 32, 3, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(32, np.float32), requires_grad=True)

    def eager():
        x.grad = w.grad = b.grad = None
        conv2d(x, w, b, padding=1).sum().backward()
    clearing = SGD([x, w, b], lr=1e-3)  # only its zero_grad is used: a compiled step clears grads with it

    def forward_backward(unused):
        clearing.zero_grad()
        total = conv2d(x, w, b, padding=1).sum()
        total.backward()
        return total
    compiled, no_input = jit(forward_backward), np.zeros(1, np.float32)
    cols = rng.random((batch * side * side, 288), dtype=np.float32)
    kernels, grad = rng.random((288, 32), dtype=np.float32), rng.random((batch * side * side, 32), dtype=np.float32)

    def matmuls():  # forward, weight gradient, input gradient (a second convolution, or G @ kernels)
        cols @ kernels, cols.T @ grad, cols @ kernels if conv_module.CONV2D_BACKWARD_AS_CONVOLUTION else grad @ kernels.T
    with limit_blas_threads(1), keep_freed_memory():
        return (best_of(eager, repeats), best_of(lambda: compiled(no_input), repeats + 2),  # + 2: the traces
                best_of(matmuls, repeats))


def peak_rss_of_one_step():
    """Peak RSS (MiB) of a fresh process that runs two training steps at batch 64.

    Read from VmHWM in /proc/self/status, the high-water mark of this process's own memory:
    getrusage's ru_maxrss would also count the peak of the benchmark that started it (Linux
    carries it over across exec), which is what this probe once reported by mistake.
    """
    probe = ("import numpy as np, sys; sys.path.insert(0, 'examples');"
             "from train_denoisers import SHIPPED_CONV, build; from tinygrad_ae import FusedAdam, train_step;"
             "m = build(SHIPPED_CONV, 0); o = FusedAdam(m.parameters()); x = np.random.rand(64, 784).astype('float32');"
             "[train_step(m, o, x, x) for _ in range(2)];"
             "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(run.stdout.strip()) / 1024  # kB -> MiB


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200, help="training images per batch size (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--plain", action="store_true",
                        help="conv2d's composed backward (windows' scatter-add), not the convolution backward")
    args = parser.parse_args(argv)
    if not args.no_torch and args.images < (WARM_UP_BATCHES + 1) * 128:
        parser.error(f"--images {args.images} leaves no timed batch at batch size 128 (the first {WARM_UP_BATCHES} "
                     f"batches are untimed); use at least {(WARM_UP_BATCHES + 1) * 128}")
    conv_module.CONV2D_BACKWARD_AS_CONVOLUTION = not args.plain
    print(f"conv2d's input gradient: {'scatter-add of the windows (--plain)' if args.plain else 'a second convolution'}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings are indicative)")

    if not args.no_torch:
        print(f"conv denoiser training, {args.images} images per size (a full epoch is 60,000; the first two batches "
              "warm up untimed), one thread each:")
        for batch in (1, 32, 128):
            dataset = Dataset(train_size=args.images, test_size=1, batch_size=batch, seed=0)
            batches = [pair for pair, _ in dataset.batches(autoencoder=True, noise=TRAIN_NOISE, test_batches=False)]
            ours, theirs, losses = epoch_seconds(batches)
            timed = args.images - WARM_UP_BATCHES * batch  # the images of the timed batches
            print(f"  batch {batch:3}: tinygrad_ae {ours:6.2f} s, PyTorch {theirs:6.2f} s, ratio {ours / theirs:.2f}x"
                  f"  (an epoch: {ours * 60000 / timed:.0f} s vs {theirs * 60000 / timed:.0f} s;"
                  f" last losses {losses[0]:.5f} / {losses[1]:.5f})", flush=True)
    for batch in (1, 32, 128):
        eager, compiled, floor = conv_versus_matmuls(batch, args.repeats)
        print(f"conv2d 32->32 3x3 on 28x28, batch {batch:3}: forward+backward eager {1e3 * eager:7.2f} ms, "
              f"compiled {1e3 * compiled:7.2f} ms, its matmuls alone {1e3 * floor:7.2f} ms, "
              f"ratio {eager / floor:.2f}x eager, {compiled / floor:.2f}x compiled")
    print(f"peak RSS of a training step at batch 64: {peak_rss_of_one_step():.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
