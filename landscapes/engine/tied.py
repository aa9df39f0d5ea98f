"""Tied parameters: one tensor that a model uses under several names.

Language models tie the output layer's weight to the token embedding
(``head.weight = embedding.weight``); ``state_dict()`` then lists the tensor under
both names. The engine interpolates such a tensor once, under its first name, and
``functional_call`` (with its default ``tie_weights=True``) feeds that one tensor to
every use, so the model stays tied at every point. An anchor whose entries for a tied
pair differ describes no point of the tied model and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from landscapes.anchors import Anchor

__all__ = ["merge_tied", "tied_groups"]


def tied_groups(model: nn.Module) -> list[tuple[str, ...]]:
    """Names that share one parameter or buffer, first name first; only groups of two or more.

    Examples
    --------
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    >>> m[1].weight = m[0].weight
    >>> tied_groups(m)
    [('0.weight', '1.weight')]
    """
    names: dict[int, list[str]] = {}
    tensors = list(model.named_parameters(remove_duplicate=False))
    tensors += list(model.named_buffers(remove_duplicate=False))
    for name, tensor in tensors:
        names.setdefault(id(tensor), []).append(name)
    return [tuple(group) for group in names.values() if len(group) > 1]


def merge_tied(anchor: Anchor, groups: Iterable[tuple[str, ...]], what: str) -> Anchor:
    """``anchor`` with each tied tensor once, under its group's first name.

    Raises ``ValueError`` naming both entries when ``anchor`` gives one tied tensor two
    different values.

    Examples
    --------
    >>> import torch
    >>> merge_tied({"a": torch.ones(2), "b": torch.ones(2)}, [("a", "b")], "anchor 'init'")
    {'a': tensor([1., 1.])}
    >>> merge_tied({"a": torch.ones(2), "b": torch.zeros(2)}, [("a", "b")], "anchor 'init'")
    Traceback (most recent call last):
    ...
    ValueError: anchor 'init' has different values for 'a' and 'b', which the model ties (one tensor under both names); give both entries the same tensor, as the state_dict of the tied model has
    """
    groups = list(groups)
    if not groups:
        return anchor
    out = dict(anchor)
    for group in groups:
        present = [name for name in group if name in out]
        if not present:
            continue
        first = out[present[0]]
        for name in present[1:]:
            other = out[name]
            if other is not first and (
                other.shape != first.shape or other.dtype != first.dtype or not torch.equal(other, first)
            ):
                raise ValueError(
                    f"{what} has different values for {present[0]!r} and {name!r}, which the "
                    "model ties (one tensor under both names); give both entries the same "
                    "tensor, as the state_dict of the tied model has"
                )
            del out[name]
        if present[0] != group[0]:
            del out[present[0]]
        out[group[0]] = first
    return out
