"""First-layer reuse: the first layer's output at any point of a path from the anchors'.

Every point is θ_p = Σ_k C[p, k]·θ_k. A first layer that is linear in its parameters
(``nn.Linear``, ``nn.Conv1d/2d/3d``) and whose input u does not depend on any parameter
therefore has the pre-activation z_p = W_p u + b_p = Σ_k C[p, k]·(W_k u + b_k) at every
point. :class:`Reuse` computes the anchors' outputs W_k u + b_k once per data batch,
combines them per point, and makes the layer return the combination, so only the rest
of the network runs per point.

:func:`find` decides whether that is exact for a model, and says why not otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from landscapes.anchors import Anchor, is_interpolated
from landscapes.engine.batchnorm import eval_mode
from landscapes.engine.tied import merge_tied, tied_groups

__all__ = ["Reuse", "combine", "find"]

#: Layers whose output is linear in (weight, bias) for any input.
REUSABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Stop(Exception):
    """Raised by the capture hook to skip the rest of the network."""


def _stateful(net: nn.Module) -> list[tuple[str, nn.Module]]:
    # Leaves only: a container's own parameters, if it uses them before its first
    # layer, show up as an input that depends on the parameters.
    return [
        (name, m)
        for name, m in net.named_modules()
        if next(m.children(), None) is None
        and (
            next(m.parameters(recurse=False), None) is not None
            or next(m.buffers(recurse=False), None) is not None
        )
    ]


def _trace(net: nn.Module, params: Anchor, x: torch.Tensor, stop: bool) -> list[tuple[str, Any]]:
    """Calls of parametrised modules in execution order, with their arguments."""
    calls: list[tuple[str, Any]] = []

    def hook(name: str) -> Any:
        def record(module: nn.Module, args: tuple, kwargs: dict) -> None:
            calls.append((name, (args, kwargs)))
            if stop:
                raise _Stop

        return record

    handles = [
        m.register_forward_pre_hook(hook(name), with_kwargs=True) for name, m in _stateful(net)
    ]
    try:
        with eval_mode(net), torch.no_grad(), contextlib.suppress(_Stop):
            functional_call(net, params, (x,), strict=False)
    finally:
        for h in handles:
            h.remove()
    return calls


def find(net: nn.Module, anchors: Sequence[Anchor], x: torch.Tensor) -> tuple[str | None, str]:
    """The name of the first layer whose output can be combined from the anchors'.

    Returns ``(name, "")`` when reuse is exact, else ``(None, reason)``.
    """
    first = anchors[0]
    calls = _trace(net, first, x, stop=False)
    if not calls:
        return None, "no module with parameters or buffers runs"
    name, (args, kwargs) = calls[0]
    module = net.get_submodule(name)
    label = name or type(net).__name__
    if type(module) not in REUSABLE:
        return None, (
            f"the first layer {label!r} is a {type(module).__name__}, not one of "
            f"{[t.__name__ for t in REUSABLE]}"
        )
    if module._forward_hooks or module._forward_pre_hooks or "forward" in vars(module):
        return None, f"the first layer {label!r} has hooks or a patched forward"
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        return None, f"the first layer {label!r} is called with other than one tensor"
    count = sum(1 for n, _ in calls if n == name)
    if count != 1:
        return None, f"the first layer {label!r} runs {count} times per forward pass"
    prefix = f"{name}." if name else ""
    groups = tied_groups(net)
    for key in (prefix + "weight", prefix + "bias"):
        if getattr(module, key[len(prefix) :]) is None:
            continue
        tied = [g for g in groups if key in g]
        if tied:
            # The points would leave the tensor out, and its other uses with it.
            return None, f"{key!r} is tied to {[k for k in tied[0] if k != key]!r}"
        if key not in first or not is_interpolated(first[key]):
            return None, f"{key!r} is not a floating-point entry of the path"
    # The input must not depend on any parameter: perturb them all and compare.
    state = merge_tied(net.state_dict(), groups, "the model")
    perturbed = {k: v * 1.5 + 0.25 if v.is_floating_point() else v for k, v in {**state, **first}.items()}
    again = _trace(net, perturbed, x, stop=True)
    if not again or again[0][0] != name or not torch.equal(again[0][1][0][0], args[0]):
        return None, f"the input of the first layer {label!r} depends on the parameters"
    return name, ""


def combine(coef: torch.Tensor, terms: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """Σ_k C[:, k]·t_k with a leading point dimension, skipping ``None`` terms.

    Elementwise in a fixed order, so that each point's values are the same whichever
    other points share its chunk (a matrix product would not promise that); one pass
    over the output per term, accumulated in place. A path of two anchors whose
    coefficients sum to one (a line, θ(α) = (1−α)·θ_0 + α·θ_1) takes a single pass,
    ``torch.lerp``. That shortcut is chosen from the number of anchors, not from the
    terms left after skipping: a chunk of a path with more anchors (the rows of one
    start iteration of :func:`landscapes.paths.from_iterations`) has two live terms,
    and must still sum them as the whole path does, so that evaluating a path in
    pieces gives every point the same bits.
    """
    live = [k for k, t in enumerate(terms) if t is not None]
    if not live:
        raise ValueError("no anchor has a nonzero coefficient")
    if (len(terms) == 2 and len(live) == 2
            and all(terms[k].dtype == coef.dtype for k in live)):  # type: ignore[union-attr]
        # (under autocast the terms may be bf16: lerp would round α to bf16 too)
        i, j = live
        eps = torch.finfo(coef.dtype).eps
        if float((coef[:, i] + coef[:, j] - 1).abs().max()) <= 4 * eps:
            t_i, t_j = terms[i], terms[j]
            return torch.lerp(t_i, t_j, coef[:, j].reshape((-1,) + (1,) * t_j.dim()))  # type: ignore[union-attr]
    out: torch.Tensor | None = None
    for k in live:
        t = terms[k]
        c = coef[:, k].reshape((-1,) + (1,) * t.dim())  # type: ignore[union-attr]
        out = c * t if out is None else out.addcmul_(c, t)
    return out  # type: ignore[return-value]


@dataclass
class Reuse:
    """Combine the first layer's output per point from the anchors' outputs.

    Parameters
    ----------
    net : torch.nn.Module
        The model; its first layer's ``forward`` is replaced only inside
        :meth:`installed`.
    name : str
        The first layer, as found by :func:`find`.
    anchors : sequence of dict
        The path's anchors, on the evaluation device.
    """

    net: nn.Module
    name: str
    anchors: Sequence[Anchor]

    def __post_init__(self) -> None:
        self.layer = self.net.get_submodule(self.name)
        prefix = f"{self.name}." if self.name else ""
        self.keys = [prefix + "weight"] + ([prefix + "bias"] if self.layer.bias is not None else [])
        self._z: torch.Tensor | None = None
        self._u: torch.Tensor | None = None
        self._capturing = False

    def _anchor_output(self, u: torch.Tensor, k: int) -> torch.Tensor:
        weight = self.anchors[k][self.keys[0]]
        bias = self.anchors[k][self.keys[1]] if len(self.keys) > 1 else None
        if isinstance(self.layer, nn.Linear):
            return nn.functional.linear(u, weight, bias)
        return self.layer._conv_forward(u, weight, bias)  # type: ignore[operator]

    def outputs(self, x: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor | None]:
        """W_k u + b_k for the anchors in ``active`` (``None`` for the others)."""
        self._capturing = True
        try:
            with contextlib.suppress(_Stop):
                self.net(x)
        finally:
            self._capturing = False
        u, self._u = self._u, None
        return [self._anchor_output(u, k) if k in active else None for k in range(len(self.anchors))]

    def set(self, z: torch.Tensor | None) -> None:
        """The output the layer returns from now on (one point's, under vmap); with
        ``None`` the layer computes its own output again."""
        self._z = z

    def _capture(self, module: nn.Module, args: tuple) -> None:
        if self._capturing:
            self._u = args[0]
            raise _Stop

    def _forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self._z is None:  # a plain call, e.g. at the reference network
            return type(self.layer).forward(self.layer, *args, **kwargs)
        return self._z

    @contextlib.contextmanager
    def installed(self) -> Iterator[Reuse]:
        """Replace the layer's forward for the duration; restore it on any exit."""
        handle = self.layer.register_forward_pre_hook(self._capture)
        self.layer.forward = self._forward  # type: ignore[method-assign]
        try:
            yield self
        finally:
            del self.layer.forward
            handle.remove()
            self._z = self._u = None
