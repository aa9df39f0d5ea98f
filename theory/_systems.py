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
        Inputs (n, N) and targets (n, N); Y = M X for a seeded teacher M.
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

    def gradient(self, theta: np.ndarray, convention: str = "mse") -> np.ndarray:
        weights = self.unflatten(theta)
        n_samples = self.X.shape[1]
        residual = _chain(weights) @ self.X - self.Y
        # dJ/dW_l = (2κ/N) (W_L⋯W_{l+1})ᵀ R Xᵀ (W_{l-1}⋯W_1)ᵀ.
        outer = 2.0 * kappa(convention) / n_samples * residual @ self.X.T
        grads = []
        eye = np.eye(self.width)
        for l in range(self.depth):
            above = _chain(weights[l + 1 :]) if l + 1 < self.depth else eye
            below = _chain(weights[:l]) if l > 0 else eye
            grads.append(above.T @ outer @ below.T)
        return self.flatten(grads)

    def init(self, rng: np.random.Generator, scale: float) -> np.ndarray:
        """A Gaussian init with standard deviation ``scale`` per weight."""
        return scale * rng.standard_normal(self.n_parameters)

    def descend(
        self,
        theta: np.ndarray,
        learning_rate: float,
        steps: int,
        convention: str = "mse",
        record: np.ndarray | None = None,
        tol: float = 1e-13,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Plain gradient descent; stops early once the gradient vanishes.

        Returns the last iterate and, when ``record`` lists iterations, the iterates at
        those iterations (the last iterate stands in for iterations after convergence).
        """
        theta = np.array(theta, dtype=float)
        wanted = None if record is None else np.asarray(record, dtype=int)
        saved = None if wanted is None else np.empty((wanted.size, theta.size))
        for k in range(steps + 1):
            if saved is not None:
                saved[wanted == k] = theta
            grad = self.gradient(theta, convention)
            if float(grad @ grad) < tol**2:
                if saved is not None:
                    saved[wanted > k] = theta
                break
            if k < steps:
                theta = theta - learning_rate * grad
        return theta, saved


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
    X = rng.standard_normal((width, n))
    teacher = rng.standard_normal((width, width)) / np.sqrt(width)
    return DeepLinearSystem(name=name, depth=depth, width=width, X=X, Y=teacher @ X, seed=seed)
