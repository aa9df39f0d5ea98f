"""How much memory :func:`landscapes.evaluate` may use, and the chunk that fits in it.

The engine evaluates P points at once on batches of n examples. Its working memory
is about P·(q + n·e) + n·s bytes, with q the bytes of one point's parameters, e the
activation bytes one example needs at one point, and s the bytes per example shared
by every point (the anchors' first-layer outputs, the inputs). :func:`plan` picks n,
then P, from a budget; :func:`default_budget` sizes
that budget to the device.
"""

from __future__ import annotations

import os

import torch

__all__ = ["CPU_BUDGET", "CUDA_FRACTION", "default_budget", "plan"]

#: Default budget on CPU, in bytes. Small enough that a chunk's activations stay in
#: the processor's last-level cache or close to it.
CPU_BUDGET = 128 * 2**20
#: Share of the free GPU memory the default budget takes.
CUDA_FRACTION = 0.5


def _available_ram() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_budget(device: torch.device) -> int:
    """The default memory budget in bytes for evaluating on ``device``.

    On CUDA, :data:`CUDA_FRACTION` of the memory free now; elsewhere
    :data:`CPU_BUDGET`, or a quarter of the available RAM if that is less.

    Examples
    --------
    >>> import torch
    >>> 0 < default_budget(torch.device("cpu")) <= CPU_BUDGET
    True
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CUDA_FRACTION)
    ram = _available_ram()
    return CPU_BUDGET if ram is None else max(1, min(CPU_BUDGET, ram // 4))


def plan(
    budget: int,
    n_points: int,
    batch: int,
    point_bytes: int,
    example_bytes: int,
    shared_bytes: int = 0,
) -> tuple[int, int]:
    """Points per chunk and examples per forward pass that fit in ``budget`` bytes.

    Examples come first, up to the whole batch: each point's layers then run as
    matrix products over many examples, which reach the processor's throughput, and
    the calls per sweep stay few. Points fill the rest of the budget. (Giving points
    priority instead left a 625-point plane with 32 examples per pass, several times
    slower on CPU.)

    Parameters
    ----------
    budget : int
        Bytes available.
    n_points : int
        Points on the path (the most a chunk can hold).
    batch : int
        Examples per data batch.
    point_bytes : int
        q, the bytes of one point's parameters.
    example_bytes : int
        e, the activation bytes of one example at one point.
    shared_bytes : int
        s, the bytes per example shared by all points of a chunk.

    Returns
    -------
    points : int
        P, at least 1 and at most ``n_points``.
    examples : int
        n, at least 1 and at most ``batch``: batches are split into pieces of n
        examples. An explicit chunk size replaces P but keeps n, so results do not
        depend on the chunk size.

    Examples
    --------
    >>> plan(budget=100_000, n_points=100, batch=10, point_bytes=100, example_bytes=90)
    (100, 10)
    >>> plan(budget=100_000, n_points=100, batch=1000, point_bytes=100, example_bytes=90)
    (1, 1000)
    >>> plan(budget=100_000, n_points=100, batch=1000, point_bytes=100, example_bytes=900)
    (1, 111)
    """
    examples = max(1, min(batch, (budget - point_bytes) // max(example_bytes + shared_bytes, 1)))
    fits = (budget - examples * shared_bytes) // max(point_bytes + examples * example_bytes, 1)
    return int(max(1, min(n_points, fits))), int(examples)
