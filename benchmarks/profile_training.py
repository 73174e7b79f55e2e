"""Where tinygrad_ae's training time goes: cProfile over N steps of the MNIST autoencoder.

    python benchmarks/profile_training.py --batch-size 128 --steps 469
    python benchmarks/profile_training.py --batch-size 1 --steps 5000 --top 30
    python benchmarks/profile_training.py --batch-size 32 --save /tmp/b32.prof   # for snakeviz etc.
    python benchmarks/profile_training.py --blas-threads 1    # numpy's BLAS on one thread, as fit() does

Trains exactly as ``bench_training.py`` does (Dense 784 -> 10 ReLU, Dense 10 -> 784 Sigmoid,
MSE, Adam lr 1e-3, the Dataset's noisy batches), after a few unprofiled warm-up steps, and
prints the top functions by own time (tottime: the hot spots themselves) and by cumulative
time (cumtime: which calls they sit under). The data pipeline is included, as in training;
``--no-data`` profiles the model alone on pre-made batches.

cProfile adds a fixed cost to every Python call, so small functions look more expensive than
they are: compare entries with each other, not with the benchmark's epoch times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import time

from tinygrad_ae import MLP, Dataset, Dense, FusedAdam, Tensor, mse
from tinygrad_ae._support.memory import keep_freed_memory


def endless_batches(ds):
    """The Dataset's training batches, epoch after epoch, as ``(x, y)``."""
    while True:
        for (x, y), _ in ds.batches(autoencoder=True, noise=0.1, test_batches=False):
            yield x, y


def train(model, opt, batches, steps):
    """The benchmark's training loop: ``steps`` steps of zero_grad, forward, backward, step."""
    total = 0.0
    for x, y in itertools.islice(batches, steps):
        opt.zero_grad()
        loss = mse(model(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
        total += loss.item()
    return total


def print_top(profile, sort, top):
    """The ``top`` entries of the profile sorted by ``sort`` ("tottime" or "cumulative")."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort)
    stats.print_stats(top)
    # pstats prints a preamble (file, totals) before the table; keep the totals line and the table
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    totals = next((line.strip() for line in lines if "function calls" in line), "")
    print(f"\n=== top {top} by {sort} ({totals}) ===")
    print("\n".join(lines[start:]).rstrip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None,
                        help="steps to profile (default: one epoch, at most 5,000)")
    parser.add_argument("--warmup", type=int, default=20, help="unprofiled steps first")
    parser.add_argument("--top", type=int, default=20, help="entries per table")
    parser.add_argument("--no-data", action="store_true",
                        help="profile the model only: pre-make the batches (the first --steps of an epoch)")
    parser.add_argument("--save", default=None, help="also write the raw profile to this file")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit numpy's BLAS to this many threads (fit uses 1; default: numpy's own setting)")
    args = parser.parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")

    ds = Dataset(name="mnist", train_size=60000, test_size=10000, batch_size=args.batch_size, seed=0)
    steps = args.steps or min(ds.steps_per_epoch, 5000)
    model = MLP([Dense(784, 10, activation="relu", seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
    opt = FusedAdam(model.parameters(), lr=1e-3)  # the optimizer fit uses
    kept = keep_freed_memory()  # as fit does while it trains (kept in a name: a collected
    kept.__enter__()            # context manager would undo itself at once)
    batches = endless_batches(ds)
    train(model, opt, batches, args.warmup)
    if args.no_data:  # made now, outside the profile; copies, so that they outlive their chunk
        batches = iter([(x.copy(), y.copy()) for x, y in itertools.islice(batches, steps)])

    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    train(model, opt, batches, steps)
    profile.disable()
    seconds = time.perf_counter() - start
    print(f"profiled {steps:,} steps at batch size {args.batch_size}"
          f"{' (model only, batches pre-made)' if args.no_data else ' (data pipeline included)'}: "
          f"{seconds:.2f} s under the profiler, {seconds / steps * 1e6:.0f} us/step; BLAS threads: "
          f"{args.blas_threads or 'numpy default'}")
    print_top(profile, "tottime", args.top)
    print_top(profile, "cumulative", args.top)
    if args.save:
        profile.dump_stats(args.save)
        print(f"\nraw profile written to {args.save}")


if __name__ == "__main__":
    main()
