"""Im et al. (2016)'s Table 1 modulo permutation: optimizer pairs before and after alignment.

Im, Tao & Branson (2016, §4.1, Table 1) find barriers between the solutions that
different optimizers reach from one init and one minibatch order
(:mod:`~landscapes.app.analyses.optimizers`). Are those solutions distinct only up to a
renaming of hidden units? For every pair (a, b) of the budget's optimizers, a listed
before b, and every replicate, this analysis evaluates the lines of
:mod:`~landscapes.app.analyses.aligned` from θ_a to θ_b along ``line`` -- unaligned,
aligned (b's units permuted to match a's), and aligned with the correction -- with the
same knobs (``align_method``, ``align_correction``, ``align_examples``) and the same
per-pair scalars (the function check, the weight distances), on dimensions
``(optimizer_a, optimizer_b)``. Pairs with a run that diverged stay NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes.app.analyses import zoo
from landscapes.app.analyses.aligned import (
    PAIR_VARIABLES,
    AlignedSettings,
    barriers,
    data_for,
    function_row,
    line_names,
    measure_pair,
)
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Declined,
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


@dataclass(frozen=True)
class AlignedOptimizersSettings(AlignedSettings, zoo.ZooSettings):
    """The zoo's optimizers, and how each pair is aligned and corrected."""

    def __post_init__(self) -> None:
        AlignedSettings.__post_init__(self)
        zoo.ZooSettings.__post_init__(self)


class AlignedOptimizers(Analysis):
    name = "aligned_optimizers"
    title = "optimizer pairs from one init, before and after alignment"
    description = ("final -> final between every pair of optimizers from one init, before "
                   "and after aligning the second to the first (Im et al. 2016 Table 1 "
                   "modulo permutation)")
    Settings = AlignedOptimizersSettings
    reads = ("splits",)
    needs = Needs(zoo=True)
    extension = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        from landscapes import grids

        return grids.line(budget.points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [zoo.changes(n) for n in budget.optimizers]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        k = len(budget.optimizers)
        return k * (k - 1) // 2 * len(line_names(budget.align_correction)) \
            * len(self.grid(budget))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        if getattr(reps, "runs", None) is None:
            raise Declined("alignment permutes a network's hidden units")
        names = list(budget.optimizers)
        runs = {n: reps.variant(**zoo.changes(n)) for n in names}  # type: ignore[attr-defined]
        grid = self.grid(budget)
        batches, info = data_for(runs[names[0]], budget)
        info["optimizers"] = {n: vars(zoo.recipe(n)) for n in names}
        lines = line_names(budget.align_correction)
        parts = []
        for r in range(reps.count):
            frame = zoo.Frame({"optimizer_a": names, "optimizer_b": names, "line": lines}, grid,
                              splits=budget.splits)
            scalars = {v: np.full((len(names), len(names)), np.nan) for v in PAIR_VARIABLES}
            attrs: dict[str, dict[str, Any]] = {}
            for i, j in ((i, j) for i in range(len(names)) for j in range(i + 1, len(names))):
                a, b = names[i], names[j]
                if runs[a].diverged(r) or runs[b].diverged(r):
                    continue
                found = measure_pair(runs[a], r, runs[a].final(r), runs[b].final(r), grid,
                                     budget, batches, self.name, frame,
                                     {"optimizer_a": a, "optimizer_b": b})
                for v, (value, meta) in found.items():
                    scalars[v][i, j] = value
                    attrs[v] = {k: m for k, m in meta.items() if k != "check"}
            ds = frame.dataset(self.name, reps.system, info)
            ds = ds.assign({v: (("optimizer_a", "optimizer_b"), scalars[v], attrs.get(v, {}))
                            for v in PAIR_VARIABLES})
            parts.append(ds)
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        """Means over the pairs that were evaluated, per line and split."""
        out: dict[str, str] = {}
        for line in ds.line.values:
            heights = barriers(ds).sel(line=line)
            out[f"barrier between optimizers' solutions, {line}"] = cells(
                [(s, mean_std(h)) for s, h in per_split(heights)])
        return {**out, **function_row(ds)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """The first system's training-loss barrier per pair, unaligned against aligned."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        height = barriers(one.sel(split="train") if "split" in one.dims else one)
        mean = height.mean("replicate")
        before = mean.sel(line="unaligned").values.ravel()
        after = mean.sel(line="aligned").values.ravel()
        keep = np.isfinite(before) & np.isfinite(after)
        ax.scatter(before[keep], after[keep])
        top = float(np.nanmax(before[keep])) if keep.any() else 1.0
        ax.plot([0, top], [0, top], color="0.7", lw=0.8)
        ax.set_xlabel("barrier, unaligned (train loss)")
        ax.set_ylabel("barrier, aligned")


ANALYSIS = AlignedOptimizers()
