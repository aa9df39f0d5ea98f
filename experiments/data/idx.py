"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzipped or not."""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_idx"]

# IDX type codes (LeCun's format description) and the numpy dtypes they denote.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array.

    Parameters
    ----------
    path : str or path-like
        A ``.gz`` file is decompressed on the fly.

    Returns
    -------
    numpy.ndarray
        With the shape and dtype the file's header declares.

    Raises
    ------
    ValueError
        Naming the file, when it is not IDX, or is truncated or corrupt.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = f.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(f)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{str(path)!r} is truncated or corrupt: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{str(path)!r} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r} is truncated or corrupt: header cut short")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{str(path)!r} is truncated or corrupt: header promises {expected} bytes of "
            f"data for shape {shape!r}, found {len(raw) - header}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, mtime_ns: int) -> np.ndarray:
    # Decompressing MNIST takes seconds; analyses load the same files many times.
    # The modification time is part of the key so a replaced file is read again.
    array = read_idx(path)
    array.setflags(write=False)
    return array


def read_idx_cached(path: Path) -> np.ndarray:
    """:func:`read_idx`, remembered until the file changes; the array is read-only."""
    return _read_cached(path, path.stat().st_mtime_ns)
