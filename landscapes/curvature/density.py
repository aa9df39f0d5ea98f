"""The Hessian's spectral density by stochastic Lanczos quadrature.

Ghorbani, Krishnan & Xiao (2019, §2 and Appendix A): for a unit probe v, m steps of
Lanczos from v give T_m = S diag(θ) Sᵀ, and the Gauss quadrature with nodes θ_i and
weights τ_i = (e₁ᵀ s_i)² (the squared *first* components of T_m's eigenvectors)
satisfies vᵀ f(H) v ≈ Σ_i τ_i f(θ_i), exactly for polynomials f of degree ≤ 2m − 1.
With v = z/√P for Rademacher z, E[vᵀ f(H) v] = (1/P) tr f(H), so averaging over n_v
probes estimates the spectral density

    φ(t) = (1/P) Σ_i δ(t − λ_i) ≈ (1/n_v) Σ_l Σ_i τ_i^(l) g_σ(t − θ_i^(l)),

broadened with a Gaussian g_σ of width σ, and its moments
μ_j = (1/P) tr H^j ≈ (1/n_v) Σ_l Σ_i τ_i^(l) (θ_i^(l))^j (j = 1..4, exact for each probe
once m ≥ 3). The density integrates to one; the moments' standard errors are the
spread over probes / √n_v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from landscapes.curvature.lanczos import random_unit, tridiagonal

__all__ = ["Quadrature", "quadrature", "broaden", "MOMENTS"]

#: The moments reported.
MOMENTS = (1, 2, 3, 4)


@dataclass
class Quadrature:
    """Nodes and weights of every probe (padded with weight 0 where a run was shorter).

    Attributes
    ----------
    nodes, weights : numpy.ndarray
        (n_v, m): Ritz values θ_i and weights τ_i per probe; each row of weights sums to 1.
    """

    nodes: np.ndarray
    weights: np.ndarray

    def moments(self, orders=MOMENTS) -> tuple[np.ndarray, np.ndarray]:
        """Estimates of (1/P) tr H^j and their standard errors over probes."""
        per = np.stack([(self.weights * self.nodes**j).sum(axis=1) for j in orders], axis=1)
        n = per.shape[0]
        err = per.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(orders), np.nan)
        return per.mean(axis=0), err


def quadrature(matvec, size: int, *, probes: int, steps: int, seed: int, dtype: torch.dtype,
               device: torch.device) -> Quadrature:
    """Gauss quadrature of ``probes`` Rademacher probes, ``steps`` Lanczos steps each."""
    gen = torch.Generator().manual_seed(seed)
    m = min(steps, size)
    nodes = np.zeros((probes, m))
    weights = np.zeros((probes, m))
    for p in range(probes):
        start = random_unit(size, gen, dtype, device, kind="rademacher")
        alpha, beta, _, _, _ = tridiagonal(matvec, start, m, gen)
        t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        theta, s = np.linalg.eigh(t)
        nodes[p, : len(theta)] = theta
        weights[p, : len(theta)] = s[0] ** 2
    return Quadrature(nodes, weights)


def broaden(q: Quadrature, grid: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian-broadened density on ``grid``, averaged over probes."""
    diff = grid[:, None, None] - q.nodes[None]
    kernel = np.exp(-0.5 * (diff / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return (kernel * q.weights[None]).sum(axis=2).mean(axis=1)


def default_grid(q: Quadrature, points: int, sigma: float | None) -> tuple[np.ndarray, float]:
    """A grid over the nodes, padded by a tenth of their spread (and 3σ), and σ.

    Default σ: a hundredth of the spread of the nodes (1 where all coincide).
    """
    used = q.nodes[q.weights > 0] if (q.weights > 0).any() else q.nodes.ravel()
    lo, hi = float(used.min()), float(used.max())
    spread = hi - lo if hi > lo else max(abs(hi), 1.0)
    sig = 0.01 * spread if sigma is None else float(sigma)
    pad = 0.1 * spread + 3 * sig
    return np.linspace(lo - pad, hi + pad, points), sig
