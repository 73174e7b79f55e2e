"""Writing files so that a crash never leaves half of one where a good one was.

The bytes go to a temporary file in the same folder, are flushed to disk (fsync), and only
then does ``os.replace`` move the file into place, which is atomic on one file system: a
reader sees the old file or the new one, never a mix.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "hello.txt")
    >>> atomic_write_bytes(path, b"hello")
    >>> open(path, "rb").read()
    b'hello'
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_writer(path):
    """Open a temporary binary file next to ``path``; on success it replaces ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "numbers.bin")
        >>> with atomic_writer(path) as f:
        ...     _ = f.write(bytes([1, 2, 3]))
        >>> os.path.getsize(path)
        3
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)
