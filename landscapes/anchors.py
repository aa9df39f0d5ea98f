"""Anchors: the parameter dictionaries that every path is a linear combination of.

An anchor is a mapping from names to tensors, like :meth:`torch.nn.Module.state_dict`
(a module is accepted and read through ``state_dict()``). Only floating-point entries
take part in linear combinations; integer entries such as batch norm's
``num_batches_tracked`` are carried unchanged from the first anchor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "Anchor",
    "as_anchor",
    "check_anchors",
    "gram",
    "is_interpolated",
    "shared_entries",
    "squared_distances",
]

Anchor = dict[str, torch.Tensor]


def is_interpolated(t: torch.Tensor) -> bool:
    """Whether an entry takes part in linear combinations (floating-point entries do).

    Examples
    --------
    >>> import torch
    >>> is_interpolated(torch.zeros(2)), is_interpolated(torch.tensor(3))
    (True, False)
    """
    return t.is_floating_point()


def as_anchor(obj: Any, name: str = "anchor") -> Anchor:
    """Copy a state dict (or a module's) into a detached anchor dictionary.

    The copy protects the path from later changes to the source: ``state_dict()``
    shares storage with a module's parameters, which go on changing if it trains on.

    Parameters
    ----------
    obj : mapping of str to tensor, or torch.nn.Module
    name : str
        How error messages refer to this anchor.

    Returns
    -------
    dict of str to torch.Tensor

    Examples
    --------
    >>> import torch
    >>> a = as_anchor(torch.nn.Linear(2, 1))
    >>> sorted(a)
    ['bias', 'weight']
    """
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"{name} must be a dict of tensors (a state_dict) or an nn.Module, "
            f"got {type(obj).__name__}"
        )
    if not obj:
        raise ValueError(f"{name} is empty: it needs at least one tensor")
    out: Anchor = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} has a non-string key {key!r}")
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name}[{key!r}] must be a tensor, got {type(value).__name__}"
            )
        out[key] = value.detach().clone()
    return out


def shared_entries(obj: Any) -> list[tuple[str, ...]]:
    """Keys of a state dict (or a module's) whose tensors are one and the same memory.

    A model with tied parameters (``head.weight = embedding.weight``) lists the tensor
    under each name; so do its state dicts, saved and loaded or deep-copied. A copy
    made entry by entry (``{k: v.clone() ...}``) no longer shows the tie.

    Examples
    --------
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    >>> m[1].weight = m[0].weight
    >>> shared_entries(m)
    [('0.weight', '1.weight')]
    """
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        return []
    groups: dict[tuple, list[str]] = {}
    for key, value in obj.items():
        if isinstance(value, torch.Tensor) and value.numel():
            where = (value.data_ptr(), tuple(value.shape), value.stride(), value.dtype, value.device)
            groups.setdefault(where, []).append(key)
    return [tuple(keys) for keys in groups.values() if len(keys) > 1]


def check_anchors(anchors: Sequence[Anchor], names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first tensor that breaks a path's rules.

    Every anchor must have the keys of the first, each with the same shape and dtype,
    and every floating-point value must be finite.

    Examples
    --------
    >>> import torch
    >>> check_anchors([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}], ["init", "final"])
    Traceback (most recent call last):
    ...
    ValueError: tensor 'w' has shape (3,) in anchor 'final' but (2,) in anchor 'init'
    """
    first, first_name = anchors[0], names[0]
    keys = list(first)
    for anchor, name in zip(anchors, names):
        missing = [k for k in keys if k not in anchor]
        if missing:
            raise ValueError(
                f"anchor {name!r} lacks tensor {missing[0]!r} that anchor {first_name!r} has; "
                "all anchors need the same keys (use state_dict() of one architecture)"
            )
        extra = [k for k in anchor if k not in first]
        if extra:
            raise ValueError(
                f"anchor {name!r} has tensor {extra[0]!r} that anchor {first_name!r} lacks; "
                "all anchors need the same keys (use state_dict() of one architecture)"
            )
        for key in keys:
            a, b = first[key], anchor[key]
            if a.shape != b.shape:
                raise ValueError(
                    f"tensor {key!r} has shape {tuple(b.shape)!r} in anchor {name!r} but "
                    f"{tuple(a.shape)!r} in anchor {first_name!r}"
                )
            if a.dtype != b.dtype:
                raise ValueError(
                    f"tensor {key!r} has dtype {b.dtype} in anchor {name!r} but {a.dtype} in "
                    f"anchor {first_name!r}; convert the anchors to one dtype first"
                )
            if is_interpolated(b):
                bad = int((~torch.isfinite(b)).sum())
                if bad:
                    raise ValueError(
                        f"tensor {key!r} of anchor {name!r} has {bad} non-finite value(s); "
                        "a path needs finite anchors"
                    )


def gram(anchors: Sequence[Anchor], *, shifted: bool = False) -> np.ndarray:
    """The Gram matrix of the anchors over their floating-point entries, in float64.

    Norms of any linear combination follow from it exactly, without building the
    combination: ‖Σ c_k θ_k‖² = cᵀ G c.

    Parameters
    ----------
    anchors : sequence of dict
    shifted : bool
        Use v₀ = θ₀ and v_k = θ_k − θ₀ (k ≥ 1) instead of the θ_k. Distances between
        nearby points of large norm then come without the cancellation that
        ‖a‖² − 2⟨a, b⟩ + ‖b‖² suffers.

    Examples
    --------
    >>> import torch
    >>> gram([{"w": torch.tensor([3.0, 0.0])}, {"w": torch.tensor([3.0, 4.0])}], shifted=True)
    array([[ 9.,  0.],
           [ 0., 16.]])
    """
    k = len(anchors)
    g = np.zeros((k, k))
    for key, ref in anchors[0].items():
        if not is_interpolated(ref):
            continue
        flat = [_float64(a[key]) for a in anchors]
        if shifted:
            flat = [flat[0]] + [f - flat[0] for f in flat[1:]]
        for i in range(k):
            for j in range(i, k):
                g[i, j] += _dot(flat[i], flat[j])
    return np.triu(g) + np.triu(g, 1).T


def squared_distances(anchors: Sequence[Anchor], pairs: np.ndarray | None = None) -> np.ndarray:
    """‖θ_i − θ_j‖² between anchors, over their floating-point entries (float64).

    Each difference is formed before it is squared, so two nearly equal anchors of large
    norm (a late checkpoint and the final weights) get their true small distance, not
    the rounding of ‖θ_i‖² − 2⟨θ_i, θ_j⟩ + ‖θ_j‖². For coefficients δ summing to zero,
    ‖Σ δ_k θ_k‖² = −½ δᵀ D δ.

    Parameters
    ----------
    anchors : sequence of dict
    pairs : numpy.ndarray of bool, optional
        (K, K) mask of the pairs wanted (the others are left 0): a family of lines from
        K checkpoints to one final point needs K of the K² pairs.

    Examples
    --------
    >>> import torch
    >>> squared_distances([{"w": torch.tensor([3.0, 0.0])}, {"w": torch.tensor([3.0, 4.0])}])
    array([[ 0., 16.],
           [16.,  0.]])
    """
    k = len(anchors)
    wanted = np.ones((k, k), dtype=bool) if pairs is None else np.asarray(pairs, dtype=bool)
    wanted = np.triu(wanted | wanted.T, 1)
    d = np.zeros((k, k))
    for key, ref in anchors[0].items():
        if not is_interpolated(ref):
            continue
        flat = [_float64(a[key]) for a in anchors]
        for i, j in zip(*np.nonzero(wanted)):
            diff = flat[j] - flat[i]
            d[i, j] += _dot(diff, diff)
    return d + d.T


def _float64(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().reshape(-1).to("cpu", torch.float64).numpy()


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # numpy's pairwise sum, not torch's or BLAS's: theirs split the sum by thread, so the
    # distances would change in the last bit with the thread count, and a path evaluated
    # on one-thread workers would not label its points as the same path evaluated here.
    return float(np.sum(a * b))
