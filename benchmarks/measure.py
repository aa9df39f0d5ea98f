"""Timing, FLOP counting and the machine's peak matmul throughput."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["median_time", "forward_flops", "peak_gflops"]


def _times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls after one warm-up call.

    Examples
    --------
    >>> median_time(lambda: sum(range(10)), 3) >= 0
    True
    """
    return statistics.median(_times(fn, repeats))


def forward_flops(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    """Forward FLOPs of one example: all of them, and the first layer's.

    Counts 2·in·out per ``nn.Linear`` output position and 2·(C_in/groups)·prod(k)·C_out
    per ``nn.Conv*`` output position, ignoring elementwise work.

    Examples
    --------
    >>> from torch import nn
    >>> forward_flops(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), torch.zeros(1, 4))
    (36, 24)
    """
    counts: list[int] = []

    def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        positions = out[0].numel()  # one example
        if isinstance(module, nn.Linear):
            counts.append(2 * module.in_features * positions)
        else:
            k = module.weight[0].numel()  # (C_in/groups)·prod(kernel)
            counts.append(2 * k * positions)

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model.eval()(example[:1])
    finally:
        for h in handles:
            h.remove()
    return sum(counts), (counts[0] if counts else 0)


def peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Best float32 ``torch.mm`` throughput of ``size``² matrices over ``repeats`` runs
    after a warm-up, in GFLOP/s.

    The best, not the median: a peak is what the machine can do, and on a shared
    machine other load only ever slows a run down.
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / min(_times(lambda: torch.mm(a, b), repeats)) / 1e9
