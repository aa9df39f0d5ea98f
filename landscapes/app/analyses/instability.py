"""Spawn instability: the barrier between two children of iteration k (Frankle et al. 2020).

Frankle, Dziugaite, Roy & Carbin (2020), "Linear mode connectivity and the lottery
ticket hypothesis", §3: from iteration k of a run, two copies -- *children* -- are
trained to the end with different samples of SGD noise (data order, augmentation,
dropout), θ_1 and θ_2 their final weights, and the *instability* at k is the barrier
on the line between them,

    θ(α) = (1 − α)·θ_1 + α·θ_2,  α ∈ [0, 1].

Training is *stable to SGD noise* from the k on which the barrier is ≈ 0: from there on
the noise only moves the solution within one linearly connected region. The barrier is
the one every final→final analysis here reads (:func:`landscapes.metrics.linear_barrier`,
the rise above the chord between the two ends), of the error -- Frankle et al.'s
instability -- and of the loss; Frankle et al. subtract the mean of the two ends'
errors instead of the chord, which differs by at most half the difference between them.

The spawn iterations k are the start iterations t of
:mod:`~landscapes.app.analyses.from_iteration` (Frankle 2020 §4: t ∈ {0} ∪ {2^j} ∪
{1000j}, log-spaced down to ``max_starts``), so that instability vs k sits on the same
k as the barrier from θ_t to the parent's own solution, plus the final iteration T. Every
such k is a checkpoint of every run (:func:`experiments.checkpoints.schedule`), so a
child always starts from the parent's saved state (:mod:`experiments.spawn`). Children 1
and 2 are used: child 0 keeps the parent's noise and reproduces it.

The children of k = T train nothing: both are the parent, their line is one point and
the barrier is exactly 0 (``children_identical`` records the bitwise check). The
dataset holds ``loss`` and ``error`` on ``(split, spawn_iteration, alpha)`` per
replicate, ``distance`` ‖θ(α) − θ_1‖, the bootstrap interval of the loss barrier when a
subset of each split is evaluated (``linear_interval``) and the adaptive α search's
barrier with ``barrier_tol`` (``linear_adaptive``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Declined,
    Needs,
    Plan,
    Replicates,
    cells,
    interval_note,
    mean_std,
    per_split,
    share,
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

__all__ = ["Instability", "spawn_iterations", "children_lines", "instability", "stable_from",
           "CHILDREN", "STABLE", "DIM"]

#: The two children compared: child 0 would be the parent over again.
CHILDREN = (1, 2)
#: An error barrier up to this (2 percentage points) counts as ≈ 0: stable to SGD noise.
STABLE = 0.02
#: The dimension of the spawn iterations k.
DIM = "spawn_iteration"


def spawn_iterations(total: int, max_starts: int | None) -> list[int]:
    """The spawn iterations k of a run of ``total`` iterations: from_iteration's starts
    and ``total`` itself.

    Frankle's iterations {0} ∪ {2^j} ∪ {1000j} are in every run's checkpoint schedule
    whatever its epoch length, so the choice :meth:`NetworkReplicates.starts` makes from
    a run's saved checkpoints follows from its length alone.

    Examples
    --------
    >>> spawn_iterations(469, 4)
    [0, 4, 32, 256, 469]
    """
    from experiments.checkpoints import schedule
    from landscapes.app.systems import frankle_iterations, log_spaced

    saved = schedule(total, per_epoch=max(total, 1))
    return sorted({*log_spaced(frankle_iterations(saved, total), max_starts), total})


def children_lines(pairs: Mapping[int, tuple[Mapping[str, Any], Mapping[str, Any]]],
                   alphas: Any) -> Path:
    """The lines θ(α) = (1 − α)·θ_1 + α·θ_2 of every spawn iteration, as one path.

    Dimensions ``(spawn_iteration, alpha)``; distances are measured from each line's θ_1.
    Where the two children are the same weights bit for bit (k = T) the line is that
    one point: its anchor with coefficient 1 at every α, so each point *is* the parent
    rather than (1 − α)·θ + α·θ rounded, and the barrier is exactly 0.

    Examples
    --------
    >>> import torch
    >>> one, two = {"w": torch.zeros(1)}, {"w": torch.ones(1)}
    >>> p = children_lines({0: (one, two), 4: (one, one)}, [0.0, 0.5, 1.0])
    >>> p.shape, float(p.point((0, 1))["w"]), len(p.anchors)
    ((2, 3), 0.5, 3)
    """
    from landscapes.paths import Path

    alpha = np.asarray(alphas, dtype=float)
    ks = sorted(pairs)
    anchors: list[Mapping[str, Any]] = []
    names: list[str] = []
    rows: list[tuple[int, int | None]] = []
    for k in ks:
        a, b = pairs[k]
        anchors.append(a)
        names.append(f"k{k}_child{CHILDREN[0]}")
        if identical(a, b):
            rows.append((len(anchors) - 1, None))
            continue
        anchors.append(b)
        names.append(f"k{k}_child{CHILDREN[1]}")
        rows.append((len(anchors) - 2, len(anchors) - 1))
    n = len(alpha)
    coef = np.zeros((len(ks) * n, len(anchors)))
    origin = np.zeros_like(coef)
    for i, (a, b) in enumerate(rows):
        block = slice(i * n, (i + 1) * n)
        origin[block, a] = 1.0
        if b is None:
            coef[block, a] = 1.0
        else:
            coef[block, a], coef[block, b] = 1.0 - alpha, alpha
    return Path(tuple(dict(x) for x in anchors), tuple(names), coef, (DIM, "alpha"),
                {DIM: np.asarray(ks, dtype=np.int64), "alpha": alpha}, origin,
                "spawned_children")


def identical(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two state dicts hold the same tensors bit for bit."""
    import torch

    return a.keys() == b.keys() and all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k]))
                                        for k in a)


def instability(ds: xr.Dataset, var: str = "error") -> xr.DataArray:
    """The barrier between the children on [0, 1] of every line of ``var``.

    The loss's comes from the adaptive α search where it ran (``barrier_tol``), else
    from the uniform grid, as the other barrier analyses read it.
    """
    height = metrics.linear_barrier(ds[var].sel(alpha=slice(0.0, 1.0))).height
    if var != "loss" or "linear_adaptive" not in ds.data_vars:
        return height
    found = ds["linear_adaptive"]
    return found.transpose(*[d for d in height.dims if d in found.dims])


def stable_from(height: xr.DataArray, threshold: float = STABLE) -> str:
    """The first k from which the mean barrier stays ≤ ``threshold``, or "never".

    Examples
    --------
    >>> h = xr.DataArray([0.1, 0.03, 0.01, 0.0], dims=DIM, coords={DIM: [0, 4, 16, 64]})
    >>> stable_from(h), stable_from(h, 0.005)
    ('16', '64')
    """
    mean = height.mean("replicate") if "replicate" in height.dims else height
    mean = mean.dropna(DIM, how="all")
    ok = np.asarray(mean) <= threshold
    tail = np.flip(np.logical_and.accumulate(np.flip(ok)))
    ks = mean[DIM].values
    return str(int(ks[tail.argmax()])) if tail.any() else "never"


class Instability(Analysis):
    name = "instability"
    title = "instability: barrier between children of k"
    description = ("two children spawned from iteration k of each run, trained with "
                   "different data orders: the barrier between their solutions vs k "
                   "(Frankle, Dziugaite, Roy & Carbin 2020 §3)")
    Settings = BarrierSettings
    reads = ("splits", "max_starts")
    needs = Needs(spawn=True)
    extension = True
    ragged = True
    intervals = ("linear",)

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [{"spawn_at": k, "spawn_child": c}
                for k in spawn_iterations(total, budget.max_starts) for c in CHILDREN]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        # One line per start of from_iteration and the final iteration; the adaptive
        # search of each (one per split) at its full budget.
        lines = len({*plan.starts, plan.total})
        return lines * (len(self.grid(budget))
                        + adaptive_points(budget, searches=len(budget.splits), seeded=True))

    def _children(self, reps: Any, budget: SettingsView) -> dict[int, tuple[Any, Any]]:
        """Both children's replicates of every k (trained, or reused from the store)."""
        ks = spawn_iterations(reps.total, budget.max_starts)
        return {k: tuple(reps.variant(spawn_at=k, spawn_child=c) for c in CHILDREN)
                for k in ks}

    def path(self, reps: Replicates, r: int, budget: SettingsView) -> Path:
        spawned = self._children(reps, budget)
        return children_lines({k: (one.final(r), two.final(r))
                               for k, (one, two) in spawned.items()}, self.grid(budget))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths

        if getattr(reps, "runs", None) is None:
            # A closed form's gradient descent is full-batch: no data order to vary, so
            # two children of any k would be one run.
            raise Declined("spawn instability needs SGD noise (data order) of trained "
                           "runs; a closed form trains by full-batch gradient descent")
        # Every child is trained (or found) before the replicates are evaluated side by
        # side, so no two evaluations wait on the same training.
        spawned = self._children(reps, budget)
        ds = super().measure(reps, budget)

        def curve_for(r: int) -> dict[int, Any]:
            def line(a: Any, b: Any) -> Any:
                return lambda alpha: reps.evaluate(paths.linear(a, b, alpha), self.name,
                                                   r).loss
            return {k: line(one.final(r), two.final(r)) for k, (one, two) in spawned.items()}

        ds = with_adaptive(ds, curve_for, "linear", budget, line_dim=DIM)
        same = [[float(identical(one.final(r), two.final(r))) for one, two in spawned.values()]
                for r in range(reps.count)]
        ds["children_identical"] = (("replicate", DIM), np.array(same), {
            "long_name": "1 where children 1 and 2 end with the same weights bit for bit"})
        ds[DIM].attrs.update(long_name="spawn iteration k (children trained from θ_k)")
        ds.attrs.update(final_iteration=int(reps.total), children=json.dumps(
            {str(k): [run.config.name for run in (one.runs[0], two.runs[0])]
             for k, (one, two) in spawned.items()}))
        return ds

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        out: dict[str, str] = {}
        for var in ("error", "loss"):
            parts = []
            for split, height in per_split(instability(ds, var)):
                text = " · ".join(f"k={int(k)}: {mean_std(height.sel({DIM: k}))}"
                                  for k in height[DIM].values
                                  if np.isfinite(height.sel({DIM: k})).any())
                note = interval_note(ds, "linear", split, {}) if var == "loss" else ""
                parts.append((split, text + note))
            out[f"instability ({var} barrier between children) vs k"] = cells(parts)
        stable = [(s, stable_from(h)) for s, h in per_split(instability(ds, "error"))]
        out[f"stable to SGD noise from k (error barrier ≤ {STABLE:.0%})"] = cells(stable)
        final = ds.attrs.get("final_iteration")
        if final is not None and final in ds[DIM].values:
            out["children identical at k = final"] = share(
                ds.children_identical.sel({DIM: final}) > 0)
        return out

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Test-error barrier between the children vs k, mean ± std over replicates."""
        height = instability(test_split(ds), "error")
        for system in height.system.values:
            colour = (context.colors or {}).get(str(system))
            h = height.sel(system=system).dropna(DIM, how="all")
            k = h[DIM].values
            mean, std = h.mean("replicate").values, h.std("replicate").values
            ax.plot(k, mean, "o-", ms=3, color=colour, label=str(system))
            ax.fill_between(k, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("spawn iteration k")
        ax.set_ylabel("error barrier between children")


ANALYSIS = Instability()
