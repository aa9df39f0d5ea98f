"""Exact loss landscapes of deep linear regression (Goodfellow et al. 2015, §5, Figs. 9–10).

The scalar model y = w1·w2·x, trained to output y = 1 at x = 1, has loss

    J(w1, w2) = κ (1 − w1 w2)²,

with κ = 1 by default (``convention="mse"``: squared error of the single sample) or
κ = ½ (``convention="half_mse"``). On a straight line θ(α) = a + α (b − a) between
a = (a1, a2) and b = (b1, b2), the product p(α) = w1(α) w2(α) is quadratic in α, so J(α)
is a quartic whose coefficients, stationary points, barrier and convex region are exact
(:func:`line_coefficients`, :func:`stationary_points`, :func:`barrier`,
:func:`convex_region`; the sympy objects are in :func:`expressions`).

Gradient flow conserves c = w1² − w2², which gives the solution it reaches in closed form
(:func:`gradient_flow_limit`) and the whole trajectory (:func:`gradient_flow`; see
:mod:`theory._flow` for the Riccati equation behind it). Inits with w1 + w2 = 0 are
degenerate: the flow slides into the saddle at the origin (:data:`DEGENERATE_CASES`).

For depth L and width n, J along a line is a polynomial of degree 2L in α whose
coefficients :func:`line_polynomial` computes exactly by multiplying matrix polynomials.
The named systems ``deep_linear`` and ``deep_linear_L<depth>_w<width>`` (:func:`system`)
back the analyses :func:`init_to_final`, :func:`final_to_final`, :func:`random_to_final`,
:func:`from_time_to_final` and :func:`trajectory`, which return the
:mod:`landscapes.results` schema with a ``replicate`` dimension over seeded inits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import warnings

import numpy as np
import xarray as xr

from landscapes.results import slice_dataset, trajectory_dataset
from theory import _flow, _polynomials, _symbolic
from theory._flow import DEGENERATE_CASES, DegenerateInitError
from theory._polynomials import Barrier, StationaryPoints
from theory._systems import CONVENTIONS, SYSTEM_PATTERNS, DeepLinearSystem, kappa, parse_system

__all__ = [
    "CONVENTIONS",
    "DEGENERATE_CASES",
    "SYSTEM_PATTERNS",
    "Barrier",
    "DeepLinearSystem",
    "DegenerateInitError",
    "StationaryPoints",
    "expressions",
    "loss",
    "line_coefficients",
    "loss_along_line",
    "stationary_points",
    "barrier",
    "convex_region",
    "line_polynomial",
    "polynomial_stationary_points",
    "polynomial_barrier",
    "polynomial_convex_region",
    "classify_init",
    "gradient_flow_limit",
    "gradient_flow",
    "system",
    "init_to_final",
    "final_to_final",
    "random_to_final",
    "from_time_to_final",
    "trajectory",
    "anchors",
]

_BARRIER_KINDS = ("rise", "linear")
_ON_DEGENERATE = ("raise", "saddle")


# ------------------------------------------------------------------------ validation


def _pair(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape[-1:] != (2,):
        raise ValueError(f"{name} must be (w1, w2) with last axis of length 2, got shape {arr.shape!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _kind(kind: str) -> str:
    if kind not in _BARRIER_KINDS:
        raise ValueError(f"unknown barrier kind {kind!r}; choose from {list(_BARRIER_KINDS)}")
    return kind


def _window(lo: float, hi: float) -> tuple[float, float]:
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"need a finite window lo <= hi, got ({lo!r}, {hi!r})")
    return float(lo), float(hi)


def _alphas(alphas: Any) -> np.ndarray:
    out = np.linspace(0.0, 1.0, 101) if alphas is None else np.asarray(alphas, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueError(f"alphas must be a non-empty 1-D array of finite numbers, got {alphas!r}")
    return out


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


# -------------------------------------------------------------------- the scalar model


def expressions() -> dict[str, Any]:
    """The sympy objects of the scalar-model derivation, by name.

    Returns
    -------
    dict
        ``loss``, ``line_product``, ``line_loss``, ``line_coefficients`` (lowest degree
        first), ``line_derivative``, ``line_critical_alpha``, ``conserved``, ``u_rate``,
        ``u_plus``, ``u_minus``, ``u_t``, ``limit_w1``, ``limit_w2``, ``saddle_v_t`` (see
        :mod:`theory._symbolic` for the symbols).

    Examples
    --------
    >>> e = expressions()
    >>> e["loss"]
    kappa*(-w_1*w_2 + 1)**2
    >>> len(e["line_coefficients"])
    5
    """
    return dict(_symbolic.expressions())


def loss(w: Any, convention: str = "mse") -> np.ndarray:
    """J(w1, w2) = κ (1 − w1 w2)² of the scalar model.

    Parameters
    ----------
    w : array_like, last axis (w1, w2)
    convention : {"mse", "half_mse"}
        κ = 1 or κ = ½.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> float(loss([0.0, 0.0])), float(loss([2.0, 0.5])), float(loss([0, 0], "half_mse"))
    (1.0, 0.0, 0.5)
    """
    w = _pair(w, "w")
    return kappa(convention) * (1.0 - w[..., 0] * w[..., 1]) ** 2


def line_coefficients(a: Any, b: Any, convention: str = "mse") -> np.ndarray:
    """Exact coefficients of J(α) on the line from a to b, lowest degree first.

    With d = b − a and p(α) = a1 a2 + α (a1 d2 + a2 d1) + α² d1 d2,
    J(α) = κ (1 − p(α))², a quartic in α.

    Parameters
    ----------
    a, b : array_like
        Endpoints (w1, w2); leading axes broadcast.
    convention : {"mse", "half_mse"}

    Returns
    -------
    numpy.ndarray
        Shape (..., 5).

    Examples
    --------
    >>> line_coefficients([0, 0], [1, 1])
    array([ 1.,  0., -2.,  0.,  1.])
    """
    a, b = np.broadcast_arrays(_pair(a, "a"), _pair(b, "b"))
    k = kappa(convention)
    d = b - a
    coef = _symbolic.numeric("line_coefficients")(a[..., 0], a[..., 1], d[..., 0], d[..., 1], k)
    shape = a.shape[:-1]
    # Adding 0.0 turns the −0.0 that sympy's signs can leave into +0.0.
    return np.stack([np.broadcast_to(np.asarray(c, dtype=float), shape) for c in coef], axis=-1) + 0.0


def loss_along_line(a: Any, b: Any, alphas: Any, convention: str = "mse") -> np.ndarray:
    """J(α) of the scalar model at each α on the line θ(α) = a + α (b − a).

    Parameters
    ----------
    a, b : array_like
        Endpoints (w1, w2).
    alphas : array_like
        Any real α (the line extends beyond [0, 1]).
    convention : {"mse", "half_mse"}
        J = (1 − w1 w2)² or ½ (1 − w1 w2)².

    Returns
    -------
    numpy.ndarray
        Shaped like ``alphas``.

    Examples
    --------
    >>> loss_along_line([0, 0], [1, 1], [0, 0.5, 1])
    array([1.    , 0.5625, 0.    ])
    """
    a, b = _pair(a, "a"), _pair(b, "b")
    if a.shape != (2,) or b.shape != (2,):
        raise ValueError(f"a and b must each be one point (w1, w2), got shapes {a.shape!r} and {b.shape!r}")
    k = kappa(convention)
    return _scalar_line_loss(a[None], b[None], np.asarray(alphas, dtype=float), k)[0]


def _scalar_line_loss(a: np.ndarray, b: np.ndarray, alphas: np.ndarray, k: float) -> np.ndarray:
    # The factored form κ(1 − w1 w2)² stays ≥ 0 and exact to rounding, where expanded
    # quartic coefficients would cancel near the solution.
    al = alphas[None, ...]
    w1 = a[:, 0, None] + al.reshape(1, -1) * (b[:, 0, None] - a[:, 0, None])
    w2 = a[:, 1, None] + al.reshape(1, -1) * (b[:, 1, None] - a[:, 1, None])
    return (k * (1.0 - w1 * w2) ** 2).reshape((a.shape[0],) + alphas.shape)


def stationary_points(
    a: Any, b: Any, lo: float = 0.0, hi: float = 1.0, convention: str = "mse"
) -> StationaryPoints:
    """Exact stationary points of J(α) in [lo, hi] for the scalar model.

    J'(α) = −2κ (1 − p(α)) p'(α): minima where p(α) = 1 (the line crosses the solution
    hyperbola w1 w2 = 1) and the point α* = −(a1 d2 + a2 d1) / (2 d1 d2) where p' = 0.

    Parameters
    ----------
    a, b : array_like
        Endpoints (w1, w2).
    lo, hi : float
        Window of α.
    convention : {"mse", "half_mse"}

    Returns
    -------
    StationaryPoints

    Examples
    --------
    The line from (−1, −1) to (1, 1) crosses the saddle at α = ½:

    >>> sp = stationary_points([-1, -1], [1, 1], lo=-1, hi=2)
    >>> sp.alpha.round(6).tolist(), sp.kind
    ([0.0, 0.5, 1.0], ('minimum', 'maximum', 'minimum'))
    """
    lo, hi = _window(lo, hi)
    return _polynomials.stationary_points(line_coefficients(a, b, convention), lo, hi)


def barrier(a: Any, b: Any, kind: str = "rise", convention: str = "mse") -> Barrier:
    """Exact barrier of the scalar model's loss on the segment from a to b (α in [0, 1]).

    ``kind="rise"``: max_α J(α) − J(0), the largest rise above the start (Frankle 2020,
    Fig. 3); ``kind="linear"``: max_α [J(α) − ((1 − α) J(0) + α J(1))], the excess over
    the chord (linear mode connectivity). Both are ≥ 0 and 0 for a = b; they are the
    definitions of :func:`landscapes.metrics.rise_barrier` and
    :func:`landscapes.metrics.linear_barrier`.

    Parameters
    ----------
    a, b : array_like
        Endpoints (w1, w2).
    kind : {"rise", "linear"}
    convention : {"mse", "half_mse"}

    Returns
    -------
    Barrier
        Height, the α where it sits and J there (both NaN when the height is 0).

    Examples
    --------
    >>> bar = barrier([2.0, 0.5], [-2.0, -0.5])
    >>> round(bar.height, 12), round(bar.alpha, 12)
    (1.0, 0.5)
    """
    return _polynomials.barrier(line_coefficients(a, b, convention), _kind(kind))


def convex_region(
    a: Any, b: Any, lo: float = 0.0, hi: float = 1.0, convention: str = "mse"
) -> list[tuple[float, float]]:
    """Maximal intervals of [lo, hi] on which J(α) is convex (J'' ≥ 0), scalar model.

    Examples
    --------
    >>> [(round(l, 6), round(r, 6)) for l, r in convex_region([0, 0], [1, 1], -1, 1)]
    [(-1.0, -0.57735), (0.57735, 1.0)]
    """
    lo, hi = _window(lo, hi)
    return _polynomials.convex_intervals(line_coefficients(a, b, convention), lo, hi)


# ------------------------------------------------------------------- depth L, width n


def _weights(weights: Sequence[Any], name: str) -> list[np.ndarray]:
    out = [np.atleast_2d(np.asarray(w, dtype=float)) for w in weights]
    if not out:
        raise ValueError(f"{name} must list at least one weight matrix, got {weights!r}")
    for i in range(1, len(out)):
        if out[i].shape[1] != out[i - 1].shape[0]:
            raise ValueError(
                f"{name}[{i}] has shape {out[i].shape!r} but {name}[{i - 1}] has shape "
                f"{out[i - 1].shape!r}: W_l must be (n_l, n_(l-1))"
            )
    return out


def line_polynomial(
    weights_a: Sequence[Any],
    weights_b: Sequence[Any],
    X: Any,
    Y: Any,
    convention: str = "mse",
) -> np.ndarray:
    """Exact coefficients of the deep linear loss along a line, lowest degree first.

    Each layer on the line is W_l(α) = A_l + α (B_l − A_l), a matrix polynomial of
    degree 1; their product W(α) = W_L(α) ⋯ W_1(α) has degree L, the error
    E(α) = W(α) X − Y too, and J(α) = κ/N · ‖E(α)‖_F² has degree 2L with coefficients
    c_k = κ/N Σ_{i+j=k} ⟨E_i, E_j⟩_F.

    Parameters
    ----------
    weights_a, weights_b : sequence of array_like
        [W_1, ..., W_L] at the two endpoints, W_l of shape (n_l, n_(l-1)).
    X : array_like
        Inputs, shape (n_0, N) (one sample per column).
    Y : array_like
        Targets, shape (n_L, N).
    convention : {"mse", "half_mse"}
        κ = 1 or ½; J is the mean over samples of the squared Euclidean error, times κ.

    Returns
    -------
    numpy.ndarray
        2L + 1 coefficients.

    Examples
    --------
    The scalar model, from the origin to (1, 1): J(α) = (1 − α²)² = 1 − 2α² + α⁴.

    >>> line_polynomial([[[0.0]], [[0.0]]], [[[1.0]], [[1.0]]], [[1.0]], [[1.0]])
    array([ 1.,  0., -2.,  0.,  1.])
    """
    wa, wb = _weights(weights_a, "weights_a"), _weights(weights_b, "weights_b")
    if len(wa) != len(wb) or any(x.shape != y.shape for x, y in zip(wa, wb)):
        raise ValueError(
            f"weights_a and weights_b must have matching shapes, got "
            f"{[w.shape for w in wa]!r} and {[w.shape for w in wb]!r}"
        )
    X, Y = np.atleast_2d(np.asarray(X, dtype=float)), np.atleast_2d(np.asarray(Y, dtype=float))
    if X.shape[0] != wa[0].shape[1] or Y.shape != (wa[-1].shape[0], X.shape[1]):
        raise ValueError(
            f"X must be (n_0, N) = ({wa[0].shape[1]}, N) and Y (n_L, N) = ({wa[-1].shape[0]}, "
            f"{X.shape[1]}); got X {X.shape!r} and Y {Y.shape!r}"
        )
    return _loss_coefficients(_error_polynomial(wa, wb, X, Y), kappa(convention), X.shape[1])


def _error_polynomial(
    wa: list[np.ndarray], wb: list[np.ndarray], X: np.ndarray, Y: np.ndarray
) -> np.ndarray:
    """Coefficients E_k of E(α) = W_L(α) ⋯ W_1(α) X − Y, shape (L + 1, n_L, N)."""
    # Start from X so every product is (n_l, N), never the wider (n_l, n_0) chain.
    prod = X[None]
    for a, b in zip(wa, wb):
        prod = _polynomials.matrix_polynomial_product(np.stack([a, b - a]), prod)
    prod[0] -= Y
    return prod


def _loss_coefficients(err: np.ndarray, k: float, n_samples: int) -> np.ndarray:
    flat = err.reshape(err.shape[0], -1)
    gram = flat @ flat.T
    coef = np.zeros(2 * err.shape[0] - 1)
    for i in range(err.shape[0]):
        coef[i : i + err.shape[0]] += gram[i]
    return k * coef / n_samples


def _loss_values(err: np.ndarray, alphas: np.ndarray, k: float, n_samples: int) -> np.ndarray:
    # Summing squares of E(α) keeps J ≥ 0 where the expanded polynomial would cancel.
    powers = alphas[:, None] ** np.arange(err.shape[0])[None, :]
    values = np.einsum("ak,kij->aij", powers, err)
    return k * np.einsum("aij,aij->a", values, values) / n_samples


def polynomial_stationary_points(coefficients: Any, lo: float = 0.0, hi: float = 1.0) -> StationaryPoints:
    """Stationary points in [lo, hi] of a loss polynomial (e.g. from :func:`line_polynomial`).

    Examples
    --------
    >>> polynomial_stationary_points([1.0, 0.0, -2.0, 0.0, 1.0]).alpha.round(9).tolist()
    [0.0, 1.0]
    """
    lo, hi = _window(lo, hi)
    return _polynomials.stationary_points(_coefficients(coefficients), lo, hi)


def polynomial_barrier(coefficients: Any, kind: str = "rise") -> Barrier:
    """Exact barrier on [0, 1] of a loss polynomial (see :func:`barrier`).

    Examples
    --------
    >>> polynomial_barrier([0.0, 4.0, -4.0]).height
    1.0
    """
    return _polynomials.barrier(_coefficients(coefficients), _kind(kind))


def polynomial_convex_region(coefficients: Any, lo: float = 0.0, hi: float = 1.0) -> list[tuple[float, float]]:
    """Intervals of [lo, hi] where a loss polynomial is convex.

    Examples
    --------
    >>> polynomial_convex_region([0.0, 0.0, 1.0])
    [(0.0, 1.0)]
    """
    lo, hi = _window(lo, hi)
    return _polynomials.convex_intervals(_coefficients(coefficients), lo, hi)


def _coefficients(coefficients: Any) -> np.ndarray:
    coef = np.asarray(coefficients, dtype=float)
    if coef.ndim != 1 or coef.size == 0 or not np.all(np.isfinite(coef)):
        raise ValueError(f"coefficients must be a non-empty 1-D array of finite numbers, got {coefficients!r}")
    return coef


# ----------------------------------------------------------------------- gradient flow


def classify_init(init: Any) -> np.ndarray | str:
    """Name the kind of each init: ``"regular"``, ``"anti_diagonal"`` or ``"origin"``.

    Examples
    --------
    >>> classify_init([0.3, -0.3]), classify_init([0, 0]), classify_init([0.1, 0.2])
    ('anti_diagonal', 'origin', 'regular')
    """
    out = _flow.classify(_pair(init, "init"))
    return str(out) if out.ndim == 0 else out


def _check_degenerate(init: np.ndarray, on_degenerate: str) -> None:
    if on_degenerate not in _ON_DEGENERATE:
        raise ValueError(f"unknown on_degenerate {on_degenerate!r}; choose from {list(_ON_DEGENERATE)}")
    kinds = _flow.classify(init)
    bad = kinds != "regular"
    if on_degenerate == "raise" and np.any(bad):
        first = tuple(np.argwhere(np.atleast_1d(bad))[0]) if kinds.ndim else ()
        name = str(np.atleast_1d(kinds)[first] if kinds.ndim else kinds)
        value = init[first] if kinds.ndim else init
        raise DegenerateInitError(
            f"init {value.tolist()!r} is degenerate ({name}: {DEGENERATE_CASES[name]}); "
            "pass on_degenerate='saddle' to get the saddle (0, 0) instead"
        )


def gradient_flow_limit(init: Any, on_degenerate: str = "raise") -> np.ndarray:
    """The solution gradient flow on J = κ (1 − w1 w2)² reaches from ``init``.

    The flow conserves c = w1² − w2² and the sign σ of w1 + w2, and ends on w1 w2 = 1,
    hence

        w1∞ = σ √((√(c² + 4) + c) / 2),   w2∞ = σ √((√(c² + 4) − c) / 2)

    (independent of κ, which only rescales time).

    Parameters
    ----------
    init : array_like
        (w1, w2) at t = 0; leading axes are a batch.
    on_degenerate : {"raise", "saddle"}
        What to do for inits with w1 + w2 = 0 (see :data:`DEGENERATE_CASES`), from which
        the flow converges to the saddle (0, 0): raise :class:`DegenerateInitError`, or
        return (0, 0).

    Returns
    -------
    numpy.ndarray
        Shaped like ``init``.

    Raises
    ------
    DegenerateInitError
        For a degenerate init when ``on_degenerate="raise"``.

    Examples
    --------
    >>> gradient_flow_limit([0.1, 0.1])
    array([1., 1.])
    >>> w = gradient_flow_limit([0.5, -0.2])
    >>> round(float(w[0] * w[1]), 12), round(float(w[0]**2 - w[1]**2), 12)
    (1.0, 0.21)
    >>> gradient_flow_limit([0.5, -0.5], on_degenerate="saddle")
    array([0., 0.])
    """
    init = _pair(init, "init")
    _check_degenerate(init, on_degenerate)
    return _flow.limit(init)


def gradient_flow(init: Any, times: Any, convention: str = "mse") -> np.ndarray:
    """θ(t) under gradient flow dθ/dt = −∇J, in closed form, at each time.

    u = (w1 + w2)² follows the logistic-type solution of du/dt = κ(−u² + 4u + c²)
    (see :mod:`theory._flow`), and w1 − w2 = c / (w1 + w2). Degenerate inits are
    followed exactly into the saddle.

    Parameters
    ----------
    init : array_like
        (w1, w2) at t = 0; leading axes are a batch.
    times : array_like
        t ≥ 0 (``numpy.inf`` gives the limit).
    convention : {"mse", "half_mse"}
        κ; with κ = ½ the same path is traversed twice as slowly.

    Returns
    -------
    numpy.ndarray
        Shape init.shape[:-1] + (len(times), 2).

    Examples
    --------
    >>> gradient_flow([0.1, 0.1], [0.0, 1.0, np.inf]).round(6)
    array([[0.1     , 0.1     ],
           [0.596205, 0.596205],
           [1.      , 1.      ]])
    """
    init = _pair(init, "init")
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.ndim != 1 or np.any(np.isnan(times)) or np.any(times < 0):
        raise ValueError(f"times must be a 1-D array of t >= 0, got {times!r}")
    return _flow.at_times(init, times, kappa(convention))


# ------------------------------------------------------------------------ named systems


def system(name: str, seed: int = 0) -> DeepLinearSystem:
    """The named deep linear system.

    Parameters
    ----------
    name : str
        ``"deep_linear"`` (the scalar model of §5) or ``"deep_linear_L<depth>_w<width>"``:
        L square n×n layers on a seeded regression task with 4n samples X ~ N(0, 1) and
        targets Y = M X from a teacher M ~ N(0, 1/n).
    seed : int
        Seed of the data (ignored by ``deep_linear``).

    Returns
    -------
    DeepLinearSystem

    Raises
    ------
    ValueError
        ``unknown system 'x'; choose from [...]``.

    Examples
    --------
    >>> s = system("deep_linear_L3_w4")
    >>> s.depth, s.width, s.X.shape
    (3, 4, (4, 16))
    >>> system("mlp")
    Traceback (most recent call last):
    ...
    ValueError: unknown system 'mlp'; choose from ['deep_linear', 'deep_linear_L<depth>_w<width>']
    """
    return parse_system(name, seed=seed)


def _line_losses(
    sys: DeepLinearSystem, start: np.ndarray, end: np.ndarray, alphas: np.ndarray, k: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (R, 2L + 1) and losses (R, A) on the lines start[r] → end[r]."""
    if sys.scalar:
        return line_coefficients(start, end, "mse") * k, _scalar_line_loss(start, end, alphas, k)
    coefs, losses = [], []
    n = sys.X.shape[1]
    for s, e in zip(start, end):
        err = _error_polynomial(sys.unflatten(s), sys.unflatten(e), sys.X, sys.Y)
        coefs.append(_loss_coefficients(err, k, n))
        losses.append(_loss_values(err, alphas, k, n))
    return np.stack(coefs), np.stack(losses)


def _final(sys: DeepLinearSystem, init: np.ndarray, convention: str, learning_rate: float, max_steps: int) -> np.ndarray:
    if sys.scalar:
        _check_degenerate(init, "raise")
        return _flow.limit(init)
    end, _, converged = sys.descend(init, learning_rate, max_steps, convention)
    _warn_unconverged(sys, converged, max_steps)
    return end


def _warn_unconverged(sys: DeepLinearSystem, converged: bool, max_steps: int) -> None:
    if not converged:
        warnings.warn(
            f"gradient descent on {sys.name!r} did not reach a solution (gradient norm < 1e-12) "
            f"in max_steps={max_steps!r}; the 'final' points are the last iterates. Raise "
            "max_steps or init_scale (deep networks escape a small init slowly).",
            RuntimeWarning,
            stacklevel=3,
        )


def _line_dataset(
    sys: DeepLinearSystem,
    start: np.ndarray,
    end: np.ndarray,
    alphas: np.ndarray,
    convention: str,
    analysis: str,
    seeds: dict[str, Any],
    hyperparameters: dict[str, Any],
) -> xr.Dataset:
    """Loss on the lines start[r] → end[r] with exact barriers, as a slice dataset."""
    # start/end: (replicate, [start_iteration,] P) parameter vectors.
    k = kappa(convention)
    lead = start.shape[:-1]
    flat_s = start.reshape(-1, start.shape[-1])
    flat_e = end.reshape(-1, end.shape[-1])
    coef, loss_ = _line_losses(sys, flat_s, flat_e, alphas, k)
    loss_ = loss_.reshape(lead + alphas.shape)
    bars = [_polynomials.barrier(c, "rise") for c in coef]
    dims = ("replicate", "start_iteration", "alpha") if len(lead) == 2 else ("replicate", "alpha")
    lead_dims = dims[:-1]
    norm = np.linalg.norm(flat_e - flat_s, axis=-1).reshape(lead)
    coords: dict[str, Any] = {
        "replicate": np.arange(lead[0]),
        "barrier_height": (lead_dims, np.array([b.height for b in bars]).reshape(lead)),
        "barrier_alpha": (lead_dims, np.array([b.alpha for b in bars]).reshape(lead)),
        # Exact count of local minima on the segment α ∈ [0, 1] (the solution at α = 1
        # included), to check grid-based counts against.
        "exact_minima": (lead_dims, np.array([_segment_minima(c) for c in coef]).reshape(lead)),
    }
    return slice_dataset(
        loss_,
        alpha=alphas,
        dims=dims,
        coords=coords,
        # signed by α, as the engine's distance coordinate
        distance=(dims, alphas * norm[..., None]),
        analysis=analysis,
        system=sys.name,
        seeds=seeds,
        hyperparameters={"convention": convention, **hyperparameters},
        device="sympy" if sys.scalar else "numpy",
    )


def _segment_minima(coefficients: np.ndarray) -> int:
    # The window reaches a hair past 1 so a minimum exactly at the solution is kept.
    points = _polynomials.stationary_points(coefficients, 0.0, 1.0 + 1e-9)
    return sum(kind == "minimum" for kind in points.kind)


def _common(system_name: str, n_replicates: int, convention: str, seed: int) -> DeepLinearSystem:
    kappa(convention)
    _positive_int(n_replicates, "n_replicates")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return system(system_name, seed=seed)


def _inits(sys: DeepLinearSystem, seed: int, n: int, scale: float, stream: int = 0) -> np.ndarray:
    # One generator per replicate, so replicate r is the same whatever n_replicates is.
    return np.stack([sys.init(np.random.default_rng([seed, stream, r]), scale) for r in range(n)])


_DOC_COMMON = """
    system : str
        ``"deep_linear"`` or ``"deep_linear_L<depth>_w<width>"`` (see :func:`system`).
    n_replicates : int
        Number of seeded replicates (dimension ``replicate``).
    seed : int
        Seeds the data of depth-L systems and every init.
    alphas : array_like, optional
        Path coordinates; default 101 points on [0, 1].
    convention : {"mse", "half_mse"}
    learning_rate : float, optional
        Depth-L systems have no closed-form flow: their solutions are found by gradient
        descent (all replicates at once) with this step until every gradient norm is
        below 1e-12, or ``max_steps``. Default: half the stability limit near a
        solution (:meth:`DeepLinearSystem.default_learning_rate`).
    max_steps : int
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
) -> xr.Dataset:
    """Loss on the line from a small random init to the solution it flows to (Fig. 9).

    Parameters
    ----------
    init_scale : float
        Initial weights are N(0, init_scale² / width). Default 0.1 for ``deep_linear``
        (the small init of Fig. 9) and 1.0 for depth-L systems, whose gradient descent
        escapes a smaller init only after many steps.
    {common}
    Returns
    -------
    xarray.Dataset
        Slice dataset, dims (replicate, alpha); coordinates ``barrier_height`` and
        ``barrier_alpha`` hold the exact rise barrier of each line.

    Examples
    --------
    >>> ds = init_to_final(n_replicates=3)
    >>> ds.loss.dims, float(ds.loss.isel(alpha=0).min()) > 0.9, float(ds.loss.isel(alpha=-1).max()) < 1e-24
    (('replicate', 'alpha'), True, True)
    """
    sys = _common(system, n_replicates, convention, seed)
    alphas = _alphas(alphas)
    init_scale = _init_scale(sys, init_scale)
    start = _inits(sys, seed, n_replicates, init_scale)
    learning_rate, gd = _gd(sys, learning_rate, max_steps, convention)
    end = _final(sys, start, convention, learning_rate, max_steps)
    return _line_dataset(
        sys, start, end, alphas, convention, "init_to_final",
        seeds={"init": seed}, hyperparameters={"init_scale": init_scale, **gd},
    )


def _init_scale(sys: DeepLinearSystem, init_scale: float | None) -> float:
    if init_scale is None:
        return 0.1 if sys.scalar else 1.0
    return _positive(init_scale, "init_scale")


def _gd(sys: DeepLinearSystem, learning_rate: float | None, max_steps: int, convention: str) -> tuple[float, dict[str, Any]]:
    lr = sys.default_learning_rate(convention) if learning_rate is None else _positive(learning_rate, "learning_rate")
    if sys.scalar:
        return lr, {"solver": "closed-form gradient flow"}
    _positive_int(max_steps, "max_steps")
    return lr, {"solver": "gradient descent", "learning_rate": lr, "max_steps": max_steps}


def final_to_final(
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    alphas: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
) -> xr.Dataset:
    """Loss between two solutions reached from two independent random inits (Fig. 10 left).

    Both ends have J = 0; the barrier between them is exact (coordinate
    ``barrier_height``). Solutions from inits with opposite signs of w1 + w2 lie on
    opposite branches of w1 w2 = 1 and the line between them passes near the saddle.

    Parameters
    ----------
    init_scale : float, optional
        As in :func:`init_to_final`.
    {common}
    Returns
    -------
    xarray.Dataset

    Examples
    --------
    Small inits flow to solutions near (1, 1) or (−1, −1): the barrier is ≈ 0 on one
    branch and ≈ 1 (the saddle) across branches.

    >>> ds = final_to_final(n_replicates=4)
    >>> ds.barrier_height.values.round(3).tolist()
    [0.0, 1.0, 1.001, 0.0]
    """
    sys = _common(system, n_replicates, convention, seed)
    alphas = _alphas(alphas)
    init_scale = _init_scale(sys, init_scale)
    learning_rate, gd = _gd(sys, learning_rate, max_steps, convention)
    end_a = _final(sys, _inits(sys, seed, n_replicates, init_scale, 0), convention, learning_rate, max_steps)
    end_b = _final(sys, _inits(sys, seed, n_replicates, init_scale, 1), convention, learning_rate, max_steps)
    return _line_dataset(
        sys, end_a, end_b, alphas, convention, "final_to_final",
        seeds={"init_a": [seed, 0], "init_b": [seed, 1]},
        hyperparameters={"init_scale": init_scale, **gd},
    )


def random_to_final(
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    random_scale: float = 5.0,
    alphas: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
) -> xr.Dataset:
    """Loss from a random point of large norm to a solution (Fig. 10 right).

    The solution is the one reached from a small init (as in :func:`init_to_final`); the
    start is an independent Gaussian point with standard deviation ``random_scale`` per
    weight.

    Parameters
    ----------
    init_scale : float, optional
        Scale of the small init whose solution is the end point.
    random_scale : float
        Scale of the random start point.
    {common}
    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> ds = random_to_final(n_replicates=2)
    >>> ds.attrs["analysis"], float(ds.loss.isel(alpha=-1).max()) < 1e-24
    ('random_to_final', True)
    """
    sys = _common(system, n_replicates, convention, seed)
    alphas = _alphas(alphas)
    init_scale = _init_scale(sys, init_scale)
    random_scale = _positive(random_scale, "random_scale")
    learning_rate, gd = _gd(sys, learning_rate, max_steps, convention)
    end = _final(sys, _inits(sys, seed, n_replicates, init_scale, 0), convention, learning_rate, max_steps)
    start = _inits(sys, seed, n_replicates, random_scale, 2)
    return _line_dataset(
        sys, start, end, alphas, convention, "random_to_final",
        seeds={"init": [seed, 0], "random": [seed, 2]},
        hyperparameters={"init_scale": init_scale, "random_scale": random_scale, **gd},
    )


def _path(
    sys: DeepLinearSystem,
    init: np.ndarray,
    iterations: np.ndarray,
    convention: str,
    learning_rate: float,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """θ at each iteration and the final θ, per replicate: (R, K, P) and (R, P)."""
    if sys.scalar:
        _check_degenerate(init, "raise")
        # Gradient descent with step ε follows the flow at time t = ε k to first order in ε.
        path = _flow.at_times(init, learning_rate * iterations, kappa(convention))
        return path, _flow.limit(init)
    n_steps = max(max_steps, int(iterations.max()))
    end, path, converged = sys.descend(init, learning_rate, n_steps, convention, iterations)
    _warn_unconverged(sys, converged, n_steps)
    return path, end


def _iterations(iterations: Any) -> np.ndarray:
    it = np.atleast_1d(np.asarray(iterations))
    if it.ndim != 1 or it.size == 0 or it.dtype.kind not in "iu" or np.any(it < 0):
        raise ValueError(f"iterations must be a 1-D array of integers >= 0, got {iterations!r}")
    return it.astype(int)


def from_time_to_final(
    iterations: Any = (0, 10, 50, 100, 200, 400),
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    alphas: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
) -> xr.Dataset:
    """Loss on the line from the point reached after k iterations to the final solution.

    For ``deep_linear`` the start is the closed-form gradient flow at time t = ε k
    (ε = ``learning_rate``), the continuous-time limit of k steps of gradient descent;
    for depth-L systems it is the k-th gradient-descent iterate.

    Parameters
    ----------
    iterations : array_like of int
        The k of each start (dimension ``start_iteration``).
    init_scale : float, optional
        As in :func:`init_to_final`.
    {common}
    Returns
    -------
    xarray.Dataset
        dims (replicate, start_iteration, alpha).

    Examples
    --------
    >>> ds = from_time_to_final([0, 100], n_replicates=2)
    >>> ds.loss.dims
    ('replicate', 'start_iteration', 'alpha')
    """
    sys = _common(system, n_replicates, convention, seed)
    alphas = _alphas(alphas)
    iterations = _iterations(iterations)
    init_scale = _init_scale(sys, init_scale)
    learning_rate, gd = _gd(sys, learning_rate, max_steps, convention)
    init = _inits(sys, seed, n_replicates, init_scale)
    path, end = _path(sys, init, iterations, convention, learning_rate, max_steps)
    ds = _line_dataset(
        sys, path, np.broadcast_to(end[:, None, :], path.shape), alphas, convention,
        "from_time_to_final", seeds={"init": seed},
        hyperparameters={"init_scale": init_scale, "learning_rate": learning_rate, **gd},
    )
    ds = ds.assign_coords(start_iteration=iterations)
    if sys.scalar:
        ds = ds.assign_coords(time=("start_iteration", learning_rate * iterations))
    return ds


def trajectory(
    steps: Any = None,
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
    baseline: bool = False,
) -> xr.Dataset:
    """Projection of the training path on the init→solution axis, and its residual.

    projection_k = ⟨θ_k − θ_0, e⟩ with e = (θ_∞ − θ_0)/‖θ_∞ − θ_0‖, residual_k =
    ‖θ_k − θ_0 − projection_k e‖, norm_k = ‖θ_k‖ (Goodfellow et al. 2015, App. B). For
    ``deep_linear`` θ_k is the closed-form flow at t = ε k.

    Parameters
    ----------
    steps : array_like of int, optional
        Iterations k; default 0, 5, ..., 1000.
    init_scale : float, optional
        As in :func:`init_to_final`.
    system, n_replicates, seed, convention, learning_rate, max_steps
        As in :func:`init_to_final`.
    baseline : bool
        Add ``walk_projection`` and ``walk_residual``: the expected projection and
        residual of the Gaussian random walk with the same step lengths
        (:func:`theory.random_walk.matched_walk`), Goodfellow et al.'s baseline.

    Returns
    -------
    xarray.Dataset
        Trajectory dataset, dims (replicate, step), with ``residual_ratio`` =
        residual / norm.

    Examples
    --------
    >>> ds = trajectory(n_replicates=2)
    >>> bool(ds.residual.isel(step=0).max() < 1e-10), bool(ds.residual.isel(step=-1).max() < 1e-9)
    (True, True)
    """
    sys = _common(system, n_replicates, convention, seed)
    steps = _iterations(np.arange(0, 1001, 5) if steps is None else steps)
    init_scale = _init_scale(sys, init_scale)
    learning_rate, gd = _gd(sys, learning_rate, max_steps, convention)
    init = _inits(sys, seed, n_replicates, init_scale)
    path, end = _path(sys, init, steps, convention, learning_rate, max_steps)
    axis = end - init
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    moved = path - init[:, None, :]
    projection = np.einsum("rkp,rp->rk", moved, axis)
    residual = np.linalg.norm(moved - projection[..., None] * axis[:, None, :], axis=-1)
    norm = np.linalg.norm(path, axis=-1)
    extra = {"residual_ratio": np.divide(residual, norm, out=np.zeros_like(norm), where=norm > 0)}
    if baseline:
        from theory.random_walk import matched_walk

        walks = [matched_walk(path[r], steps=steps) for r in range(n_replicates)]
        extra["walk_projection"] = np.stack([w.projection.values for w in walks])
        extra["walk_residual"] = np.stack([w.residual.values for w in walks])
    coords: dict[str, Any] = {"replicate": np.arange(n_replicates)}
    if sys.scalar:
        coords["time"] = ("step", learning_rate * steps)
    return trajectory_dataset(
        projection, residual, norm,
        step=steps, dims=("replicate", "step"), coords=coords, extra=extra,
        system=sys.name, seeds={"init": seed},
        hyperparameters={"init_scale": init_scale, "learning_rate": learning_rate,
                         "convention": convention, **gd},
        device="sympy" if sys.scalar else "numpy",
    )


def anchors(
    system: str = "deep_linear",
    n_replicates: int = 8,
    seed: int = 0,
    init_scale: float | None = None,
    random_scale: float = 5.0,
    iterations: Any = None,
    convention: str = "mse",
    learning_rate: float | None = None,
    max_steps: int = 20_000,
) -> dict[str, np.ndarray]:
    """The parameter vectors the closed-form analyses run between, per replicate.

    These are the very points :func:`init_to_final`, :func:`final_to_final`,
    :func:`random_to_final`, :func:`from_time_to_final` and :func:`trajectory` use with
    the same arguments, so a network built from them (``experiments.models.deep_linear``)
    evaluated by :func:`landscapes.evaluate` along the same lines must reproduce the
    closed forms: the agreement the test suite checks.

    Parameters
    ----------
    iterations : array_like of int, optional
        Iterations k of the training path to include (as ``path``).
    init_scale, random_scale
        As in :func:`init_to_final` and :func:`random_to_final`.
    {common}
    Returns
    -------
    dict of str to numpy.ndarray
        ``init``, ``final`` (its solution), ``other_final`` (the solution of an
        independent init, as in :func:`final_to_final`) and ``random`` (the large-norm
        start of :func:`random_to_final`), each (R, P) with P = depth · width²
        (W_1 first, each row-major); with ``iterations``, ``path`` (R, K, P).

    Examples
    --------
    >>> a = anchors(n_replicates=2, iterations=[0, 10])
    >>> sorted(a), a["path"].shape
    (['final', 'init', 'other_final', 'path', 'random'], (2, 2, 2))
    >>> bool(np.allclose(a["final"].prod(axis=-1), 1.0))  # w1 w2 = 1
    True
    """
    sys = _common(system, n_replicates, convention, seed)
    init_scale = _init_scale(sys, init_scale)
    random_scale = _positive(random_scale, "random_scale")
    learning_rate, _ = _gd(sys, learning_rate, max_steps, convention)
    init = _inits(sys, seed, n_replicates, init_scale, 0)
    out = {
        "init": init,
        "final": _final(sys, init, convention, learning_rate, max_steps),
        "other_final": _final(sys, _inits(sys, seed, n_replicates, init_scale, 1), convention,
                              learning_rate, max_steps),
        "random": _inits(sys, seed, n_replicates, random_scale, 2),
    }
    if iterations is not None:
        out["path"], _ = _path(sys, init, _iterations(iterations), convention, learning_rate,
                               max_steps)
    return out


for _fn in (init_to_final, final_to_final, random_to_final, from_time_to_final, anchors):
    _fn.__doc__ = _fn.__doc__.replace("{common}", _DOC_COMMON.strip() + "\n")
del _fn
