"""Gradient descent with momentum on a convex quadratic, exactly (Goodfellow et al. 2015, Fig. 12).

The problem is f(θ) = ½ Σ_i λ_i (θ_i − θ*_i)² in the eigenbasis of its Hessian (norms,
projections and residuals do not depend on the basis), with known solution θ*. Gradient
descent with learning rate ε and momentum μ,

    v_(k+1) = μ v_k − ε ∇f(θ_k),   θ_(k+1) = θ_k + v_(k+1),   v_0 = 0,

acts on each eigendirection x = θ_i − θ*_i by the 2×2 matrix

    M(λ) = [[1 − ελ, μ], [−ελ, μ]],   (x_k, v_k) = M(λ)^k (x_0, 0),

so x_k = c_k(λ) x_0 with c_k(λ) = (M(λ)^k)_00, which also solves
c_(k+1) = (1 + μ − ελ) c_k − μ c_(k−1), c_0 = 1, c_1 = 1 − ελ. The method is stable
when 0 < ελ < 2(1 + μ) and 0 ≤ μ < 1.

Projection and residual on the start→solution axis e = −x_0 / ‖x_0‖ are sums over
directions. Grouping directions by eigenvalue, with A_j = Σ_(i: λ_i = λ_j) x_0,i²:

    P_k = Σ_j (1 − c_k(λ_j)) A_j / ‖x_0‖,
    R_k² = Σ_j A_j (c_k(λ_j) − c̄_k)²,  c̄_k = Σ_j A_j c_k(λ_j) / Σ_j A_j,
    ‖θ_k‖² = ‖θ*‖² + 2 Σ_j c_k(λ_j) B_j + Σ_j c_k(λ_j)² A_j,  B_j = Σ_(i: λ_i = λ_j) θ*_i x_0,i,

so the cost is (steps × distinct eigenvalues × log steps), independent of the dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from landscapes.results import trajectory_dataset

__all__ = [
    "QuadraticProblem",
    "DEFAULT_SETTINGS",
    "problem",
    "contraction",
    "iterate",
    "trajectories",
]

#: The (ε, μ) pairs plotted by default.
DEFAULT_SETTINGS = ((0.1, 0.0), (0.1, 0.5), (0.1, 0.9), (0.5, 0.0), (1.0, 0.0), (1.0, 0.9))


@dataclass(frozen=True)
class QuadraticProblem:
    """f(θ) = ½ Σ λ_i (θ_i − θ*_i)² with a start θ_0.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        λ_i > 0, shape (d,).
    solution : numpy.ndarray
        θ*, shape (d,).
    start : numpy.ndarray
        θ_0, shape (d,).
    seed : int
    """

    eigenvalues: np.ndarray = field(repr=False)
    solution: np.ndarray = field(repr=False)
    start: np.ndarray = field(repr=False)
    seed: int = 0

    @property
    def dimension(self) -> int:
        return int(self.eigenvalues.size)

    def loss(self, theta: np.ndarray) -> float:
        return 0.5 * float(np.sum(self.eigenvalues * (theta - self.solution) ** 2))


def problem(
    dimension: int = 100_000,
    n_levels: int = 100,
    eigenvalue_range: tuple[float, float] = (0.01, 1.0),
    seed: int = 0,
) -> QuadraticProblem:
    """A seeded synthetic convex quadratic (the paper uses d = 100,000).

    Eigenvalues take ``n_levels`` log-spaced values in ``eigenvalue_range``, assigned to
    coordinates in turn; θ* and θ_0 are independent N(0, I_d) draws.

    Parameters
    ----------
    dimension : int
    n_levels : int
        Distinct eigenvalues (at most ``dimension``).
    eigenvalue_range : (float, float)
        Smallest and largest eigenvalue, 0 < λ_min ≤ λ_max.
    seed : int

    Returns
    -------
    QuadraticProblem

    Examples
    --------
    >>> p = problem(1000, n_levels=10)
    >>> p.dimension, np.unique(p.eigenvalues).size
    (1000, 10)
    """
    dimension = _positive_int(dimension, "dimension")
    n_levels = _positive_int(n_levels, "n_levels")
    if n_levels > dimension:
        raise ValueError(f"n_levels must be <= dimension = {dimension!r}, got {n_levels!r}")
    lo, hi = (float(x) for x in eigenvalue_range)
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"eigenvalue_range must satisfy 0 < min <= max < inf, got {eigenvalue_range!r}")
    seed = _seed(seed)
    levels = np.geomspace(lo, hi, n_levels)
    rng = np.random.default_rng(seed)
    eig = levels[np.arange(dimension) % n_levels]
    solution = rng.standard_normal(dimension)
    start = rng.standard_normal(dimension)
    return QuadraticProblem(eigenvalues=eig, solution=solution, start=start, seed=seed)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _steps(steps: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(steps))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu" or np.any(arr < 0):
        raise ValueError(f"steps must be a 1-D array of integers >= 0, got {steps!r}")
    return arr.astype(np.int64)


def _hyper(learning_rate: Any, momentum: Any) -> tuple[float, float]:
    eps, mu = float(learning_rate), float(momentum)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if not (0 <= mu < 1):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    return eps, mu


def _contraction(eigenvalues: np.ndarray, eps: float, mu: float, steps: np.ndarray) -> np.ndarray:
    """c_k(λ) = (M(λ)^k)_00 for every step and eigenvalue, shape (steps, eigenvalues)."""
    lam = eigenvalues[None, :]
    k = steps[:, None]
    shape = (steps.size, eigenvalues.size)
    # Entries of the running power R and the repeated square B, as 2×2 matrices held
    # elementwise so that one numpy operation updates every (step, eigenvalue) at once.
    r00, r01, r10, r11 = (np.broadcast_to(v, shape).copy() for v in (1.0, 0.0, 0.0, 1.0))
    b00 = np.broadcast_to(1 - eps * lam, shape).copy()
    b01 = np.full(shape, mu)
    b10 = np.broadcast_to(-eps * lam, shape).copy()
    b11 = np.full(shape, mu)
    remaining = np.broadcast_to(k, shape).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        while np.any(remaining):
            odd = (remaining & 1).astype(bool)
            n00 = r00 * b00 + r01 * b10
            n01 = r00 * b01 + r01 * b11
            n10 = r10 * b00 + r11 * b10
            n11 = r10 * b01 + r11 * b11
            r00, r01 = np.where(odd, n00, r00), np.where(odd, n01, r01)
            r10, r11 = np.where(odd, n10, r10), np.where(odd, n11, r11)
            b00, b01, b10, b11 = (
                b00 * b00 + b01 * b10,
                b00 * b01 + b01 * b11,
                b10 * b00 + b11 * b10,
                b10 * b01 + b11 * b11,
            )
            remaining = remaining >> 1
    return r00


def contraction(eigenvalues: Any, learning_rate: float, momentum: float, steps: Any) -> np.ndarray:
    """c_k(λ): the factor by which k steps shrink the error along eigenvalue λ.

    Parameters
    ----------
    eigenvalues : array_like
        λ > 0.
    learning_rate, momentum : float
        ε > 0 and 0 ≤ μ < 1.
    steps : array_like of int
        k ≥ 0.

    Returns
    -------
    numpy.ndarray
        Shape (len(steps), len(eigenvalues)).

    Examples
    --------
    Without momentum c_k = (1 − ελ)^k:

    >>> contraction([0.5], 0.1, 0.0, [0, 1, 2]).ravel().round(6).tolist()
    [1.0, 0.95, 0.9025]
    """
    lam = np.atleast_1d(np.asarray(eigenvalues, dtype=float))
    if lam.ndim != 1 or np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"eigenvalues must be a 1-D array of positive numbers, got {eigenvalues!r}")
    eps, mu = _hyper(learning_rate, momentum)
    return _contraction(lam, eps, mu, _steps(steps))


def iterate(problem: QuadraticProblem, learning_rate: float, momentum: float, step: int) -> np.ndarray:
    """θ_k after ``step`` iterations, in closed form (all d coordinates).

    Examples
    --------
    >>> p = problem(5, n_levels=5)
    >>> bool(np.allclose(iterate(p, 0.5, 0.5, 0), p.start))
    True
    """
    eps, mu = _hyper(learning_rate, momentum)
    k = _steps([step])
    levels, inverse = np.unique(problem.eigenvalues, return_inverse=True)
    c = _contraction(levels, eps, mu, k)[0][inverse]
    return problem.solution + c * (problem.start - problem.solution)


def _curves(
    levels: np.ndarray, A: np.ndarray, B: np.ndarray, C: float, eps: float, mu: float, steps: np.ndarray
) -> tuple[np.ndarray, ...]:
    c = _contraction(levels, eps, mu, steps)
    total = A.sum()
    norm_x0 = np.sqrt(total)
    projection = ((1 - c) * A).sum(axis=1) / norm_x0
    mean_c = (c * A).sum(axis=1) / total
    residual = np.sqrt(((c - mean_c[:, None]) ** 2 * A).sum(axis=1))
    norm = np.sqrt(np.maximum(C + 2 * (c * B).sum(axis=1) + (c**2 * A).sum(axis=1), 0.0))
    loss = 0.5 * (levels * c**2 * A).sum(axis=1)
    return projection, residual, norm, loss


def trajectories(
    settings: Sequence[tuple[float, float]] = DEFAULT_SETTINGS,
    steps: Any = None,
    dimension: int = 100_000,
    n_levels: int = 100,
    eigenvalue_range: tuple[float, float] = (0.01, 1.0),
    seed: int = 0,
    quadratic: QuadraticProblem | None = None,
) -> xr.Dataset:
    """Projection and residual of momentum gradient descent for several (ε, μ) (Fig. 12).

    All runs start at θ_0 and are projected on the axis from θ_0 to the true solution θ*.

    Parameters
    ----------
    settings : sequence of (learning_rate, momentum)
        Dimension ``setting``, with coordinates ``learning_rate`` and ``momentum``.
    steps : array_like of int, optional
        Iterations; default 0..1000.
    dimension, n_levels, eigenvalue_range, seed
        The problem, see :func:`problem`.
    quadratic : QuadraticProblem, optional
        Use this problem instead (its eigenvalues grouped by value).

    Returns
    -------
    xarray.Dataset
        Trajectory dataset, dims (setting, step), with ``residual_ratio`` = residual /
        norm and ``loss`` = f(θ_k).

    Examples
    --------
    >>> ds = trajectories(steps=[0, 10, 100])
    >>> ds.projection.dims, ds.sizes["setting"]
    (('setting', 'step'), 6)
    >>> float(ds.residual.isel(step=0).max())
    0.0
    """
    pairs = [_hyper(*pair) for pair in _settings(settings)]
    steps = _steps(np.arange(1001) if steps is None else steps)
    prob = problem(dimension, n_levels, eigenvalue_range, seed) if quadratic is None else quadratic
    levels, inverse = np.unique(prob.eigenvalues, return_inverse=True)
    x0 = prob.start - prob.solution
    A = np.bincount(inverse, weights=x0**2, minlength=levels.size)
    B = np.bincount(inverse, weights=prob.solution * x0, minlength=levels.size)
    C = float(prob.solution @ prob.solution)
    out = np.array([_curves(levels, A, B, C, eps, mu, steps) for eps, mu in pairs])
    projection, residual, norm, loss = (out[:, i] for i in range(4))
    ratio = np.divide(residual, norm, out=np.zeros_like(norm), where=norm > 0)
    return trajectory_dataset(
        projection, residual, norm,
        step=steps,
        dims=("setting", "step"),
        coords={
            "setting": np.arange(len(pairs)),
            "learning_rate": ("setting", [p[0] for p in pairs]),
            "momentum": ("setting", [p[1] for p in pairs]),
        },
        extra={"residual_ratio": ratio, "loss": loss},
        analysis="quadratic_momentum",
        system="quadratic",
        seeds={"problem": prob.seed},
        hyperparameters={
            "settings": pairs, "dimension": prob.dimension, "n_levels": int(levels.size),
            "eigenvalue_range": [float(levels[0]), float(levels[-1])],
        },
        device="numpy",
    )


def _settings(settings: Any) -> list[tuple[Any, Any]]:
    try:
        pairs = [tuple(p) for p in settings]
    except TypeError:
        raise ValueError(f"settings must be a sequence of (learning_rate, momentum), got {settings!r}") from None
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ValueError(f"settings must be a non-empty sequence of (learning_rate, momentum), got {settings!r}")
    return pairs
