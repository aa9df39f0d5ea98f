"""MNIST and Fashion-MNIST from their four IDX files, downloaded when missing.

Images come back as float32 tensors scaled to [0, 1] and standardised with the
training set's mean and standard deviation; labels as int64.
"""

from __future__ import annotations

import functools

import os
from pathlib import Path

import numpy as np
import torch

from experiments.data.download import DownloadError, download_file, fetch_or_explain
from experiments.data.idx import read_idx_cached
from experiments.data.root import data_root
from experiments.data.sources import MD5, MIRRORS

__all__ = ["DATASETS", "MNIST_SPLITS", "load_mnist"]

#: Folder name and (mean, std) of the training images after scaling to [0, 1].
DATASETS: dict[str, tuple[str, float, float]] = {
    "mnist": ("mnist", 0.1307, 0.3081),
    "fashion_mnist": ("fashion-mnist", 0.2860, 0.3530),
}

#: The images and labels files of each split.
MNIST_SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    return None


def _download(dataset: str, stems: list[str], folder: Path) -> None:
    attempts: list[str] = []
    for stem in stems:
        try:
            download_file(stem + ".gz", MIRRORS[dataset], folder, MD5[dataset][stem], gunzip=True)
        except DownloadError as exc:
            attempts.extend(exc.attempts)
    if attempts:
        raise DownloadError(", ".join(stems), attempts)


def _find_or_download(dataset: str, split: str, folder: Path, download: bool) -> list[Path]:
    stems = MNIST_SPLITS[split]
    missing = [stem for stem in stems if _find(folder, stem) is None]
    if missing:
        fetch_or_explain(lambda: _download(dataset, missing, folder), download=download,
                         title=f"{dataset} {split} split", folder=folder,
                         expected=[f"{stem}(.gz)" for stem in stems], missing=f"{missing[0]}(.gz)")
    return [_find(folder, stem) for stem in stems]  # type: ignore[misc]


@functools.lru_cache(maxsize=4)
def _scaled(path: Path, mtime_ns: int, mean: float, std: float) -> torch.Tensor:
    # Analyses load the same split many times; converting 60,000 images to float costs
    # far more than the copy the caller gets. The modification time keys a replaced file.
    x = torch.from_numpy(read_idx_cached(path).astype(np.float32))
    return x.mul_(1.0 / (255.0 * std)).sub_(mean / std)


def load_mnist(
    split: str = "train",
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    normalize: bool = True,
    flatten: bool = False,
    device: str | torch.device | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST or Fashion-MNIST as in-memory tensors.

    Parameters
    ----------
    split : {"train", "test"}
    dataset : {"mnist", "fashion_mnist"}
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`); the files are in its ``mnist/`` or
        ``fashion-mnist/`` subfolder, as the standard names, gzipped or not
        (e.g. ``t10k-images-idx3-ubyte.gz``).
    normalize : bool
        Standardise with the training set's mean and std (:data:`DATASETS`).
    flatten : bool
        Return images as ``(N, 784)`` instead of ``(N, 1, 28, 28)``.
    device : str or torch.device, optional
        Where the tensors go (once); default CPU.
    download : bool
        Fetch missing files from :data:`MIRRORS` (MD5-checked, :data:`MD5`).

    Returns
    -------
    images : torch.Tensor
        float32.
    labels : torch.Tensor
        int64 in 0..9.

    Raises
    ------
    DatasetNotFoundError
        When files are missing and cannot be downloaded; says where and how to fix it.
    ValueError
        For an unknown split or dataset, or a corrupt file (named).

    Examples
    --------
    >>> load_mnist("valid")
    Traceback (most recent call last):
    ...
    ValueError: unknown split 'valid'; choose from ['test', 'train']
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {sorted(MNIST_SPLITS)}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    folder_name, mean, std = DATASETS[dataset]
    folder = data_root(data_dir) / folder_name
    images_file, labels_file = _find_or_download(dataset, split, folder, download)
    images = read_idx_cached(images_file)
    labels = read_idx_cached(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{str(folder)!r}: images {images.shape!r} and labels {labels.shape!r} do not "
            "form an image dataset"
        )
    x = _scaled(images_file, images_file.stat().st_mtime_ns, mean if normalize else 0.0,
                std if normalize else 1.0).clone()
    x = x.reshape(len(x), -1) if flatten else x.unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x.to(device), y.to(device)
