"""The full-data loss at one point as a function of the parameters only.

The curvature measures differentiate L(θ) = (1/N) Σ_b n_b · L_b(θ), the mean loss over
every example of the data (each batch's mean weighted by its size, as
:func:`landscapes.evaluate` weights it), with respect to the module's trainable
parameters θ: buffers (batch norm's running statistics) and integer entries are held
at the point's values. A tied tensor (one parameter under two names) is one block of
θ, under its first name, and ``functional_call`` feeds it to every use.

Batch norm comes in two objectives:

- ``"eval"`` (``bn="interpolate"`` or ``"recompute"``): every module in eval mode, so
  batch norm normalises with the point's running statistics and L is a sum of
  per-example losses;
- ``"train"`` (``bn="train"``): batch norm normalises each batch with its own
  statistics (the objective training minimises; it depends on the batch size),
  dropout and every other module still in eval mode, running statistics untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from landscapes.engine.batchnorm import eval_mode
from landscapes.engine.point_measures import PointContext

__all__ = ["Objective", "OBJECTIVES", "block_groups"]

#: How batch norm enters the differentiated loss (see the module).
OBJECTIVES = ("eval", "train")

#: Above this many bytes of data the batches are read again for every product
#: instead of being kept on the device.
_CACHE_BYTES = 2 << 30


@contextlib.contextmanager
def _train_bn(model: nn.Module) -> Iterator[None]:
    """Batch norm on batch statistics without touching running buffers; the rest in eval."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    tracks = [(m, m.track_running_stats) for m in bns]
    with eval_mode(model):
        try:
            for m in bns:
                m.train()
                # Training mode without tracking passes no running statistics to
                # F.batch_norm, so nothing is written in place under the transforms.
                m.track_running_stats = False
            yield
        finally:
            for m, flag in tracks:
                m.track_running_stats = flag


def block_groups(names: Sequence[str], blocks: Any) -> dict[str, list[str]]:
    """Parameter names grouped into Hessian blocks.

    Parameters
    ----------
    names : sequence of str
        The parameters, in order.
    blocks : None, "layer", or sequence of str
        ``None``: one block of everything (``"all"``); ``"layer"``: one block per
        module (the names' prefix before the last dot); a sequence of module or
        parameter names: one block each, of the parameters under that name.

    Examples
    --------
    >>> block_groups(["0.weight", "0.bias", "2.weight"], "layer")
    {'0': ['0.weight', '0.bias'], '2': ['2.weight']}
    >>> block_groups(["0.weight", "0.bias", "2.weight"], ["0.weight", "2"])
    {'0.weight': ['0.weight'], '2': ['2.weight']}
    """
    if blocks is None:
        return {"all": list(names)}
    if isinstance(blocks, str):
        if blocks != "layer":
            raise ValueError(f"unknown blocks {blocks!r}; choose from [None, 'layer', a list of names]")
        out: dict[str, list[str]] = {}
        for n in names:
            out.setdefault(n.rpartition(".")[0] or n, []).append(n)
        return out
    if not isinstance(blocks, Sequence) or not blocks or not all(isinstance(b, str) for b in blocks):
        raise ValueError(f"blocks must be None, 'layer' or a non-empty list of names, got {blocks!r}")
    out = {}
    for b in blocks:
        members = [n for n in names if n == b or n.startswith(b + ".")]
        if not members:
            raise ValueError(f"block {b!r} names no trainable parameter; the model has {list(names)[:8]!r}")
        out[b] = members
    return out


class Objective:
    """L(θ) over the full data at one point, with θ a flat vector.

    Parameters
    ----------
    point : PointContext
        Model, state, batches, loss and output reader at the point.
    objective : {"eval", "train"}
        How batch norm enters the loss (see the module).
    names : sequence of str, optional
        The parameters θ is made of (a block); default every trainable floating-point
        parameter, each tied tensor once.
    """

    def __init__(self, point: PointContext, objective: str = "eval", names: Sequence[str] | None = None) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose from {list(OBJECTIVES)}")
        self.point = point
        self.objective = objective
        model = point.model
        self.all_names = [
            n for n, p in model.named_parameters() if p.requires_grad and p.is_floating_point()
        ]
        if not self.all_names:
            raise ValueError("the model has no trainable floating-point parameters to differentiate")
        self.names = list(self.all_names if names is None else names)
        others = {n for group in point.tied for n in group[1:]}
        state = {k: v for k, v in point.state.items() if k not in others}
        missing = [n for n in self.names if n not in state]
        if missing:
            raise ValueError(f"the point's state lacks parameter {missing[0]!r}")
        theta = [state[n].detach() for n in self.names]
        self.shapes = [t.shape for t in theta]
        self.sizes = [t.numel() for t in theta]
        self.dtype = theta[0].dtype
        self.device = theta[0].device
        self.theta = torch.cat([t.reshape(-1).to(self.dtype) for t in theta])
        self.fixed = {k: v for k, v in state.items() if k not in set(self.names)}
        self.summed = getattr(point.loss_fn, "reduction", "mean") == "sum"
        self._cached: list[tuple[Any, Any]] | None = None

    @property
    def size(self) -> int:
        """Number of parameters P in θ."""
        return self.theta.numel()

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """The flat vector as a dict of tensors shaped like the parameters."""
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(flat, self.sizes), self.shapes)}

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """A dict shaped like the parameters as one flat vector (tied names read once)."""
        return torch.cat([tensors[n].reshape(-1).to(self.dtype) for n in self.names])

    def context(self) -> contextlib.AbstractContextManager[None]:
        """The module mode the loss is taken in."""
        return _train_bn(self.point.model) if self.objective == "train" else eval_mode(self.point.model)

    def batches(self) -> list[tuple[Any, Any]] | Any:
        """The data's batches, kept on the device when they fit."""
        if self._cached is not None:
            return self._cached
        kept: list[tuple[Any, Any]] = []
        size = 0
        for x, y in self.point.batches:
            size += x.numel() * x.element_size() if isinstance(x, torch.Tensor) else 0
            if size > _CACHE_BYTES:
                return self.point.batches
            kept.append((x, y))
        self._cached = kept
        return kept

    def batch_loss(self, x: Any, y: Any) -> Callable[[torch.Tensor], torch.Tensor]:
        """θ ↦ the loss of one batch, as the loss function reduces it."""
        model, read, loss_fn, fixed = self.point.model, self.point.read_output, self.point.loss_fn, self.fixed

        def f(flat: torch.Tensor) -> torch.Tensor:
            out = functional_call(model, {**fixed, **self.unflatten(flat)}, (x,), strict=False)
            return loss_fn(read(out), y)

        return f

    @staticmethod
    def count(y: Any) -> int:
        """Examples in a batch: the targets' first dimension."""
        return int(y.shape[0]) if isinstance(y, torch.Tensor) and y.dim() else 1

    def weight(self, n: int) -> float:
        """A batch's weight before the division by N (its size for a mean loss)."""
        return 1.0 if self.summed else float(n)
