"""Sympy derivations for the scalar deep linear model y = w1·w2·x (Goodfellow et al. 2015, §5).

Everything symbolic lives here, built once on first use; the numeric functions are made
from these expressions with :func:`sympy.lambdify` and cached, so the formulas the docs
render are the formulas the code evaluates.

Symbols
-------
w1, w2
    The two weights; the model is trained to output y = 1 at x = 1.
a1, a2, b1, b2
    Endpoints a = (a1, a2) and b = (b1, b2) of a straight line θ(α) = a + α (b − a).
κ (``kappa``)
    Loss scale: J = κ (1 − w1 w2)², κ = 1 (squared error) or κ = ½.
c
    The quantity gradient flow conserves, c = w1² − w2².
u
    u = (w1 + w2)², the one coordinate gradient flow moves once c is fixed.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import sympy as sp

__all__ = ["symbols", "expressions", "numeric"]


@functools.cache
def symbols() -> dict[str, sp.Symbol]:
    """The named sympy symbols of the derivation."""
    names = {
        "w1": sp.Symbol("w_1", real=True),
        "w2": sp.Symbol("w_2", real=True),
        "a1": sp.Symbol("a_1", real=True),
        "a2": sp.Symbol("a_2", real=True),
        "b1": sp.Symbol("b_1", real=True),
        "b2": sp.Symbol("b_2", real=True),
        "alpha": sp.Symbol("alpha", real=True),
        "kappa": sp.Symbol("kappa", positive=True),
        "c": sp.Symbol("c", real=True),
        "u": sp.Symbol("u", nonnegative=True),
        "u0": sp.Symbol("u_0", nonnegative=True),
        "t": sp.Symbol("t", nonnegative=True),
        "s0": sp.Symbol("sigma", real=True),
    }
    return names


@functools.cache
def expressions() -> dict[str, Any]:
    """Every symbolic object of the derivation, by name.

    Keys: ``loss`` J(w1, w2); ``line_product`` p(α) = w1(α) w2(α); ``line_loss`` J(α);
    ``line_coefficients`` (lowest degree first); ``line_derivative`` J'(α) factored;
    ``line_critical_alpha`` the α where p'(α) = 0; ``conserved`` c; ``flow_w1``,
    ``flow_w2`` the right-hand side of gradient flow; ``u_rate`` du/dt;
    ``u_plus``, ``u_minus`` its fixed points; ``u_t`` the closed-form u(t);
    ``limit_w1``, ``limit_w2`` the limit of the flow in terms of c and σ = sign(w1 + w2);
    ``saddle_v_t`` (w1 − w2)²(t) on the degenerate line w1 + w2 = 0.
    """
    s = symbols()
    w1, w2, a1, a2, b1, b2 = s["w1"], s["w2"], s["a1"], s["a2"], s["b1"], s["b2"]
    alpha, kappa, c, u, u0, t, sigma = (
        s["alpha"], s["kappa"], s["c"], s["u"], s["u0"], s["t"], s["s0"]
    )
    loss = kappa * (1 - w1 * w2) ** 2
    line = {w1: a1 + alpha * (b1 - a1), w2: a2 + alpha * (b2 - a2)}
    product = sp.expand((w1 * w2).subs(line))
    line_loss = loss.subs(line)
    poly = sp.Poly(sp.expand(line_loss), alpha)
    coefficients = [sp.factor(poly.coeff_monomial(alpha**k)) for k in range(poly.degree() + 1)]
    # The same coefficients in terms of d = b − a: every term of degree ≥ 1 carries a
    # factor of d, so identical endpoints give exact zeros in floating point too.
    d1, d2 = sp.Symbol("d_1", real=True), sp.Symbol("d_2", real=True)
    by_step = sp.Poly(sp.expand(loss.subs({w1: a1 + alpha * d1, w2: a2 + alpha * d2})), alpha)
    step_coefficients = [sp.factor(by_step.coeff_monomial(alpha**k)) for k in range(by_step.degree() + 1)]
    derivative = sp.factor(sp.diff(line_loss, alpha))
    critical = sp.solve(sp.diff(product, alpha), alpha)[0]

    flow_w1 = -sp.diff(loss, w1)
    flow_w2 = -sp.diff(loss, w2)
    conserved = w1**2 - w2**2
    # With u = (w1 + w2)² and c fixed, w1 w2 = (u − c²/u)/4, so du/dt = 4κ(1 − w1 w2)u.
    u_rate = sp.expand(4 * kappa * (1 - (u - c**2 / u) / 4) * u)
    u_plus = 2 + sp.sqrt(4 + c**2)
    u_minus = 2 - sp.sqrt(4 + c**2)
    rate = kappa * (u_plus - u_minus)
    ratio = (u0 - u_plus) / (u0 - u_minus)
    decay = ratio * sp.exp(-rate * t)
    u_t = (u_plus - u_minus * decay) / (1 - decay)
    limit_w1 = sigma * sp.sqrt((sp.sqrt(c**2 + 4) + c) / 2)
    limit_w2 = sigma * sp.sqrt((sp.sqrt(c**2 + 4) - c) / 2)
    v0 = sp.Symbol("v_0", nonnegative=True)
    saddle_v_t = 4 * v0 * sp.exp(-4 * kappa * t) / (4 + v0 - v0 * sp.exp(-4 * kappa * t))
    return {
        "loss": loss,
        "line_product": product,
        "line_loss": line_loss,
        "line_coefficients": coefficients,
        "line_step_symbols": (d1, d2),
        "line_step_coefficients": step_coefficients,
        "line_derivative": derivative,
        "line_critical_alpha": critical,
        "flow_w1": flow_w1,
        "flow_w2": flow_w2,
        "conserved": conserved,
        "u_rate": u_rate,
        "u_plus": u_plus,
        "u_minus": u_minus,
        "u_t": u_t,
        "limit_w1": limit_w1,
        "limit_w2": limit_w2,
        "saddle_v0": v0,
        "saddle_v_t": saddle_v_t,
    }


@functools.cache
def numeric(name: str) -> Callable[..., Any]:
    """A cached numpy function of one expression, arguments in a fixed documented order.

    ``line_coefficients``: (a1, a2, d1, d2, kappa) → list of 5 coefficients, d = b − a;
    ``u_t``: (u0, c, kappa, t); ``limit``: (c, sigma) → (w1, w2);
    ``saddle_v_t``: (v0, kappa, t).
    """
    s, e = symbols(), expressions()
    if name == "line_coefficients":
        args = (s["a1"], s["a2"], *e["line_step_symbols"], s["kappa"])
        return sp.lambdify(args, e["line_step_coefficients"], modules="numpy")
    if name == "u_t":
        return sp.lambdify((s["u0"], s["c"], s["kappa"], s["t"]), e["u_t"], modules="numpy")
    if name == "limit":
        return sp.lambdify((s["c"], s["s0"]), [e["limit_w1"], e["limit_w2"]], modules="numpy")
    if name == "saddle_v_t":
        return sp.lambdify((e["saddle_v0"], s["kappa"], s["t"]), e["saddle_v_t"], modules="numpy")
    raise KeyError(f"no numeric form named {name!r}")
