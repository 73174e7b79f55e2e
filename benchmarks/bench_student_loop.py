"""Does a student's own four-line training loop run as fast as ``fit``?

``fit`` limits numpy's BLAS to one thread while it trains; a hand-written loop does not, and
on a small machine OpenBLAS then hands each product of the seed's autoencoder (784 -> 10
ReLU -> 784 sigmoid, real MNIST, Adam) to its thread pool, which costs far more than it saves.
``MatMul`` therefore computes small products in blocks that OpenBLAS keeps on the calling
thread (``autograd.SPLIT_SMALL_PRODUCTS``). This script prints milliseconds per step for:

- the hand loop with plain ``a @ b`` (``SPLIT_SMALL_PRODUCTS = False``: the code before the fix),
- the hand loop as shipped (small products in blocks),
- ``fit`` (one BLAS thread, freed memory kept for reuse) with the same optimizer and batches,

and, for each, CPU seconds per wall-clock second (about 1 when one thread works, up to the
number of cores when BLAS threads run or spin; less when other programs share the cores).
Each measurement runs in a fresh Python process: once ``fit`` has run, glibc's malloc no
longer adapts its thresholds by itself (see ``_support/memory.py``), which would slow every
later loop in the same process and blur the comparison.

    python benchmarks/bench_student_loop.py                  # batch sizes 32 and 128, ~1 min
    python benchmarks/bench_student_loop.py --batch-sizes 64 --steps 100
"""

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from tinygrad_ae import MLP, Adam, Dataset, Dense, Tensor, autograd
from tinygrad_ae.losses import mse


def make_model():
    model = MLP([Dense(784, 10, activation="relu", seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
    return model, Adam(model.parameters(), lr=1e-3)


def hand_loop(batches):
    """The loop a student writes after reading the README: no fit, no settings."""
    model, optimizer = make_model()
    for x, y in batches:
        optimizer.zero_grad()
        loss = mse(model(Tensor(x)), Tensor(y))
        loss.backward()
        optimizer.step()


def fit_loop(batches):
    model, optimizer = make_model()
    x = np.concatenate([x for x, _ in batches])
    y = np.concatenate([y for _, y in batches])
    model.fit(x, y, batch_size=len(batches[0][0]), epochs=1, optimizer=optimizer, verbose=False, seed=0)


def measure(run, batches, repeats):
    """Median ms per step over ``repeats`` runs, and CPU seconds per wall second."""
    ms, cpu_per_wall = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run(batches)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        ms.append(wall / len(batches) * 1e3)
        cpu_per_wall.append(cpu / wall)
    return statistics.median(ms), statistics.median(cpu_per_wall)


RUNS = {"plain": ("hand loop, plain a @ b (before)", False, hand_loop),
        "split": ("hand loop, small products split", True, hand_loop),
        "fit": ("fit (1 BLAS thread)", True, fit_loop)}


def measure_one(run_name, batch_size, steps, repeats):
    """One line of the table, measured in this process."""
    label, split, run = RUNS[run_name]
    ds = Dataset(name="mnist", batch_size=batch_size, seed=0)
    batches = []
    for (x, y), _ in ds.batches(autoencoder=True, noise=0.1, test_batches=False):
        batches.append((x, y))
        if len(batches) == steps:
            break
    autograd.SPLIT_SMALL_PRODUCTS = split
    ms, ratio = measure(run, batches, repeats)
    print(f"{batch_size:>5}  {label:<34} {ms:>8.2f}  {ratio:>8.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", choices=sorted(RUNS), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.one:
        return measure_one(args.one, args.batch_sizes[0], args.steps, args.repeats)
    blas = [(info["internal_api"], info["version"], info["num_threads"]) for info in threadpool_info()
            if info["user_api"] == "blas"]
    print(f"BLAS (library, version, threads): {blas}")
    print(f"{'batch':>5}  {'loop':<34} {'ms/step':>8}  {'cpu/wall':>8}", flush=True)
    for batch_size in args.batch_sizes:
        for run_name in RUNS:
            subprocess.run([sys.executable, __file__, "--one", run_name, "--batch-sizes", str(batch_size),
                            "--steps", str(args.steps), "--repeats", str(args.repeats)], check=True)


if __name__ == "__main__":
    main()
