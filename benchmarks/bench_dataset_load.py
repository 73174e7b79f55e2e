"""Benchmark: warm-cache load time of MNIST and batches() throughput at batch size 1, 32, 128.

Throughput is of batches() alone (the loop body does nothing), one epoch of 60,000 rows.

    python benchmarks/bench_dataset_load.py            # warm load + throughput + peak memory
    python benchmarks/bench_dataset_load.py --cold     # also a cold fetch into a temporary folder

A fresh process is used where a first-time cost matters (the first touch of new memory is a
large part of a load), so the figures are what a student sees when a script starts.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from tinygrad_ae._support import mnist_files
from tinygrad_ae.dataset import Dataset

FRESH_LOAD = """
import time
start = time.perf_counter()
from tinygrad_ae.dataset import Dataset
imported = time.perf_counter()
Dataset(name="mnist", seed=0)
print(imported - start, time.perf_counter() - imported)
"""

# VmHWM is the peak RSS of this process image; ru_maxrss (the fallback) would also count the
# memory of the benchmark process that forked it, on Linux.
PEAK_MEMORY = """
import resource
from tinygrad_ae.dataset import Dataset
ds = Dataset(name="mnist", seed=0, batch_size={batch_size})
for step in ds.batches(autoencoder=True, noise=0.1):
    pass
try:
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) * 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # KiB on Linux
"""


def python(code):
    """Run `code` in a fresh interpreter; return the numbers it printed on its last line."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [float(word) for word in out.stdout.splitlines()[-1].split()]


def warm_load(repeats):
    Dataset(train_size=1, test_size=1)  # make sure the cache is filled (a cold fetch otherwise)
    runs = [python(FRESH_LOAD) for _ in range(repeats)]
    imports, fresh = [r[0] for r in runs], [r[1] for r in runs]
    in_process = []
    for _ in range(repeats):
        start = time.perf_counter()
        Dataset(seed=0)
        in_process.append(time.perf_counter() - start)
    print(f"warm load, Dataset('mnist') 60k+10k: fresh process median {statistics.median(fresh):.3f} s "
          f"(min {min(fresh):.3f}, max {max(fresh):.3f}); in-process median "
          f"{statistics.median(in_process):.3f} s; import of tinygrad_ae.dataset "
          f"{statistics.median(imports):.3f} s")

    folder = mnist_files.cache_dir("mnist")
    start = time.perf_counter()
    raw = (folder / "train-images-idx3-ubyte").read_bytes()
    read = time.perf_counter() - start
    start = time.perf_counter()
    mnist_files.sha256(raw)
    digest = time.perf_counter() - start
    start = time.perf_counter()
    pixels = mnist_files.parse_idx(raw).reshape(-1, 784).astype(np.float32)
    pixels /= np.float32(255)
    convert = time.perf_counter() - start
    print(f"  train images (47 MB): read {read * 1e3:.0f} ms, SHA-256 {digest * 1e3:.0f} ms, "
          f"to float32 {convert * 1e3:.0f} ms (most of it is the first touch of 188 MB of new memory)")


def throughput(batch_sizes, epochs):
    for batch_size in batch_sizes:
        ds = Dataset(seed=0, batch_size=batch_size)
        for autoencoder, noise, test in ((True, 0.1, True), (True, 0.1, False), (False, 0.0, True)):
            times = []
            for _ in range(epochs):
                start = time.perf_counter()
                for _ in ds.batches(autoencoder=autoencoder, noise=noise, test_batches=test):
                    pass
                times.append(time.perf_counter() - start)
            best = min(times)
            print(f"batch_size={batch_size:>3}, autoencoder={autoencoder!s:5}, noise={noise}, "
                  f"test_batches={test!s:5}: {best:.3f} s/epoch, {len(ds) / best:>9,.0f} steps/s, "
                  f"{best / len(ds) * 1e6:7.2f} us/step")


def peak_memory(batch_sizes):
    dataset_bytes = 70000 * 784 * 4
    for batch_size in batch_sizes:
        peak = python(PEAK_MEMORY.format(batch_size=batch_size))[0]
        print(f"peak RSS, load + one noisy epoch at batch_size={batch_size}: {peak / 2**20:.0f} MiB "
              f"= {peak / dataset_bytes:.2f} x the float32 dataset ({dataset_bytes / 2**20:.0f} MiB)")


def cold_fetch():
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        Dataset(data_dir=folder, train_size=1, test_size=1)
        print(f"cold fetch into an empty folder: {time.perf_counter() - start:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="loads to time (median reported)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per batch size (best kept)")
    parser.add_argument("--cold", action="store_true", help="also time a cold fetch")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    warm_load(args.repeats)
    throughput((1, 32, 128), args.epochs)
    peak_memory((1, 128))
    if args.cold:
        cold_fetch()


if __name__ == "__main__":
    main()
