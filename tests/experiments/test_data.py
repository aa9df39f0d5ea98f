"""MNIST-format loaders on files the tests write, and on the real data when present."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from experiments.data import data_root, load_mnist, read_idx


def write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    payload = header + array.astype(">u1").tobytes()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def fake_mnist(root, n_train=12, n_test=5, gz=True):
    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{stem}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{suffix}", labels, gz)
        arrays[stem] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_loader_reads_idx_files_exactly(tmp_path, gz):
    arrays = fake_mnist(tmp_path, gz=gz)
    x, y = load_mnist("test", data_dir=tmp_path, normalize=False)
    images, labels = arrays["t10k"]
    assert x.shape == (5, 1, 28, 28) and x.dtype.is_floating_point
    np.testing.assert_allclose(x.numpy()[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), labels)
    flat, _ = load_mnist("train", data_dir=tmp_path, flatten=True)
    assert flat.shape == (12, 784)


def test_truncated_and_foreign_files_are_refused(tmp_path):
    arrays = fake_mnist(tmp_path, gz=False)
    f = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist("test", data_dir=tmp_path)
    f.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(f)
    assert arrays


def test_missing_files_say_where_and_what(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.*LANDSCAPES_DATA"):
        load_mnist("test", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_mnist("valid", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_mnist("test", dataset="cifar", data_dir=tmp_path)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LANDSCAPES_DATA", str(tmp_path / "a"))
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "h"))
    assert data_root() == tmp_path / "a"
    assert data_root(tmp_path / "b") == tmp_path / "b"
    monkeypatch.delenv("LANDSCAPES_DATA")
    assert data_root() == tmp_path / "h" / "data"


def test_real_mnist_matches_published_statistics(mnist_train):
    x, y = mnist_train
    counts = np.bincount(y.numpy(), minlength=10)
    np.testing.assert_array_equal(
        counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    # standardised with the training mean and std, so ~0 and ~1
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3
