"""Timing, FLOP counting and the machine's peak matmul throughput."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["median_time", "paired_median_times", "forward_flops", "peak_gflops", "conv_peak_gflops"]


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


def paired_median_times(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median wall-clock seconds of ``first`` and ``second``, timed alternately after
    one warm-up call of each, so that a change in the machine's load over the run
    weighs on both alike.

    Examples
    --------
    >>> a, b = paired_median_times(lambda: sum(range(10)), lambda: sum(range(20)), 3)
    >>> a >= 0 and b >= 0
    True
    """
    first()
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


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


def _synced(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """``fn`` followed by waiting for the device, so that timings cover the work."""
    if device.type != "cuda":
        return fn

    def run() -> object:
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return run


def peak_gflops(size: int = 2048, repeats: int = 10, device: str = "cpu") -> float:
    """Best float32 ``torch.mm`` throughput of ``size``² matrices over ``repeats`` runs
    after a warm-up, in GFLOP/s.

    The best, not the median: a peak is what the machine can do, and on a shared
    machine other load only ever slows a run down.
    """
    dev = torch.device(device)
    a, b = torch.randn(size, size, device=dev), torch.randn(size, size, device=dev)
    return 2 * size**3 / min(_times(_synced(lambda: torch.mm(a, b), dev), repeats)) / 1e9


def conv_peak_gflops(
    dtype: torch.dtype = torch.float32, repeats: int = 10, device: str = "cpu",
    shapes: tuple[tuple[int, int], ...] = ((128, 8), (64, 16), (32, 32)),
) -> float:
    """Best throughput of a 64 → 64-channel 3×3 convolution on channels-last images,
    in GFLOP/s: the best over ``repeats`` runs of each (batch, side) in ``shapes``
    (ResNet-20's widest layers run on 8 × 8 maps).

    Examples
    --------
    >>> conv_peak_gflops(repeats=1, shapes=((2, 8),)) > 0
    True
    """
    dev = torch.device(device)
    best = 0.0
    with torch.no_grad():
        for batch, side in shapes:
            x = torch.randn(batch, 64, side, side, device=dev).to(dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            w = torch.randn(64, 64, 3, 3, device=dev).to(dtype).contiguous(memory_format=torch.channels_last)
            run = _synced(lambda: nn.functional.conv2d(x, w, padding=1), dev)
            flops = 2 * 64 * 64 * 9 * batch * side * side
            best = max(best, flops / min(_times(run, repeats)) / 1e9)
    return best
