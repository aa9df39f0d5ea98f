"""Where each downloadable dataset is published, and the checksums that identify it.

ImageNet (licence) and Penn Treebank (licence, and tiny to copy) are not downloaded.
"""

from __future__ import annotations

__all__ = ["MD5", "MIRRORS"]

#: Base URLs of the public mirrors of each dataset, tried in order.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

#: MD5 of each published file. For the IDX files it is the MD5 of the *uncompressed*
#: content (what :func:`~experiments.data.download.checksum` computes with
#: ``gunzip=True``), so that any gzip wrapper of the same bytes is accepted; all eight
#: were verified against the original files (for Fashion-MNIST, the ``.gz`` files of
#: the official release). The CIFAR-10 archive's is that of the ``.tar.gz`` itself,
#: as published by its authors.
MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
}
