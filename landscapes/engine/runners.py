"""Forward passes for a chunk of points at once.

A chunk's parameters are stacked along a leading point dimension (one tensor
contraction per entry) and the model runs once per data batch for all of them under
:func:`torch.vmap` of :func:`torch.func.functional_call`; with first-layer reuse the
first layer's output is combined from the anchors' (see :mod:`landscapes.engine.first_layer`).
:class:`Looped` is the plain per-point fallback with the same interface.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.utils import _pytree as pytree

from landscapes.engine import measures
from landscapes.engine.first_layer import Reuse, combine
from landscapes.engine.fusion import finite_points, onednn_active
from landscapes.anchors import Anchor, is_interpolated

__all__ = ["Chunk", "Batched", "Looped", "Runner", "points", "stack_anchors"]

logger = logging.getLogger("landscapes.engine")


def stack_anchors(anchors: Sequence[Anchor]) -> tuple[dict[str, torch.Tensor], Anchor]:
    """Floating-point entries stacked along a leading anchor dimension, and the others
    (integer buffers such as ``num_batches_tracked``, carried from the first anchor)."""
    stacked = {k: torch.stack([a[k] for a in anchors]) for k, v in anchors[0].items() if is_interpolated(v)}
    fixed = {k: v for k, v in anchors[0].items() if not is_interpolated(v)}
    return stacked, fixed


def points(outputs: Any) -> Sequence[Any]:
    """A runner's outputs point by point: a list as it is, a stacked tensor or a
    stacked dict or tuple (what a model returns, under vmap) split along its
    leading point dimension."""
    if isinstance(outputs, (list, torch.Tensor)):
        return outputs
    leaves, spec = pytree.tree_flatten(outputs)
    return [pytree.tree_unflatten([leaf[i] for leaf in leaves], spec) for i in range(len(leaves[0]))]


@dataclass
class Chunk:
    """The points of one chunk: stacked parameters ``params`` (leading dimension P),
    entries shared by all of them ``shared``, and their coefficient rows."""

    params: dict[str, torch.Tensor]
    shared: dict[str, torch.Tensor]
    coef: torch.Tensor

    def __len__(self) -> int:
        return self.coef.shape[0]

    @classmethod
    def build(
        cls,
        stacked: dict[str, torch.Tensor],
        fixed: Anchor,
        coefficients: np.ndarray,
        skip: Sequence[str] = (),
    ) -> Chunk:
        """Form the chunk's points θ_p = Σ_k C[p, k]·θ_k, leaving out the ``skip`` entries."""
        ref = next(iter(stacked.values()))
        coef = torch.tensor(np.asarray(coefficients, dtype=np.float64), dtype=ref.dtype, device=ref.device)
        params = {k: combine(coef, list(v)) for k, v in stacked.items() if k not in skip}
        return cls(params, dict(fixed), coef)

    @classmethod
    def from_points(cls, points: Sequence[Anchor], coef: torch.Tensor) -> Chunk:
        """Stack per-point dictionaries (integer entries come from the first point)."""
        first = points[0]
        params = {k: torch.stack([p[k] for p in points]) for k, v in first.items() if is_interpolated(v)}
        shared = {k: v for k, v in first.items() if not is_interpolated(v)}
        return cls(params, shared, coef)

    def point(self, i: int) -> Anchor:
        """One point's entries, as ``functional_call`` takes them."""
        return {**{k: v[i] for k, v in self.params.items()}, **self.shared}


class Batched:
    """All points of a chunk in one vmapped forward pass per data batch.

    ``read`` takes the model's output to the tensor the measures receive (see
    :mod:`landscapes.engine.outputs`); ``None`` hands over what the model returns (a
    tensor, or the dict or tuple the user's own measures receive: :attr:`raw`).
    """

    def __init__(
        self, net: nn.Module, reuse: Reuse | None, read: Callable[[Any], torch.Tensor] | None = None
    ) -> None:
        self.net = net
        self.reuse = reuse
        self.read = read
        self.vmap_measures = True
        #: Whether inputs go in channels-last layout (see :meth:`place`).
        self.channels_last = False
        #: The model with batch norm folded into its convolutions, for evaluation
        #: passes (see :mod:`landscapes.engine.fusion`); ``None``: the model itself.
        self.fused: nn.Module | None = None
        #: Whether :meth:`forward` gives what the model returns, not a tensor read from it.
        self.raw = False

    def place(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the memory layout this runner was found fastest with."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @property
    def skipped(self) -> list[str]:
        """Entries the points need not carry: the reused first layer's."""
        return [] if self.reuse is None else self.reuse.keys

    def prepare(self, x: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor | None] | None:
        """Per data batch, whatever every chunk shares: the anchors' first-layer outputs."""
        return None if self.reuse is None else self.reuse.outputs(x, active)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """First-layer reuse in place for the duration (a no-op without it)."""
        if self.reuse is None:
            yield
        else:
            with self.reuse.installed():
                yield

    def evaluated(self, fused: bool) -> nn.Module:
        """The module to run: the fused one where allowed and found, else the model
        (while batch norm gathers statistics, folding does not apply)."""
        return self.fused if fused and self.fused is not None else self.net

    def forward(
        self,
        chunk: Chunk,
        x: torch.Tensor,
        prepared: list[torch.Tensor | None] | None,
        fused: bool = True,
    ) -> torch.Tensor:
        """Outputs at every point of the chunk, shape ``(P, *outputs)``; ``prepared``
        comes from :meth:`prepare` on the same ``x``; ``fused=False`` runs the model
        itself even where :attr:`fused` is set."""
        # (oneDNN's fused ReLU runs only point by point: Looped.forward guards it.)
        net, shared, reuse, read = self.evaluated(fused), chunk.shared, self.reuse, self.read

        def call(p: dict[str, torch.Tensor]) -> torch.Tensor:
            # Traced once per chunk under vmap: reading here stacks only the chosen tensor.
            out = functional_call(net, {**p, **shared}, (x,), strict=False)
            return out if read is None else read(out)

        if reuse is None or prepared is None:
            return torch.vmap(call)(chunk.params)
        z = combine(chunk.coef, prepared)

        def one(p: dict[str, torch.Tensor], zp: torch.Tensor) -> torch.Tensor:
            reuse.set(zp)
            return call(p)

        try:
            return torch.vmap(one)(chunk.params, z)
        finally:
            reuse.set(None)

    def rows(
        self,
        m: measures.Measures,
        outputs: Any,
        y: torch.Tensor,
        ref_out: torch.Tensor | None,
    ) -> torch.Tensor:
        """Every point's measure row, vmapped where the measures allow it."""
        if self.vmap_measures and not isinstance(outputs, list):
            try:
                return torch.vmap(lambda o: measures.row(m, o, y, ref_out))(outputs)
            except Exception as exc:  # noqa: BLE001 -- a user metric vmap cannot run: loop
                logger.debug("measures run per point: vmap failed with %r", exc)
                self.vmap_measures = False
        return torch.stack([measures.row(m, o, y, ref_out) for o in points(outputs)])


class Looped(Batched):
    """One ``functional_call`` per point and batch, with first-layer reuse if given.

    The fallback where vmap cannot run a model, and the faster choice where vmap
    would turn every later convolution into a grouped one (on CPU).
    """

    def __init__(
        self, net: nn.Module, reuse: Reuse | None = None, read: Callable[[Any], torch.Tensor] | None = None
    ) -> None:
        super().__init__(net, reuse, read)
        self.vmap_measures = False

    def forward(  # type: ignore[override]
        self,
        chunk: Chunk,
        x: torch.Tensor,
        prepared: list[torch.Tensor | None] | None,
        fused: bool = True,
    ) -> list[torch.Tensor]:
        # oneDNN's fused ReLU needs points that put no NaN into the activations
        nets = [self.evaluated(fused)] * len(chunk)
        if fused and self.fused is not None and onednn_active(self.fused, x):
            oks = finite_points(chunk.params) or [True] * len(chunk)
            nets = [self.evaluated(ok) for ok in oks]
        reuse, read = self.reuse, self.read
        if reuse is None or prepared is None:
            if read is None:  # the hot path of plain tensor outputs: nothing added per point
                return [functional_call(nets[i], chunk.point(i), (x,), strict=False) for i in range(len(chunk))]
            return [read(functional_call(nets[i], chunk.point(i), (x,), strict=False)) for i in range(len(chunk))]
        z = combine(chunk.coef, prepared)
        outputs = []
        try:
            for i in range(len(chunk)):
                reuse.set(z[i])
                out = functional_call(nets[i], chunk.point(i), (x,), strict=False)
                outputs.append(out if read is None else read(out))
        finally:
            reuse.set(None)
        return outputs


Runner = Batched | Looped
