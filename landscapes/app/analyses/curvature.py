"""Curvature along the lines: Hessian eigenvalues, trace and density (an extension).

Goodfellow et al. (2015, §3) find the init → solution line "approximately convex" with a
saddle near the init; Im et al. (2016, §4.2) compare basin sizes; Frankle (2020, §4)
finds the barrier from iteration t gone early in training. The Hessian H = ∇²J(θ) of
the training objective J tells what the loss curves cannot: at every α of the
init → final and final → final lines (θ(α) = (1 − α)·θ_a + α·θ_b),

- λ_max and λ_min, the largest and smallest eigenvalues (λ_min < 0: a direction of
  negative curvature, a saddle rather than a valley);
- tr H, and the curvature of J along the line itself,
  c(α) = vᵀHv/‖v‖² with v = θ_b − θ_a (c = J''(α)/‖v‖²: negative where the line's
  loss is concave);

at the init and the solution the spectral density (stochastic Lanczos quadrature) and
its moments m_j = tr(H^j)/P; and λ_max(θ_t) at Frankle's start iterations t. Networks
measure them with :mod:`landscapes.curvature` through the engine's point measures, on
the first ``curvature_examples`` examples of each split; the deep linear systems have
them in closed form (:mod:`theory.hessian`), which the agreement test holds them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.anchors import is_interpolated
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Plan,
    Replicates,
    at_least,
    cells,
    knob,
    mean_std,
    per_split,
)
from landscapes.app.analyses.line import training_split

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: The two lines, each from one anchor of a replicate to another.
LINES = {"init_to_final": ("init", "final"), "final_to_final": ("final", "other_final")}
#: Variables the closed form has on the lines, besides the loss.
ON_LINES = ("top_eigenvalue", "bottom_eigenvalue", "hessian_trace", "curvature_along")
#: Hessian-vector products per point, roughly, against one forward pass each (2–3).
PRODUCTS = 60


@dataclass(frozen=True)
class CurvatureSettings:
    """How finely and how exactly the curvature is measured."""

    curvature_points: int = knob(5, "alpha points of each curvature line (init->final, "
                                    "final->final), 0 and 1 included", "N")
    curvature_k: int = knob(1, "Hessian eigenvalues at each end of the spectrum", "K")
    curvature_tol: float = knob(1e-3, "Lanczos stopping rule: residual |Hv - lambda v| <= "
                                      "tol * |H|", "TOL")
    curvature_sketch: int = knob(10, "Hutch++ sketch size of the trace (exact when it "
                                     "reaches the parameter count)", "S")
    curvature_probes: int = knob(4, "stochastic Lanczos quadrature probes of the density", "N")
    curvature_examples: int | None = knob(1000, "the Hessian of the loss on the first N "
                                                "evaluated examples of each split", "N")

    def __post_init__(self) -> None:
        at_least("curvature_points", self.curvature_points, 2)
        at_least("curvature_k", self.curvature_k, 1)
        at_least("curvature_sketch", self.curvature_sketch, 1)
        at_least("curvature_probes", self.curvature_probes, 1)
        if self.curvature_examples is not None:
            at_least("curvature_examples", self.curvature_examples, 1)
        if not 0 < self.curvature_tol < 1:
            raise ValueError(f"curvature_tol must be in (0, 1), got {self.curvature_tol!r}")


class Curvature(Analysis):
    name = "curvature"
    title = "curvature along init → final and final → final"
    description = ("Hessian lambda_max, lambda_min, trace and curvature along the line at "
                   "every alpha; density at init and solution; lambda_max(theta_t) "
                   "(extension)")
    Settings = CurvatureSettings
    reads = ("max_starts",)
    has_closed_form = True
    compared = ("loss", *ON_LINES)
    cost = 3.0 * PRODUCTS
    extension = True
    min_replicates = 2
    ragged = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.curvature_points, 0.0, 1.0)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        # A density costs probes × 64 products: a few points' worth each.
        density = 2 * budget.curvature_probes * 64 // PRODUCTS
        return len(LINES) * len(self.grid(budget)) + len(plan.starts) + density

    def spectrum(self, budget: SettingsView, **changes: Any) -> Any:
        from landscapes.curvature import Spectrum

        return Spectrum(**{"k": budget.curvature_k, "which": "both", "trace": "hutch++",
                           "tol": budget.curvature_tol, "trace_sketch": budget.curvature_sketch,
                           "density_probes": budget.curvature_probes, "seed": budget.seed,
                           **changes})

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths
        from landscapes.app.analyses.zoo import points
        from landscapes.app.executor import for_each
        from landscapes.curvature import Along
        from landscapes.engine.point_measures import OnExamples

        alpha = self.grid(budget)
        examples = budget.curvature_examples

        def on(measure: Any) -> OnExamples:
            return OnExamples(measure, examples)

        def one(r: int) -> xr.Dataset:
            lines = []
            for line, (start, end) in LINES.items():
                a, b = getattr(reps, start)(r), getattr(reps, end)(r)
                v = {k: b[k] - a[k] for k in a if is_interpolated(a[k])}
                ds = reps.evaluate(paths.linear(a, b, alpha, names=(start, end)), self.name, r,
                                   measures=[on(self.spectrum(budget)), on(Along((v,)))])
                lines.append(ds.assign(curvature_along=ds.curvature_along.isel(direction=0,
                                                                                  drop=True)))
            out = xr.concat(lines, "line", combine_attrs="override", coords="different",
                            compat="equals", join="outer")
            out = out.assign_coords(line=np.array(list(LINES), dtype=object))
            ends = reps.evaluate(points({"init": reps.init(r), "final": reps.final(r)}, "at"),
                                 self.name, r, measures=[on(self.spectrum(
                                     budget, which=None, trace=None, density=True))])
            starts = reps.evaluate(points(reps.starts(r), "start_iteration"), self.name, r,
                                   measures=[on(self.spectrum(budget, k=1, which="largest",
                                                              trace=None))])
            density = ends[["spectral_density", "spectral_grid", "density_moment",
                            "moment_stderr"]].isel(alpha=0, drop=True)
            top = starts.top_eigenvalue.isel(alpha=0, eigen=0, drop=True)
            extra = {str(k): v for k, v in density.items()}
            extra["start_top_eigenvalue"] = top
            return _ordered(out.assign({k: v.drop_vars("distance", errors="ignore")
                                        for k, v in extra.items()}))

        out = reps.label(for_each(reps, one, range(reps.count)))
        out.attrs["curvature_examples"] = "all" if examples is None else int(examples)
        return out

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from landscapes import results
        from theory import deep_linear, hessian

        # One gradient-descent solve gives every anchor: the lines' ends and the θ_t.
        t = np.array(system.iterations(budget.max_starts))
        found = deep_linear.anchors(system=system.name, n_replicates=budget.replicates,
                                    seed=budget.seed, iterations=t.tolist())
        lines = [hessian.deep_linear_line(found[start], found[end], self.grid(budget),
                                          system.name, seed=budget.seed, k=budget.curvature_k,
                                          analysis=f"curvature_{line}")
                 for line, (start, end) in LINES.items()]
        keep = ["loss", "error", *ON_LINES]
        out = xr.concat([ds[keep] for ds in lines], "line", combine_attrs="override",
                        coords="different", compat="equals", join="outer")
        out = out.assign_coords(line=np.array(list(LINES), dtype=object))
        at = lines[0].density_moment.isel(alpha=[0, -1]).drop_vars("distance", errors="ignore")
        at = at.rename(alpha="at").assign_coords(at=np.array(["init", "final"], dtype=object))
        h = hessian.hessian(found["path"], system=system.name, seed=budget.seed)
        top = hessian.spectrum(h, k=1)["top_eigenvalue"][..., 0]
        out = out.assign(density_moment=at.transpose("replicate", "at", "moment"),
                         start_top_eigenvalue=(("replicate", "start_iteration"), top))
        out = out.assign_coords(start_iteration=t)
        return results.validate(_ordered(out))

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        rows: dict[str, list[tuple[str | None, str]]] = {}
        for split, d in per_split(ds):
            i2f = d.sel(line="init_to_final")
            top, low = i2f.top_eigenvalue.isel(eigen=0), i2f.bottom_eigenvalue.isel(eigen=0)
            ends = f"{mean_std(top.isel(alpha=0))} -> {mean_std(top.isel(alpha=-1))}"
            rows.setdefault("lambda_max init -> solution", []).append((split, ends))
            where = low.alpha.values[int(np.argmin(low.mean("replicate").values))]
            rows.setdefault("most negative lambda_min on init->final (alpha)", []).append(
                (split, f"{mean_std(low.min('alpha'))} (α={where:.2g})"))
            along = i2f.curvature_along
            rows.setdefault("curvature along init->final, min", []).append(
                (split, f"{mean_std(along.min('alpha'))}, negative at "
                        f"{float((along < 0).mean()):.0%} of the points"))
            rows.setdefault("trace init -> solution", []).append(
                (split, f"{mean_std(i2f.hessian_trace.isel(alpha=0))} -> "
                        f"{mean_std(i2f.hessian_trace.isel(alpha=-1))}"))
            f2f = d.sel(line="final_to_final").top_eigenvalue.isel(eigen=0)
            rows.setdefault("lambda_max final->final: ends / midpoint", []).append(
                (split, f"{mean_std(f2f.isel(alpha=0))} / "
                        f"{mean_std(f2f.interp(alpha=0.5))}"))
            t = d.start_top_eigenvalue.dropna("start_iteration", how="all")
            if t.sizes.get("start_iteration", 0):
                rows.setdefault("lambda_max(theta_t), first -> last t", []).append(
                    (split, f"{mean_std(t.isel(start_iteration=0))} -> "
                            f"{mean_std(t.isel(start_iteration=-1))}"))
        return {name: cells(parts) for name, parts in rows.items()}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """λ_max (solid) and λ_min (dashed) along init → final, per system."""
        d = training_split(ds).sel(line="init_to_final")
        for system in d.system.values:
            colour = (context.colors or {}).get(str(system))
            one = d.sel(system=system)
            for var, style in (("top_eigenvalue", "-"), ("bottom_eigenvalue", "--")):
                c = one[var].isel(eigen=0).dropna("alpha", how="all")
                ax.plot(c.alpha, c.mean("replicate"), style, color=colour,
                        label=f"{system} λ_{'max' if var.startswith('top') else 'min'}")
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("α (init → solution)")
        ax.set_ylabel("Hessian eigenvalue")


#: The dimension order of every variable, so the twin's and the closed form's arrays align.
ORDER = ("system", "replicate", "split", "line", "at", "start_iteration", "alpha", "eigen",
         "moment", "spectrum")


def _ordered(ds: xr.Dataset) -> xr.Dataset:
    return ds.transpose(*[d for d in ORDER if d in ds.dims], ...)


ANALYSIS = Curvature()
