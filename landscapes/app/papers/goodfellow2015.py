"""Goodfellow, Vinyals & Saxe (2015), "Qualitatively characterizing neural network
optimization problems", ICLR: every figure the data on this machine allows.

Networks (App. A): the MNIST maxout network with dropout (Figs. 1, 5, 13), the ReLU and
sigmoid networks with dropout (Figs. 2–3) and the ReLU network without dropout (Fig. 4,
"we did not use dropout, because the resolution we use here is high enough to expose
artifacts"); y = w1·w2·x solved exactly (Figs. 9–10); random walks and momentum on a
quadratic in closed form (App. B, Figs. 11–12). Adversarial training (Fig. 1 top row)
is not reproduced; the CIFAR-10 conv maxout net (Fig. 6) and the PTB LSTM (Fig. 8) need
their data; the MP-DBM (Fig. 7) is not among the package's models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from landscapes import metrics
from landscapes.app.analyses.from_iteration import GONE
from landscapes.app.analyses.init_to_final import MONOTONE_RTOL
from landscapes.app.analyses.learning_curve import early_share
from landscapes.app.analyses.random_to_final import count_minima
from landscapes.app.papers import aligned, curvature, drawing
from landscapes.app.papers.base import Claim, Figure, Outcome, Paper
from landscapes.app.settings import Budget

MAXOUT, RELU, SIGMOID, RELU_NO_DROPOUT = (
    "mnist_maxout_dropout", "mnist_relu_dropout", "mnist_sigmoid_dropout", "mnist_relu")
#: Replicates of the closed-form figures (cheap and exact, so more than the networks').
THEORY_REPLICATES = 8
#: App. B: "captures at least 2/3 the norm of the parameter vector at all points in time".
RESIDUAL_BOUND = 1 / 3


# ------------------------------------------------------------------------- figures


def _fig1(o: Outcome) -> Any:
    fig, axes = drawing.figure(2)
    drawing.curves(axes[0, 0], o.ds(MAXOUT, "init_to_final"), label="maxout")
    axes[0, 0].set(ylabel="J(θ)", title="maxout + dropout: init → final", yscale="log")
    curve = o.ds(MAXOUT, "learning_curve").loss.isel(alpha=0, drop=True)
    for split in curve.split.values:
        c = curve.sel(split=split).dropna("start_iteration", how="all")
        drawing.band(axes[0, 1], c.start_iteration.values, c, label=str(split),
                     ls=drawing.SPLIT_STYLE[str(split)])
    axes[0, 1].set(xlabel="iteration", ylabel="J(θ)", yscale="log",
                   title="progress of SGD (checkpoints)")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    return fig


def _fig2(o: Outcome) -> Any:
    fig, axes = drawing.figure(2)
    for ax, (system, name) in zip(axes.flat, [(SIGMOID, "sigmoid"), (RELU, "ReLU")]):
        drawing.curves(ax, o.ds(system, "init_to_final"), label=name)
        ax.set(ylabel="J(θ)", title=f"{name} + dropout: init → final", yscale="log")
        ax.legend(fontsize=7)
    return fig


def _fig3(o: Outcome) -> Any:
    fig, axes = drawing.figure(1, width=5.5, height=3.8)
    ax = axes[0, 0]
    for i, (system, name) in enumerate([(MAXOUT, "maxout"), (RELU, "ReLU"),
                                        (SIGMOID, "sigmoid")]):
        drawing.curves(ax, o.ds(system, "init_to_final"), label=name, color=f"C{i}")
    ax.set(ylabel="J(θ)", yscale="log", title="init → final, one log axis")
    ax.legend(fontsize=7, ncol=3)
    return fig


def _fig4(o: Outcome) -> Any:
    fig, axes = drawing.figure(4, width=3.6)
    fine = o.ds(RELU_NO_DROPOUT, "zoom").sel(split="train")
    drawing.curves(axes[0, 0], fine, label="train")
    axes[0, 0].set(title=f"a) {fine.sizes['alpha']} values of α on [0, 1]",
                   ylabel="training J(θ)")
    drawing.curves(axes[0, 1], fine, label="train")
    low = float(fine.loss.min())
    span = float(fine.loss.sel(alpha=slice(0.6, 1.0)).max()) - low
    axes[0, 1].set(title="b) the same, zoomed in", ylim=(low - 0.05 * span, low + span),
                   xlim=(0.6, 1.0))
    for ax, name, title in [(axes[0, 2], "zoom_init", "c) α ∈ [0, 0.01]"),
                            (axes[0, 3], "zoom_final", "d) α ∈ [0.99, 1]")]:
        # (both windows have zoom_points values, as the paper's 200 at its budget)
        drawing.curves(ax, o.ds(RELU_NO_DROPOUT, name).sel(split="train"), label="train")
        ax.set(title=title)
    return fig


def _fig5(o: Outcome) -> Any:
    fig, axes = drawing.figure(2)
    drawing.curves(axes[0, 0], o.ds(MAXOUT, "final_to_final"))
    axes[0, 0].set(title="solution → solution", ylabel="J(θ)", yscale="log")
    drawing.curves(axes[0, 1], o.ds(MAXOUT, "random_to_final"))
    axes[0, 1].set(title="random point → solution", ylabel="J(θ)", yscale="log")
    for ax in axes.flat:
        for edge in (0.0, 1.0):
            ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
        ax.legend(fontsize=7)
    return fig


def _theory_lines(budget: Budget) -> dict[str, xr.Dataset]:
    from theory import deep_linear

    alphas = np.linspace(-0.5, 1.5, 401)
    common = dict(n_replicates=THEORY_REPLICATES, seed=budget.seed, alphas=alphas)
    return {"deep_linear/init_to_final": deep_linear.init_to_final(**common),
            "deep_linear/final_to_final": deep_linear.final_to_final(**common),
            "deep_linear/random_to_final": deep_linear.random_to_final(
                **common, random_scale=budget.random_scale)}


def _fig9(o: Outcome) -> Any:
    ds = o.extra["deep_linear/init_to_final"]
    fig, axes = drawing.figure(1, width=4.8)
    for r in ds.replicate.values:
        axes[0, 0].plot(ds.alpha, ds.loss.sel(replicate=r), lw=1.1)
    for edge in (0.0, 1.0):
        axes[0, 0].axvline(edge, color="0.8", lw=0.8)
    axes[0, 0].set(xlabel="α", ylabel="J(α)", ylim=(-0.05, 2.0),
                   title="y = w1·w2·x: small init → solution (exact)")
    return fig


def _fig10(o: Outcome) -> Any:
    ff, rf = o.extra["deep_linear/final_to_final"], o.extra["deep_linear/random_to_final"]
    fig, axes = drawing.figure(2)
    for r in ff.replicate.values:
        axes[0, 0].plot(ff.alpha, ff.loss.sel(replicate=r), lw=1.1,
                        label=f"barrier {float(ff.barrier_height.sel(replicate=r)):.3g}")
        axes[0, 1].semilogy(rf.alpha, rf.loss.sel(replicate=r) + 1e-6, lw=1.1)
    axes[0, 0].set(xlabel="α", ylabel="J(α)", ylim=(-0.05, 2.0), title="solution → solution")
    axes[0, 0].legend(fontsize=6)
    axes[0, 1].set(xlabel="α", ylabel="J(α) + 1e-6", title="random point → solution")
    for ax in axes.flat:
        for edge in (0.0, 1.0):
            ax.axvline(edge, color="0.8", lw=0.8)
    return fig


def _walks(budget: Budget) -> dict[str, xr.Dataset]:
    from theory import random_walk

    return {"random_walks/expected": random_walk.expected([2, 10, 100, 1000, 100_000]),
            "random_walks/samples": random_walk.monte_carlo([10, 100_000], n_walks=1,
                                                            seed=budget.seed)}


def _fig11(o: Outcome) -> Any:
    from theory import random_walk

    ds, mc = o.extra["random_walks/expected"], o.extra["random_walks/samples"]
    fig, axes = drawing.figure(1, width=5.0, height=3.8)
    ax = axes[0, 0]
    for d in ds.dimension.values:
        scale = np.sqrt(900) * random_walk.chi_mean(int(d))
        sel = ds.sel(dimension=d)
        ax.plot(sel.projection / scale, sel.residual / scale, lw=1.2, label=f"E, d = {int(d):,}")
    ax.plot(ds.limit_projection, ds.limit_residual, "k--", lw=1, label="d → ∞")
    for d in mc.dimension.values:
        s = mc.sel(dimension=d).isel(replicate=0)
        scale = float(s.norm.sel(step=900))
        ax.plot(s.projection / scale, s.residual / scale, lw=0.6, alpha=0.6,
                label=f"one walk, d = {int(d):,}")
    ax.set(xlabel="projection / ‖θ_T‖", ylabel="residual / ‖θ_T‖", aspect="equal",
           title="random walks, solution at step 900 of 1000")
    ax.legend(fontsize=6, loc="upper left")
    return fig


def _quadratic(budget: Budget) -> dict[str, xr.Dataset]:
    from theory import quadratic

    return {"quadratic/trajectories": quadratic.trajectories(seed=budget.seed)}


def _fig12(o: Outcome) -> Any:
    ds = o.extra["quadratic/trajectories"]
    fig, axes = drawing.figure(1, width=5.0, height=3.5)
    for i in ds.setting.values:
        s = ds.sel(setting=i)
        axes[0, 0].plot(s.projection, s.residual, lw=1.2,
                        label=f"ε = {float(s.learning_rate):g}, μ = {float(s.momentum):g}")
    axes[0, 0].set(xlabel="projection", ylabel="residual",
                   title="momentum GD on a quadratic, d = 100,000")
    axes[0, 0].legend(fontsize=7)
    return fig


def _fig13(o: Outcome) -> Any:
    ds = o.ds(MAXOUT, "trajectory")
    ratio = _pointwise_ratio(ds)
    fig, axes = drawing.figure(1, width=5.0, height=3.8)
    ax = axes[0, 0]
    for r in ds.replicate.values:
        d = ds.sel(replicate=r).dropna("step", how="all")
        first = r == ds.replicate.values[0]
        ax.plot(d.projection, d.residual, "o-", ms=2, color="C0",
                label="maxout + dropout (SGD)" if first else None)
        ax.plot(d.walk_projection, d.walk_residual, "--", color="C1",
                label="matched random walk (expected)" if first else None)
    ax.set(xlabel="projection on init → solution", ylabel="‖residual‖ (L2)", aspect="equal",
           title=f"largest residual / ‖θ‖ = {float(ratio.max()):.3f}")
    ax.legend(fontsize=7)
    return fig


def _ext_flow(o: Outcome) -> Any:
    from theory import deep_linear

    rng = np.random.default_rng(o.budget.seed)
    inits = np.concatenate([rng.uniform(-1.5, 1.5, (14, 2)), [[0.6, -0.6]]])
    times = np.concatenate([[0.0], np.geomspace(1e-3, 30, 300)])
    fig, axes = drawing.figure(1, width=4.2, height=4.0)
    ax = axes[0, 0]
    w = np.linspace(0.3, 2.5, 200)
    for sign in (1, -1):
        ax.plot(sign * w, sign / w, color="k", lw=1, label="w1 w2 = 1" if sign > 0 else None)
    for w0 in inits:
        path = deep_linear.gradient_flow(w0, times)
        degenerate = deep_linear.classify_init(w0) != "regular"
        ax.plot(path[:, 0], path[:, 1], lw=1.0, color="C3" if degenerate else "C0")
        ax.plot(*w0, "o", ms=3, color="C3" if degenerate else "C0")
    ax.plot(0, 0, "x", color="k")
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), xlabel="w1", ylabel="w2", aspect="equal",
           title="closed-form gradient flow")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def _ext_depth(o: Outcome) -> Any:
    from theory import deep_linear

    alphas = np.linspace(-0.25, 1.25, 301)
    fig, axes = drawing.figure(2)
    for name in ("deep_linear_L2_w4", "deep_linear_L3_w8", "deep_linear_L4_w16"):
        init = deep_linear.init_to_final(system=name, n_replicates=1, alphas=alphas,
                                         seed=o.budget.seed)
        ff = deep_linear.final_to_final(system=name, n_replicates=1, alphas=alphas,
                                        seed=o.budget.seed)
        axes[0, 0].plot(alphas, init.loss.isel(replicate=0), label=name)
        axes[0, 1].plot(alphas, ff.loss.isel(replicate=0), label=name)
    axes[0, 0].set(xlabel="α", ylabel="J(α)", title="init → solution (degree-2L polynomial)")
    axes[0, 1].set(xlabel="α", ylabel="J(α)", title="solution → solution")
    axes[0, 0].legend(fontsize=7)
    return fig


# -------------------------------------------------------------------------- claims


def _train(ds: xr.Dataset) -> xr.DataArray:
    return ds.loss.sel(split="train") if "split" in ds.dims else ds.loss


def _verdict(ok: Any) -> str:
    return "reproduced" if bool(np.all(ok)) else "differs"


def _c_convex(o: Outcome) -> tuple[str, str]:
    c = _train(o.ds(MAXOUT, "init_to_final")).sel(alpha=slice(0.0, 1.0))
    conv = metrics.convexity(c, skip_flattening=True)
    start = metrics.flattening(c).end
    whole = metrics.convexity(c).gap
    text = (f"training loss, maxout: convex past the flattening in {int(conv.convex.sum())}/"
            f"{conv.convex.size} replicates (gap {float(conv.gap.max()):.3f} of the range "
            f"from α≈{float(start.mean()):.2f}; {float(whole.max()):.3f} on all of [0, 1])")
    return text, _verdict(conv.convex)


def _c_monotone(o: Outcome, systems: tuple[str, ...]) -> tuple[str, str]:
    parts, ok = [], []
    for system in systems:
        c = _train(o.ds(system, "init_to_final")).sel(alpha=slice(0.0, 1.0))
        mono = metrics.monotonicity(c, rtol=MONOTONE_RTOL)
        minima = metrics.local_minima(c)
        ok.append(bool(mono.monotone.all()) and float(minima.max()) == 0)
        parts.append(f"{system}: monotone {int(mono.monotone.sum())}/{mono.monotone.size}, "
                     f"interior minima {int(minima.max())}")
    return "training loss on [0, 1] -- " + "; ".join(parts), _verdict(ok)


#: "The first few epochs" is judged on runs of at least this many epochs, by this one.
FEW_EPOCHS, MIN_EPOCHS = 3, 10


def _c_early(o: Outcome) -> tuple[str, str]:
    from landscapes.app.systems import get_system

    epochs = o.budget.epochs or get_system(MAXOUT).config.epochs
    if epochs < MIN_EPOCHS:
        return (f"training lasts {epochs:g} epoch(s) at this budget, so 'the first few of "
                f"many' cannot be told apart (needs ≥ {MIN_EPOCHS}: --epochs or --budget "
                "paper)", "cannot run here")
    curve = _train(o.ds(MAXOUT, "learning_curve")).isel(alpha=0, drop=True)
    share = early_share(curve, FEW_EPOCHS / epochs)
    text = (f"maxout: {float(share.mean()):.0%} of the training-loss drop in the first "
            f"{FEW_EPOCHS} of {epochs:g} epochs")
    return text, _verdict(share > 0.5)


def _c_resolution(o: Outcome) -> tuple[str, str]:
    parts, ok = [], []
    for name in ("zoom", "zoom_init", "zoom_final"):
        c = _train(o.ds(RELU_NO_DROPOUT, name))
        minima = metrics.local_minima(c)
        mono = metrics.monotonicity(c, rtol=MONOTONE_RTOL).monotone
        ok.append(float(minima.max()) == 0 and bool(mono.all()))
        parts.append(f"{name}: {c.sizes['alpha']} points, interior minima {int(minima.max())}, "
                     f"monotone {int(mono.sum())}/{mono.size}")
    return "ReLU (no dropout), training loss -- " + "; ".join(parts), _verdict(ok)


def _c_final_to_final(o: Outcome) -> tuple[str, str]:
    c = _train(o.ds(MAXOUT, "final_to_final")).sel(alpha=slice(0.0, 1.0))
    ref = _train(o.ds(MAXOUT, "init_to_final"))
    drop = float((ref.sel(alpha=0.0) - ref.sel(alpha=1.0)).mean())
    height = metrics.linear_barrier(c).height
    text = (f"maxout, training loss: barrier between solutions {float(height.min()):.3g}–"
            f"{float(height.max()):.3g} ({float(height.min() / drop):.1%}–"
            f"{float(height.max() / drop):.1%} of the init→final drop)")
    return text, _verdict(height > GONE * drop)


def _c_random(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MAXOUT, "random_to_final")
    step = float(np.diff(ds.alpha.values).min())
    c = _train(ds).sel(alpha=slice(0.0, 1.0 + 1.5 * step))
    found, bad = [], []
    for curve in np.asarray(c.transpose(..., "alpha")).reshape(-1, c.sizes["alpha"]):
        span = float(np.nanmax(curve) - np.nanmin(curve))
        n, above = count_minima(curve, float(np.nanmin(curve)) + 0.01 * span)
        found.append(n)
        bad.append(above)
    text = f"maxout, training loss: minima {found}, of which above the solution's level {bad}"
    return text, _verdict(np.array(bad) == 0)


def _c_deep_linear(o: Outcome) -> tuple[str, str]:
    ds = o.extra["deep_linear/init_to_final"]
    seg = ds.loss.sel(alpha=slice(0.0, 1.0))
    start = metrics.flattening(seg).end
    ok = (ds.exact_minima == 1) & (start > 0.1)
    text = (f"exact: {int((ds.exact_minima == 1).sum())}/{ds.sizes['replicate']} lines have "
            f"one minimum on [0, 1]; the flattening ends at α≈{float(start.mean()):.2f} "
            f"(steepest descent)")
    return text, _verdict(ok)


def _c_barrier(o: Outcome) -> tuple[str, str]:
    ff = o.extra["deep_linear/final_to_final"]
    h = ff.barrier_height.values
    text = (f"exact barriers {np.round(h, 3).tolist()}: > 0 for the {int((h > 1e-9).sum())} "
            f"pairs on opposite branches of w1·w2 = 1, 0 within a branch")
    return text, _verdict(np.any(h > 1e-9))


def _c_random_theory(o: Outcome) -> tuple[str, str]:
    from theory import deep_linear

    points = deep_linear.anchors(n_replicates=THEORY_REPLICATES, seed=o.budget.seed,
                                 random_scale=o.budget.random_scale)
    minima = []
    for start, end in zip(points["random"], points["final"]):
        sp = deep_linear.stationary_points(start, end, 0.0, 1.0 + 1e-9)
        minima.append([float(j) for j, kind in zip(sp.loss, sp.kind) if kind == "minimum"])
    spurious = sum(j > 1e-12 for found in minima for j in found)
    text = (f"exact minima on [0, 1] per line: {[len(m) for m in minima]}, with loss "
            f"{max(j for m in minima for j in m):.1g} at most: every one a solution (two "
            "where the line crosses the other branch of w1·w2 = 1 first)")
    return text, _verdict(spurious == 0)


def _c_walks(o: Outcome) -> tuple[str, str]:
    from theory import random_walk

    ds = o.extra["random_walks/expected"]
    gaps = {}
    for d in ds.dimension.values:
        scale = np.sqrt(900) * random_walk.chi_mean(int(d))
        sel = ds.sel(dimension=d)
        gaps[int(d)] = float(np.hypot(sel.projection / scale - ds.limit_projection,
                                      sel.residual / scale - ds.limit_residual).max())
    text = ("largest distance of the expected curve from the d → ∞ shape, in units of "
            "‖θ_T‖: " + ", ".join(f"d={d:,}: {g:.3f}" for d, g in gaps.items()))
    values = list(gaps.values())
    return text, _verdict(values[-1] < 0.01 and all(np.diff(values) < 0))


def _c_quadratic(o: Outcome) -> tuple[str, str]:
    ds = o.extra["quadratic/trajectories"]
    peak = (ds.residual.max("step") / ds.projection.isel(step=-1)).values
    text = "largest residual / axis length per (ε, μ): " + ", ".join(
        f"({float(e):g}, {float(m):g}): {p:.3f}"
        for e, m, p in zip(ds.learning_rate.values, ds.momentum.values, peak))
    return text, "shown"


def _pointwise_ratio(ds: xr.Dataset) -> xr.DataArray:
    """max_k residual_k / ‖θ_k‖ per replicate (App. B: 'at all points in time')."""
    return (ds.residual / ds.norm).max("step")


def _c_residual(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MAXOUT, "trajectory")
    ratio = _pointwise_ratio(ds)
    epochs = o.budget.epochs or "the experiment's"
    text = (f"maxout, {epochs} epoch(s): largest residual / ‖θ_k‖ over training "
            f"{np.round(ratio.values, 3).tolist()} (the paper: residual ≤ 1/3 of the norm)")
    return text, _verdict(ratio <= RESIDUAL_BOUND)


def _cannot(o: Outcome) -> tuple[str, str]:  # pragma: no cover - never judged
    return "", "cannot run here"

def _curvature_theory(budget: Budget) -> dict[str, xr.Dataset]:
    from landscapes.app.analyses import get_analysis
    from landscapes.app.systems import get_system

    return {"deep_linear/curvature": get_analysis("curvature").closed_form(
        get_system("deep_linear"), budget)}


def _ext_curvature(o: Outcome) -> Any:
    fig, axes = drawing.figure(2, width=4.4)
    curvature.draw_line_spectrum(axes[0, 0], o.extra["deep_linear/curvature"],
                                 "y = w1·w2·x (exact)")
    curvature.draw_line_spectrum(axes[0, 1], o.ds(RELU, "curvature"), f"{RELU} (train)")
    return fig


def _eigenplane_theory(budget: Budget) -> dict[str, xr.Dataset]:
    from landscapes.app.analyses import get_analysis
    from landscapes.app.systems import get_system

    return {"deep_linear/eigenplane": get_analysis("eigenplane").closed_form(
        get_system("deep_linear"), budget)}


def _ext_eigenplane(o: Outcome) -> Any:
    from landscapes.app.analyses import get_analysis
    from landscapes.app.analyses.base import Context

    fig, axes = drawing.figure(2, width=4.4)
    plane = get_analysis("eigenplane")
    for ax, ds, title in ((axes[0, 0], o.extra["deep_linear/eigenplane"], "y = w1·w2·x (exact)"),
                          (axes[0, 1], o.ds(RELU, "eigenplane"), f"{RELU} (train)")):
        plane.panel(ax, ds, Context())
        ax.set_title(title)
    return fig


def _x_negative(o: Outcome) -> tuple[str, str]:
    return ("; ".join([curvature.negative_curvature(o.extra["deep_linear/curvature"],
                                                    "deep linear (exact)"),
                       curvature.negative_curvature(o.ds(RELU, "curvature"), RELU)]), "shown")


def _ext_curve(o: Outcome) -> Any:
    from landscapes.app.analyses.curve import LINES

    ds = o.ds(MAXOUT, "curve")
    fig, axes = drawing.figure(2)
    for ax, split in zip(axes.flat, ("train", "test")):
        for line, style in zip(LINES, ("--", "-")):
            c = ds.loss.sel(split=split, line=line)
            drawing.band(ax, c.alpha.values, c, label=line, ls=style)
        ax.set(xlabel="t (solution → solution)", ylabel="J(θ)", yscale="log",
               title=f"maxout, {split}: line and {ds.attrs.get('curve_kind', 'curve')}")
        ax.legend(fontsize=7)
    return fig


def _x_curve(o: Outcome) -> tuple[str, str]:
    from landscapes.app.analyses.base import mean_std
    from landscapes.app.analyses.curve import barriers

    ds = o.ds(MAXOUT, "curve")
    loss, error = barriers(ds, "loss"), barriers(ds, "error")
    parts = []
    for split in loss.split.values:
        h = loss.sel(split=split)
        lower = int((h.sel(line="curve") <= h.sel(line="line")).sum())
        parts.append(f"{split} loss barrier {mean_std(h.sel(line='line'))} along the line, "
                     f"{mean_std(h.sel(line='curve'))} along the curve (lower or equal in "
                     f"{lower}/{h.sizes['replicate']} pairs), error barrier "
                     f"{mean_std(error.sel(split=split, line='line'))} → "
                     f"{mean_std(error.sel(split=split, line='curve'))}")
    return (f"maxout, {ds.attrs.get('curve_kind', 'curve')} bend trained "
            f"{ds.attrs.get('curve_epochs', float('nan')):g} epoch(s): " + "; ".join(parts),
            "shown")


def _ext_aligned(o: Outcome) -> Any:
    return aligned.draw_lines(o.ds(MAXOUT, "aligned"), "maxout")


def _x_aligned(o: Outcome) -> tuple[str, str]:
    ref = _train(o.ds(MAXOUT, "init_to_final"))
    drop = float((ref.sel(alpha=0.0) - ref.sel(alpha=1.0)).mean())
    return aligned.lines_finding(o.ds(MAXOUT, "aligned"), MAXOUT, drop), "shown"


BUDGETS = {
    "quick": Budget(replicates=2, epochs=1.0, eval_examples=2000, points=41, zoom_points=41,
                    max_starts=8, trajectory_points=24),
    "paper": Budget(replicates=2, epochs=None, eval_examples=None, points=100,
                    zoom_points=200, max_starts=None, trajectory_points=0, barrier_tol=1e-3),
}

PAPER = Paper(
    name="goodfellow2015",
    citation="Goodfellow, Vinyals & Saxe (2015), Qualitatively characterizing neural "
             "network optimization problems, ICLR",
    budgets=BUDGETS,
    figures=(
        Figure("1", "maxout on MNIST: init → final, and SGD's progress", _fig1,
               needs=((MAXOUT, "init_to_final"), (MAXOUT, "learning_curve"))),
        Figure("2", "sigmoid and ReLU networks: init → final", _fig2,
               needs=((SIGMOID, "init_to_final"), (RELU, "init_to_final"))),
        Figure("3", "maxout, ReLU and sigmoid on one log axis", _fig3,
               needs=((MAXOUT, "init_to_final"), (RELU, "init_to_final"),
                      (SIGMOID, "init_to_final"))),
        Figure("4", "higher resolution: [0, 1], [0, 0.01], [0.99, 1] (ReLU, no dropout)",
               _fig4, needs=((RELU_NO_DROPOUT, "zoom"), (RELU_NO_DROPOUT, "zoom_init"),
                             (RELU_NO_DROPOUT, "zoom_final"),
                             (RELU_NO_DROPOUT, "init_to_final"))),
        Figure("5", "final → final and random → final (maxout)", _fig5,
               needs=((MAXOUT, "final_to_final"), (MAXOUT, "random_to_final"),
                      (MAXOUT, "init_to_final"))),
        Figure("6", "conv maxout on CIFAR-10", None,
               needs=(("cifar_maxout", "init_to_final"), ("cifar_maxout", "zoom_init"))),
        Figure("7", "MP-DBM on MNIST", None,
               missing="the MP-DBM (Goodfellow et al. 2013a) is not among experiments.models"),
        Figure("8", "LSTM on Penn Treebank", None,
               needs=(("ptb_lstm_medium", "init_to_final"),)),
        Figure("9", "deep linear regression, small init → solution (exact)", _fig9,
               compute=_theory_lines),
        Figure("10", "deep linear: solution → solution, random → solution (exact)", _fig10,
               compute=_theory_lines),
        Figure("11", "random walks of dimension 2 … 100,000 (exact expectations)", _fig11,
               compute=_walks),
        Figure("12", "momentum gradient descent on a 100,000-dimensional quadratic", _fig12,
               compute=_quadratic),
        Figure("13", "the maxout network's training path vs the init → solution axis",
               _fig13, needs=((MAXOUT, "trajectory"),)),
        Figure("ext-flow", "extension: closed-form gradient flow of y = w1·w2·x", _ext_flow),
        Figure("ext-depth", "extension: deep linear networks of depth 2–4 (exact)",
               _ext_depth),
        Figure("ext-curvature", "extension: Hessian eigenvalues along init → solution",
               _ext_curvature, needs=((RELU, "curvature"),), compute=_curvature_theory,
               on_request=True),
        Figure("ext-eigenplane", "extension: the loss on the plane of the top two Hessian "
                                 "eigenvectors at the solution", _ext_eigenplane,
               needs=((RELU, "eigenplane"),), compute=_eigenplane_theory, on_request=True),
        Figure("ext-curve", "extension: Fig. 5's solutions joined by a trained curve "
                            "(Garipov et al. 2018)", _ext_curve, needs=((MAXOUT, "curve"),),
               on_request=True),
        Figure("ext-aligned", "extension: Fig. 5's solution → solution line before and after "
                              "aligning the hidden units, and with REPAIR", _ext_aligned,
               needs=((MAXOUT, "aligned"),), on_request=True),
    ),
    claims=(
        Claim(("1",), "Apart from the flattening near α = 0, it appears nearly convex in "
                      "this subspace.", _c_convex),
        Claim(("1",), "The vast majority of learning happens in the first few epochs.",
              _c_early),
        Claim(("2", "3"), "The 1-D subspace spanning the initial and final parameters "
                          "contains no difficult, exotic structures (sigmoid, ReLU, maxout).",
              lambda o: _c_monotone(o, (MAXOUT, RELU, SIGMOID))),
        Claim(("4",), "Increased resolution did not expose any small, difficult structures.",
              _c_resolution),
        Claim(("5",), "Each solution is a different local minimum within this 1-D subspace.",
              _c_final_to_final),
        Claim(("5",), "We find no local minima besides the SGD solution.", _c_random),
        Claim(("6",), "Conv maxout on CIFAR-10: a shallow barrier near the initial point.",
              _cannot),
        Claim(("7",), "MP-DBM: a secondary local minimum with high error.", _cannot),
        Claim(("8",), "LSTM on PTB: no difficult structures.", _cannot),
        Claim(("9",), "A flattening near the saddle point at the origin, and only one "
                      "minimum within this 1-D subspace.", _c_deep_linear),
        Claim(("10",), "The straight line between two solutions encounters a barrier of "
                       "higher cost.", _c_barrier),
        Claim(("10",), "This search does not encounter any minima other than the solution.",
              _c_random_theory),
        Claim(("11",), "In high dimensional spaces this plot converges to a simple "
                       "geometric shape.", _c_walks),
        Claim(("12",), "The primary quantity distinguishing them is the maximum norm of "
                       "the residual.", _c_quadratic),
        Claim(("13",), "Our linear subspace captures at least 2/3 the norm of the parameter "
                       "vector at all points in time.", _c_residual),
        Claim(("ext-curvature",), "Extension (§3's saddle): is there negative curvature along "
                                  "the init → solution line -- where, and how much?",
              _x_negative, extension=True),
        Claim(("ext-curve",), "Extension (Fig. 5 along a curve): is the barrier between two "
                              "solutions still there along a trained low-loss curve "
                              "(Garipov et al. 2018), or only along the straight line?",
              _x_curve, extension=True),
        Claim(("ext-aligned",), "Extension (Fig. 5 modulo permutation): is the barrier between "
                                "two solutions permutation symmetry -- does it survive once "
                                "the second's hidden units are aligned to the first's "
                                "(Ainsworth et al. 2023), and with REPAIR (Jordan et al. "
                                "2023)?", _x_aligned, needs=((MAXOUT, "init_to_final"),),
              extension=True),
    ),
    notes=("Adversarial training (Fig. 1, top row) is not reproduced: Fig. 1 shows the "
           "maxout network with dropout, the paper's bottom row."),
)


def formulas() -> dict[str, str]:
    """LaTeX of each closed form of §5 the docs show (sympy's own rendering), by name."""
    import sympy as sp

    from theory import deep_linear

    e = deep_linear.expressions()
    latex = sp.latex
    return {
        "loss": f"J(w_1, w_2) = {latex(e['loss'])}",
        "line_product": f"p(\\alpha) = w_1(\\alpha)\\, w_2(\\alpha) = {latex(e['line_product'])}",
        "line_coefficients": " \\\\ ".join(
            f"c_{k} &= {latex(c)}" for k, c in enumerate(e["line_coefficients"])),
        "line_step_coefficients": " \\\\ ".join(
            f"c_{k} &= {latex(c)}" for k, c in enumerate(e["line_step_coefficients"])),
        "line_derivative": f"J'(\\alpha) = {latex(e['line_derivative'])}",
        "line_critical_alpha": f"\\alpha^* = {latex(e['line_critical_alpha'])}",
        "flow": (f"\\dot w_1 = {latex(e['flow_w1'])}, \\qquad \\dot w_2 = {latex(e['flow_w2'])}, "
                 f"\\qquad c = {latex(e['conserved'])}"),
        "u_rate": (f"\\dot u = {latex(e['u_rate'])}, \\qquad u_\\pm = {latex(e['u_plus'])}, "
                   f"\\; {latex(e['u_minus'])}"),
        "u_t": f"u(t) = {latex(e['u_t'])}",
        "limit": (f"w_1^\\infty = {latex(e['limit_w1'])}, \\qquad "
                  f"w_2^\\infty = {latex(e['limit_w2'])}"),
        "saddle": f"v(t) = (w_1 - w_2)^2(t) = {latex(e['saddle_v_t'])}",
    }


def formula_files() -> dict[str, str]:
    """The text of every ``formulas/<name>.inc`` the theory docs page includes."""
    out = {}
    for name, body in formulas().items():
        lines = (["   \\begin{aligned}", f"   {body}", "   \\end{aligned}"] if "&" in body
                 else [f"   {body}"])
        math = "\n".join([".. math::", "", *lines, ""])
        out[f"{name}.inc"] = (".. Generated by python -m landscapes.reproduce goodfellow2015 "
                              "from theory.deep_linear.expressions().\n\n" + math)
    return out
