"""Speed benchmark: tinygrad_ae against hand-written numpy and PyTorch, training the MNIST autoencoder.

    python benchmarks/bench_training.py                      # full run, a few minutes on a quiet machine
    python benchmarks/bench_training.py --quick              # smoke test, ~1 minute
    python benchmarks/bench_training.py --batch-sizes 1 32 128 --epochs 3

The network is the seed's denoising autoencoder (Dense 784 -> 10 ReLU, Dense 10 -> 784
Sigmoid, MSE, Adam lr 1e-3; inputs get Gaussian noise of std 0.1, clipped to [0, 1]), trained
on the real 60,000 MNIST training images held in memory. Three implementations do the same
work in the same run:

* ``numpy``: the hand-written forward/backward/Adam of ``numpy_autoencoder.py`` (the bar);
* ``torch``: PyTorch on the CPU with 2 threads (skipped, with a message, when not installed);
* ``tinygrad_ae``: the package through its public API (MLP, Dense, mse, Adam, Dataset).

Same work means: the same initial weights (tinygrad_ae's, copied into the other two), the same
batches (numpy and tinygrad_ae each read their own ``Dataset(seed=0)``, whose epochs replay
identically; a check pass feeds all three the very same batches and compares their losses),
the same per-step bookkeeping (each adds up its loss for the epoch mean, as ``fit`` does).
Each implementation uses its idiomatic data pipeline in the timed epochs: numpy and
tinygrad_ae the ``Dataset``'s batches, PyTorch tensor indexing, ``torch.randn_like`` and
``clamp``; the pipelines are also timed alone, so data cost and model cost show separately.

Epochs are interleaved (numpy, torch, tinygrad_ae, pipelines, numpy, torch, ...) so that noise
from other work on the machine hits all alike; the median epoch is reported. At batch size 1
an epoch is 60,000 steps, so only the first ``--steps-b1`` (5,000) are timed and the time is
scaled to the full epoch (the tables say so).

Also measured: per-op overhead (forward+backward of tiny graphs, timeit-style) and the peak
memory of a separate process that loads MNIST and trains tinygrad_ae at batch size 128.
The results are printed as a Markdown table and written (atomically) to benchmarks/results.md.
"""

from __future__ import annotations

import os

# The environment as the user set it: imported libraries add variables of their own
# (threadpoolctl sets KMP_DUPLICATE_LIB_OK), which would wrongly show up as the machine's.
ENVIRONMENT = dict(os.environ)

import argparse
import datetime
import importlib.metadata
import itertools
import json
import platform
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

from tinygrad_ae import MLP, Dataset, Dense, FusedAdam, Tensor, jit, mse
from tinygrad_ae._support.memory import keep_freed_memory
from tinygrad_ae._support.threads import limit_blas_threads
from tinygrad_ae._support.files import atomic_write_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_autoencoder import NumpyAutoencoder  # noqa: E402  (sits next to this file)

HERE = Path(__file__).resolve().parent
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
NOISE, LR = 0.1, 1e-3
DATASET_BYTES = (TRAIN_SIZE + TEST_SIZE) * 784 * 4  # the float32 images, train + test
IMPLS = ("numpy", "torch", "tinygrad_ae", "tinygrad_ae jit")
# Issue #14's targets, per batch size: the compiled step / hand-written numpy, model only
# (pipeline subtracted), and a whole fit epoch (data included) / PyTorch.
TARGET_JIT_VS_NUMPY = {1: 1.3, 32: 1.0, 128: 1.0}
TARGET_FIT_VS_TORCH = {1: 0.3, 32: 0.4, 128: 0.6}
# Issue #6's targets: epoch time of tinygrad_ae divided by numpy's / PyTorch's, per batch size.
TARGET_VS_NUMPY = {1: 2.5, 32: 1.3, 128: 1.3}
TARGET_VS_TORCH = {1: 0.5, 32: 0.8, 128: 1.0}
AGREEMENT = 0.02  # losses of the three implementations must agree to 2%


def say(text=""):
    print(text, flush=True)


def mark(ok):
    return "✓" if ok else "✗"


# ---------------------------------------------------------------------- the machine


def machine_info() -> dict:
    """What the numbers depend on: CPU, cores, library versions, BLAS and its env vars."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    env = {k: v for k, v in sorted(ENVIRONMENT.items())
           if any(word in k for word in ("BLAS", "OMP_", "MKL", "KMP_", "GOTO", "NVPL", "DNNL", "ATEN"))}
    return {"cpu": cpu, "cores": cores, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch_version,
            "blas": blas_summary(), "env": env, "loadavg": load_average()}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews timings."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


class OtherLoad:
    """How much of the machine other processes (and the hypervisor, as steal time) took
    while a block ran: the busy CPU time in /proc/stat minus this process's own.

    Multi-threaded BLAS and PyTorch wait for their worker threads; when another process
    holds one of only two cores, their times jump (by 10-100x on our 2-core VM), so this is printed
    beside the timings. ``fraction`` is None where /proc/stat is missing.
    """

    def __enter__(self):
        self._start = self._snapshot()
        return self

    def __exit__(self, *exc):
        end = self._snapshot()
        self.fraction = self.steal = None
        if self._start and end:
            wall, busy, steal, mine = (b - a for a, b in zip(self._start, end))
            if wall > 0:
                self.fraction = max(0.0, busy - mine) / (wall * os.cpu_count())
                self.steal = steal / (wall * os.cpu_count())
        return False

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        except (OSError, ValueError):
            return None
        tick = os.sysconf("SC_CLK_TCK")
        busy = (user + nice + system + irq + softirq + steal) / tick
        t = os.times()
        return time.perf_counter(), busy, steal / tick, t.user + t.system + t.children_user + t.children_system

    def describe(self) -> str:
        if self.fraction is None:
            return "other load unknown"
        warn = "  ⚠ the machine was busy: expect noisy timings" if self.fraction > 0.1 else ""
        return (f"CPU taken by other processes meanwhile: {self.fraction:.0%} of the machine "
                f"(of which hypervisor steal {self.steal:.0%}){warn}")


def blas_summary() -> str:
    """numpy's BLAS: from threadpoolctl when installed (it sees the loaded library), else
    numpy's build configuration."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                         f"{i.get('num_threads')} thread(s))" for i in threadpool_info()
                         if i.get("user_api") == "blas") or "no BLAS found by threadpoolctl"
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        config = blas.get("openblas configuration", "")
        return f"{blas.get('name')} {blas.get('version')}" + (f" [{config}]" if config else "")
    except Exception as error:  # show_config's layout is not a stable API
        return f"unknown ({error})"


def wait_for_quiet(max_seconds, threshold=0.10, window=3.0):
    """Wait, up to ``max_seconds``, until other processes use under ``threshold`` of the machine
    (measured over ``window`` seconds). On a 2-core machine shared with test runs this is what
    makes timings repeatable; a warning is printed when the machine never quiets down."""
    if not max_seconds:
        return
    deadline = time.perf_counter() + max_seconds
    told = False
    while True:
        with OtherLoad() as load:
            time.sleep(window)
        if load.fraction is None or load.fraction < threshold:
            return
        if time.perf_counter() > deadline:
            say(f"  ⚠ the machine stayed busy ({load.fraction:.0%} used by others) for {max_seconds} s: going on anyway")
            return
        if not told:
            say(f"  waiting (up to {max_seconds} s) for other processes to leave the CPU: they use {load.fraction:.0%} now")
            told = True


def print_header(info, args):
    say("# tinygrad_ae training benchmark")
    say(f"CPU: {info['cpu']}, {info['cores']} cores usable; {info['os']}")
    say(f"Python {info['python']}, numpy {info['numpy']}, torch {info['torch'] or 'not installed'}")
    say(f"numpy BLAS: {info['blas']}")
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items()) or "none set"
    say(f"BLAS/OpenMP environment variables (left as they are; they can change numpy's speed): {env}")
    say(f"load average at start: {info['loadavg']}; PyTorch threads: {args.torch_threads}, "
        f"PyTorch Adam: {args.torch_adam}")
    say(f"batch sizes {args.batch_sizes}, {args.epochs} timed epochs each; batch size 1: first "
        f"{args.steps_b1:,} steps timed and scaled to 60,000" + ("; QUICK MODE (partial epochs)" if args.quick else ""))
    say()


# ---------------------------------------------------------------------- the three models


def make_tinygrad():
    """The seed's autoencoder in tinygrad_ae; its initial weights are copied into the others."""
    model = MLP([Dense(784, 10, activation="relu", seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
    return model, FusedAdam(model.parameters(), lr=LR)  # the optimizer fit uses


def initial_weights(model) -> dict:
    """``{"W1": ..., "b1": ..., "W2": ..., "b2": ...}``: copies, (out, in) layout."""
    (w1, b1), (w2, b2) = [(layer.W.data, layer.b.data) for layer in model.layers]
    return {"W1": w1.copy(), "b1": b1.copy(), "W2": w2.copy(), "b2": b2.copy()}


def make_torch(torch, weights, adam="default"):
    """The same network in PyTorch, starting from ``weights``.

    ``adam`` picks PyTorch's Adam implementation: "default" (what ``Adam(params)`` does: on
    the CPU a Python loop over the parameters), "foreach" or "fused".
    """
    model = torch.nn.Sequential(torch.nn.Linear(784, 10), torch.nn.ReLU(),
                                torch.nn.Linear(10, 784), torch.nn.Sigmoid())
    with torch.no_grad():
        for layer, (w, b) in zip((model[0], model[2]), (("W1", "b1"), ("W2", "b2"))):
            layer.weight.copy_(torch.from_numpy(weights[w]))
            layer.bias.copy_(torch.from_numpy(weights[b]))
    options = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[adam]
    return model, torch.optim.Adam(model.parameters(), lr=LR, **options)


def step_functions(torch, weights, torch_adam="default"):
    """One training step per implementation: ``step(x, y) -> loss as a float``.

    Each is the idiomatic loop of its framework, and each returns the loss so that the
    epoch's mean loss can be reported (``loss.item()``, as any training loop does).
    """
    tg_model, tg_opt = make_tinygrad()
    np_model = NumpyAutoencoder.from_arrays(**weights)

    def tinygrad_step(x, y):
        tg_opt.zero_grad()
        loss = mse(tg_model(Tensor(x)), Tensor(y))
        loss.backward()
        tg_opt.step()
        return loss.item()

    # The same four lines again, compiled: a student's loop with `step = jit(train_step)`.
    jit_model, jit_opt = make_tinygrad()

    def train_step(x, y):
        jit_opt.zero_grad()
        loss = mse(jit_model(Tensor(x)), Tensor(y))
        loss.backward()
        jit_opt.step()
        return loss
    compiled = jit(train_step)

    steps = {"numpy": np_model.train_step, "tinygrad_ae": tinygrad_step,
             "tinygrad_ae jit": lambda x, y: compiled(x, y).item()}
    models = {"numpy": np_model, "tinygrad_ae": tg_model, "tinygrad_ae jit": jit_model}
    if torch is not None:
        pt_model, pt_opt = make_torch(torch, weights, torch_adam)
        mse_loss = torch.nn.functional.mse_loss

        def torch_step(x, y):
            pt_opt.zero_grad()
            loss = mse_loss(pt_model(x), y)
            loss.backward()
            pt_opt.step()
            return loss.item()

        steps["torch"], models["torch"] = torch_step, pt_model
    return steps, models


# ---------------------------------------------------------------------- data pipelines


def dataset_batches(ds):
    """numpy's and tinygrad_ae's pipeline: the Dataset's shuffled noisy batches, ``(x, y)``."""
    return ((x, y) for (x, y), _ in ds.batches(autoencoder=True, noise=NOISE, test_batches=False))


def torch_batches(torch, images, batch_size):
    """PyTorch's idiomatic pipeline over images in memory: shuffle, index, add noise, clamp."""
    order = torch.randperm(len(images))
    for start in range(0, len(images), batch_size):
        clean = images[order[start:start + batch_size]]
        yield (clean + NOISE * torch.randn_like(clean)).clamp_(0, 1), clean


# ---------------------------------------------------------------------- timing an epoch


def timed_epoch(step, make_batches, steps):
    """Run ``step`` over the first ``steps`` batches; the clock includes making the batches.

    Returns ``(seconds, mean loss per image, steps run)``. ``step=None`` times the pipeline alone.
    """
    total, count, done = 0.0, 0, 0
    start = time.perf_counter()
    for x, y in itertools.islice(make_batches(), steps):
        if step is not None:
            total += step(x, y) * len(x)
        count += len(x)
        done += 1
    seconds = time.perf_counter() - start
    return seconds, (total / count if count else float("nan")), done


def timed_fit_epoch(model, optimizer, ds, validation):
    """One ``fit`` epoch (compiled step, BLAS limited to one thread, as fit does); returns
    ``(seconds, mean loss per image, steps run)`` like :func:`timed_epoch`."""
    start = time.perf_counter()
    history = model.fit(ds, epochs=1, optimizer=optimizer, autoencoder=True, noise=NOISE,
                        validation_data=validation, verbose=False)
    return time.perf_counter() - start, history["train_loss"][0], ds.steps_per_epoch


def check_agreement(steps, ds, torch, n_steps):
    """Feed the very same batches to all three (untimed; also warms them up).

    Returns ``{impl: mean loss over the steps}``. Also the check that they compute the same
    function: with the same init and data, their losses must agree to a few percent (in
    practice to float32 rounding).
    """
    totals = {impl: 0.0 for impl in IMPLS if impl in steps}
    count = 0
    for x, y in itertools.islice(dataset_batches(ds), n_steps):
        for impl, step in steps.items():
            if impl == "torch":
                totals[impl] += step(torch.tensor(x), torch.tensor(y)) * len(x)  # copies: the Dataset's arrays are read-only
            else:
                totals[impl] += step(x, y) * len(x)
        count += len(x)
    return {impl: total / count for impl, total in totals.items()}


def bench_batch_size(batch_size, args, torch, torch_images):
    """Everything for one batch size: the agreement check, then interleaved timed epochs."""
    full_steps = -(-TRAIN_SIZE // batch_size)
    timed_steps = min(full_steps, args.steps_b1 if batch_size == 1 else args.max_steps or full_steps)
    check_steps = min(full_steps, args.check_steps or timed_steps)
    scale = full_steps / timed_steps
    note = f" (first {timed_steps:,} of {full_steps:,} steps timed, scaled x{scale:.2f})" if scale > 1 else ""
    say(f"## batch size {batch_size}: {full_steps:,} steps per epoch{note}")

    # One Dataset per consumer, all seed 0: their k-th epochs are identical, so numpy and
    # tinygrad_ae see the same batches in every timed epoch too.
    make = lambda: Dataset(name="mnist", train_size=TRAIN_SIZE, test_size=TEST_SIZE, batch_size=batch_size, seed=0)
    datasets = {"check": make(), "numpy": make(), "tinygrad_ae": make(), "tinygrad_ae jit": make()}
    for ds in datasets.values():
        # Chunks made inline, so that "model only" = the epoch minus the pipeline alone holds;
        # fit below prefetches on a thread, as it does for anyone.
        ds.prefetch = False
    weights = initial_weights(make_tinygrad()[0])
    steps, models = step_functions(torch, weights, args.torch_adam)
    # fit gets a Dataset of just the timed rows (it has no step limit), and a small test set
    # (100 images) for its end-of-epoch test loss, so that scaling up stays fair.
    fit_model, fit_opt = make_tinygrad()
    fit_ds = Dataset(name="mnist", train_size=min(TRAIN_SIZE, timed_steps * batch_size), test_size=TEST_SIZE,
                     batch_size=batch_size, seed=0)
    fit_validation = (fit_ds.test[0][:100], fit_ds.test[0][:100])

    started = time.perf_counter()
    losses = check_agreement(steps, datasets["check"], torch, check_steps)
    agreement = report_agreement(losses, check_steps, full_steps, models, time.perf_counter() - started)

    sources = {
        "numpy": lambda: dataset_batches(datasets["numpy"]),
        "tinygrad_ae": lambda: dataset_batches(datasets["tinygrad_ae"]),
        "tinygrad_ae jit": lambda: dataset_batches(datasets["tinygrad_ae jit"]),
        "fit": None,
        "pipeline: Dataset": lambda: dataset_batches(datasets["check"]),
    }
    if torch is not None:
        sources["torch"] = lambda: torch_batches(torch, torch_images, batch_size)
        sources["pipeline: torch"] = sources["torch"]
    order = [name for name in ("numpy", "torch", "tinygrad_ae", "tinygrad_ae jit", "fit", "pipeline: Dataset",
                               "pipeline: torch") if name in sources]
    times = {name: [] for name in order}
    wait_for_quiet(args.wait_quiet)
    with OtherLoad() as load:
        for epoch in range(1, args.epochs + 1):
            line = []
            for name in order:
                if name == "fit":
                    seconds, loss, done = timed_fit_epoch(fit_model, fit_opt, fit_ds, fit_validation)
                else:
                    seconds, loss, done = timed_epoch(steps.get(name), sources[name], timed_steps)
                times[name].append(seconds * full_steps / done)
                line.append(f"{name} {times[name][-1]:.3f} s" + (f" (loss {loss:.5f})" if name in steps else ""))
            say(f"  epoch {epoch}: " + ", ".join(line))
    medians = {name: statistics.median(values) for name, values in times.items()}
    say("  median s/epoch (min-max): " + ", ".join(
        f"{name} {medians[name]:.3f} ({min(times[name]):.3f}-{max(times[name]):.3f})" for name in order))
    say(f"  {load.describe()}")
    noisy = [name for name in order if max(times[name]) > 1.5 * min(times[name])]
    if noisy:
        say(f"  ⚠ epoch times vary by more than 1.5x for {', '.join(noisy)}: rerun on a quiet machine to trust the ratios")
    floor = floor_per_step(batch_size, args.repeats)
    data_cpu = main_thread_data_cpu(datasets["check"], timed_steps)
    model_only = {}
    for impl in ("numpy", "torch", "tinygrad_ae", "tinygrad_ae jit"):
        pipe = "pipeline: torch" if impl == "torch" else "pipeline: Dataset"
        if impl in medians:
            model_only[impl] = medians[impl] - medians[pipe]
            model = f"{model_only[impl]:7.3f} s" if model_only[impl] > 0 else "  (noise)"  # the pipeline's median can exceed the whole's
            say(f"    {impl:<15} model {model} + data {medians[pipe]:.3f} s ({medians[impl] / full_steps * 1e6:8.1f} "
                f"us/step; the model part is {model_only[impl] / full_steps / floor['total']:.1f}x the floor)")
    if model_only.get("tinygrad_ae jit", 0) > 0:
        jit_step = model_only["tinygrad_ae jit"] / full_steps
        say(f"    data on the training thread: inline {data_cpu['inline'] * 1e6:.1f} us/step of CPU = "
            f"{data_cpu['inline'] / jit_step:.0%} of the compiled step; made ahead on a thread (as fit does) "
            f"{data_cpu['prefetch'] * 1e6:.1f} us/step = {data_cpu['prefetch'] / jit_step:.1%} (target < 15%)")
    say(f"    floor per step: matmuls alone {floor['matmuls'] * 1e6:.1f} us + minimal elementwise passes "
        f"{floor['elementwise'] * 1e6:.1f} us = {floor['total'] * 1e6:.1f} us ({floor['total'] * full_steps:.3f} s/epoch)")
    result = {"batch_size": batch_size, "full_steps": full_steps, "timed_steps": timed_steps,
              "epochs": args.epochs, "median": medians, "times": times, "agreement": agreement,
              "other_load": load.fraction, "model_only": model_only, "floor": floor, "data_cpu": data_cpu}
    report_ratios(result)
    say()
    return result


def report_agreement(losses, check_steps, full_steps, models, seconds):
    """Print the check pass's mean losses and whether they agree; returns the figures."""
    reference = losses["numpy"]
    worst = max(abs(loss - reference) / reference for loss in losses.values())
    ok = worst <= AGREEMENT
    span = "one epoch" if check_steps == full_steps else f"the first {check_steps:,} steps"
    say(f"  same batches, same init: mean training loss over {span} "
        + ", ".join(f"{impl} {loss:.6f}" for impl, loss in losses.items())
        + f"; largest difference {worst:.2e} {'✓' if ok else '⚠ WARNING: more than %d%%' % (AGREEMENT * 100)}"
        + f"  [{seconds:.1f} s, untimed, also the warm-up]")
    w_np, w_tg = models["numpy"].params["W1"], models["tinygrad_ae"].layers[0].W.data
    say(f"  after those steps, max |W1(tinygrad_ae) - W1(numpy)| = {np.abs(w_np - w_tg).max():.2e} "
        f"(max |W1| = {np.abs(w_np).max():.2f})")
    return {"losses": losses, "worst": worst, "ok": ok, "steps": check_steps}


def report_ratios(result):
    """Add tinygrad_ae / numpy and / torch ratios, with the issue's targets, to ``result``."""
    med, b = result["median"], result["batch_size"]
    for other, targets in (("numpy", TARGET_VS_NUMPY), ("torch", TARGET_VS_TORCH)):
        if other not in med:
            continue
        ratio = med["tinygrad_ae"] / med[other]
        target = targets.get(b)
        result[f"vs_{other}"] = (ratio, target)
        verdict = f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}" if target else "no target"
        say(f"  tinygrad_ae / {other}: {ratio:.2f}x  ({verdict})")
    model_only = result["model_only"]
    rows = [("jit_vs_numpy", "compiled step / hand-written numpy (model only)",
             model_only.get("tinygrad_ae jit"), model_only.get("numpy"), TARGET_JIT_VS_NUMPY),
            ("eager_vs_numpy", "eager step / hand-written numpy (model only)",
             model_only.get("tinygrad_ae"), model_only.get("numpy"), {}),
            ("fit_vs_torch", "whole fit epoch (data included) / PyTorch", med.get("fit"), med.get("torch"),
             TARGET_FIT_VS_TORCH)]
    for key, label, mine, theirs, targets in rows:
        if mine is None or not theirs or theirs <= 0 or mine <= 0:
            continue
        ratio, target = mine / theirs, targets.get(b)
        result[key] = (ratio, target)
        verdict = f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}" if target else "no target"
        say(f"  {label}: {ratio:.2f}x  ({verdict})")


def main_thread_data_cpu(ds, steps):
    """CPU seconds per step the calling thread spends getting its batches, with the chunks made
    inline and made ahead on a thread: the data pipeline's cost on the training's critical path
    (CPU time of this thread, so other processes on the machine do not inflate it)."""
    result = {}
    for prefetch in (False, True):
        ds.prefetch = prefetch
        start, done = time.thread_time(), 0
        for _ in itertools.islice(dataset_batches(ds), steps):
            done += 1
        result["prefetch" if prefetch else "inline"] = (time.thread_time() - start) / done
    ds.prefetch = False
    return result


# ---------------------------------------------------------------------- the floor


def floor_per_step(batch_size, repeats):
    """Seconds per step of the work no numpy implementation of this step can avoid.

    ``matmuls``: the step's five matrix products (two forward, three backward) into
    preallocated outputs. ``elementwise``: the minimal passes, one in-place numpy call each:
    over the (n, 784) output the bias add, the sigmoid (one tanh), the difference to the
    target, the sigmoid's derivative and the bias gradient's column sum; over the (n, 10)
    code the bias add, the ReLU and its mask; over the 16,474 parameters Adam's four (m, v,
    the step, the update). What an implementation spends beyond these is its distance to it.
    """
    rng = np.random.default_rng(0)
    n = batch_size
    x, z, y, dz = (rng.random((n, 784), dtype=np.float32) for _ in range(4))
    hz, h, dh0, dh = (rng.random((n, 10), dtype=np.float32) for _ in range(4))
    w1, w2 = rng.random((10, 784), dtype=np.float32), rng.random((784, 10), dtype=np.float32)
    g1, g2 = np.empty_like(w1), np.empty_like(w2)
    b1, b2, gb2 = rng.random(10, dtype=np.float32), rng.random(784, dtype=np.float32), np.empty(784, np.float32)
    flat, m = rng.random(16474, dtype=np.float32), np.empty(16474, np.float32)

    def matmuls():
        np.matmul(x, w1.T, out=h)
        np.matmul(h, w2.T, out=y)
        np.matmul(dz.T, h, out=g2)
        np.matmul(dz, w2, out=dh)
        np.matmul(dh.T, x, out=g1)

    def elementwise():  # from fixed inputs into outputs, so that no value drifts between calls
        np.add(z, b2, out=y)
        np.tanh(y, out=y)
        np.subtract(y, x, out=dz)
        np.multiply(dz, y, out=dz)
        np.sum(dz, axis=0, out=gb2)
        np.add(hz, b1, out=h)
        np.maximum(h, 0, out=h)
        np.multiply(dh0, h, out=dh)
        for _ in range(4):
            np.multiply(flat, 0.9, out=m)
    matmul_us, elementwise_us = time_call(matmuls, repeats), time_call(elementwise, repeats)
    return {"matmuls": matmul_us / 1e6, "elementwise": elementwise_us / 1e6, "total": (matmul_us + elementwise_us) / 1e6}


# ---------------------------------------------------------------------- per-op overhead


def time_call(fn, repeats):
    """Microseconds per call of ``fn``: median of ``repeats`` timeit repeats of ~0.2 s each."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()  # calls per repeat, so one repeat takes >= 0.2 s
    return statistics.median(t / number * 1e6 for t in timer.repeat(repeat=repeats, number=number))


def micro_benchmarks(torch, repeats):
    """Per-op overhead: forward+backward of tiny graphs, where the framework's own Python
    (graph recording, the backward walk) is the cost, not arithmetic."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(10, dtype=np.float32) for _ in range(3))
    X = rng.random((64, 784), dtype=np.float32)
    W = rng.standard_normal((784, 10), dtype=np.float32) * 0.05
    # Grads accumulate between calls in both frameworks (as they would without zero_grad).
    x, w, bias = (Tensor(v, requires_grad=True) for v in (a, b, c))
    tX, tW = Tensor(X), Tensor(W, requires_grad=True)  # X is data, W a parameter
    cases = {
        "elementwise": {"label": "(x * w + b).sum(), 10-element vectors",
                        "tinygrad_ae": lambda: (x * w + bias).sum().backward()},
        "matmul": {"label": "(X @ W).sum(), X 64x784, W 784x10",
                   "tinygrad_ae": lambda: (tX @ tW).sum().backward()},
    }
    if torch is not None:
        px, pw, pb = (torch.tensor(v, requires_grad=True) for v in (a, b, c))
        pX, pW = torch.tensor(X), torch.tensor(W, requires_grad=True)
        cases["elementwise"]["torch"] = lambda: (px * pw + pb).sum().backward()
        cases["matmul"]["torch"] = lambda: (pX @ pW).sum().backward()
    say("## per-op overhead: forward + backward, microseconds per call "
        f"(median of {repeats} repeats)")
    results = {}
    for key, case in cases.items():
        results[key] = {"label": case["label"]}
        for impl in ("tinygrad_ae", "torch"):
            if impl in case:
                results[key][impl] = time_call(case[impl], repeats)
        say(f"  {case['label']:<40} " + ", ".join(
            f"{impl} {results[key][impl]:7.1f} us" for impl in ("tinygrad_ae", "torch") if impl in results[key]))
    say()
    return results


# ---------------------------------------------------------------------- memory


MEMORY_SCRIPT = r"""
import json, resource
from tinygrad_ae import MLP, Dataset, Dense, FusedAdam, Tensor, jit, mse
from tinygrad_ae._support.memory import keep_freed_memory

def status(field):
    # /proc/self/status: VmRSS is the current resident memory, VmHWM its peak (kB)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

def report(stage):
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    print(json.dumps({"stage": stage, "rss": status("VmRSS"), "ru_maxrss": maxrss, "hwm": status("VmHWM")}), flush=True)

report("start")
ds = Dataset(name="mnist", train_size=60000, test_size=10000, batch_size=128, seed=0)
report("loaded")
model = MLP([Dense(784, 10, activation="relu", seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
opt = FusedAdam(model.parameters(), lr=1e-3)
kept = keep_freed_memory(); kept.__enter__()  # as fit does while it trains (held: else undone at once)

def train_step(xb, yb):
    opt.zero_grad(); loss = mse(model(Tensor(xb)), Tensor(yb)); loss.backward(); opt.step()
    return loss
step = jit(train_step) if COMPILED else train_step
for epoch in range(1, EPOCHS + 1):
    for (xb, yb), _ in ds.batches(autoencoder=True, noise=0.1, test_batches=False):
        step(xb, yb)
    report("epoch %d" % epoch)
"""


def memory_benchmark(epochs=3):
    """Peak RSS of a fresh process that loads MNIST and trains tinygrad_ae at batch 128,
    eager and then compiled (``jit``), which must stay within 10 % of eager."""
    results = {mode: memory_of(epochs, mode) for mode in ("eager", "compiled")}
    ratio = results["compiled"]["peak"] / results["eager"]["peak"]
    say(f"  peak RSS compiled / eager: {ratio:.3f}; target <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'}")
    say()
    results["eager"]["compiled"] = results["compiled"]
    results["eager"]["compiled_ratio"] = ratio
    return results["eager"]


def memory_of(epochs, mode):
    """Peak RSS of a fresh process that loads MNIST and trains tinygrad_ae at batch 128.

    Run before this process loads data or imports torch: on Linux a child's ru_maxrss starts
    from its parent's peak RSS (fork/exec), so a small parent keeps the figure honest.
    VmHWM (the child's own peak) is printed beside it as a cross-check.
    """
    code = MEMORY_SCRIPT.replace("EPOCHS", str(epochs)).replace("COMPILED", str(mode == "compiled"))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    stages = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    mib = lambda n: n / 2**20
    say(f"## memory: a fresh process loads MNIST (train + test) and trains tinygrad_ae ({mode}) at batch 128 "
        f"for {epochs} epochs")
    for s in stages:
        say(f"  {s['stage']:<8} RSS {mib(s['rss']):6.1f} MiB, peak (ru_maxrss) {mib(s['ru_maxrss']):6.1f} MiB, "
            f"VmHWM {mib(s['hwm']):6.1f} MiB")
    epoch1 = next(s for s in stages if s["stage"] == "epoch 1")
    peak = epoch1["ru_maxrss"]
    epoch_rss = [s["rss"] for s in stages if s["stage"].startswith("epoch")]
    growth = epoch_rss[-1] - epoch_rss[0]
    # "No growth": RSS after the last epoch within 5% of the dataset (10 MiB) of the first.
    # The allocator settles by a few MiB in the first epochs; a real leak is far bigger (keeping
    # one batch's arrays per step would add ~190 MiB per epoch, one graph of parameters ~30 MiB).
    no_growth = growth <= 0.05 * DATASET_BYTES
    ratio = peak / DATASET_BYTES
    say(f"  peak RSS after one epoch {mib(peak):.0f} MiB = {ratio:.2f}x the float32 dataset "
        f"({mib(DATASET_BYTES):.0f} MiB = 70,000 x 784 x 4 bytes); target <= 2x: {'met' if ratio <= 2 else 'NOT met'}")
    say(f"  RSS growth from epoch 1 to epoch {epochs}: {mib(growth):+.1f} MiB; "
        f"no growth: {'met' if no_growth else 'NOT met'}")
    return {"stages": stages, "peak": peak, "ratio": ratio, "epoch_rss": epoch_rss,
            "growth": growth, "no_growth": no_growth}


# ---------------------------------------------------------------------- the report


def markdown(info, results, micro, memory, args) -> str:
    """The README table: epoch times, ratios with targets, per-op overhead, memory."""
    has_torch = any("torch" in r["median"] for r in results)
    date = datetime.date.today().isoformat()
    blas = info["blas"].split(" [")[0]
    loads = [r["other_load"] for r in results if r["other_load"] is not None]
    busy = max(loads) if loads else None
    env = ", ".join(f"`{k}={v}`" for k, v in info["env"].items()) or "no BLAS/OpenMP variables set"
    lines = [
        "### Training speed: the 784-10-784 denoising autoencoder, one epoch of 60,000 MNIST images",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['os']}; Python {info['python']}, "
        f"numpy {info['numpy']} ({blas}; {env}), "
        + (f"PyTorch {info['torch']} CPU ({args.torch_threads} threads"
           + (f", Adam {args.torch_adam}" if args.torch_adam != "default" else "") + ")" if has_torch else "PyTorch not installed")
        + f". Measured {date} with `python benchmarks/bench_training.py{command_line(args)}`"
        + (f"; other processes (and hypervisor steal) took at most {busy:.0%} of the CPU during the timed epochs"
           if busy is not None else "") + ".",
        "",
        "| batch | floor (matmuls + minimal passes) | hand-written numpy | PyTorch CPU | tinygrad_ae eager | "
        "tinygrad_ae `jit` | `fit` | tinygrad_ae / numpy | target | tinygrad_ae / PyTorch | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---|---:|:---|",
    ]
    for r in results:
        med = r["median"]
        star = "*" if r["timed_steps"] < r["full_steps"] else ""
        cells = [f"{r['batch_size']}{star}", f"{r['floor']['total'] * r['full_steps']:.2f} s", f"{med['numpy']:.2f} s",
                 f"{med['torch']:.2f} s" if "torch" in med else "—", f"{med['tinygrad_ae']:.2f} s",
                 f"{med['tinygrad_ae jit']:.2f} s", f"{med['fit']:.2f} s"]
        for other in ("numpy", "torch"):
            ratio, target = r.get(f"vs_{other}", (None, None))
            cells.append(f"**{ratio:.2f}×**" if ratio is not None else "—")
            cells.append(f"≤ {target}× {mark(ratio <= target)}" if ratio is not None and target else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Issue #14's targets. Model only = the epoch minus the data pipeline alone; distance to the floor = "
        "an implementation's model-only time / the floor's.",
        "",
        "| batch | compiled step / numpy, model only | target | whole `fit` epoch / PyTorch | target | "
        "eager step / numpy, model only | distance to the floor: numpy / eager / `jit` |",
        "|---:|---:|:---|---:|:---|---:|:---|",
    ]
    for r in results:
        cells = [str(r["batch_size"])]
        for key in ("jit_vs_numpy", "fit_vs_torch", "eager_vs_numpy"):
            ratio, target = r.get(key, (None, None))
            cells.append(f"**{ratio:.2f}×**" if ratio is not None else "—")
            if key != "eager_vs_numpy":
                cells.append(f"≤ {target}× {mark(ratio <= target)}" if ratio is not None and target else "—")
        floor_epoch = r["floor"]["total"] * r["full_steps"]
        cells.append(" / ".join(f"{r['model_only'][i] / floor_epoch:.1f}×" if r["model_only"].get(i, 0) > 0 else "—"
                                for i in ("numpy", "tinygrad_ae", "tinygrad_ae jit")))
        lines.append("| " + " | ".join(cells) + " |")
    epochs = results[0]["epochs"] if results else 0
    lines += [
        "",
        f"Seconds per epoch, median of {epochs} epochs run interleaved, data pipeline included (the floor: model only). "
        "tinygrad_ae eager and `jit` run a student's own loop, the same four lines (`jit` compiles them); "
        "`fit` is one whole `fit` epoch (compiled, BLAS limited to one thread, a 100-image test loss). "
        "Same initial weights and batches; each implementation uses its own data pipeline "
        "(numpy and tinygrad_ae: `Dataset.batches`; PyTorch: tensor indexing, `randn_like`, `clamp`)."
        + (" \\*Only the first steps of the epoch are timed and scaled to 60,000 ("
           + ", ".join(f"batch {r['batch_size']}: {r['timed_steps']:,} steps" for r in results
                       if r["timed_steps"] < r["full_steps"]) + ")." if any(
            r["timed_steps"] < r["full_steps"] for r in results) else ""),
        "",
        "| batch | data pipeline alone: `Dataset` | PyTorch pipeline | data on the training thread, share of the `jit` step: inline / made ahead (target < 15 %) | loss agreement (mean loss, numpy / PyTorch / tinygrad_ae / `jit`) |",
        "|---:|---:|---:|:---|:---|",
    ]
    for r in results:
        med, agree = r["median"], r["agreement"]
        losses = " / ".join(f"{agree['losses'][i]:.5f}" if i in agree["losses"] else "—" for i in IMPLS)
        lines.append(f"| {r['batch_size']} | {med['pipeline: Dataset']:.2f} s | "
                     + (f"{med['pipeline: torch']:.2f} s" if "pipeline: torch" in med else "—")
                     + " | " + data_share(r) + f" | {losses} over {agree['steps']:,} steps, within {agree['worst']:.1e} {mark(agree['ok'])} |")
    if micro:
        lines += ["", "| per-op overhead, forward + backward | tinygrad_ae | PyTorch | target |", "|:---|---:|---:|:---|"]
        for key, row in micro.items():
            tg, pt = row.get("tinygrad_ae"), row.get("torch")
            target = "below PyTorch " + mark(tg < pt) if key == "elementwise" and pt else "—"
            lines.append(f"| `{row['label']}` | {tg:.1f} µs | " + (f"{pt:.1f} µs" if pt else "—") + f" | {target} |")
    if memory:
        mib = lambda n: f"{n / 2**20:.0f} MiB"
        rss = ", ".join(mib(v) for v in memory["epoch_rss"])
        lines += [
            "", "| memory (separate process: load MNIST, train tinygrad_ae at batch 128) | value | target |",
            "|:---|---:|:---|",
            f"| peak RSS after one epoch (`ru_maxrss`) | {mib(memory['peak'])} = {memory['ratio']:.2f}× the float32 "
            f"dataset ({mib(DATASET_BYTES)}) | ≤ 2× {mark(memory['ratio'] <= 2)} |",
            f"| RSS after each of {len(memory['epoch_rss'])} epochs | {rss} | no growth {mark(memory['no_growth'])} |",
            f"| compiled (`jit`): peak RSS, RSS after each epoch | {mib(memory['compiled']['peak'])} = "
            f"{memory['compiled_ratio']:.2f}× eager's; " + ", ".join(mib(v) for v in memory["compiled"]["epoch_rss"])
            + f" | ≤ 1.1× eager {mark(memory['compiled_ratio'] <= 1.1)}, no growth {mark(memory['compiled']['no_growth'])} |",
        ]
    return "\n".join(lines) + "\n"


def data_share(r) -> str:
    """The data pipeline's CPU on the training thread as a share of the compiled step."""
    jit_epoch = r["model_only"].get("tinygrad_ae jit", 0)
    if jit_epoch <= 0:
        return "—"
    inline, ahead = (r["data_cpu"][k] * r["full_steps"] / jit_epoch for k in ("inline", "prefetch"))
    return f"{inline:.0%} / {ahead:.1%} {mark(ahead < 0.15)}"


def command_line(args) -> str:
    """The options that change what was measured, as typed on the command line."""
    parts = [" --quick"] if args.quick else []
    if args.batch_sizes != [1, 32, 128]:
        parts.append(" --batch-sizes " + " ".join(map(str, args.batch_sizes)))
    defaults = {"epochs": 3 if args.quick else 5, "steps_b1": 1000 if args.quick else 5000,
                "max_steps": 200 if args.quick else None, "blas_threads": None,
                "torch_threads": 2, "torch_adam": "default"}
    for name, default in defaults.items():
        value = getattr(args, name)
        if value != default:
            parts.append(f" --{name.replace('_', '-')} {value}")
    return "".join(parts)


# ---------------------------------------------------------------------- main


def import_torch(wanted, threads):
    """PyTorch set to ``threads`` threads, or None (with a message) when missing or not wanted."""
    if not wanted:
        say("PyTorch skipped (--no-torch)")
        return None
    try:
        import torch
    except ImportError:
        say("PyTorch is not installed: its columns are skipped (pip install torch to include them)")
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs per implementation and batch size, median reported (default 5; --quick 3)")
    parser.add_argument("--steps-b1", type=int, default=None,
                        help="steps timed per epoch at batch size 1, scaled to 60,000 (default 5,000; --quick 1,000)")
    parser.add_argument("--max-steps", type=int, default=None, help="time at most this many steps per epoch at other batch sizes (scaled)")
    parser.add_argument("--check-steps", type=int, default=None, help="steps of the loss-agreement pass (default: as timed)")
    parser.add_argument("--repeats", type=int, default=None, help="timeit repeats of the per-op benchmark (default 7; --quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test (~1 minute): 3 epochs of at most 200 steps (1,000 at batch size 1), scaled")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit numpy's BLAS (used by numpy and tinygrad_ae alike) to this many threads, "
                             "with threadpoolctl (default: numpy's own setting, one per core)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch's intra-op threads (issue #6: 2)")
    parser.add_argument("--torch-adam", choices=("default", "foreach", "fused"), default="default",
                        help="PyTorch's Adam implementation (default: what Adam(params) picks, the idiomatic one)")
    parser.add_argument("--wait-quiet", type=int, default=0, metavar="SECONDS",
                        help="before each timed part, wait up to this long for other processes to leave the CPU")
    parser.add_argument("--no-micro", action="store_true", help="skip the per-op overhead benchmark")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory benchmark")
    parser.add_argument("--output", type=Path, default=None,
                        help="Markdown file for the table (default benchmarks/results.md; not written with --quick unless given)")
    args = parser.parse_args(argv)
    # --quick changes the defaults only: options given explicitly win.
    quick = args.quick
    args.epochs = args.epochs or (3 if quick else 5)
    args.steps_b1 = args.steps_b1 or (1000 if quick else 5000)
    args.max_steps = args.max_steps or (200 if quick else None)
    args.repeats = args.repeats or (3 if quick else 7)
    if args.epochs < 3:
        say(f"note: --epochs {args.epochs} is fewer than 3; the median of so few epochs is noisy")
    if args.output is None and not args.quick:
        args.output = HERE / "results.md"
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    if args.blas_threads:
        # for the whole process (not a with-block), before torch is imported: its MKL is a BLAS too
        limit_blas_threads(args.blas_threads).__enter__()
    # What fit does while it trains (and undoes afterwards): keep freed blocks for reuse.
    # Here for the whole run, so the numpy baseline and tinygrad_ae share the same malloc.
    kept_memory = keep_freed_memory()  # held in a name for the whole run: a collected one undoes itself
    kept_memory.__enter__()
    info = machine_info()
    print_header(info, args)
    # Memory first, while this process is still small (see memory_benchmark).
    memory = None if args.no_memory else memory_benchmark()
    torch = import_torch(not args.no_torch, args.torch_threads)
    if not args.no_micro:
        wait_for_quiet(args.wait_quiet)
    micro = None if args.no_micro else micro_benchmarks(torch, args.repeats)
    torch_images = None
    if torch is not None:  # PyTorch's copy of the training images, as a tensor in memory
        x_train = Dataset(name="mnist", train_size=TRAIN_SIZE, test_size=TEST_SIZE, seed=0).train[0]
        torch_images = torch.tensor(x_train)
    results = [bench_batch_size(b, args, torch, torch_images) for b in args.batch_sizes]
    table = markdown(info, results, micro, memory, args)
    say("## Markdown table for the README\n")
    say(table)
    if args.output:
        atomic_write_bytes(args.output, table.encode())
        say(f"written to {args.output}")
    else:
        say("(--quick: not written to a file; add --output PATH to keep it)")
    say(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
