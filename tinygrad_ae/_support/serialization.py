"""The model file format: one ``.npz`` per model, numbers and JSON only, never pickle.

A model file is a plain numpy ``.npz`` archive (a zip of ``.npy`` files) holding

- every array under its name (``"layer1.W"``, ``"layer1.b"``, ...), and
- one extra entry ``__model__.json``: UTF-8 JSON stored as a uint8 array::

      {"format": "tinygrad_ae.mlp", "format_version": 1,
       "architecture": {...}, "metadata": {...},
       "arrays": {"layer1.W": {"shape": [10, 784], "dtype": "float32"}, ...}}

Why not pickle: unpickling runs code chosen by whoever wrote the file. ``.npy`` arrays and JSON
are only data, so a downloaded model can at worst be wrong, never harmful. Files are read with
``allow_pickle=False`` and object arrays are refused when saving.

Why the ``"arrays"`` list in the header: it lets ``load_model`` tell a complete file from one
that lost arrays, and check each array's shape and dtype.

Writes are atomic (see ``files.atomic_writer``): a crash or a full disk leaves the previous
file, never half of a new one.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save_model(os.path.join(tempfile.mkdtemp(), "tiny"), {"layers": [2]},
    ...                   {"W": np.eye(2, dtype=np.float32)}, {"epochs": 3})

    Example:
        >>> os.path.basename(path)
        'tiny.npz'
        >>> architecture, arrays, metadata = load_model(path)
        >>> architecture, arrays["W"].dtype, metadata
        ({'layers': [2]}, dtype('float32'), {'epochs': 3})
"""

from __future__ import annotations

import json
import os
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .files import atomic_writer

FORMAT = "tinygrad_ae.mlp"
FORMAT_VERSION = 1
HEADER_ENTRY = "__model__.json"
SUFFIX = ".npz"

# Shipped models: the repo's top-level models/ (a checkout or editable install) first, then the
# copy the wheel carries inside the package (pyproject force-includes models/ as
# tinygrad_ae/models). Tests monkeypatch this tuple.
_PACKAGE = Path(__file__).resolve().parent.parent  # tinygrad_ae/
MODEL_DIRS = (_PACKAGE.parent / "models", _PACKAGE / "models")

# np.savez(file, *args, allow_pickle=..., **arrays) would swallow arrays with these names.
_SAVEZ_ARGUMENTS = ("file", "allow_pickle")
_ZIP_MAGIC = b"PK\x03\x04"
# Numbers and booleans only: these kinds are stored as raw bytes, never pickled.
_ALLOWED_KINDS = "biufc"
# What numpy and zipfile raise on damaged bytes (a flipped bit can hit any field of the zip).
_READ_ERRORS = (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, struct.error,
                NotImplementedError, RecursionError, zlib.error)
# Bounds that a file must respect before anything is allocated for it. An MLP has 2 arrays a
# layer; its header is a few KiB (the shipped ones: 4-6 KiB).
MAX_ENTRIES = 2_000
MAX_HEADER_BYTES = 16 << 20
# save_model stores arrays uncompressed; a deflated array may inflate this many times at most
# (float weights barely compress; deflate's own limit, reached by zeros, is ~1000x).
MAX_INFLATION = 16
MAX_MODEL_BYTES = 4 << 30  # 1e9 float32 weights: beyond that the file is not a student's model
_NPY = ".npy"


def save_model(path, architecture: dict, arrays: dict, metadata: dict | None = None) -> str:
    """Write one model file atomically and return its path (``.npz`` appended if missing).

    Args:
        path: the file to write; its folder is created if needed.
        architecture: JSON-able description of the network (the caller decides its content).
        arrays: name -> numeric numpy array, e.g. ``{"layer1.W": W, "layer1.b": b}``.
        metadata: optional JSON-able extras (training settings, scores, dates).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> folder = tempfile.mkdtemp()
        >>> save_model(os.path.join(folder, "m"), {}, {"b": np.zeros(3)}).endswith("m.npz")
        True
    """
    path = os.fspath(path)
    if not isinstance(path, str) or os.path.basename(path) in ("", ".", ".."):
        raise ValueError(f"save needs a file name, got {path!r}; pass e.g. 'my_model' or "
                         "'models/my_model.npz'")
    if not path.endswith(SUFFIX):  # "ae_lr0.001" has a dot but no suffix of ours
        path += SUFFIX
    for what, value in (("architecture", architecture), ("metadata", metadata or {})):
        if not isinstance(value, dict):
            raise TypeError(f"{what} must be a dict, got {type(value).__name__}: {value!r:.80} "
                            f"(saving {path})")
    checked = {name: _checked_array(name, value, path) for name, value in _items(arrays, path)}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "metadata": {} if metadata is None else metadata,
        "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str}
                   for name, a in checked.items()},
    }
    header_bytes = _to_json(header, path).encode("utf-8")
    entries = dict(checked)
    entries[HEADER_ENTRY] = np.frombuffer(header_bytes, dtype=np.uint8)
    with atomic_writer(path) as f:
        np.savez(f, **entries)
    return path


def load_model(name_or_path, check=None) -> tuple[dict, dict, dict]:
    """Read a model file: ``(architecture, arrays, metadata)``.

    ``name_or_path`` is a path (``.npz`` optional) or the bare name of a shipped model (see
    :func:`resolve_model_path`). Anything that is not a complete, uncorrupted model file of a
    format version this code understands raises ``ValueError`` naming the file.

    Nothing is allocated beyond what the file justifies: the header, the zip directory and
    each array's ``.npy`` header must agree on every shape and size before any array is
    read. ``check(architecture, specs)``, if given, sees the architecture and
    ``{name: (shape, dtype)}`` at that point and raises ``ValueError`` to refuse the file
    (``MLP.load`` checks the shapes against the layers there).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> path = save_model(os.path.join(tempfile.mkdtemp(), "m.npz"), {"sizes": [1, 1]},
        ...                   {"W": np.ones((1, 1))})

        Example:
            >>> load_model(path)[1]["W"].tolist()
            [[1.0]]
    """
    path = resolve_model_path(name_or_path)
    with open(path, "rb") as f:
        start = f.read(len(_ZIP_MAGIC))
        entries = _zip_entry_count(f)
        file_size = f.seek(0, os.SEEK_END)
    if len(start) < len(_ZIP_MAGIC) and _ZIP_MAGIC.startswith(start):
        raise ValueError(f"model file {path} is truncated: it has only {len(start)} bytes. "
                         "Copy or download it again, or save the model again.")
    if start != _ZIP_MAGIC:
        raise ValueError(f"{path} is not a tinygrad_ae model file (or its start is damaged): "
                         f"it is not a .npz (zip) archive, it starts with {start!r}. Pass a "
                         "file written by save_model.")
    if entries is not None and entries > MAX_ENTRIES:
        raise ValueError(f"model file {path} is corrupted: its zip directory lists {entries:,} "
                         f"entries; a model file has at most {MAX_ENTRIES:,}.")
    try:
        archive = zipfile.ZipFile(path)  # finds the zip's directory, which sits at the very end
    except _READ_ERRORS as error:
        raise ValueError(f"model file {path} is truncated or damaged: its zip directory at "
                         f"the end cannot be read ({_describe(error)}). Copy or download it "
                         "again, or save the model again.") from error
    with archive:
        members = _members(archive, file_size, path)
        # The header first: a foreign .npz should be called foreign, not corrupted.
        if HEADER_ENTRY not in members:
            _read_header(None, path)
        if _npy_spec(archive, members[HEADER_ENTRY], path)[1] != np.uint8:
            raise _corrupted(path, f"its {HEADER_ENTRY} is not stored as bytes (uint8)")
        header = _read_header(_read(archive, members[HEADER_ENTRY], path), path)
        listed = _listed_specs(header["arrays"], path)
        specs = {name: _npy_spec(archive, info, path) for name, info in members.items()
                 if name != HEADER_ENTRY}
        _check_arrays(listed, specs, path)
        if check is not None:
            check(header["architecture"], specs)
        # Only now, with every size known and justified, are the arrays read (and their CRCs checked).
        stored = {name: _read(archive, info, path) for name, info in members.items()
                  if name != HEADER_ENTRY}
    return header["architecture"], stored, header["metadata"]


def resolve_model_path(name_or_path) -> Path:
    """The model file meant by ``name_or_path``: an existing file, or a shipped model's name.

    Tried in order: the path as given; the path with ``.npz`` appended; for a bare name
    (no folder in it), ``<name>.npz`` in each folder of ``MODEL_DIRS``. Otherwise
    ``FileNotFoundError`` listing the shipped models and the folders searched.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> path = save_model(os.path.join(tempfile.mkdtemp(), "m.npz"), {}, {"b": np.zeros(1)})
        >>> resolve_model_path(path[:-len(".npz")]) == Path(path)
        True
    """
    given = Path(os.fspath(name_or_path)).expanduser()
    candidates = [given]
    if given.suffix != SUFFIX:
        candidates.append(Path(str(given) + SUFFIX))
    bare_name = str(name_or_path) == given.name and given.name not in ("", ".", "..")
    if bare_name:
        stem = given.name[:-len(SUFFIX)] if given.name.endswith(SUFFIX) else given.name
        candidates += [folder / (stem + SUFFIX) for folder in MODEL_DIRS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if given.is_dir():
        raise FileNotFoundError(f"{given} is a folder; pass the model file inside it "
                                "(a .npz written by save_model).")
    models = ", ".join(available_models()) or "none"
    searched = ", ".join(str(folder) for folder in MODEL_DIRS)
    tried = ", ".join(str(c) for c in candidates[:2])
    raise FileNotFoundError(f"no model file {str(name_or_path)!r}: tried {tried}"
                            + (f" and the shipped-model folders {searched}" if bare_name else "")
                            + f". Shipped models: {models}.")


def available_models() -> list[str]:
    """Names of the shipped models, usable with :func:`load_model`.

    Example:
        >>> isinstance(available_models(), list)
        True
    """
    names = set()
    for folder in MODEL_DIRS:
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*" + SUFFIX)
                         if p.is_file() and not p.name.startswith("."))  # skip temp files
    return sorted(names)


def _items(arrays, path):
    if not isinstance(arrays, dict):
        raise TypeError(f"arrays must be a dict of name -> numpy array, got "
                        f"{type(arrays).__name__} (saving {path})")
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"array names must be non-empty strings, got {name!r} (saving {path})")
        if problem := _name_problem(name):
            raise ValueError(f"array name {name!r} {problem}; rename it (saving {path})")
        if name.startswith("__") or name in _SAVEZ_ARGUMENTS:
            raise ValueError(f"array name {name!r} is reserved (names starting with '__', "
                             f"'file' and 'allow_pickle'); rename it (saving {path})")
        yield name, value


def _checked_array(name, value, path):
    """``value`` as an array of numbers, or a ValueError: anything else would need pickle."""
    array = np.asarray(value)
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise ValueError(f"array {name!r} has dtype {array.dtype}, which cannot be saved without "
                         "pickle; model files hold numbers only (bool, int, float, complex). "
                         f"Convert it, e.g. value.astype(np.float32) (saving {path})")
    return array


def _to_json(header, path) -> str:
    def plain(value):
        # numpy scalars (np.float32(0.5), np.int64(3)) are common in metadata: store the number.
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"{type(value).__name__} {value!r:.60} is not JSON")
    try:
        return json.dumps(header, default=plain, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"architecture and metadata must be JSON-able (dicts, lists, str, "
                         f"numbers, bool, None): {error}. Put arrays in `arrays` instead, or "
                         f"convert with .tolist() (saving {path})") from error


def _describe(error) -> str:
    """The error's message for a sentence (some zipfile errors have none)."""
    return str(error).rstrip(".") or type(error).__name__


def _corrupted(path, error) -> ValueError:
    return ValueError(f"model file {path} is corrupted: {_describe(error)}. Copy or download "
                      "it again, or save the model again.")


def _name_problem(name) -> str | None:
    """Why ``name`` cannot name an array in a zip, or None: no folders, no ``..``, no controls."""
    if any(c in name for c in "/\\") or ".." in name:
        return "contains '/', '\\' or '..' (array names are not paths)"
    if len(name) > 200 or not name.isprintable():
        return "is longer than 200 characters or has unprintable characters"
    return None


def _zip_entry_count(f) -> int | None:
    """The entry count in the zip's end record (read before zipfile builds its directory)."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - (1 << 16) - 22))  # the end record: 22 bytes + a comment of < 64 KiB
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None  # zipfile will say what is wrong
    return struct.unpack("<H", tail[at + 10:at + 12])[0]  # 0xFFFF (zip64) is over MAX_ENTRIES


def _members(archive, file_size, path) -> dict:
    """``{array name: ZipInfo}``, after checking that the directory's sizes fit the file."""
    members, total = {}, 0
    for info in archive.infolist():
        name = info.filename[:-len(_NPY)]
        if not info.filename.endswith(_NPY) or name in members or (
                name != HEADER_ENTRY and _name_problem(name)):
            raise ValueError(f"model file {path} is corrupted: its zip holds an entry named "
                             f"{info.filename!r:.80}; entries are '<array name>.npy', each once, "
                             "without '/' or '..'.")
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.flag_bits & 1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"model file {path} is corrupted: entry {info.filename!r} is "
                             "encrypted or compressed in a way save_model never writes.")
        if (info.header_offset + info.compress_size > file_size
                or info.file_size > (info.compress_size if stored else
                                     MAX_INFLATION * info.compress_size + (1 << 16))):
            raise ValueError(f"model file {path} is corrupted: entry {info.filename!r} claims "
                             f"{info.file_size:,} bytes from {info.compress_size:,} stored bytes "
                             f"in a file of {file_size:,} bytes.")
        total += info.file_size
        members[name] = info
    if total > MAX_MODEL_BYTES:
        raise ValueError(f"model file {path} declares {total:,} bytes of arrays, more than the "
                         f"{MAX_MODEL_BYTES:,} a tinygrad_ae model may hold.")
    if HEADER_ENTRY in members and members[HEADER_ENTRY].file_size > MAX_HEADER_BYTES:
        raise ValueError(f"model file {path} is corrupted: its {HEADER_ENTRY} has "
                         f"{members[HEADER_ENTRY].file_size:,} bytes, over {MAX_HEADER_BYTES:,}.")
    return members


def _npy_spec(archive, info, path) -> tuple:
    """``(shape, dtype)`` from an entry's ``.npy`` header, checked against its zip size."""
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy version {version}")
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            data_start = f.tell()
    except _READ_ERRORS as error:
        raise _corrupted(path, f"entry {info.filename!r}: {_describe(error)}") from error
    if dtype.kind not in _ALLOWED_KINDS or dtype.hasobject:
        raise _corrupted(path, f"array {info.filename[:-len(_NPY)]!r} has dtype {dtype}; "
                               "model files hold numbers only")
    if info.file_size != data_start + math.prod(shape) * dtype.itemsize:
        raise _corrupted(path, f"array {info.filename[:-len(_NPY)]!r} is {shape} {dtype}, but "
                               f"its zip entry holds {info.file_size:,} bytes")
    return tuple(shape), dtype


def _read(archive, info, path) -> np.ndarray:
    try:
        with archive.open(info) as f:
            array = np.lib.format.read_array(f, allow_pickle=False)
            if f.read(1):  # read to the end: zipfile checks the CRC there
                raise ValueError("bytes after the array")
        return array
    except _READ_ERRORS as error:
        raise _corrupted(path, f"array {info.filename[:-len(_NPY)]!r}: {_describe(error)}") from error


def _listed_specs(arrays: dict, path) -> dict:
    """``{name: (shape, dtype string)}`` from the header's ``"arrays"``, checked for sense."""
    listed = {}
    for name, spec in arrays.items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if (not isinstance(shape, list) or not isinstance(spec.get("dtype"), str) or _name_problem(name)
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise ValueError(f"model file {path} is corrupted: its header lists array {name!r:.80} "
                             f"as {spec!r:.80}; expected {{'shape': [sizes], 'dtype': '<f4'}}.")
        listed[name] = (tuple(shape), spec["dtype"])
    return listed


def _read_header(raw, path) -> dict:
    if raw is None:
        raise ValueError(f"{path} is not a tinygrad_ae model file: it has no {HEADER_ENTRY} entry "
                         "(a plain .npz?). Load a file written by save_model.")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # RecursionError: [[[[...
        raise ValueError(f"model file {path} is corrupted: its {HEADER_ENTRY} is not valid "
                         f"UTF-8 JSON ({_describe(error)}).") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise ValueError(f"{path} is not a tinygrad_ae model file: its format is {found!r}, "
                         f"expected {FORMAT!r}.")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"model file {path} is corrupted: format_version is {version!r}, "
                         "expected a positive integer.")
    if version > FORMAT_VERSION:
        raise ValueError(f"model file {path} has format_version {version}, but this "
                         f"tinygrad_ae reads format_version {FORMAT_VERSION} at most: it was "
                         "written by a newer tinygrad_ae. Upgrade tinygrad_ae "
                         "(pip install --upgrade tinygrad_ae) to load it.")
    for key in ("architecture", "metadata", "arrays"):
        if not isinstance(header.get(key), dict):
            raise ValueError(f"model file {path} is corrupted: {HEADER_ENTRY} has no {key!r} dict.")
    return header


def _check_arrays(listed: dict, stored: dict, path) -> None:
    """Every array the header lists is present with its shape and dtype, and nothing else."""
    missing = sorted(set(listed) - set(stored))
    if missing:
        raise ValueError(f"model file {path} is incomplete: arrays {missing} are listed in its "
                         f"header but missing (it has {sorted(stored)[:20]}). Save the model again.")
    extra = sorted(set(stored) - set(listed))
    if extra:
        raise ValueError(f"model file {path} is corrupted: it holds {len(extra):,} arrays "
                         f"{extra[:20]} that its header does not list.")
    for name, (shape, dtype) in listed.items():
        if stored[name][0] != shape or stored[name][1].str != dtype:
            raise ValueError(f"model file {path} is corrupted: array {name!r} is "
                             f"{stored[name][0]} {stored[name][1]}, but its header says "
                             f"{shape} {dtype}.")
