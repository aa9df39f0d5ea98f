"""The check every alignment passes: the permuted network computes the original's function."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from landscapes.engine.batchnorm import eval_mode

__all__ = ["FunctionCheck", "NotFunctionPreserving", "check_function", "TOLERANCE"]

#: Largest relative output difference an aligned network may show (float64 outputs).
TOLERANCE = 1e-5


class NotFunctionPreserving(RuntimeError):
    """An aligned network computes a different function from the one it came from."""

    __module__ = "landscapes.align"


@dataclass(frozen=True)
class FunctionCheck:
    """Outcome of comparing a network before and after permutation on one batch.

    Attributes
    ----------
    relative_error : float
        ``max |f'(x) - f(x)| / max |f(x)|`` over the batch's outputs, in float64.
    tolerance : float
    examples : int
        Inputs compared.
    passed : bool
        ``relative_error <= tolerance``.
    """

    relative_error: float
    tolerance: float
    examples: int

    @property
    def passed(self) -> bool:
        return self.relative_error <= self.tolerance

    def __str__(self) -> str:
        verdict = "function preserved" if self.passed else "FUNCTION CHANGED"
        return (f"{verdict}: outputs agree to {self.relative_error:.1e} relative on "
                f"{self.examples} inputs (tolerance {self.tolerance:.0e})")


def _outputs(out: object) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _outputs(item)]
    if isinstance(out, Mapping):
        return [t for item in out.values() for t in _outputs(item)]
    return []


def _double(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.double() if v.is_floating_point() else v for k, v in state.items()}


def check_function(
    model: nn.Module,
    original: Mapping[str, torch.Tensor],
    permuted: Mapping[str, torch.Tensor],
    batch: torch.Tensor,
    *,
    tolerance: float = TOLERANCE,
    strict: bool = True,
) -> FunctionCheck:
    """Compare ``model`` at ``original`` and at ``permuted`` on ``batch``, in float64 and eval mode.

    Float64 makes the comparison meaningful: a correct permutation only reorders sums,
    which changes float64 outputs by ~1e-15, while a wrong one changes them by O(1).

    Parameters
    ----------
    model : torch.nn.Module
        The architecture (not modified: a copy is run).
    original, permuted : mapping of str to tensor
        Two state dicts of it.
    batch : torch.Tensor
        Inputs.
    tolerance : float
    strict : bool
        Raise :class:`NotFunctionPreserving` when the check fails.

    Returns
    -------
    FunctionCheck

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> state = net.state_dict()
    >>> swapped = {**state, "0.weight": state["0.weight"][[1, 0, 2]]}
    >>> check_function(net, state, state, torch.randn(4, 2)).passed
    True
    >>> check_function(net, state, swapped, torch.randn(4, 2), strict=False).passed
    False
    """
    copy_ = copy.deepcopy(model).double()
    x = batch.double() if batch.is_floating_point() else batch
    x = x.to(next((p.device for p in copy_.parameters()), x.device))
    with eval_mode(copy_), torch.no_grad():
        copy_.load_state_dict(_double(original))
        before = _outputs(copy_(x))
        copy_.load_state_dict(_double(permuted))
        after = _outputs(copy_(x))
    pairs = [(a, b) for a, b in zip(after, before) if a.numel()]
    diff = max((float((a - b).abs().max()) for a, b in pairs), default=0.0)
    scale = max((float(b.abs().max()) for b in before if b.numel()), default=0.0)
    relative = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    result = FunctionCheck(relative, tolerance, int(x.shape[0]) if x.dim() else 1)
    if strict and not result.passed:
        raise NotFunctionPreserving(
            f"the aligned network does not compute the original's function: {result}; the "
            "permutation spec does not fit this model")
    return result
