"""Hessian-vector products of the full-data loss, forward or reverse over reverse.

For the full-data loss L(θ) = (1/N) Σ_b w_b L_b(θ) (:mod:`landscapes.curvature.objective`)
the product with a vector v is

    H v = (1/N) Σ_b w_b ∂/∂ε ∇L_b(θ + ε v) at ε = 0,

the directional derivative of the gradient: :func:`torch.func.jvp` of
:func:`torch.func.grad` on :func:`torch.func.functional_call`, one forward and one
backward pass with tangents (Pearlmutter 1994; the torch.func recipe). Every batch of
the data enters, never one minibatch. Several vectors at once go through
:func:`torch.vmap` over the tangents (the primal pass is shared); where vmap cannot run
a module the products fall back to a loop over the vectors, with the same numbers up
to rounding.

Reverse over reverse (double backward, Pearlmutter's R-operator in reverse mode:
the gradient of ∇L·v, which is Hv as H is symmetric) is the other way: one forward
and backward pass with its graph per batch, then one more backward per vector. On
the CPU it is the faster of the two (see :class:`Operator`), and it is the fallback
where forward-mode AD has no rule for a module's backward (PyTorch's ``mse_loss``
backward on a linear model raises "ZeroTensors are immutable").
"""

from __future__ import annotations

import logging

import torch
from torch.func import grad, jvp

from landscapes.curvature.objective import Objective

__all__ = ["Operator", "MODES"]

#: How products are taken: ``"auto"`` (reverse on CPU, forward on CUDA), forward over
#: reverse, or reverse over reverse.
MODES = ("auto", "forward", "reverse")

_log = logging.getLogger("landscapes.curvature")


class Operator:
    """v ↦ H v (and θ ↦ ∇L) on flat vectors for one :class:`Objective`.

    Parameters
    ----------
    objective : Objective
    vectorize : bool, optional
        Use vmap for several vectors in forward mode; ``None`` (default) tries it and
        falls back to a loop where it fails.
    mode : {"auto", "forward", "reverse"}
        See the module; ``"auto"`` takes reverse over reverse on the CPU, where it
        measured 1.6-2.3x faster than forward over reverse (LeNet-300-100 and ResNet-20,
        PyTorch 2.13, ``python -m benchmarks.curvature``), and forward over reverse on CUDA.

    Attributes
    ----------
    products : int
        Hessian-vector products computed so far (each a pass over the full data).
    mode : str
        ``"forward"`` or ``"reverse"``, the one in use (forward falls back to reverse
        where forward-mode AD fails).
    """

    def __init__(self, objective: Objective, vectorize: bool | None = None, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {list(MODES)}")
        self.objective = objective
        self.vectorize = vectorize
        self.products = 0
        if mode == "auto":
            mode = "forward" if objective.device.type == "cuda" else "reverse"
        self.mode = mode

    @property
    def size(self) -> int:
        return self.objective.size

    @property
    def dtype(self) -> torch.dtype:
        return self.objective.dtype

    @property
    def device(self) -> torch.device:
        return self.objective.device

    def _forward(self, f, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        g = grad(f)
        return self._map(lambda u: jvp(g, (theta,), (u,))[1], v)

    def _reverse(self, f, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # Double backward with torch.autograd: one forward and backward pass (with its
        # graph) per batch, shared by every vector.
        with torch.enable_grad():
            t = theta.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(t), t, create_graph=True)
            if v.dim() == 1:
                return torch.autograd.grad(g, t, v)[0]
            rows = [torch.autograd.grad(g, t, u, retain_graph=True)[0] for u in v]
        return torch.stack(rows)

    def _map(self, one, v: torch.Tensor) -> torch.Tensor:
        if v.dim() == 1:
            return one(v)
        if v.shape[0] == 1 or self.vectorize is False:
            return torch.stack([one(u) for u in v])
        try:
            return torch.vmap(one)(v)
        except (RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
            if self.vectorize:
                raise
            _log.debug("vmap over Hessian-vector products failed (%s); looping over the vectors", exc)
            self.vectorize = False
            return torch.stack([one(u) for u in v])

    def _batch(self, f, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.mode == "reverse":
            return self._reverse(f, theta, v)
        try:
            return self._forward(f, theta, v)
        except RuntimeError as exc:
            try:
                out = self._reverse(f, theta, v)
            except RuntimeError:
                raise exc from None
            _log.debug("forward-over-reverse products failed (%s); using reverse over reverse", exc)
            self.mode = "reverse"
            return out

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector ``v`` of shape (P,) or several as rows of (b, P)."""
        obj = self.objective
        v = v.to(obj.device, obj.dtype)
        total = torch.zeros_like(v)
        n = 0
        with obj.context():
            for x, y in obj.batches():
                m = obj.count(y)
                total += obj.weight(m) * self._batch(obj.batch_loss(x, y), obj.theta, v)
                n += m
        if n == 0:
            raise ValueError("the data has no examples")
        self.products += 1 if v.dim() == 1 else v.shape[0]
        return total / n

    def gradient(self) -> torch.Tensor:
        """∇L(θ) over the full data, flat."""
        obj = self.objective
        total = torch.zeros_like(obj.theta)
        n = 0
        with obj.context():
            for x, y in obj.batches():
                m = obj.count(y)
                total += obj.weight(m) * grad(obj.batch_loss(x, y))(obj.theta)
                n += m
        return total / n

    def loss(self) -> float:
        """L(θ) over the full data."""
        obj = self.objective
        total, n = 0.0, 0
        with obj.context(), torch.no_grad():
            for x, y in obj.batches():
                m = obj.count(y)
                total += obj.weight(m) * float(obj.batch_loss(x, y)(obj.theta))
                n += m
        return total / n
