"""Verified downloads from local file:// mirrors and from an unreachable network."""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request

import pytest

from experiments.data import DownloadError, checksum, download_file

PAYLOAD = bytes(range(256)) * 64


@pytest.fixture
def mirror(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(PAYLOAD)
    (folder / "blob.bin.gz").write_bytes(gzip.compress(PAYLOAD))
    return folder


def test_first_good_mirror_is_used_and_verified(tmp_path, mirror):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    missing = (tmp_path / "nothing-here").as_uri()
    got = download_file("blob.bin", [missing, mirror.as_uri() + "/"], tmp_path / "a" / "b", md5,
                        progress=False)
    assert got == tmp_path / "a" / "b" / "blob.bin" and got.read_bytes() == PAYLOAD
    gz = download_file("blob.bin.gz", [mirror.as_uri()], tmp_path / "c", md5, gunzip=True)
    assert checksum(gz, gunzip=True) == md5 and checksum(gz) != md5


def test_checksum_mismatch_is_refused_and_leaves_nothing(tmp_path, mirror):
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_file("blob.bin", [mirror.as_uri()], tmp_path / "out", "0" * 32)
    assert info.value.attempts[0].startswith(mirror.as_uri() + "/blob.bin: ")
    assert list((tmp_path / "out").iterdir()) == []


def test_foreign_data_under_a_gz_name_is_refused(tmp_path, mirror):
    (mirror / "fake.gz").write_bytes(gzip.compress(PAYLOAD)[:-20])  # truncated
    with pytest.raises(DownloadError, match="fake.gz"):
        download_file("fake.gz", [mirror.as_uri()], tmp_path / "out",
                      hashlib.md5(PAYLOAD).hexdigest(), gunzip=True)
    assert list((tmp_path / "out").iterdir()) == []


def test_offline_lists_every_url_and_reason(tmp_path, monkeypatch):
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DownloadError) as info:
        download_file("x.gz", ["https://a.invalid/d", "http://b.invalid/d/"], tmp_path, "0" * 32)
    assert [a.split(": ")[0] for a in info.value.attempts] == [
        "https://a.invalid/d/x.gz", "http://b.invalid/d/x.gz"]
    assert all("network is unreachable" in a for a in info.value.attempts)
    assert isinstance(info.value, OSError) and list(tmp_path.iterdir()) == []
    with pytest.raises(DownloadError, match="no mirror"):
        download_file("x.gz", [], tmp_path, "0" * 32)
