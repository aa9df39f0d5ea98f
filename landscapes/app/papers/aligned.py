"""The alignment extensions of the papers: their figures and their measurements.

Goodfellow, Vinyals & Saxe (2015, Fig. 5) and Im, Tao & Branson (2016, Table 1, §4.1)
find barriers on the straight line between two solutions. Hidden units can be renamed
without changing a network's function, so a barrier may be no more than permutation
symmetry (Entezari et al. 2022): each paper's extension asks whether it survives once
the second solution's units are aligned to the first's (Ainsworth, Hayase & Srinivasa
2023) -- and once REPAIR (Jordan et al. 2023) corrects the aligned line -- on the
paper's own system, from :mod:`~landscapes.app.analyses.aligned` and
:mod:`~landscapes.app.analyses.aligned_optimizers`. With the barrier B of a line
(:func:`landscapes.metrics.linear_barrier`), the findings report B before and after
alignment (mean ± std over replicates) and the share 1 − B_aligned / B_unaligned that
alignment removes. The verdicts are "shown", whichever way the numbers come out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from landscapes.app.analyses import zoo
from landscapes.app.analyses.aligned import barriers, function_row
from landscapes.app.analyses.base import mean_std
from landscapes.app.papers import drawing

__all__ = ["draw_lines", "lines_finding", "draw_pairs", "pairs_finding", "removed",
           "pair_labels"]

#: How each line of the aligned analyses is drawn.
LINE_STYLE = {"unaligned": "--", "aligned": "-"}
#: A relative weight distance change below this is no change (the identity permutation).
IDENTITY = 1e-9


def removed(before: Any, after: Any) -> float:
    """The share of the mean barrier that alignment removes, 1 − mean(after) / mean(before).

    NaN when the barrier before is zero (nothing to remove).

    Examples
    --------
    >>> removed([0.4, 0.6], [0.1, 0.1])
    0.8
    """
    b, a = float(np.nanmean(before)), float(np.nanmean(after))
    return 1.0 - a / b if b > 0 else float("nan")


def _percent(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def _splits(ds: xr.Dataset) -> list[str | None]:
    return [str(s) for s in ds.split.values] if "split" in ds.dims else [None]


def _split(da: xr.DataArray, split: str | None) -> xr.DataArray:
    return da if split is None else da.sel(split=split)


def _method(ds: xr.Dataset) -> str:
    return f"{ds.attrs.get('align_method', 'weight')} matching"


def _check(ds: xr.Dataset) -> str:
    key = "function preserved by the alignment"
    return f"{key}: {function_row(ds)[key]}"


# ------------------------------------------------------------------ solution → solution


def draw_lines(ds: xr.Dataset, title: str) -> Any:
    """Loss along every line of :mod:`~landscapes.app.analyses.aligned`, one panel per split."""
    splits = _splits(ds)
    fig, axes = drawing.figure(len(splits))
    for ax, split in zip(axes.flat, splits):
        for i, line in enumerate(ds.line.values):
            c = _split(ds.loss, split).sel(line=line)
            drawing.band(ax, c.alpha.values, c, label=str(line), color=f"C{i}",
                         ls=LINE_STYLE.get(str(line), "-."))
        ax.set(xlabel="α (solution → solution)", ylabel="J(θ)", yscale="log",
               title=f"{title}, {split or 'loss'}")
        for edge in (0.0, 1.0):
            ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
        ax.legend(fontsize=7)
    return fig


def lines_finding(ds: xr.Dataset, name: str, drop: float | None = None) -> str:
    """The barriers of every line of ``aligned`` with the share alignment removes.

    ``drop`` (the init → solution drop of the training loss), when given, puts each
    training-loss barrier in its units, as the paper's own claim does.
    """
    loss, error = barriers(ds, "loss"), barriers(ds, "error")
    lines = [str(v) for v in ds.line.values]
    n = ds.sizes.get("replicate", 1)
    pairs = (f"{n} replicates, r joined to r + 1" if n > 2 else
             f"{n} replicates (one pair seen from both ends)")
    parts = []
    for split in _splits(ds):
        h, e = _split(loss, split), _split(error, split)
        text = f"{split or 'loss'} loss barrier " + ", ".join(
            f"{line} {mean_std(h.sel(line=line))}" for line in lines)
        text += " (alignment removes " + ", ".join(
            f"{_percent(removed(h.sel(line='unaligned'), h.sel(line=line)))} {line}"
            for line in lines[1:]) + ")"
        if drop and split in ("train", None):
            text += "; as a share of the init → solution drop " + ", ".join(
                f"{float(h.sel(line=line).mean()) / drop:.1%}" for line in lines)
        text += "; error barrier " + " → ".join(mean_std(e.sel(line=line)) for line in lines)
        parts.append(text)
    distance = (f"‖θ_a − θ_b‖ {mean_std(ds.distance_before)} → ‖θ_a − π(θ_b)‖ "
                f"{mean_std(ds.distance_after)}")
    return (f"{name}, {_method(ds)}, {pairs}: " + "; ".join(parts)
            + f"; {distance}; {_check(ds)}")


# ------------------------------------------------------------------ optimizer pairs


def pair_labels(ds: xr.Dataset, keep: xr.DataArray | None = None) -> list[tuple[str, str]]:
    """The (a, b) optimizer pairs ``aligned_optimizers`` evaluated (a listed before b).

    ``keep`` (a boolean over ``optimizer_a``, ``optimizer_b``, maybe ``replicate``) drops
    the pairs it is false for in every replicate (runs that did not train).
    """
    h = barriers(ds).sel(line="unaligned")
    out = []
    for a in ds.optimizer_a.values:
        for b in ds.optimizer_b.values:
            cell = h.sel(optimizer_a=a, optimizer_b=b)
            if keep is not None:
                cell = cell.where(keep.sel(optimizer_a=a, optimizer_b=b))
            if bool(cell.notnull().any()):
                out.append((str(a), str(b)))
    return out


def _pair_values(h: xr.DataArray, pairs: list[tuple[str, str]]) -> xr.DataArray:
    """``h`` on the listed pairs only, stacked on a ``pair`` dimension."""
    return xr.concat([h.sel(optimizer_a=a, optimizer_b=b, drop=True) for a, b in pairs],
                     dim="pair")


def draw_pairs(ds: xr.Dataset, keep: xr.DataArray | None = None) -> Any:
    """Each optimizer pair's loss barrier on every line (bars: mean over inits, ± std)."""
    pairs = pair_labels(ds, keep)
    splits = _splits(ds)
    lines = [str(v) for v in ds.line.values]
    fig, axes = drawing.figure(len(splits), width=4.6, height=max(2.4, 1.2 + 0.22 * len(pairs)))
    h = barriers(ds)
    y = np.arange(len(pairs))
    step = 0.8 / len(lines)
    for ax, split in zip(axes.flat, splits):
        for i, line in enumerate(lines if pairs else []):
            v = _pair_values(_split(h, split).sel(line=line), pairs)
            if keep is not None:
                v = v.where(_pair_values(keep, pairs))
            ax.barh(y + (i - (len(lines) - 1) / 2) * step, v.mean("replicate").values,
                    height=step, xerr=v.std("replicate").values, color=f"C{i}", label=line,
                    error_kw={"lw": 0.6})
        ax.set_yticks(y, [f"{zoo.label(a)}–{zoo.label(b)}" for a, b in pairs], fontsize=7)
        ax.invert_yaxis()
        ax.set(xlabel=f"{split or ''} loss barrier (final → final)".strip(),
               title=f"{split or 'loss'}, mean ± std over inits")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def pairs_finding(ds: xr.Dataset, name: str, drop: float, threshold: float,
                  keep: xr.DataArray | None = None) -> str:
    """How many (pair, init) barriers exceed ``threshold``·``drop`` before and after alignment.

    ``drop`` is the mean init → solution drop of the training loss, ``threshold`` the
    share of it a barrier must exceed to count (the paper's own claim's criterion), and
    ``keep`` the pairs whose runs trained (:func:`pair_labels`).
    """
    pairs = pair_labels(ds, keep)
    if not pairs:
        return f"{name}: no optimizer pair was evaluated"
    lines = [str(v) for v in ds.line.values]
    h = barriers(ds)

    def on_pairs(da: xr.DataArray) -> xr.DataArray:
        """``da`` on the evaluated pairs, NaN where a run did not train."""
        v = _pair_values(da, pairs)
        return v if keep is None else v.where(_pair_values(keep, pairs))

    first = "train" if "split" in h.dims else None
    train = {line: on_pairs(_split(h, first).sel(line=line)) for line in lines}
    counts = []
    for line in lines:
        v = np.asarray(train[line]).ravel()
        v = v[np.isfinite(v)]
        counts.append(f"{line} {int((v > threshold * drop).sum())}/{v.size}")
    medians = ", ".join(f"{line} {float(train[line].median()) / drop:.2%}" for line in lines)
    # only the pairs with a barrier on some line: the rest are one number, their count
    mean = {line: train[line].mean("replicate") for line in lines}
    shown = [k for k in range(len(pairs))
             if any(float(mean[line].isel(pair=k)) > threshold * drop for line in lines)]
    per_pair = ", ".join(
        f"{zoo.label(pairs[k][0])}–{zoo.label(pairs[k][1])} "
        + " → ".join(f"{float(mean[line].isel(pair=k)):.3g}" for line in lines)
        for k in shown) or "none"
    # the matching may find that θ_b's units already match θ_a's: π is the identity
    before, after = on_pairs(ds.distance_before), on_pairs(ds.distance_after)
    same = int((after >= before * (1 - IDENTITY)).sum())
    parts = [f"{name}, {_method(ds)}, {len(pairs)} optimizer pairs × "
             f"{ds.sizes.get('replicate', 1)} init(s), training loss: barrier above "
             f"{threshold:.0%} of the init → solution drop in " + ", ".join(counts)
             + f" (pair, init) lines; median barrier as a share of the drop {medians}; "
             "alignment removes " + ", ".join(
                 f"{_percent(removed(train['unaligned'], train[line]))} {line}"
                 for line in lines[1:])
             + f"; {_method(ds)} left θ_b as it was (π the identity) in {same}/"
               f"{int(before.notnull().sum())}"]
    if "split" in h.dims and "test" in h.split.values:
        parts.append("test loss barrier " + ", ".join(
            f"{line} {mean_std(on_pairs(h.sel(split='test', line=line)))}" for line in lines))
    parts.append(f"pairs with a barrier above {threshold:.0%} of the drop on some line (train, "
                 "mean over inits, " + " → ".join(lines) + f"): {per_pair}; "
                 f"{len(pairs) - len(shown)} other pairs below it on every line")
    parts.append(_check(ds))
    return "; ".join(parts)
