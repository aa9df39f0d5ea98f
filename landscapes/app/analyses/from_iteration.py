"""Lines from iteration t to the end of training (Frankle 2020, §4, Figs. 2–3).

For every start t of Frankle's schedule {0} ∪ {2^k} ∪ {1000k} (log-spaced down to
``max_starts``), the line θ(α) = (1 − α)·θ_t + α·θ_T. Frankle reports the rise barrier,
the "maximum increase in loss" above the start (:func:`landscapes.metrics.rise_barrier`).
A test loss that ends higher than it starts -- overfitting after iteration t -- has a
rise barrier without any bump on the way, and a descent that is concave at first has a
chord excess (:func:`landscapes.metrics.linear_barrier`) without one. The table reports
both, and the bump (:func:`landscapes.metrics.bump_barrier`: the excess over the higher
of the start and the chord, which is the rise barrier on a descending line and the chord
excess on an ascending one), and decides "barrier gone from t" on the bump: from that t
on, no line has a peak on the way higher than :data:`GONE` of the init→final drop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses.base import (
    Analysis,
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
    adaptive_points,
    searched,
    test_split,
    with_adaptive,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView
    from landscapes.paths import Path

#: A barrier counts as gone below this share of J_init − J_final.
GONE = 0.01
#: Exact curves leave rises of 1e-32 after rounding: below this share of the drop they
#: are no barrier, in the table as in the figure.
ROUNDING = 1e-12


class FromIteration(Analysis):
    name = "from_iteration"
    title = "barrier from iteration t → final"
    description = ("iteration t -> solution for Frankle's t in {0, 2^k, 1000k} "
                   "(Frankle 2020 Figs. 2-3)")
    Settings = BarrierSettings
    reads = ("max_starts",)
    has_closed_form = True
    ragged = True
    intervals = ("rise", "linear", "bump")

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.points, 0.0, 1.0)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        # Two searches (rise, chord excess) per split on every line, priced at both
        # splits: reading `splits` would put it in the closed form's key, which has none.
        searches = len(ADAPTIVE) * 2
        return len(plan.starts) * (len(self.grid(budget)) + adaptive_points(budget, searches, seeded=True))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths

        ds = super().measure(reps, budget)

        def curve_for(r: int) -> dict[int, Any]:
            final = reps.final(r)

            def line(start: Any) -> Any:
                return lambda alpha: reps.evaluate(paths.linear(start, final, alpha),
                                                   self.name, r).loss
            return {t: line(start) for t, start in reps.starts(r).items()}

        return with_adaptive(ds, curve_for, ADAPTIVE, budget, line_dim="start_iteration")

    def path(self, reps: Replicates, r: int, budget: SettingsView) -> Path:
        from landscapes import paths

        return paths.from_iterations(reps.starts(r), reps.final(r), self.grid(budget))

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from theory import deep_linear

        starts = np.array(system.iterations(budget.max_starts))
        n, seed = budget.replicates, budget.seed
        ds = deep_linear.from_time_to_final(iterations=starts, system=system.name,
                                            n_replicates=n, seed=seed, alphas=self.grid(budget))

        def curve_for(r: int) -> dict[int, Any]:
            def line(t: int) -> Any:
                return lambda alpha: deep_linear.from_time_to_final(
                    iterations=[t], system=system.name, n_replicates=n, seed=seed,
                    alphas=alpha).loss.isel(replicate=r, start_iteration=0, drop=True)
            return {int(t): line(int(t)) for t in starts}

        return with_adaptive(ds, curve_for, ADAPTIVE, budget, line_dim="start_iteration")

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        rises, excess, bumps, gone = [], [], [], []
        drops = dict(per_split(drop(ds, context.reference)))
        for split, c in per_split(ds.loss):
            d = drops[split]
            rise = barriers(c, d, "rise", searched(ds, "rise", split, None)).mean("replicate")
            chord = barriers(c, d, "linear", searched(ds, "linear", split, None)).mean("replicate")
            bump = barriers(c, d, "bump").mean("replicate")
            rises.append((split, mean_std(rise.max()) + _note(ds, "rise", split, rise)))
            excess.append((split, mean_std(chord.max()) + _note(ds, "linear", split, chord)))
            bumps.append((split, mean_std(bump.max()) + _note(ds, "bump", split, bump)))
            gone.append((split, _gone_from(bump, float(d.mean()))))
        return {"largest rise from t (Frankle)": cells(rises),
                "largest chord excess from t": cells(excess),
                "largest bump from t": cells(bumps),
                "barrier (bump) gone from t": cells(gone)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Rise barrier (solid, Frankle's Fig. 3) and bump (dashed) per drop, vs t."""
        d = test_split(drop(ds, context.reference))
        loss = test_split(ds).loss
        for system in loss.system.values:
            colour = (context.colors or {}).get(str(system))
            c, scale = loss.sel(system=system), d.sel(system=system)
            for kind, style in (("rise", "o-"), ("bump", "x--")):
                found = searched(test_split(ds), kind, None, None)
                found = None if found is None else found.sel(system=system)
                h = (barriers(c, scale, kind, found) / scale).dropna("start_iteration", how="all")
                t = h.start_iteration.values
                mean, std = h.mean("replicate").values, h.std("replicate").values
                text = f"{system}" if kind == "rise" else f"{system} (bump)"
                ax.plot(t, mean, style, ms=3, color=colour, label=text)
                ax.fill_between(t, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("start iteration t")
        ax.set_ylabel("barrier / (J_init − J_final)")


def _note(ds: xr.Dataset, kind: str, split: str | None, height: xr.DataArray) -> str:
    """The subset's interval of the line with the largest mean ``height``."""
    h = height.dropna("start_iteration", how="all")
    if h.size == 0:
        return ""
    t = h.start_iteration.values[int(np.argmax(np.asarray(h)))]
    return interval_note(ds, kind, split, {"start_iteration": t})


def drop(ds: xr.Dataset, reference: xr.Dataset | None) -> xr.DataArray:
    """J_init − J_final per replicate (and split, system): the scale barriers are read in.

    From the init→final ``reference`` when given, else from this analysis's line that
    starts at t = 0.
    """
    if reference is not None:
        loss = reference.loss
        return loss.sel(alpha=0.0, method="nearest", drop=True) - loss.sel(
            alpha=1.0, method="nearest", drop=True)
    first = ds.loss.isel(start_iteration=0, drop=True)
    return first.isel(alpha=0, drop=True) - first.isel(alpha=-1, drop=True)


#: The barrier measures by name.
MEASURES = {"rise": metrics.rise_barrier, "linear": metrics.linear_barrier,
            "bump": metrics.bump_barrier}


#: The barriers the adaptive α search finds (``barrier_tol``); the bump stays the grid's.
ADAPTIVE = ("rise", "linear")


def barriers(loss: xr.DataArray, scale: Any, kind: str,
             found: xr.DataArray | None = None) -> xr.DataArray:
    """One of :data:`MEASURES` for every line, rounding-level values set to 0.

    ``found``: the adaptive search's heights, used instead of the grid's when given.
    """
    height = MEASURES[kind](loss).height if found is None else found
    return height.where(~(height <= ROUNDING * np.abs(scale)), 0.0)


def _gone_from(height: xr.DataArray, scale: float) -> str:
    """The first t from which every later start is barrier-free, or "never"."""
    height = height.dropna("start_iteration", how="all")
    gone = np.asarray(height) <= GONE * abs(scale)
    tail = np.flip(np.logical_and.accumulate(np.flip(gone)))
    t = height.start_iteration.values
    return str(int(t[tail.argmax()])) if tail.any() else "never"


ANALYSIS = FromIteration()
