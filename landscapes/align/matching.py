"""Weight matching and activation matching (Ainsworth, Hayase & Srinivasa 2023, §3).

Both find, for two networks ``a`` and ``b`` of one architecture, the permutation ``π``
of ``b``'s hidden units that brings it closest to ``a``, and return ``b``'s permuted
state dict, checked to compute ``b``'s function (:func:`~landscapes.align.check.check_function`).

*Weight matching* maximises ``Σ_ℓ ⟨W_ℓ^a, P_ℓ W_ℓ^b P_{ℓ-1}^T⟩`` over the
permutations ``P_ℓ`` of every group (Ainsworth et al. 2023, eq. 2). It is solved by coordinate
descent: each group in turn, in a random order, gets the best permutation with the
others held, a linear assignment problem ``max_π Σ_i C_{i,π(i)}`` with
``C = Σ W^a (W^b)^T`` over every axis the group moves (Algorithm 1), until a pass
improves none.

*Activation matching* maximises, per group, the summed correlation
``Σ_i corr(z_i^a, z_{π(i)}^b)`` of the units' activations on data you pass
(Ainsworth et al. 2023, §3.1; Li et al. 2016): one linear assignment per group.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import fx, nn

from landscapes.align.check import TOLERANCE, FunctionCheck, check_function
from landscapes.align.derive import permutation_spec, trace
from landscapes.align.inputs import input_batches
from landscapes.align.spec import PermutationSpec, _apply, expand, identity_permutation
from landscapes.engine.batchnorm import eval_mode

__all__ = ["Alignment", "weight_matching", "activation_matching"]

State = dict[str, torch.Tensor]
Permutation = dict[str, torch.Tensor]


class Alignment(dict):
    """``b``'s permuted state dict, with what the alignment found and checked.

    Attributes
    ----------
    permutation : dict of str to LongTensor
        ``π`` per group: the aligned ``b`` has unit ``i`` where ``b`` had unit ``π[i]``.
    check : FunctionCheck
        The permuted ``b`` against ``b`` on one batch (always passed: a failure raises).
    spec : PermutationSpec
    method : str
        ``"weight"`` or ``"activation"``.
    iterations : int
        Passes over the groups (weight matching; 1 for activation matching).
    objective : tuple of float
        The matching objective before and after: ``Σ⟨W^a, W^b⟩`` for weight matching,
        the summed correlation for activation matching.
    """

    permutation: Permutation
    check: FunctionCheck
    spec: PermutationSpec
    method: str
    iterations: int
    objective: tuple[float, float]


def _states(a: Any, b: Any, model: nn.Module | None) -> tuple[nn.Module, State, State]:
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, (nn.Module, Mapping)):
            raise TypeError(f"{name} must be an nn.Module or a state dict, got "
                            f"{type(value).__name__!r}")
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__!r}")
    modules = [m for m in (model, a, b) if isinstance(m, nn.Module)]
    arch = modules[0] if modules else None
    if arch is None:
        raise ValueError("a and b are both state dicts: pass model=, a module of their "
                         "architecture")
    sa = {k: v.detach() for k, v in (a.state_dict() if isinstance(a, nn.Module) else a).items()}
    sb = {k: v.detach() for k, v in (b.state_dict() if isinstance(b, nn.Module) else b).items()}
    if set(sa) != set(sb):
        odd = sorted(set(sa) ^ set(sb))
        raise ValueError(f"a and b are not one architecture: their state dicts differ in "
                         f"{odd[:3]!r}")
    for k in sa:
        if sa[k].shape != sb[k].shape:
            raise ValueError(f"a and b are not one architecture: {k!r} is {tuple(sa[k].shape)} "
                             f"in a and {tuple(sb[k].shape)} in b")
    return arch, sa, sb


def _fits(spec: PermutationSpec, state: State) -> PermutationSpec:
    """``spec``, after checking that it describes ``state``'s architecture."""
    for group in spec.groups:
        for ax in group.axes:
            if ax.key not in state:
                raise ValueError(f"the spec permutes {ax.key!r}, which the state dicts lack; "
                                 "was it derived from another architecture?")
            shape = tuple(state[ax.key].shape)
            if ax.axis >= len(shape) or shape[ax.axis] != group.size * ax.block:
                raise ValueError(f"the spec's group {group.name!r} moves {group.size * ax.block} "
                                 f"entries of axis {ax.axis} of {ax.key!r}, whose shape is {shape}")
    return spec


def _finish(arch: nn.Module, spec: PermutationSpec, perm: Permutation, sb: State,
            batch: torch.Tensor, method: str, iterations: int,
            objective: tuple[float, float]) -> Alignment:
    permuted = _apply(spec, perm, sb)
    check = check_function(arch, sb, permuted, batch, tolerance=TOLERANCE)
    out = Alignment(permuted)
    out.permutation, out.check, out.spec = perm, check, spec
    out.method, out.iterations, out.objective = method, iterations, objective
    return out


def _check_batch(spec: PermutationSpec, size: int = 16) -> torch.Tensor:
    """Inputs for the function check: fresh Gaussian examples of the spec's shape, seeded."""
    example = spec.example
    if not example.is_floating_point():
        return example  # token ids: the derivation's own, which the model is known to take
    generator = torch.Generator().manual_seed(0)
    return torch.randn((size, *example.shape[1:]), generator=generator, dtype=example.dtype)


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def weight_matching(
    a: nn.Module | Mapping[str, torch.Tensor],
    b: nn.Module | Mapping[str, torch.Tensor],
    *,
    spec: PermutationSpec | None = None,
    model: nn.Module | None = None,
    example: torch.Tensor | None = None,
    max_iter: int = 100,
    seed: int = 0,
    return_permutation: bool = False,
) -> Alignment | tuple[Alignment, Permutation]:
    """Permute ``b``'s hidden units to match ``a``'s weights (Ainsworth et al. 2023, Alg. 1).

    Parameters
    ----------
    a, b : torch.nn.Module or state dict
        Two networks of one architecture; ``a`` is the reference.
    spec : PermutationSpec, optional
        Derived from the architecture (:func:`~landscapes.align.permutation_spec`)
        when left out.
    model : torch.nn.Module, optional
        The architecture, needed when ``a`` and ``b`` are both state dicts.
    example : torch.Tensor, optional
        A batch for the derivation and the function check; guessed from the first
        layer when left out.
    max_iter : int
        Most passes over the groups.
    seed : int
        Seeds the random order in which each pass visits the groups.
    return_permutation : bool
        Also return the permutation.

    Returns
    -------
    Alignment or (Alignment, dict)
        ``b``'s permuted state dict (an ordinary dict, with the permutation, the
        function check and the objective as attributes), and the permutation on request.

    Raises
    ------
    UnsupportedModel
        The architecture's permutations cannot be derived.
    NotFunctionPreserving
        The permuted ``b`` does not compute ``b``'s function (never for a derived spec).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from landscapes.align import apply_permutation, permutation_spec, random_permutation
    >>> _ = torch.manual_seed(0)
    >>> a = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
    ...                   nn.Linear(16, 2))
    >>> spec = permutation_spec(a)
    >>> shuffled = apply_permutation(spec, random_permutation(spec, seed=1), a.state_dict())
    >>> aligned = weight_matching(a, shuffled, model=a)
    >>> all(torch.equal(aligned[k], v) for k, v in a.state_dict().items())
    True
    >>> aligned.check.passed
    True
    """
    arch, sa, sb = _states(a, b, model)
    _positive(max_iter, "max_iter")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if spec is None:
        spec = permutation_spec(arch, example)
    elif not isinstance(spec, PermutationSpec):
        raise TypeError(f"spec must be a PermutationSpec, got {type(spec).__name__!r}")
    _fits(spec, sb)
    perm, iterations, objective = _weight_matching(spec, sa, sb, max_iter, seed)
    batch = _check_batch(spec) if example is None else example
    out = _finish(arch, spec, perm, sb, batch, "weight", iterations, objective)
    return (out, perm) if return_permutation else out


def _weight_matching(spec: PermutationSpec, sa: State, sb: State, max_iter: int,
                     seed: int) -> tuple[Permutation, int, tuple[float, float]]:
    duplicates = {name for group in spec.tied for name in group[1:]}
    by_key: dict[str, list[tuple[int, str, int]]] = {}
    for group in spec.groups:
        for ax in group.axes:
            if ax.parameter and ax.key not in duplicates and sa[ax.key].is_floating_point():
                by_key.setdefault(ax.key, []).append((ax.axis, group.name, ax.block))
    wa = {k: sa[k].double() for k in by_key}
    wb = {k: sb[k].double() for k in by_key}
    perm = identity_permutation(spec)
    perm = {k: v.to(next(iter(wa.values())).device) for k, v in perm.items()} if wa else perm
    rng = np.random.default_rng(seed)
    names = list(spec.names)
    sizes = {g.name: g.size for g in spec.groups}

    def cost(name: str) -> torch.Tensor:
        n = sizes[name]
        c = torch.zeros(n, n, dtype=torch.float64, device=perm[name].device)
        for key, axes in by_key.items():
            for axis, group, _ in axes:
                if group != name:
                    continue
                w = wb[key]
                for other, q, block in axes:
                    if other != axis:
                        w = w.index_select(other, expand(perm[q], block))
                c += wa[key].movedim(axis, 0).reshape(n, -1) @ w.movedim(axis, 0).reshape(n, -1).T
        return c

    def total() -> float:
        state = _apply(spec, perm, {k: wb[k] for k in by_key})
        return float(sum((wa[k] * state[k]).sum() for k in by_key))

    start = total()
    iterations = 0
    for iterations in range(1, max_iter + 1):
        improved = False
        for index in rng.permutation(len(names)):
            name = names[index]
            c = cost(name)
            _, columns = linear_sum_assignment(c.cpu().numpy(), maximize=True)
            new = torch.as_tensor(columns, dtype=torch.long, device=c.device)
            rows = torch.arange(len(new), device=c.device)
            old_value, new_value = float(c[rows, perm[name]].sum()), float(c[rows, new].sum())
            if new_value > old_value + 1e-12 * max(1.0, abs(old_value)):
                perm[name], improved = new, True
        if not improved:
            break
    return {k: v.cpu() for k, v in perm.items()}, iterations, (start, total())


class _Recorder(fx.Interpreter):
    """Runs a graph and keeps the outputs of the nodes asked for."""

    def __init__(self, gm: fx.GraphModule, wanted: set[str]) -> None:
        super().__init__(gm)
        self.wanted, self.seen = wanted, {}

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if n.name in self.wanted:
            self.seen[n.name] = out
        return out


def activation_matching(
    a: nn.Module | Mapping[str, torch.Tensor],
    b: nn.Module | Mapping[str, torch.Tensor],
    data: torch.Tensor | Iterable[Any],
    *,
    spec: PermutationSpec | None = None,
    model: nn.Module | None = None,
    n_batches: int | None = None,
    return_permutation: bool = False,
) -> Alignment | tuple[Alignment, Permutation]:
    """Permute ``b``'s hidden units to match the correlations of ``a``'s activations on ``data``.

    For every group, the correlation ``corr(z_i^a, z_j^b)`` of unit ``i`` of ``a`` with
    unit ``j`` of ``b`` is estimated over every example (and spatial position) of
    ``data`` at each place the units appear (pre- and post-activation, every block of
    a residual stream), summed over the places, and the permutation maximising
    ``Σ_i corr(z_i^a, z_{π(i)}^b)`` is one linear assignment (Ainsworth et al. 2023, §3.1).

    Parameters
    ----------
    a, b : torch.nn.Module or state dict
        Two networks of one architecture; ``a`` is the reference.
    data : torch.Tensor or iterable
        Inputs: one batch, or batches (tensors or ``(inputs, targets)`` pairs); the
        first batch also serves the function check.
    spec : PermutationSpec, optional
    model : torch.nn.Module, optional
        The architecture, needed when ``a`` and ``b`` are both state dicts.
    n_batches : int, optional
        Use only the first ``n_batches`` of ``data``.
    return_permutation : bool

    Returns
    -------
    Alignment or (Alignment, dict)
        As :func:`weight_matching`; ``objective`` is the summed correlation before and after.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from landscapes.align import apply_permutation, permutation_spec, random_permutation
    >>> _ = torch.manual_seed(0)
    >>> a = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> spec = permutation_spec(a)
    >>> shuffled = apply_permutation(spec, random_permutation(spec, seed=1), a.state_dict())
    >>> aligned = activation_matching(a, shuffled, torch.randn(256, 4), model=a)
    >>> all(torch.equal(aligned[k], v) for k, v in a.state_dict().items())
    True
    """
    arch, sa, sb = _states(a, b, model)
    batches = input_batches(data, n_batches)
    if spec is None:
        spec = permutation_spec(arch, batches[0][:2])
    elif not isinstance(spec, PermutationSpec):
        raise TypeError(f"spec must be a PermutationSpec, got {type(spec).__name__!r}")
    _fits(spec, sb)
    missing = [g.name for g in spec.groups if not g.sites]
    if missing:
        raise ValueError(f"groups {missing!r} have no activations to match (no graph node carries "
                         "their units one per entry); use weight_matching")
    perm, objective = _activation_matching(arch, spec, sa, sb, batches)
    out = _finish(arch, spec, perm, sb, batches[0], "activation", 1, objective)
    return (out, perm) if return_permutation else out


def _units(z: torch.Tensor, axis: int) -> torch.Tensor:
    """``(units, samples)``: every other axis of an activation counts as samples."""
    return z.movedim(axis, 0).reshape(z.shape[axis], -1).double()


def _activation_matching(arch: nn.Module, spec: PermutationSpec, sa: State, sb: State,
                         batches: list[torch.Tensor]) -> tuple[Permutation, tuple[float, float]]:
    sites = {(node, axis, g.name) for g in spec.groups for node, axis in g.sites}
    wanted = {node for node, _, _ in sites}
    stats: dict[tuple[str, int, str], list[torch.Tensor]] = {}
    nets = []
    for state in (sa, sb):
        net = copy.deepcopy(arch)
        net.load_state_dict(state)
        nets.append(trace(net)[0])
    device = next((p.device for p in nets[0].parameters()), torch.device("cpu"))
    for x in batches:
        seen = []
        for gm in nets:
            recorder = _Recorder(gm, wanted)
            with eval_mode(gm), torch.no_grad():
                recorder.run(x.to(device))
            seen.append(recorder.seen)
        for site in sites:
            node, axis, _ = site
            za, zb = (_units(s[node], axis) for s in seen)
            update = [za.sum(1), zb.sum(1), (za * za).sum(1), (zb * zb).sum(1), za @ zb.T,
                      torch.tensor(float(za.shape[1]), dtype=torch.float64)]
            if site in stats:
                stats[site] = [s + u for s, u in zip(stats[site], update)]
            else:
                stats[site] = update
    corr = {g.name: torch.zeros(g.size, g.size, dtype=torch.float64) for g in spec.groups}
    for (_, _, name), (sa_, sb_, saa, sbb, sab, n) in stats.items():
        ma, mb = sa_ / n, sb_ / n
        cov = sab / n - ma[:, None] * mb[None, :]
        sd_a = (saa / n - ma * ma).clamp_min(0).sqrt()
        sd_b = (sbb / n - mb * mb).clamp_min(0).sqrt()
        corr[name] += (cov / (sd_a[:, None] * sd_b[None, :]).clamp_min(1e-12)).cpu()
    perm = {}
    before = after = 0.0
    for name, c in corr.items():
        _, columns = linear_sum_assignment(c.numpy(), maximize=True)
        perm[name] = torch.as_tensor(columns, dtype=torch.long)
        before += float(c.diagonal().sum())
        after += float(c[torch.arange(len(columns)), perm[name]].sum())
    return perm, (before, after)
