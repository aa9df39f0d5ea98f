"""CIFAR-10 from the "python version" pickled batches (Krizhevsky 2009).

The data root's ``cifar-10-batches-py/`` folder (what the published archive
``cifar-10-python.tar.gz`` extracts to) holds ``data_batch_1`` … ``data_batch_5``
(train, 50,000 images) and ``test_batch`` (10,000): each a pickled dict whose
``b"data"`` is a uint8 array of shape (N, 3072), the 32×32 red, green and blue planes
row by row, and whose ``b"labels"`` is a list of N ints in 0..9.
"""

from __future__ import annotations

import functools
import os
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from experiments.data.download import DownloadError, download_file, fetch_or_explain
from experiments.data.root import data_root
from experiments.data.sources import MD5, MIRRORS

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_SPLITS", "load_cifar10"]

#: Per-channel (R, G, B) mean and standard deviation of the 50,000 training images
#: scaled to [0, 1], over all pixels: the standard constants. (OpenLTH, which Frankle
#: 2020 uses, standardises CIFAR-10 with ImageNet's constants instead.)
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

#: The batch files of each split.
CIFAR10_SPLITS: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}

_FOLDER = "cifar-10-batches-py"
_ARCHIVE = "cifar-10-python.tar.gz"

# The batches are pickles; unpickling can run arbitrary code, so only the globals a
# pickled numpy array needs are allowed (and the one protocol 2 uses for bytes).
# Pickles from numpy 1 name numpy.core, which numpy 2 renamed numpy._core.
_NUMPY_CORE = np.zeros(0).__reduce__()[0].__module__
_ALLOWED = {
    ("_codecs", "encode"): ("_codecs", "encode"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    **{
        (core, name): (_NUMPY_CORE, name)
        for core in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    },
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a batch")
        return super().find_class(*_ALLOWED[module, name])


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            # latin1 reads the Python 2 strings of the official files; numpy needs it.
            batch = _ArrayUnpickler(fh, encoding="latin1").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, AttributeError, KeyError, TypeError,
            ValueError) as exc:
        raise ValueError(f"{str(path)!r} is not a CIFAR-10 batch (truncated or corrupt): "
                         f"{exc!r}") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 batch: data {data.shape!r}, labels "
            f"{labels.shape!r}; expected (N, 3072) and (N,)"
        )
    return data, labels


@functools.lru_cache(maxsize=2)
def _read_split(paths: tuple[Path, ...],
                mtimes_ns: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    # Unpickling the train set takes a while; the modification times key the cache
    # so that replaced files are read again.
    parts = [_read_batch(p) for p in paths]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([y for _, y in parts])
    data.setflags(write=False)
    labels.setflags(write=False)
    return data, labels


def _extract_safely(tar: tarfile.TarFile, dest: Path) -> None:
    # Only plain files and folders with relative names that stay inside dest: a
    # crafted archive must not write elsewhere or create links or devices.
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise tarfile.TarError(f"refusing archive member {member.name!r}")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
    else:  # Python < 3.10.12 / 3.11.4: the check above is the protection
        tar.extractall(dest)


def _download(root: Path) -> None:
    archive = download_file(_ARCHIVE, MIRRORS["cifar10"], root, MD5["cifar10"][_ARCHIVE])
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=".cifar-10-") as tmp:
            with tarfile.open(archive, "r:gz") as tar:
                _extract_safely(tar, Path(tmp))
            extracted = Path(tmp) / _FOLDER
            if not extracted.is_dir():
                raise DownloadError(_ARCHIVE, [f"{str(archive)!r} has no {_FOLDER}/ folder"])
            target = root / _FOLDER
            target.mkdir(exist_ok=True)
            for f in extracted.iterdir():
                if not (target / f.name).exists():
                    os.replace(f, target / f.name)
    except (tarfile.TarError, EOFError) as exc:
        raise DownloadError(_ARCHIVE, [f"cannot extract {str(archive)!r}: {exc}"]) from exc
    finally:
        archive.unlink(missing_ok=True)


def load_cifar10(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    normalize: bool = True,
    device: str | torch.device | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 as in-memory tensors.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`); the batches are in its
        ``cifar-10-batches-py/`` subfolder.
    normalize : bool
        Standardise each channel with :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD`;
        otherwise scale to [0, 1].
    device : str or torch.device, optional
        Where the tensors go (once); default CPU.
    download : bool
        Fetch and extract the published archive when batches are missing (MD5-checked).

    Returns
    -------
    images : torch.Tensor
        float32, shape (N, 3, 32, 32).
    labels : torch.Tensor
        int64 in 0..9.

    Raises
    ------
    DatasetNotFoundError
        When batches are missing and cannot be downloaded; says where and how to fix it.
    ValueError
        For an unknown split, or a corrupt batch file (named).

    Examples
    --------
    >>> load_cifar10("valid")
    Traceback (most recent call last):
    ...
    ValueError: unknown split 'valid'; choose from ['test', 'train']
    """
    if split not in CIFAR10_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(CIFAR10_SPLITS)}")
    root = data_root(data_dir)
    folder = root / _FOLDER
    paths = tuple(folder / name for name in CIFAR10_SPLITS[split])
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        fetch_or_explain(lambda: _download(root), download=download,
                         title=f"CIFAR-10 {split} split", folder=folder,
                         expected=[*CIFAR10_SPLITS["train"], "test_batch"], missing=missing[0])
    data, labels = _read_split(paths, tuple(p.stat().st_mtime_ns for p in paths))
    # In place: the train set is 600 MB as float32, so no temporaries of that size.
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32)).div_(255.0)
    if normalize:
        x.sub_(torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1))
        x.div_(torch.tensor(CIFAR10_STD).view(1, 3, 1, 1))
    return x.to(device), torch.from_numpy(labels.copy()).to(device)
