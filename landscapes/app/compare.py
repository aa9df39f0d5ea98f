"""Compare the linear-slice landscapes of two systems: ``python -m landscapes.compare A B``.

Runs Goodfellow et al.'s (2015) straight-line analyses on two systems -- any mix of
exact theory (``deep_linear``) and trained networks (``mnist_mlp``) -- and writes one
netCDF file (a group per analysis, a ``system`` dimension), one figure (a panel per
analysis, both systems on the normalised scale (J − J_final)/(J_init − J_final)) and
one table of the qualitative features the papers argue about.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics, results
from landscapes.app.systems import ANALYSES, ZOOMS, Settings, System, describe_systems, get_system

__all__ = ["BUDGETS", "main", "run", "summarize"]

#: Budgets: "quick" finishes in minutes on a laptop CPU; "paper" uses the papers' settings.
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {"alphas": grids.uniform(41, -0.5, 1.5), "zoom_points": 41,
              "from_alphas": grids.uniform(21, 0.0, 1.0), "max_starts": 8, "replicates": 3,
              "epochs": 1.0, "eval_examples": 5000, "trajectory_points": 24},
    "paper": {"alphas": grids.grid("extended"), "zoom_points": 200,
              "from_alphas": grids.grid("uniform"), "max_starts": None, "replicates": 3,
              "epochs": None, "eval_examples": None, "trajectory_points": 0},
}
#: The start counts as flat when it descends at less than this share of the steepest rate.
FLAT = 1 / 3
#: A barrier from iteration t counts as gone below this share of J_init − J_final.
GONE = 0.01
#: Analyses whose datasets have their own coordinates per system (outer-joined).
_RAGGED = ("from_iteration", "trajectory")


def _stack(parts: dict[str, xr.Dataset], analysis: str = "") -> xr.Dataset:
    """Stack one analysis of several systems along ``system``.

    Systems without a ``split`` (theory) are repeated along the other systems' splits,
    and coordinates outside the schema are dropped, so the stack is rectangular. Start
    iterations and trajectory steps differ between systems: those are outer-joined,
    NaN where a system has no value.
    """
    splits = next((list(ds.split.values) for ds in parts.values() if "split" in ds.dims), None)
    aligned = []
    for ds in parts.values():
        extra = [c for c in ds.coords if c not in ds.dims and c != "distance"]
        ds = ds.drop_vars(extra)
        if splits is not None and "split" not in ds.dims and "alpha" in ds.dims:
            ds = ds.expand_dims(split=np.array(splits, dtype=object), axis=1)
            if "split" in ds["distance"].dims:
                ds["distance"] = ds["distance"].isel(split=0, drop=True)
        if splits is not None and "split" in ds.dims:
            ds = ds.transpose("replicate", "split", ...)
        aligned.append(ds)
    if analysis in _RAGGED:
        return results.combine(aligned, "system", list(parts), join="outer")
    return results.combine(aligned, "system", list(parts))


def _test(ds: xr.Dataset) -> xr.Dataset:
    """The test split (the one the papers report), or the only one."""
    if "split" in ds.dims:
        return ds.sel(split="test") if "test" in ds.split.values else ds.isel(split=0)
    return ds


def _curve(ds: xr.Dataset, low: float = 0.0, high: float = 1.0) -> xr.Dataset:
    """The test-split values on [low, high] of alpha."""
    return _test(ds).sel(alpha=slice(low, high))


def _mean_std(da: xr.DataArray | np.ndarray, fmt: str = ".3g") -> str:
    values = np.asarray(da, dtype=float).ravel()
    values = values[np.isfinite(values)] if np.isfinite(values).any() else values
    if values.size == 1:
        return f"{values[0]:{fmt}}"
    return f"{np.nanmean(values):{fmt}} ± {np.nanstd(values):.2g}"


def _share(da: xr.DataArray | np.ndarray) -> str:
    values = np.asarray(da, dtype=bool).ravel()
    return f"{'yes' if values.all() else 'no' if not values.any() else 'mixed'} ({values.sum()}/{values.size})"


def _drop(tree: dict[str, xr.Dataset], system: str) -> tuple[float, float]:
    """Mean J_init and J_final of ``system`` on init→final (test split)."""
    ds = _test(tree["init_to_final"].sel(system=system)).loss
    return (float(ds.sel(alpha=0.0, method="nearest").mean()),
            float(ds.sel(alpha=1.0, method="nearest").mean()))


def _minima(curve: np.ndarray, spurious_above: float) -> tuple[int, int]:
    """Interior local minima of a 1-D curve, and how many sit above ``spurious_above``."""
    y = curve[np.isfinite(curve)]
    inner = (y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])
    values = y[1:-1][inner]
    return int(inner.sum()), int((values > spurious_above).sum())


def _rises(loss: xr.DataArray, scale: float) -> xr.DataArray:
    """Rise barrier of every line from iteration t, with rounding noise set to 0.

    Exact curves leave rises of 1e-32 after rounding; below 1e-12 of ``scale`` (the
    loss drop J_init − J_final) they are no barrier, in the table as in the figure.
    """
    height = metrics.rise_barrier(loss).height
    return height.where(~(height <= 1e-12 * abs(scale)), 0.0)


def summarize(tree: dict[str, xr.Dataset], system: str) -> dict[str, str]:
    """The qualitative features of one system, as printable strings.

    Parameters
    ----------
    tree : dict of str to xarray.Dataset
        Analyses by name, each with a ``system`` dimension.
    system : str

    Returns
    -------
    dict of str to str
    """
    row: dict[str, str] = {"system": system}
    drop = None
    if "init_to_final" in tree:
        j0, j1 = _drop(tree, system)
        drop = j0 - j1
        c = _curve(tree["init_to_final"].sel(system=system))
        row["monotone init->final"] = _share(metrics.monotonicity(c, rtol=1e-3).monotone)
        row["approx. convex init->final"] = _share(metrics.convexity(c).convex)
        row["half-drop alpha"] = _mean_std(metrics.half_drop_alpha(c))
    if "zoom_init" in tree and "init_to_final" in tree:
        # Goodfellow et al.'s "flattening near α = 0": the descent rate over the first 1%
        # of the line, as a share of the steepest descent rate anywhere on [0, 1].
        z = _test(tree["zoom_init"].sel(system=system)).loss
        start = (z.isel(alpha=0) - z.isel(alpha=-1)) / float(z.alpha[-1] - z.alpha[0])
        c = _curve(tree["init_to_final"].sel(system=system)).loss
        steepest = (-c.diff("alpha") / c.alpha.diff("alpha")).max("alpha")
        ratio = start / steepest
        row["flat near init (slope ratio)"] = (
            f"{_share(np.asarray(ratio) < FLAT).split()[0]} ({_mean_std(ratio, '.2f')})")
    if "final_to_final" in tree:
        c = _curve(tree["final_to_final"].sel(system=system))
        row["barrier final->final"] = _mean_std(metrics.linear_barrier(c).height)
    if "random_to_final" in tree:
        ds = _test(tree["random_to_final"].sel(system=system))
        step = float(np.diff(ds.alpha.values).min())
        # The search segment from the random point (α = 0) to the solution (α = 1), with
        # one grid step beyond so the solution is an interior point.
        seg = ds.loss.sel(alpha=slice(0.0, 1.0 + 1.5 * step)).transpose("replicate", "alpha")
        counts, spurious = [], []
        for curve in np.asarray(seg):
            finite = curve[np.isfinite(curve)]
            span = float(finite.max() - finite.min()) if finite.size else 0.0
            n, bad = _minima(curve, float(finite.min()) + 0.01 * span if finite.size else 0.0)
            counts.append(n)
            spurious.append(bad)
        row["minima random->final"] = _mean_std(np.array(counts, dtype=float))
        row["non-solution minima random->final"] = _mean_std(np.array(spurious, dtype=float))
    if "from_iteration" in tree:
        c = _test(tree["from_iteration"].sel(system=system)).loss
        heights = _rises(c, drop or 1.0).mean("replicate")
        heights = heights.dropna("start_iteration", how="all")
        row["largest barrier from t"] = _mean_std(heights.max())
        if drop:
            gone = np.asarray(heights) <= GONE * drop
            # The first t from which every later start is also barrier-free.
            tail = np.flip(np.logical_and.accumulate(np.flip(gone)))
            t = heights.start_iteration.values
            row["barrier gone from t"] = str(int(t[tail.argmax()])) if tail.any() else "never"
    if "trajectory" in tree:
        ratio = tree["trajectory"].sel(system=system).residual_ratio
        # Step 0 of a small init has a tiny norm; Goodfellow et al.'s ratio is about the
        # trained part of the path, so the first step is left out.
        ratio = ratio.isel(step=slice(1, None)).max("step")
        row["max residual/norm"] = _mean_std(ratio)
    return row


def _normalised(tree: dict[str, xr.Dataset]) -> dict[str, xr.DataArray]:
    """Test loss of every line analysis as (J − J_final)/(J_init − J_final).

    J_init and J_final are each replicate's losses at the init and the solution of
    init→final, so all panels share one scale per run and final→final, whose ends
    are both solutions, does not divide by a near-zero drop. Without init→final, each
    analysis uses its own α = 0 and α = 1 values.
    """
    ref = tree.get("init_to_final")
    out = {}
    for name, ds in tree.items():
        if "alpha" not in ds.dims:
            continue
        base = _test(ref if ref is not None else ds).loss
        # Per replicate: replicate r of every analysis starts from the same run, and
        # replicates' final losses differ by more than a zoom window's whole range.
        j0 = base.sel(alpha=0.0, method="nearest", drop=True)
        j1 = base.sel(alpha=1.0, method="nearest", drop=True)
        da = (_test(ds).loss - j1) / (j0 - j1)
        da.attrs["long_name"] = "(J − J_final) / (J_init − J_final)"
        out[name] = da
    return out


def _title(name: str) -> str:
    if name in ZOOMS:
        low, high = ZOOMS[name]
        return f"init → final, zoom α ∈ [{low:g}, {high:g}]"
    return {"from_iteration": "barrier from iteration t → final",
            "trajectory": "trajectory vs matched random walk"}.get(
        name, name.replace("_", " ").replace(" to ", " → "))


def _plot_from_iteration(ax: Any, norm: xr.DataArray, colors: dict[str, str]) -> None:
    """Rise barrier of the normalised loss from each start iteration (Frankle Fig. 3)."""
    height = _rises(norm, 1.0)
    for system in norm.system.values:
        h = height.sel(system=system).dropna("start_iteration", how="all")
        t = h.start_iteration.values
        mean, std = h.mean("replicate").values, h.std("replicate").values
        ax.plot(t, mean, "o-", ms=3, color=colors[system], label=str(system))
        ax.fill_between(t, mean - std, mean + std, color=colors[system], alpha=0.2, lw=0)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("start iteration t")
    ax.set_ylabel("rise barrier (normalised)")


def _plot_trajectory(ax: Any, ds: xr.Dataset, colors: dict[str, str]) -> None:
    """Projection vs residual, both in units of ‖θ_T − θ_0‖, with the matched walk dashed."""
    for system in ds.system.values:
        d = ds.sel(system=system).dropna("step", how="all")
        scale = d.projection.isel(step=-1)
        for r in d.replicate.values:
            k = dict(replicate=r)
            label = str(system) if r == d.replicate.values[0] else None
            ax.plot(d.projection.sel(**k) / scale.sel(**k), d.residual.sel(**k) / scale.sel(**k),
                    color=colors[system], lw=1.2, label=label)
            if "walk_projection" in d:
                ax.plot(d.walk_projection.sel(**k) / scale.sel(**k),
                        d.walk_residual.sel(**k) / scale.sel(**k), color=colors[system],
                        lw=0.9, ls="--", label="matched random walk" if label else None)
    ax.set_xlabel("projection / ‖θ_T − θ_0‖")
    ax.set_ylabel("residual / ‖θ_T − θ_0‖")


def _figure(tree: dict[str, xr.Dataset], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landscapes import plots

    names = list(tree)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.5 * rows), squeeze=False)
    systems = list(next(iter(tree.values())).system.values)
    colors = {s: f"C{i}" for i, s in enumerate(systems)}
    lines = _normalised(tree)
    for ax, name in zip(axes.flat, names):
        if name == "trajectory":
            _plot_trajectory(ax, tree[name], colors)
        elif name == "from_iteration":
            _plot_from_iteration(ax, lines[name], colors)
        else:
            plots.plot_path(lines[name], ax=ax)
            low, high = ZOOMS.get(name, (0.0, 1.0))
            for edge in (0.0, 1.0):
                if low <= edge <= high:
                    ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
            ax.set_ylabel("(J − J_final) / (J_init − J_final)" if ax in axes[:, 0] else "")
        ax.set_title(_title(name), fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        results.atomic_write(target, lambda tmp, s=suffix: fig.savefig(tmp, dpi=110, format=s[1:]))
    plt.close(fig)


def cache_root() -> Path:
    """Where computed analyses are kept: ``$LANDSCAPES_HOME/analyses`` or the user cache."""
    from landscapes.home import home

    return home("analyses")


def _analyze(system: System, analysis: str, settings: Settings, reuse: bool) -> xr.Dataset:
    """``system.analyze`` through a cache keyed by the system, the analysis, the settings
    and the code version, so a repeated command reads its results instead of recomputing."""
    made = results.provenance()
    key = json.dumps([system.name, settings.key(analysis), made["landscapes_version"],
                      made["git_commit"]])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = cache_root() / system.name / f"{analysis}-{digest}.nc"
    if reuse and target.exists():
        try:
            return results.load(target)
        except ValueError:
            pass  # a foreign or damaged cache file is recomputed and replaced
    ds = system.analyze(analysis, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    results.save(ds, target)
    return ds


def run(
    names: Sequence[str],
    analyses: Sequence[str],
    settings: Settings,
    out: Path,
    *,
    reuse: bool = True,
) -> tuple[dict[str, xr.Dataset], list[dict[str, str]]]:
    """Run every analysis on every system and write the three outputs to ``out``.

    Parameters
    ----------
    names : sequence of str
        System names (see :func:`landscapes.app.systems.get_system`).
    analyses : sequence of str
        Keys of :data:`ANALYSES`.
    settings : Settings
    out : pathlib.Path
        Output folder.
    reuse : bool
        Read analyses computed before with the same settings from :func:`cache_root`.

    Returns
    -------
    tree : dict of str to xarray.Dataset
        One dataset per analysis with a ``system`` dimension.
    table : list of dict
        One row of features per system.
    """
    systems: list[System] = [get_system(n) for n in names]
    tree: dict[str, xr.Dataset] = {}
    for analysis in analyses:
        parts = {}
        for system in systems:
            _say(settings, f"{analysis}: {system.name}")
            parts[system.name] = _analyze(system, analysis, settings, reuse)
        tree[analysis] = _stack(parts, analysis)
    out.mkdir(parents=True, exist_ok=True)
    results.save(tree, out / "comparison.nc")
    _figure(tree, out / "comparison.png")
    table = [summarize(tree, n) for n in names]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    results.atomic_write(out / "summary.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))
    return tree, table


def _say(settings: Settings, message: str) -> None:
    if settings.progress is not False:
        print(message, file=sys.stderr, flush=True)


def _format_table(table: list[dict[str, str]]) -> str:
    keys = [k for k in table[0] if k != "system"]
    width = max(len(k) for k in keys)
    cols = [max(len(r["system"]), *(len(r[k]) for k in keys)) for r in table]
    lines = [" " * width + "  " + "  ".join(r["system"].ljust(c) for r, c in zip(table, cols))]
    for k in keys:
        lines.append(k.ljust(width) + "  " + "  ".join(r[k].ljust(c) for r, c in zip(table, cols)))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m landscapes.compare",
        description="Compare the linear-slice landscapes of two systems (theory or trained).",
    )
    p.add_argument("systems", nargs="*", metavar="SYSTEM", help="two system names (see --list)")
    p.add_argument("--list", action="store_true", help="list the systems and exit")
    p.add_argument("--analyses", default="all",
                   help=f"comma-separated subset of {','.join(ANALYSES)}; 'zooms' means the "
                        "three zoom windows (default: all)")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="quick",
                   help="quick: minutes on a CPU (default); paper: the papers' settings")
    p.add_argument("--replicates", type=int, help="replicates per system (budget default)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA, then a cache dir)")
    p.add_argument("--runs-dir", help="run store of the trained networks "
                   "(default $LANDSCAPES_HOME/runs or ~/.cache/landscapes/runs)")
    p.add_argument("--out", type=Path, help="output folder (default results/compare-A-B)")
    p.add_argument("--fresh", action="store_true",
                   help="recompute the analyses instead of reusing earlier results")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def _analyses(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """The analyses named by ``--analyses``, in the canonical order."""
    asked = {a.strip() for a in text.split(",") if a.strip()}
    if "all" in asked:
        asked |= set(ANALYSES)
    if "zooms" in asked:
        asked |= set(ZOOMS)
    asked -= {"all", "zooms"}
    unknown = sorted(asked - set(ANALYSES))
    if unknown or not asked:
        parser.error(f"unknown analysis {unknown[0] if unknown else text!r}; choose from "
                     f"{[*ANALYSES, 'zooms', 'all']}")
    return [a for a in ANALYSES if a in asked]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with no traceback)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, description in describe_systems():
            print(f"{name:22s} {description}")
        print(f"{'deep_linear_L<d>_w<n>':22s} any depth d and width n")
        return 0
    if len(args.systems) != 2:
        parser.error(f"give two systems, got {len(args.systems)}; see --list")
    analyses = _analyses(args.analyses, parser)
    budget = dict(BUDGETS[args.budget])
    if args.replicates is not None:
        if args.replicates < 2:
            parser.error(f"--replicates must be at least 2 (final->final pairs them), got {args.replicates}")
        budget["replicates"] = args.replicates
    try:
        from landscapes.devices import resolve_device

        device = str(resolve_device(args.device))
        for name in args.systems:
            get_system(name)
    except ValueError as exc:
        parser.error(str(exc))
    settings = Settings(device=device, seed=args.seed, data_dir=args.data_dir,
                        runs_dir=args.runs_dir, progress=False if args.quiet else None, **budget)
    out = args.out or Path("results") / f"compare-{args.systems[0]}-{args.systems[1]}"
    start = time.perf_counter()
    try:
        _, table = run(args.systems, analyses, settings, out, reuse=not args.fresh)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished analyses and training checkpoints are kept; the same "
              "command continues from them", file=sys.stderr)
        return 130
    print(_format_table(table))
    print(f"\nwrote {out / 'comparison.nc'}, {out / 'comparison.png'}, {out / 'summary.csv'} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
