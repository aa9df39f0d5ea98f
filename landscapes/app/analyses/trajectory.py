"""The training path against the init → final axis (Goodfellow et al. 2015, App. B, Fig. 13).

Every checkpoint θ_k is projected on the axis from θ_0 to θ_T; the residual is what
the projection leaves out. Goodfellow et al. warn that in high dimension the *shape*
of this curve says little (a random walk draws the same shape, Fig. 11), so the panel
shows beside it the Gaussian walk with the same step lengths (dashed), and the table
reports their number: the largest residual over the largest parameter norm,
max_k ‖r_k‖ / max_k ‖θ_k‖ ("our linear subspace captures at least 2/3 the norm of the
parameter vector at all points in time"). The same ratio is computed for the closed
form's gradient flow, so the two are comparable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes.app.analyses.base import Analysis, Context, Plan, Replicates, mean_std

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView


class Trajectory(Analysis):
    name = "trajectory"
    title = "trajectory vs matched random walk"
    description = ("training path projected on the init -> solution axis vs residual, with "
                   "the matched random walk (Goodfellow et al. App. B, Figs. 11-13)")
    reads = ("trajectory_points",)
    has_closed_form = True
    compared = ("projection", "residual", "norm", "walk_projection", "walk_residual")
    ragged = True

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return 0  # projections of saved checkpoints: no evaluation of the loss

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import trajectory
        from theory.random_walk import matched_walk

        parts = []
        for r in range(reps.count):
            steps, states = reps.trajectory(r)
            recorded = _StepRecorder(states)
            ds = trajectory.project(recorded, step=steps, system=reps.system,
                                    analysis=self.name)
            walk = matched_walk(sizes=recorded.sizes(), dimension=recorded.dimension,
                                steps=np.asarray(steps))
            parts.append(ds.assign(walk_projection=walk.projection,
                                   walk_residual=walk.residual))
        return reps.label(parts)

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from theory import deep_linear

        return deep_linear.trajectory(steps=system.trajectory_steps(), baseline=True,
                                      system=system.name, n_replicates=budget.replicates,
                                      seed=budget.seed)

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        peak = ds.norm.max("step")
        out = {"max residual / max norm (App. B)": mean_std(ds.residual.max("step") / peak)}
        if "walk_residual" in ds:
            out["  same, matched random walk"] = mean_std(ds.walk_residual.max("step") / peak)
        return out

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Projection vs residual in units of ‖θ_T − θ_0‖, the matched walk dashed."""
        for system in ds.system.values:
            colour = (context.colors or {}).get(str(system))
            d = ds.sel(system=system).dropna("step", how="all")
            scale = d.projection.isel(step=-1)
            for r in d.replicate.values:
                k = dict(replicate=r)
                first = r == d.replicate.values[0]
                ax.plot(d.projection.sel(**k) / scale.sel(**k),
                        d.residual.sel(**k) / scale.sel(**k), color=colour, lw=1.2,
                        label=str(system) if first else None)
                if "walk_projection" in d:
                    ax.plot(d.walk_projection.sel(**k) / scale.sel(**k),
                            d.walk_residual.sel(**k) / scale.sel(**k), color=colour, lw=0.9,
                            ls="--", label="matched random walk" if first else None)
        ax.set_xlabel("projection / ‖θ_T − θ_0‖")
        ax.set_ylabel("residual / ‖θ_T − θ_0‖")


class _StepRecorder:
    """A checkpoint sequence that records ‖θ_k − θ_(k−1)‖ as the projection reads it.

    :func:`landscapes.trajectory.project` reads every checkpoint in order once; the step
    lengths the matched walk needs come from the same reads instead of a second pass.
    """

    def __init__(self, states: Any) -> None:
        self.states = states
        self._last: tuple[int, Any] | None = None
        self._sizes: dict[int, float] = {}
        self.dimension = 0

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> Any:
        i = i % len(self.states)
        item = self.states[i]
        vector = _flat(item)
        self.dimension = int(vector.size)
        if self._last is not None and self._last[0] == i - 1:
            self._sizes[i] = float(np.linalg.norm(vector - self._last[1]))
        self._last = (i, vector)
        return item

    def sizes(self) -> np.ndarray:
        missing = [i for i in range(1, len(self.states)) if i not in self._sizes]
        for i in missing:  # only if project ever skipped one; then read the pair again
            self._sizes[i] = float(np.linalg.norm(_flat(self.states[i]) - _flat(self.states[i - 1])))
        return np.array([self._sizes[i] for i in range(1, len(self.states))])


def _flat(state: Any) -> np.ndarray:
    import torch

    return torch.cat([v.detach().double().ravel() for _, v in sorted(state.items())
                      if v.is_floating_point()]).numpy()


ANALYSIS = Trajectory()
