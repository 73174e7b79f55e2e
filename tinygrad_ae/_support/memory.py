"""Keep freed memory in the process while ``fit`` trains, so a step's temporaries are cheap.

Each op of a training step makes a fresh numpy array (a 128 x 784 float32 batch is 400 KB)
and frees it a moment later, thousands of times an epoch. glibc's malloc gives blocks this
big back to the kernel and maps new ones the next time, and every page of a new mapping
costs a page fault: on our 2-core test machine, four elementwise ops on 128 x 784 arrays took
0.9 ms that way and 0.07 ms with the blocks kept. Raising glibc's two thresholds keeps such
blocks for reuse; arrays above 16 MiB (a whole dataset, say) still go straight back.

Only :func:`keep_freed_memory` changes anything, and only inside its ``with`` block: on the
way out it puts glibc's documented defaults back and returns the kept memory to the system
(``malloc_trim``). Importing tinygrad_ae changes nothing. Set ``TINYGRAD_AE_MALLOC=default``
to make it do nothing at all. On anything but Linux with glibc it does nothing.

Example:
    >>> with keep_freed_memory() as applied:
    ...     isinstance(applied, bool)
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys

# mallopt's parameter numbers and glibc's default values, from glibc's malloc.h / mallopt(3)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_TRIM_THRESHOLD = DEFAULT_MMAP_THRESHOLD = 128 * 1024
MIB = 1024 * 1024


def _glibc():
    """The C library of this process if it is glibc, else None."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


_depth = 0  # how many keep_freed_memory blocks are open: only the outermost one changes malloc


@contextlib.contextmanager
def keep_freed_memory(mmap_threshold: int = 16 * MIB, trim_threshold: int = 64 * MIB):
    """Inside the block, glibc serves blocks below ``mmap_threshold`` from its heap and keeps
    up to ``trim_threshold`` bytes of freed heap; yields True if the settings are in force.

    Afterwards the thresholds are glibc's defaults again (128 KiB each) and the kept memory is
    trimmed. (glibc then no longer moves the thresholds by itself, as it does in a process
    that never called mallopt: it has no way to switch that back on.) Blocks nest: an inner
    one (a ``fit`` inside a benchmark that keeps memory for its whole run) changes nothing.

    Example:
        >>> with keep_freed_memory():
        ...     pass
    """
    global _depth
    libc = None if os.environ.get("TINYGRAD_AE_MALLOC", "").lower() == "default" else _glibc()
    outermost = _depth == 0
    _depth += 1
    applied = bool(libc) and (not outermost or (bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
                                               and bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))))
    try:
        yield applied
    finally:
        _depth -= 1
        if libc and outermost:
            libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
