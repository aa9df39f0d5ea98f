"""A study: analyses of several systems under one budget, cached, stacked and tabulated.

:class:`Study` is what ``compare`` and ``reproduce`` share. It validates every
(system, analysis) pair before any work starts, computes each through the analysis
cache (:func:`analyze`), stacks the systems of each analysis along ``system`` for the
figures and builds the summary table from each system's own results. A system that
declines an analysis (no closed form of it) is left out of that analysis's stack and
reads "n/a" in the table.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from landscapes import results
from landscapes.app.analyses import Analysis, Declined, get_analysis
from landscapes.app.analyses.base import Context
from landscapes.app.settings import Budget, Runtime
from landscapes.app.systems import System, get_system

__all__ = ["Study", "analyze", "cache_root", "stack_systems", "say"]


def cache_root() -> Path:
    """Where computed analyses are kept: ``$LANDSCAPES_HOME/analyses`` or the user cache."""
    from landscapes.home import home

    return home("analyses")


def say(runtime: Runtime, message: str) -> None:
    """One progress line on stderr, unless the runtime is quiet."""
    if runtime.progress is not False:
        print(message, file=sys.stderr, flush=True)


def cache_key(system: System, analysis: Analysis, budget: Budget, runtime: Runtime) -> str:
    """Everything the result depends on, and nothing else, as canonical JSON.

    The system's identity (a closed form's name; a network's final weights -- those of
    the runs the analysis trains besides too -- evaluation data and device type), the
    budget fields the system and the analysis use, and the
    code (:func:`source_digest`).
    """
    used = tuple(sorted(set(system.uses) | set(analysis.uses)))
    return json.dumps([system.name, system.key(budget, runtime, analysis), analysis.name,
                       json.loads(budget.key(used)), source_digest()], sort_keys=True)


def source_digest() -> str:
    """A digest of the code that computes results: every module of the three packages.

    Finer than a version and safer than a commit: editing the engine invalidates the
    cache even before a commit, while a commit that touches only documentation or tests
    does not. (:func:`landscapes.cluster.code_digest`, which also keeps workers that run
    other code out of a cluster.)
    """
    from landscapes.cluster import code_digest

    return code_digest()


def analyze(system: System, analysis: Analysis, budget: Budget, runtime: Runtime,
            reuse: bool = True) -> xr.Dataset:
    """``system.analyze`` through a cache keyed by :func:`cache_key`.

    A repeated command reads its results instead of recomputing; a damaged cache file
    is reported on stderr and recomputed. Raises :class:`Declined` when the system has
    no counterpart of the analysis.
    """
    digest = hashlib.sha256(cache_key(system, analysis, budget, runtime).encode()).hexdigest()
    target = cache_root() / system.name / f"{analysis.name}-{digest[:16]}.nc"
    if reuse and target.exists():
        try:
            return results.load(target)
        except (OSError, ValueError) as exc:
            # A warning, not progress: shown even when the command is quiet.
            print(f"warning: cached {target} is unreadable ({exc}); recomputing it",
                  file=sys.stderr, flush=True)
    ds = system.analyze(analysis, budget, runtime)
    results.save(ds, target)
    return ds


def stack_systems(parts: dict[str, xr.Dataset], ragged: bool = False) -> xr.Dataset:
    """Stack one analysis of several systems along ``system``.

    Systems without a ``split`` (closed forms) are repeated along the other systems'
    splits, and coordinates outside the schema are dropped, so the stack is
    rectangular. Start iterations and trajectory steps differ between systems
    (``ragged``): those are outer-joined, NaN where a system has no value.
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
    return results.combine(aligned, "system", list(parts), join="outer" if ragged else "exact")


@dataclass
class Study:
    """Analyses × systems under one budget.

    Parameters
    ----------
    systems : sequence of str
        System names (:func:`landscapes.app.systems.get_system`).
    analyses : sequence of str
        Analysis names (:mod:`landscapes.app.analyses`).
    budget : Budget
    runtime : Runtime
    reuse : bool
        Read analyses computed before from :func:`cache_root`.
    pairs : collection of (system, analysis), optional
        Compute only these pairs of the product (a paper's figures need some of each).
    client : dask.distributed.Client, optional
        Run the training and the evaluations as tasks on this Dask cluster, with the
        same results (:mod:`landscapes.app.executor`); default: in this process. A
        :class:`~landscapes.app.executor.Distributed` instead sets its options.
    """

    systems: Sequence[str]
    analyses: Sequence[str]
    budget: Budget
    runtime: Runtime = field(default_factory=Runtime)
    reuse: bool = True
    pairs: Collection[tuple[str, str]] | None = None
    client: Any = None
    #: analysis -> system -> its dataset, or the reason it was declined.
    parts: dict[str, dict[str, xr.Dataset | Declined]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._systems = {name: get_system(name) for name in self.systems}
        self._analyses = {name: get_analysis(name) for name in self.analyses}

    def check(self) -> None:
        """Raise ``ValueError`` with one clear line for a pair that cannot run at all."""
        for analysis in self._analyses.values():
            for system in self._systems.values():
                if self._wanted(system.name, analysis.name):
                    system.check(analysis, self.budget, self.runtime)

    def _wanted(self, system: str, analysis: str) -> bool:
        return self.pairs is None or (system, analysis) in self.pairs

    def run(self) -> Study:
        """Compute every (analysis, system) pair, in order; returns ``self``.

        With a ``client``, every pair at once on the cluster; the results are the same
        and land in :attr:`parts` in the same order.
        """
        self.check()
        if self.client is not None:
            return self._run_distributed()
        for name, analysis in self._analyses.items():
            row = self.parts.setdefault(name, {})
            for system_name, system in self._systems.items():
                if system_name in row or not self._wanted(system_name, name):
                    continue
                say(self.runtime, f"{name}: {system_name}")
                started = time.perf_counter()
                try:
                    row[system_name] = analyze(system, analysis, self.budget, self.runtime,
                                               self.reuse)
                except Declined as why:
                    row[system_name] = why
                say(self.runtime, f"{name}: {system_name} took "
                                  f"{time.perf_counter() - started:.0f} s")
        return self

    def _run_distributed(self) -> Study:
        from landscapes.app.executor import Distributed, with_executor

        executor = self.client
        if not isinstance(executor, Distributed):
            executor = Distributed(self.client, threads=self.runtime.threads,
                                   progress=self.runtime.progress)
        # Every task computes with the executor's thread count, which the cache keys name.
        runtime = with_executor(replace(self.runtime, threads=executor.threads), executor)
        with executor.running():
            found = self._run_on(executor, runtime)
        for name in self._analyses:  # the in-process order, so stacks come out the same
            for system in self._systems:
                if (name, system) in found:
                    self.parts.setdefault(name, {})[system] = found[name, system]
        return self

    def _run_on(self, executor: Any, runtime: Runtime) -> dict[tuple[str, str], Any]:
        """Every wanted pair on ``executor``'s cluster: trainings submitted first, then
        each pair in a thread; returns (analysis, system) -> dataset or Declined."""
        from experiments.curves import ends_done
        from experiments.store import Run
        from landscapes.app.analyses.base import variant_replicates
        from landscapes.app.executor import threaded
        from landscapes.app.systems import epoch_length

        todo = [(name, analysis, system_name, system)
                for name, analysis in self._analyses.items()
                for system_name, system in self._systems.items()
                if system_name not in self.parts.get(name, {})
                and self._wanted(system_name, name)]
        # Every run any analysis needs, the variants it trains (the optimizer zoo, switched
        # runs) included, is submitted before any analysis waits: the cluster trains them
        # side by side instead of one variant's replicates at a time.
        for system in {id(s): s for *_, s in todo if s.kind == "network"}.values():
            config = system.config_for(self.budget, runtime, self.budget.trajectory_points)
            total = config.iterations(epoch_length(config, runtime.data_dir))
            configs = {config.name: (config, self.budget.replicates)}
            for _, analysis, _, other in todo:
                if other is system:
                    for entry in analysis.variants(config, total, self.budget):
                        changes, count = variant_replicates(entry, self.budget.replicates)
                        variant = config.replace(**changes)
                        configs.setdefault(variant.name, (variant, count))
            for each, count in configs.values():
                for r in range(count):
                    # A curve starts from its endpoints' final weights: unless they are in
                    # the store already, it trains when its analysis asks, after them.
                    if each.curve is not None and not ends_done(Run(each, r, runtime.runs_dir)):
                        continue
                    executor.submit_training(each, r, runs_dir=runtime.runs_dir,
                                             data_dir=runtime.data_dir, device=runtime.device)

        def pair(analysis: Any, system: Any) -> Any:
            try:
                return analyze(system, analysis, self.budget, runtime, self.reuse)
            except Declined as why:
                return why

        # Closed forms take moments: here, one after another (sympy and the theory code
        # need not be thread-safe), while the workers train. Networks wait on tasks: a
        # thread each.
        out = {(name, system_name): pair(analysis, system)
               for name, analysis, system_name, system in todo if system.kind != "network"}
        networks = [t for t in todo if t[3].kind == "network"]
        jobs = [lambda a=analysis, s=system: pair(a, s) for _, analysis, _, system in networks]
        found = threaded(jobs, executor.stop)
        out.update({(name, system_name): value
                    for (name, _, system_name, _), value in zip(networks, found)})
        return out

    # ------------------------------------------------------------------ views
    def computed(self, analysis: str) -> dict[str, xr.Dataset]:
        """The systems that have ``analysis``, with their datasets."""
        return {s: ds for s, ds in self.parts.get(analysis, {}).items()
                if isinstance(ds, xr.Dataset)}

    def stacked(self, analysis: str) -> xr.Dataset | None:
        """``analysis`` of every system that has it, stacked along ``system``."""
        parts = self.computed(analysis)
        if not parts:
            return None
        return stack_systems(parts, self._analyses[analysis].ragged)

    def tree(self) -> dict[str, xr.Dataset]:
        """Every analysis some system has, stacked: one netCDF group each."""
        out = {}
        for name in self.analyses:
            ds = self.stacked(name)
            if ds is not None:
                out[name] = ds
        return out

    def colors(self) -> dict[str, str]:
        return {s: f"C{i}" for i, s in enumerate(self.systems)}

    def context(self, system: str | None = None) -> Context:
        """Panel (``system`` None: every system) or table context."""
        if system is None:
            reference = self.stacked("init_to_final") if "init_to_final" in self.parts else None
        else:
            reference = self.computed("init_to_final").get(system)
        return Context(reference=reference, colors=self.colors())

    def table(self) -> list[dict[str, str]]:
        """One row of features per system; "n/a (why)" where a system declined."""
        order: dict[str, None] = {"system": None, "splits": None}
        found: dict[tuple[str, str], dict[str, str]] = {}
        keys_of: dict[str, dict[str, None]] = {}
        for name, analysis in self._analyses.items():
            for system in self.systems:
                ds = self.parts.get(name, {}).get(system)
                if isinstance(ds, xr.Dataset):
                    found[system, name] = analysis.rows(ds, self.context(system))
                    for key in found[system, name]:
                        keys_of.setdefault(name, {})[key] = None
                        order[key] = None
        rows = []
        for system in self.systems:
            row = {"system": system, "splits": self._splits(system)}
            for name in self._analyses:
                ds = self.parts.get(name, {}).get(system)
                if isinstance(ds, Declined):
                    row.update({key: f"n/a ({ds})" for key in keys_of.get(name, {})})
                else:
                    row.update(found.get((system, name), {}))
            rows.append(row)
        return [{k: r.get(k, "–") for k in order} for r in rows]

    def _splits(self, system: str) -> str:
        for analysis in self.parts.values():
            ds = analysis.get(system)
            if isinstance(ds, xr.Dataset):
                if "split" in ds.dims:
                    return " | ".join(str(s) for s in ds.split.values)
                if "alpha" in ds.dims:
                    return "exact objective"
        return "–"


def format_table(table: list[dict[str, str]]) -> str:
    """The table as fixed-width text, features down, systems across."""
    keys = [k for k in table[0] if k != "system"]
    width = max(len(k) for k in keys)
    cols = [max(len(r["system"]), *(len(r[k]) for k in keys)) for r in table]
    lines = [" " * width + "  " + "  ".join(r["system"].ljust(c) for r, c in zip(table, cols))]
    for k in keys:
        lines.append(k.ljust(width) + "  " + "  ".join(r[k].ljust(c) for r, c in zip(table, cols)))
    return "\n".join(lines)


def write_csv(table: list[dict[str, str]], path: Path) -> None:
    """The table as CSV (one row per system), written atomically."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    results.atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


__all__ += ["format_table", "write_csv", "cache_key"]
