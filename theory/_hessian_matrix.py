"""The exact Hessian of J(W) = κ/N ‖W_L ⋯ W_1 X − Y‖_F² for square n × n layers, in numpy.

With P = W_L ⋯ W_1, A_l = W_L ⋯ W_(l+1) and B_l = W_(l−1) ⋯ W_1 (identity when empty),
∂P/∂(W_l)_ij = A_l e_i e_jᵀ B_l. With S = X Xᵀ and G = (P X − Y) Xᵀ, the Hessian block of
layers l and m, entry ((i, j), (k, r)), is

    2κ/N [(A_lᵀ A_m)_ik (B_l S B_mᵀ)_jr + (A_mᵀ G B_lᵀ)_kj (W_(m−1) ⋯ W_(l+1))_ri]   (l < m),

the second term absent when l = m (each layer enters P linearly) and the block (m, l)
the transpose of (l, m). Every product is exact; nothing is differenced.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hessian"]


def hessian(
    theta: np.ndarray, depth: int, width: int, X: np.ndarray, Y: np.ndarray, k: float
) -> np.ndarray:
    """∇²J at flat θ (..., L n²) (W_1 first, row-major), shape (..., L n², L n²)."""
    L, n = depth, width
    lead = theta.shape[:-1]
    W = [theta[..., l * n * n:(l + 1) * n * n].reshape(lead + (n, n)) for l in range(L)]
    eye = np.broadcast_to(np.eye(n), lead + (n, n))
    below = [eye]
    for l in range(1, L):
        below.append(W[l - 1] @ below[-1])
    above = [eye] * L
    for l in range(L - 2, -1, -1):
        above[l] = above[l + 1] @ W[l + 1]
    residual = above[0] @ W[0] @ X - Y
    G = residual @ X.T
    S = X @ X.T
    H = np.zeros(lead + (L, n, n, L, n, n))
    for l in range(L):
        for m in range(L):
            AA = np.swapaxes(above[l], -1, -2) @ above[m]
            BSB = below[l] @ S @ np.swapaxes(below[m], -1, -2)
            H[..., l, :, :, m, :, :] += np.einsum("...ik,...jr->...ijkr", AA, BSB)
        for m in range(l + 1, L):
            between = eye
            for t in range(l + 1, m):
                between = W[t] @ between
            C = np.swapaxes(above[m], -1, -2) @ G @ np.swapaxes(below[l], -1, -2)
            T = np.einsum("...kj,...ri->...ijkr", C, between)
            H[..., l, :, :, m, :, :] += T
            H[..., m, :, :, l, :, :] += np.einsum("...ijkr->...krij", T)
    P = L * n * n
    return (2.0 * k / X.shape[1]) * H.reshape(lead + (P, P))
