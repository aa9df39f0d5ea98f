"""Solution → solution of another replicate, before and after permutation alignment.

Entezari, Sedghi, Saukh & Neyshabur (2022) conjecture that the barrier between two SGD
solutions mostly vanishes once the hidden units of one are permuted to match the
other's; Ainsworth, Hayase & Srinivasa (2023) find the permutation by weight matching or
activation matching, and Jordan et al. (2023) remove much of what remains by REPAIR
(or, with batch norm, by resetting its statistics along the path). For each replicate r,
with θ_a its solution and θ_b the next replicate's, this analysis evaluates on α ∈ [0, 1]
the lines along the ``line`` coordinate:

- ``unaligned``: θ(α) = (1 − α)·θ_a + α·θ_b (:mod:`~landscapes.app.analyses.final_to_final`);
- ``aligned``: θ(α) = (1 − α)·θ_a + α·π(θ_b), π(θ_b) the aligned solution
  (:func:`landscapes.align.weight_matching`, or :func:`~landscapes.align.activation_matching`
  on training data), an ordinary anchor of an ordinary line;
- ``aligned+<correction>``: the same points, each corrected by
  :func:`landscapes.align.correct` (REPAIR, or the batch-norm reset) on training data,
  unless the correction is ``none``.

π(θ_b) computes θ_b's function, which the alignment checks (it raises otherwise); the
check's relative output difference is the ``function_relative_error`` variable, and the
weight distances ‖θ_a − θ_b‖ and ‖θ_a − π(θ_b)‖ are ``distance_before`` and
``distance_after``. Replicate r is joined to r + 1, so two replicates give one pair seen
from both ends (equal barriers up to the matching's ties): use three or more for a
spread. :mod:`~landscapes.app.analyses.aligned_optimizers` does the same between the
optimizer zoo's solutions. The table reads each line's barrier (:func:`landscapes.metrics.linear_barrier`)
in loss and error, mean ± std over replicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Declined,
    Plan,
    Replicates,
    at_least,
    cells,
    knob,
    mean_std,
    per_split,
)
from landscapes.app.analyses.line import LineSettings, training_split

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

__all__ = ["Aligned", "AlignedSettings", "METHODS", "PAIR_VARIABLES", "line_names", "barriers",
           "align", "corrected_path", "measure_pair", "data_for", "function_row"]

#: How b is aligned to a.
METHODS = ("weight", "activation")
#: Batch size of the training data the matching and the corrections read.
BATCH = 256


@dataclass(frozen=True)
class AlignedSettings(LineSettings):
    """How the second solution is aligned, and the correction along the aligned line."""

    align_method: str = knob("weight", "how the other solution is aligned before the "
                                       "final->final line: 'weight' matching or "
                                       "'activation' matching on training data")
    align_correction: str = knob("repair", "correction of every point of the aligned line "
                                           "(an extra line): 'repair' (REPAIR, Jordan et al. "
                                           "2023), 'reset' (batch-norm statistics) or 'none'")
    align_examples: int = knob(1024, "training examples the activation matching and the "
                                     "corrections read", "N")

    def __post_init__(self) -> None:
        from landscapes.align import CORRECTIONS

        LineSettings.__post_init__(self)
        if self.align_method not in METHODS:
            raise ValueError(f"unknown align_method {self.align_method!r}; choose from "
                             f"{list(METHODS)}")
        if self.align_correction not in CORRECTIONS:
            raise ValueError(f"unknown align_correction {self.align_correction!r}; choose "
                             f"from {list(CORRECTIONS)}")
        at_least("align_examples", self.align_examples, 2)


def line_names(correction: str) -> list[str]:
    """The ``line`` coordinate for a correction.

    Examples
    --------
    >>> line_names("repair"), line_names("none")
    (['unaligned', 'aligned', 'aligned+repair'], ['unaligned', 'aligned'])
    """
    return ["unaligned", "aligned"] + ([f"aligned+{correction}"] if correction != "none" else [])


def training_batches(reps: Any, examples: int) -> list[Any]:
    """The first ``examples`` training inputs of the system's dataset, in batches."""
    from experiments import data

    x, _ = data.load(reps.dataset, "train", data_dir=reps.runtime.data_dir)
    return list(x[:examples].split(BATCH))


def align(model: Any, a: dict[str, Any], b: dict[str, Any], method: str,
          batches: list[Any] | None, seed: int = 0) -> Any:
    """``b`` aligned to ``a`` by ``method`` (an :class:`~landscapes.align.Alignment`)."""
    from landscapes.align import activation_matching, weight_matching

    if method == "weight":
        return weight_matching(a, b, model=model, seed=seed)
    return activation_matching(a, b, batches, model=model, n_batches=len(batches))


def corrected_path(model: Any, a: dict[str, Any], b: dict[str, Any], alpha: np.ndarray,
                   method: str, batches: list[Any]) -> Any:
    """The line from ``a`` to ``b`` with every point corrected by ``method``.

    A correction is not linear in the endpoints, so each corrected point is an anchor of
    its own and the path's coefficients are the identity.
    """
    from landscapes import paths
    from landscapes.align import correct

    points = tuple(correct(model, a, b, float(t), batches, method=method,
                           n_batches=len(batches)) for t in alpha)
    n = len(points)
    return paths.Path(points, tuple(f"p{i}" for i in range(n)), np.eye(n), ("alpha",),
                      {"alpha": np.asarray(alpha)}, np.eye(n)[0], kind=f"corrected:{method}")


#: Scalars every aligned pair records (besides its lines).
PAIR_VARIABLES = ("function_relative_error", "function_preserved", "distance_before",
                  "distance_after", "matching_iterations")


def measure_pair(reps: Any, r: int, a: dict[str, Any], b: dict[str, Any], grid: np.ndarray,
                 budget: Any, batches: list[Any] | None, analysis: str, frame: Any,
                 where: dict[str, Any]) -> dict[str, tuple[float, dict[str, Any]]]:
    """Evaluate every line from ``a`` to ``b`` into ``frame`` at ``where``; the pair's scalars.

    Returns each of :data:`PAIR_VARIABLES` as (value, attrs): the function check of the
    alignment, ‖θ_a − θ_b‖ before and after it, and the matching's passes.
    """
    from landscapes import paths

    model = reps.runs[r].model()
    aligned = align(model, a, b, budget.align_method, batches, seed=budget.seed + r)
    b_aligned = dict(aligned)
    frame.put(reps.evaluate(paths.linear(a, b, grid, names=("a", "b")), analysis, r),
              line="unaligned", **where)
    frame.put(reps.evaluate(paths.linear(a, b_aligned, grid, names=("a", "b_aligned")),
                            analysis, r), line="aligned", **where)
    if budget.align_correction != "none":
        path = corrected_path(model, a, b_aligned, grid, budget.align_correction, batches)
        frame.put(reps.evaluate(path, analysis, r), line=f"aligned+{budget.align_correction}",
                  **where)
    check = aligned.check
    return {
        "function_relative_error": (check.relative_error, {
            "long_name": "max |f_π(θ_b)(x) − f_θ_b(x)| / max |f_θ_b(x)| over the check's "
                         "inputs (float64)",
            "tolerance": check.tolerance, "examples": check.examples, "check": str(check)}),
        "function_preserved": (float(check.passed), {}),
        "distance_before": (zoo.distance(a, b), {"long_name": "‖θ_a − θ_b‖"}),
        "distance_after": (zoo.distance(a, b_aligned), {"long_name": "‖θ_a − π(θ_b)‖"}),
        "matching_iterations": (float(aligned.iterations), {}),
    }


def data_for(reps: Any, budget: Any) -> tuple[list[Any] | None, dict[str, Any]]:
    """Training batches when the matching or the correction reads data; the info to record."""
    needs = budget.align_method == "activation" or budget.align_correction != "none"
    batches = training_batches(reps, budget.align_examples) if needs else None
    return batches, {"align_method": budget.align_method,
                     "align_correction": budget.align_correction,
                     "align_examples": budget.align_examples if needs else 0}


class Aligned(Analysis):
    name = "aligned"
    title = "final → final, before and after alignment"
    description = ("final -> final between replicates before and after aligning the second "
                   "to the first (weight or activation matching), with REPAIR or the "
                   "batch-norm reset (Entezari et al. 2022; Ainsworth et al. 2023)")
    Settings = AlignedSettings
    reads = ("splits",)
    extension = True
    min_replicates = 2

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.line(budget.points, 0.0, 1.0)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(line_names(budget.align_correction)) * len(self.grid(budget))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        if getattr(reps, "runs", None) is None:
            raise Declined("alignment permutes a network's hidden units")
        names = line_names(budget.align_correction)
        grid = self.grid(budget)
        batches, info = data_for(reps, budget)
        parts = []
        for r in range(reps.count):
            frame = zoo.Frame({"line": names}, grid, splits=budget.splits)
            found = measure_pair(reps, r, reps.final(r), reps.other_final(r), grid, budget,
                                 batches, self.name, frame, {})
            ds = frame.dataset(self.name, reps.system, info)
            ds = ds.assign({k: ((), v[0], v[1]) for k, v in found.items()})
            ds.attrs["function_check"] = found["function_relative_error"][1]["check"]
            parts.append(ds)
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        out: dict[str, str] = {}
        for var in ("loss", "error"):
            for line in ds.line.values:
                heights = barriers(ds, var).sel(line=line)
                parts = [(s, mean_std(h)) for s, h in per_split(heights)]
                out[f"barrier final->final ({var}), {line}"] = cells(parts)
        return {**out, **function_row(ds)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """The first system's training loss along each line (mean ± std over replicates)."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        curves = training_split(one).loss
        for line in curves.line.values:
            c = curves.sel(line=line)
            mean, spread = c.mean("replicate"), c.std("replicate")
            ax.plot(c.alpha, mean, label=str(line))
            ax.fill_between(c.alpha, mean - spread, mean + spread, alpha=0.2, lw=0)
        ax.set_xlabel("α")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)


def function_row(ds: xr.Dataset) -> dict[str, str]:
    """The weight distances before and after alignment, and the function check's verdict."""
    worst = float(np.nanmax(np.asarray(ds.function_relative_error, dtype=float)))
    preserved = bool((ds.function_preserved.fillna(1) > 0).all())
    return {"weight distance before -> after alignment":
            f"{mean_std(ds.distance_before)} -> {mean_std(ds.distance_after)}",
            "function preserved by the alignment":
            f"{'yes' if preserved else 'NO'} (largest relative output difference {worst:.1e})"}


def barriers(ds: xr.Dataset, var: str = "loss") -> xr.DataArray:
    """The barrier of ``var`` on every line over α ∈ [0, 1] (the dataset's other dims kept)."""
    return metrics.linear_barrier(ds[var].sel(alpha=slice(0.0, 1.0))).height


ANALYSIS = Aligned()
