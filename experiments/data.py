"""Datasets from their standard on-disk formats.

MNIST and Fashion-MNIST are read from the four IDX files (gzipped or not) in a data
root: the ``data_dir`` argument, else ``$LANDSCAPES_DATA``, else
``$LANDSCAPES_HOME/data``, else a per-user cache directory. Images come back as
float32 tensors scaled to [0, 1] and standardised with the training set's mean and
standard deviation; labels as int64.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["DATASETS", "data_root", "read_idx", "load_mnist"]

#: Folder name and (mean, std) of the training images after scaling to [0, 1].
DATASETS: dict[str, tuple[str, float, float]] = {
    "mnist": ("mnist", 0.1307, 0.3081),
    "fashion_mnist": ("fashion-mnist", 0.2860, 0.3530),
}

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type codes (LeCun's format description) and the numpy dtypes they denote.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``data_dir``, ``$LANDSCAPES_DATA``, ``$LANDSCAPES_HOME/data``,
    or ``~/.cache/landscapes/data``.

    Examples
    --------
    >>> str(data_root("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("LANDSCAPES_DATA"):
        return Path(os.environ["LANDSCAPES_DATA"]).expanduser()
    if os.environ.get("LANDSCAPES_HOME"):
        return Path(os.environ["LANDSCAPES_HOME"]).expanduser() / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "landscapes" / "data"


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
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{str(path)!r} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{str(path)!r} is truncated or corrupt: header promises {expected} bytes of "
            f"data for shape {shape!r}, found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, mtime_ns: int) -> np.ndarray:
    # Decompressing MNIST takes seconds; analyses load the same files many times.
    # The modification time is part of the key so a replaced file is read again.
    array = read_idx(path)
    array.setflags(write=False)
    return array


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(
        f"missing {stem}(.gz) in {str(folder)!r}. Place the four standard IDX files there, "
        f"or point --data-dir / $LANDSCAPES_DATA at a folder that has a "
        f"{folder.name!r} subfolder with them"
    )


def load_mnist(
    split: str = "train",
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    normalize: bool = True,
    flatten: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST or Fashion-MNIST as in-memory tensors.

    Parameters
    ----------
    split : {"train", "test"}
    dataset : {"mnist", "fashion_mnist"}
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`); the files are in its ``mnist/`` or
        ``fashion-mnist/`` subfolder.
    normalize : bool
        Standardise with the training set's mean and std.
    flatten : bool
        Return images as ``(N, 784)`` instead of ``(N, 1, 28, 28)``.

    Returns
    -------
    images : torch.Tensor
        float32.
    labels : torch.Tensor
        int64 in 0..9.
    """
    if split not in _FILES:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(_FILES)}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    folder_name, mean, std = DATASETS[dataset]
    folder = data_root(data_dir) / folder_name
    images_file, labels_file = (_find(folder, stem) for stem in _FILES[split])
    images = _read_cached(images_file, images_file.stat().st_mtime_ns)
    labels = _read_cached(labels_file, labels_file.stat().st_mtime_ns)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{str(folder)!r}: images {images.shape!r} and labels {labels.shape!r} do not "
            "form an image dataset"
        )
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    if normalize:
        x = (x - mean) / std
    x = x.reshape(len(x), -1) if flatten else x.unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))
