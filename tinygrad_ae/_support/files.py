"""Writing files so that a crash never leaves half of one where a good one was.

The bytes go to a temporary file in the same folder, are flushed to disk (fsync), and only
then does ``os.replace`` move the file into place, which is atomic on one file system: a
reader sees the old file or the new one, never a mix. The new file gets the permissions a
plain ``open(path, "wb")`` would give a new file (0o666 minus the umask), not the owner-only
0o600 of a temporary file.

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



def _read_umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere os.umask can only read it by
    setting it, and while it is 0 a file another thread creates would be world-writable, so
    that is done once, at import. (A later change of umask is not seen.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_read_umask()  # what open() gives a new file


@contextmanager
def atomic_writer(path):
    """Open a temporary binary file next to ``path``; on success it replaces ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched. The new file
    gets the permissions a plain ``open()`` would give it (see the module docstring).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "numbers.bin")
        >>> with atomic_writer(path) as f:
        ...     _ = f.write(bytes([1, 2, 3]))

        Example:
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
        # mkstemp makes the file private (0o600), but what we write is often shared (cached
        # data, models, pictures): give it the mode of a file made by open() instead.
        os.chmod(tmp, _NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "sub", "data.bin")  # folders are created
        >>> atomic_write_bytes(path, b"old"); atomic_write_bytes(path, b"new")
        >>> open(path, "rb").read()
        b'new'
    """
    with atomic_writer(path) as f:
        f.write(data)
