"""Datasets from their standard on-disk formats.

Every dataset lives in its own subfolder of a data root: the ``data_dir`` argument
(``--data-dir``), else ``$LANDSCAPES_DATA``, else ``$LANDSCAPES_HOME/data``, else a
per-user cache directory (:func:`data_root`):

- MNIST: ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte``, gzipped or not
  (downloaded when missing);
- Fashion-MNIST: the same four names in ``fashion-mnist/`` (downloaded);
- CIFAR-10: ``cifar-10-batches-py/{data_batch_1..5,test_batch}`` (downloaded);
- Penn Treebank: ``ptb/ptb.{train,valid,test}.txt`` (not downloaded);
- ImageNet: ``imagenet/{train,val}/<wnid>/*.JPEG`` (not downloaded).

Missing files are downloaded from the public mirrors (:data:`MIRRORS`), MD5-checked
(:data:`MD5`) and written atomically; when that fails, or for a dataset that is not
downloaded, a :class:`DatasetNotFoundError` says where it looked, what to put there
and how. Datasets that fit in memory come back as tensors, moved to the requested
device once; ImageNet streams from disk. :func:`load` loads any of them by name.
"""

from __future__ import annotations

from experiments.data.augmentation import augment_cifar
from experiments.data.cifar import CIFAR10_MEAN, CIFAR10_SPLITS, CIFAR10_STD, load_cifar10
from experiments.data.download import DownloadError, checksum, download_file
from experiments.data.idx import read_idx
from experiments.data.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_SPLITS,
    IMAGENET_STD,
    ImageFolder,
    load_imagenet,
)
from experiments.data.mnist import DATASETS, MNIST_SPLITS, load_mnist
from experiments.data.ptb import PTB_SPLITS, batchify, bptt_batches, load_ptb
from experiments.data.registry import LOADERS, SPLITS, available, load
from experiments.data.root import DatasetNotFoundError, data_root
from experiments.data.sources import MD5, MIRRORS

__all__ = [
    "load",
    "available",
    "LOADERS",
    "SPLITS",
    "data_root",
    "DatasetNotFoundError",
    "load_mnist",
    "DATASETS",
    "MNIST_SPLITS",
    "read_idx",
    "load_cifar10",
    "augment_cifar",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR10_SPLITS",
    "load_ptb",
    "batchify",
    "bptt_batches",
    "PTB_SPLITS",
    "load_imagenet",
    "ImageFolder",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGENET_SPLITS",
    "download_file",
    "checksum",
    "DownloadError",
    "MIRRORS",
    "MD5",
]
