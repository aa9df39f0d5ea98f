"""Keep, across :func:`landscapes.evaluate` calls, what depends only on the model,
the path's anchors and the data.

Every call probes the model to choose how to run it, copies it to the device,
stacks the anchors, and (with first-layer reuse) computes the anchors' first-layer
outputs on every data batch. For LeNet-300-100 on the MNIST test set that is most
of a call's fixed cost: the anchors' outputs are two points' worth of the first
layer, which holds 88% of the network's arithmetic. Searches that evaluate a few
points at a time on the same line (:func:`landscapes.refine.refine_line`) pay it on
every call; inside :func:`session` they pay it once.

Entries are keyed by the identity of the model, the anchors (a
:class:`~landscapes.paths.Path`'s own copies, so derive later paths from the first
with :meth:`~landscapes.paths.Path.resampled`) and the data tensors, together with
their in-place version counters, so a tensor modified in place is not served stale.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

__all__ = ["Session", "session", "current", "tensor_bytes", "version"]

T = TypeVar("T")

#: Default cap on the bytes of cached tensors (the anchors' first-layer outputs).
DEFAULT_MEMORY = 512 * 2**20

_CURRENT: contextvars.ContextVar[Session | None] = contextvars.ContextVar("landscapes_session", default=None)


class Session:
    """A cache of engine state for the duration of :func:`session`.

    Parameters
    ----------
    memory : int
        Bytes of cached tensors to keep at most; later entries past it are computed
        but not kept.
    """

    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        self.memory = memory
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._store: dict[tuple, Any] = {}
        # Objects whose ids appear in keys, held so that no id is reused meanwhile.
        self._held: dict[int, object] = {}

    def get(
        self,
        key: tuple,
        make: Callable[[], T],
        keep: Sequence[object] = (),
        size: Callable[[T], int] | None = None,
    ) -> T:
        """The value stored under ``key``, made by ``make()`` the first time.

        ``keep`` are the objects whose identities ``key`` names; ``size`` gives the
        bytes a value occupies (counted against :attr:`memory`).
        """
        if key in self._store:
            self.hits += 1
            return self._store[key]  # type: ignore[no-any-return]
        self.misses += 1
        value = make()
        nbytes = size(value) if size is not None else 0
        if self.used + nbytes <= self.memory:
            self._store[key] = value
            self.used += nbytes
            for obj in keep:
                self._held[id(obj)] = obj
        return value

    def clear(self) -> None:
        """Drop every entry."""
        self._store.clear()
        self._held.clear()
        self.used = 0


@contextlib.contextmanager
def session(memory: int = DEFAULT_MEMORY) -> Iterator[Session]:
    """Reuse engine state across :func:`landscapes.evaluate` calls in this block.

    Inside the block, calls on the same model, anchors and data tensors skip the
    probes and the model copy, and reuse the anchors' first-layer outputs per data
    batch (for ``(inputs, targets)`` tensor pairs, whose batches are known to repeat;
    up to ``memory`` bytes of them). Results are the same as without it.

    Parameters
    ----------
    memory : int
        Cap on the bytes of cached first-layer outputs.

    Examples
    --------
    >>> import torch
    >>> from landscapes import evaluate, paths
    >>> from landscapes.engine import session
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> a = {k: v.clone() for k, v in net.state_dict().items()}
    >>> b = {k: v + 1 for k, v in a.items()}
    >>> data = (torch.randn(32, 4), torch.randint(0, 3, (32,)))
    >>> line = paths.linear(a, b, [0.0, 1.0])
    >>> with session() as s:
    ...     first = evaluate(net, line, data, device="cpu")
    ...     again = evaluate(net, line.resampled(alpha=[0.25, 0.5]), data, device="cpu")
    >>> s.hits > 0
    True
    """
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < 0:
        raise ValueError(f"memory must be a number of bytes >= 0, got {memory!r}")
    s = Session(memory)
    token = _CURRENT.set(s)
    try:
        yield s
    finally:
        _CURRENT.reset(token)
        s.clear()


def current() -> Session | None:
    """The session of the enclosing :func:`session` block, if any."""
    return _CURRENT.get()


def tensor_bytes(value: Any) -> int:
    """Bytes of the tensors in ``value`` (a tensor or a list or tuple of them)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def version(model: nn.Module) -> int:
    """Sum of the in-place version counters of ``model``'s tensors: it changes when
    any of them is modified in place."""
    return sum(t._version for t in model.parameters()) + sum(t._version for t in model.buffers())
