"""MNIST-format loaders, their downloads, the data root and the dataset registry, on
files the tests write, and on the real data when present."""

from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from experiments.data import (
    MD5,
    MIRRORS,
    DatasetNotFoundError,
    checksum,
    data_root,
    load,
    load_mnist,
    read_idx,
)

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def offline(monkeypatch):
    """Every network request fails as it does on a machine without internet."""

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    return header + array.astype(">u1").tobytes()


def write_idx(path, array: np.ndarray, gz: bool) -> None:
    payload = idx_bytes(array)
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def fake_mnist(root, n_train=12, n_test=5, gz=True, folder="mnist"):
    folder = root / folder
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


def test_truncated_gzip_names_the_file(tmp_path):
    fake_mnist(tmp_path, gz=True)
    f = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-12])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz.*truncated or corrupt"):
        read_idx(f)


def test_missing_files_say_where_and_what(tmp_path, offline):
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
    monkeypatch.delenv("LANDSCAPES_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "landscapes" / "data"


def test_loader_uses_the_environment_root(monkeypatch, tmp_path):
    arrays = fake_mnist(tmp_path / "home" / "data")
    monkeypatch.delenv("LANDSCAPES_DATA", raising=False)
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))
    _, y = load_mnist("test")
    np.testing.assert_array_equal(y.numpy(), arrays["t10k"][1])


def serve_mnist(tmp_path, monkeypatch) -> dict[str, np.ndarray]:
    """Gzipped IDX files at a file:// mirror, with their MD5s in the table."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(1)
    arrays = {}
    for stem in STEMS:
        shape = (7, 28, 28) if "images" in stem else (7,)
        arrays[stem] = rng.integers(0, 10 if "labels" in stem else 256, shape, dtype=np.uint8)
        write_idx(mirror / f"{stem}.gz", arrays[stem], gz=True)
        monkeypatch.setitem(MD5["mnist"], stem, hashlib.md5(idx_bytes(arrays[stem])).hexdigest())
    monkeypatch.setitem(MIRRORS, "mnist", ((tmp_path / "down").as_uri(), mirror.as_uri()))
    return arrays


def test_missing_files_are_downloaded_verified_and_kept(tmp_path, monkeypatch):
    arrays = serve_mnist(tmp_path, monkeypatch)
    x, y = load_mnist("test", data_dir=tmp_path / "root", normalize=False)
    np.testing.assert_array_equal(y.numpy(), arrays["t10k-labels-idx1-ubyte"])
    np.testing.assert_allclose(x.numpy()[:, 0], arrays["t10k-images-idx3-ubyte"] / 255.0)
    # only the split asked for, under its standard names, and nothing else
    assert sorted(p.name for p in (tmp_path / "root" / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # the kept files are used from now on, with no mirror
    monkeypatch.setitem(MIRRORS, "mnist", ())
    _, again = load_mnist("test", data_dir=tmp_path / "root")
    assert torch.equal(again, y)


def test_offline_download_error_says_where_what_and_how(tmp_path, monkeypatch, offline):
    serve_mnist(tmp_path, monkeypatch)
    monkeypatch.setitem(MIRRORS, "mnist", ("https://mirror.invalid/mnist/",
                                           "http://other.invalid/exdb/"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path / "root")
    message = str(info.value)
    folder = str(tmp_path / "root" / "mnist")
    assert isinstance(info.value, FileNotFoundError)
    for needle in (folder, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                   "https://mirror.invalid/mnist/train-images-idx3-ubyte.gz",
                   "http://other.invalid/exdb/train-labels-idx1-ubyte.gz",
                   "network is unreachable", "--data-dir", "$LANDSCAPES_DATA"):
        assert needle in message
    assert list((tmp_path / "root" / "mnist").iterdir()) == []


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    serve_mnist(tmp_path, monkeypatch)
    monkeypatch.setitem(MD5["mnist"], "t10k-labels-idx1-ubyte", "0" * 32)
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        load_mnist("test", data_dir=tmp_path / "root")
    # the images verified and stay; the labels left neither a file nor a temporary
    kept = [p.name for p in (tmp_path / "root" / "mnist").iterdir()]
    assert kept == ["t10k-images-idx3-ubyte.gz"]


def test_no_download_when_turned_off(tmp_path, monkeypatch):
    serve_mnist(tmp_path, monkeypatch)
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        load_mnist("test", data_dir=tmp_path / "root", download=False)
    assert not (tmp_path / "root" / "mnist").exists()


def test_registry_loads_by_name_onto_the_device(tmp_path):
    arrays = fake_mnist(tmp_path, folder="fashion-mnist")
    x, y = load("fashion_mnist", "test", data_dir=tmp_path, device="meta", flatten=True)
    assert x.device.type == y.device.type == "meta" and x.shape == (5, 784)
    _, y = load("fashion_mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(y.numpy(), arrays["t10k"][1])
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; choose from \['cifar10'"):
        load("cifar", "train")
    with pytest.raises(ValueError, match=r"split 'val' of 'mnist'; choose from \['train', 'test'\]"):
        load("mnist", "val")
    with pytest.raises(ValueError, match="'mnist' takes no option 'image_size'; choose from"):
        load("mnist", "test", data_dir=tmp_path, image_size=3)


def test_real_mnist_matches_published_statistics(mnist_train):
    x, y = mnist_train
    counts = np.bincount(y.numpy(), minlength=10)
    np.testing.assert_array_equal(
        counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    # standardised with the training mean and std, so ~0 and ~1
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_real_files_match_the_checksum_table(data_root, dataset):
    folder = data_root / dataset.replace("_", "-")
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    for stem, md5 in MD5[dataset].items():
        gz = folder / f"{stem}.gz"
        got = checksum(gz, gunzip=True) if gz.exists() else checksum(folder / stem)
        assert got == md5, stem
