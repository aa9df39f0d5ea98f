"""Exact facts about a loss that is a polynomial in the path coordinate α.

Along a straight line θ(α) = θ_a + α (θ_b − θ_a) the loss of a deep linear network is a
polynomial J(α); its stationary points, barrier and convex region then follow from
polynomial roots. Coefficients are always stored lowest degree first, as in
:mod:`numpy.polynomial`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial

__all__ = [
    "Barrier",
    "StationaryPoints",
    "matrix_polynomial_product",
    "real_roots",
    "stationary_points",
    "barrier",
    "convex_intervals",
]

# Roots of J' at a double root come back from the companion matrix with an imaginary
# part of order sqrt(machine epsilon); anything smaller than this is treated as real.
_IMAG_TOL = 1e-6
# Two roots closer than this are one (multiple) root.
_MERGE_TOL = 1e-9


@dataclass(frozen=True)
class Barrier:
    """The highest excess loss on [0, 1] and where it sits.

    Attributes
    ----------
    height : float
        Excess loss at ``alpha`` (≥ 0; 0 when the path never rises).
    alpha : float
        Where the excess is largest (the first such α when there are ties); NaN when
        ``height`` is 0, as in :mod:`landscapes.metrics`.
    loss : float
        J(``alpha``).
    kind : str
        ``"rise"`` (excess over the start value J(0), Frankle 2020 Fig. 3) or
        ``"linear"`` (excess over the chord between the endpoints); the same two
        definitions as :func:`landscapes.metrics.rise_barrier` and
        :func:`landscapes.metrics.linear_barrier`.
    """

    height: float
    alpha: float
    loss: float
    kind: str


@dataclass(frozen=True)
class StationaryPoints:
    """Real stationary points α of J in a window, with their kind.

    Attributes
    ----------
    alpha : numpy.ndarray
        Sorted α with J'(α) = 0.
    loss : numpy.ndarray
        J at each α.
    kind : tuple of str
        ``"minimum"``, ``"maximum"`` or ``"inflection"`` for each α, from the first
        non-vanishing higher derivative.
    """

    alpha: np.ndarray
    loss: np.ndarray
    kind: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.alpha.size)


def matrix_polynomial_product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Product of two matrix polynomials given as coefficient stacks.

    ``left[i]`` is the matrix coefficient of α**i; the result ``out[k]`` is
    Σ_{i+j=k} left[i] @ right[j].
    """
    deg = left.shape[0] + right.shape[0] - 1
    out = np.zeros((deg, left.shape[1], right.shape[2]), dtype=np.result_type(left, right))
    for i in range(left.shape[0]):
        # One matmul per coefficient of ``left`` covers every j at once.
        out[i : i + right.shape[0]] += np.einsum("ab,kbc->kac", left[i], right)
    return out


def _trim(coef: np.ndarray) -> np.ndarray:
    coef = np.asarray(coef, dtype=float)
    nz = np.flatnonzero(coef)
    return coef[: nz[-1] + 1] if nz.size else coef[:1] * 0.0


def real_roots(coef: np.ndarray, lo: float = -np.inf, hi: float = np.inf) -> np.ndarray:
    """Sorted distinct real roots in [lo, hi] of the polynomial with these coefficients."""
    coef = _trim(coef)
    if coef.size <= 1:
        return np.empty(0)
    roots = Polynomial(coef).roots()
    scale = 1.0 + np.abs(roots)
    real = np.real(roots[np.abs(np.imag(roots)) <= _IMAG_TOL * scale])
    # Polish with Newton steps: the companion-matrix roots of a multiple root are only
    # accurate to sqrt(eps); Newton on p/p' keeps quadratic convergence there.
    p = Polynomial(coef)
    dp, d2p = p.deriv(), p.deriv(2)
    for _ in range(3):
        pv, dv, d2v = p(real), dp(real), d2p(real)
        denom = dv * dv - pv * d2v
        step = np.divide(pv * dv, denom, out=np.zeros_like(real), where=denom != 0)
        real = real - step
    real = np.sort(real[(real >= lo - 1e-12) & (real <= hi + 1e-12)])
    real = np.clip(real, lo, hi)
    if real.size > 1:
        keep = np.concatenate([[True], np.diff(real) > _MERGE_TOL * (1 + np.abs(real[1:]))])
        real = real[keep]
    return real


def _classify(coef: np.ndarray, alpha: float) -> str:
    p = Polynomial(coef)
    scale = np.max(np.abs(coef)) if coef.size else 1.0
    for order in range(2, coef.size):
        value = p.deriv(order)(alpha)
        if abs(value) > 1e-9 * scale:
            if order % 2:
                return "inflection"
            return "minimum" if value > 0 else "maximum"
    return "inflection"


def stationary_points(coef: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> StationaryPoints:
    """Stationary points of J in [lo, hi]; empty when J is constant."""
    coef = _trim(coef)
    p = Polynomial(coef)
    alpha = real_roots(p.deriv().coef, lo, hi) if coef.size > 1 else np.empty(0)
    kinds = tuple(_classify(coef, a) for a in alpha)
    return StationaryPoints(alpha=alpha, loss=p(alpha), kind=kinds)


def barrier(coef: np.ndarray, kind: str = "rise") -> Barrier:
    """Exact barrier of J on [0, 1] (see :class:`Barrier`)."""
    coef = _trim(coef)
    p = Polynomial(coef)
    j0, j1 = float(p(0.0)), float(p(1.0))
    if kind == "rise":
        excess = p - j0
    else:
        excess = p - Polynomial([j0, j1 - j0])
    candidates = np.sort(np.concatenate([[0.0, 1.0], stationary_points(excess.coef).alpha]))
    values = excess(candidates)
    best = int(np.argmax(values))
    height = max(float(values[best]), 0.0)
    if height == 0:
        return Barrier(height=0.0, alpha=float("nan"), loss=float("nan"), kind=kind)
    alpha = float(candidates[best])
    return Barrier(height=height, alpha=alpha, loss=float(p(alpha)), kind=kind)


def convex_intervals(coef: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> list[tuple[float, float]]:
    """Maximal sub-intervals of [lo, hi] on which J'' ≥ 0."""
    p2 = Polynomial(_trim(coef)).deriv(2)
    cuts = np.concatenate([[lo], real_roots(p2.coef, lo, hi), [hi]])
    cuts = np.unique(cuts)
    intervals: list[tuple[float, float]] = []
    scale = max(float(np.max(np.abs(p2.coef))), 1e-300)
    for left, right in zip(cuts[:-1], cuts[1:]):
        if p2(0.5 * (left + right)) >= -1e-12 * scale:
            if intervals and intervals[-1][1] == left:
                intervals[-1] = (intervals[-1][0], float(right))
            else:
                intervals.append((float(left), float(right)))
    if cuts.size == 1 and p2(lo) >= 0:
        intervals.append((float(lo), float(hi)))
    return intervals
