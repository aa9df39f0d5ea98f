"""Which torch device, and how many CPU threads, to run on; small on purpose, so training
can pick them without the engine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

__all__ = ["resolve_device", "resolve_threads", "using_threads"]


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into CUDA when present, else CPU; check explicit choices.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return dev


def resolve_threads(requested: int | None = None) -> int:
    """CPU threads for torch's operations: ``requested``, or a default for a shared machine.

    The default leaves one of the CPUs this process may use to everything else (at
    least one thread), and never exceeds the count the process already set
    (``OMP_NUM_THREADS``, :func:`torch.set_num_threads`). Torch's own default, one
    thread per core, waits at every operation for its slowest thread; when another
    process holds a core, that thread is descheduled and all of them wait. On the
    2-core machine this project is built on, LeNet-300-100 trained several times slower
    with 2 threads than with 1 as soon as one other process ran, while 1 thread lost
    little when the machine was idle (``python -m benchmarks.training`` measures both).
    The default depends only on the machine, never on its load, because float32
    results depend on the thread count (MKL and oneDNN split their sums by thread; on
    LeNet-300-100 the weights differ by ~1e-8 after 16 iterations): the same request on
    the same machine gives the same numbers.

    Examples
    --------
    >>> resolve_threads(3)
    3
    >>> resolve_threads() >= 1
    True
    >>> resolve_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: threads must be an integer ≥ 1, got 0
    """
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise ValueError(f"threads must be an integer ≥ 1, got {requested!r}")
        return requested
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable - 1, torch.get_num_threads()))


@contextlib.contextmanager
def using_threads(threads: int) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads, then restore the previous count.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with using_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
