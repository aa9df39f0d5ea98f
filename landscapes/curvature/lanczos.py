"""Extreme eigenpairs of the Hessian by Lanczos with full re-orthogonalisation.

From a seeded random unit vector q₁, Lanczos builds an orthonormal basis Q_j of the
Krylov space span{q₁, Hq₁, …, H^{j−1}q₁} and the tridiagonal T_j = Q_jᵀ H Q_j
(diagonal α, off-diagonal β); the eigenvalues θ_i of T_j (Ritz values) converge to
both ends of H's spectrum first (Golub & Van Loan, *Matrix Computations*, §10.1).
Every new vector is orthogonalised against all earlier ones (twice, "twice is
enough"), so no spurious copies of converged eigenvalues appear.

Stopping rule: after each step the Ritz pair (θ_i, y_i = Q_j s_i) has residual
‖H y_i − θ_i y_i‖ = β_j abs(e_jᵀ s_i) (no extra product); the run stops when every wanted
pair's residual is at most ``tol`` · max_i abs(θ_i) (relative to the spectral norm), or
after ``max_iter`` steps, or when the Krylov space is the whole space. The residuals
‖H y − θ y‖ reported are then measured with one more (batched) product.

``which="largest"`` picks the algebraically largest Ritz values, ``"smallest"`` the
smallest (the most negative curvature where H is indefinite), ``"both"`` both ends
from the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["WHICH", "Eigen", "eigenpairs", "tridiagonal", "random_unit"]

#: Allowed ``which`` values.
WHICH = ("largest", "smallest", "both")


@dataclass
class Eigen:
    """Ritz pairs of one end of the spectrum and how they were found.

    Attributes
    ----------
    values : numpy.ndarray
        Eigenvalue estimates, largest first for the top end, smallest first for the bottom.
    vectors : torch.Tensor or None
        Unit eigenvector estimates as rows (k, P).
    residuals : numpy.ndarray
        ‖H y − θ y‖ of each pair, measured (NaN when not measured).
    estimates : numpy.ndarray
        The same residuals as Lanczos estimates them, β_j abs(e_jᵀ s).
    iterations : int
        Lanczos steps (Hessian-vector products, besides the residuals').
    converged : bool
        Whether the stopping tolerance was met.
    """

    values: np.ndarray
    vectors: torch.Tensor | None
    residuals: np.ndarray
    estimates: np.ndarray
    iterations: int
    converged: bool


def random_unit(size: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device,
                kind: str = "gaussian") -> torch.Tensor:
    """A seeded random unit vector (Gaussian or Rademacher), drawn on the CPU in float64."""
    if kind == "rademacher":
        v = torch.randint(0, 2, (size,), generator=generator, dtype=torch.float64) * 2 - 1
    else:
        v = torch.randn(size, generator=generator, dtype=torch.float64)
    return (v / v.norm()).to(device, dtype)


def _orthogonalise(w: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    for _ in range(2):  # "twice is enough" (Kahan, Parlett)
        w = w - basis.T @ (basis @ w)
    return w


def tridiagonal(matvec, start: torch.Tensor, steps: int, generator: torch.Generator,
                select=None, lock: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray, torch.Tensor, bool, float]:
    """Run Lanczos from ``start`` for at most ``steps`` steps.

    Parameters
    ----------
    matvec : callable
        v ↦ H v on flat vectors.
    start : torch.Tensor
        Unit start vector q₁.
    steps : int
    generator : torch.Generator
        For a fresh direction when the Krylov space closes early (β = 0).
    select : callable, optional
        ``select(alpha, beta, next_beta)`` returning True stops the run (the stopping rule).
    lock : torch.Tensor, optional
        Rows of orthonormal vectors (found eigenvectors) the run stays orthogonal to:
        Lanczos on H restricted to their complement.

    Returns
    -------
    alpha, beta : numpy.ndarray
        T's diagonal (m,) and off-diagonal (m − 1,) in float64.
    basis : torch.Tensor
        Q as rows (m, P).
    stopped : bool
        Whether ``select`` stopped the run.
    last : float
        The norm of the last step's remainder, β_m (0 when the space is exhausted).
    """
    size = start.numel() - (0 if lock is None else lock.shape[0])
    steps = min(steps, size)
    basis = torch.empty((steps, start.numel()), dtype=start.dtype, device=start.device)
    alpha: list[float] = []
    beta: list[float] = []
    q = start
    stopped = False
    b = 0.0
    for j in range(steps):
        basis[j] = q
        w = matvec(q)
        a = float(q @ w)
        alpha.append(a)
        w = _orthogonalise(w, basis[: j + 1] if lock is None else torch.cat([lock, basis[: j + 1]]))
        b = float(w.norm())
        if select is not None and select(np.array(alpha), np.array(beta), b):
            stopped = True
            break
        if j + 1 == steps:
            break
        scale = max(abs(x) for x in alpha) or 1.0
        if b <= 1e-10 * scale * (1 if start.dtype == torch.float64 else 1e3):
            # The Krylov space is invariant: go on in a fresh direction, β = 0.
            fresh = random_unit(start.numel(), generator, start.dtype, start.device)
            w = _orthogonalise(fresh, basis[: j + 1] if lock is None else torch.cat([lock, basis[: j + 1]]))
            q = w / w.norm()
            beta.append(0.0)
        else:
            q = w / b
            beta.append(b)
    m = len(alpha)
    last = 0.0 if m == size else b
    return np.array(alpha), np.array(beta[: m - 1]), basis[:m], stopped, last


def _ends(values: np.ndarray, k: int, which: str) -> dict[str, np.ndarray]:
    order = np.argsort(values)
    out = {}
    if which in ("largest", "both"):
        out["largest"] = order[::-1][:k]
    if which in ("smallest", "both"):
        out["smallest"] = order[:k]
    return out


def _eigh(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    return np.linalg.eigh(t)


def _span(rows: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (rows) of the rows' span; the two ends may share vectors."""
    kept: list[torch.Tensor] = []
    for r in rows:
        for _ in range(2):
            for q in kept:
                r = r - (q @ r) * q
        n = r.norm()
        if float(n) > 1e-6:
            kept.append(r / n)
    return torch.stack(kept)


def _run(matvec, size, k, which, tol, max_iter, gen, dtype, device, lock):
    """One Lanczos run (in the complement of ``lock``): the wanted Ritz pairs per end."""
    free = size - (0 if lock is None else lock.shape[0])
    start = random_unit(size, gen, dtype, device)
    if lock is not None:
        start = _orthogonalise(start, lock)
        start = start / start.norm()
    need = min(free, max(k + 1, 2))

    def enough(a: np.ndarray, b: np.ndarray, nxt: float) -> bool:
        if len(a) < need:
            return False
        theta, s = _eigh(a, b)
        norm = max(np.abs(theta).max(), np.finfo(float).tiny)
        est = nxt * np.abs(s[-1])
        return all((est[i] <= tol * norm).all() for i in _ends(theta, k, which).values())

    alpha, beta, basis, stopped, last = tridiagonal(matvec, start, max_iter, gen, enough, lock)
    theta, s = _eigh(alpha, beta)
    pairs = {}
    for end, idx in _ends(theta, k, which).items():
        coef = torch.as_tensor(s[:, idx].T.copy(), dtype=dtype, device=device)
        y = coef @ basis
        pairs[end] = (theta[idx].copy(), y / y.norm(dim=1, keepdim=True), last * np.abs(s[-1, idx]))
    return pairs, len(alpha), bool(stopped or len(alpha) == free), float(np.abs(theta).max())


def eigenpairs(matvec, size: int, *, k: int, which: str, tol: float, max_iter: int, seed: int,
               dtype: torch.dtype, device: torch.device, vectors: bool = True,
               residuals: bool = True) -> dict[str, Eigen]:
    """The ``k`` extreme eigenpairs of H at the wanted end(s).

    A single start vector sees each distinct eigenvalue once, so for ``k > 1`` the run
    is followed by runs in the complement of the pairs found (explicit deflation):
    a value they find beyond the current k-th (a further copy of a repeated
    eigenvalue, as Hessians of linear layers under a mean-squared loss have) joins the
    set, until a run adds nothing (at most ``k`` such runs).

    Parameters
    ----------
    matvec : callable
        v ↦ H v on flat vectors, (P,) or rows (b, P).
    size : int
        P.
    k, which, tol, max_iter, seed
        As :func:`landscapes.curvature.eigenvalues` takes them (see the module);
        ``max_iter`` bounds each run.
    dtype, device
        Of the vectors.
    vectors : bool
        Keep the eigenvectors.
    residuals : bool
        Measure ‖H y − θ y‖ (k more products per end, in one batched call).

    Returns
    -------
    dict
        ``{"largest": Eigen, "smallest": Eigen}``, the ends asked for; ``iterations``
        counts the steps of every run.
    """
    gen = torch.Generator().manual_seed(seed)
    k = min(k, size)
    pairs, steps, converged, norm = _run(matvec, size, k, which, tol, max_iter, gen, dtype, device, None)
    sign = {"largest": -1.0, "smallest": 1.0}
    for _ in range(k if k > 1 else 0):
        lock = _span(torch.cat([y for _, y, _ in pairs.values()]))
        if lock.shape[0] >= size:
            break
        more, n, ok, other = _run(matvec, size, k, which, tol, max_iter, gen, dtype, device, lock)
        steps += n
        converged = converged and ok
        norm = max(norm, other)
        grew = False
        for end, (values, y, est) in pairs.items():
            v2, y2, e2 = more[end]
            # a newcomer counts only if it beats the current k-th by more than the tolerance
            kth = values[-1] if len(values) == k else (np.inf if end == "largest" else -np.inf)
            better = (v2 > kth + tol * norm) if end == "largest" else (v2 < kth - tol * norm)
            if not better.any():
                continue
            grew = True
            allv = np.concatenate([values, v2])
            order = np.argsort(sign[end] * allv, kind="stable")[:k]
            pairs[end] = (allv[order], torch.cat([y, y2])[torch.as_tensor(order, device=y.device)],
                          np.concatenate([est, e2])[order])
        if not grew:
            break
    out: dict[str, Eigen] = {}
    for end, (values, y, est) in pairs.items():
        res = np.full(len(values), np.nan)
        if residuals:
            hy = matvec(y)
            r = (hy - torch.as_tensor(values, dtype=dtype, device=device)[:, None] * y).norm(dim=1)
            res = r.double().cpu().numpy()
        out[end] = Eigen(values=values, vectors=y if vectors else None, residuals=res, estimates=est,
                         iterations=steps, converged=bool(converged))
    return out
