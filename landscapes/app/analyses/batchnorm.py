"""Batch norm and the landscape between optimizers' minima (Im et al. 2016 §4.4, App. A.5).

The system must be a network family registered with and without batch norm
(``<family>`` and ``<family>_nobn``, e.g. ``fashion_nin``): the budget's optimizers
are trained on both, each from its replicate's init and minibatch order (the two
architectures have different parameters, so "the same init" means the same seeds).
Lines on α ∈ [0, 1], along the ``line`` coordinate:

- ``init>o``: from the init to optimizer o's solution (Fig. 8 a–c);
- ``a>b``: from a's solution to b's (Fig. 8 d–f, Table 2);
- ``normal(-10,0.01): init>sgd`` and ``normal(-1,1): init>sgd``: SGD from the exotic
  initialisations of App. A.5 (every weight redrawn from N(−10, 0.01) or N(−1, 1), after
  Swirszcz et al. 2016), whose learning curves are ``curve_loss``/``curve_error``
  (Fig. 11).

"With batch normalization we see sharp unimodal jumps in performance but without batch
normalization we obtain wide bumpy shapes that aren't necessarily unimodal": the table
counts the peaks of each final → final training-loss line (:func:`peaks`, a peak
counting only if it stands out by :data:`PROMINENCE` of the line's range) and the share
of lines with at most one. "Without batch normalization, the quality of local minimum
found by a given algorithm is much more dependent on the initialization": the spread
over replicates (inits) of each optimizer's final test error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Declined,
    Needs,
    Plan,
    Replicates,
    mean_std,
)
from landscapes.app.analyses.basin import training_loss
from landscapes.app.analyses.optimizers import OptimizersSettings

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: The exotic initialisations of App. A.5, as :class:`experiments.config.TrainConfig` reads them.
EXOTIC = ("normal(-10,0.01)", "normal(-1,1)")
#: The optimizer the exotic inits are trained with (A.5, footnote: "trained ... with SGD").
EXOTIC_OPTIMIZER = "sgd"
#: A peak of a line counts when it stands out by this share of the line's range.
PROMINENCE = 0.05
#: The two architectures, in the order of the ``batch_norm`` coordinate.
WITH_WITHOUT = ("with", "without")


def twin(model: str) -> tuple[str, str] | None:
    """(with batch norm, without) for a model of a family registered both ways, else None.

    Examples
    --------
    >>> twin("cifar_nin"), twin("cifar_nin_nobn"), twin("mnist_mlp")
    (('cifar_nin', 'cifar_nin_nobn'), ('cifar_nin', 'cifar_nin_nobn'), None)
    """
    from experiments.models import MODELS

    if model.endswith("_nobn") and model[: -len("_nobn")] in MODELS:
        return model[: -len("_nobn")], model
    if f"{model}_nobn" in MODELS:
        return model, f"{model}_nobn"
    return None


def line_names(names: list[str]) -> list[str]:
    """Every line of the ``line`` coordinate."""
    return ([f"init>{n}" for n in names] + [f"{a}>{b}" for a, b in zoo.pairs(names)]
            + [f"{init}: init>{EXOTIC_OPTIMIZER}" for init in EXOTIC])


class BatchNorm(Analysis):
    name = "batchnorm"
    title = "with and without batch norm"
    description = ("the optimizers on one conv family with and without batch norm: init -> "
                   "final and final -> final, and SGD from the exotic inits N(-10, 0.01), "
                   "N(-1, 1) (Im et al. 2016 §4.4, Table 2, Figs. 8, 11)")
    Settings = OptimizersSettings
    reads = ("splits",)
    needs = Needs(zoo=True, batchnorm_pair=True)
    min_replicates = 2
    ragged = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        models = twin(config.model)
        if models is None:
            return []
        out = []
        for model in models:
            out += [{"model": model, "init": "default", **zoo.changes(n)}
                    for n in budget.optimizers]
            out += [{"model": model, "init": init, **zoo.changes(EXOTIC_OPTIMIZER)}
                    for init in EXOTIC]
        return out

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        curves = len(EXOTIC) * len(plan.checkpoints)
        return 2 * (len(line_names(list(budget.optimizers))) * budget.points + curves
                    + len(budget.optimizers))

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        models = twin(reps.config.model)  # type: ignore[attr-defined]
        if models is None:
            raise Declined(f"{reps.system} has no twin without batch norm; run it on a conv "
                           "family registered both ways, e.g. fashion_nin")
        names, lines = list(budget.optimizers), line_names(list(budget.optimizers))
        base = {"init": "default"}
        runs = {(bn, n): reps.variant(model=m, **base, **zoo.changes(n))  # type: ignore[attr-defined]
                for bn, m in zip(WITH_WITHOUT, models) for n in names}
        exotic = {(bn, i): reps.variant(model=m, init=i,  # type: ignore[attr-defined]
                                        **zoo.changes(EXOTIC_OPTIMIZER))
                  for bn, m in zip(WITH_WITHOUT, models) for i in EXOTIC}
        grid = self.grid(budget)
        info = {"models": dict(zip(WITH_WITHOUT, models)),
                "optimizers": {n: vars(zoo.recipe(n)) for n in names},
                "exotic_inits": list(EXOTIC), "exotic_optimizer": EXOTIC_OPTIMIZER}
        steps = sorted({t for run in exotic.values() for rep in run.runs for t in rep.iterations})
        parts = []
        for r in range(reps.count):
            frame = zoo.Frame({"batch_norm": list(WITH_WITHOUT), "line": lines}, grid,
                              splits=budget.splits)
            final_loss, final_error, flags = [], [], []
            curve_loss = np.full((len(budget.splits), 2, len(EXOTIC), len(steps)), np.nan)
            curve_error = np.full_like(curve_loss, np.nan)
            exotic_flags = np.zeros((2, len(EXOTIC)))
            for b, bn in enumerate(WITH_WITHOUT):
                first = runs[bn, names[0]]
                finals = {n: runs[bn, n].final(r) for n in names}
                ok = {n: not runs[bn, n].diverged(r) for n in names}
                init = first.init(r)
                ends = {f"init>{n}": finals[n] for n in names if ok[n]}
                if ends:
                    frame.put(first.evaluate(zoo.fan(init, ends, grid, "line"), self.name, r),
                              batch_norm=bn)
                for i, a in enumerate(names):
                    ends = {f"{a}>{c}": finals[c] for c in names[i + 1:] if ok[c]}
                    if ok[a] and ends:
                        frame.put(runs[bn, a].evaluate(zoo.fan(finals[a], ends, grid, "line"),
                                                       self.name, r), batch_norm=bn)
                for k, i in enumerate(EXOTIC):
                    run = exotic[bn, i]
                    exotic_flags[b, k] = run.diverged(r)
                    if not run.diverged(r):
                        path = zoo.fan(run.init(r), {f"{i}: init>{EXOTIC_OPTIMIZER}":
                                                     run.final(r)}, grid, "line")
                        frame.put(run.evaluate(path, self.name, r), batch_norm=bn)
                    rep = run.runs[r]
                    curve = zoo.evaluate_points(run, r, rep.iterations, "step", self.name,
                                                load=rep.state)
                    where = [steps.index(t) for t in curve.step.values]
                    curve_loss[:, b, k, where] = curve.loss.transpose("split", "step").values
                    curve_error[:, b, k, where] = curve.error.transpose("split", "step").values
                ends_of = zoo.evaluate_points(first, r, finals, "optimizer", self.name)
                final_loss.append(ends_of.loss)
                final_error.append(ends_of.error)
                flags.append([float(not ok[n]) for n in names])
            ds = frame.dataset(self.name, reps.system, info)
            bn_coord = xr.DataArray(np.array(WITH_WITHOUT, dtype=object), dims="batch_norm")
            cdims = ("split", "batch_norm", "exotic_init", "step")
            ds = ds.assign_coords(exotic_init=np.array(EXOTIC, dtype=object),
                                  step=np.array(steps))
            ds = ds.assign(final_loss=xr.concat(final_loss, bn_coord),
                           final_error=xr.concat(final_error, bn_coord),
                           diverged=(("batch_norm", "optimizer"), np.array(flags)),
                           exotic_diverged=(("batch_norm", "exotic_init"), exotic_flags),
                           curve_loss=(cdims, curve_loss), curve_error=(cdims, curve_error))
            parts.append(ds)
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        counts, unimodal, spread, exotic = [], [], [], []
        for bn in WITH_WITHOUT:
            n = pair_peaks(ds.sel(batch_norm=bn))
            counts.append(f"{bn} {mean_std(n, '.2f')}")
            unimodal.append(f"{bn} {float((n <= 1).sum())/max(np.isfinite(n).sum(), 1):.0%}")
            spread.append(f"{bn} {mean_std(init_spread(ds.sel(batch_norm=bn)), '.3f')}")
            loss = training_loss(ds.sel(batch_norm=bn)).isel(alpha=-1)
            exotic.append(f"{bn} " + ", ".join(
                f"{i} {mean_std(loss.sel(line=f'{i}: init>{EXOTIC_OPTIMIZER}'))}"
                for i in ds.exotic_init.values))
        return {"peaks per final->final line (train)": ", ".join(counts),
                "  lines with at most one peak": ", ".join(unimodal),
                "test error spread over inits (std, mean over optimizers)": ", ".join(spread),
                "final train loss from the exotic inits": "; ".join(exotic)}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Final → final training loss, solid with batch norm, dashed without."""
        one = ds.isel(system=0) if "system" in ds.dims else ds
        loss = training_loss(one)
        pairs = [str(line) for line in one.line.values if not str(line).startswith(("init", "normal"))]
        for k, line in enumerate(pairs):
            for bn, style in zip(WITH_WITHOUT, ("-", "--")):
                c = loss.sel(line=line, batch_norm=bn).mean("replicate")
                ax.plot(c.alpha, c, style, color=f"C{k}", label=f"{line} ({bn} BN)")
        ax.set_xlabel("α")
        ax.set_ylabel("training loss")


def peaks(curve: np.ndarray, prominence: float = PROMINENCE) -> float:
    """Interior peaks of a line standing out by ``prominence`` of its range; NaN if not finite.

    Examples
    --------
    >>> a = np.linspace(0, 1, 101)
    >>> peaks(np.sin(np.pi * a)), peaks(np.sin(2 * np.pi * a) ** 2), peaks(a)
    (1.0, 2.0, 0.0)
    """
    from scipy.signal import find_peaks

    y = np.asarray(curve, dtype=float)
    if not np.isfinite(y).all():
        return float("nan")
    span = float(y.max() - y.min())
    if span == 0:
        return 0.0
    found, _ = find_peaks(y, prominence=prominence * span)
    return float(len(found))


def pair_peaks(ds: xr.Dataset) -> np.ndarray:
    """:func:`peaks` of every final → final training-loss line (every replicate)."""
    loss = training_loss(ds)
    lines = [str(line) for line in loss.line.values
             if not str(line).startswith(("init", "normal"))]
    return np.array([peaks(loss.sel(line=line, replicate=r).values)
                     for line in lines for r in loss.replicate.values])


def init_spread(ds: xr.Dataset) -> np.ndarray:
    """Standard deviation over replicates of each optimizer's final test error."""
    error = ds.final_error
    if "split" in error.dims:
        error = error.sel(split="test") if "test" in error.split.values else error.isel(split=-1)
    return np.asarray(error.std("replicate"))


ANALYSIS = BatchNorm()
