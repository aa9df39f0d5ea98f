"""The random-walk baseline of Goodfellow et al. (2015), Appendix B, Fig. 11.

A walk θ_0 = 0, θ_t = θ_(t−1) + σ_t z_t with z_t ~ N(0, I_d) (σ_t = 1 in the paper) runs
for 1000 steps; step T = 900 is taken as the "solution". With e = θ_T/‖θ_T‖ the plots
show the projection P_t = ⟨θ_t, e⟩ and the residual R_t = ‖θ_t − P_t e‖.

Exact law. Let V_t = Σ_(s ≤ t) σ_s² (V_t = t for unit steps) and m_t = V_(t∧T) / V_T.
Then θ_t = m_t θ_T + G_t where the Gaussian process G is independent of θ_T, isotropic,
with per-coordinate variance S_t² = V_t − V_(t∧T)² / V_T (the Brownian bridge
t(T − t)/T before T, the fresh walk t − T after). Hence, with μ_k = E χ_k =
√2 Γ((k + 1)/2) / Γ(k/2),

    E P_t = m_t √V_T μ_d,        Var P_t = m_t² V_T (d − μ_d²) + S_t²,
    E R_t = S_t μ_(d−1),         Var R_t = S_t² (d − 1 − μ_(d−1)²),
    E ‖θ_t‖ = √V_t μ_d.

High-dimensional limit. μ_d / √d → 1 and the fluctuations are O(1) while the means
grow like √d, so in units of ‖θ_T‖ ≈ √(d V_T) the curve becomes deterministic:
x_t = V_(t∧T)/V_T, y_t = S_t / √V_T. For unit steps, with τ = t/T,

    x = τ,  y = √(τ (1 − τ))   (τ ≤ 1: the semicircle (x − ½)² + y² = ¼),
    x = 1,  y = √(τ − 1)       (τ > 1: a vertical rise above the solution).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.special import gammaln

from landscapes.results import trajectory_dataset

__all__ = [
    "chi_mean",
    "expected_projection",
    "expected_residual",
    "expected_norm",
    "projection_variance",
    "residual_variance",
    "limit_curve",
    "expected",
    "monte_carlo",
    "step_sizes",
    "matched_walk",
]

_METHODS = ("auto", "walk", "reduced")
# Above this dimension "auto" uses the reduced simulation: the literal walk costs
# O(d × steps) normals per walk.
_AUTO_WALK_MAX_D = 1000
_CHUNK = 1 << 22


# ------------------------------------------------------------------------ validation


def _dim(d: Any, name: str = "d") -> np.ndarray:
    arr = np.asarray(d)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise ValueError(f"{name} must be a positive integer dimension, got {d!r}")
    if np.any(arr < 1):
        raise ValueError(f"{name} must be a positive integer dimension, got {d!r}")
    return arr.astype(float)


def _horizon(T: Any) -> float:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer step, got {T!r}")
    return float(T)


def _times(t: Any) -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"t must be finite and >= 0, got {t!r}")
    return arr


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ----------------------------------------------------------------------- closed forms


def chi_mean(k: Any) -> np.ndarray:
    """μ_k = E χ_k = √2 Γ((k + 1)/2) / Γ(k/2), the mean norm of a k-dim standard normal.

    Parameters
    ----------
    k : array_like of int
        Degrees of freedom (0 gives 0).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> bool(np.isclose(chi_mean(1), np.sqrt(2 / np.pi), rtol=1e-14, atol=0))
    True
    >>> round(float(chi_mean(100_000) / np.sqrt(100_000)), 6)  # μ_d ≈ √d (1 − 1/(4d))
    0.999998
    """
    k = np.asarray(k, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(2.0) * np.exp(gammaln((k + 1) / 2) - gammaln(k / 2))
    return np.where(k > 0, out, 0.0)


def _moments(V: np.ndarray, VT: float, Vmin: np.ndarray,
             rest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """m_t and S_t² from cumulative variances.

    S_t² = V_t − V_(t∧T)²/V_T is written as V_(t∧T)(V_T − V_(t∧T))/V_T + (V_t − V_(t∧T)):
    near the solution V_T − V_t is a small difference of two large sums, so ``rest``
    (V_T − V_(t∧T) summed from the steps themselves) keeps its digits where given.
    """
    m = Vmin / VT
    if rest is None:
        rest = VT - Vmin
    S2 = np.maximum(Vmin * rest / VT + (V - Vmin), 0.0)
    return m, S2


def _unit(t: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray]:
    return _moments(t, T, np.minimum(t, T))


def expected_projection(t: Any, d: Any, T: int = 900) -> np.ndarray:
    """E P_t = (min(t, T)/T) √T μ_d for the unit Gaussian walk in d dimensions.

    Parameters
    ----------
    t : array_like
        Steps (t ≥ 0; broadcasts with ``d``).
    d : array_like of int
        Dimension.
    T : int
        The step taken as the solution.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> bool(np.isclose(expected_projection(900, 1), 30 * np.sqrt(2 / np.pi), rtol=1e-14, atol=0))
    True
    """
    t, d, T = _times(t), _dim(d), _horizon(T)
    m, _ = _unit(t, T)
    return m * np.sqrt(T) * chi_mean(d)


def expected_residual(t: Any, d: Any, T: int = 900) -> np.ndarray:
    """E R_t = S_t μ_(d−1), S_t² = t(T − t)/T for t ≤ T and t − T after.

    Examples
    --------
    >>> expected_residual([0, 900], 1000).tolist()
    [0.0, 0.0]
    >>> bool(np.isclose(expected_residual(450, 2), 15 * np.sqrt(2 / np.pi), rtol=1e-14, atol=0))
    True
    """
    t, d, T = _times(t), _dim(d), _horizon(T)
    _, S2 = _unit(t, T)
    return np.sqrt(S2) * chi_mean(d - 1)


def expected_norm(t: Any, d: Any) -> np.ndarray:
    """E ‖θ_t‖ = √t μ_d (the walk starts at the origin).

    Examples
    --------
    >>> bool(np.isclose(expected_norm(4, 1), 2 * np.sqrt(2 / np.pi), rtol=1e-14, atol=0))
    True
    """
    t, d = _times(t), _dim(d)
    return np.sqrt(t) * chi_mean(d)


def projection_variance(t: Any, d: Any, T: int = 900) -> np.ndarray:
    """Var P_t = m_t² T (d − μ_d²) + S_t² (unit walk).

    Examples
    --------
    >>> float(projection_variance(0, 5))
    0.0
    """
    t, d, T = _times(t), _dim(d), _horizon(T)
    m, S2 = _unit(t, T)
    return m**2 * T * (d - chi_mean(d) ** 2) + S2


def residual_variance(t: Any, d: Any, T: int = 900) -> np.ndarray:
    """Var R_t = S_t² (d − 1 − μ_(d−1)²) (unit walk).

    Examples
    --------
    >>> float(residual_variance(900, 50))
    0.0
    """
    t, d, T = _times(t), _dim(d), _horizon(T)
    _, S2 = _unit(t, T)
    return S2 * (d - 1 - chi_mean(d - 1) ** 2)


def limit_curve(t: Any, T: int = 900) -> tuple[np.ndarray, np.ndarray]:
    """The d → ∞ shape of (projection, residual) in units of ‖θ_T‖.

    With τ = t/T: (τ, √(τ(1 − τ))) for τ ≤ 1 — the semicircle on the diameter from the
    start to the solution — and (1, √(τ − 1)) after the solution.

    Parameters
    ----------
    t : array_like
        Steps.
    T : int
        The solution step.

    Returns
    -------
    x, y : numpy.ndarray
        lim E P_t / ‖θ_T‖ and lim E R_t / ‖θ_T‖ as d → ∞.

    Examples
    --------
    >>> x, y = limit_curve([0, 450, 900, 1800])
    >>> x.tolist(), y.tolist()
    ([0.0, 0.5, 1.0, 1.0], [0.0, 0.5, 0.0, 1.0])
    """
    t, T = _times(t), _horizon(T)
    m, S2 = _unit(t, T)
    return m, np.sqrt(S2 / T)


# ------------------------------------------------------------------------- simulation


def _walk_sample(
    key: tuple[int, ...], sigma: np.ndarray, d: int, T: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Literal walk in d dimensions, coordinates in chunks so memory stays bounded.

    Each chunk of coordinates has its own generator, so a second pass can regenerate it:
    the first pass finds e = θ_T/‖θ_T‖, the second forms θ_t − P_t e explicitly, which
    keeps R_t accurate where θ_t is nearly parallel to e (‖θ‖² − P² would cancel).
    """
    n = sigma.size
    chunk = max(1, _CHUNK // max(n, 1))
    starts = range(0, d, chunk)

    def block(i: int, start: int) -> np.ndarray:
        rng = np.random.default_rng((*key, i))
        theta = np.zeros((n + 1, min(chunk, d - start)))
        np.cumsum(sigma[:, None] * rng.standard_normal((n, theta.shape[1])), axis=0, out=theta[1:])
        return theta

    blocks = [block(i, s) for i, s in enumerate(starts)] if len(starts) == 1 else None
    dot = np.zeros(n + 1)  # ⟨θ_t, θ_T⟩
    sq = np.zeros(n + 1)  # ‖θ_t‖²
    for i, s in enumerate(starts):
        theta = blocks[i] if blocks else block(i, s)
        dot += theta @ theta[T]
        sq += np.einsum("ij,ij->i", theta, theta)
    norm_T = np.sqrt(sq[T])
    proj = dot / norm_T if norm_T > 0 else np.zeros_like(dot)
    resid_sq = np.zeros(n + 1)
    for i, s in enumerate(starts):
        theta = blocks[i] if blocks else block(i, s)
        e = theta[T] / norm_T if norm_T > 0 else np.zeros(theta.shape[1])
        off = theta - proj[:, None] * e[None, :]
        resid_sq += np.einsum("ij,ij->i", off, off)
    return proj, np.sqrt(resid_sq), np.sqrt(sq)


def _reduced_sample(
    rng: np.random.Generator, sigma: np.ndarray, d: int, T: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same law as the literal walk in O(steps): θ_t = m_t θ_T + G_t, G ⟂ θ_T.

    P_t = m_t ‖θ_T‖ + g_t with g one coordinate of G; R_t² is the squared norm of d − 1
    more, a squared Bessel process: a time-changed BESQ(d − 1) before T, a fresh one
    after, sampled exactly through its noncentral-χ² transitions.
    """
    V = np.concatenate([[0.0], np.cumsum(sigma**2)])
    VT = V[T]
    Vmin = np.minimum(V, VT)
    m, S2 = _moments(V, VT, Vmin)
    norm_T = np.sqrt(VT * rng.chisquare(d))
    w = np.concatenate([[0.0], np.cumsum(sigma * rng.standard_normal(sigma.size))])
    g = w - m * w[T]
    # Clock of the squared Bessel process, and its prefactor: before T the bridge is
    # (1 − V_t/V_T) W(h_t), h_t = V_t/(1 − V_t/V_T); after T it is W'(V_t − V_T).
    before = np.arange(V.size) < T
    clock = np.where(before, V / np.where(before, 1 - V / VT, 1.0), V - VT)
    factor = np.where(before, (1 - V / VT) ** 2, 1.0)
    q = np.zeros(V.size)
    k = d - 1
    if k > 0:
        level, last = 0.0, 0.0
        for i in range(1, V.size):
            if i == T:
                level, last = 0.0, 0.0
                continue
            dh = clock[i] - last
            if dh > 0:
                level = dh * (rng.noncentral_chisquare(k, level / dh) if level > 0 else rng.chisquare(k))
            q[i] = level
            last = clock[i]
    resid = np.sqrt(factor * q)
    proj = m * norm_T + g
    norm = np.sqrt(proj**2 + resid**2)
    return proj, resid, norm


def _method(method: str, d: int) -> str:
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(_METHODS)}")
    if method == "auto":
        return "walk" if d <= _AUTO_WALK_MAX_D else "reduced"
    return method


def _steps(n_steps: Any, T: Any) -> tuple[int, int]:
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    T_ = int(_horizon(T))
    if T_ > n_steps:
        raise ValueError(f"T must be <= n_steps = {n_steps!r}, got {T!r}")
    return int(n_steps), T_


def _dimensions(dimensions: Any) -> list[int]:
    arr = np.atleast_1d(_dim(dimensions, "dimensions"))
    if arr.ndim != 1:
        raise ValueError(f"dimensions must be a 1-D list of integers, got {dimensions!r}")
    return [int(x) for x in arr]


def expected(dimensions: Any = (2, 10, 100, 1000, 100_000), n_steps: int = 1000, T: int = 900) -> xr.Dataset:
    """Exact expected projection, residual and norm of the unit walk, per dimension.

    Parameters
    ----------
    dimensions : sequence of int
        The d of each curve (dimension ``dimension``).
    n_steps : int
        Steps in the walk (the paper's 1000).
    T : int
        The solution step (the paper's 900).

    Returns
    -------
    xarray.Dataset
        Trajectory dataset, dims (dimension, step), plus ``limit_projection`` and
        ``limit_residual`` (dims step): the d → ∞ curve of :func:`limit_curve`, in units
        of ‖θ_T‖.

    Examples
    --------
    >>> ds = expected([10, 1000])
    >>> ds.projection.dims, int(ds.step[-1])
    (('dimension', 'step'), 1000)
    """
    dims_ = _dimensions(dimensions)
    n_steps, T = _steps(n_steps, T)
    t = np.arange(n_steps + 1, dtype=float)
    d = np.asarray(dims_, dtype=float)[:, None]
    x, y = limit_curve(t, T)
    ds = trajectory_dataset(
        expected_projection(t, d, T),
        expected_residual(t, d, T),
        expected_norm(t, d),
        step=t.astype(int),
        dims=("dimension", "step"),
        coords={"dimension": dims_},
        extra=None,
        analysis="random_walk_expected",
        system="random_walk",
        hyperparameters={"n_steps": n_steps, "T": T, "step_std": 1.0},
        device="numpy",
    )
    return ds.assign(limit_projection=("step", x), limit_residual=("step", y))


def _simulate(
    sigma: np.ndarray, dims_: list[int], T: int, n_walks: int, seed: int, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    shape = (len(dims_), n_walks, sigma.size + 1)
    proj, resid, norm = np.empty(shape), np.empty(shape), np.empty(shape)
    used = []
    for i, d in enumerate(dims_):
        how = _method(method, d)
        used.append(how)
        for r in range(n_walks):
            # One stream per (dimension, walk): each walk is reproducible on its own.
            key = (seed, d, r)
            if how == "walk":
                proj[i, r], resid[i, r], norm[i, r] = _walk_sample(key, sigma, d, T)
            else:
                sample = _reduced_sample(np.random.default_rng(key), sigma, d, T)
                proj[i, r], resid[i, r], norm[i, r] = sample
    return proj, resid, norm, used


def monte_carlo(
    dimensions: Any = (2, 10, 100, 1000, 100_000),
    n_steps: int = 1000,
    T: int = 900,
    n_walks: int = 8,
    seed: int = 0,
    method: str = "auto",
) -> xr.Dataset:
    """Seeded random walks: projection and residual per dimension (Fig. 11).

    Parameters
    ----------
    dimensions : sequence of int
        The d of each set of walks (dimension ``dimension``).
    n_steps, T : int
        Walk length and solution step.
    n_walks : int
        Walks per dimension (dimension ``replicate``).
    seed : int
        Walk r in dimension d draws from streams keyed by (seed, d, r).
    method : {"auto", "walk", "reduced"}
        ``"walk"`` simulates every coordinate (cost ∝ d); ``"reduced"`` samples the
        same joint law of (P_t, R_t) in O(steps) through the decomposition in the module
        docstring; ``"auto"`` walks up to d = 1000 and reduces above.

    Returns
    -------
    xarray.Dataset
        Trajectory dataset, dims (dimension, replicate, step); ``norm`` is ‖θ_t‖.

    Examples
    --------
    >>> ds = monte_carlo([3, 100_000], n_walks=2)
    >>> ds.projection.dims
    ('dimension', 'replicate', 'step')
    >>> bool(abs(ds.residual.sel(step=900)).max() < 1e-9)
    True
    """
    dims_ = _dimensions(dimensions)
    n_steps, T = _steps(n_steps, T)
    n_walks = _count(n_walks)
    seed = _seed(seed)
    proj, resid, norm, used = _simulate(np.ones(n_steps), dims_, T, n_walks, seed, method)
    return trajectory_dataset(
        proj, resid, norm,
        step=np.arange(n_steps + 1),
        dims=("dimension", "replicate", "step"),
        coords={"dimension": dims_, "replicate": np.arange(n_walks),
                "method": ("dimension", used)},
        analysis="random_walk_monte_carlo",
        system="random_walk",
        seeds={"walk": seed},
        hyperparameters={"n_steps": n_steps, "T": T, "n_walks": n_walks, "method": method},
        device="numpy",
    )


def _count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n_walks must be a non-negative integer, got {n!r}")
    return int(n)


# --------------------------------------------------------------------- matched walks


def step_sizes(thetas: Any) -> np.ndarray:
    """‖θ_k − θ_(k−1)‖ between consecutive rows of a (steps × D) trajectory.

    Examples
    --------
    >>> step_sizes([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]]).tolist()
    [5.0, 0.0]
    """
    X = np.asarray(thetas, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"thetas must be a (steps, D) array with at least 2 rows, got shape {X.shape!r}")
    return np.linalg.norm(np.diff(X, axis=0), axis=1)


def matched_walk(
    thetas: Any = None,
    *,
    sizes: Any = None,
    dimension: int | None = None,
    solution: int = -1,
    steps: Any = None,
    n_walks: int = 0,
    seed: int = 0,
    system: str = "random_walk_matched",
) -> xr.Dataset:
    """The Gaussian walk with the step sizes of a real trajectory, in exact expectation.

    Step k of the walk is σ_k z_k with z_k ~ N(0, I_D) and σ_k² = ‖θ_k − θ_(k−1)‖² / D,
    so every step has the same expected squared length as the trajectory's. With
    V_k = Σ_(j ≤ k) σ_j² the expectations of the module docstring apply unchanged:
    E P_k = (V_(k∧T)/V_T) √V_T μ_D, E R_k = S_k μ_(D−1), E ‖θ_k − θ_0‖ = √V_k μ_D.

    Parameters
    ----------
    thetas : array_like, optional
        The trajectory, (K + 1) × D parameter vectors in training order.
    sizes : array_like, optional
        Instead of ``thetas``: the K step lengths ‖θ_k − θ_(k−1)‖ ...
    dimension : int, optional
        ... and D (required with ``sizes``).
    solution : int
        Row index T of the point used as the solution (default the last row).
    steps : array_like of int, optional
        Training-step labels of the K + 1 rows (coordinate ``step``); default 0..K.
    n_walks : int
        Monte Carlo walks to add (``mc_projection``, ``mc_residual``, ``mc_norm`` with a
        ``replicate`` dimension), sampled with the reduced method; 0 for none.
    seed : int
    system : str
        Name recorded in the dataset (the trajectory's system).

    Returns
    -------
    xarray.Dataset
        Trajectory dataset, dim ``step``: the expected ``projection``, ``residual`` and
        ``norm`` (distance from the start) of the matched walk.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> path = np.cumsum(rng.standard_normal((11, 50)), axis=0)
    >>> ds = matched_walk(path, n_walks=4)
    >>> ds.projection.dims, ds.mc_projection.dims
    (('step',), ('replicate', 'step'))
    """
    if (thetas is None) == (sizes is None):
        raise ValueError("give exactly one of thetas or sizes")
    if thetas is not None:
        sigma_len = step_sizes(thetas)
        D = int(np.asarray(thetas).shape[1])
    else:
        sigma_len = np.asarray(sizes, dtype=float)
        if sigma_len.ndim != 1 or sigma_len.size == 0 or np.any(~np.isfinite(sigma_len)) or np.any(sigma_len < 0):
            raise ValueError(f"sizes must be a 1-D array of finite lengths >= 0, got {sizes!r}")
        if dimension is None:
            raise ValueError("dimension (D) is required with sizes")
        D = int(_dim(dimension, "dimension"))
    K = sigma_len.size
    T = solution + K + 1 if solution < 0 else solution
    if not (isinstance(solution, (int, np.integer)) and 1 <= T <= K):
        raise ValueError(f"solution must index a row after the first (1..{K} or negative), got {solution!r}")
    label = np.arange(K + 1) if steps is None else np.asarray(steps)
    if label.shape != (K + 1,):
        raise ValueError(f"steps must label the {K + 1} rows, got shape {label.shape!r}")
    sigma = sigma_len / np.sqrt(D)
    V = np.concatenate([[0.0], np.cumsum(sigma**2)])
    if V[T] <= 0:
        raise ValueError(f"the trajectory does not move before its solution row {T!r}")
    # V_T − V_k summed backwards from the steps, not as V_T minus V_k (see _moments)
    tail = np.concatenate([np.cumsum((sigma[:T] ** 2)[::-1])[::-1], np.zeros(K + 1 - T)])
    m, S2 = _moments(V, V[T], np.minimum(V, V[T]), rest=tail)
    n_walks = _count(n_walks)
    seed = _seed(seed)
    ds = trajectory_dataset(
        m * np.sqrt(V[T]) * chi_mean(D),
        np.sqrt(S2) * chi_mean(D - 1),
        np.sqrt(V) * chi_mean(D),
        step=label,
        analysis="random_walk_matched",
        system=system,
        seeds={"walk": seed},
        hyperparameters={"dimension": D, "solution": int(T), "n_walks": n_walks},
        device="numpy",
    )
    if n_walks:
        shape = (n_walks, K + 1)
        mc = {name: np.empty(shape) for name in ("mc_projection", "mc_residual", "mc_norm")}
        for r in range(n_walks):
            rng = np.random.default_rng([seed, D, r])
            p, q, _ = _reduced_sample(rng, sigma, D, T)
            mc["mc_projection"][r], mc["mc_residual"][r] = p, q
            mc["mc_norm"][r] = np.sqrt(p**2 + q**2)
        ds = ds.assign({k: (("replicate", "step"), v) for k, v in mc.items()})
        ds = ds.assign_coords(replicate=np.arange(n_walks))
    return ds
