"""Every pair of optimizers from one init: barrier, functional distance, label disagreement.

Im, Tao & Branson (2016), §4.1 and Table 1 (upper triangle), Fig. 4, Fig. 5(b, d). The
budget's optimizers (:mod:`~landscapes.app.analyses.zoo`) are trained from each
replicate's initialisation with its minibatch order; for every pair (a, b), a listed
before b, the line θ(α) = (1 − α)·θ_a + α·θ_b on α ∈ [0, 1] is evaluated with

- ``loss`` and ``error`` on each split: the final→final barrier;
- ``divergence``: the paper's functional distance from the first solution,
  dist(θ_a, θ(α)) = sqrt(1/N Σᵢ ‖F(xᵢ, θ(α)) − F(xᵢ, θ_a)‖²), with F the network's
  softmax output (class probabilities). The paper's "output of the network" is read as
  probabilities because its numbers are on their scale: a distance of ≈0.16 going with
  ≈8 % label disagreement is impossible for logits;
- ``disagreement``: the share of examples whose predicted label differs from θ_a's.

At α = 1 these compare the two solutions. The largest disagreement two networks with
error rates e_a and e_b can have is min(1, e_a + e_b) (they can differ only where one
of them is wrong), so the table also reads the disagreement as a share of it, as the
paper does ("the maximum disagreement we could see was 22 %").

Per optimizer, the dataset also holds each solution's ``final_loss`` and ``final_error``
(Fig. 4: accuracy per optimizer and init), its ``init_distance`` ‖θ_final − θ_0‖ and
whether its run ``diverged`` (``init_loss`` and ``init_error`` are the shared init's).
The cells of a diverged run stay NaN, and every table and figure names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.line import BarrierSettings, adaptive_points, search_lines, searched
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Needs,
    Plan,
    Replicates,
    cells,
    mean_std,
    per_split,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: Outputs compared by the functional distance (:func:`landscapes.evaluate`'s choice).
OUTPUTS = "probabilities"
#: What every pair's line holds.
VARIABLES = ("loss", "error", "disagreement", "divergence")
#: The label of the shared initialisation among the evaluated points.
INIT = "init"


@dataclass(frozen=True)
class OptimizersSettings(BarrierSettings, zoo.ZooSettings):
    """The zoo's optimizers and the α resolution of the lines between them."""

    def __post_init__(self) -> None:
        BarrierSettings.__post_init__(self)
        zoo.ZooSettings.__post_init__(self)


class Optimizers(Analysis):
    name = "optimizers"
    title = "optimizer pairs from one init: barrier, distance, disagreement"
    description = ("final -> final between every pair of optimizers trained from one init "
                   "and minibatch order, with functional distance and label disagreement "
                   "(Im et al. 2016 §4.1, Table 1, Figs. 4-5)")
    Settings = OptimizersSettings
    reads = ("splits",)
    needs = Needs(zoo=True)

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [zoo.changes(n) for n in budget.optimizers]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        k = len(budget.optimizers)
        line = budget.points + adaptive_points(budget, searches=len(budget.splits))
        return k * (k - 1) // 2 * line + k

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        names = list(budget.optimizers)
        runs = {n: reps.variant(**zoo.changes(n)) for n in names}  # type: ignore[attr-defined]
        grid = self.grid(budget)
        info = {"optimizers": {n: vars(zoo.recipe(n)) for n in names}, "outputs": OUTPUTS}
        parts = []
        for r in range(reps.count):
            finals = {n: runs[n].final(r) for n in names}
            ok = {n: not runs[n].diverged(r) for n in names}
            frame = zoo.Frame({"optimizer_a": names, "optimizer_b": names}, grid,
                              splits=budget.splits, variables=VARIABLES)
            for i, a in enumerate(names):
                ends = {b: finals[b] for b in names[i + 1:] if ok[b]}
                if ok[a] and ends:
                    path = zoo.fan(finals[a], ends, grid, "optimizer_b")
                    frame.put(runs[a].evaluate(path, self.name, r, reference=finals[a],
                                               divergence=OUTPUTS), optimizer_a=a)
            ds = frame.dataset(self.name, reps.system, info)
            ds = _searched_pairs(ds, runs, finals, ok, names, r, self.name, budget)
            init = reps.init(r)
            ends_of = zoo.evaluate_points(runs[names[0]], r, {INIT: init, **finals}, "optimizer",
                                          self.name)
            start = ends_of.sel(optimizer=INIT, drop=True)
            ends_of = ends_of.sel(optimizer=names)
            ds = ds.assign(
                init_loss=start.loss, init_error=start.error,
                final_loss=ends_of.loss, final_error=ends_of.error,
                init_distance=("optimizer", [zoo.distance(finals[n], init) for n in names]),
                diverged=("optimizer", [float(not ok[n]) for n in names]))
            parts.append(ds)
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        """Means over the pairs whose runs both trained (the others are named)."""
        barrier, dist, agree, share = [], [], [], []
        mask = trained_pairs(ds)
        kept = ds.assign({v: ds[v].where(mask) for v in VARIABLES})
        for split, c in per_split(kept):
            b = searched(kept, "linear", split, metrics.linear_barrier(c.loss).height)
            if "linear_adaptive" in kept.data_vars:
                b = b.where(mask)
            end = c.isel(alpha=-1)
            barrier.append((split, mean_std(b)))
            dist.append((split, mean_std(end.divergence)))
            agree.append((split, mean_std(end.disagreement, ".2f")))
            share.append((split, mean_std(disagreement_share(c), ".2f")))
        return {"optimizer runs diverged": diverged_text(ds),
                "optimizer runs that did not train": untrained_text(ds),
                "barrier between optimizers' solutions": cells(barrier),
                f"functional distance between solutions ({OUTPUTS})": cells(dist),
                "label disagreement between solutions": cells(agree),
                "  as a share of the most the errors allow": cells(share)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """The first system's barrier matrix (training loss, mean over replicates)."""
        system = ds.system.values[0] if "system" in ds.dims else None
        one = ds.sel(system=system) if system is not None else ds
        c = one.loss.sel(split="train") if "split" in one.dims else one.loss
        height = searched(one, "linear", "train", metrics.linear_barrier(c).height)
        height = height.mean("replicate")
        names = [str(n) for n in one.optimizer_a.values]
        image = ax.imshow(height.transpose("optimizer_a", "optimizer_b").values, cmap="magma")
        ax.set_xticks(range(len(names)), [zoo.label(n) for n in names], rotation=90, fontsize=6)
        ax.set_yticks(range(len(names)), [zoo.label(n) for n in names], fontsize=6)
        ax.figure.colorbar(image, ax=ax, label="barrier (train loss)")
        ax.set_title(f"{system}: final → final barrier" if system is not None else "barrier")


def _searched_pairs(ds: xr.Dataset, runs: Any, finals: dict[str, Any], ok: dict[str, bool],
                    names: list[str], r: int, analysis: str, budget: SettingsView) -> xr.Dataset:
    """``ds`` with the adaptive chord-excess barrier of every pair that trained."""
    from landscapes import paths

    def line(a: str, b: str) -> Any:
        return lambda alpha: runs[a].evaluate(paths.linear(finals[a], finals[b], alpha),
                                              analysis, r).loss
    curves = {(a, b): line(a, b) for i, a in enumerate(names) for b in names[i + 1:]
              if ok[a] and ok[b]}
    splits = list(ds.split.values) if "split" in ds.loss.dims else None
    found = search_lines(curves, ("optimizer_a", "optimizer_b"), "linear", budget, splits)
    return ds if found is None else ds.merge(found, join="left")


def disagreement_share(ds: xr.Dataset) -> xr.DataArray:
    """Disagreement of the two solutions over the most their errors allow, min(1, e_a + e_b).

    ``ds`` has one split (or none); the errors are each solution's own on it.
    """
    e = ds.final_error
    e_a = e.rename(optimizer="optimizer_a")
    e_b = e.rename(optimizer="optimizer_b")
    most = np.minimum(1.0, e_a + e_b)
    return ds.disagreement.isel(alpha=-1) / most.where(most > 0)


def diverged_text(ds: xr.Dataset, dim: str = "optimizer") -> str:
    """``none`` or ``adam (r0), rk2 (r0, r1)``: every diverged run by name and replicate."""
    flags = ds.diverged
    if "system" in flags.dims:
        flags = flags.isel(system=0)
    out = []
    for name in flags[dim].values:
        hit = flags.sel({dim: name})
        reps = [f"r{int(r)}" for r in hit.replicate.values if bool(hit.sel(replicate=r) > 0)] \
            if "replicate" in hit.dims else (["r0"] if bool(hit > 0) else [])
        if reps:
            out.append(f"{zoo.label(str(name))} ({', '.join(reps)})")
    return ", ".join(out) if out else "none"


def untrained(ds: xr.Dataset) -> xr.DataArray:
    """Runs that diverged or ended no lower than they started, per replicate and optimizer.

    A finite loss can still be a failed run: RK2's midpoint method at the paper's doubled
    rate ends far above the init's loss with chance accuracy. Such a solution is a point
    in parameter space like any other, and its lines are evaluated, but the claims about
    "local minima found by different algorithms" leave it out and name it.
    """
    final, init = _train(ds.final_loss), _train(ds.init_loss)
    return (ds.diverged > 0) | ~(final < init)


def trained_pairs(ds: xr.Dataset) -> xr.DataArray:
    """Whether both runs of each pair (a, b) trained (see :func:`untrained`)."""
    ok = ~untrained(ds)
    return ok.rename(optimizer="optimizer_a") & ok.rename(optimizer="optimizer_b")


def _train(da: xr.DataArray) -> xr.DataArray:
    """The training split of ``da`` (the first split when there is none called so)."""
    if "split" not in da.dims:
        return da
    return da.sel(split="train") if "train" in da.split.values else da.isel(split=0)


def untrained_text(ds: xr.Dataset) -> str:
    """``none`` or ``RK2 midpoint (r0: training loss 19 from 2.3, r1: ...)``."""
    if "system" in ds.dims:
        ds = ds.isel(system=0)
    flags = untrained(ds)
    train, start = _train(ds.final_loss), _train(ds.init_loss)
    out = []
    for name in flags.optimizer.values:
        hit = [r for r in flags.replicate.values if bool(flags.sel(optimizer=name, replicate=r))]
        if hit:
            parts = [f"r{int(r)}: training loss {float(train.sel(optimizer=name, replicate=r)):.3g}"
                     f" from {float(start.sel(replicate=r)):.3g}" for r in hit]
            out.append(f"{zoo.label(str(name))} ({', '.join(parts)})")
    return "; ".join(out) if out else "none"


ANALYSIS = Optimizers()
