"""Every dataset by the name a model declares, loaded the same way."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

import torch

from experiments.data.cifar import CIFAR10_SPLITS, load_cifar10
from experiments.data.imagenet import IMAGENET_SPLITS, load_imagenet
from experiments.data.mnist import MNIST_SPLITS, load_mnist
from experiments.data.ptb import PTB_SPLITS, load_ptb

__all__ = ["LOADERS", "SPLITS", "load", "available"]

#: Loader of each dataset; each takes ``split`` and the keywords ``data_dir`` and
#: (except ImageNet, which streams) ``device``.
LOADERS: dict[str, Callable[..., Any]] = {
    "mnist": functools.partial(load_mnist, dataset="mnist"),
    "fashion_mnist": functools.partial(load_mnist, dataset="fashion_mnist"),
    "cifar10": load_cifar10,
    "ptb": load_ptb,
    "imagenet": load_imagenet,
}

#: Split names of each dataset.
SPLITS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(MNIST_SPLITS),
    "fashion_mnist": tuple(MNIST_SPLITS),
    "cifar10": tuple(CIFAR10_SPLITS),
    "ptb": tuple(PTB_SPLITS),
    "imagenet": tuple(IMAGENET_SPLITS),
}


def load(
    dataset: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> Any:
    """Load any dataset by name.

    Parameters
    ----------
    dataset : {"mnist", "fashion_mnist", "cifar10", "ptb", "imagenet"}
    split : str
        One of ``SPLITS[dataset]``.
    data_dir : str or path-like, optional
        Data root (see :func:`data_root`).
    device : str or torch.device, optional
        Where in-memory datasets go, moved once; ignored by ImageNet, which streams
        (move its batches).
    **options
        Passed on to the dataset's loader, e.g. ``flatten=True`` for MNIST or
        ``image_size=`` for ImageNet.

    Returns
    -------
    object
        What the loader returns: ``(images, labels)`` tensors for MNIST,
        Fashion-MNIST and CIFAR-10 (:func:`load_mnist`, :func:`load_cifar10`),
        ``(ids, vocab)`` for PTB (:func:`load_ptb`), an :class:`ImageFolder` for
        ImageNet (:func:`load_imagenet`).

    Examples
    --------
    >>> load("mnist", "valid")
    Traceback (most recent call last):
    ...
    ValueError: unknown split 'valid' of 'mnist'; choose from ['train', 'test']
    """
    if dataset not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(LOADERS)}")
    if split not in SPLITS[dataset]:
        raise ValueError(
            f"unknown split {split!r} of {dataset!r}; choose from {list(SPLITS[dataset])}"
        )
    loader = LOADERS[dataset]
    accepted = set(inspect.signature(loader).parameters) - {"split", "dataset"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        allowed = sorted(accepted - {"data_dir", "device"})
        raise ValueError(f"{dataset!r} takes no option {unknown[0]!r}; choose from {allowed}")
    if "device" in accepted:
        options["device"] = device
    return loader(split, data_dir=data_dir, **options)


def available(dataset: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether every split of ``dataset`` is on disk, without downloading anything.

    Studies use it to list what they cannot run here (and why) before any work starts.

    Examples
    --------
    >>> import tempfile
    >>> available("cifar10", tempfile.mkdtemp())
    False
    """
    from experiments.data.cifar import _FOLDER as cifar_folder
    from experiments.data.mnist import DATASETS as mnist_folders
    from experiments.data.mnist import _find
    from experiments.data.ptb import _FOLDERS as ptb_folders
    from experiments.data.root import data_root

    if dataset not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(LOADERS)}")
    root = data_root(data_dir)
    if dataset in mnist_folders:
        folder = root / mnist_folders[dataset][0]
        return all(_find(folder, stem) is not None
                   for stems in MNIST_SPLITS.values() for stem in stems)
    if dataset == "cifar10":
        return all((root / cifar_folder / name).is_file()
                   for names in CIFAR10_SPLITS.values() for name in names)
    if dataset == "ptb":
        return any(all((root / f / name).is_file() for name in PTB_SPLITS.values())
                   for f in ptb_folders)
    return all((root / "imagenet" / split).is_dir() for split in IMAGENET_SPLITS)
