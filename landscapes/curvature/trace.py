"""The Hessian's trace by Hutchinson's estimator and by Hutch++, with a standard error.

Hutchinson (1990): for Rademacher z (entries ±1), E[zᵀHz] = tr H, and the mean of n
draws has standard error s/√n, s the sample standard deviation of the zᵢᵀHzᵢ
(for Rademacher probes Var zᵀHz = 2 Σ_{i≠j} H_ij², so a diagonal H costs nothing).

Hutch++ (Meyer, Musco, Musco & Woodruff 2021, Algorithm 1): take the range Q of H S for
s Rademacher probes S, trace the part of H there exactly, tr(QᵀHQ), and apply
Hutchinson only to the deflated rest, tr((I − QQᵀ)H(I − QQᵀ)), whose variance is small
when a few eigenvalues dominate. Its standard error is the Hutchinson error of that
rest (the exact part has none).

Stopping rule, both methods: probes are drawn in blocks until the standard error is at
most ``tol`` · abs(estimate) (after at least two blocks) or ``max_probes`` Hessian-vector
products are spent; ``converged`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["METHODS", "TraceEstimate", "estimate_trace"]

#: Allowed ``method`` values.
METHODS = ("hutch++", "hutchinson")


@dataclass
class TraceEstimate:
    """A trace estimate.

    Attributes
    ----------
    value : float
    stderr : float
        Its standard error.
    products : int
        Hessian-vector products spent.
    converged : bool
        Whether ``stderr <= tol * |value|`` was reached.
    method : str
    sketch : int
        Hutch++'s sketch size s (0 for Hutchinson).
    """

    value: float
    stderr: float
    products: int
    converged: bool
    method: str
    sketch: int


def _rademacher(n: int, size: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    z = torch.randint(0, 2, (n, size), generator=gen, dtype=torch.int8)
    return (z.to(torch.float64) * 2 - 1).to(device, dtype)


def _stderr(samples: list[float]) -> float:
    if len(samples) < 2:
        return float("inf")
    return float(np.std(samples, ddof=1) / np.sqrt(len(samples)))


def estimate_trace(matvec, size: int, *, method: str, tol: float, max_probes: int, block: int,
                   sketch: int, seed: int, dtype: torch.dtype, device: torch.device) -> TraceEstimate:
    """tr H by ``method`` (see the module); ``matvec`` takes rows (b, P) of vectors."""
    gen = torch.Generator().manual_seed(seed)
    exact = 0.0
    used = 0
    basis = None
    s = 0
    if method == "hutch++":
        s = min(sketch, size, max(max_probes // 3, 1))
        hs = matvec(_rademacher(s, size, gen, dtype, device))
        basis, _ = torch.linalg.qr(hs.T)  # (P, s), orthonormal columns
        hq = matvec(basis.T.contiguous())
        exact = float((basis.T * hq).sum())
        used = 2 * s
        if s >= size:  # the sketch spans the space: the trace is exact
            return TraceEstimate(exact, 0.0, used, True, method, s)
    samples: list[float] = []
    converged = False
    while used < max_probes:
        n = min(block, max_probes - used)
        z = _rademacher(n, size, gen, dtype, device)
        if basis is not None:
            z = z - (z @ basis) @ basis.T
        hz = matvec(z)
        samples += (z * hz).sum(dim=1).double().cpu().tolist()
        used += n
        err = _stderr(samples)
        if len(samples) >= 2 * block and err <= tol * abs(exact + float(np.mean(samples))):
            converged = True
            break
    mean = float(np.mean(samples)) if samples else 0.0
    return TraceEstimate(exact + mean, _stderr(samples), used, converged, method, s)
