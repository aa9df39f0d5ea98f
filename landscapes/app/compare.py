"""Compare the linear-slice landscapes of two systems: ``python -m landscapes.compare A B``.

Runs the registered analyses (:mod:`landscapes.app.analyses`) on two systems -- any mix
of exact theory (``deep_linear``) and trained networks (``mnist_mlp``) -- and writes one
netCDF file (a group per analysis, a ``system`` dimension), one figure (a panel per
analysis, both systems on the normalised scale (J − J_final)/(J_init − J_final)) and
one table of the qualitative features the papers argue about, on both splits.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from landscapes import report, results
from landscapes.app.analyses import ANALYSES, EXTENSIONS, REGISTRY, ZOO_ANALYSES, get_analysis
from landscapes.app.outputs import working_in
from landscapes.app.settings import Budget, Runtime, add_flags, budget_from_args
from landscapes.app.study import Study, cache_root, format_table, write_csv
from landscapes.app.systems import describe_systems, get_system
from landscapes.cluster import add_cluster_flags, open_cluster, task_threads

__all__ = ["BUDGETS", "main", "run", "figure"]

#: Budgets: "quick" finishes in minutes on a laptop CPU; "paper" uses the papers' settings.
BUDGETS: dict[str, Budget] = {
    "quick": Budget(points=41, zoom_points=41, max_starts=8, replicates=3, epochs=1.0,
                    eval_examples=5000, trajectory_points=24),
    "paper": Budget(points=100, zoom_points=200, max_starts=None, replicates=3, epochs=None,
                    eval_examples=None, trajectory_points=0, barrier_tol=1e-3),
}

#: Aliases ``--analyses`` accepts besides the analysis names.
GROUPS = {"zooms": ("zoom", "zoom_init", "zoom_final"), "all": ANALYSES,
          "zoo": tuple(a for a in ZOO_ANALYSES if a not in EXTENSIONS),
          "extensions": EXTENSIONS}


def run(
    names: Sequence[str],
    analyses: Sequence[str],
    budget: Budget,
    out: Path,
    *,
    runtime: Runtime | None = None,
    reuse: bool = True,
    client: Any = None,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Run every analysis on every system and write the outputs to ``out``.

    Parameters
    ----------
    names : sequence of str
        System names (see :func:`landscapes.app.systems.get_system`).
    analyses : sequence of str
        Analysis names (see :mod:`landscapes.app.analyses`).
    budget : Budget
    out : pathlib.Path
        Output folder: ``comparison.nc``, ``comparison.png``/``.pdf``, ``summary.csv``,
        and ``report.html`` (:mod:`landscapes.report`).
    runtime : Runtime, optional
    reuse : bool
        Read analyses computed before with the same settings from the cache.
    client : dask.distributed.Client, optional
        Train and evaluate as tasks on this Dask cluster (same results); default: in
        this process.

    Returns
    -------
    tree : dict of str to xarray.Dataset
        One dataset per analysis with a ``system`` dimension.
    table : list of dict
        One row of features per system.
    """
    study = Study(list(names), list(analyses), budget, runtime or Runtime(), reuse,
                  client=client).run()
    tree = study.tree()
    results.save(tree, out / "comparison.nc")
    figure(study, out / "comparison.png")
    table = study.table()
    write_csv(table, out / "summary.csv")
    report.build(out)
    return tree, table


def figure(study: Study, path: Path) -> None:
    """One panel per analysis, every system in it; PNG and PDF beside each other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [a for a in study.analyses if study.stacked(a) is not None]
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.5 * rows), squeeze=False)
    context = study.context()
    for ax, name in zip(axes.flat, names):
        analysis = get_analysis(name)
        analysis.panel(ax, study.stacked(name), context)
        ax.set_title(analysis.title, fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        results.atomic_write(target, lambda tmp, s=suffix: fig.savefig(tmp, dpi=110, format=s[1:]))
    plt.close(fig)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m landscapes.compare",
        description="Compare the linear-slice landscapes of two systems (theory or trained).",
    )
    p.add_argument("systems", nargs="*", metavar="SYSTEM", help="two system names (see --list)")
    p.add_argument("--list", action="store_true", help="list the systems and analyses and exit")
    p.add_argument("--analyses", default="all",
                   help=f"comma-separated subset of {','.join(REGISTRY)}; 'zooms' means the "
                        "three zoom windows, 'zoo' the optimizer-zoo analyses of Im et al. "
                        "(2016), which train tens of runs per system (default 'all': every "
                        "analysis but the zoo's)")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="quick",
                   help="quick: minutes on a CPU (default); paper: the papers' settings, barriers by the adaptive alpha search")
    add_flags(p, BUDGETS["quick"])
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads for training and "
                   "evaluation (default: the cores free when the command starts, at least 1)")
    p.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA, then a cache dir)")
    p.add_argument("--runs-dir", help="run store of the trained networks "
                   "(default $LANDSCAPES_HOME/runs or ~/.cache/landscapes/runs)")
    p.add_argument("--out", type=Path, help="output folder (default "
                   "$LANDSCAPES_HOME/compare/A-B/<budget>, one per budget and analyses)")
    p.add_argument("--fresh", action="store_true",
                   help="recompute the analyses instead of reusing earlier results")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_cluster_flags(p)
    return p


def _analyses(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """The analyses named by ``--analyses``, in the registry's order."""
    asked = {a.strip() for a in text.split(",") if a.strip()}
    for group, members in GROUPS.items():
        if group in asked:
            asked |= set(members)
            asked.discard(group)
    unknown = sorted(asked - set(REGISTRY))
    if unknown or not asked:
        parser.error(f"unknown analysis {unknown[0] if unknown else text!r}; choose from "
                     f"{[*REGISTRY, *GROUPS]}")
    return [a for a in REGISTRY if a in asked]


def _default_out(systems: list[str], budget_name: str, budget: Budget,
                 analyses: list[str]) -> Path:
    from landscapes.app.outputs import tag
    from landscapes.home import home

    changes = {k: v for k, v in budget.to_dict().items()
               if v != BUDGETS[budget_name].to_dict()[k]}
    if analyses != list(ANALYSES):
        changes["analyses"] = analyses
    return home("compare", "-".join(systems), tag(budget_name, changes))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with no traceback)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers!r}")
    if args.list:
        for name, description in describe_systems():
            print(f"{name:22s} {description}")
        print(f"{'deep_linear_L<d>_w<n>':22s} any depth d and width n")
        print("\nanalyses:")
        for name in REGISTRY:
            print(f"  {name:20s} {get_analysis(name).description}")
        return 0
    if len(args.systems) != 2:
        parser.error(f"give two systems, got {len(args.systems)}; see --list")
    analyses = _analyses(args.analyses, parser)
    try:
        budget = budget_from_args(BUDGETS[args.budget], args)
        from landscapes.app.outputs import check_writable, claim
        from landscapes.devices import resolve_device, resolve_threads

        clustered = args.workers is not None or args.scheduler is not None
        # On a cluster the workers decide what "auto" means, once they are up, and
        # every task runs with one torch thread unless --threads says otherwise.
        device = args.device if clustered else str(resolve_device(args.device))
        threads = task_threads(args.threads, True) if clustered else resolve_threads(args.threads)
        for name in args.systems:
            get_system(name)
        # In-process, None keeps the default's reason (free cores, load) for the runs'
        # summaries; it is read once per process, so the keys and the work use one count.
        runtime = Runtime(device=device, data_dir=args.data_dir, runs_dir=args.runs_dir,
                          progress=False if args.quiet else None,
                          threads=threads if clustered else args.threads)
        study = Study(args.systems, analyses, budget, runtime, reuse=not args.fresh)
        study.check()
        out = args.out or _default_out(args.systems, args.budget, budget, analyses)
        check_writable(out, "--out")
        check_writable(cache_root(), "the analysis cache ($LANDSCAPES_HOME)")
        from experiments.store import runs_root

        check_writable(runs_root(args.runs_dir), "--runs-dir")
        claim(out, {"command": "compare", "systems": args.systems, "analyses": analyses,
                    "budget": budget.to_dict()})
    except ValueError as exc:
        parser.error(str(exc))
    except FileNotFoundError as exc:  # missing data, found before any training
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(threads)  # one count for training and evaluation alike
    start = time.perf_counter()
    def work() -> tuple:
        with open_cluster(args.workers, args.scheduler, threads=args.threads,
                          quiet=args.quiet) as cluster:
            here, client = runtime, None
            if cluster is not None:
                here, client = replace(runtime, device=cluster.device(args.device)), cluster.client
            return run(args.systems, analyses, budget, out, runtime=here, reuse=not args.fresh,
                       client=client)

    status, done = working_in(out, work, quiet=args.quiet)
    if done is None:
        return status
    _, table = done
    print(format_table(table))
    print(f"\nwrote {out / 'comparison.nc'}, {out / 'comparison.png'}, {out / 'summary.csv'}, "
          f"{out / report.FILE} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
