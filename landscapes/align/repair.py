"""Correcting the variance collapse of interpolated networks (Jordan et al. 2023, "REPAIR").

Interpolating two aligned networks, ``θ_α = (1 - α) θ_a + α θ_b``, averages units that
are only partly correlated, so the hidden activations of ``θ_α`` lose variance layer
after layer and its loss rises: much of the barrier that survives alignment is this
collapse (Jordan, Sedghi, Saukh, Entezari & Neyshabur 2023, §3). Two corrections:

* **reset** — re-estimate every batch-norm layer's running statistics for ``θ_α`` on
  training data (their "RESET"; :func:`reset_batchnorm`); for a network with batch
  norm this is the correction;
* **repair** — rescale each hidden unit so that its pre-activation mean and standard
  deviation on data equal the interpolation of the endpoints',
  ``μ_α^* = (1 - α) μ_a + α μ_b`` and ``σ_α^* = (1 - α) σ_a + α σ_b`` (their eq. 4),
  by ``w ← w σ_α^*/σ_α`` and ``c ← (c - μ_α) σ_α^*/σ_α + μ_α^*`` on the unit's row
  of the layer that makes it, layer after layer in graph order (:func:`repair`).

:func:`correct` applies one of :data:`CORRECTIONS` to a point of the line and is what
barrier analyses call.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from landscapes.align.derive import permutation_spec, trace
from landscapes.align.inputs import input_batches
from landscapes.align.spec import PermutationSpec
from landscapes.engine.batchnorm import eval_mode, has_batchnorm, recompute_statistics

__all__ = ["CORRECTIONS", "interpolate", "reset_batchnorm", "repair", "correct", "unit_statistics"]

#: The corrections :func:`correct` applies to an interpolated network.
CORRECTIONS = ("none", "reset", "repair")

State = dict[str, torch.Tensor]


def interpolate(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], alpha: float
) -> State:
    """``(1 - α) a + α b`` entry by entry; integer entries (batch counters) are ``a``'s.

    Examples
    --------
    >>> interpolate({"w": torch.zeros(2)}, {"w": torch.ones(2)}, 0.25)
    {'w': tensor([0.2500, 0.2500])}
    """
    if set(a) != set(b):
        raise ValueError(f"a and b have different entries: {sorted(set(a) ^ set(b))[:3]!r}")
    return {k: torch.lerp(v, b[k].to(v.dtype), float(alpha)) if v.is_floating_point() else v
            for k, v in a.items()}


def reset_batchnorm(
    model: nn.Module, state: Mapping[str, torch.Tensor], data: torch.Tensor | Iterable[Any],
    *, n_batches: int = 8,
) -> State:
    """``state`` with every batch-norm layer's running statistics re-estimated on ``data``.

    A cumulative average over the first ``n_batches`` batches, in training mode for batch
    norm only (:func:`landscapes.engine.batchnorm.recompute_statistics`).

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> x = torch.randn(64, 2)
    >>> new = reset_batchnorm(net, net.state_dict(), x)
    >>> torch.allclose(new["1.running_mean"], net[0](x).mean(0).detach())
    True
    """
    if not has_batchnorm(model):
        raise ValueError(f"{type(model).__name__} has no batch norm layer whose statistics "
                         "could be reset")
    batches = input_batches(data, n_batches)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    pairs = [(x, None) for x in batches]
    return recompute_statistics(model, dict(state), pairs, len(batches), device)


def _layers(model: nn.Module, spec: PermutationSpec) -> list[tuple[str, nn.Module]]:
    """Layers that make hidden units, have a bias and feed no batch norm, in graph order."""
    gm, _ = trace(model)
    names = {layer for group in spec.groups for layer in group.layers}
    out = []
    for node in gm.graph.nodes:
        if node.op != "call_module" or node.target not in names:
            continue
        module = model.get_submodule(str(node.target))
        affine = isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
        if not affine or module.bias is None:
            continue
        users = list(node.users)
        normed = [u.op == "call_module" and isinstance(gm.get_submodule(str(u.target)), _BatchNorm)
                  for u in users]
        if normed and all(normed):
            continue  # batch norm re-normalises it; resetting its statistics is the correction
        out.append((str(node.target), module))
    return out


def unit_statistics(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    layers: list[str],
    batches: list[torch.Tensor],
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-unit mean and standard deviation of each layer's output over ``batches`` (eval mode).

    Units are the output channels (axis 1) of a convolution and the last axis of a
    linear layer; every example and position counts once.
    """
    net = copy.deepcopy(model)
    net.load_state_dict(dict(state))
    sums: dict[str, list[torch.Tensor]] = {}

    def hook(name: str, module: nn.Module) -> Any:
        axis = -1 if isinstance(module, nn.Linear) else 1

        def record(_: nn.Module, __: Any, out: torch.Tensor) -> None:
            z = out.movedim(axis, 0).reshape(out.shape[axis], -1).double()
            count = torch.tensor(float(z.shape[1]), dtype=torch.float64)
            update = [z.sum(1), (z * z).sum(1), count]
            sums[name] = [s + u for s, u in zip(sums[name], update)] if name in sums else update
        return record

    modules = {n: net.get_submodule(n) for n in layers}
    handles = [m.register_forward_hook(hook(n, m)) for n, m in modules.items()]
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    try:
        with eval_mode(net), torch.no_grad():
            for x in batches:
                net(x.to(device))
    finally:
        for h in handles:
            h.remove()
    out = {}
    for name, (s, ss, n) in sums.items():
        mean = s / n
        out[name] = (mean, (ss / n - mean * mean).clamp_min(0).sqrt())
    return out


def repair(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    endpoints: tuple[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]],
    alpha: float,
    data: torch.Tensor | Iterable[Any],
    *,
    n_batches: int = 8,
    spec: PermutationSpec | None = None,
) -> State:
    """REPAIR ``state``, the point ``α`` of the line between ``endpoints`` (Jordan et al. 2023).

    Batch-norm statistics are reset first (:func:`reset_batchnorm`), then every hidden
    layer with a bias that no batch norm follows has its units rescaled so their mean
    and standard deviation on ``data`` are the endpoints' interpolated ones (module
    docstring), one layer at a time in graph order so each sees its inputs corrected.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture.
    state : mapping of str to tensor
        The interpolated point, usually ``interpolate(a, b, alpha)`` of aligned ``a``, ``b``.
    endpoints : (state dict, state dict)
        ``θ_a`` and ``θ_b``.
    alpha : float
        Where ``state`` lies on the line, in [0, 1].
    data : torch.Tensor or iterable
        Training inputs (batches or ``(inputs, targets)`` pairs).
    n_batches : int
        Batches read for every estimate.
    spec : PermutationSpec, optional
        Which layers make hidden units; derived when left out.

    Returns
    -------
    dict of str to tensor
        The corrected point; ``state`` is not modified.

    Examples
    --------
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> a, b = (nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2)) for _ in range(2))
    >>> x = torch.randn(256, 4)
    >>> mid = interpolate(a.state_dict(), b.state_dict(), 0.5)
    >>> fixed = repair(a, mid, (a.state_dict(), b.state_dict()), 0.5, x)
    >>> states = (a.state_dict(), b.state_dict(), fixed)
    >>> stats = [unit_statistics(a, s, ["0"], [x])["0"][1] for s in states]
    >>> torch.allclose(stats[2], (stats[0] + stats[1]) / 2)
    True
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if not (isinstance(endpoints, (tuple, list)) and len(endpoints) == 2):
        raise ValueError("endpoints must be a pair of state dicts (a, b), got "
                         f"{type(endpoints).__name__!r}")
    batches = input_batches(data, n_batches)
    if spec is None:
        spec = permutation_spec(model, batches[0][:2])
    return _repair(model, dict(state), endpoints, float(alpha), batches, spec)


def _repair(model: nn.Module, state: State, endpoints: tuple[Mapping[str, torch.Tensor], ...],
            alpha: float, batches: list[torch.Tensor], spec: PermutationSpec) -> State:
    if has_batchnorm(model):
        state = reset_batchnorm(model, state, batches, n_batches=len(batches))
    layers = _layers(model, spec)
    names = [n for n, _ in layers]
    ends = [unit_statistics(model, e, names, batches) for e in endpoints]
    for name, _ in layers:
        mean, sd = unit_statistics(model, state, [name], batches)[name]
        target_mean = (1 - alpha) * ends[0][name][0] + alpha * ends[1][name][0]
        target_sd = (1 - alpha) * ends[0][name][1] + alpha * ends[1][name][1]
        scale = torch.where(sd > 1e-12, target_sd / sd.clamp_min(1e-12), torch.ones_like(sd))
        weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
        shape = (-1,) + (1,) * (weight.dim() - 1)
        state[f"{name}.weight"] = (weight.double() * scale.view(shape)).to(weight.dtype)
        state[f"{name}.bias"] = ((bias.double() - mean) * scale + target_mean).to(bias.dtype)
    if has_batchnorm(model) and layers:
        state = reset_batchnorm(model, state, batches, n_batches=len(batches))
    return state


def correct(
    model: nn.Module,
    a: Mapping[str, torch.Tensor],
    b: Mapping[str, torch.Tensor],
    alpha: float,
    data: torch.Tensor | Iterable[Any] | None = None,
    *,
    method: str = "none",
    n_batches: int = 8,
    spec: PermutationSpec | None = None,
) -> State:
    """The point ``α`` of the line from ``a`` to ``b``, corrected by ``method``.

    Parameters
    ----------
    model : torch.nn.Module
    a, b : state dicts
        The endpoints (``b`` usually aligned to ``a`` first).
    alpha : float
    data : torch.Tensor or iterable, optional
        Training inputs; needed unless ``method="none"``.
    method : {"none", "reset", "repair"}
        :data:`CORRECTIONS`: plain interpolation, :func:`reset_batchnorm` or :func:`repair`.
    n_batches : int
    spec : PermutationSpec, optional

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> state = net.state_dict()
    >>> point = correct(net, state, state, 0.5, torch.randn(8, 2), method="reset")
    >>> sorted(point) == sorted(net.state_dict())
    True
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; choose from {list(CORRECTIONS)}")
    if method != "none" and data is None:
        raise ValueError(f"method={method!r} needs data, training inputs to estimate statistics on")
    point = interpolate(a, b, alpha)
    if method == "none":
        return point
    if method == "reset":
        return reset_batchnorm(model, point, data, n_batches=n_batches)
    return repair(model, point, (a, b), alpha, data, n_batches=n_batches, spec=spec)
