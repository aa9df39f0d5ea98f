"""Solution → solution along a trained mode-connecting curve, against the straight line.

Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018, "Loss surfaces, mode
connectivity, and fast ensembling of DNNs", §3) join two solutions θ_a and θ_b by a
curve θ(t) = c_a(t)·θ_a + c_bend(t)·θ_bend + c_b(t)·θ_b, t ∈ [0, 1]: the quadratic
Bezier curve, c = ((1 − t)², 2t(1 − t), t²), or the polygonal chain through θ_bend at
t = ½ (:func:`landscapes.paths.curve_coefficients`). Only the bend θ_bend is trained,
started at the midpoint (θ_a + θ_b)/2 -- where the curve is the straight line -- with
the endpoints fixed and one t ~ U[0, 1] drawn per minibatch, so that the loss is low
along the whole curve. Where the straight line between two solutions crosses a
barrier, such a curve typically does not: the solutions are connected, only not
linearly.

For each replicate r, θ_a is its solution and θ_b the next replicate's (as in
:mod:`~landscapes.app.analyses.final_to_final`), and this analysis evaluates on the
same t ∈ [0, 1], along the ``line`` coordinate:

- ``line``: θ(t) = (1 − t)·θ_a + t·θ_b;
- ``curve``: the trained curve (``--curve-kind``). Its bend is a run of the store
  (:mod:`experiments.curves`: its own folder, checkpoints, resume and Dask like any
  run), trained with the system's own recipe -- optimizer, batch size, training
  examples, seeds -- for ``--curve-epochs`` epochs at ``--curve-lr`` (default: the
  endpoints' own); one run per pair, a variant of the system
  (:meth:`~landscapes.app.analyses.base.Analysis.variants`).

Both are evaluated with batch-norm statistics recomputed at every t (``bn="recompute"``,
whatever the budget's ``bn``; a network without batch norm is unaffected): the
curve's interpolated statistics do not belong to the network at t, and the line is
evaluated alike so that the two barriers differ only by the path. The barrier is the
excess over the chord between the ends, :func:`landscapes.metrics.linear_barrier`, as
for final → final; with ``barrier_tol`` set, both paths' barriers come from the
adaptive search on [0, 1] (:func:`~landscapes.app.analyses.line.with_adaptive`).
``bend_distance`` is ‖θ_bend − (θ_a + θ_b)/2‖, how far training moved the bend from the
line. Replicate r is joined to r + 1, so two replicates give one pair seen from both
ends, each end's curve trained on its own: use three or more for a spread. Closed-form
systems have no run store to train a bend in, and decline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import (
    REPLICATES,
    Analysis,
    Context,
    Declined,
    Needs,
    Plan,
    Replicates,
    at_least,
    cells,
    knob,
    mean_std,
    per_split,
)
from landscapes.app.analyses.line import (
    AdaptiveSettings,
    adaptive_points,
    searched,
    training_split,
    with_adaptive,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView
    from landscapes.paths import Path

__all__ = ["Curve", "CurveSettings", "LINES", "pair_changes", "pair_paths", "barriers"]

#: The two paths of every pair, in the order of the ``line`` coordinate.
LINES = ("line", "curve")
#: How the engine evaluates both: batch-norm statistics re-estimated at every t.
BN = "recompute"


@dataclass(frozen=True)
class CurveSettings(AdaptiveSettings):
    """The curve's kind, the bend's training and the resolution in t (Garipov et al. 2018)."""

    curve_kind: str = knob("bezier", "mode-connecting curve between two solutions: 'bezier' "
                                     "(quadratic Bezier) or 'polychain' (polygonal chain "
                                     "through the bend)")
    curve_epochs: float | None = knob(None, "epochs of the curve's bend training (default: "
                                            "the endpoints' own)", "E")
    curve_lr: float | None = knob(None, "learning rate of the curve's bend training "
                                        "(default: the endpoints' own)", "LR")
    curve_points: int = knob(21, "values of t on [0, 1] along the line and the curve", "N")

    def __post_init__(self) -> None:
        from landscapes.paths import CURVES

        AdaptiveSettings.__post_init__(self)
        if self.curve_kind not in CURVES:
            raise ValueError(f"unknown curve_kind {self.curve_kind!r}; choose from "
                             f"{list(CURVES)}")
        at_least("curve_points", self.curve_points, 3)
        for name in ("curve_epochs", "curve_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, got {value!r}")


def pair_changes(config: Any, r: int, budget: Any) -> dict[str, Any]:
    """The variant training the bend of replicate ``r``'s curve (to replicate r + 1).

    Its config is the system's ``config`` with the curve, its endpoints and the bend's
    length and rate changed (no extra checkpoints: the trajectory's are the
    endpoints'), trained once (its replicate 0).
    """
    ends = tuple(f"{config.name}/replicate_{i}" for i in (r, (r + 1) % budget.replicates))
    return {"curve": budget.curve_kind, "curve_ends": ends,
            "epochs": config.epochs if budget.curve_epochs is None else budget.curve_epochs,
            "lr": config.lr if budget.curve_lr is None else budget.curve_lr,
            "checkpoints": (), REPLICATES: 1}


def pair_paths(reps: Any, r: int, run: Any, t: np.ndarray,
               iteration: int | None = None) -> dict[str, Path]:
    """The line and the curve of replicate ``r`` on ``t``; ``run`` is its curve run.

    ``iteration`` picks a checkpoint of the bend (default its final one; 0 is the
    untrained bend, the midpoint, whose curve is the line).
    """
    from experiments.curves import curve_path
    from landscapes import paths

    line = paths.linear(reps.final(r), reps.other_final(r), t, names=("final", "other_final"))
    return {"line": line, "curve": curve_path(run, t, iteration=iteration)}


def bend_distance(run: Any) -> float:
    """‖θ_bend − (θ_a + θ_b)/2‖: how far training moved the bend off the line."""
    from experiments.curves import ends

    a, b = ends(run)
    middle = {k: (v + b[k]) / 2 for k, v in a.items() if v.is_floating_point()}
    return zoo.distance(middle, {k: run.final[k] for k in middle})


class Curve(Analysis):
    name = "curve"
    title = "final → final: line and mode-connecting curve"
    description = ("final -> final between replicates along the straight line and along a "
                   "trained Bezier or polygonal-chain curve, batch norm recomputed at every "
                   "t (Garipov et al. 2018)")
    Settings = CurveSettings
    reads = ("splits",)
    needs = Needs(curve=True)
    extension = True
    min_replicates = 2

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.line(budget.curve_points, 0.0, 1.0)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        per_path = len(self.grid(budget)) + adaptive_points(budget, searches=len(budget.splits),
                                                           seeded=True)
        return len(LINES) * per_path

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [pair_changes(config, r, budget) for r in range(budget.replicates)]

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes.app.executor import for_each

        if getattr(reps, "runs", None) is None:
            raise Declined("a curve's bend is trained as a run of the store: networks only")
        grid = self.grid(budget)
        runs: dict[int, Any] = {}
        info = {"curve_kind": budget.curve_kind, "bn": BN,
                **{k: v for k, v in pair_changes(reps.config, 0, budget).items()
                   if k in ("epochs", "lr")}}

        def one(r: int) -> xr.Dataset:
            # Each pair trains its bend here (on a cluster, as a task once its endpoints
            # are in the store), then evaluates both paths.
            run = runs[r] = reps.variant(**pair_changes(reps.config, r, budget)).runs[0]
            frame = zoo.Frame({"line": list(LINES)}, grid, splits=budget.splits)
            for line, path in pair_paths(reps, r, run, grid).items():
                frame.put(reps.evaluate(path, self.name, r, bn=BN), line=line)
            ds = frame.dataset(self.name, reps.system, info)
            return ds.assign(bend_distance=((), bend_distance(run),
                                            {"long_name": "‖θ_bend − (θ_a + θ_b)/2‖"}))

        ds = reps.label(for_each(reps, one, range(reps.count)))
        ds.attrs.update(curve_kind=budget.curve_kind, curve_epochs=float(info["epochs"]),
                        curve_lr=float(info["lr"]),
                        curve_runs=json.dumps([runs[r].config.name for r in sorted(runs)]))

        def curves_for(r: int) -> dict[str, Any]:
            def along(line: str) -> Any:
                return lambda t: reps.evaluate(pair_paths(reps, r, runs[r], t)[line], self.name,
                                               r, bn=BN).loss
            return {line: along(line) for line in LINES}

        return with_adaptive(ds, curves_for, "linear", budget, line_dim="line")

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        out: dict[str, str] = {}
        for var in ("loss", "error"):
            heights = barriers(ds, var)
            for line in LINES:
                parts = [(s, mean_std(h)) for s, h in per_split(heights.sel(line=line))]
                out[f"barrier final->final ({var}), {line}"] = cells(parts)
        kind = ds.attrs.get("curve_kind", "?")
        out["curve trained"] = (f"{kind}, {ds.attrs.get('curve_epochs', float('nan')):g} "
                                f"epoch(s) at lr {ds.attrs.get('curve_lr', float('nan')):g}; "
                                f"bend moved {mean_std(ds.bend_distance)} off the line")
        return out

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Training loss along t of the line (dashed) and the curve (solid), per system."""
        curves = training_split(ds).loss
        systems = curves.system.values if "system" in curves.dims else [None]
        for system in systems:
            sub = curves if system is None else curves.sel(system=system)
            colour = (context.colors or {}).get(str(system))
            for line, style in zip(LINES, ("--", "-")):
                c = sub.sel(line=line).dropna("alpha", how="all")
                mean, spread = c.mean("replicate"), c.std("replicate")
                ax.plot(c.alpha, mean, ls=style, color=colour,
                        label=f"{system} {line}" if system is not None else line)
                ax.fill_between(c.alpha, mean - spread, mean + spread, color=colour, alpha=0.2,
                                lw=0)
        ax.set_xlabel("t")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)


def barriers(ds: xr.Dataset, var: str = "loss") -> xr.DataArray:
    """The chord-excess barrier of ``var`` on the line and the curve, t ∈ [0, 1].

    The loss's from the adaptive search where it ran (``barrier_tol``), else the grid's;
    the error's always from the grid.
    """
    grid = metrics.linear_barrier(ds[var].sel(alpha=slice(0.0, 1.0))).height
    if var != "loss" or "linear_adaptive" not in ds.data_vars:
        return grid
    if "split" not in grid.dims:
        return searched(ds, "linear", None, grid)
    parts = [searched(ds, "linear", s, h) for s, h in per_split(grid)]
    return xr.concat(parts, dim=grid.split).transpose(*grid.dims)


ANALYSIS = Curve()
