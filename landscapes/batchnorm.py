"""Batch normalisation along a path.

Interpolating a network with batch norm also interpolates its running statistics,
which need not be the statistics of the interpolated network. ``bn="recompute"``
re-estimates them at every point: the running buffers are reset and refilled with a
cumulative (equal-weight) average over N training batches in training mode, with
dropout off so the estimate is deterministic, as in SWA's ``update_bn``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["BN_MODES", "has_batchnorm", "eval_mode", "recompute_statistics"]

#: Allowed ``bn`` values of :func:`landscapes.evaluate`.
BN_MODES = ("interpolate", "recompute")


def _bn_modules(model: nn.Module) -> list[tuple[str, _BatchNorm]]:
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    ]


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` has batch norm layers that track running statistics.

    Examples
    --------
    >>> from torch import nn
    >>> has_batchnorm(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    True
    """
    return bool(_bn_modules(model))


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode and restore each module's own flag afterwards.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Dropout()).train()
    >>> with eval_mode(net):
    ...     net[0].training
    False
    >>> net[0].training
    True
    """
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def _statistics_mode(model: nn.Module) -> Iterator[None]:
    """Batch norm in training mode with cumulative averaging; everything else in eval."""
    momenta = [(m, m.momentum) for _, m in _bn_modules(model)]
    with eval_mode(model):  # restores every module's training flag
        try:
            for m, _ in momenta:
                m.train()
                m.momentum = None  # cumulative moving average: every batch weighs the same
            yield
        finally:
            for m, momentum in momenta:
                m.momentum = momentum


def recompute_statistics(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    n_batches: int,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Re-estimate every batch norm layer's running statistics at one point.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture; its own parameters and buffers are not touched.
    params : dict of str to tensor
        The point's parameters and buffers (as passed to ``functional_call``).
    batches : iterable of (inputs, targets)
        Training batches; the first ``n_batches`` are used.
    n_batches : int
    device : torch.device

    Returns
    -------
    dict of str to tensor
        ``params`` with fresh ``running_mean``, ``running_var`` and
        ``num_batches_tracked`` for every batch norm layer.
    """
    out = dict(params)
    for name, m in _bn_modules(model):
        prefix = f"{name}." if name else ""
        for buffer, fill in (("running_mean", 0.0), ("running_var", 1.0)):
            ref = params.get(prefix + buffer, getattr(m, buffer))
            out[prefix + buffer] = torch.full_like(ref, fill, device=device)
        out[prefix + "num_batches_tracked"] = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    with _statistics_mode(model), torch.no_grad():
        for x, _ in batches:
            if seen >= n_batches:
                break
            # functional_call updates the buffers it is given in place.
            functional_call(model, out, (x.to(device, non_blocking=True),), strict=False)
            seen += 1
    if seen == 0:
        raise ValueError("bn='recompute' found no batches to estimate statistics from")
    return out
