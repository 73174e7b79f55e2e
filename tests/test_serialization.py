"""Model files: exact round trips, no pickle, clear errors, atomic writes, lookup by name."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ae._support import serialization
from tinygrad_ae._support.serialization import (
    FORMAT, FORMAT_VERSION, HEADER_ENTRY, available_models, load_model, resolve_model_path, save_model,
)

ARCHITECTURE = {"layers": [{"in": 3, "out": 2, "activation": "ReLU"},
                           {"in": 2, "out": 3, "activation": "Sigmoid"}]}


def tiny_arrays(dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"layer1.W": rng.standard_normal((2, 3)).astype(dtype),
            "layer1.b": np.array([0.0, -0.0], dtype=dtype),
            "layer2.W": np.array([[np.nan, np.inf], [-np.inf, 1e-38], [3.0, np.pi]], dtype=dtype),
            "layer2.b": np.zeros(3, dtype=dtype)}


def write_raw(path, header, arrays):
    """A .npz laid out like ours but with any header: for files save_model would never write."""
    entries = dict(arrays)
    if header is not None:
        entries[HEADER_ENTRY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **entries)
    return str(path)


def good_header(arrays, **changes):
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "architecture": {},
              "metadata": {}, "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str}
                                         for n, a in arrays.items()}}
    header.update(changes)
    return header


# --- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    arrays = tiny_arrays(dtype)
    metadata = {"epochs": 3, "loss": 0.1 + 0.2, "note": "entraîné ✓", "history": [1.5, None],
                "nested": {"ok": True, "big": 2**62}}
    path = save_model(tmp_path / "model.npz", ARCHITECTURE, arrays, metadata)
    architecture, loaded, meta = load_model(path)
    assert architecture == ARCHITECTURE and meta == metadata
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].tobytes() == array.tobytes(), name  # NaN, inf and -0.0 included


def test_other_numeric_dtypes_and_shapes_round_trip(tmp_path):
    arrays = {"scalar": np.array(2.5), "empty": np.zeros((0, 4), np.float32),
              "ints": np.arange(5, dtype=np.int64), "mask": np.array([True, False]),
              "big_endian": np.arange(3, dtype=">f4"),
              "fortran": np.asfortranarray(np.ones((2, 3)))}
    _, loaded, _ = load_model(save_model(tmp_path / "m", {}, arrays))
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array), name


def test_suffix_is_added_only_when_missing_and_metadata_defaults_to_empty(tmp_path):
    """As np.savez does: .npz is appended unless the name ends with it (a dot in a name such
    as "ae_lr0.001" is not a suffix)."""
    assert save_model(tmp_path / "plain", {}, {"b": np.zeros(1)}) == str(tmp_path / "plain.npz")
    assert save_model(tmp_path / "ae_lr0.001", {}, {"b": np.zeros(1)}) == str(tmp_path / "ae_lr0.001.npz")
    assert save_model(tmp_path / "done.npz", {}, {"b": np.zeros(1)}) == str(tmp_path / "done.npz")
    assert load_model(tmp_path / "plain")[2] == {}
    assert load_model(tmp_path / "ae_lr0.001")[1]["b"].shape == (1,)


def test_numpy_scalars_in_metadata_are_stored_as_numbers(tmp_path):
    path = save_model(tmp_path / "m", {}, {}, {"loss": np.float32(0.5), "epoch": np.int64(7)})
    assert load_model(path)[2] == {"loss": 0.5, "epoch": 7}


# --- no pickle -----------------------------------------------------------------------------

def test_the_file_is_plain_npz_readable_without_pickle(tmp_path):
    path = save_model(tmp_path / "m", ARCHITECTURE, tiny_arrays(), {"a": 1})
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz[HEADER_ENTRY].tobytes().decode("utf-8"))
        for name in npz.files:
            assert npz[name].dtype != object
    assert header["format"] == "tinygrad_ae.mlp" and header["format_version"] == 1
    assert header["architecture"] == ARCHITECTURE and header["metadata"] == {"a": 1}


@pytest.mark.parametrize("bad", [np.array([1, "two", None], dtype=object), np.array(["text"])])
def test_arrays_that_are_not_numbers_are_refused_before_anything_is_written(tmp_path, bad):
    with pytest.raises(ValueError, match="'layer1.W'.*numbers only"):
        save_model(tmp_path / "m", {}, {"layer1.W": bad})
    assert not list(tmp_path.iterdir())


class _Trap:
    """Unpickling this would create a file: loading must never get that far."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_array_in_a_file_is_never_unpickled(tmp_path):
    marker = str(tmp_path / "pickle_ran")
    trap = np.array([_Trap(marker)], dtype=object)
    path = write_raw(tmp_path / "evil.npz", good_header({"W": np.zeros(1)}), {"W": trap})
    with pytest.raises(ValueError, match="evil.npz"):
        load_model(path)
    assert not os.path.exists(marker)


def test_metadata_that_is_not_json_is_refused(tmp_path):
    with pytest.raises(ValueError, match="JSON.*ndarray"):
        save_model(tmp_path / "m", {}, {}, {"weights": np.zeros(3)})
    with pytest.raises(ValueError, match="JSON"):
        save_model(tmp_path / "m", {"sizes": {1, 2}}, {})
    assert not list(tmp_path.iterdir())


def test_architecture_and_metadata_must_be_dicts(tmp_path):
    with pytest.raises(TypeError, match="architecture must be a dict, got list"):
        save_model(tmp_path / "m", [6, 3, 6], {})
    with pytest.raises(TypeError, match="metadata must be a dict, got str"):
        save_model(tmp_path / "m", {}, {}, "trained on MNIST")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["__model__.json", "__secret", "file", "allow_pickle", "", 3])
def test_reserved_or_invalid_array_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="name"):
        save_model(tmp_path / "m", {}, {name: np.zeros(1)})


# --- damaged and foreign files -------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    return save_model(tmp_path / "model.npz", ARCHITECTURE, tiny_arrays(), {"epochs": 1})


@pytest.mark.parametrize("keep", [0, 2, 100, 0.5, -1])
def test_truncated_file_raises_value_error_naming_the_file(saved, keep):
    data = open(saved, "rb").read()
    keep = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    open(saved, "wb").write(data[:keep])
    with pytest.raises(ValueError, match=r"model\.npz.*truncated"):
        load_model(saved)


def test_flipped_bytes_in_array_data_are_caught_by_the_crc(saved):
    data = bytearray(open(saved, "rb").read())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("layer1.W.npy")
    data[info.header_offset + 30 + len(info.filename) + info.file_size - 1] ^= 0xFF  # last byte
    open(saved, "wb").write(bytes(data))
    with pytest.raises(ValueError, match=r"model\.npz is corrupted.*CRC"):
        load_model(saved)


def test_any_single_flipped_byte_gives_a_value_error_or_the_exact_model(saved):
    """A flip anywhere (headers, directory, data): a ValueError, never wrong numbers."""
    original = open(saved, "rb").read()
    expected = tiny_arrays()
    errors = 0
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= 0x55
        open(saved, "wb").write(bytes(damaged))
        try:
            architecture, arrays, metadata = load_model(saved)
        except ValueError as error:
            assert "model.npz" in str(error)
            errors += 1
            continue
        # Some bytes (timestamps, unused fields of the zip) are not checked: then nothing changed.
        assert architecture == ARCHITECTURE and metadata == {"epochs": 1}
        assert all(arrays[n].tobytes() == a.tobytes() for n, a in expected.items())
    assert errors > 0.8 * len(original)


def test_a_file_that_is_not_a_zip_is_not_ours(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello, I am text")
    with pytest.raises(ValueError, match=r"notes\.npz is not a tinygrad_ae model file"):
        load_model(path)
    np.save(tmp_path / "array.npy", np.zeros(3))  # a single-array .npy file
    with pytest.raises(ValueError, match=r"array\.npy is not a tinygrad_ae model file"):
        load_model(tmp_path / "array.npy")


def test_a_foreign_npz_is_not_ours(tmp_path):
    path = write_raw(tmp_path / "foreign.npz", None, {"weights": np.ones(3)})
    with pytest.raises(ValueError, match=r"foreign\.npz is not a tinygrad_ae model.*__model__"):
        load_model(path)
    path = write_raw(tmp_path / "other.npz", good_header({}, format="keras.model"), {})
    with pytest.raises(ValueError, match=r"other\.npz is not a tinygrad_ae model file.*keras"):
        load_model(path)


def test_a_newer_format_version_asks_to_upgrade(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "FORMAT_VERSION", FORMAT_VERSION + 1)
    path = save_model(tmp_path / "future", {}, {"b": np.zeros(2)})
    monkeypatch.undo()
    with pytest.raises(ValueError, match=rf"future\.npz has format_version {FORMAT_VERSION + 1}"
                                         rf".*reads format_version {FORMAT_VERSION}.*[Uu]pgrade"):
        load_model(path)


@pytest.mark.parametrize("version", [0, "1", None, True])
def test_a_nonsense_format_version_is_corruption(tmp_path, version):
    path = write_raw(tmp_path / "m.npz", good_header({}, format_version=version), {})
    with pytest.raises(ValueError, match=r"m\.npz is corrupted.*format_version"):
        load_model(path)


def test_missing_extra_or_changed_arrays_are_reported(tmp_path):
    arrays = {"layer1.W": np.ones((2, 3), np.float32), "layer1.b": np.zeros(2, np.float32)}
    only_W = {"layer1.W": arrays["layer1.W"]}
    path = write_raw(tmp_path / "missing.npz", good_header(arrays), only_W)
    with pytest.raises(ValueError, match=r"missing\.npz is incomplete.*'layer1\.b'"):
        load_model(path)
    path = write_raw(tmp_path / "extra.npz", good_header({}), arrays)
    with pytest.raises(ValueError, match=r"extra\.npz is corrupted.*layer1\.W"):
        load_model(path)
    changed = {"layer1.W": np.ones((3, 2), np.float32), "layer1.b": arrays["layer1.b"]}
    path = write_raw(tmp_path / "changed.npz", good_header(arrays), changed)
    with pytest.raises(ValueError, match=r"changed\.npz is corrupted.*'layer1\.W' is \(3, 2\)"):
        load_model(path)


def test_a_header_that_is_not_json_is_corruption(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, **{HEADER_ENTRY: np.frombuffer(b"{not json", dtype=np.uint8)})
    with pytest.raises(ValueError, match=r"m\.npz is corrupted.*JSON"):
        load_model(path)


# --- atomic writes -------------------------------------------------------------------------

class _DiskFullAfter:
    """A file that accepts `limit` bytes, then fails like a full disk."""

    def __init__(self, f, limit):
        self._f, self._left = f, limit

    def write(self, data):
        if len(data) > self._left:
            self._f.write(bytes(data[:self._left]))
            raise OSError(28, "No space left on device")
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def test_a_failing_write_leaves_the_old_file_and_no_temp_file(saved, tmp_path, monkeypatch):
    before = open(saved, "rb").read()
    real_savez = np.savez

    def savez_on_a_full_disk(f, **arrays):
        real_savez(_DiskFullAfter(f, 700), **arrays)

    monkeypatch.setattr(serialization.np, "savez", savez_on_a_full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model(saved, {"new": True}, {"W": np.ones((100, 100))})
    monkeypatch.undo()
    assert open(saved, "rb").read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert load_model(saved)[0] == ARCHITECTURE


def test_an_interrupt_mid_write_leaves_the_old_file(saved, tmp_path, monkeypatch):
    before = open(saved, "rb").read()

    def interrupted(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(saved, {}, {"W": np.ones(3)})
    assert open(saved, "rb").read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_saving_over_an_existing_model_replaces_it(saved):
    save_model(saved, {"version": 2}, {"W": np.ones(2)})
    assert load_model(saved)[0] == {"version": 2}


# --- finding models by name ----------------------------------------------------------------

@pytest.fixture
def model_dirs(tmp_path, monkeypatch):
    repo, package = tmp_path / "repo_models", tmp_path / "package_models"
    monkeypatch.setattr(serialization, "MODEL_DIRS", (repo, package))
    monkeypatch.chdir(tmp_path)  # so that bare names do not match files where pytest started
    return repo, package


def test_default_model_folders_are_the_repo_then_the_package():
    package = os.path.dirname(os.path.dirname(os.path.abspath(serialization.__file__)))  # tinygrad_ae/
    assert [str(d) for d in serialization.MODEL_DIRS] == [
        os.path.join(os.path.dirname(package), "models"), os.path.join(package, "models")]
    assert isinstance(available_models(), list)


def test_bare_names_resolve_to_shipped_models_repo_first(model_dirs):
    repo, package = model_dirs
    save_model(package / "autoencoder", {"from": "package"}, {})
    save_model(package / "only_in_package", {"from": "package"}, {})
    assert load_model("autoencoder")[0] == {"from": "package"}
    save_model(repo / "autoencoder", {"from": "repo"}, {})
    assert resolve_model_path("autoencoder") == repo / "autoencoder.npz"
    assert resolve_model_path("autoencoder.npz") == repo / "autoencoder.npz"
    assert load_model("autoencoder")[0] == {"from": "repo"}
    assert load_model("only_in_package")[0] == {"from": "package"}


def test_paths_are_used_as_given_with_or_without_suffix(model_dirs, tmp_path):
    path = save_model(tmp_path / "elsewhere" / "mine", {"mine": 1}, {})
    assert resolve_model_path(path) == tmp_path / "elsewhere" / "mine.npz"
    assert resolve_model_path(tmp_path / "elsewhere" / "mine") == Path(path)
    assert load_model(str(tmp_path / "elsewhere" / "mine"))[0] == {"mine": 1}


def test_unknown_name_lists_available_models_and_searched_folders(model_dirs):
    repo, package = model_dirs
    save_model(repo / "mnist_denoising_autoencoder", {}, {})
    save_model(package / "fashion_autoencoder", {}, {})
    with pytest.raises(FileNotFoundError) as caught:
        load_model("mnist_autoencoder")
    message = str(caught.value)
    assert "'mnist_autoencoder'" in message
    assert "fashion_autoencoder, mnist_denoising_autoencoder" in message
    assert str(repo) in message and str(package) in message


def test_a_missing_path_or_a_folder_is_reported(model_dirs, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file.*nowhere.*Shipped models: none"):
        load_model(tmp_path / "nowhere" / "model.npz")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_model(tmp_path)


def test_available_models_lists_both_folders_and_skips_temp_files(model_dirs):
    repo, package = model_dirs
    assert available_models() == []
    save_model(repo / "b_model", {}, {})
    save_model(package / "a_model", {}, {})
    save_model(package / "b_model", {}, {})
    (repo / ".b_model.npz.x1y2.tmp").write_bytes(b"half")
    (repo / "notes.txt").write_text("not a model")
    assert available_models() == ["a_model", "b_model"]
