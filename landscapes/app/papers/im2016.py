"""Im, Tao & Branson (2016), "An empirical analysis of deep network loss surfaces",
arXiv:1612.04010: Table 1, Figs. 2–8, 10 and 11 on the data this machine has.

The paper trains NIN and VGG on CIFAR-10 (and an LSTM on PTB) for 200 epochs; here the
optimizer zoo (:mod:`landscapes.app.analyses.zoo`) is trained on Fashion-MNIST, whose
≈11 % test error is close to the paper's CIFAR-10 networks' (Fig. 4), so the
disagreement numbers have a comparable ceiling:

- budget ``quick``: LeNet-300-100 (``fashion_mlp``), 2 epochs, 2 inits, every optimizer
  and switch -- Table 1, Figs. 2–7 and 10;
- budget ``quick-conv``: the batch-norm figures (8, 11) on ResNet-20 with and without
  batch norm (:data:`CONV`; the paper's NIN costs eight times more per step on a CPU),
  trained on a subset of Fashion-MNIST;
- budget ``paper``: §3.4's settings (batch 128, 200 epochs) for both.

Every verdict compares the paper's claim with our numbers as they come: a short run
on Fashion-MNIST may disagree with 200 epochs on CIFAR-10, and then the finding says
"differs" with both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from landscapes import metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.basin import likeness, training_loss
from landscapes.app.analyses.batchnorm import (
    EXOTIC,
    EXOTIC_OPTIMIZER,
    WITH_WITHOUT,
    init_spread,
    pair_peaks,
)
from landscapes.app.analyses.optimizers import (
    disagreement_share,
    trained_pairs,
    untrained,
    untrained_text,
)
from landscapes.app.analyses.surfaces import is_barycentric, parse, pass_between, vertices
from landscapes.app.analyses.switching import FRACTIONS, fraction_label, late_barriers
from landscapes.app.papers import aligned, curvature, drawing
from landscapes.app.papers.base import Claim, Figure, Outcome, Paper
from landscapes.app.settings import Budget

#: The MLP system of the zoo figures.
MLP = "fashion_mlp"
#: The conv family of the batch-norm figures (with its ``_nobn`` twin). The paper's NIN
#: takes 4.2 s per step of 128 Fashion-MNIST images on one CPU thread, ResNet-20 0.5 s:
#: ResNet-20 stands in for the paper's NIN (Fig. 11) and VGG (Fig. 8) on a CPU budget.
CONV = "fashion_resnet20"
#: The optimizers of the paper's Table 1, in its order.
TABLE1 = ("sgd", "rmsprop", "adadelta", "adam", "rk2", "adam_rk2")
#: Fig. 5(b)'s pairs are those among these four.
FIG5 = ("sgd", "rk2", "adam", "adam_rk2")
#: A barrier, pass or drop counts as there above this share of the init → final drop.
BARRIER = 0.01
#: The paper: "these networks disagreed on ... over 1/3" of what their errors allow.
THIRD = 1 / 3
#: Significance level of "not significantly different" (Fig. 4b).
LEVEL = 0.05
#: "does not train at all": the final training loss keeps this share of the init's.
STALLED = 0.95

QUICK_CONV = ("quick-conv", "paper")
QUICK = ("quick", "paper")


# ------------------------------------------------------------------------- helpers


def _names(ds: xr.Dataset, dim: str = "optimizer") -> list[str]:
    return [str(n) for n in ds[dim].values]


def _train(ds: xr.Dataset, var: str = "loss") -> xr.DataArray:
    return ds[var].sel(split="train") if "split" in ds[var].dims else ds[var]


def _test(ds: xr.Dataset, var: str = "error") -> xr.DataArray:
    return ds[var].sel(split="test") if "split" in ds[var].dims else ds[var]


def _ok(o: Outcome) -> xr.DataArray:
    """Runs that trained, per replicate and optimizer (:func:`untrained`)."""
    return ~untrained(o.ds(MLP, "optimizers"))


def _failed(o: Outcome) -> str:
    """``""`` or "; left out, did not train: ..." for the claims' text."""
    text = untrained_text(o.ds(MLP, "optimizers"))
    return "" if text == "none" else f"; left out, did not train: {text}"


def _drop(o: Outcome) -> float:
    """The mean training-loss drop J(init) − J(solution) over the runs that trained."""
    ds = o.ds(MLP, "optimizers")
    drop = _train(ds, "init_loss") - _train(ds, "final_loss")
    return float(drop.where(_ok(o)).mean())


def _diverged(ds: xr.Dataset, name: str) -> list[int]:
    flag = ds.diverged.sel(optimizer=name)
    return [int(r) for r in flag.replicate.values if bool(flag.sel(replicate=r) > 0)]


def _levels(values: list[np.ndarray], n: int = 14) -> np.ndarray:
    finite = np.concatenate([np.ravel(v)[np.isfinite(np.ravel(v))] for v in values] or [[0.0]])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return np.linspace(low, high if high > low else low + 1, n)


def _log(values: xr.DataArray) -> xr.DataArray:
    return np.log10(values.where(values > 0))


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8,
            color="C3")


# ------------------------------------------------------------------------- figures


def _table1(o: Outcome) -> Any:
    """Lower triangle: the init and two solutions (training loss); upper: the functional
    distance from the first solution along the line to the second (test split)."""
    from landscapes.plots import plot_surface

    pairs, surfaces = o.ds(MLP, "optimizers"), o.ds(MLP, "surfaces")
    names = [n for n in TABLE1 if n in _names(pairs)] or _names(pairs)
    names += [n for n in _names(pairs) if n not in names]
    k = len(names)
    fig, axes = drawing.figure(k, k, width=1.9, height=1.7)
    loss = _train(surfaces).isel(replicate=0)
    levels = _levels([_log(loss).values])
    dist = _test(pairs, "divergence")
    # one scale for the pairs that trained; a failed run's curves run off it
    kept = dist.where(trained_pairs(pairs)).max()
    top = float(kept) if np.isfinite(kept) else 1.0
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            if i == j:
                ax.axis("off")
                acc = 1 - _test(pairs, "final_error").sel(optimizer=a)
                failed = bool(untrained(pairs).sel(optimizer=a).any())
                ax.text(0.5, 0.6, f"{zoo.label(a)}\ntest acc.\n{float(acc.mean()):.3f}"
                        + ("\ndid not train" if failed else ""), ha="center", va="center",
                        fontsize=8, transform=ax.transAxes, color="C3" if failed else "k")
                continue
            first, second = (a, b) if names.index(a) < names.index(b) else (b, a)
            one, two = (first, second) if _names(pairs).index(first) < _names(pairs).index(
                second) else (second, first)
            bad = _diverged(pairs, first) + _diverged(pairs, second)
            if i > j:  # lower: the surface through the init and the two solutions
                name = f"init:{one},{two}"
                sub = loss.sel(surface=name)
                if bool(np.isfinite(sub).any()):
                    plot_surface(sub, ax=ax, shape="triangle", levels=levels, colorbar=False,
                                 labels=["init", zoo.label(one), zoo.label(two)], log=True,
                                 geometry="equilateral")
                    ax.set_xlabel("")
                else:
                    _note(ax, "diverged" if bad else "n/a")
            else:  # upper: distance from the first solution along the line
                c = dist.sel(optimizer_a=one, optimizer_b=two)
                if bool(np.isfinite(c).any()):
                    drawing.band(ax, c.alpha.values, c)
                    agree = _test(pairs, "disagreement").sel(optimizer_a=one,
                                                               optimizer_b=two).isel(alpha=-1)
                    ax.set_title(f"disagree {float(agree.mean()):.0%}", fontsize=7)
                    ax.set_ylim(0, top * 1.05)
                else:
                    _note(ax, "diverged" if bad else "n/a")
                ax.tick_params(labelsize=6)
            if i == k - 1:
                ax.set_xlabel(zoo.label(b), fontsize=8)
            if j == 0:
                ax.set_ylabel(zoo.label(a), fontsize=8)
    import matplotlib as mpl

    cax = axes[0, 0].inset_axes([0.1, 0.08, 0.8, 0.1])
    fig.colorbar(mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(levels[0], levels[-1])),
                 cax=cax, orientation="horizontal", label="log10 training loss (below)")
    cax.tick_params(labelsize=6)
    fig.suptitle(f"Table 1, {MLP}, init 0. Below: training loss on the triangle init, "
                 "row's and column's solutions (drawn equilateral). Above: functional distance "
                 "(softmax outputs, test) from the row's solution along the line to the "
                 "column's", fontsize=8)
    return fig


def _surface(ax: Any, ds: xr.Dataset, name: str, levels: np.ndarray) -> None:
    from landscapes.plots import plot_surface

    c = _train(ds).sel(surface=name)
    labels = [zoo.label(v) for v in vertices(name)]
    if not bool(np.isfinite(c).any()):
        _note(ax, "diverged")
        return
    plot_surface(c, ax=ax, shape="triangle" if is_barycentric(name) else "square",
                 levels=levels, labels=labels, log=True)


def _fig2(o: Outcome) -> Any:
    ds = o.ds(MLP, "surfaces")
    name = next(str(s) for s in ds.surface.values if parse(str(s))[0] == "inits")
    fig, axes = drawing.figure(ds.sizes["replicate"], width=4.4, height=3.6)
    levels = _levels([_log(_train(ds).sel(surface=name)).values])
    for ax, r in zip(axes.flat, ds.replicate.values):
        _surface(ax, ds.sel(replicate=r), name, levels)
        ax.set_title(f"inits {int(r)}, {(int(r) + 1) % ds.sizes['replicate']} and their "
                     f"{zoo.label(parse(name)[1][0])} solutions", fontsize=8, pad=14)
    return fig


def _fig3(o: Outcome) -> Any:
    ds = o.ds(MLP, "surfaces").isel(replicate=0)
    names = [str(s) for s in ds.surface.values if parse(str(s))[0] == "solutions"]
    fig, axes = drawing.figure(max(1, len(names)), width=4.4, height=3.6)
    if not names:
        _note(axes[0, 0], "needs three optimizers or more (--optimizers)")
        return fig
    levels = _levels([_log(_train(ds).sel(surface=n)).values for n in names])
    for ax, name in zip(axes.flat, names):
        _surface(ax, ds, name, levels)
        ax.set_title(f"{len(parse(name)[1])} solutions from one init", fontsize=8, pad=14)
    return fig


def _fig4(o: Outcome) -> Any:
    ds = o.ds(MLP, "optimizers")
    names = _names(ds)
    fig, axes = drawing.figure(2, width=5.0)
    for ax, split in zip(axes.flat, ("train", "test")):
        acc = 1 - ds.final_error.sel(split=split)
        for r in ds.replicate.values:
            ax.plot(range(len(names)), acc.sel(replicate=r), "o", color=f"C{int(r)}",
                    label=f"init {int(r)}")
            for x, n in enumerate(names):
                if int(r) in _diverged(ds, n):
                    ax.annotate("diverged", (x, float(np.nanmin(acc))), fontsize=6, color="C3")
        ax.set_xticks(range(len(names)), [zoo.label(n) for n in names], rotation=60, fontsize=7)
        ax.set(ylabel=f"{split} accuracy", title=f"({'a' if split == 'train' else 'b'}) {split}")
        ax.legend(fontsize=7)
    return fig


def _fig5(o: Outcome) -> Any:
    basin, pairs = o.ds(MLP, "basin"), o.ds(MLP, "optimizers")
    fig, axes = drawing.figure(2, width=5.0)
    loss = training_loss(basin).sel(alpha=slice(0.0, 1.0))
    styles = ["-", "--", ":", "-."]
    for i, n in enumerate(_names(basin)):
        for r in basin.replicate.values:
            c = loss.sel(optimizer=n, replicate=r)
            axes[0, 0].plot(1 - c.alpha, c, styles[int(r) % 4], color=f"C{i}", lw=1,
                            label=f"init-{zoo.label(n)}" if int(r) == 0 else None)
    axes[0, 0].set(xlabel="α (0: init, 1: solution)", ylabel="training loss",
                   title="(a) init → final, a line style per init")
    chosen = [n for n in FIG5 if n in _names(pairs)]
    train = _train(pairs)
    for i, (a, b) in enumerate(zoo.pairs(chosen)):
        for r in pairs.replicate.values:
            c = train.sel(optimizer_a=a, optimizer_b=b, replicate=r)
            axes[0, 1].plot(c.alpha, c, styles[int(r) % 4], color=f"C{i}", lw=1,
                            label=f"{zoo.label(a)}-{zoo.label(b)}" if int(r) == 0 else None)
    axes[0, 1].set(xlabel="α", ylabel="training loss", title="(b) final → final")
    for ax in axes.flat:
        ax.legend(fontsize=6)
    return fig


def _fig6(o: Outcome) -> Any:
    ds = o.ds(MLP, "basin")
    loss = training_loss(ds).sel(alpha=slice(0.0, None))
    fig, axes = drawing.figure(1, width=6.0, height=4.0)
    ax = axes[0, 0]
    for i, n in enumerate(_names(ds)):
        for r in ds.replicate.values:
            c = loss.sel(optimizer=n, replicate=r)
            lam = c.distance if "distance" in c.coords else c.alpha
            ax.plot(lam, c, color=f"C{i}", lw=1, label=zoo.label(n) if int(r) == 0 else None)
            w = float(ds.basin_width.sel(optimizer=n, replicate=r))
            if np.isfinite(w):
                ax.plot([w], [float(c.isel(alpha=0)) + ds.basin_width.attrs.get(
                    "threshold", 0.0)], "|", color=f"C{i}", ms=10)
    ax.set(xlabel="λ: distance from the solution towards the init (and past it)",
           ylabel="training loss",
           title=f"basin widths (|) at a rise of {ds.basin_width.attrs.get('threshold')}")
    ax.legend(fontsize=7, ncol=2)
    return fig


def _fig7(o: Outcome) -> Any:
    ds = o.ds(MLP, "switching")
    switches = [str(s) for s in ds.switch.values]
    fig, axes = drawing.figure(4, len(switches), width=3.4, height=2.7)
    for row, s in enumerate(switches):
        sub = ds.sel(switch=s)
        for k, f in enumerate(sub.fraction.values):
            label = fraction_label(s, float(f))
            for col, (var, split) in enumerate((("curve_error", "train"),
                                                 ("curve_error", "test"))):
                c = (1 - sub[var].sel(split=split, fraction=f)).dropna("step", how="all")
                drawing.band(axes[row, col], c.step.values, c, label=label, color=f"C{k}")
            d = sub.init_distance.sel(fraction=f).dropna("step", how="all")
            drawing.band(axes[row, 2], d.step.values, d, label=label, color=f"C{k}")
            step = float(sub.switch_step.sel(fraction=f).mean()) if "switch_step" in sub else np.nan
            for col in range(3):
                if np.isfinite(step):
                    axes[row, col].axvline(step, color=f"C{k}", lw=0.6, ls=":")
        train = _train(sub)
        # The paper's right column: the pure first optimizer to each switched run, and
        # the switched runs to each other.
        switched = [f for f in FRACTIONS if 0.0 < f < 1.0]
        shown = [(1.0, f) for f in switched] + [(a, b) for i, a in enumerate(switched)
                                                for b in switched[i + 1:]]
        for k, (fa, fb) in enumerate(shown):
            c = train.sel(fraction_a=fa, fraction_b=fb)
            if bool(np.isfinite(c).any()):
                drawing.band(axes[row, 3], c.alpha.values, c, lw=0.9,
                             label=f"{fraction_label(s, fa)} ↔ {fraction_label(s, fb)}")
        axes[row, 0].set(ylabel=f"{s}\ntrain accuracy")
        axes[row, 1].set(ylabel="test accuracy")
        axes[row, 2].set(ylabel="‖θ_t − θ_0‖")
        axes[row, 3].set(ylabel="training loss", xlabel="α")
        for col in range(3):
            axes[row, col].set_xlabel("iteration")
        axes[row, 0].legend(fontsize=5)
        axes[row, 3].legend(fontsize=4)
    return fig


def _fig8(o: Outcome) -> Any:
    ds = o.ds(CONV, "batchnorm")
    fig, axes = drawing.figure(2, 2, width=4.6, height=3.2)
    loss = _train(ds)
    inits = [str(x) for x in ds.line.values if str(x).startswith("init>")]
    pairs = [str(x) for x in ds.line.values if not str(x).startswith(("init>", "normal"))]
    for row, bn in enumerate(WITH_WITHOUT):
        for col, lines in enumerate((inits, pairs)):
            ax = axes[row, col]
            for k, line in enumerate(lines):
                for r in ds.replicate.values:
                    c = loss.sel(batch_norm=bn, line=line, replicate=r)
                    ax.plot(c.alpha, c, ["-", "--", ":"][int(r) % 3], color=f"C{k % 10}",
                            lw=1, label=line if int(r) == 0 else None)
            ax.set(xlabel="α", ylabel="training loss",
                   title=f"{bn} batch norm: {'init → final' if col == 0 else 'final → final'}")
            bad = _diverged_runs(ds.sel(batch_norm=bn))
            if bad:
                ax.text(0.02, 0.02, f"diverged: {bad}", transform=ax.transAxes, fontsize=6,
                        color="C3")
            ax.legend(fontsize=5)
    return fig


def _diverged_runs(ds: xr.Dataset) -> str:
    from landscapes.app.analyses.optimizers import diverged_text

    return "" if diverged_text(ds) == "none" else diverged_text(ds)


def _fig10(o: Outcome) -> Any:
    ds = o.ds(MLP, "basin")
    loss = training_loss(ds).sel(alpha=slice(-1.0, 1.0))
    fig, axes = drawing.figure(2, width=4.8)
    for ax, split in zip(axes.flat, ("train", "test")):
        c_all = ds.loss.sel(split=split).sel(alpha=slice(-1.0, 1.0)) if "split" in ds.dims else loss
        for i, n in enumerate(_names(ds)):
            c = c_all.sel(optimizer=n)
            drawing.band(ax, (1 - c.alpha).values, c, label=zoo.label(n), color=f"C{i}", lw=1)
        ax.axvline(1.0, color="0.8", lw=0.8)
        ax.set(xlabel="α (0: init, 1: solution, 2: as far past it)", ylabel=f"{split} loss",
               yscale="log")
        ax.legend(fontsize=6, ncol=2)
    return fig


def _fig11(o: Outcome) -> Any:
    ds = o.ds(CONV, "batchnorm")
    fig, axes = drawing.figure(3, width=4.2)
    for b, bn in enumerate(WITH_WITHOUT):
        for k, init in enumerate(ds.exotic_init.values):
            flag = ds.exotic_diverged.sel(batch_norm=bn, exotic_init=init)
            hit = [f"r{int(r)}" for r in flag.replicate.values if bool(flag.sel(replicate=r) > 0)]
            if hit:
                axes[0, 2 - b].text(0.02, 0.02 + 0.06 * k, f"{init} diverged: {', '.join(hit)}",
                                    transform=axes[0, 2 - b].transAxes, fontsize=6, color="C3")
            c = _train(ds, "curve_loss").sel(batch_norm=bn, exotic_init=init)
            c = c.dropna("step", how="all")
            drawing.band(axes[0, 0], c.step.values, c, color=f"C{k}", ls=["-", "--"][b],
                         label=f"{init} {'w.' if bn == 'with' else 'wo.'} BN")
            line = _train(ds).sel(batch_norm=bn, line=f"{init}: init>{EXOTIC_OPTIMIZER}")
            drawing.band(axes[0, 2 - b], line.alpha.values, line, color=f"C{k}", label=str(init))
    axes[0, 0].set(xlabel="iteration", ylabel="training loss", title="(a) learning curves",
                   yscale="log")
    axes[0, 1].set(xlabel="α (init → final)", ylabel="training loss", title="(b) without BN",
                   yscale="log")
    axes[0, 2].set(xlabel="α (init → final)", ylabel="training loss", title="(c) with BN",
                   yscale="log")
    for ax in axes.flat:
        ax.legend(fontsize=6)
    return fig


# -------------------------------------------------------------------------- claims


def _c_different(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "optimizers")
    drop = _drop(o)
    height = metrics.linear_barrier(_train(ds)).height.where(trained_pairs(ds))
    share = (height / drop).values.ravel()
    share = share[np.isfinite(share)]
    above = int((share > BARRIER).sum())
    pairs = [(a, b) for a in height.optimizer_a.values for b in height.optimizer_b.values
             if bool(height.sel(optimizer_a=a, optimizer_b=b).notnull().any())]
    free = [f"{zoo.label(str(a))}-{zoo.label(str(b))}" for a, b in pairs
            if bool((height.sel(optimizer_a=a, optimizer_b=b) / drop <= BARRIER).all())]
    text = (f"{MLP}, training loss, {share.size} (pair, init) lines: barrier "
            f"{np.median(share):.1%} of the init → solution drop in the median, "
            f"{share.min():.1%}–{share.max():.1%}; {above}/{share.size} above {BARRIER:.0%}; "
            f"{len(free)}/{len(pairs)} pairs barrier-free from every init"
            + (f" ({', '.join(free[:6])}{', …' if len(free) > 6 else ''})" if free else "")
            + _failed(o))
    return text, "reproduced" if share.size and above == share.size else "differs"


def _c_disagree(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "optimizers")
    test = ds.sel(split="test")
    pairs = trained_pairs(ds)
    dist = float(test.divergence.isel(alpha=-1).where(pairs).mean())
    agree = float(test.disagreement.isel(alpha=-1).where(pairs).mean())
    share = disagreement_share(test).where(pairs)
    error = float(test.final_error.where(_ok(o)).mean())
    text = (f"{MLP}, test split, mean over pairs and inits: distance {dist:.3f} (softmax "
            f"outputs; paper ≈0.16), disagreement {agree:.1%} (paper ≈8 %) at a test error of "
            f"{error:.1%} (paper ≈11 %); {float(share.mean()):.0%} of the most the two error "
            f"rates allow (paper: over a third), {float(share.min()):.0%}–"
            f"{float(share.max()):.0%}" + _failed(o))
    return text, "reproduced" if float(share.mean()) > THIRD else "differs"


def _c_training_order(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "optimizers")
    ok = _ok(o).all("replicate")
    names = [n for n in TABLE1 if n in _names(ds) and bool(ok.sel(optimizer=n))]
    acc = (1 - ds.final_error.sel(split="train")).mean("replicate").sel(optimizer=names)
    order = [names[i] for i in np.argsort(-acc.values)]
    text = "train accuracy, best first: " + ", ".join(
        f"{zoo.label(n)} {float(acc.sel(optimizer=n)):.3f}" for n in order) + _failed(o)
    adaptive = [n for n in ("adam", "rmsprop", "adadelta") if n in names]
    ok = ("sgd" in names and order[-1] == "sgd"
          and set(order[:len(adaptive)]) == set(adaptive))
    return text, "reproduced" if ok else "differs"


def _c_test_same(o: Outcome) -> tuple[str, str]:
    from scipy.stats import f_oneway

    ds = o.ds(MLP, "optimizers")
    acc = (1 - ds.final_error.sel(split="test")).where(_ok(o))
    groups = [acc.sel(optimizer=n).values[np.isfinite(acc.sel(optimizer=n).values)]
              for n in _names(ds)]
    groups = [g for g in groups if g.size >= 2]
    means = acc.mean("replicate")
    spread = float(acc.std("replicate").mean())
    if len(groups) < 2:
        return ("needs two inits per optimizer for a test", "cannot run here")
    p = float(f_oneway(*groups).pvalue)
    text = (f"test accuracy per optimizer {float(means.min()):.3f}–{float(means.max()):.3f} "
            f"(mean over {ds.sizes['replicate']} inits; spread over inits ±{spread:.3f}); "
            f"one-way ANOVA over optimizers p = {p:.2g}" + _failed(o))
    return text, "reproduced" if p > LEVEL else "differs"


def _trained_basins(o: Outcome) -> xr.Dataset:
    """The basin dataset without the optimizers that did not train from some init."""
    ok = _ok(o).all("replicate")
    ds = o.ds(MLP, "basin")
    return ds.sel(optimizer=[n for n in _names(ds) if bool(ok.sel(optimizer=n))])


def _c_alike(o: Outcome) -> tuple[str, str]:
    ds = _trained_basins(o)
    ratio = float(likeness(ds))
    text = (f"RMS difference of training-loss curves along the ray, same optimizer from "
            f"different inits / different optimizers from one init: {ratio:.2f}" + _failed(o))
    return text, "reproduced" if ratio < 1 else "differs"


def _c_wider(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "basin")
    w = ds.basin_width.mean("replicate")
    adam = [n for n in ("adam", "adam_rk2") if n in _names(ds)]
    sgd = [n for n in ("sgd", "rk2") if n in _names(ds)]
    if not adam or not sgd:
        return "needs Adam and SGD in --optimizers", "cannot run here"
    text = (f"basin width (training loss +{ds.basin_width.attrs.get('threshold')}), mean over "
            "inits: " + ", ".join(f"{zoo.label(n)} {float(w.sel(optimizer=n)):.3g}"
                                  for n in (*adam, *sgd))
            + "; distance from the init: " + ", ".join(
                f"{zoo.label(n)} {float(ds.init_distance.sel(optimizer=n).mean()):.3g}"
                for n in (*adam, *sgd))
            + "; as a share of it: " + ", ".join(
                f"{zoo.label(n)} {float((ds.basin_width / ds.init_distance).sel(optimizer=n).mean()):.2f}"
                for n in (*adam, *sgd)))
    ok = float(w.sel(optimizer=adam).min()) > float(w.sel(optimizer=sgd).max())
    return text, "reproduced" if ok else "differs"


def _c_past(o: Outcome) -> tuple[str, str]:
    ds = _trained_basins(o)
    loss = training_loss(ds)
    j0 = loss.sel(alpha=0.0)
    before = loss.sel(alpha=slice(None, -1e-9)).isel(alpha=-1)  # the grid point past the solution
    far = loss.sel(alpha=-1.0, method="nearest")
    rises = (before > j0) & (far > j0)
    n = int(np.isfinite(j0).sum())
    still = [zoo.label(str(m)) for m in rises.optimizer.values
             if not bool(rises.sel(optimizer=m).all())]
    text = (f"training loss past the solution (α_line = 1 + one grid step, and 2) is above the "
            f"solution's for {int(rises.sum())}/{n} (optimizer, init) lines"
            + (f"; still falling past the solution: {', '.join(still)}" if still else "")
            + _failed(o))
    return text, "reproduced" if int(rises.sum()) == n and n else "differs"


def _c_passes(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "surfaces")
    loss = _train(ds)
    drop = _drop(o)
    ok = _ok(o).all("replicate")
    heights = []
    for s in ds.surface.values:
        kind, names = parse(str(s))
        if kind == "inits" or not all(bool(ok.sel(optimizer=n)) for n in names):
            continue
        where = vertices(str(s))
        ends = names if kind == "init" else list(where)
        for r in loss.replicate.values:
            grid = loss.sel(surface=s, replicate=r).transpose("alpha", "beta").values
            heights += [pass_between(grid, loss.alpha.values, loss.beta.values, where, a, b)
                        for a, b in zoo.pairs(ends)]
    h = np.array(heights, dtype=float)
    h = h[np.isfinite(h)] / drop
    text = (f"lowest path between two solutions inside each 2-D slice ({h.size} pairs): its "
            f"highest point {np.median(h):.1%} of the init → solution drop above the higher "
            f"solution in the median, {h.min():.1%}–{h.max():.1%} "
            f"({int((h > BARRIER).sum())}/{h.size} above {BARRIER:.0%})" + _failed(o))
    return text, "reproduced" if h.size and bool((h > BARRIER).all()) else "differs"


def _c_switch(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "switching")
    late = late_barriers(ds)
    c = _train(ds, "curve_loss")
    drop = float((c.isel(step=0) - c.isel(step=-1)).mean())
    parts, ok = [], True
    for s in ds.switch.values:
        h = late.sel(switch=s) / drop
        ok &= bool((h > BARRIER).all())
        parts.append(f"{s} {float(h.mean()):.1%}")
    text = ("barrier between the pure first optimizer and the run switched after 3/4 of "
            "training, as a share of the drop: " + ", ".join(parts))
    return text, "reproduced" if ok else "differs"


def _c_distance(o: Outcome) -> tuple[str, str]:
    ds = o.ds(MLP, "switching")
    if "adam>sgd" not in ds.switch.values:
        return "needs the switch adam>sgd", "cannot run here"
    sub = ds.init_distance.sel(switch="adam>sgd")
    parts, ok = [], True
    for f in (0.25, 0.5, 0.75):
        step = float(ds.switch_step.sel(fraction=f).mean())
        d = sub.sel(fraction=f).dropna("step", how="all")
        before = d.sel(step=slice(None, step)).isel(step=-1)
        end = d.isel(step=-1)
        at = int(d.sel(step=slice(None, step)).step.values[-1])
        ok &= bool((end < before).all())
        parts.append(f"{fraction_label('adam>sgd', f)}: {float(before.mean()):.3g} at "
                     f"iteration {at} → {float(end.mean()):.3g} at the end")
    return "‖θ_t − θ_0‖ of Adam → SGD: " + "; ".join(parts), "reproduced" if ok else "differs"


def _c_unimodal(o: Outcome) -> tuple[str, str]:
    ds = o.ds(CONV, "batchnorm")
    share = {}
    for bn in WITH_WITHOUT:
        n = pair_peaks(ds.sel(batch_norm=bn))
        n = n[np.isfinite(n)]
        share[bn] = (float((n <= 1).mean()) if n.size else float("nan"), n.size)
    def said(bn: str) -> str:
        value, n = share[bn]
        bad = _diverged_runs(ds.sel(batch_norm=bn))
        text = f"{value:.0%} of {n} lines" if n else "no line to read"
        return text + (f" (diverged: {bad})" if bad else "")

    text = (f"{CONV}, final → final training loss with at most one peak: with batch norm "
            f"{said('with')}, without {said('without')}")
    ok = share["with"][0] == 1.0 and share["without"][0] < 1.0
    return text, "reproduced" if ok else "differs"


def _c_init_dependence(o: Outcome) -> tuple[str, str]:
    ds = o.ds(CONV, "batchnorm")
    spread = {bn: float(np.nanmean(init_spread(ds.sel(batch_norm=bn)))) for bn in WITH_WITHOUT}
    bad = {bn: _diverged_runs(ds.sel(batch_norm=bn)) for bn in WITH_WITHOUT}
    text = (f"{CONV}, standard deviation of the final test error over inits (mean over "
            f"optimizers): with batch norm {spread['with']:.4f}"
            + (f" (diverged, left out: {bad['with']})" if bad["with"] else "")
            + f", without {spread['without']:.4f}"
            + (f" (diverged, left out: {bad['without']})" if bad["without"] else ""))
    return text, "reproduced" if spread["with"] < spread["without"] else "differs"


def _c_exotic(o: Outcome) -> tuple[str, str]:
    ds = o.ds(CONV, "batchnorm")
    c = _train(ds, "curve_loss")
    parts, ok = [], True
    for bn in WITH_WITHOUT:
        for init in EXOTIC:
            curve = c.sel(batch_norm=bn, exotic_init=init).dropna("step", how="all")
            flag = bool((ds.exotic_diverged.sel(batch_norm=bn, exotic_init=init) > 0).any())
            if flag or curve.sizes.get("step", 0) == 0:
                ratio = float("nan")
            else:
                ratio = float((curve.isel(step=-1) / curve.isel(step=0)).mean())
            stalled = flag or not ratio < STALLED
            ok &= stalled if bn == "without" else not stalled
            parts.append(f"{init} {bn} BN: "
                         + ("diverged" if flag else f"final/initial training loss {ratio:.3f}"))
    text = (f"{CONV}, SGD, {int(o.ds(CONV, 'batchnorm').step.max())} iterations: "
            + "; ".join(parts) + f" (stalled: above {STALLED:.0%} of the initial loss)")
    return text, "reproduced" if ok else "differs"


def _ext_aligned(o: Outcome) -> Any:
    keep = trained_pairs(o.ds(MLP, "optimizers")) if o.has(MLP, "optimizers") else None
    return aligned.draw_pairs(o.ds(MLP, "aligned_optimizers"), keep)


def _x_aligned(o: Outcome) -> tuple[str, str]:
    keep = trained_pairs(o.ds(MLP, "optimizers"))
    text = aligned.pairs_finding(o.ds(MLP, "aligned_optimizers"), MLP, _drop(o), BARRIER, keep)
    return text + _failed(o), "shown"


BUDGETS = {
    "quick": Budget(replicates=2, epochs=2.0, eval_examples=2000, points=21, surface_points=11,
                    trajectory_points=16),
    "quick-conv": Budget(replicates=2, epochs=2.0, train_examples=2048, eval_examples=256,
                         points=9, surface_points=5, trajectory_points=4,
                         optimizers=("sgd", "adam", "adadelta")),
    "paper": Budget(replicates=3, epochs=200.0, eval_examples=None, points=100,
                    surface_points=41, trajectory_points=0, barrier_tol=1e-3),
}

PAPER = Paper(
    name="im2016",
    citation="Im, Tao & Branson (2016), An empirical analysis of deep network loss surfaces, "
             "arXiv:1612.04010",
    budgets=BUDGETS,
    figures=(
        Figure("table1", "the init and two solutions (below), functional distance (above)",
               _table1, needs=((MLP, "optimizers"), (MLP, "surfaces")), budgets=QUICK),
        Figure("2", "bilinear surface through two inits and their SGD solutions", _fig2,
               needs=((MLP, "surfaces"),), budgets=QUICK),
        Figure("3", "four and three solutions from one init", _fig3,
               needs=((MLP, "surfaces"),), budgets=QUICK),
        Figure("4", "train and test accuracy per optimizer and init", _fig4,
               needs=((MLP, "optimizers"),), budgets=QUICK),
        Figure("5", "init → final and final → final for several inits", _fig5,
               needs=((MLP, "basin"), (MLP, "optimizers")), budgets=QUICK),
        Figure("6", "the basins in absolute distance", _fig6, needs=((MLP, "basin"),),
               budgets=QUICK),
        Figure("7", "switching optimizers after 1/4, 1/2, 3/4 of training", _fig7,
               needs=((MLP, "switching"),), budgets=QUICK),
        Figure("8", "with and without batch norm", _fig8, needs=((CONV, "batchnorm"),),
               budgets=QUICK_CONV),
        Figure("10", "init → final up to α = 2", _fig10, needs=((MLP, "basin"),),
               budgets=QUICK),
        Figure("11", "exotic initialisations with and without batch norm", _fig11,
               needs=((CONV, "batchnorm"),), budgets=QUICK_CONV),
        Figure("ext-sharpness", "extension: sharpness of each optimizer's solution against "
               "its basin width", lambda o: curvature.draw_sharpness_and_basins(o, MLP),
               needs=((MLP, "basin"), (MLP, "sharpness")), budgets=QUICK, on_request=True),
        Figure("ext-aligned", "extension: Table 1's barriers between optimizers' solutions "
               "before and after aligning the hidden units", _ext_aligned,
               needs=((MLP, "aligned_optimizers"),), budgets=QUICK, on_request=True),
    ),
    claims=(
        Claim(("table1",), "For every pair of optimization algorithms ... the training loss "
                           "between the final weights for different algorithms shows a sharp "
                           "increase along the interpolated path.", _c_different),
        Claim(("table1",), "The average distance between the outputs was ≈0.16, a label "
                           "disagreement of ≈8 %: over a third of the most their ≈11 % error "
                           "allows.", _c_disagree),
        Claim(("2", "3"), "Even in these [2-D] projections ... the local minima returned by "
                          "different algorithms are separated by high loss.", _c_passes,
              needs=((MLP, "optimizers"),)),  # the drop it divides by
        Claim(("4",), "SGD finds local minima with the lowest training accuracy and ADAM, "
                      "Rmsprop, and Adadelta the highest.", _c_training_order),
        Claim(("4",), "The generalization accuracy of these different local minima ... was "
                      "not significantly different between algorithms.", _c_test_same),
        Claim(("5",), "The surfaces look strikingly similar for different runs of the same "
                      "algorithm, but characteristically different for different "
                      "algorithms.", _c_alike),
        Claim(("6",), "The size of the basins around the local minima found by ADAM and "
                      "ADAM&RK2 are larger than those found by SGD and RK2.", _c_wider),
        Claim(("10",), "If we interpolate beyond the critical point ... the loss increases.",
              _c_past),
        Claim(("7",), "Regardless of how late we switch optimization algorithms ... the local "
                      "minima found were all different.", _c_switch),
        Claim(("7",), "While distance increases with training epoch for any single "
                      "optimization method, it actually starts to decrease when switching "
                      "from ADAM to SGD.", _c_distance),
        Claim(("8",), "With batch normalization we see sharp unimodal jumps ... without batch "
                      "normalization we obtain wide bumpy shapes that aren't necessarily "
                      "unimodal.", _c_unimodal),
        Claim(("8",), "Without batch normalization, the quality of local minimum found by a "
                      "given algorithm is much more dependent on the initialization.",
              _c_init_dependence),
        Claim(("ext-sharpness",), "Extension (§4.2's basins): do the optimizers with the "
                                  "wider basins in absolute distance find the flatter solutions "
                                  "(smaller λ_max)?",
              lambda o: curvature.sharpness_and_basins(o, MLP), extension=True),
        Claim(("ext-aligned",), "Extension (Table 1 modulo permutation): are different "
                                "optimizers' solutions distinct only up to a renaming of "
                                "hidden units -- does the barrier between them survive "
                                "alignment (Ainsworth et al. 2023) and REPAIR (Jordan et al. "
                                "2023)?", _x_aligned, needs=((MLP, "optimizers"),),
              extension=True),
        Claim(("11",), "NIN without BN does not train at all with any of these "
                       "initializations ... NIN with BN does train slowly.", _c_exotic),
    ),
    notes=("The paper's networks are NIN and VGG on CIFAR-10 and an LSTM on PTB, trained 200 "
           "epochs; here LeNet-300-100 on Fashion-MNIST (quick: 2 epochs) and ResNet-20 with "
           "and without batch norm on a subset of Fashion-MNIST (quick-conv; NIN costs eight "
           "times more per step on a CPU, and the batch-norm claims are about NIN and VGG). "
           "Functional "
           "distances compare softmax outputs. Figs. 1 and 9 (learning curves of the "
           "introduction and App. A.4) and Figs. 12–15 (the VGG switches at several learning "
           "rates) are not reproduced; Fig. 7 covers every switch of the budget."),
)
