"""Batch normalisation along a path.

Interpolating a network with batch norm also interpolates its running statistics,
which need not be the statistics of the interpolated network. ``bn="recompute"``
re-estimates them at every point: the running buffers are reset and refilled with a
cumulative (equal-weight) average over N training batches in training mode, with
dropout off so the estimate is deterministic, as in SWA's ``update_bn``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    "BN_MODES",
    "has_batchnorm",
    "eval_mode",
    "recompute_statistics",
    "recompute_statistics_stacked",
]

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


def _reset(
    model: nn.Module, params: dict[str, torch.Tensor], device: torch.device, points: int | None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Fresh running statistics (one set per point when ``points`` is given) and counters."""
    stats: dict[str, torch.Tensor] = {}
    counters: dict[str, torch.Tensor] = {}
    for name, m in _bn_modules(model):
        prefix = f"{name}." if name else ""
        for buffer, fill in (("running_mean", 0.0), ("running_var", 1.0)):
            ref = getattr(m, buffer)
            shape = ref.shape if points is None else (points, *ref.shape)
            dtype = params[prefix + buffer].dtype if prefix + buffer in params else ref.dtype
            stats[prefix + buffer] = torch.full(shape, fill, dtype=dtype, device=device)
        counters[prefix + "num_batches_tracked"] = torch.zeros((), dtype=torch.long, device=device)
    return stats, counters


def _fill(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    n_batches: int,
    device: torch.device,
    run: Callable[[torch.Tensor], object],
) -> None:
    seen = 0
    with _statistics_mode(model), torch.no_grad():
        for x, _ in batches:
            if seen >= n_batches:
                break
            run(x.to(device, non_blocking=True))
            seen += 1
    if seen == 0:
        raise ValueError("bn='recompute' found no batches to estimate statistics from")


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

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> x = torch.randn(8, 2)
    >>> new = recompute_statistics(net, dict(net.state_dict()), [(x, None)], 1, torch.device("cpu"))
    >>> torch.allclose(new["1.running_mean"], net[0](x).mean(0).detach())
    True
    """
    stats, counters = _reset(model, params, device, None)
    out = {**params, **stats, **counters}
    # functional_call updates the buffers it is given in place.
    _fill(model, batches, n_batches, device, lambda x: functional_call(model, out, (x,), strict=False))
    return out


Stacked = dict[str, torch.Tensor]


def recompute_statistics_stacked(
    model: nn.Module,
    chunks: Sequence[tuple[Stacked, int]],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    n_batches: int,
    device: torch.device,
    run: Callable[[list[tuple[Stacked, Stacked]], torch.Tensor], object],
) -> list[tuple[Stacked, Stacked]]:
    """:func:`recompute_statistics` for chunks of points in one pass over the batches.

    Parameters
    ----------
    model : torch.nn.Module
    chunks : sequence of (dict, int)
        Each chunk's parameters, stacked along a leading dimension of its number of
        points.
    batches, n_batches, device
        As for :func:`recompute_statistics`.
    run : callable
        ``run(states, x)`` runs the model on ``x`` at every point of every chunk,
        given each chunk's ``(params, counters)``: ``counters`` are entries shared by
        the chunk's points (e.g. under :func:`torch.vmap`). Batch norm then updates
        each point's slice of the stacked running statistics in place, while the
        shared batch counters set the cumulative averaging weights.

    Returns
    -------
    list of (dict, dict)
        Per chunk, its parameters with fresh running statistics, and every batch norm
        layer's ``num_batches_tracked``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from torch.func import functional_call
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> one = {k: v for k, v in net.state_dict().items() if v.is_floating_point()}
    >>> two = {k: torch.stack([v, 2 * v]) for k, v in one.items()}
    >>> def run(states, x):
    ...     for p, s in states:
    ...         torch.vmap(lambda q: functional_call(net, {**q, **s}, (x,)))(p)
    >>> x = torch.randn(8, 2)
    >>> [(stats, counts)] = recompute_statistics_stacked(
    ...     net, [(two, 2)], [(x, None)], 1, torch.device("cpu"), run)
    >>> torch.allclose(stats["1.running_mean"][1], 2 * net[0](x).mean(0).detach())
    True
    """
    states = []
    for params, points in chunks:
        stats, counters = _reset(model, params, device, points)
        states.append(({**params, **stats}, counters))
    _fill(model, batches, n_batches, device, lambda x: run(states, x))
    return states
