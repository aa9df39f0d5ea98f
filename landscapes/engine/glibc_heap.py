"""Keep freed memory for reuse while the engine runs on CPU (glibc only).

The engine allocates and frees the same few megabyte-sized activations for every
chunk and batch. With glibc's default settings, freed memory at the top of the heap
beyond a dynamic threshold is handed back to the kernel, and every later allocation
of it page-faults again: on LeNet-300-100 that costs more system time than the whole
forward pass (about 800 000 minor faults for one 100-point sweep of the MNIST test set).
Raising the trim threshold while the engine runs keeps that memory mapped. It is the
same tuning PyTorch's CPU performance guide applies through ``MALLOC_TRIM_THRESHOLD_``
before the process starts.

glibc has no getter for these settings, and setting any of them freezes its dynamic
thresholds, so on exit the thresholds are left where glibc's dynamic ones would at most
grow to (32 MiB for ``mmap``, twice that for trimming) and the memory kept above that is
released with ``malloc_trim``. Elsewhere (macOS, Windows, musl) this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import platform
from collections.abc import Iterator

__all__ = ["kept"]

logger = logging.getLogger("landscapes.engine")

# From glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling for its dynamic mmap threshold on 64-bit systems.
MMAP_CEILING = 32 * 2**20
#: Trim threshold that turns trimming off (mallopt(3)).
_NEVER = -1


def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """Freed memory stays mapped for the duration; released (above 64 MiB) after."""
    libc = _LIBC
    if libc is None:
        yield
        return
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_CEILING) and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER)
    if not ok:
        logger.debug("could not raise glibc's trim threshold; memory will be re-faulted")
    try:
        yield
    finally:
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_CEILING)
        libc.malloc_trim(2 * MMAP_CEILING)
