"""CIFAR-10 from "python version" batches the tests write, and from a local archive."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from experiments.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    MD5,
    MIRRORS,
    DatasetNotFoundError,
    load,
    load_cifar10,
)

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def batch(n: int, seed: int) -> dict:
    """A batch dict laid out like the published ones (Krizhevsky's cifar-10-python)."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"batch {seed} of 6".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


def write_batches(folder, sizes=(3, 2, 4, 1, 2, 5)) -> dict[str, dict]:
    folder.mkdir(parents=True)
    written = {}
    for seed, (name, n) in enumerate(zip(BATCHES, sizes)):
        written[name] = batch(n, seed)
        with open(folder / name, "wb") as fh:
            pickle.dump(written[name], fh, protocol=2)  # as in the published files
    return written


def test_batches_are_read_in_their_published_layout(tmp_path):
    written = write_batches(tmp_path / "cifar-10-batches-py")
    x, y = load_cifar10("train", data_dir=tmp_path, normalize=False)
    data = np.concatenate([written[name][b"data"] for name in BATCHES[:5]])
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    # pixel (r, s) of channel c is byte c*1024 + r*32 + s of the row
    i, c, r, s = 7, 2, 5, 30
    assert float(x[i, c, r, s]) == pytest.approx(data[i, c * 1024 + r * 32 + s] / 255.0)
    np.testing.assert_allclose(x.reshape(12, -1).numpy(), data / 255.0, rtol=1e-6)
    assert y.tolist() == sum((written[name][b"labels"] for name in BATCHES[:5]), [])
    z, yt = load_cifar10("test", data_dir=tmp_path)
    raw = torch.from_numpy(written["test_batch"][b"data"].reshape(-1, 3, 32, 32) / 255.0).float()
    mean, std = torch.tensor(CIFAR10_MEAN).view(3, 1, 1), torch.tensor(CIFAR10_STD).view(3, 1, 1)
    torch.testing.assert_close(z, (raw - mean) / std)
    assert yt.tolist() == written["test_batch"][b"labels"]


def test_registry_moves_cifar_to_the_device(tmp_path):
    write_batches(tmp_path / "cifar-10-batches-py")
    x, y = load("cifar10", "test", data_dir=tmp_path, device="meta")
    assert x.device.type == y.device.type == "meta" and x.shape == (5, 3, 32, 32)


def test_corrupt_and_foreign_batches_name_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_batches(folder)
    test_batch = folder / "test_batch"
    test_batch.write_bytes(test_batch.read_bytes()[:100])
    with pytest.raises(ValueError, match="test_batch.*truncated or corrupt"):
        load_cifar10("test", data_dir=tmp_path)
    # unpickling runs code: a batch may only build numpy arrays
    test_batch.write_bytes(pickle.dumps({b"data": os.getcwd, b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match="test_batch.*getcwd is not allowed"):
        load_cifar10("test", data_dir=tmp_path)
    test_batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]},
                                        protocol=2))
    with pytest.raises(ValueError, match=r"data \(2, 10\).*expected \(N, 3072\)"):
        load_cifar10("test", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown split 'valid'; choose from \['test', 'train'\]"):
        load_cifar10("valid", data_dir=tmp_path)


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def serve(tmp_path, monkeypatch, members: dict[str, bytes]) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    blob = archive(members)
    (mirror / "cifar-10-python.tar.gz").write_bytes(blob)
    monkeypatch.setitem(MIRRORS, "cifar10", (mirror.as_uri(),))
    monkeypatch.setitem(MD5, "cifar10", {"cifar-10-python.tar.gz": hashlib.md5(blob).hexdigest()})


def test_missing_batches_are_downloaded_and_extracted(tmp_path, monkeypatch):
    written = {name: batch(2, seed) for seed, name in enumerate(BATCHES)}
    serve(tmp_path, monkeypatch, {f"cifar-10-batches-py/{name}": pickle.dumps(b, protocol=2)
                                  for name, b in written.items()})
    x, y = load_cifar10("test", data_dir=tmp_path / "root", normalize=False)
    assert y.tolist() == written["test_batch"][b"labels"] and x.shape == (2, 3, 32, 32)
    # the batches stay, the archive and the extraction folder go
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["cifar-10-batches-py"]
    kept = sorted(p.name for p in (tmp_path / "root" / "cifar-10-batches-py").iterdir())
    assert kept == sorted(BATCHES)


def test_archive_escaping_its_folder_is_refused(tmp_path, monkeypatch):
    serve(tmp_path, monkeypatch, {"cifar-10-batches-py/../../evil": b"x"})
    with pytest.raises(DatasetNotFoundError, match="refusing archive member"):
        load_cifar10("test", data_dir=tmp_path / "root")
    assert not (tmp_path / "evil").exists() and list((tmp_path / "root").iterdir()) == []


def test_missing_without_download_says_where_and_what(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_cifar10("train", data_dir=tmp_path, download=False)
    message = str(info.value)
    for needle in (str(tmp_path / "cifar-10-batches-py"), "data_batch_1", "test_batch",
                   "download=False", "$LANDSCAPES_DATA"):
        assert needle in message
