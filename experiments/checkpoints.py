"""When to checkpoint, and how to write a checkpoint so that nothing is ever half-written.

Frankle (2020, §4) interpolates from iteration t to the end of training for
t ∈ {0} ∪ {2^k} ∪ {1000k}; Goodfellow et al. (2015, App. B) project the whole trajectory,
for which one point per epoch suffices. :func:`schedule` is the union of both and of any
iterations the caller asks for.

A file that cannot be read raises :class:`RunFileError`, whose message names the file
and how to recover, never torch's unpickling advice.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from landscapes.results import atomic_write

__all__ = ["RunFileError", "schedule", "save", "load", "damage"]


class RunFileError(ValueError):
    """A file of a training run cannot be read or written.

    The message names the file and the command that recovers. A :class:`ValueError`,
    so every command line that reports bad input in one line reports this one too.
    """


def schedule(total: int, per_epoch: int, extra: Iterable[int] = ()) -> list[int]:
    """Iterations to checkpoint in a run of ``total`` iterations.

    Parameters
    ----------
    total : int
        Iterations in the run; always included (the final weights).
    per_epoch : int
        Iterations per epoch; every multiple up to ``total`` is included.
    extra : iterable of int
        More iterations; those beyond ``total`` are dropped.

    Returns
    -------
    list of int
        Sorted, unique: {0} ∪ {2^k} ∪ {1000k} ∪ {epoch ends} ∪ extra ∪ {total}.

    Examples
    --------
    >>> schedule(2100, per_epoch=1000)
    [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1024, 2000, 2048, 2100]
    """
    if total < 0 or per_epoch < 1:
        raise ValueError(f"need total ≥ 0 and per_epoch ≥ 1, got {total!r} and {per_epoch!r}")
    points = {0, total}
    points.update(2**k for k in range(total.bit_length()) if 2**k <= total)
    points.update(range(1000, total + 1, 1000))
    points.update(range(per_epoch, total + 1, per_epoch))
    points.update(int(t) for t in extra if 0 <= int(t) <= total)
    return sorted(points)


def save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename.

    A crash or Ctrl-C at any moment leaves either the old file or the new one.
    """
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
         what: str = "checkpoint", fix: str = "") -> Any:
    """Read a checkpoint written by :func:`save` (tensors only, ``weights_only``).

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    RunFileError
        When the file is damaged: ``"<what> '<path>' is damaged (<why>); <fix>"``.
    """
    try:
        return _quiet_load(path, map_location=map_location)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any failure to read means a damaged file
        raise _damaged(path, what, fix, exc) from None


def damage(path: str | os.PathLike) -> str | None:
    """Why the checkpoint at ``path`` cannot be read (missing, truncated, garbage), or None.

    Cheap: the tensors are mapped, not read, so checking every checkpoint of a run
    before resuming it costs little.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> save({"w": torch.ones(2)}, folder / "a.pt")
    >>> damage(folder / "a.pt") is None
    True
    >>> _ = (folder / "b.pt").write_bytes((folder / "a.pt").read_bytes()[:100])
    >>> damage(folder / "b.pt")
    'truncated, or not a torch checkpoint'
    >>> damage(folder / "c.pt")
    'missing'
    """
    if not os.path.exists(path):
        return "missing"
    try:
        _quiet_load(path, map_location="cpu", mmap=True)
    except Exception as exc:  # noqa: BLE001 -- as in load()
        return _why(path, exc)
    return None


def _quiet_load(path: str | os.PathLike, **kwargs: Any) -> Any:
    """``torch.load(weights_only=True)``; its warnings about a file it then fails to read
    (garbage taken for an old pickle) are dropped: the error says what is wrong."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = torch.load(path, weights_only=True, **kwargs)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return value


def _why(path: str | os.PathLike, exc: BaseException) -> str:
    # Torch's own message suggests weights_only=False, which would run whatever code
    # a tampered file holds: say what is wrong instead.
    if os.path.getsize(path) == 0:
        return "empty"
    if not zipfile.is_zipfile(path):
        return "truncated, or not a torch checkpoint"
    return f"unreadable: {type(exc).__name__}"


def _damaged(path: str | os.PathLike, what: str, fix: str, exc: BaseException) -> RunFileError:
    text = f"{what} {str(path)!r} is damaged ({_why(path, exc)})"
    return RunFileError(f"{text}; {fix}" if fix else text)
