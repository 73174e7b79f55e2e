"""The IDX file format of MNIST (and Fashion-MNIST): reading and writing it, nothing more.

An IDX file is a 4-byte magic number (2049 for labels, 2051 for images), one big-endian
uint32 per dimension, then the uint8 data. `parse_idx` turns such bytes into an array and
`idx_bytes` does the reverse; `read_idx` reads a file, gzipped or not (`gunzip_if_needed`).
Malformed bytes raise `IdxFormatError` with a message saying what is wrong.

Where the files come from and how they are verified is `tinygrad_ae.mnist_files`' job.
"""
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np


class IdxFormatError(ValueError):
    """Bytes that are not a well-formed MNIST IDX file (wrong magic number, truncated, ...)."""


def gunzip_if_needed(data):
    """Decompress `data` if it starts with the gzip magic bytes, else return it unchanged.

    Example:
        >>> gunzip_if_needed(gzip.compress(b"abc")), gunzip_if_needed(b"abc")
        (b'abc', b'abc')
    """
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parse_idx(data, source="IDX data"):
    """Read IDX bytes (magic 2049: labels, 2051: images) into a read-only uint8 array (no copy).

    Example:
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
    expected, actual = math.prod(shape), len(data) - start  # not np.prod: it overflows
    if actual != expected:
        what = "is truncated" if actual < expected else "has extra bytes"
        raise IdxFormatError(f"{source} {what}: its header says shape {shape}, that is "
                             f"{expected:,} data bytes after the {start}-byte header, but "
                             f"{actual:,} follow. Delete it and fetch it again.")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(shape)


def read_idx(path):
    """Read an IDX file (gzipped or not) into a uint8 array, without checksum checks.

    Only as many bytes as its header declares (plus one, to notice extra bytes) are read or
    inflated, so a gzip bomb cannot make it allocate more than that.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "labels"; _ = p.write_bytes(idx_bytes(np.ones(2, np.uint8)))
        >>> read_idx(p)
        array([1, 1], dtype=uint8)
    """
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        with gzip.GzipFile(fileobj=raw) if gzipped else raw as f:
            try:
                head = f.read(4)
                if int.from_bytes(head, "big") in (2049, 2051):
                    head += f.read(4 * head[3])  # one big-endian uint32 per dimension
                left = 1 + (math.prod(struct.unpack(f">{(len(head) - 4) // 4}I", head[4:]))
                            if len(head) in (8, 16) else 0)
                chunks = [head]
                while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                    chunks.append(chunk)
                    left -= len(chunk)
            except (OSError, EOFError, zlib.error) as err:  # a damaged or truncated .gz
                raise IdxFormatError(f"{path} cannot be decompressed: {err}") from err
    return parse_idx(b"".join(chunks), source=str(path))


def idx_bytes(array):
    """Encode a uint8 array of 1 or 3 dimensions as IDX bytes (the inverse of `parse_idx`).

    Example:
        >>> idx_bytes(np.zeros(2, dtype=np.uint8)).hex()
        '00000801000000020000'
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">4B{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)  # 8 = ubyte
    return header + array.tobytes()
