"""Write the figures and the sympy-rendered formulas of docs/theory.rst.

Run from the repository root::

    python docs/make_theory_figures.py

It writes ``docs/figures/theory_*.png`` and ``docs/theory_formulas/*.inc`` (LaTeX from
:func:`sympy.latex` on the objects of :func:`theory.deep_linear.expressions`), both
committed, so the docs build needs neither matplotlib output nor sympy at build time.
Same code, same numbers: every analysis below is seeded.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

from theory import deep_linear, quadratic, random_walk  # noqa: E402

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
DPI = 90


def _save(fig: plt.Figure, name: str) -> None:
    fig.tight_layout()
    fig.savefig(FIGURES / name, dpi=DPI)
    plt.close(fig)


def formulas() -> dict[str, str]:
    """LaTeX of each formula on the theory page, by name."""
    e = deep_linear.expressions()
    latex = sp.latex
    blocks = {
        "loss": f"J(w_1, w_2) = {latex(e['loss'])}",
        "line_product": f"p(\\alpha) = w_1(\\alpha)\\, w_2(\\alpha) = {latex(e['line_product'])}",
        "line_coefficients": " \\\\ ".join(
            f"c_{k} &= {latex(c)}" for k, c in enumerate(e["line_coefficients"])
        ),
        "line_step_coefficients": " \\\\ ".join(
            f"c_{k} &= {latex(c)}" for k, c in enumerate(e["line_step_coefficients"])
        ),
        "line_derivative": f"J'(\\alpha) = {latex(e['line_derivative'])}",
        "line_critical_alpha": f"\\alpha^* = {latex(e['line_critical_alpha'])}",
        "flow": (
            f"\\dot w_1 = {latex(e['flow_w1'])}, \\qquad \\dot w_2 = {latex(e['flow_w2'])}, "
            f"\\qquad c = {latex(e['conserved'])}"
        ),
        "u_rate": f"\\dot u = {latex(e['u_rate'])}, \\qquad u_\\pm = {latex(e['u_plus'])}, \\; {latex(e['u_minus'])}",
        "u_t": f"u(t) = {latex(e['u_t'])}",
        "limit": f"w_1^\\infty = {latex(e['limit_w1'])}, \\qquad w_2^\\infty = {latex(e['limit_w2'])}",
        "saddle": f"v(t) = (w_1 - w_2)^2(t) = {latex(e['saddle_v_t'])}",
    }
    return blocks


def _math(body: str) -> str:
    lines = ["   \\begin{aligned}", f"   {body}", "   \\end{aligned}"] if "&" in body else [f"   {body}"]
    return "\n".join([".. math::", "", *lines, ""])


def fig_init_to_final() -> None:
    alphas = np.linspace(-0.5, 1.5, 401)
    ds = deep_linear.init_to_final(n_replicates=6, seed=0, alphas=alphas)
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for r in ds.replicate.values:
        ax.plot(alphas, ds.loss.sel(replicate=r), lw=1.2)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.axvline(1, color="0.7", lw=0.8)
    ax.set(xlabel=r"$\alpha$", ylabel=r"$J(\alpha)$", ylim=(-0.05, 2.0),
           title="Fig. 9: small random init to solution")
    _save(fig, "theory_deep_linear_init_to_final.png")


def fig_final_and_random() -> None:
    alphas = np.linspace(-0.5, 1.5, 401)
    ff = deep_linear.final_to_final(n_replicates=6, seed=0, alphas=alphas)
    rf = deep_linear.random_to_final(n_replicates=6, seed=0, alphas=alphas)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for r in ff.replicate.values:
        axes[0].plot(alphas, ff.loss.sel(replicate=r), lw=1.2,
                     label=f"barrier {float(ff.barrier_height.sel(replicate=r)):.3g}")
    axes[0].set(xlabel=r"$\alpha$", ylabel=r"$J(\alpha)$", ylim=(-0.05, 2.0),
                title="Fig. 10 left: solution to solution")
    axes[0].legend(fontsize=7)
    for r in rf.replicate.values:
        axes[1].semilogy(alphas, rf.loss.sel(replicate=r) + 1e-6, lw=1.2)
    axes[1].set(xlabel=r"$\alpha$", ylabel=r"$J(\alpha) + 10^{-6}$",
                title="Fig. 10 right: random point to solution")
    for ax in axes:
        ax.axvline(0, color="0.7", lw=0.8)
        ax.axvline(1, color="0.7", lw=0.8)
    _save(fig, "theory_deep_linear_final_to_final.png")


def fig_flow() -> None:
    rng = np.random.default_rng(0)
    inits = np.concatenate([rng.uniform(-1.5, 1.5, (14, 2)), [[0.6, -0.6]]])
    times = np.concatenate([[0.0], np.geomspace(1e-3, 30, 300)])
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    w = np.linspace(0.3, 2.5, 200)
    for sign in (1, -1):
        ax.plot(sign * w, sign / w, color="k", lw=1, label="w1 w2 = 1" if sign > 0 else None)
    for w0 in inits:
        path = deep_linear.gradient_flow(w0, times)
        degenerate = deep_linear.classify_init(w0) != "regular"
        ax.plot(path[:, 0], path[:, 1], lw=1.0, color="C3" if degenerate else "C0")
        ax.plot(*w0, "o", ms=3, color="C3" if degenerate else "C0")
    ax.plot(0, 0, "x", color="k")
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), xlabel="$w_1$", ylabel="$w_2$",
           title="Closed-form gradient flow", aspect="equal")
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, "theory_deep_linear_flow.png")


def fig_depth() -> None:
    alphas = np.linspace(-0.25, 1.25, 301)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for name in ("deep_linear_L2_w4", "deep_linear_L3_w8", "deep_linear_L4_w16"):
        init = deep_linear.init_to_final(system=name, n_replicates=1, alphas=alphas)
        ff = deep_linear.final_to_final(system=name, n_replicates=1, alphas=alphas)
        axes[0].plot(alphas, init.loss.isel(replicate=0), label=name)
        axes[1].plot(alphas, ff.loss.isel(replicate=0), label=name)
    axes[0].set(xlabel=r"$\alpha$", ylabel=r"$J(\alpha)$", title="init to solution (degree-2L polynomial)")
    axes[1].set(xlabel=r"$\alpha$", ylabel=r"$J(\alpha)$", title="solution to solution")
    axes[0].legend(fontsize=7)
    _save(fig, "theory_deep_linear_depth.png")


def fig_random_walk() -> None:
    dims = [2, 10, 100, 1000, 100_000]
    ds = random_walk.expected(dims)
    mc = random_walk.monte_carlo([10, 100_000], n_walks=1, seed=0)
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for d in dims:
        scale = np.sqrt(900) * random_walk.chi_mean(d)
        sel = ds.sel(dimension=d)
        ax.plot(sel.projection / scale, sel.residual / scale, lw=1.2, label=f"E, d = {d:,}")
    ax.plot(ds.limit_projection, ds.limit_residual, "k--", lw=1, label=r"$d \to \infty$")
    for d in (10, 100_000):
        s = mc.sel(dimension=d).isel(replicate=0)
        scale = float(s.norm.sel(step=900))
        ax.plot(s.projection / scale, s.residual / scale, lw=0.6, alpha=0.6, label=f"one walk, d = {d:,}")
    ax.set(xlabel=r"projection / $\|\theta_T\|$", ylabel=r"residual / $\|\theta_T\|$",
           title="Fig. 11: random walks, T = 900 of 1000", aspect="equal")
    ax.legend(fontsize=6, loc="upper left")
    _save(fig, "theory_random_walk.png")


def fig_quadratic() -> None:
    ds = quadratic.trajectories()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for i in ds.setting.values:
        s = ds.sel(setting=i)
        ax.plot(s.projection, s.residual, lw=1.2,
                label=fr"$\epsilon$ = {float(s.learning_rate):g}, $\mu$ = {float(s.momentum):g}")
    ax.set(xlabel="projection", ylabel="residual",
           title="Fig. 12: momentum GD, quadratic, d = 100,000")
    ax.legend(fontsize=7)
    _save(fig, "theory_quadratic.png")


def formula_files() -> dict[str, str]:
    """The text of every ``docs/theory_formulas/<name>.inc``, by file name."""
    return {
        f"{name}.inc": ".. Generated by docs/make_theory_figures.py from "
        "theory.deep_linear.expressions().\n\n" + _math(body)
        for name, body in formulas().items()
    }


def main() -> None:
    FIGURES.mkdir(exist_ok=True)
    out = HERE / "theory_formulas"
    out.mkdir(exist_ok=True)
    for name, text in formula_files().items():
        (out / name).write_text(text)
    fig_init_to_final()
    fig_final_and_random()
    fig_flow()
    fig_depth()
    fig_random_walk()
    fig_quadratic()


if __name__ == "__main__":
    main()
