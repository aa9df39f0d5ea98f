"""The input batches alignment and repair read, from whatever the caller passes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["input_batches"]


def input_batches(
    data: torch.Tensor | Iterable[Any], n_batches: int | None = None
) -> list[torch.Tensor]:
    """The inputs of ``data``: one tensor, or batches of tensors or ``(inputs, targets)`` pairs.

    Examples
    --------
    >>> import torch
    >>> [x.shape for x in input_batches([(torch.zeros(2, 3), None)] * 3, n_batches=2)]
    [torch.Size([2, 3]), torch.Size([2, 3])]
    """
    if n_batches is not None and (isinstance(n_batches, bool) or not isinstance(n_batches, int)
                                  or n_batches < 1):
        raise ValueError(f"n_batches must be a positive int, got {n_batches!r}")
    if isinstance(data, torch.Tensor):
        data = [data]
    out = []
    for item in data:
        x = item[0] if isinstance(item, (tuple, list)) else item
        if not isinstance(x, torch.Tensor):
            raise TypeError("data must yield tensors or (inputs, targets) pairs, got "
                            f"{type(x).__name__!r}")
        out.append(x)
        if n_batches is not None and len(out) >= n_batches:
            break
    if not out:
        raise ValueError("data has no batches")
    return out
