"""The seam for measures at points of a path that need the parameters, not only outputs.

:func:`landscapes.evaluate`'s ``metrics=`` see ``(outputs, targets)`` of a batch; a
Hessian-vector product, a gradient norm or a sharpness estimate needs the network's
parameters at the point and every batch of the data. A :class:`PointMeasure` is that
kind of measure: the engine puts each point of a path into a :class:`PointContext`
(the full state at the point, with batch norm's statistics chosen by ``bn``, the data
as re-iterable batches on the device) and calls :meth:`PointMeasure.measure` once per
point and split. What it returns becomes variables of the result, over the path's
dimensions (and ``split``) plus the measure's own (an ``eigen`` index, a density grid).

Measures are plain, picklable objects (frozen dataclasses): the executor ships them to
Dask workers like any other option of an evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn

__all__ = ["PointContext", "PointMeasure", "Variable", "OnExamples", "FirstExamples"]


@dataclass(frozen=True)
class Variable:
    """One variable a measure writes: its extra dimensions and attributes.

    Attributes
    ----------
    dims : tuple of str
        Dimensions besides the path's (and ``split``), e.g. ``("eigen",)``; ``()`` for
        one number per point.
    attrs : dict
        netCDF attributes (``long_name``, ``units``, how it was estimated).
    """

    dims: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PointContext:
    """Everything a measure may read at one point of a path, for one split.

    Attributes
    ----------
    model : torch.nn.Module
        The network on the device, in eval mode unless the measure asks otherwise;
        its own tensors are not the point's: use ``state`` with
        :func:`torch.func.functional_call`.
    state : dict of str to torch.Tensor
        The full state at the point (every parameter and buffer, tied names
        included), batch-norm statistics as ``bn`` chose them.
    batches : iterable of (inputs, targets)
        The split's data, re-iterable, on the device and in the model's dtype; the
        measure sums over every batch itself (a full-data quantity, not a minibatch's).
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean over the batch (or the sum,
        if it has ``reduction="sum"``); outputs as ``read_output`` gives them.
    read_output : callable
        Turns the model's raw output into what ``loss_fn`` takes: the tensor
        ``output=`` reads for the built-in loss and torch's own, what the model returns
        for a loss of the user's (:func:`landscapes.engine.measures.loss_reader`).
    bn : str
        ``"interpolate"`` or ``"recompute"``: how ``state``'s statistics were made.
    tied : list of tuple of str
        Groups of state-dict names that are one tensor in the module.
    index : tuple of int
        The point's index in the path's dimensions.
    split : str or None
        The split's name, when the data was a dict of splits.
    seed : int
        A seed derived from the measure's own seed and ``index`` (same seed, same
        numbers, whichever process evaluates the point).
    device : torch.device
    """

    model: nn.Module
    state: dict[str, torch.Tensor]
    batches: Iterable[tuple[Any, Any]]
    loss_fn: Callable[[Any, Any], Any]
    read_output: Callable[[Any], Any]
    bn: str
    tied: list[tuple[str, ...]]
    index: tuple[int, ...]
    split: str | None
    seed: int
    device: torch.device


@runtime_checkable
class PointMeasure(Protocol):
    """A measure at each point of a path that needs the parameters (see the module).

    Implementations are frozen dataclasses whose fields are their settings (``k``,
    ``seed``, tolerances), so they pickle to workers and their ``repr`` is recorded in
    the result's hyperparameters.
    """

    #: Short name, used as the prefix of its variables' names where they clash.
    name: str

    def variables(self) -> dict[str, Variable]:
        """The variables :meth:`measure` returns, with their extra dimensions."""

    def coords(self) -> dict[str, Any]:
        """Coordinates of the extra dimensions (``{"eigen": [0, 1, 2]}``)."""

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        """Each variable's value at ``point``, shaped as its extra dimensions."""


@dataclass(frozen=True)
class OnExamples:
    """A point measure on the first ``examples`` examples of each split.

    A measure that sums over every batch (a Hessian's products) costs in proportion to
    the examples; this one sees only the first ``examples`` of each split, the same
    ones at every point and in every process, so it measures one objective. ``None``:
    every example.
    """

    inner: Any
    examples: int | None

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def seed(self) -> int:
        return int(getattr(self.inner, "seed", 0))

    def variables(self) -> dict[str, Variable]:
        return self.inner.variables()

    def coords(self) -> dict[str, Any]:
        return self.inner.coords()

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        if self.examples is not None:
            point = dataclasses.replace(point, batches=FirstExamples(point.batches,
                                                                     self.examples))
        return self.inner.measure(point)


class FirstExamples:
    """The first ``n`` examples of re-iterable batches, as re-iterable batches."""

    def __init__(self, batches: Iterable[tuple[Any, Any]], n: int) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        left = self.n
        for x, y in self.batches:
            if left <= 0:
                return
            size = len(y)
            if size > left:
                x, y = _head(x, left), _head(y, left)
                size = left
            left -= size
            yield x, y


def _head(t: Any, n: int) -> Any:
    if isinstance(t, (tuple, list)):
        return type(t)(_head(u, n) for u in t)
    if isinstance(t, dict):
        return {k: _head(v, n) for k, v in t.items()}
    return t[:n]
