"""Named deep linear regression systems: ``deep_linear`` and ``deep_linear_L<depth>_w<width>``.

A system fixes the data (X, Y) and the depth L; weights are a list [W_1, ..., W_L] with
W_l of shape (n_l, n_{l-1}), and the network computes W_L ⋯ W_1 X. The loss is the mean
over the N samples (columns of X) of the squared Euclidean error, times κ = 1 (``"mse"``)
or κ = ½ (``"half_mse"``):

    J(W) = κ / N · ‖W_L ⋯ W_1 X − Y‖_F².

``deep_linear`` is the scalar model of Goodfellow et al. (2015), §5: L = 2, X = Y = [[1]],
so J = κ (1 − w1 w2)².
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DeepLinearSystem", "CONVENTIONS", "SYSTEM_PATTERNS", "parse_system", "kappa"]

#: Loss conventions and their scale κ.
CONVENTIONS = {"mse": 1.0, "half_mse": 0.5}
#: The names :func:`parse_system` accepts, as shown in error messages.
SYSTEM_PATTERNS = ("deep_linear", "deep_linear_L<depth>_w<width>")
_NAME = re.compile(r"deep_linear_L(\d+)_w(\d+)")


def kappa(convention: str) -> float:
    """Loss scale κ of a convention name, with a clear error for anything else."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; choose from {list(CONVENTIONS)}")
    return CONVENTIONS[convention]


@dataclass(frozen=True)
class DeepLinearSystem:
    """A deep linear regression problem: depth, width and seeded data.

    Attributes
    ----------
    name : str
    depth : int
        L, the number of weight matrices.
    width : int
        n, the size of every layer (input, hidden and output).
    X, Y : numpy.ndarray
        Inputs (n, N) with X Xᵀ / N = I and targets Y = M X (n, N) for a seeded teacher
        M = U diag(2 … 0.5) Vᵀ (U, V random orthogonal); N = 4n.
    seed : int
        Seed of the data.
    """

    name: str
    depth: int
    width: int
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    seed: int = 0

    @property
    def scalar(self) -> bool:
        """True for the scalar model, whose gradient flow has a closed form."""
        return self.name == "deep_linear"

    @property
    def n_parameters(self) -> int:
        return self.depth * self.width * self.width

    def flatten(self, weights: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(w, dtype=float).ravel() for w in weights])

    def unflatten(self, theta: np.ndarray) -> list[np.ndarray]:
        n = self.width
        return [np.asarray(theta[i * n * n : (i + 1) * n * n]).reshape(n, n) for i in range(self.depth)]

    def loss(self, theta: np.ndarray, convention: str = "mse") -> float:
        product = _chain(self.unflatten(theta))
        residual = product @ self.X - self.Y
        return kappa(convention) * float(np.sum(residual**2)) / self.X.shape[1]

    def init(self, rng: np.random.Generator, scale: float) -> np.ndarray:
        """A Gaussian init, standard deviation ``scale / √width`` per weight."""
        return scale / np.sqrt(self.width) * rng.standard_normal(self.n_parameters)

    def default_learning_rate(self, convention: str = "mse") -> float:
        """Half the stability limit 2/λ_max of gradient descent near a balanced solution.

        At a balanced solution the Hessian's largest eigenvalue is about
        2κ L σ_max^(2 − 2/L), σ_max the largest singular value of the teacher.
        """
        teacher = self.Y @ np.linalg.pinv(self.X)
        sigma = float(np.linalg.norm(teacher, 2))
        return 0.5 / (2 * kappa(convention) * self.depth * max(sigma, 1.0) ** (2 - 2 / self.depth))

    def descend(
        self,
        thetas: np.ndarray,
        learning_rate: float,
        steps: int,
        convention: str = "mse",
        record: np.ndarray | None = None,
        tol: float = 1e-12,
    ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """Plain gradient descent on a batch of inits (R, P), all replicates at once.

        Stops once every gradient norm is below ``tol`` (or after ``steps``). Returns the
        last iterates (R, P) and, when ``record`` lists iterations, the iterates at them
        (R, K, P); a converged run stands in for its later iterations; and whether
        every run converged.
        """
        n, L = self.width, self.depth
        W = np.array(thetas, dtype=float).reshape(-1, L, n, n)
        # With Σ = X Xᵀ/N and C = Y Xᵀ/N, dJ/dW = 2κ (W Σ − C) for the product W.
        sigma = self.X @ self.X.T / self.X.shape[1]
        cross = self.Y @ self.X.T / self.X.shape[1]
        scale = 2.0 * kappa(convention)
        wanted = None if record is None else np.asarray(record, dtype=int)
        saved = None if wanted is None else np.empty((W.shape[0], wanted.size, L * n * n))
        eye = np.broadcast_to(np.eye(n), (W.shape[0], n, n))
        converged = False
        for k in range(steps + 1):
            if saved is not None and np.any(wanted == k):
                saved[:, wanted == k] = W.reshape(W.shape[0], 1, -1)
            below = [eye]
            for l in range(L - 1):
                below.append(W[:, l] @ below[-1])
            above = [eye]
            for l in range(L - 1, 0, -1):
                above.append(above[-1] @ W[:, l])
            above = above[::-1]  # above[l] = W_L ⋯ W_(l+2) in 1-based terms
            outer = scale * ((above[0] @ W[:, 0]) @ sigma - cross)
            grad = np.stack(
                [np.swapaxes(above[l], 1, 2) @ outer @ np.swapaxes(below[l], 1, 2) for l in range(L)],
                axis=1,
            )
            if np.max(np.sqrt(np.sum(grad**2, axis=(1, 2, 3)))) < tol:
                if saved is not None:
                    saved[:, wanted > k] = W.reshape(W.shape[0], 1, -1)
                converged = True
                break
            if k < steps:
                W = W - learning_rate * grad
        return W.reshape(W.shape[0], -1), saved, converged


def _chain(weights: list[np.ndarray]) -> np.ndarray:
    """W_L ⋯ W_1 for weights listed W_1 first."""
    out = weights[0]
    for w in weights[1:]:
        out = w @ out
    return out


def parse_system(name: str, seed: int = 0, n_samples: int | None = None) -> DeepLinearSystem:
    """Build the named system; raise ``ValueError`` naming the choices otherwise."""
    if name == "deep_linear":
        one = np.ones((1, 1))
        return DeepLinearSystem(name=name, depth=2, width=1, X=one, Y=one, seed=seed)
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown system {name!r}; choose from {list(SYSTEM_PATTERNS)}")
    depth, width = int(match.group(1)), int(match.group(2))
    if depth < 1 or width < 1:
        raise ValueError(
            f"system {name!r} needs depth >= 1 and width >= 1; choose from {list(SYSTEM_PATTERNS)}"
        )
    rng = np.random.default_rng(seed)
    n = 4 * width if n_samples is None else n_samples
    if n < width:
        raise ValueError(f"n_samples must be >= width = {width!r}, got {n!r}")
    # Whitened inputs (X Xᵀ/N = I) and a teacher with singular values spread over
    # [0.5, 2] keep every mode learnable in a few hundred steps.
    q, _ = np.linalg.qr(rng.standard_normal((n, width)))
    X = np.sqrt(n) * q.T
    u, _ = np.linalg.qr(rng.standard_normal((width, width)))
    v, _ = np.linalg.qr(rng.standard_normal((width, width)))
    teacher = u @ np.diag(np.linspace(2.0, 0.5, width)) @ v.T
    return DeepLinearSystem(name=name, depth=depth, width=width, X=X, Y=teacher @ X, seed=seed)
