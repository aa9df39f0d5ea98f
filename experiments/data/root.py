"""Where datasets live, and the error that says what to put there."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DatasetNotFoundError", "data_root", "not_found"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not in the data root and could not be downloaded.

    A :class:`FileNotFoundError`, so ``except FileNotFoundError`` still catches it.
    """


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``data_dir``, ``$LANDSCAPES_DATA``, ``$LANDSCAPES_HOME/data``,
    or ``~/.cache/landscapes/data``.

    The last honours ``$XDG_CACHE_HOME``. Each dataset has its own subfolder of the root.

    Parameters
    ----------
    data_dir : str or path-like, optional
        An explicit root (the ``--data-dir`` option); wins over the environment.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> str(data_root("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("LANDSCAPES_DATA"):
        return Path(os.environ["LANDSCAPES_DATA"]).expanduser()
    from landscapes.home import home

    return home("data")


def not_found(
    title: str,
    folder: Path,
    expected: Sequence[str],
    *,
    missing: str,
    tried: Sequence[str] = (),
    download: str = "",
) -> DatasetNotFoundError:
    """The error for absent dataset files: where it looked, what it wants, how to fix it.

    Parameters
    ----------
    title : str
        Dataset and split, e.g. ``"MNIST test split"``.
    folder : pathlib.Path
        The folder that was searched; its name is the subfolder the root must have.
    expected : sequence of str
        The files or folders that belong there.
    missing : str
        The first one that was not found.
    tried : sequence of str
        ``"url: reason"`` for each failed download attempt.
    download : str
        Why there was no download, when there was none.

    Returns
    -------
    DatasetNotFoundError

    Examples
    --------
    >>> err = not_found("PTB train split", Path("/data/ptb"), ["ptb.train.txt"],
    ...                 missing="ptb.train.txt", download="PTB is not downloaded.")
    >>> print(err)
    PTB train split not found: no ptb.train.txt in '/data/ptb'.
    PTB is not downloaded.
    To fix: place ptb.train.txt in '/data/ptb', or point --data-dir or $LANDSCAPES_DATA at a folder whose 'ptb' subfolder has them.
    """
    lines = [f"{title} not found: no {missing} in {str(folder)!r}."]
    if tried:
        lines.append("Download failed from every mirror:")
        lines.extend(f"  {attempt}" for attempt in tried)
    if download:
        lines.append(download)
    lines.append(
        f"To fix: place {', '.join(expected)} in {str(folder)!r}, or point --data-dir or "
        f"$LANDSCAPES_DATA at a folder whose {folder.name!r} subfolder has them."
    )
    return DatasetNotFoundError("\n".join(lines))
