"""Small building blocks shared by the networks: maxout units, pylearn2-style dropout and
global average pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Maxout", "GlobalAvgPool2d", "dropout_inputs"]


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): the max over ``pieces`` consecutive channels.

    Put it after a ``Linear`` or ``Conv2d`` with ``units * pieces`` outputs; channel ``j``
    of the result is the max of channels ``j*pieces, ..., j*pieces + pieces - 1``, the
    grouping pylearn2 uses. Works on any tensor with channels on dim 1, and under
    :func:`torch.vmap`.

    Examples
    --------
    >>> Maxout(2)(torch.tensor([[1.0, 3.0, -2.0, -5.0]]))
    tensor([[ 3., -2.]])
    """

    def __init__(self, pieces: int) -> None:
        super().__init__()
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"pieces must be a positive int, got {pieces!r}")
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (-1, self.pieces)).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class GlobalAvgPool2d(nn.Module):
    """The average of each channel's whole map, kept as a 1×1 map: ``(N, C, H, W) → (N, C, 1, 1)``.

    Computed as an average pool whose window is the map, which gives bit for bit what a
    fixed ``AvgPool2d(8)`` gives on an 8×8 map (``AdaptiveAvgPool2d(1)`` and ``mean`` sum
    in another order), so a network built for one image size keeps its numbers there and
    takes any other size. Works under :func:`torch.vmap`.

    Examples
    --------
    >>> GlobalAvgPool2d()(torch.arange(8.0).reshape(1, 2, 2, 2)).flatten()
    tensor([1.5000, 5.5000])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, x.shape[-2:])


def dropout_inputs(
    layers: Sequence[Sequence[nn.Module]], *, dropout: bool, first: float = 0.2, rest: float = 0.5
) -> list[nn.Module]:
    """Chain layers, each preceded by dropout on its input, as pylearn2's ``Dropout`` cost does.

    pylearn2 (used for every network of Goodfellow et al. 2015) masks the *input* of each
    layer: with probability ``first`` for the first layer (``input_include_probs: {h0:
    .8}``) and ``rest`` for all later ones (its default include probability 0.5). We use
    :class:`torch.nn.Dropout`, which rescales kept units by ``1/(1-p)`` during training.

    Parameters
    ----------
    layers : sequence of sequences of modules
        The modules of each layer, in order.
    dropout : bool
        Without it the layers are simply concatenated.
    first, rest : float
        Drop probabilities of the first layer's input and of later layers' inputs.

    Returns
    -------
    list of torch.nn.Module

    Examples
    --------
    >>> chain = dropout_inputs([[nn.Linear(4, 3), nn.ReLU()], [nn.Linear(3, 2)]], dropout=True)
    >>> [type(m).__name__ for m in chain], [m.p for m in chain if isinstance(m, nn.Dropout)]
    (['Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear'], [0.2, 0.5])
    """
    chain: list[nn.Module] = []
    for index, layer in enumerate(layers):
        if dropout:
            chain.append(nn.Dropout(first if index == 0 else rest))
        chain.extend(layer)
    return chain
