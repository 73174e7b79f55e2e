"""Fuzzing the two readers of untrusted bytes: model files and MNIST IDX files (issue 10).

Hypothesis mutates and truncates a valid model file, and builds model files from random
headers (JSON and ``.npy``); it feeds the IDX parser and the cache reader random headers and
bytes. Each example must end in a ``ValueError`` (or load exactly the original model) and
must allocate little: `tracemalloc` (which sees numpy's buffers too) caps every example's
peak, and one test reruns all the fuzzers in a fresh process and caps its ``ru_maxrss``
growth. Under the "ci" profile the examples are the same on every run.
"""
import gzip
import io
import json
import os
import struct
import sys
import tempfile
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory_probe import peak_growth
from tinygrad_ae import MLP, Dense
from tinygrad_ae._support import mnist_files as mf
from tinygrad_ae._support.idx import IdxFormatError, idx_bytes, parse_idx
from tinygrad_ae._support.serialization import FORMAT, HEADER_ENTRY

EXAMPLE_CAP = 8 << 20  # bytes one example may allocate at its peak: the files are < 4 KiB
PROCESS_CAP_MIB = 64   # peak growth of a fresh process running every fuzzer below
FUZZ = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])

_FOLDER = tempfile.mkdtemp(prefix="tinygrad_ae_fuzz_")


def original_model() -> MLP:
    return MLP([Dense(3, 2, seed=0), Dense(2, 3, activation="sigmoid", seed=1)])


def _saved_bytes() -> bytes:
    path = original_model().save(os.path.join(_FOLDER, "original"), metadata={"epochs": 1})
    return Path(path).read_bytes()


ORIGINAL = _saved_bytes()


def bounded(action):
    """Run ``action()``; fail if it allocated more than EXAMPLE_CAP at its peak."""
    tracemalloc.start()
    try:
        return action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < EXAMPLE_CAP, f"one example allocated {peak:,} bytes"


def load_bytes(data: bytes, name="fuzzed"):
    """``MLP().load`` of a file holding ``data``: the model, or the ValueError's text."""
    path = os.path.join(_FOLDER, name + ".npz")
    with open(path, "wb") as f:
        f.write(data)

    def load():
        try:
            return MLP().load(path)
        except ValueError as error:  # any other exception fails the test
            assert path in str(error)
            return str(error)
    return bounded(load)


def same_as_original(model: MLP) -> bool:
    reference = original_model()
    return (repr(model) == repr(reference) and model.metadata == {"epochs": 1}
            and all(a.data.tobytes() == b.data.tobytes()
                    for (_, a), (_, b) in zip(model.named_parameters(), reference.named_parameters())))


# ------------------------------------------------------------------ mutations of a valid file

_BIG_NUMBERS = [0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
_mutation = st.one_of(
    st.tuples(st.just("xor"), st.integers(0, len(ORIGINAL) - 1), st.integers(1, 255)),
    st.tuples(st.just("put32"), st.integers(0, len(ORIGINAL) - 4), st.sampled_from(_BIG_NUMBERS)),
    st.tuples(st.just("insert"), st.integers(0, len(ORIGINAL)), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, len(ORIGINAL) - 1), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, len(ORIGINAL) - 1), st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    data = bytearray(data)
    for kind, at, value in mutations:
        at = min(at, len(data))
        if kind == "xor" and at < len(data):
            data[at] ^= value
        elif kind == "put32":
            data[at:at + 4] = struct.pack("<I", value)
        elif kind == "insert":
            data[at:at] = value
        elif kind == "delete":
            del data[at:at + value]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@FUZZ
@given(st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_model_files_give_a_value_error_or_the_original(mutations):
    result = load_bytes(mutate(ORIGINAL, mutations))
    assert isinstance(result, str) or same_as_original(result)


def test_the_unmutated_file_loads_as_the_original():
    assert same_as_original(load_bytes(ORIGINAL))


# ------------------------------------------------------------------ files built from random headers

# A small alphabet with the awkward characters: path parts, a NUL, a non-ASCII letter. (Hypothesis's
# full-Unicode text is slow to set up and finds nothing more here.)
_text = st.text(alphabet="aW._/\\\x00é", max_size=6)
_member = st.text(alphabet="aW._/\\é", max_size=6)  # zipfile cuts names at a NUL
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8)
_size = st.one_of(st.integers(1, 4), st.sampled_from([0, -1, 2**31, 2**40, 2**63, True]), _json)
_descr = st.sampled_from(["<f4", "<f8", "|u1", "<i8", "<c8", "|b1", "|O", "|V8", "<U3", ">f4", "<f2"])


_KEEP = st.sampled_from([True, True, True, False])  # each part stays valid 3 times in 4
_activation = st.sampled_from(["sigmoid", "tanh", None, "swish", 3])
_claimed_shape = st.lists(st.integers(0, 2**40), max_size=3)
_data = st.binary(max_size=64)
_extra = st.dictionaries(_member, st.lists(st.integers(0, 3), max_size=2).map(tuple), max_size=2)
_layer_count, _layer_size = st.integers(0, 3), st.integers(1, 4)


@st.composite
def random_model_file(draw) -> bytes:
    """A zip of .npy entries and a JSON header, each part valid or random."""
    def pick(valid, other):  # strategies are module-level: building them per example is slow
        return valid if draw(_KEEP) else draw(other)

    sizes = [draw(_layer_size) for _ in range(draw(_layer_count) + 1)]
    layers, arrays = [], {}
    for i in range(len(sizes) - 1):
        layers.append({"type": pick("Dense", _json), "in_features": pick(sizes[i], _size),
                       "out_features": pick(sizes[i + 1], _size), "activation": pick("relu", _activation)})
        arrays[f"layer{i + 1}.W"] = (sizes[i + 1], sizes[i])
        arrays[f"layer{i + 1}.b"] = (sizes[i + 1],)
    arrays.update(draw(_extra))
    listing = {n: {"shape": pick(list(s), _json), "dtype": pick("<f4", _json)} for n, s in arrays.items()}
    header = {"format": pick(FORMAT, _json), "format_version": pick(1, _json),
              "architecture": {"layers": pick(layers, _json)} if draw(_KEEP) else draw(_json),
              "metadata": pick({}, _json), "arrays": listing if draw(_KEEP) else draw(_json)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names: one of the things we try
        z.writestr(HEADER_ENTRY + ".npy", _npy(pick("|u1", _descr), pick(None, _claimed_shape),
                                               json.dumps(header).encode()))
        for name, shape in arrays.items():
            data = pick(np.zeros(shape, np.float32).tobytes(), _data)
            z.writestr(pick(name, _member) + ".npy", _npy(pick("<f4", _descr), pick(list(shape), _claimed_shape), data))
    return buffer.getvalue()


def _npy(descr, shape, data: bytes) -> bytes:
    """A .npy entry whose header says `descr` and `shape` (None: as many bytes as `data`)."""
    shape = (len(data),) if shape is None else tuple(shape)
    out = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    except ValueError:  # a header that numpy refuses to write: write it by hand
        text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + 1) + text + b"\n")
    return out.getvalue() + data


@FUZZ
@given(random_model_file())
def test_files_with_random_headers_give_a_value_error_or_a_consistent_model(data):
    result = load_bytes(data, "random_header")
    if not isinstance(result, str):  # it loaded: then it is exactly what numpy reads from it
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name, tensor in result.named_parameters():
                stored = np.load(io.BytesIO(z.read(name + ".npy")), allow_pickle=False)
                assert stored.dtype == tensor.data.dtype and stored.tobytes() == tensor.data.tobytes()


# ------------------------------------------------------------------ the MNIST IDX reader

_ZEROS_GZ = gzip.compress(bytes(2 * EXAMPLE_CAP))  # a second gzip member, 16 KiB on disk

@st.composite
def idx_file(draw) -> bytes:
    magic = draw(st.sampled_from([2049, 2051, 2049, 2051, 2050, 0x1F8B0000, draw(st.integers(0, 2**32 - 1))]))
    ndim = magic & 0xFF if magic in (2049, 2051) else draw(st.integers(0, 3))
    dims = draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from([2**31, 2**32 - 1])),
                         min_size=ndim, max_size=ndim))
    body = draw(st.binary(max_size=64))
    data = struct.pack(f">I{len(dims)}I", magic, *dims) + body
    return data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


@FUZZ
@given(idx_file())
def test_the_idx_parser_gives_an_idx_error_or_exactly_the_bytes(data):
    def parse():
        try:
            return parse_idx(data, "fuzzed")
        except IdxFormatError as error:
            assert "fuzzed" in str(error)
            return None
    array = bounded(parse)
    if array is not None:  # accepted: its header and its length agree
        assert idx_bytes(array) == data


@FUZZ
@given(idx_file(), st.sampled_from(["raw", "gzip", "bomb"]))
def test_the_cache_reader_ignores_bad_files_with_a_warning_and_bounded_memory(data, packing):
    if packing == "gzip":
        data = gzip.compress(data)
    elif packing == "bomb":  # a cached .gz that inflates to twice the example cap
        data = gzip.compress(data) + _ZEROS_GZ
    path = Path(_FOLDER) / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bounded(lambda: mf._read_verified(path, "t10k-labels-idx1-ubyte",
                                                   mf.SHA256["mnist"]["t10k-labels-idx1-ubyte"]))
    assert result is None
    assert [w.category for w in caught] == [mf.CacheCorruptionWarning]


# ------------------------------------------------------------------ all of it, in a fresh process

FUZZERS = ["test_mutated_model_files_give_a_value_error_or_the_original",
           "test_files_with_random_headers_give_a_value_error_or_a_consistent_model",
           "test_the_idx_parser_gives_an_idx_error_or_exactly_the_bytes",
           "test_the_cache_reader_ignores_bad_files_with_a_warning_and_bounded_memory"]


@pytest.mark.slow
def test_every_fuzzer_keeps_a_fresh_process_peak_memory_bounded():
    setup = f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import conftest, test_fuzz
    """
    action = "\n".join(f"test_fuzz.{name}()" for name in FUZZERS)
    outcome, growth = peak_growth(setup, action, env=dict(os.environ, HYPOTHESIS_PROFILE="ci"))
    assert outcome == "ok", outcome
    assert growth < PROCESS_CAP_MIB, f"the fuzzers grew a fresh process's peak by {growth:.0f} MiB"
