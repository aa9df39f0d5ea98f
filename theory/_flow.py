"""Closed-form gradient flow of the scalar model J = κ (1 − w1 w2)² (Goodfellow et al. 2015, §5).

Gradient flow dw/dt = −∇J keeps c = w1² − w2² fixed. With s = w1 + w2 and
δ = w1 − w2 (so c = s δ and w1 w2 = (s² − δ²)/4), u = s² obeys the Riccati equation

    du/dt = κ (−u² + 4u + c²) = −κ (u − u₊)(u − u₋),   u± = 2 ± √(4 + c²),

whose solution is u(t) = (u₊ − u₋ q e^{−k t}) / (1 − q e^{−k t}) with
k = κ (u₊ − u₋) and q = (u₀ − u₊)/(u₀ − u₋). When s = 0 (w1 = −w2, so c = 0) the flow
never leaves that line and v = δ² obeys dv/dt = −κ v (4 + v): it slides into the saddle
at the origin.
"""

from __future__ import annotations

import numpy as np

from theory._symbolic import numeric

__all__ = ["DegenerateInitError", "DEGENERATE_CASES", "classify", "limit", "at_times"]

#: Inits from which gradient flow never reaches a solution, with what happens instead.
DEGENERATE_CASES = {
    "origin": "w1 = w2 = 0: the init is the saddle point itself and the flow never moves",
    "anti_diagonal": (
        "w1 + w2 = 0 (w1 = -w2 != 0): the gradient keeps w1 = -w2 and the flow "
        "slides into the saddle at the origin"
    ),
}


class DegenerateInitError(ValueError):
    """Gradient flow from this init stalls at the saddle (0, 0) instead of solving w1 w2 = 1."""


def classify(init: np.ndarray) -> np.ndarray:
    """``"regular"``, ``"anti_diagonal"`` or ``"origin"`` for each init (last axis = (w1, w2))."""
    w1, w2 = init[..., 0], init[..., 1]
    out = np.full(w1.shape, "regular", dtype=object)
    out[w1 + w2 == 0] = "anti_diagonal"
    out[(w1 == 0) & (w2 == 0)] = "origin"
    return out


def limit(init: np.ndarray) -> np.ndarray:
    """Limit of the flow for regular inits; (0, 0) for degenerate ones."""
    w1, w2 = init[..., 0], init[..., 1]
    c = w1**2 - w2**2
    sigma = np.sign(w1 + w2)
    out = np.stack(np.broadcast_arrays(*numeric("limit")(c, sigma)), axis=-1).astype(float)
    return out


def at_times(init: np.ndarray, times: np.ndarray, kappa: float) -> np.ndarray:
    """θ(t) for inits (..., 2) and times (T,), shaped (..., T, 2)."""
    w1 = init[..., 0][..., None]
    w2 = init[..., 1][..., None]
    t = np.asarray(times, dtype=float)
    s0, d0 = w1 + w2, w1 - w2
    c = s0 * d0
    regular = s0 != 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = numeric("u_t")(s0**2, c, kappa, t)
        s = np.sign(s0) * np.sqrt(u)
        d = np.where(regular, c / s, 0.0)
        v = numeric("saddle_v_t")(d0**2, kappa, t)
        d_saddle = np.sign(d0) * np.sqrt(v)
    s = np.where(regular, s, 0.0)
    d = np.where(regular, d, d_saddle)
    s, d = np.broadcast_arrays(s, d)
    return np.stack([(s + d) / 2, (s - d) / 2], axis=-1)
