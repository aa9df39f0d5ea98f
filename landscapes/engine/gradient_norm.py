"""The gradient norm ‖∇L(θ)‖ of the full-data loss: the simplest point measure.

L(θ) = (1/N) Σ_b w_b ℓ_b(θ) over every batch b of the split, with w_b the batch's
size n_b for a loss that averages over its batch (1 for ``reduction="sum"``), and N
the number of examples: the loss :func:`landscapes.evaluate` reports. The gradient is
taken with respect to the model's parameters (each tied tensor once), buffers held
fixed, through :func:`torch.func.functional_call`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, grad

from landscapes.engine.point_measures import PointContext, Variable

__all__ = ["GradientNorm", "RandomSlopes", "full_loss_gradient"]


def _weight(loss_fn: Any, targets: torch.Tensor) -> int:
    n = targets.shape[0] if targets.dim() else 1
    return 1 if getattr(loss_fn, "reduction", "mean") == "sum" else n


def full_loss_gradient(point: PointContext) -> dict[str, torch.Tensor]:
    """∇L at ``point``, one entry per parameter (tied tensors under their first name).

    Examples
    --------
    >>> import torch
    >>> from landscapes.engine.point_measures import PointContext
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> x, y = torch.ones(4, 2), torch.zeros(4, 1)
    >>> ctx = PointContext(net, dict(net.state_dict()), [(x, y)], torch.nn.MSELoss(),
    ...                    lambda o: o, "interpolate", [], (0,), None, 0, torch.device("cpu"))
    >>> g = full_loss_gradient(ctx)["weight"]
    >>> torch.allclose(g, 2 * net.weight.detach().sum() * torch.ones(1, 2))
    True
    """
    names = [name for name, _ in point.model.named_parameters()]
    params = {k: point.state[k] for k in names}
    fixed = {k: v for k, v in point.state.items() if k not in params}
    # Tied names beyond the first are left to functional_call, which ties them.
    tied_later = {name for group in point.tied for name in group[1:]}
    fixed = {k: v for k, v in fixed.items() if k not in tied_later}

    def batch_loss(p: dict[str, torch.Tensor], x: Any, y: Any) -> torch.Tensor:
        out = point.read_output(functional_call(point.model, {**fixed, **p}, (x,), strict=False))
        return point.loss_fn(out, y) * _weight(point.loss_fn, y)

    total: dict[str, torch.Tensor] | None = None
    n = 0
    for x, y in point.batches:
        g = grad(batch_loss)(params, x, y)
        total = g if total is None else {k: total[k] + g[k] for k in total}
        n += y.shape[0] if y.dim() else 1
    if total is None:
        raise ValueError("the data has no batches")
    return {k: v / n for k, v in total.items()}


@dataclass(frozen=True)
class GradientNorm:
    """‖∇L(θ)‖₂ of the full-data loss at every point (see the module).

    Examples
    --------
    >>> GradientNorm().variables()["gradient_norm"].dims
    ()
    """

    name: str = "gradient"

    def variables(self) -> dict[str, Variable]:
        return {"gradient_norm": Variable((), {"long_name": "norm of the full-data loss gradient"})}

    def coords(self) -> dict[str, Any]:
        return {}

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        g = full_loss_gradient(point)
        sq = sum(v.detach().to(torch.float64).pow(2).sum() for v in g.values())
        return {"gradient_norm": np.asarray(float(torch.sqrt(torch.as_tensor(sq))))}


@dataclass(frozen=True)
class RandomSlopes:
    """Slopes of the full-data loss along random unit directions, vᵢᵀ∇L(θ) / ‖vᵢ‖.

    The directions are Gaussian over the parameters, drawn afresh at every point from
    the point's seed (:func:`landscapes.engine.point_sweep.point_seed` of ``seed`` and
    the point's index): a seeded measure with a dimension of its own, ``probe``.
    Averaged over probes, the squared slopes estimate ‖∇L‖²/d for d parameters.

    Examples
    --------
    >>> RandomSlopes(probes=3).coords()["probe"]
    [0, 1, 2]
    """

    probes: int = 2
    seed: int = 0
    name: str = "slopes"

    def variables(self) -> dict[str, Variable]:
        return {"slope": Variable(("probe",), {"long_name": "slope of the loss along a random "
                                                            "unit direction"})}

    def coords(self) -> dict[str, Any]:
        return {"probe": list(range(self.probes))}

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        g = full_loss_gradient(point)
        gen = torch.Generator(device="cpu").manual_seed(point.seed)
        out = []
        for _ in range(self.probes):
            v = {k: torch.randn(t.shape, generator=gen, dtype=torch.float64) for k, t in g.items()}
            norm = torch.sqrt(sum(u.pow(2).sum() for u in v.values()))
            dot = sum((g[k].detach().cpu().to(torch.float64) * v[k]).sum() for k in g)
            out.append(float(dot / norm))
        return {"slope": np.asarray(out)}
