"""Solution → solution of another replicate (Goodfellow et al. 2015, Figs. 5 left, 10 left).

Each replicate's final weights are joined to the next replicate's, so R replicates give
R pairs. The barrier is the excess of the loss over the chord between the two
solutions (:func:`landscapes.metrics.linear_barrier`, the barrier of linear mode
connectivity): zero when the two minima are linearly connected. With ``barrier_tol``
set, the barrier comes from the adaptive α search on [0, 1]
(:func:`~landscapes.app.analyses.line.with_adaptive`), the uniform grid staying for the
figure's curves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import metrics
from landscapes.app.analyses.base import (
    Context,
    Plan,
    Replicates,
    cells,
    interval_note,
    mean_std,
    per_split,
)
from landscapes.app.analyses.line import (
    BarrierSettings,
    Line,
    adaptive_points,
    searched,
    with_adaptive,
)

if TYPE_CHECKING:  # pragma: no cover
    from landscapes.app.analyses.base import SettingsView


class FinalToFinal(Line):
    name = "final_to_final"
    title = "final → final"
    description = "solution -> solution of another replicate (Figs. 5 left, 10 left)"
    start, end, window, theory = "final", "other_final", (-0.5, 1.5), "final_to_final"
    min_replicates = 2
    intervals = ("linear",)
    Settings = BarrierSettings
    reads = ("splits",)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(self.grid(budget)) + adaptive_points(budget, searches=len(budget.splits),
                                                         seeded=True)

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths

        ds = super().measure(reps, budget)

        def curve_for(r: int) -> Any:
            a, b = getattr(reps, self.start)(r), getattr(reps, self.end)(r)
            return lambda alpha: reps.evaluate(
                paths.linear(a, b, alpha, names=(self.start, self.end)), self.name, r).loss

        return with_adaptive(ds, curve_for, "linear", budget)

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        ds = super().closed_form(system, budget)
        view = budget

        def curve_for(r: int) -> Any:
            def curve(alpha: np.ndarray) -> xr.DataArray:
                from theory import deep_linear

                line = deep_linear.final_to_final(system=system.name, n_replicates=view.replicates,
                                                  seed=view.seed, alphas=alpha)
                return line.loss.isel(replicate=r)
            return curve

        return with_adaptive(ds, curve_for, "linear", budget)

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        seg = ds.loss.sel(alpha=slice(0.0, 1.0))
        heights = []
        for s, c in per_split(seg):
            height = searched(ds, "linear", s, metrics.linear_barrier(c).height)
            heights.append((s, mean_std(height) + interval_note(ds, "linear", s, {})))
        return {"barrier final->final": cells(heights)}


ANALYSIS = FinalToFinal()
