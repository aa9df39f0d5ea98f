"""When to checkpoint, and how to write a checkpoint so that nothing is ever half-written.

Frankle (2020, §4) interpolates from iteration t to the end of training for
t ∈ {0} ∪ {2^k} ∪ {1000k}; Goodfellow et al. (2015, App. B) project the whole trajectory,
for which one point per epoch suffices. :func:`schedule` is the union of both and of any
iterations the caller asks for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import torch

from landscapes.results import atomic_write

__all__ = ["schedule", "save", "load"]


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


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Read a checkpoint written by :func:`save` (tensors only, ``weights_only``)."""
    return torch.load(path, map_location=map_location, weights_only=True)
