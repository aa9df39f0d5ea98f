"""Permutation specs: which axes of which state-dict entries move together.

A hidden unit of a network can be renamed without changing the function it computes:
permute the output rows of the layer that makes it, the entries of every vector that
acts on it (bias, batch-norm scale, shift and running statistics) and the input
columns of every layer that reads it (Hecht-Nielsen 1990; Ainsworth, Hayase &
Srinivasa 2023, §2). A :class:`PermutationGroup` is one such set of units with every
axis it moves; a :class:`PermutationSpec` is all of them for one architecture, as
:func:`~landscapes.align.permutation_spec` derives them.

The convention throughout: a permutation ``π`` of a group of ``n`` units is a
``LongTensor`` of length ``n``, and the permuted state has unit ``i`` where the original
had unit ``π[i]`` (``W'[i] = W[π[i]]``), which is what
``scipy.optimize.linear_sum_assignment``'s column indices give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = ["Axis", "PermutationGroup", "PermutationSpec", "apply_permutation",
           "random_permutation", "identity_permutation", "expand"]

Permutation = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Axis:
    """One axis of one state-dict entry that a group permutes.

    Attributes
    ----------
    key : str
        State-dict name.
    axis : int
        The dimension permuted.
    block : int
        Entries per unit: ``block > 1`` where a channel's flattened map feeds a linear
        layer, the axis then has ``size · block`` entries and moves in blocks.
    parameter : bool
        A parameter (weight matching uses these) rather than a buffer.
    """

    key: str
    axis: int
    block: int = 1
    parameter: bool = True


@dataclass(frozen=True)
class PermutationGroup:
    """Units that one permutation renames together.

    Attributes
    ----------
    name : str
        The first layer (in graph order) that makes these units, e.g. ``"1"`` or
        ``"stages.0.conv1.0"``; a residual stream is named after its first layer.
    size : int
        Units in the group.
    axes : tuple of Axis
        Every axis it moves, tied names included.
    layers : tuple of str
        The layers whose outputs are these units (linear, convolution, embedding).
    sites : tuple of (str, int)
        Graph nodes (by name) and the axis of their output that carries the units one
        per entry; activation matching reads these.
    """

    name: str
    size: int
    axes: tuple[Axis, ...]
    layers: tuple[str, ...] = ()
    sites: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class PermutationSpec:
    """Every permutation group of one architecture.

    Attributes
    ----------
    groups : tuple of PermutationGroup
    example : torch.Tensor
        An input of the shape and dtype the spec was derived on (two examples).
    tied : tuple of tuple of str
        State-dict names that share one tensor.
    traced : bool
        Derived from a :mod:`torch.fx` trace (False: from the module order of nested
        ``nn.Sequential`` containers, where the trace failed).
    """

    groups: tuple[PermutationGroup, ...]
    example: torch.Tensor = field(repr=False, compare=False)
    tied: tuple[tuple[str, ...], ...] = ()
    traced: bool = True

    def __getitem__(self, name: str) -> PermutationGroup:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"no permutation group {name!r}; the groups are {list(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        """The groups' names, in graph order."""
        return tuple(group.name for group in self.groups)


def expand(perm: torch.Tensor, block: int) -> torch.Tensor:
    """The index of ``P ⊗ I_block``: each unit's ``block`` consecutive entries move together.

    Examples
    --------
    >>> expand(torch.tensor([1, 0]), 2)
    tensor([2, 3, 0, 1])
    """
    if block == 1:
        return perm
    return (perm[:, None] * block + torch.arange(block, device=perm.device)).flatten()


def identity_permutation(spec: PermutationSpec) -> Permutation:
    """The permutation that changes nothing, one ``arange`` per group."""
    return {g.name: torch.arange(g.size) for g in spec.groups}


def random_permutation(spec: PermutationSpec, seed: int = 0) -> Permutation:
    """A uniformly random permutation of every group, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return {g.name: torch.randperm(g.size, generator=generator) for g in spec.groups}


def apply_permutation(
    spec: PermutationSpec, perm: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``state`` with every group's units renamed by ``perm`` (``W'[i] = W[π[i]]``).

    Parameters
    ----------
    spec : PermutationSpec
    perm : mapping of str to LongTensor
        One permutation per group name of ``spec``; a group left out is not moved.
    state : mapping of str to tensor
        A state dict of the architecture ``spec`` was derived from.

    Returns
    -------
    dict of str to tensor
        A new state dict; ``state`` is not modified. Entries no group touches are the
        same tensors.

    Examples
    --------
    >>> from torch import nn
    >>> from landscapes.align import permutation_spec
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> spec = permutation_spec(net)
    >>> new = apply_permutation(spec, {"0": torch.tensor([2, 0, 1])}, net.state_dict())
    >>> torch.equal(new["0.weight"][0], net[0].weight[2])
    True
    """
    names = set(spec.names)
    for name, p in perm.items():
        if name not in names:
            raise ValueError(f"unknown permutation group {name!r}; the spec has {sorted(names)}")
        size = spec[name].size
        if (not isinstance(p, torch.Tensor) or p.shape != (size,)
                or not torch.equal(torch.sort(p.cpu()).values, torch.arange(size))):
            raise ValueError(f"permutation {name!r} must be a permutation of range({size}), "
                             f"got {p!r}")
    missing = [a.key for g in spec.groups for a in g.axes if a.key not in state]
    if missing:
        raise ValueError(f"state has no entry {missing[0]!r}, which the spec permutes; is it a "
                         "state dict of the architecture the spec was derived from?")
    return _apply(spec, perm, state)


def _apply(
    spec: PermutationSpec, perm: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    out = dict(state)
    # A tied name whose tensor is its first name's memory stays tied: permuted once, aliased.
    aliases = {name: names[0] for names in spec.tied for name in names[1:]
               if name in state and names[0] in state
               and _same_memory(state[name], state[names[0]])}
    for group in spec.groups:
        if group.name not in perm:
            continue
        for a in group.axes:
            if a.key not in out or a.key in aliases:
                continue  # a partial state (weight matching's parameters only), or an alias
            tensor = out[a.key]
            index = expand(perm[group.name].to(tensor.device), a.block)
            out[a.key] = tensor.index_select(a.axis, index)
    for name, first in aliases.items():
        out[name] = out[first]
    return out


def _same_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a is b or (a.data_ptr() == b.data_ptr() and a.shape == b.shape
                      and a.stride() == b.stride())
