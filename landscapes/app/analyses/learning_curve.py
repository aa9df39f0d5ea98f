"""The loss at every checkpoint of training (Goodfellow et al. 2015, Fig. 1 right).

"The progress of the actual SGD algorithm over time. The vast majority of learning
happens in the first few epochs." Each checkpoint θ_t is a point of its own; as a path
it is the α = 0 end of the line from θ_t to the solution, so the engine evaluates all
of a replicate's checkpoints like any other path, a few at a time to keep memory flat.
The summary gives the share of the whole drop J_0 − J_T that the first 10 % of the
iterations cover.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xarray as xr

from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Plan,
    Replicates,
    cells,
    mean_std,
    per_split,
)
from landscapes.app.analyses.line import test_split

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: Checkpoints held in memory at once.
GROUP = 16
#: The early share of training whose progress the table reports.
EARLY = 0.1


class LearningCurve(Analysis):
    name = "learning_curve"
    title = "loss during training"
    description = "loss at every checkpoint of training (Goodfellow et al. 2015 Fig. 1 right)"
    has_closed_form = True
    ragged = True

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(plan.checkpoints)  # one point per saved checkpoint

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths
        from landscapes.app.executor import for_each

        def one(r: int) -> xr.Dataset:
            steps, states = reps.trajectory(r)
            final = reps.final(r)
            pieces = []
            for i in range(0, len(steps), GROUP):
                group = {steps[j]: states[j] for j in range(i, min(i + GROUP, len(steps)))}
                path = paths.from_iterations(group, final, [0.0])
                pieces.append(reps.evaluate(path, self.name, r))
            return xr.concat(pieces, "start_iteration", combine_attrs="override")

        return reps.label(for_each(reps, one, range(reps.count)))

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from theory import deep_linear

        return deep_linear.from_time_to_final(
            iterations=system.trajectory_steps(), system=system.name,
            n_replicates=budget.replicates, seed=budget.seed, alphas=[0.0])

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        shares = []
        for split, c in per_split(ds.loss.isel(alpha=0, drop=True)):
            shares.append((split, mean_std(early_share(c), ".2f")))
        return {f"share of the drop in the first {EARLY:.0%} of training": cells(shares)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        loss = test_split(ds).loss.isel(alpha=0, drop=True)
        for system in loss.system.values:
            colour = (context.colors or {}).get(str(system))
            c = loss.sel(system=system).dropna("start_iteration", how="all")
            t = c.start_iteration.values
            mean, std = c.mean("replicate").values, c.std("replicate").values
            ax.plot(t, mean, color=colour, label=str(system))
            ax.fill_between(t, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_yscale("log")


def early_share(loss: xr.DataArray, fraction: float = EARLY) -> xr.DataArray:
    """(J_0 − J(t_early)) / (J_0 − J_T), t_early the last checkpoint within ``fraction``
    (default 10 %) of T."""
    loss = loss.dropna("start_iteration", how="all")
    t = loss.start_iteration.values
    early = t[t <= fraction * t.max()].max()
    j0, jt = loss.sel(start_iteration=t.min()), loss.sel(start_iteration=t.max())
    return (j0 - loss.sel(start_iteration=early)) / (j0 - jt)


ANALYSIS = LearningCurve()
