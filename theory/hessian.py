"""The exact Hessian of the deep linear and quadratic losses, and its spectrum along lines.

Deep linear regression (Goodfellow et al. 2015, §5; :mod:`theory._systems`) with width 1
and depth L computes p x with p = w_1 ⋯ w_L. Its loss is the mean over the N samples,

    J(w) = κ/N Σ_i (p x_i − y_i)² = κ (p² m_xx − 2 p m_xy + m_yy),

with the data moments m_xx = E[x²], m_xy = E[xy], m_yy = E[y²] (E the sample mean), so

    H_ij = ∂²J/∂w_i∂w_j = 2κ [m_xx ∂_i p ∂_j p + (p m_xx − m_xy) ∂_i∂_j p],

which sympy derives once per depth (:func:`hessian_expression`) and :func:`hessian`
evaluates. At θ = 0 the Hessian vanishes for L ≥ 3; for L = 2 it is
[[0, −2κ m_xy], [−2κ m_xy, 0]] with eigenvalues ±2κ m_xy (the saddle); for L = 1 it is
the constant 2κ m_xx. Wider systems (n > 1) use the same formula with matrices,
H = 2κ/N [⟨∂_a P X, ∂_b P X⟩_F + ⟨P X − Y, ∂_a∂_b P X⟩_F] for P = W_L ⋯ W_1, evaluated
exactly in numpy (:mod:`theory._hessian_matrix`).

The quadratic f(θ) = ½ Σ λ_i (θ_i − θ*_i)² (:mod:`theory.quadratic`) has the constant
Hessian diag(λ).

:func:`spectrum` turns Hessians into the quantities the curvature analyses report:
eigenvalues, trace, spectral density moments m_k = tr(H^k)/P (k = 1..4) and the curvature
vᵀHv/‖v‖² along a direction; :func:`deep_linear_line` and :func:`quadratic_line` return
them at every α of a line in the :mod:`landscapes.results` schema (:func:`init_to_final` and
:func:`final_to_final` on the very lines of :mod:`theory.deep_linear`), with variables
``top_eigenvalue`` (dim ``eigen``, descending), ``bottom_eigenvalue`` (dim ``eigen``,
ascending), ``hessian_trace``, ``curvature_along`` and ``density_moment`` (dim ``moment``,
coordinates 1..4).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import sympy as sp
import xarray as xr

from landscapes.results import slice_dataset, validate
from theory import _hessian_matrix, deep_linear
from theory._systems import DeepLinearSystem, kappa, parse_system
from theory.quadratic import QuadraticProblem

__all__ = [
    "MOMENTS",
    "hessian_expression",
    "data_moments",
    "hessian",
    "hessian_along_line",
    "quadratic_hessian",
    "spectrum",
    "deep_linear_line",
    "init_to_final",
    "final_to_final",
    "quadratic_line",
]

#: The orders k of the spectral density moments m_k = tr(H^k)/P.
MOMENTS = (1, 2, 3, 4)


# ------------------------------------------------------------------------- symbolic


@functools.cache
def _symbols(depth: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    weights = tuple(sp.Symbol(f"w_{l}", real=True) for l in range(1, depth + 1))
    data = (
        sp.Symbol("m_xx", nonnegative=True),
        sp.Symbol("m_xy", real=True),
        sp.Symbol("m_yy", nonnegative=True),
        sp.Symbol("kappa", positive=True),
    )
    return weights, data


@functools.cache
def _expression(depth: int) -> tuple[sp.Expr, sp.Matrix]:
    weights, (mxx, mxy, myy, k) = _symbols(depth)
    p = sp.Mul(*weights)
    loss = k * (p**2 * mxx - 2 * p * mxy + myy)
    return loss, sp.hessian(loss, weights)


def hessian_expression(depth: int) -> dict[str, Any]:
    """The sympy loss and Hessian of the width-1 deep linear model of depth L.

    Parameters
    ----------
    depth : int
        L ≥ 1.

    Returns
    -------
    dict
        ``loss`` J(w) = κ (p² m_xx − 2 p m_xy + m_yy), ``hessian`` the L × L sympy
        matrix ∂²J/∂w_i∂w_j, ``weights`` (w_1, …, w_L) and ``data`` (m_xx, m_xy, m_yy, κ).

    Examples
    --------
    >>> e = hessian_expression(2)
    >>> e["hessian"][0, 1]
    kappa*(4*m_xx*w_1*w_2 - 2*m_xy)
    """
    depth = _positive_int(depth, "depth")
    loss, matrix = _expression(depth)
    weights, data = _symbols(depth)
    return {"loss": loss, "hessian": matrix, "weights": weights, "data": data}


@functools.cache
def _numeric(depth: int) -> Callable[..., list[Any]]:
    # One function per entry of the upper triangle, so constant entries still broadcast.
    _, matrix = _expression(depth)
    weights, data = _symbols(depth)
    entries = [sp.factor(matrix[i, j]) for i in range(depth) for j in range(i, depth)]
    return sp.lambdify((*weights, *data), entries, modules="numpy")


def _scalar_hessian(theta: np.ndarray, moments: tuple[float, float, float], k: float) -> np.ndarray:
    depth = theta.shape[-1]
    entries = _numeric(depth)(*(theta[..., l] for l in range(depth)), *moments, k)
    out = np.empty(theta.shape[:-1] + (depth, depth))
    it = iter(entries)
    for i in range(depth):
        for j in range(i, depth):
            value = np.broadcast_to(np.asarray(next(it), dtype=float), theta.shape[:-1])
            out[..., i, j] = value
            out[..., j, i] = value
    return out


# ---------------------------------------------------------------------- validation


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _points(value: Any, name: str, n_parameters: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] != n_parameters:
        raise ValueError(
            f"{name} must have a last axis of length {n_parameters!r} (the system's parameters), "
            f"got shape {arr.shape!r}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _alphas(alphas: Any) -> np.ndarray:
    out = np.linspace(0.0, 1.0, 101) if alphas is None else np.asarray(alphas, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueError(f"alphas must be a non-empty 1-D array of finite numbers, got {alphas!r}")
    return out


# ------------------------------------------------------------------ the deep linear loss


def data_moments(system: DeepLinearSystem) -> tuple[float, float, float]:
    """(m_xx, m_xy, m_yy): the sample means of x², x y and y² of a width-1 system.

    Examples
    --------
    >>> data_moments(parse_system("deep_linear"))
    (1.0, 1.0, 1.0)
    """
    if system.width != 1:
        raise ValueError(f"data moments are scalars only for width 1, got width {system.width!r}")
    n = system.X.shape[1]
    x, y = system.X[0], system.Y[0]
    return float(x @ x) / n, float(x @ y) / n, float(y @ y) / n


def _system(system: str | DeepLinearSystem, seed: int) -> DeepLinearSystem:
    if isinstance(system, DeepLinearSystem):
        return system
    return parse_system(system, seed=seed)


def _hessian(sys: DeepLinearSystem, theta: np.ndarray, k: float) -> np.ndarray:
    if sys.width == 1:
        return _scalar_hessian(theta, data_moments(sys), k)
    return _hessian_matrix.hessian(theta, sys.depth, sys.width, sys.X, sys.Y, k)


def hessian(
    theta: Any,
    system: str | DeepLinearSystem = "deep_linear",
    convention: str = "mse",
    seed: int = 0,
) -> np.ndarray:
    """The exact Hessian ∇²J(θ) of a deep linear system's loss.

    Parameters
    ----------
    theta : array_like, shape (..., P)
        Flat parameter vectors (W_1 first, each row-major, as :mod:`theory.deep_linear`);
        leading axes are a batch.
    system : str or DeepLinearSystem
        ``"deep_linear"`` or ``"deep_linear_L<depth>_w<width>"``.
    convention : {"mse", "half_mse"}
        κ = 1 or κ = ½.
    seed : int
        Seed of the system's data.

    Returns
    -------
    numpy.ndarray
        Shape (..., P, P), symmetric.

    Examples
    --------
    The saddle of the scalar model at the origin has eigenvalues ±2κ m_xy = ±2:

    >>> hessian([0.0, 0.0])
    array([[ 0., -2.],
           [-2.,  0.]])
    >>> hessian([2.0, 0.5])  # a solution: rank one, ∇p ∇pᵀ scaled by 2κ m_xx
    array([[0.5, 2. ],
           [2. , 8. ]])
    """
    sys = _system(system, seed)
    k = kappa(convention)
    return _hessian(sys, _points(theta, "theta", sys.n_parameters), k)


def hessian_along_line(
    a: Any,
    b: Any,
    alphas: Any = None,
    system: str | DeepLinearSystem = "deep_linear",
    convention: str = "mse",
    seed: int = 0,
) -> np.ndarray:
    """∇²J at every point θ(α) = a + α (b − a) of a line.

    Parameters
    ----------
    a, b : array_like, shape (..., P)
        Anchors; leading axes broadcast (e.g. replicates).
    alphas : array_like, optional
        Path coordinates; default 101 points on [0, 1].
    system, convention, seed
        As in :func:`hessian`.

    Returns
    -------
    numpy.ndarray
        Shape (..., len(alphas), P, P).

    Examples
    --------
    >>> h = hessian_along_line([0.0, 0.0], [1.0, 1.0], [0.0, 1.0])
    >>> h.shape, h[1].tolist()
    ((2, 2, 2), [[2.0, 2.0], [2.0, 2.0]])
    """
    sys = _system(system, seed)
    k = kappa(convention)
    a, b = np.broadcast_arrays(_points(a, "a", sys.n_parameters), _points(b, "b", sys.n_parameters))
    al = _alphas(alphas)
    theta = a[..., None, :] + al[:, None] * (b - a)[..., None, :]
    return _hessian(sys, theta, k)


def quadratic_hessian(problem: QuadraticProblem) -> np.ndarray:
    """diag(λ): the constant Hessian of f(θ) = ½ Σ λ_i (θ_i − θ*_i)² (dense, d × d).

    Examples
    --------
    >>> from theory.quadratic import problem
    >>> quadratic_hessian(problem(3, n_levels=3, eigenvalue_range=(1.0, 4.0))).diagonal().tolist()
    [1.0, 2.0, 4.0]
    """
    if not isinstance(problem, QuadraticProblem):
        raise ValueError(f"problem must be a theory.quadratic.QuadraticProblem, got {problem!r}")
    return np.diag(problem.eigenvalues.astype(float))


# ------------------------------------------------------------------------ the spectrum


def spectrum(hessians: Any, direction: Any = None, k: int | None = None) -> dict[str, np.ndarray]:
    """Eigenvalues, trace, density moments and directional curvature of symmetric matrices.

    Parameters
    ----------
    hessians : array_like, shape (..., P, P)
        Symmetric matrices.
    direction : array_like, shape (..., P), optional
        v for the curvature vᵀHv/‖v‖² (broadcast against the leading axes); NaN without.
    k : int, optional
        How many top and bottom eigenvalues to keep; default all P.

    Returns
    -------
    dict of str to numpy.ndarray
        ``eigenvalues`` (..., P) ascending; ``top_eigenvalue`` (..., k) descending;
        ``bottom_eigenvalue`` (..., k) ascending; ``hessian_trace`` (...);
        ``density_moment`` (..., 4) m_k = tr(H^k)/P = mean(λ^k), k = 1..4;
        ``curvature_along`` (...).

    Examples
    --------
    >>> s = spectrum(np.diag([3.0, -1.0]), direction=[1.0, 1.0])
    >>> s["top_eigenvalue"].tolist(), float(s["hessian_trace"]), float(s["curvature_along"])
    ([3.0, -1.0], 2.0, 1.0)
    >>> s["density_moment"].tolist()
    [1.0, 5.0, 13.0, 41.0]
    """
    h = np.asarray(hessians, dtype=float)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2] or h.shape[-1] == 0:
        raise ValueError(f"hessians must have shape (..., P, P), got {h.shape!r}")
    if not np.all(np.isfinite(h)):
        raise ValueError("hessians must be finite")
    n = h.shape[-1]
    k = n if k is None else _positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be <= P = {n!r}, got {k!r}")
    v = None
    if direction is not None:
        v = np.asarray(direction, dtype=float)
        if v.ndim == 0 or v.shape[-1] != n or not np.all(np.isfinite(v)):
            raise ValueError(
                f"direction must be finite with a last axis of length {n!r}, got shape {v.shape!r}"
            )
    return _spectrum(h, v, k)


def _spectrum(h: np.ndarray, v: np.ndarray | None, k: int) -> dict[str, np.ndarray]:
    # Symmetrise against rounding so eigvalsh reads both triangles alike.
    h = 0.5 * (h + np.swapaxes(h, -1, -2))
    lam = np.linalg.eigvalsh(h)
    out = {
        "eigenvalues": lam,
        "top_eigenvalue": lam[..., ::-1][..., :k],
        "bottom_eigenvalue": lam[..., :k],
        "hessian_trace": np.trace(h, axis1=-2, axis2=-1),
        "density_moment": np.stack([np.mean(lam**m, axis=-1) for m in MOMENTS], axis=-1),
    }
    out["curvature_along"] = _along(h, v)
    return out


def _along(h: np.ndarray, v: np.ndarray | None) -> np.ndarray:
    if v is None:
        return np.full(h.shape[:-2], np.nan)
    v = np.broadcast_to(v, h.shape[:-1])
    norm2 = np.sum(v * v, axis=-1)
    quad = np.einsum("...i,...ij,...j->...", v, h, v)
    # A zero direction (a line between identical anchors) has no curvature.
    return np.divide(quad, norm2, out=np.full(quad.shape, np.nan), where=norm2 > 0)


_LONG_NAMES = {
    "top_eigenvalue": ("eigen", "largest Hessian eigenvalues, descending"),
    "bottom_eigenvalue": ("eigen", "smallest Hessian eigenvalues, ascending"),
    "hessian_trace": (None, "trace of the Hessian"),
    "curvature_along": (None, "v^T H v / |v|^2 along the line"),
    "density_moment": ("moment", "spectral density moment tr(H^k)/P"),
}


def _curvature_vars(
    stats: dict[str, np.ndarray], lead_dims: tuple[str, ...]
) -> dict[str, xr.DataArray]:
    out = {}
    for name, (extra, long_name) in _LONG_NAMES.items():
        dims = lead_dims if extra is None else lead_dims + (extra,)
        out[name] = xr.DataArray(stats[name], dims=dims, attrs={"long_name": long_name})
    return out


def _with_curvature(
    ds: xr.Dataset, stats: dict[str, np.ndarray], lead_dims: tuple[str, ...], k: int
) -> xr.Dataset:
    ds = ds.assign(_curvature_vars(stats, lead_dims))
    ds = ds.assign_coords(eigen=np.arange(k), moment=np.array(MOMENTS))
    return validate(ds)


def deep_linear_line(
    a: Any,
    b: Any,
    alphas: Any = None,
    system: str | DeepLinearSystem = "deep_linear",
    convention: str = "mse",
    seed: int = 0,
    k: int | None = None,
    direction: Any = None,
    analysis: str = "curvature",
) -> xr.Dataset:
    """Loss and exact Hessian spectrum at every α of the lines a[r] → b[r] of a deep linear system.

    Parameters
    ----------
    a, b : array_like, shape (P,) or (R, P)
        Anchors, e.g. ``anchors(...)["init"]`` and ``["final"]`` of
        :func:`theory.deep_linear.anchors`; a leading axis is ``replicate``.
    alphas : array_like, optional
        Default 101 points on [0, 1].
    system, convention, seed
        As in :func:`hessian`.
    k : int, optional
        Eigenvalues kept at each end of the spectrum (dim ``eigen``); default all P.
    direction : array_like, shape (P,) or (R, P), optional
        v of ``curvature_along``; default the line's own direction b − a.
    analysis : str
        The dataset's ``analysis`` attribute.

    Returns
    -------
    xarray.Dataset
        Slice dataset, dims ([replicate,] alpha), with ``loss`` and the curvature
        variables (see the module docstring).

    Examples
    --------
    >>> ds = deep_linear_line([0.0, 0.0], [1.0, 1.0], [0.0, 0.5, 1.0])
    >>> ds.top_eigenvalue.sel(eigen=0).values.tolist(), ds.curvature_along.values.tolist()
    ([2.0, 1.5, 4.0], [-2.0, -0.5, 4.0])
    """
    sys = _system(system, seed)
    kap = kappa(convention)
    P = sys.n_parameters
    a_, b_ = np.broadcast_arrays(_points(a, "a", P), _points(b, "b", P))
    if a_.ndim > 2:
        raise ValueError(f"a and b must be (P,) or (replicates, P), got shape {a_.shape!r}")
    k = P if k is None else _positive_int(k, "k")
    if k > P:
        raise ValueError(f"k must be <= P = {P!r}, got {k!r}")
    al = _alphas(alphas)
    v = b_ - a_ if direction is None else _points(direction, "direction", P)
    v = np.broadcast_to(v, a_.shape)
    theta = a_[..., None, :] + al[:, None] * (b_ - a_)[..., None, :]
    # One replicate at a time bounds memory at (alphas, P, P).
    rows = [_spectrum(_hessian(sys, t, kap), d[None, :], k)
            for t, d in zip(theta.reshape(-1, al.size, P), v.reshape(-1, P))]
    stats = {name: np.stack([r[name] for r in rows]).reshape(theta.shape[:-2] + rows[0][name].shape)
             for name in rows[0]}
    loss = np.array([sys.loss(t, convention) for t in theta.reshape(-1, P)])
    loss = loss.reshape(theta.shape[:-1])
    dims = ("replicate", "alpha") if a_.ndim == 2 else ("alpha",)
    coords = {"replicate": np.arange(a_.shape[0])} if a_.ndim == 2 else {}
    norm = np.linalg.norm(b_ - a_, axis=-1)
    ds = slice_dataset(
        loss, alpha=al, dims=dims, coords=coords,
        distance=(dims, al * np.asarray(norm)[..., None]),
        analysis=analysis, system=sys.name, seeds={"data": seed},
        hyperparameters={"convention": convention,
                         "hessian": "exact (sympy)" if sys.width == 1 else "exact (numpy)"},
        device="sympy" if sys.width == 1 else "numpy",
    )
    return _with_curvature(ds, stats, dims, k)


_ANCHOR_DOC = """
    Parameters
    ----------
    system, n_replicates, seed, init_scale, alphas, convention, learning_rate, max_steps
        As in :func:`theory.deep_linear.init_to_final`; the lines are exactly its lines
        (the points of :func:`theory.deep_linear.anchors`).
    k : int, optional
        Eigenvalues kept at each end of the spectrum; default all P.

    Returns
    -------
    xarray.Dataset
        As :func:`deep_linear_line`, dims (replicate, alpha), ``curvature_along`` along
        the line itself.
"""


def init_to_final(
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    alphas: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
    k: int | None = None,
) -> xr.Dataset:
    """Exact curvature at every α of the init → solution lines of a deep linear system.
    {anchors}
    Examples
    --------
    >>> ds = init_to_final(n_replicates=2, alphas=[0.0, 1.0])
    >>> bool((ds.bottom_eigenvalue.isel(alpha=0, eigen=0) < 0).all())  # near the saddle
    True
    >>> ds.bottom_eigenvalue.isel(alpha=-1, eigen=0).values.round(9).tolist()  # flat: w1 w2 = 1
    [0.0, 0.0]
    """
    points = deep_linear.anchors(system, n_replicates, seed, init_scale, convention=convention,
                                 learning_rate=learning_rate, max_steps=max_steps)
    return deep_linear_line(points["init"], points["final"], alphas, system, convention, seed, k,
                            analysis="curvature_init_to_final")


def final_to_final(
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    alphas: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
    k: int | None = None,
) -> xr.Dataset:
    """Exact curvature at every α of the lines between two solutions from independent inits.
    {anchors}
    Examples
    --------
    >>> ds = final_to_final(n_replicates=2, alphas=[0.0, 0.5, 1.0])
    >>> ds.hessian_trace.dims
    ('replicate', 'alpha')
    """
    points = deep_linear.anchors(system, n_replicates, seed, init_scale, convention=convention,
                                 learning_rate=learning_rate, max_steps=max_steps)
    return deep_linear_line(points["final"], points["other_final"], alphas, system, convention,
                            seed, k, analysis="curvature_final_to_final")


for _fn in (init_to_final, final_to_final):
    _fn.__doc__ = _fn.__doc__.replace("{anchors}", _ANCHOR_DOC.rstrip() + "\n")
del _fn


def quadratic_line(
    problem: QuadraticProblem,
    a: Any = None,
    b: Any = None,
    alphas: Any = None,
    k: int = 10,
    direction: Any = None,
) -> xr.Dataset:
    """Loss and the (constant) Hessian spectrum diag(λ) along a line of the quadratic.

    Computed from the eigenvalues, never a dense d × d matrix, so the paper's d = 100,000
    is cheap.

    Parameters
    ----------
    problem : QuadraticProblem
    a, b : array_like, shape (d,), optional
        Anchors; default the start θ_0 and the solution θ*.
    alphas : array_like, optional
        Default 101 points on [0, 1].
    k : int
        Eigenvalues kept at each end of the spectrum (at most d).
    direction : array_like, shape (d,), optional
        v of ``curvature_along``; default b − a.

    Returns
    -------
    xarray.Dataset
        Slice dataset, dim ``alpha``.

    Examples
    --------
    >>> from theory.quadratic import problem
    >>> ds = quadratic_line(problem(100, n_levels=10), alphas=[0.0, 1.0], k=2)
    >>> ds.top_eigenvalue.isel(alpha=0).values.round(6).tolist(), float(ds.loss.isel(alpha=-1))
    ([1.0, 1.0], 0.0)
    """
    if not isinstance(problem, QuadraticProblem):
        raise ValueError(f"problem must be a theory.quadratic.QuadraticProblem, got {problem!r}")
    d = problem.dimension
    k = _positive_int(k, "k")
    if k > d:
        raise ValueError(f"k must be <= d = {d!r}, got {k!r}")
    a_ = problem.start if a is None else _points(a, "a", d)
    b_ = problem.solution if b is None else _points(b, "b", d)
    if a_.ndim != 1 or b_.ndim != 1:
        raise ValueError(f"a and b must each be one point of shape ({d!r},)")
    v = b_ - a_ if direction is None else _points(direction, "direction", d)
    al = _alphas(alphas)
    lam = np.sort(problem.eigenvalues.astype(float))
    n = al.size
    norm2 = float(v @ v)
    along = float(np.sum(problem.eigenvalues * v * v) / norm2) if norm2 > 0 else np.nan
    stats = {
        "top_eigenvalue": np.broadcast_to(lam[::-1][:k], (n, k)),
        "bottom_eigenvalue": np.broadcast_to(lam[:k], (n, k)),
        "hessian_trace": np.full(n, lam.sum()),
        "curvature_along": np.full(n, along),
        "density_moment": np.broadcast_to(np.array([np.mean(lam**m) for m in MOMENTS]),
                                          (n, len(MOMENTS))),
    }
    x0, x1 = a_ - problem.solution, b_ - problem.solution
    loss = np.array([0.5 * float(np.sum(problem.eigenvalues * ((1 - t) * x0 + t * x1) ** 2))
                     for t in al])
    ds = slice_dataset(
        loss, alpha=al, distance=al * np.linalg.norm(b_ - a_),
        analysis="curvature", system="quadratic", seeds={"problem": problem.seed},
        hyperparameters={"dimension": d, "hessian": "diag(eigenvalues)"}, device="numpy",
    )
    return _with_curvature(ds, stats, ("alpha",), k)
