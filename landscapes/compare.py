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
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics, results
from landscapes.systems import ANALYSES, Settings, System, describe_systems, get_system

__all__ = ["BUDGETS", "main", "run", "summarize"]

#: Budgets: "quick" finishes in minutes on a laptop CPU; "paper" uses the papers' settings.
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {"alphas": grids.uniform(41, -0.5, 1.5), "replicates": 2, "epochs": 1.0,
              "eval_examples": 5000},
    "paper": {"alphas": grids.grid("extended"), "replicates": 3, "epochs": 40.0,
              "eval_examples": None},
}


def _stack(parts: dict[str, xr.Dataset]) -> xr.Dataset:
    """Stack one analysis of several systems along ``system``.

    Systems without a ``split`` (theory) are repeated along the other systems' splits,
    and coordinates outside the schema are dropped, so the stack is rectangular.
    """
    splits = next((list(ds.split.values) for ds in parts.values() if "split" in ds.dims), None)
    aligned = []
    for ds in parts.values():
        extra = [c for c in ds.coords if c not in ds.dims and c != "distance"]
        ds = ds.drop_vars(extra)
        if splits is not None and "split" not in ds.dims:
            ds = ds.expand_dims(split=np.array(splits, dtype=object), axis=1)
            if "split" in ds["distance"].dims:
                ds["distance"] = ds["distance"].isel(split=0, drop=True)
        if splits is not None:
            ds = ds.transpose("replicate", "split", ...)
        aligned.append(ds)
    return results.combine(aligned, "system", list(parts))


def _curve(ds: xr.Dataset, low: float = 0.0, high: float = 1.0) -> xr.Dataset:
    """The test-split loss on [low, high] of alpha (the split the papers report)."""
    if "split" in ds.dims:
        ds = ds.sel(split="test") if "test" in ds.split.values else ds.isel(split=0)
    return ds.sel(alpha=slice(low, high))


def _mean_std(da: xr.DataArray) -> str:
    values = np.asarray(da, dtype=float).ravel()
    if values.size == 1:
        return f"{values[0]:.3g}"
    return f"{np.nanmean(values):.3g} ± {np.nanstd(values):.2g}"


def _share(da: xr.DataArray) -> str:
    values = np.asarray(da, dtype=bool).ravel()
    return f"{'yes' if values.all() else 'no' if not values.any() else 'mixed'} ({values.sum()}/{values.size})"


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
    if "init_to_final" in tree:
        c = _curve(tree["init_to_final"].sel(system=system))
        row["monotone init->final"] = _share(metrics.monotonicity(c, rtol=1e-3).monotone)
        row["approx. convex init->final"] = _share(metrics.convexity(c).convex)
        row["half-drop alpha"] = _mean_std(metrics.half_drop_alpha(c))
    if "final_to_final" in tree:
        c = _curve(tree["final_to_final"].sel(system=system))
        row["barrier final->final"] = _mean_std(metrics.linear_barrier(c).height)
    if "random_to_final" in tree:
        c = _curve(tree["random_to_final"].sel(system=system), -np.inf, np.inf)
        row["minima random->final"] = _mean_std(metrics.local_minima(c))
    return row


def _normalised(tree: dict[str, xr.Dataset]) -> dict[str, xr.DataArray]:
    """Test loss of every analysis as (J − J_final)/(J_init − J_final).

    J_init and J_final are each system's mean losses at the init and the solution of
    init→final, so all panels share one scale per system and final→final, whose ends
    are both solutions, does not divide by a near-zero drop. Without init→final, each
    analysis uses its own α = 0 and α = 1 values.
    """
    def test_loss(ds: xr.Dataset) -> xr.DataArray:
        return ds.loss.sel(split="test") if "split" in ds.dims else ds.loss

    ref = tree.get("init_to_final")
    out = {}
    for name, ds in tree.items():
        base = test_loss(ref if ref is not None else ds)
        j0 = base.sel(alpha=0.0, method="nearest").mean("replicate")
        j1 = base.sel(alpha=1.0, method="nearest").mean("replicate")
        da = (test_loss(ds) - j1) / (j0 - j1)
        da.attrs["long_name"] = "(J − J_final) / (J_init − J_final)"
        out[name] = da
    return out


def _figure(tree: dict[str, xr.Dataset], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landscapes import plots

    fig, axes = plt.subplots(1, len(tree), figsize=(4.2 * len(tree), 3.6), squeeze=False)
    for ax, (name, da) in zip(axes[0], _normalised(tree).items()):
        plots.plot_path(da, ax=ax)
        ax.set_title(name.replace("_", " ").replace(" to ", " → "))
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(1, color="0.8", lw=0.8, zorder=0)
        ax.set_ylabel("")
    axes[0][0].set_ylabel("(J − J_final) / (J_init − J_final), test")
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        results.atomic_write(target, lambda tmp, s=suffix: fig.savefig(tmp, dpi=130, format=s[1:]))
    plt.close(fig)


def run(
    names: Sequence[str],
    analyses: Sequence[str],
    settings: Settings,
    out: Path,
) -> tuple[dict[str, xr.Dataset], list[dict[str, str]]]:
    """Run every analysis on every system and write the three outputs to ``out``.

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
            parts[system.name] = system.analyze(analysis, settings)
        tree[analysis] = _stack(parts)
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
    p.add_argument("--analyses", default=",".join(ANALYSES),
                   help=f"comma-separated subset of {','.join(ANALYSES)} (default: all)")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="quick",
                   help="quick: minutes on a CPU (default); paper: the papers' settings")
    p.add_argument("--replicates", type=int, help="replicates per system (budget default)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA, then a cache dir)")
    p.add_argument("--out", type=Path, help="output folder (default results/compare-A-B)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


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
    analyses = [a.strip() for a in args.analyses.split(",") if a.strip()]
    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown or not analyses:
        parser.error(f"unknown analysis {unknown[0] if unknown else ''!r}; choose from {list(ANALYSES)}")
    budget = dict(BUDGETS[args.budget])
    if args.replicates is not None:
        if args.replicates < 2:
            parser.error(f"--replicates must be at least 2 (final->final pairs them), got {args.replicates}")
        budget["replicates"] = args.replicates
    try:
        from landscapes.engine import resolve_device

        device = str(resolve_device(args.device))
        for name in args.systems:
            get_system(name)
    except ValueError as exc:
        parser.error(str(exc))
    settings = Settings(device=device, seed=args.seed, data_dir=args.data_dir,
                        progress=False if args.quiet else None, **budget)
    out = args.out or Path("results") / f"compare-{args.systems[0]}-{args.systems[1]}"
    start = time.perf_counter()
    try:
        _, table = run(args.systems, analyses, settings, out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written for the unfinished analyses", file=sys.stderr)
        return 130
    print(_format_table(table))
    print(f"\nwrote {out / 'comparison.nc'}, {out / 'comparison.png'}, {out / 'summary.csv'} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
