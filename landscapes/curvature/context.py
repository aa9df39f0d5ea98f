"""A :class:`~landscapes.engine.point_measures.PointContext` for one point, built here.

The engine builds one per point of a path; the public functions of
:mod:`landscapes.curvature` measure at a single point (a state dict, default the
model's own weights) and build it themselves, with the same conventions as
:func:`landscapes.evaluate`: data in any form it accepts, inputs on the device in the
model's (or the asked) dtype, tied tensors once, batch norm's statistics interpolated
(the point's own) or recomputed over training batches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from landscapes.anchors import as_anchor
from landscapes.devices import resolve_device
from landscapes.engine.batches import Batches, as_batches
from landscapes.engine.batchnorm import has_batchnorm, recompute_statistics
from landscapes.engine.measures import loss_reader
from landscapes.engine.outputs import Output, check_output
from landscapes.engine.point_measures import PointContext
from landscapes.engine.tied import tied_groups

__all__ = ["BN_CHOICES", "DTYPES", "point_context", "check_model"]

#: Allowed ``bn`` values of the curvature functions.
BN_CHOICES = ("interpolate", "recompute", "train")
#: Allowed ``dtype`` values (``None``: the model's).
DTYPES = (None, torch.float32, torch.float64)


class _Placed:
    """Batches on the device, floating-point inputs (and targets) in the dtype."""

    def __init__(self, batches: Batches, device: torch.device, dtype: torch.dtype) -> None:
        self.batches, self.device, self.dtype = batches, device, dtype

    def _to(self, t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        if t.is_floating_point():
            return t.to(self.device, self.dtype)
        return t.to(self.device)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return ((self._to(x), self._to(y)) for x, y in self.batches)


def check_model(model: Any) -> None:
    """Raise ``TypeError`` unless ``model`` is a module."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _dtype_of(model: nn.Module, dtype: Any) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from [None, torch.float32, torch.float64]")
    if dtype is not None:
        return dtype
    kinds = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if len(kinds) != 1:
        raise ValueError(
            f"the model's parameters mix dtypes {sorted(map(str, kinds))!r}; pass dtype=torch.float32 "
            "or torch.float64"
        )
    return kinds.pop()


def point_context(
    model: nn.Module,
    data: Any,
    *,
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Output = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
    seed: int = 0,
) -> PointContext:
    """The context of one point, checked, for the measures of :mod:`landscapes.curvature`.

    Parameters are those of :func:`landscapes.curvature.eigenvalues`. ``bn="train"``
    gives the point's statistics unchanged (the train-mode objective does not read
    them). Raises one clear error for input that does not fit.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 2)
    >>> ctx = point_context(net, (torch.randn(8, 3), torch.randint(0, 2, (8,))), device="cpu")
    >>> sorted(ctx.state), ctx.bn
    (['bias', 'weight'], 'interpolate')
    """
    check_model(model)
    if bn not in BN_CHOICES:
        raise ValueError(f"unknown bn {bn!r}; choose from {list(BN_CHOICES)}")
    check_output(output)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(outputs, targets), got {loss_fn!r}")
    if getattr(loss_fn, "reduction", "mean") not in ("mean", "sum"):
        raise ValueError(
            f"loss_fn has reduction={loss_fn.reduction!r}; use 'mean' (or 'sum') so each batch gives one number"
        )
    if isinstance(bn_batches, bool) or not isinstance(bn_batches, int) or bn_batches < 1:
        raise ValueError(f"bn_batches must be a positive integer, got {bn_batches!r}")
    if isinstance(data, Mapping):
        raise TypeError(
            f"data is a dict of splits {list(data)!r}; the curvature functions measure one split: "
            "pass data['train'] (or another)"
        )
    dt = _dtype_of(model, dtype)
    dev = resolve_device(device)
    own = model.state_dict(keep_vars=False)
    given = own if point is None else as_anchor(point, "point")
    for key, value in given.items():
        if key not in own:
            raise ValueError(f"point tensor {key!r} is not in the model's state_dict; it has {sorted(own)[:8]!r}")
        if tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(
                f"point tensor {key!r} has shape {tuple(value.shape)!r} but the model's has {tuple(own[key].shape)!r}"
            )
    tied = tied_groups(model)
    state = {k: v.detach() for k, v in own.items()}
    state.update(given)
    for group in tied:  # the first name's value stands for every name of a tied tensor
        present = [n for n in group if n in given]
        if present:
            for n in group:
                state[n] = given[present[0]]
    state = {
        k: v.to(dev, dt) if v.is_floating_point() else v.to(dev)
        for k, v in state.items()
    }
    for group in tied:  # one tensor again after the copies
        for n in group[1:]:
            state[n] = state[group[0]]
    net = model
    if any(t.device != dev for t in list(model.parameters()) + list(model.buffers())):
        net = copy.deepcopy(model).to(dev)
    batches = as_batches(data, batch_size)
    placed = _Placed(batches, dev, dt)
    if bn == "recompute" and has_batchnorm(model):
        source = _Placed(as_batches(bn_data, batch_size, "bn_data"), dev, dt) if bn_data is not None else placed
        floats = {k: v for k, v in state.items()}
        state = recompute_statistics(net, floats, source, bn_batches, dev)
    return PointContext(
        model=net,
        state=state,
        batches=placed,
        loss_fn=loss_fn,
        read_output=loss_reader(loss_fn, output),
        bn=bn if bn != "train" else "interpolate",
        tied=tied,
        index=(),
        split=None,
        seed=seed,
        device=dev,
    )
