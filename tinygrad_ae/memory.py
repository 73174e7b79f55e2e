"""Keep freed memory in the process, so that a training step's temporaries are cheap.

Each op of a training step makes a fresh numpy array (a 128 x 784 float32 batch is 400 KB)
and frees it a moment later, thousands of times an epoch. glibc's malloc gives blocks this
big back to the kernel and maps new ones the next time, and every page of a new mapping
costs a page fault: on our 2-core test machine, four elementwise ops on 128 x 784 arrays took
0.9 ms that way and 0.07 ms with the blocks kept, and a whole training step at batch 128
went from 3.0 ms to 1.2 ms. Raising glibc's two thresholds keeps such blocks for reuse, while
arrays above 16 MiB (a whole dataset, say) still go straight back to the system.

``import tinygrad_ae`` applies this once, on Linux with glibc; set the environment variable
``TINYGRAD_AE_MALLOC=default`` before importing to leave malloc as it is.

Example:
    >>> isinstance(keep_freed_memory(), bool)
    True
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# mallopt's parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MIB = 1024 * 1024


def keep_freed_memory(mmap_threshold: int = 16 * MIB, trim_threshold: int = 64 * MIB) -> bool:
    """Ask glibc to serve blocks below ``mmap_threshold`` from its heap and to keep up to
    ``trim_threshold`` bytes of freed heap. Returns True if glibc took both settings.

    Example:
        >>> keep_freed_memory() in (True, False)
        True
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the malloc this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))


def apply_default() -> bool:
    """What ``import tinygrad_ae`` does: tune malloc unless ``TINYGRAD_AE_MALLOC=default``."""
    if os.environ.get("TINYGRAD_AE_MALLOC", "").lower() == "default":
        return False
    return keep_freed_memory()
