"""Verified downloads: each mirror in turn, MD5-checked, written atomically.

A file is fetched into a hidden temporary file in its target folder, its checksum is
verified, and only then is it renamed to its final name, so an interrupted or corrupt
download never leaves a file that a loader would trust.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from experiments.data.root import not_found

__all__ = ["DownloadError", "checksum", "download_file", "fetch_or_explain"]

_CHUNK = 1 << 20


class DownloadError(OSError):
    """No mirror served the file with the right checksum.

    Attributes
    ----------
    attempts : list of str
        ``"url: reason"`` for each mirror tried, in order.
    """

    def __init__(self, filename: str, attempts: Sequence[str]) -> None:
        self.attempts = list(attempts)
        super().__init__(f"could not download {filename!r}: " + "; ".join(self.attempts))


def checksum(path: str | os.PathLike, *, gunzip: bool = False) -> str:
    """MD5 hex digest of a file, or of its decompressed content when ``gunzip``.

    Parameters
    ----------
    path : str or path-like
    gunzip : bool
        Hash what ``gzip`` decompresses, so that differently compressed copies of the
        same data agree (the MNIST checksums are of the uncompressed files).

    Returns
    -------
    str
        32 lowercase hex digits.

    Examples
    --------
    >>> import gzip, tempfile
    >>> f = Path(tempfile.mkdtemp()) / "x.gz"
    >>> _ = f.write_bytes(gzip.compress(b""))
    >>> checksum(f, gunzip=True)
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    digest = hashlib.md5(usedforsecurity=False)
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    filename: str,
    mirrors: Sequence[str],
    folder: str | os.PathLike,
    md5: str,
    *,
    gunzip: bool = False,
    timeout: float = 30.0,
    progress: bool | None = None,
) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with checksum ``md5``.

    Parameters
    ----------
    filename : str
        Appended to each mirror's base URL, and the name it is saved under.
    mirrors : sequence of str
        Base URLs (``https://``, ``http://`` or ``file://``), tried in order.
    folder : str or path-like
        Where the file goes; created if needed.
    md5 : str
        Expected MD5 of the file, or of its decompressed content when ``gunzip``.
    gunzip : bool
        See :func:`checksum`.
    timeout : float
        Seconds to wait for each connection or read.
    progress : bool, optional
        Show a progress bar; default when stderr is a terminal.

    Returns
    -------
    pathlib.Path
        ``folder / filename``, verified.

    Raises
    ------
    DownloadError
        When every mirror fails; lists each URL and why. No partial file is left.

    Examples
    --------
    >>> import tempfile
    >>> src, dst = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> _ = (src / "a.txt").write_bytes(b"")
    >>> download_file("a.txt", [src.as_uri()], dst, "d41d8cd98f00b204e9800998ecf8427e").name
    'a.txt'
    """
    folder = Path(folder)
    if not mirrors:
        raise DownloadError(filename, ["no mirror configured"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(filename, [f"cannot create {str(folder)!r}: {exc}"]) from exc
    show = sys.stderr.isatty() if progress is None else progress
    attempts = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch_verified(url, folder / filename, md5, gunzip, timeout, show)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            # URLError, HTTPError and timeouts are OSErrors; EOFError and zlib.error come
            # from truncated or foreign gzip data.
            attempts.append(f"{url}: {exc}")
            continue
        return folder / filename
    raise DownloadError(filename, attempts)


def _fetch_verified(url: str, target: Path, md5: str, gunzip: bool, timeout: float,
                    show: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=target.name, disable=not show) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        got = checksum(tmp, gunzip=gunzip)
        if got != md5:
            raise ValueError(f"checksum mismatch: MD5 {got}, expected {md5}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_or_explain(
    fetch: Callable[[], object],
    *,
    download: bool,
    title: str,
    folder: Path,
    expected: Sequence[str],
    missing: str,
) -> None:
    """Run ``fetch`` to supply missing files, or explain why they are not there.

    Raises
    ------
    DatasetNotFoundError
        When ``download`` is off, or ``fetch`` raises :class:`DownloadError`; see
        :func:`~experiments.data.root.not_found` for the other arguments.
    """
    if not download:
        raise not_found(title, folder, expected, missing=missing,
                        download="Downloading was turned off (download=False).")
    try:
        fetch()
    except DownloadError as exc:
        raise not_found(title, folder, expected, missing=missing, tried=exc.attempts) from exc
