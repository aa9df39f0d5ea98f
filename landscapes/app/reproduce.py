"""Reproduce a paper's figures and check its claims: ``python -m landscapes.reproduce PAPER``.

For the chosen paper (:mod:`landscapes.app.papers`) and budget, trains what the figures
need (reusing the run store), computes every analysis through the analysis cache, draws
each figure as ``figure<id>.png`` and ``.pdf``, and writes the netCDF tree
(``results.nc``), the summary table (``summary.csv``) and the findings
(``findings.csv``, ``findings.md``): claim by claim, what the paper said, what we
measured, and whether it holds. Figures whose data is not on this machine are listed
with what they need and the command that runs them once it is there.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from landscapes import report, results
from landscapes.app.papers import REGISTRY, get_paper
from landscapes.app.outputs import working_in
from landscapes.app.papers.base import DATASET_NAMES, Figure, Outcome, Paper
from landscapes.app.settings import Budget, Runtime, add_flags, budget_from_args
from landscapes.app.study import Study, cache_root, say, write_csv
from landscapes.app.systems import NetworkSystem, get_system
from landscapes.cluster import add_cluster_flags, open_cluster, task_threads

__all__ = ["main", "run", "Plan", "plan"]

#: Where each dataset's files go in a data root, for the "needs ..." lines.
DATA_LAYOUT = {"cifar10": "cifar-10-batches-py/", "ptb": "ptb/ptb.{train,valid,test}.txt",
               "imagenet": "imagenet/{train,val}/<class>/", "mnist": "mnist/",
               "fashion_mnist": "fashion-mnist/"}


#: The verdict of a claim whose figures a ``--figures`` run left out.
NOT_SELECTED = "not run (figure not selected)"


@dataclass
class Plan:
    """What can be made here: figures with their computable pairs, and what cannot."""

    paper: Paper
    figures: list[Figure]
    pairs: list[tuple[str, str]] = field(default_factory=list)
    #: figure id -> why it cannot be made here (and how to make it).
    blocked: dict[str, str] = field(default_factory=dict)
    #: figure id -> systems left out of it for want of data.
    partial: dict[str, list[str]] = field(default_factory=dict)
    #: system name -> why it is not available.
    unavailable: dict[str, str] = field(default_factory=dict)
    #: figure id -> the budgets that make it, when this one does not.
    deferred: dict[str, str] = field(default_factory=dict)
    #: figure id -> why drawing it failed (its data and claims are still written).
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def made(self) -> list[Figure]:
        return [f for f in self.figures if f.id not in self.blocked and f.id not in self.deferred]


def _needs_data(system: str, runtime: Runtime, download: bool) -> str:
    """Why ``system`` cannot run here ('' when it can)."""
    spec = get_system(system)
    if not isinstance(spec, NetworkSystem) or download:
        return ""
    from experiments.data import available

    if available(spec.dataset, runtime.data_dir):
        return ""
    name = DATASET_NAMES.get(spec.dataset, spec.dataset)
    return f"needs {name} ({DATA_LAYOUT.get(spec.dataset, spec.dataset)} in the data root)"


def plan(paper: Paper, figure_ids: Sequence[str] | None, runtime: Runtime,
         download: bool = False, budget_name: str | None = None) -> Plan:
    """Which figures of ``paper`` can be made here and which (system, analysis) they need.

    A figure whose ``budgets`` leave out ``budget_name`` is deferred to them, with the
    command that makes it.
    """
    figures = list(paper.figures) if not figure_ids else [paper.figure(i) for i in figure_ids]
    out = Plan(paper, figures)

    def why_not(system: str) -> str:
        """Why ``system`` cannot run here ('' when it can), asked once per system."""
        if system not in out.unavailable:
            out.unavailable[system] = _needs_data(system, runtime, download)
        return out.unavailable[system]

    for fig in figures:
        if fig.on_request and not figure_ids:
            out.deferred[fig.id] = (f"made on request only (an extension): python -m "
                                    f"landscapes.reproduce {paper.name} --figures {fig.id}")
            continue
        if budget_name is not None and fig.budgets is not None and budget_name not in fig.budgets:
            out.deferred[fig.id] = (f"made at --budget {' or '.join(fig.budgets)}: python -m "
                                    f"landscapes.reproduce {paper.name} --budget "
                                    f"{fig.budgets[0]}")
            continue
        if fig.missing:
            out.blocked[fig.id] = fig.missing
            continue
        usable = []
        for system, analysis in fig.needs:
            if why_not(system):
                if system not in out.partial.setdefault(fig.id, []):
                    out.partial[fig.id].append(system)
            else:
                usable.append((system, analysis))
        if fig.needs and not usable:
            reasons = sorted({out.unavailable[s] for s, _ in fig.needs})
            out.blocked[fig.id] = (f"{'; '.join(reasons)}; then run: python -m "
                                   f"landscapes.reproduce {paper.name} --figures {fig.id} "
                                   "--data-dir DIR")
            continue
        for pair in usable:
            if pair not in out.pairs:
                out.pairs.append(pair)
    made = {f.id for f in out.made}
    for claim in paper.claims:
        if claim.figures and all(f in made for f in claim.figures):
            for system, analysis in claim.needs:
                if not why_not(system) and (system, analysis) not in out.pairs:
                    out.pairs.append((system, analysis))
    out.unavailable = {s: why for s, why in out.unavailable.items() if why}
    return out


def _findings(paper: Paper, the_plan: Plan, outcome: Outcome | None) -> list[dict[str, str]]:
    rows = []
    made = {f.id for f in the_plan.made}
    # The paper's own claims first, then the extensions (stable within each).
    for claim in sorted(paper.claims, key=lambda c: c.extension):
        blocked = [f for f in claim.figures if f not in made and f in the_plan.blocked]
        skipped = [f for f in claim.figures if f not in made and f not in the_plan.blocked]
        missing = [s for s in claim.systems if s in the_plan.unavailable]
        row = {"figure": ", ".join(claim.figures), "claim": claim.quote,
               "kind": "extension" if claim.extension else "paper"}
        deferred = [f for f in claim.figures if f in the_plan.deferred]
        if blocked or missing:
            why = (the_plan.blocked[blocked[0]] if blocked
                   else the_plan.unavailable[missing[0]])
            row.update(measured="", verdict=f"cannot run here: {why}")
        elif deferred:
            row.update(measured="", verdict=f"not run at this budget: figure {deferred[0]} is "
                                            f"{the_plan.deferred[deferred[0]]}")
        elif skipped or outcome is None:
            row.update(measured="", verdict=NOT_SELECTED)
        else:
            measured, verdict = claim.judge(outcome)
            row.update(measured=measured, verdict=verdict)
        rows.append(row)
    return rows


def _markdown(paper: Paper, budget_name: str, rows: list[dict[str, str]], the_plan: Plan,
              seconds: float | None) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# {paper.citation}", "", f"Budget: `{budget_name}`."
             + (f" Wall time {seconds / 60:.1f} min." if seconds is not None else ""), ""]
    lines += ["| Fig. | claim (paper) | measured here | verdict |", "|---|---|---|---|"]
    for r in rows:
        if r.get("kind") == "paper":
            lines.append(f"| {r['figure']} | {cell(r['claim'])} | {cell(r['measured'])} | "
                         f"{cell(r['verdict'])} |")
    extensions = [r for r in rows if r.get("kind") == "extension"]
    if extensions:
        lines += ["", "Extensions (questions the paper did not ask, on its systems):", "",
                  "| Fig. | question (extension) | measured here | verdict |",
                  "|---|---|---|---|"]
        lines += [f"| {r['figure']} | {cell(r['claim'])} | {cell(r['measured'])} | "
                  f"{cell(r['verdict'])} |" for r in extensions]
    if the_plan.blocked or the_plan.partial or the_plan.deferred:
        lines += ["", "Not made here:", ""]
        for fid, why in {**the_plan.blocked, **the_plan.deferred}.items():
            lines.append(f"- Fig. {fid}: {why}")
        for fid, systems in the_plan.partial.items():
            if fid not in the_plan.blocked:
                lines.append(f"- Fig. {fid} without {', '.join(systems)}: "
                             f"{the_plan.unavailable[systems[0]]}")
    if the_plan.failed:
        lines += ["", "Could not be drawn (a bug: please report it):", ""]
        lines += [f"- Fig. {fid}: {why}" for fid, why in the_plan.failed.items()]
    if paper.notes:
        lines += ["", paper.notes]
    return "\n".join(lines) + "\n"


def run(paper: Paper, budget: Budget, runtime: Runtime, out: Path, *,
        figure_ids: Sequence[str] | None = None, reuse: bool = True, download: bool = False,
        budget_name: str = "custom", docs: Path | None = None,
        client: Any = None) -> list[dict[str, str]]:
    """Make every figure of ``paper`` this machine allows and judge its claims.

    Returns the findings, one dict per claim (``figure``, ``claim``, ``measured``,
    ``verdict``); the files are written to ``out`` (and the figures and findings that the
    documentation shows to ``docs``, when given). With a ``dask.distributed.Client``,
    the training and the evaluations run as tasks on its cluster, with the same results.
    """
    start = time.perf_counter()
    the_plan = plan(paper, figure_ids, runtime, download, budget_name)
    systems = list(dict.fromkeys(s for s, _ in the_plan.pairs))
    analyses = list(dict.fromkeys(a for _, a in the_plan.pairs))
    study = Study(systems, analyses, budget, runtime, reuse, pairs=set(the_plan.pairs),
                  client=client)
    study.run()
    outcome = Outcome(study, budget)
    computed: set[Any] = set()
    for fig in the_plan.made:
        if fig.compute is not None and fig.compute not in computed:
            say(runtime, f"figure {fig.id}: closed forms")
            outcome.extra.update(fig.compute(budget))
            computed.add(fig.compute)
    for fig in the_plan.made:
        if fig.draw is not None:
            say(runtime, f"figure {fig.id}: {fig.title}")
            try:
                drawn = fig.draw(outcome)
            except Exception as exc:  # noqa: BLE001 -- one broken figure must not lose the rest
                the_plan.failed[fig.id] = f"{type(exc).__name__}: {exc}"
                say(runtime, f"figure {fig.id} could not be drawn ({the_plan.failed[fig.id]}); "
                             "the other figures and the findings are still written")
                continue
            _save_figure(drawn, out / fig.file, docs, _docs_suffix(paper, fig, budget_name))
    tree = {**study.tree(), **outcome.extra}
    if tree:  # figures drawn from closed forms alone (ext-flow) leave no datasets to save
        results.save(tree, out / "results.nc")
    if study.parts:
        write_csv(study.table(), out / "summary.csv")
    rows = _findings(paper, the_plan, outcome)
    _write_findings(paper, budget_name, rows, the_plan, out, time.perf_counter() - start, docs,
                    figure_ids)
    report.build(out)
    return rows


def _docs_suffix(paper: Paper, fig: Figure, budget_name: str) -> str:
    """``-<budget>`` for a figure drawn at a budget other than its first (the paper
    budget beside the quick one), so the docs keep both; ``""`` otherwise."""
    made_at = fig.budgets or tuple(paper.budgets)
    if budget_name in ("quick", "custom") or not made_at or budget_name == made_at[0]:
        return ""
    return f"-{budget_name}"


def _save_figure(fig: Any, stem: Path, docs: Path | None, docs_suffix: str = "") -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        target = stem.with_suffix(suffix)
        results.atomic_write(target, lambda tmp, s=suffix: fig.savefig(tmp, dpi=110,
                                                                       format=s[1:]))
    if docs is not None:
        target = docs / f"{stem.name}{docs_suffix}.png"
        results.atomic_write(target, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))
    plt.close(fig)


def _write_findings(paper: Paper, budget_name: str, rows: list[dict[str, str]], the_plan: Plan,
                    out: Path, seconds: float, docs: Path | None,
                    figure_ids: Sequence[str] | None = None) -> None:
    def tables(chosen: list[dict[str, str]]) -> tuple[str, str]:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["figure", "claim", "measured", "verdict", "kind"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(chosen)
        return buf.getvalue(), _markdown(paper, budget_name, chosen, the_plan, seconds)

    # The docs keep one findings file per budget of a paper that has several CPU budgets
    # (im2016's quick and quick-conv), so the second run does not replace the first's.
    stem = "findings" if budget_name in ("quick", "custom") else f"findings-{budget_name}"
    targets = [(out, "findings", rows)]
    if docs is not None:
        shown = rows
        if figure_ids:
            # A run of some figures only (an extension on request): its docs file is named
            # by them, beside the whole run's, never over it, and lists only their claims.
            stem += "-" + "-".join(figure_ids)
            shown = [r for r in rows if r["verdict"] != NOT_SELECTED]
        targets.append((docs, stem, shown))
    for folder, name, chosen in targets:
        csv_text, md_text = tables(chosen)
        results.atomic_write(folder / f"{name}.csv",
                             lambda tmp, t=csv_text: Path(tmp).write_text(t))
        results.atomic_write(folder / f"{name}.md", lambda tmp, t=md_text: Path(tmp).write_text(t))
    if docs is not None and paper.name == "goodfellow2015":
        from landscapes.app.papers.goodfellow2015 import formula_files

        for name, body in formula_files().items():
            results.atomic_write(docs / "formulas" / name,
                                 lambda tmp, b=body: Path(tmp).write_text(b))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m landscapes.reproduce",
        description="Regenerate a paper's figures and check its claims on the data here.")
    p.add_argument("paper", nargs="?", help=f"one of {sorted(REGISTRY)}")
    p.add_argument("--list", action="store_true",
                   help="list the papers and their figures (with what each needs) and exit")
    p.add_argument("--figures", help="comma-separated figure ids, e.g. 4,5 (default: all)")
    p.add_argument("--budget", default="quick",
                   help="quick: minutes on a CPU (default); paper: the paper's settings; a "
                        "paper may have more (im2016: quick-conv, its conv-net figures)")
    p.add_argument("--out", type=Path, help="output folder (default "
                   "$LANDSCAPES_HOME/reproduce/PAPER/<budget>, one per budget and figures)")
    p.add_argument("--docs", type=Path, help="also write the figures (PNG) and findings the "
                   "documentation shows to this folder, e.g. docs/reproductions/PAPER")
    p.add_argument("--download", action="store_true",
                   help="download missing datasets where their loader can (otherwise a "
                        "figure whose data is absent is listed with what it needs)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads for training and "
                   "evaluation (default: the cores free when the command starts, at least 1)")
    p.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA, then a cache dir)")
    p.add_argument("--runs-dir", help="run store (default $LANDSCAPES_HOME/runs)")
    p.add_argument("--fresh", action="store_true", help="recompute cached analyses")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--yes", action="store_true",
                   help="start a paper budget without the pause to read its projected time")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be made, what cannot be, and the projected time; "
                        "then stop")
    add_flags(p, Budget())
    add_cluster_flags(p)
    return p


def _list(runtime: Runtime) -> None:
    for name in REGISTRY:
        paper = get_paper(name)
        print(f"{name}: {paper.citation} (budgets: {', '.join(paper.budgets)})")
        the_plan = plan(paper, None, runtime)
        for fig in paper.figures:
            status = the_plan.blocked.get(fig.id, "")
            if not status and fig.id in the_plan.partial:
                status = f"without {', '.join(the_plan.partial[fig.id])}"
            if fig.budgets is not None:
                status = ", ".join(t for t in (status, f"--budget {' or '.join(fig.budgets)}")
                                   if t)
            print(f"  figure {fig.id:9s} {fig.title}" + (f"  [{status}]" if status else ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with no traceback)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers!r}")
    clustered = args.workers is not None or args.scheduler is not None
    try:
        from landscapes.devices import resolve_device, resolve_threads

        # On a cluster the workers decide what "auto" means, once they are up, and
        # every task runs with one torch thread unless --threads says otherwise.
        device = args.device if clustered else str(resolve_device(args.device))
        threads = task_threads(args.threads, True) if clustered else resolve_threads(args.threads)
        # In-process, None keeps the default's reason (free cores, load) for the runs'
        # summaries; it is read once per process, so the keys and the work use one count.
        runtime = Runtime(device=device, data_dir=args.data_dir,
                          runs_dir=args.runs_dir, progress=False if args.quiet else None,
                          threads=threads if clustered else args.threads)
        if args.list:
            _list(runtime)
            return 0
        if args.paper is None:
            parser.error(f"name a paper: one of {sorted(REGISTRY)} (see --list)")
        paper = get_paper(args.paper)
        if args.budget not in paper.budgets:
            from landscapes.names import unknown_name

            raise unknown_name(f"budget of {paper.name}", args.budget, paper.budgets)
        budget = budget_from_args(paper.budgets[args.budget], args)
        figure_ids = [f.strip() for f in args.figures.split(",")] if args.figures else None
        the_plan = plan(paper, figure_ids, runtime, args.download, args.budget)
        from landscapes.app.outputs import check_writable, claim, tag
        from landscapes.home import home

        changes = {k: v for k, v in budget.to_dict().items()
                   if v != paper.budgets[args.budget].to_dict()[k]}
        if figure_ids:
            changes["figures"] = figure_ids
        out = args.out or home("reproduce", paper.name, tag(args.budget, changes))
        check_writable(out, "--out")
        if args.docs is not None:
            check_writable(args.docs, "--docs")
        check_writable(cache_root(), "the analysis cache ($LANDSCAPES_HOME)")
        from experiments.store import runs_root

        check_writable(runs_root(args.runs_dir), "--runs-dir")
        systems = list(dict.fromkeys(s for s, _ in the_plan.pairs))
        analyses = list(dict.fromkeys(a for _, a in the_plan.pairs))
        Study(systems, analyses, budget, runtime, pairs=set(the_plan.pairs)).check()
        claim(out, {"command": "reproduce", "paper": paper.name, "budget": budget.to_dict(),
                    "figures": [f.id for f in the_plan.figures]})
    except ValueError as exc:
        parser.error(str(exc))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(threads)  # one count for training and evaluation alike
    from experiments.data import data_root

    for fid, why in the_plan.blocked.items():
        where = f" (data root: {data_root(runtime.data_dir)})" if "data root" in why else ""
        say(runtime, f"figure {fid} cannot be made here: {why}{where}")
    for fid, why in the_plan.deferred.items():
        say(runtime, f"figure {fid} is {why}")
    if the_plan.pairs and clustered:
        say(runtime, f"{paper.name}, budget {args.budget}: no projection of the time on a "
                     "cluster (it calibrates on this machine)")
    elif the_plan.pairs:
        from landscapes.app.projection import project

        projection = project(the_plan.pairs, budget, runtime)
        print(f"{paper.name}, budget {args.budget}: {projection}", file=sys.stderr, flush=True)
    if args.dry_run:
        for fig in the_plan.made:
            print(f"would make figure {fig.id}: {fig.title}")
        return 0
    if the_plan.pairs:
        if args.budget == "paper" and not args.yes and sys.stdin.isatty():
            input("press Enter to start (Ctrl-C to stop) ")
    start = time.perf_counter()

    def work() -> list[dict[str, str]]:
        with open_cluster(args.workers, args.scheduler, threads=args.threads,
                          quiet=args.quiet) as cluster:
            here, client = runtime, None
            if cluster is not None:
                here, client = replace(runtime, device=cluster.device(args.device)), cluster.client
            return run(paper, budget, here, out, figure_ids=figure_ids, reuse=not args.fresh,
                       download=args.download, budget_name=args.budget, docs=args.docs,
                       client=client)

    status, rows = working_in(out, work, quiet=args.quiet)
    if rows is None:
        return status
    width = max(len(r["verdict"].split(":")[0]) for r in rows)
    for r in rows:
        print(f"Fig. {r['figure']:8s} {r['verdict'].split(':')[0]:{width}s}  {r['claim']}")
    print(f"\nwrote {out} (figures, results.nc, findings.md, {report.FILE}) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
