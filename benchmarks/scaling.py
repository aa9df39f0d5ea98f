"""``python -m benchmarks.scaling``: one process against two local Dask workers.

The same work three ways, in this process with two torch threads and on a local cluster
of two worker processes with one thread each (``--workers 2``, the same two cores):

- **train**: 6 runs of ``mnist_mlp`` (LeNet-300-100) for one epoch each, into a fresh
  run store (in this process one after another; on the cluster one task per run);
- **plane**: a 51×51 plane (2601 points) of LeNet-300-100 through its trained weights
  on the 10,000 MNIST test examples (on the cluster in blocks of
  :data:`landscapes.app.executor.BLOCK_POINTS` points);
- **frankle**: ``python -m landscapes.reproduce frankle2020 --figures 3`` at the quick
  budget from an empty home (training 3 runs of 3 epochs, then the from-iteration and
  init→final analyses), as a command, so its times include starting the cluster; and
  the same command's analyses alone, over runs already trained (``--fresh``).

Each number is the median of ``--repeats`` runs after a warm-up; the two ways alternate
(in-process, cluster, in-process, ...) so that a shared machine's changing load weighs
on both alike, and the 1-minute load average is recorded before each run. The
cluster's start-up is timed once and reported apart from the train and plane rows
(the command rows include it). Speed-up = in-process time ÷ cluster time; efficiency =
speed-up ÷ 2 (two workers on the cores the two threads had).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks import table
from landscapes import results

__all__ = ["COLUMNS", "markdown", "main", "alternate"]

COLUMNS = ["workload", "in_process_s", "cluster_s", "speedup", "efficiency", "startup_s",
           "load_min", "load_max", "repeats"]
ROOT = Path(__file__).resolve().parents[1]


def _load() -> float:
    return os.getloadavg()[0]


def alternate(here: Callable[[int], None], there: Callable[[int], None], repeats: int,
              warm: bool = True) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds of ``here(i)`` and ``there(i)``, taken in turn, and the load before each."""
    if warm:
        here(-1)
        there(-1)
    times: tuple[list[float], list[float]] = ([], [])
    loads: list[float] = []
    for i in range(repeats):
        for fn, out in ((here, times[0]), (there, times[1])):
            loads.append(_load())
            start = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - start)
    return times[0], times[1], loads


def row(name: str, here: list[float], there: list[float], loads: list[float],
        startup: float | None) -> dict:
    a, b = statistics.median(here), statistics.median(there)
    return {"workload": name, "in_process_s": a, "cluster_s": b, "speedup": a / b,
            "efficiency": a / b / 2, "startup_s": startup, "load_min": min(loads),
            "load_max": max(loads), "repeats": len(here)}


def markdown(rows: Sequence[dict]) -> str:
    """The rows as a markdown table.

    Examples
    --------
    >>> r = row("w", [4.0, 4.2, 3.9], [2.5, 2.4, 2.6], [1.0, 3.0], 2.2)
    >>> print(markdown([r]).splitlines()[2])
    | w | 4.0 | 2.5 | 1.60 | 0.80 | 2.2 | 1.0–3.0 |
    """
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines)


HEAD = ["workload", "in-process (s), 2 threads unless marked", "2 workers × 1 thread (s)", "speed-up",
        "efficiency", "cluster start (s)", "load avg (1 min)"]


def cells(r: dict) -> list[str]:
    """One row as the documentation shows it."""
    start = "incl." if r["startup_s"] is None else f"{r['startup_s']:.1f}"
    return [r["workload"].strip(), f"{r['in_process_s']:.1f}", f"{r['cluster_s']:.1f}",
            f"{r['speedup']:.2f}", f"{r['efficiency']:.2f}", start,
            f"{r['load_min']:.1f}–{r['load_max']:.1f}"]


def write_docs(rows: Sequence[dict], folder: Path) -> None:
    """``measured.csv`` in ``folder``: the table of the documentation's Scaling-out page."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEAD)
    writer.writerows(cells(r) for r in rows)
    results.atomic_write(folder / "measured.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Write the rows to ``path`` atomically (:func:`benchmarks.table.write_csv`)."""
    table.write_csv(rows, path, COLUMNS)


# --------------------------------------------------------------------------- workloads


def _label(name: str, threads: int) -> str:
    return name if threads == 2 else f"{name} [in-process: {threads} thread{'s' * (threads > 1)}]"


def train_rows(client: object, startup: float, repeats: int, runs: int, epochs: float,
               scratch: Path, threads: int = 2) -> dict:
    from experiments.config import experiment
    from experiments.remote import train_replicates
    from experiments.train import train

    config = experiment("mnist_mlp", epochs=epochs)

    def here(i: int) -> None:
        for r in range(runs):
            train(config, replicate=r, runs_dir=scratch / f"here{i}", device="cpu",
                  progress=False, threads=threads)

    def there(i: int) -> None:
        train_replicates(client, config, runs, runs_dir=scratch / f"there{i}", device="cpu",
                         threads=1, progress=False)

    a, b, loads = alternate(here, there, repeats, warm=False)
    return row(_label(f"train: {runs} runs of mnist_mlp, {epochs:g} epoch each", threads), a, b,
               loads, startup)


def plane_rows(client: object, startup: float, repeats: int, side: int, examples: int,
               scratch: Path, threads: int = 2) -> dict:
    from experiments import data
    from experiments.config import experiment
    from experiments.models import build
    from experiments.train import train
    from landscapes import evaluate, paths
    from landscapes.app.executor import EvaluationData, evaluate_on, fingerprint
    from landscapes.devices import using_threads

    run = train(experiment("mnist_mlp", epochs=1), runs_dir=scratch / "plane-run",
                device="cpu", progress=False)
    state = run.final
    x, y = data.load("mnist", "test")
    splits = {"test": (x[:examples], y[:examples])}
    spec = EvaluationData("mnist", ("test",), examples, None, fingerprint(splits))
    grid = np.linspace(-1, 1, side)
    plane = paths.plane(state, alphas=grid, betas=grid, seed=0)
    small = paths.plane(state, alphas=grid[:3], betas=grid[:3], seed=0)
    found: dict[str, object] = {}

    def here(i: int) -> None:
        net = build("mnist_mlp")
        net.load_state_dict(state)
        with using_threads(threads):
            found["here"] = evaluate(net.eval(), small if i < 0 else plane, splits,
                                     device="cpu", progress=False)

    def there(i: int) -> None:
        found["there"] = evaluate_on(client, "mnist_mlp", state, small if i < 0 else plane,
                                     spec, threads=1, device="cpu")

    a, b, loads = alternate(here, there, repeats)
    same = np.array_equal(found["here"].loss.values, found["there"].loss.values)
    if not same:
        raise AssertionError("the cluster's plane differs from the in-process one")
    return row(_label(f"plane: {side}×{side} points of LeNet-300-100, {examples} MNIST "
                      "examples", threads), a, b, loads, startup)


def frankle_rows(repeats: int, scratch: Path, extra: Sequence[str] = (),
                 threads: int = 2) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(home: Path, *flags: str) -> None:
        args = [sys.executable, "-m", "landscapes.reproduce", "frankle2020", "--figures", "3",
                "--out", str(home / "out"), "--quiet", *extra, *flags]
        done = subprocess.run(args, env={**env, "LANDSCAPES_HOME": str(home)},
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")

    def here(i: int) -> None:
        command(scratch / f"frankle-here{i}", "--threads", str(threads))

    def there(i: int) -> None:
        command(scratch / f"frankle-there{i}", "--workers", "2")

    a, b, loads = alternate(here, there, repeats, warm=False)
    whole = row(_label("frankle2020 --figures 3, quick budget, from scratch (command)", threads),
                a, b, loads, None)

    def here_again(i: int) -> None:
        command(scratch / f"frankle-here{i}", "--threads", str(threads), "--fresh")

    def there_again(i: int) -> None:
        command(scratch / f"frankle-there{i}", "--workers", "2", "--fresh")

    a, b, loads = alternate(here_again, there_again, repeats, warm=False)
    analyses = row(_label("  the same, analyses only (runs trained, --fresh)", threads), a, b,
                   loads, None)
    return [whole, analyses]


def default_out() -> Path:
    from landscapes.home import home

    return home("benchmarks", "scaling.csv")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per way")
    parser.add_argument("--only", default="train,plane,frankle",
                        help="comma-separated workloads (train, plane, frankle)")
    parser.add_argument("--quick", action="store_true", help="tiny workloads, a smoke run")
    parser.add_argument("--here-threads", type=int, default=2,
                        help="torch threads of the in-process way (default 2, the cores)")
    parser.add_argument("--out", type=Path, help=f"CSV file (default {default_out()})")
    parser.add_argument("--docs", type=Path, help="also write the documentation's table "
                        "(measured.csv) to this folder, e.g. docs/scaling")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats!r}")
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    rows: list[dict] = []
    from landscapes.cluster import open_cluster

    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        scratch = Path(tmp)
        if only & {"train", "plane"}:
            start = time.perf_counter()
            with open_cluster(workers=2, quiet=True) as cluster:
                startup = time.perf_counter() - start
                if "train" in only:
                    rows.append(train_rows(cluster.client, startup, args.repeats,
                                           runs=2 if args.quick else 6,
                                           epochs=0.05 if args.quick else 1.0,
                                           scratch=scratch, threads=args.here_threads))
                    print(markdown(rows[-1:]).splitlines()[-1], flush=True)
                if "plane" in only:
                    rows.append(plane_rows(cluster.client, startup, args.repeats,
                                           side=5 if args.quick else 51,
                                           examples=500 if args.quick else 10_000,
                                           scratch=scratch, threads=args.here_threads))
                    print(markdown(rows[-1:]).splitlines()[-1], flush=True)
        if "frankle" in only:
            quick = ["--epochs", "0.05", "--max-starts", "3", "--points", "5",
                     "--eval-examples", "200", "--replicates", "2"] if args.quick else []
            rows.extend(frankle_rows(args.repeats, scratch, quick, args.here_threads))
            print("\n".join(markdown(rows[-2:]).splitlines()[-2:]), flush=True)
    import torch

    print(f"\ntorch {torch.__version__}, {os.cpu_count()} CPUs; medians of {args.repeats} "
          "runs, the two ways alternating\n")
    print(markdown(rows))
    out = args.out or default_out()
    write_csv(rows, out)
    if args.docs is not None:
        write_docs(rows, args.docs)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
