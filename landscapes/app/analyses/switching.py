"""Switching optimizers during training (Im et al. 2016 §4.3, Figs. 7, 12–15, App. A.6).

For each switch ``first>second`` of the budget, runs from each replicate's init and
minibatch order train with the first optimizer for a fraction f of the iterations and
with the second (a fresh state, its own recipe's learning rate) for the rest:
f ∈ {1, 3/4, 1/2, 1/4, 0}, where f = 1 is the pure first optimizer (the paper's A200)
and f = 0 the pure second (S200); 3/4 is A150-S50. The switch iteration is a
checkpoint of every switched run.

The dataset holds, per switch and replicate:

- on ``(fraction_a, fraction_b, alpha)``: final → final lines between every two of the
  five solutions (the paper's right column, e.g. A200 ↔ A150-S50), with the
  functional distance and label disagreement from the first (``loss``, ``error``,
  ``divergence``, ``disagreement``; pairs with fraction_a > fraction_b only);
- on ``(fraction, step)``: ``curve_loss`` and ``curve_error`` at every checkpoint (the
  accuracy curves, left columns) and ``init_distance`` ‖θ_t − θ₀‖ (middle column);
- ``switch_step``: the iteration of each switch; ``diverged`` per run.

The claim "regardless of how late we switch ... the local minima found were all
different" is read on the barrier between the pure first optimizer and the run that
switched after 3/4 of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import Analysis, Context, Needs, Plan, Replicates, mean_std
from landscapes.app.analyses.basin import training_loss
from landscapes.app.analyses.line import BarrierSettings, adaptive_points, search_lines, searched
from landscapes.app.analyses.optimizers import VARIABLES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: Share of training on the first optimizer: pure first, switched at 3/4, 1/2, 1/4, pure second.
FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.0)
#: The fraction whose line to the pure first optimizer the late-switch claim reads.
LATE = 0.75


def at(fraction: float, total: int) -> int:
    """The switch iteration of ``fraction`` of ``total`` (at least 1, before the end).

    Examples
    --------
    >>> at(0.25, 938), at(0.75, 938)
    (234, 704)
    """
    return min(max(1, round(fraction * total)), total - 1)


def run_changes(switch: str, fraction: float, total: int) -> dict[str, Any]:
    """The config changes of one run of ``switch`` with ``fraction`` on the first optimizer."""
    first, second = zoo.parse_switch(switch)
    if fraction >= 1.0:
        return zoo.changes(first)
    if fraction <= 0.0:
        return zoo.changes(second)
    return zoo.switch_changes(first, second, at(fraction, total))


@dataclass(frozen=True)
class SwitchingSettings(BarrierSettings, zoo.SwitchSettings):
    """The switches trained, and the α resolution of the lines between their solutions."""

    def __post_init__(self) -> None:
        BarrierSettings.__post_init__(self)
        zoo.SwitchSettings.__post_init__(self)


class Switching(Analysis):
    name = "switching"
    title = "switching optimizers after 1/4, 1/2, 3/4 of training"
    description = ("first optimizer for a fraction of training, then the second: learning "
                   "curves, distance from the init, and final -> final between switched and "
                   "pure runs (Im et al. 2016 §4.3, Figs. 7, 12-15)")
    Settings = SwitchingSettings
    reads = ("splits",)
    needs = Needs(zoo=True)
    ragged = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for switch in budget.switches:
            for f in FRACTIONS:
                changes = run_changes(switch, f, total)
                if changes not in out:
                    out.append(changes)
        return out

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        line = budget.points + adaptive_points(budget, searches=len(budget.splits))
        lines = len(FRACTIONS) * (len(FRACTIONS) - 1) // 2 * line
        curves = len(FRACTIONS) * len(plan.checkpoints)
        return len(budget.switches) * (lines + curves)

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        switches = list(budget.switches)
        total = reps.total  # type: ignore[attr-defined]
        runs = {(s, f): reps.variant(**run_changes(s, f, total))  # type: ignore[attr-defined]
                for s in switches for f in FRACTIONS}
        steps = sorted({t for run in runs.values() for rep in run.runs for t in rep.iterations})
        grid = self.grid(budget)
        info = {"switches": {s: dict(zip(("first", "second"), zoo.parse_switch(s)))
                             for s in switches},
                "recipes": {n: vars(zoo.recipe(n)) for s in switches
                            for n in zoo.parse_switch(s)},
                "fraction": "share of training on the first optimizer"}
        curves: dict[tuple[str, int], xr.Dataset] = {}
        parts = []
        for r in range(reps.count):
            frame = zoo.Frame({"switch": switches, "fraction_a": FRACTIONS,
                               "fraction_b": FRACTIONS}, grid, splits=budget.splits,
                              variables=VARIABLES)
            shape = (len(switches), len(FRACTIONS), len(steps))
            distance = np.full(shape, np.nan)
            loss = np.full((len(budget.splits), *shape), np.nan)
            error = np.full_like(loss, np.nan)
            diverged = np.zeros(shape[:2])
            pairs: dict[tuple[str, float, float], Any] = {}
            for i, s in enumerate(switches):
                finals = {f: runs[s, f].final(r) for f in FRACTIONS}
                ok = {f: not runs[s, f].diverged(r) for f in FRACTIONS}
                pairs.update(_pair_curves(runs, s, finals, ok, r, self.name))
                for k, fa in enumerate(FRACTIONS):
                    diverged[i, k] = not ok[fa]
                    ends = {fb: finals[fb] for fb in FRACTIONS[k + 1:] if ok[fb]}
                    if ok[fa] and ends:
                        path = zoo.fan(finals[fa], ends, grid, "fraction_b")
                        frame.put(runs[s, fa].evaluate(path, self.name, r, reference=finals[fa],
                                                       divergence="probabilities"),
                                  switch=s, fraction_a=fa)
                    curve = self._curve(runs[s, fa], r, curves)
                    where = [steps.index(t) for t in curve.step.values]
                    loss[:, i, k, where] = curve.loss.transpose("split", "step").values
                    error[:, i, k, where] = curve.error.transpose("split", "step").values
                    distance[i, k, where] = curve.init_distance.values
            ds = frame.dataset(self.name, reps.system, info)
            found = search_lines(pairs, ("switch", "fraction_a", "fraction_b"), "linear", budget,
                                 list(budget.splits) if "split" in ds.loss.dims else None)
            if found is not None:
                ds = ds.merge(found, join="left")
            cdims = ("split", "switch", "fraction", "step")
            ds = ds.assign_coords(fraction=np.array(FRACTIONS), step=np.array(steps))
            ds = ds.assign(curve_loss=(cdims, loss), curve_error=(cdims, error),
                           init_distance=(cdims[1:], distance),
                           diverged=(("switch", "fraction"), diverged),
                           switch_step=("fraction", [float(at(f, total)) if 0 < f < 1
                                                     else np.nan for f in FRACTIONS]))
            parts.append(ds)
        return reps.label(parts)

    def _curve(self, run: Any, r: int, memo: dict[tuple[str, int], xr.Dataset]) -> xr.Dataset:
        """Loss, error and distance from the init at every checkpoint of one run (memoised:
        a pure run belongs to several switches)."""
        key = (run.config.name, r)
        if key not in memo:
            rep = run.runs[r]
            steps = rep.iterations
            init = run.init(r)
            distance: dict[int, float] = {}

            def load(t: int) -> Any:
                # each checkpoint is read once: its distance is taken as it is loaded
                # for the evaluation
                state = rep.state(t)
                distance[t] = zoo.distance(state, init)
                return state

            out = zoo.evaluate_points(run, r, steps, "step", self.name, load=load)
            memo[key] = out.assign(init_distance=("step", [distance[t] for t in steps]))
        return memo[key]

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        late = late_barriers(ds)
        parts = []
        for s in ds.switch.values:
            parts.append(f"{s} {mean_std(late.sel(switch=s))}")
        shift = []
        for s in ds.switch.values:
            d = ds.init_distance.sel(switch=s)
            end = d.isel(step=-1) if "step" in d.dims else d
            shift.append(f"{s} {mean_std(end.sel(fraction=LATE))} vs "
                         f"{mean_std(end.sel(fraction=1.0))}")
        return {"barrier pure first <-> switched after 3/4 (train)": ", ".join(parts),
                "distance from init at the end: switched after 3/4 vs pure first":
                    ", ".join(shift),
                "switching runs diverged": _diverged(ds)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Distance from the init against the iteration, first switch of the first system."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        s = one.switch.values[0]
        d = one.init_distance.sel(switch=s)
        for i, f in enumerate(one.fraction.values):
            c = d.sel(fraction=f).mean("replicate").dropna("step")
            ax.plot(c.step, c, color=f"C{i}", label=fraction_label(str(s), float(f)))
        ax.set_xlabel("iteration")
        ax.set_ylabel("‖θ_t − θ_0‖")


def late_barriers(ds: xr.Dataset) -> xr.DataArray:
    """Training-loss barrier between the pure first optimizer and the run switched at 3/4.

    From the adaptive α search where it ran (``barrier_tol``), else the uniform grid.
    """
    c = training_loss(ds).sel(fraction_a=1.0, fraction_b=LATE)
    height = searched(ds, "linear", "train", metrics.linear_barrier(c).height)
    return height.sel(fraction_a=1.0, fraction_b=LATE) if "fraction_a" in height.dims else height


def _pair_curves(runs: Any, switch: str, finals: dict[float, Any], ok: dict[float, bool],
                 r: int, analysis: str) -> dict[tuple[str, float, float], Any]:
    """The loss along each final → final line of ``switch`` whose two runs trained."""
    from landscapes import paths

    def line(fa: float, fb: float) -> Any:
        return lambda alpha: runs[switch, fa].evaluate(
            paths.linear(finals[fa], finals[fb], alpha), analysis, r).loss
    return {(switch, fa, fb): line(fa, fb) for k, fa in enumerate(FRACTIONS)
            for fb in FRACTIONS[k + 1:] if ok[fa] and ok[fb]}


def fraction_label(switch: str, fraction: float, epochs: float | None = None) -> str:
    """The paper's names: ``A200``, ``A150-S50`` (epochs) or ``adam 3/4 -> sgd``.

    Examples
    --------
    >>> fraction_label("adam>sgd", 0.75), fraction_label("adam>sgd", 0.75, 200)
    ('Adam 3/4 → SGD', 'Adam150-SGD50')
    """
    first, second = (zoo.label(n) for n in switch.split(">"))
    if epochs is not None:
        a = fraction * epochs
        if fraction >= 1:
            return f"{first}{a:g}"
        if fraction <= 0:
            return f"{second}{epochs:g}"
        return f"{first}{a:g}-{second}{epochs - a:g}"
    if fraction >= 1:
        return first
    if fraction <= 0:
        return second
    names = {0.25: "1/4", 0.5: "1/2", 0.75: "3/4"}
    return f"{first} {names.get(fraction, f'{fraction:g}')} → {second}"


def _diverged(ds: xr.Dataset) -> str:
    flags = ds.diverged
    if "system" in flags.dims:
        flags = flags.isel(system=0)
    hits = [f"{fraction_label(str(s), float(f))} (r{int(r)})"
            for s in flags.switch.values for f in flags.fraction.values
            for r in flags.replicate.values
            if bool(flags.sel(switch=s, fraction=f, replicate=r) > 0)]
    return ", ".join(hits) if hits else "none"


ANALYSIS = Switching()
