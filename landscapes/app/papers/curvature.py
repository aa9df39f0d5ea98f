"""The curvature extensions of the three papers: their figures and their measurements.

Each paper asks one question of the Hessian that it did not ask itself (issue
"curvature"): Goodfellow et al. 2015, where the init → solution line has negative
curvature and how much; Im et al. 2016, whether the optimizers with the wider basins
have the flatter solutions; Frankle 2020, whether the barrier from iteration t falls
with the sharpness of θ_t. The answers are "shown" findings marked "extension", never
mixed with the papers' own claims.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from landscapes.app.analyses import zoo
from landscapes.app.analyses.from_iteration import barriers, drop
from landscapes.app.analyses.line import training_split
from landscapes.app.papers import drawing
from landscapes.app.papers.base import Outcome

__all__ = ["draw_line_spectrum", "negative_curvature", "rank_correlation", "sharpness_and_basins",
           "sharpness_and_barriers", "draw_sharpness_and_basins", "draw_sharpness_and_barriers"]



def rank_correlation(x: Any, y: Any) -> float:
    """Spearman's ρ of two equal-length samples (NaN pairs dropped; NaN under 3 pairs)."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    return float(spearmanr(x[keep], y[keep]).statistic)


def draw_line_spectrum(ax: Any, ds: xr.Dataset, title: str) -> None:
    """λ_max, λ_min and the curvature along the line, init → final, mean ± std."""
    line = training_split(ds).sel(line="init_to_final")
    for var, label, style in (("top_eigenvalue", "λ_max", "-"), ("bottom_eigenvalue", "λ_min", "--")):
        drawing.band(ax, line.alpha.values, line[var].isel(eigen=0), label=label, ls=style)
    drawing.band(ax, line.alpha.values, line.curvature_along, label="along the line", ls=":")
    ax.axhline(0, color="0.6", lw=0.8, zorder=0)
    ax.set(title=title, xlabel="α (init → solution)", ylabel="curvature", yscale="symlog")
    ax.legend(fontsize=7)


def negative_curvature(ds: xr.Dataset, name: str) -> str:
    """Where λ_min is most negative on init → final, against λ_max there, and the line's own."""
    line = training_split(ds).sel(line="init_to_final")
    low = line.bottom_eigenvalue.isel(eigen=0).mean("replicate")
    top = line.top_eigenvalue.isel(eigen=0).mean("replicate")
    i = int(low.argmin())
    along = line.curvature_along
    negative = low.alpha.values[(low < 0).values]
    where = (f"α ∈ [{negative.min():.2g}, {negative.max():.2g}]" if negative.size else "nowhere")
    return (f"{name}: λ_min < 0 at {where} of {low.sizes['alpha']} points; most negative "
            f"{float(low[i]):.3g} at α = {float(low.alpha[i]):.2g}, where λ_max = "
            f"{float(top[i]):.3g} (ratio {abs(float(low[i])) / float(top[i]):.2g}); the line's "
            f"own curvature is negative at {float((along < 0).mean()):.0%} of the points")


def sharpness_and_basins(o: Outcome, system: str) -> tuple[str, str]:
    """λ_max at each optimizer's solution against its basin width (Im et al. Fig. 6)."""
    sharp = training_split(o.ds(system, "sharpness")).top_eigenvalue.isel(alpha=0).mean("replicate")
    width = o.ds(system, "basin").basin_width.mean("replicate")
    names = [str(n) for n in sharp.optimizer.values if n in width.optimizer.values]
    s, w = sharp.sel(optimizer=names), width.sel(optimizer=names)
    rho = rank_correlation(s, w)
    parts = ", ".join(f"{zoo.label(n)} λ_max {float(s.sel(optimizer=n)):.3g} / width "
                      f"{float(w.sel(optimizer=n)):.3g}" for n in names)
    return (f"{parts}; Spearman ρ(λ_max, basin width) = {rho:.2f} over {len(names)} "
            "optimizers (negative: the wider basins are the flatter)", "shown")


def draw_sharpness_and_basins(o: Outcome, system: str) -> Any:
    fig, axes = drawing.figure(1)
    ax = axes[0, 0]
    sharp = training_split(o.ds(system, "sharpness")).top_eigenvalue.isel(alpha=0)
    width = o.ds(system, "basin").basin_width
    for i, n in enumerate(sharp.optimizer.values):
        if n in width.optimizer.values:
            ax.plot(width.sel(optimizer=n).values, sharp.sel(optimizer=n).values, "o",
                    color=f"C{i}", label=zoo.label(str(n)))
    ax.set(xlabel="basin width (absolute distance)", ylabel="λ_max at the solution",
           yscale="log", title=system)
    ax.legend(fontsize=7)
    return fig


def sharpness_and_barriers(o: Outcome, systems: tuple[str, ...]) -> tuple[str, str]:
    """ρ over t between λ_max(θ_t) and the rise barrier of the test loss from t."""
    parts = []
    for system in systems:
        if not (o.has(system, "curvature") and o.has(system, "from_iteration")):
            continue
        sharp = training_split(o.ds(system, "curvature")).start_top_eigenvalue.mean("replicate")
        lines = o.ds(system, "from_iteration").sel(split="test")
        rise = barriers(lines.loss, drop(lines, None), "rise").mean("replicate")
        t = np.intersect1d(sharp.start_iteration.values, rise.start_iteration.values)
        s, r = sharp.sel(start_iteration=t), rise.sel(start_iteration=t)
        parts.append(f"{system}: ρ(λ_max(θ_t), rise from t) = {rank_correlation(s, r):.2f} over "
                     f"{t.size} starts; λ_max {float(s.isel(start_iteration=0)):.3g} at t = "
                     f"{int(t[0])} → {float(s.isel(start_iteration=-1)):.3g} at t = {int(t[-1])}")
    return "; ".join(parts) or "no system computed", "shown"


def draw_sharpness_and_barriers(o: Outcome, systems: tuple[str, ...]) -> Any:
    fig, axes = drawing.figure(2, width=4.0)
    for i, system in enumerate(s for s in systems if o.has(s, "curvature")):
        sharp = training_split(o.ds(system, "curvature")).start_top_eigenvalue
        drawing.band(axes[0, 0], sharp.start_iteration.values, sharp, label=system, color=f"C{i}",
                     marker="o", ms=3)
        if o.has(system, "from_iteration"):
            lines = o.ds(system, "from_iteration").sel(split="test")
            rise = barriers(lines.loss, drop(lines, None), "rise")
            axes[0, 1].plot(sharp.mean("replicate").sel(start_iteration=rise.start_iteration),
                            rise.mean("replicate"), "o-", color=f"C{i}", ms=3, label=system)
    axes[0, 0].set(xscale="symlog", yscale="log", xlabel="start iteration t",
                   ylabel="λ_max(θ_t)")
    axes[0, 1].set(xscale="log", xlabel="λ_max(θ_t)", ylabel="rise of test loss from t")
    axes[0, 0].legend(fontsize=7)
    return fig
