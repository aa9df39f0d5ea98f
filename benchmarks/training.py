"""``python -m benchmarks.training``: training speed by layout, precision and threads.

Two tables, each measured with the training step of :mod:`experiments.trainer` itself
(minibatch gathering, augmentation, autocast and the optimizer included):

- **ResNet-20 (batch norm)** on CIFAR-shaped random images, batch 128, with OpenLTH's
  hyperparameters: iterations per second for float32 contiguous, float32 channels-last
  and bfloat16 channels-last, each with 1 and 2 threads. Each row's rate is given as a
  share of the best rate measured in the same run, and of the best in its precision;
  the row :func:`experiments.trainer.train` picks by default is marked.
- **LeNet-300-100** on MNIST: seconds per epoch (469 iterations, timed on a part and
  scaled) with 1 and 2 threads and with the default (:data:`DEFAULT`: the count a
  process starting at that moment would choose, read afresh from the machine before
  every timed run, each choice and the busy cores it saw listed in ``chosen``), on the
  machine as it is and with one competing CPU-bound process (``python -c "while 1:
  pass"``), the case that made torch's default of one thread per core collapse.

Every number is the median of ``--repeats`` timed runs after a warm-up, the settings of
a table timed in turn so that a shared machine's changing load weighs on all alike; the
1-minute load average before and after each table is recorded with its rows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import table
from landscapes.devices import machine_threads, resolve_threads, thread_choice, using_threads

__all__ = ["COLUMNS", "DEFAULT", "Setting", "competing", "resnet_rows", "lenet_rows", "markdown",
           "main"]

COLUMNS = ["workload", "setting", "threads", "competing", "median", "unit", "share_of_best",
           "share_of_best_in_precision", "default", "load_before", "load_after", "chosen"]

#: In a list of thread counts: the default, decided afresh before each timed run.
DEFAULT = None

LAYOUTS = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}


@dataclass(frozen=True)
class Setting:
    """One way to train: precision, memory layout and threads."""

    precision: str
    layout: str
    threads: int

    @property
    def label(self) -> str:
        return f"{self.precision}, {self.layout}"


def _load() -> float:
    return os.getloadavg()[0]


@contextlib.contextmanager
def competing(processes: int) -> Iterator[None]:
    """Run ``processes`` CPU-bound Python loops for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"])
                for _ in range(processes)]
    try:
        if spinners:
            time.sleep(0.5)  # let them get going
        yield
    finally:
        for s in spinners:
            s.kill()
            s.wait()


def _trainer(config, data, folder: Path, setting: Setting):
    """A trainer of ``config`` on ``data`` in ``setting``'s layout."""
    from experiments import trainer as train_module
    from experiments.store import Run

    trainer = train_module._Trainer(Run(config, 0, folder), torch.device("cpu"), None, False,
                                    setting.threads, data=data)
    layout = LAYOUTS[setting.layout]
    trainer.model.to(memory_format=layout)
    trainer.memory_format = layout
    return trainer


def _stepper(trainer, steps: int):
    """A callable running ``steps`` training iterations of ``trainer``."""
    batches = trainer._batches()

    def run() -> None:
        for _ in range(steps):
            inputs, targets = next(batches)
            trainer._train_step(inputs, targets)
            trainer.step += 1

    return run


def _interleaved(runs: Sequence, threads: Sequence[int | None], repeats: int,
                 chosen: list[list[str]] | None = None) -> list[float]:
    """Median seconds of each run, timed in turn ``repeats`` times after a warm-up each.

    Round-robin, so that the load of a shared machine, which changes by the minute,
    weighs on every setting alike. A count of :data:`DEFAULT` is decided before each
    run as a process starting then would (capped by this process's own count, as
    :func:`~landscapes.devices.thread_choice` is), and each choice, with the busy cores
    it saw, is appended to ``chosen[i]``.
    """
    times: list[list[float]] = [[] for _ in runs]
    chosen = chosen if chosen is not None else [[] for _ in runs]
    ceiling = torch.get_num_threads()

    def count(i: int, n: int | None, timed: bool) -> int:
        if n is not DEFAULT:
            return n
        choice = machine_threads()
        if timed:
            chosen[i].append(f"{min(choice.threads, ceiling)}@{choice.busy:.2f}")
        return min(choice.threads, ceiling)

    for i, (run, n) in enumerate(zip(runs, threads)):
        with using_threads(count(i, n, False)):
            run()
    for _ in range(repeats):
        for i, (run, n) in enumerate(zip(runs, threads)):
            with using_threads(count(i, n, True)):
                start = time.perf_counter()
                run()
                times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _random_images(n: int, batch_size: int):
    from experiments.feed import Data as _Data

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    return _Data("classification", (x, y), (x[:batch_size], y[:batch_size]), -(-n // batch_size))


def resnet_rows(settings: Sequence[Setting], steps: int, repeats: int, batch_size: int = 128,
                processes: int = 0) -> list[dict]:
    """ResNet-20 iterations per second for each setting, with shares of the best."""
    from experiments.config import experiment
    from experiments.models import build, spec
    from experiments.trainer import _memory_format

    base = experiment("cifar_resnet20", batch_size=batch_size)
    default_layout = "channels-last" if _memory_format(
        build("cifar_resnet20"), spec("cifar_resnet20"), torch.device("cpu"),
        "float32") is torch.channels_last else "contiguous"
    default = Setting("float32", default_layout, resolve_threads(None))
    data = _random_images(4 * batch_size, batch_size)
    rows = []
    with tempfile.TemporaryDirectory() as folder, competing(processes):
        before = _load()
        runs = [_stepper(_trainer(base.replace(precision=s.precision), data, Path(folder), s),
                         steps) for s in settings]
        seconds = _interleaved(runs, [s.threads for s in settings], repeats)
        after = _load()
    for setting, t in zip(settings, seconds):
        rows.append({"workload": f"ResNet-20 (BN) training, CIFAR-shaped, batch {batch_size}",
                     "setting": setting.label, "threads": setting.threads,
                     "competing": processes, "median": steps / t, "unit": "it/s",
                     "default": setting == default, "load_before": before,
                     "load_after": after, "chosen": ""})
    best = max(r["median"] for r in rows)
    for r in rows:
        same = [o["median"] for o in rows if o["setting"].split(",")[0] == r["setting"].split(",")[0]]
        r["share_of_best"] = r["median"] / best
        r["share_of_best_in_precision"] = r["median"] / max(same)
    return rows


def lenet_rows(threads: Sequence[int | None], processes: Sequence[int], iterations: int,
               repeats: int, data_dir: str | None = None) -> list[dict]:
    """LeNet-300-100 seconds per MNIST epoch for each thread count and competing load.

    A count of :data:`DEFAULT` is the default decided afresh before each timed run;
    where the list has no such entry, the row of this process's default is marked.
    """
    from experiments.config import experiment
    from experiments.models import spec
    from experiments.feed import load_data as _load_data

    config = experiment("mnist_mlp")
    data = _load_data(config, spec("mnist_mlp"), data_dir, torch.device("cpu"))
    default = DEFAULT if DEFAULT in threads else resolve_threads(None)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for load in processes:
            chosen: list[list[str]] = [[] for _ in threads]
            with competing(load):
                before = _load()
                runs = [_stepper(_trainer(config, data, Path(folder),
                                          Setting("float32", "contiguous", n)), iterations)
                        for n in threads]
                seconds = _interleaved(runs, threads, repeats, chosen)
                after = _load()
            for n, t, seen in zip(threads, seconds, chosen):
                rows.append({"workload": "LeNet-300-100 training, MNIST, batch 128",
                             "setting": "float32", "threads": "default" if n is DEFAULT else n,
                             "competing": load,
                             "median": t * data.per_epoch / iterations, "unit": "s/epoch",
                             "default": n == default, "load_before": before,
                             "load_after": after, "chosen": " ".join(seen)})
    for r in rows:
        peers = [o["median"] for o in rows if o["competing"] == r["competing"]]
        r["share_of_best"] = r["share_of_best_in_precision"] = min(peers) / r["median"]
    return rows


def markdown(rows: Sequence[dict]) -> str:
    """The rows as a markdown table.

    Examples
    --------
    >>> row = {"workload": "w", "setting": "float32", "threads": 1, "competing": 0,
    ...        "median": 2.5, "unit": "it/s", "share_of_best": 0.5,
    ...        "share_of_best_in_precision": 1.0, "default": True, "load_before": 1.0,
    ...        "load_after": 1.25}
    >>> print(markdown([row]).splitlines()[2])
    | w | float32 | 1 | 0 | 2.50 it/s | 50% | 100% | yes | 1.00 → 1.25 |  |
    """
    head = ["workload", "setting", "threads", "competing processes", "median",
            "share of best", "share of best in its precision", "default", "load average",
            "default's choices (threads@busy cores)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['setting']} | {r['threads']} | {r['competing']} | "
            f"{r['median']:.2f} {r['unit']} | {r['share_of_best']:.0%} | "
            f"{r['share_of_best_in_precision']:.0%} | {'yes' if r['default'] else ''} | "
            f"{r['load_before']:.2f} → {r['load_after']:.2f} | {r.get('chosen', '')} |")
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Write the rows to ``path`` atomically (:func:`benchmarks.table.write_csv`)."""
    table.write_csv(rows, path, COLUMNS)


def default_out() -> Path:
    home = os.environ.get("LANDSCAPES_HOME")
    root = Path(home).expanduser() if home else Path.home() / ".cache" / "landscapes"
    return root / "benchmarks" / "training.csv"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--steps", type=int, default=8, help="ResNet-20 iterations per run")
    parser.add_argument("--lenet-iterations", type=int, default=100,
                        help="LeNet iterations per run (scaled to an epoch)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--data-dir", help="MNIST root (default $LANDSCAPES_DATA)")
    parser.add_argument("--out", type=Path, help=f"CSV file (default {default_out()})")
    parser.add_argument("--tables", choices=["both", "resnet", "lenet"], default="both",
                        help="which tables to measure (default both)")
    args = parser.parse_args(argv)
    if min(args.repeats, args.steps, args.lenet_iterations) < 1:
        parser.error("--repeats, --steps and --lenet-iterations must be at least 1")
    threads = [1, 2]
    settings = [Setting(p, layout, n) for p, layout in
                [("float32", "contiguous"), ("float32", "channels-last"),
                 ("bfloat16", "channels-last")] for n in threads]
    batch = 128
    if args.quick:
        args.repeats, args.steps, args.lenet_iterations, batch = 1, 1, 2, 8
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, default "
          f"{thread_choice().reason}; medians of {args.repeats} runs after a warm-up\n",
          flush=True)
    rows: list[dict] = []
    lenet: list[dict] = []
    if args.tables != "lenet":
        rows = resnet_rows(settings, args.steps, args.repeats, batch)
        print(markdown(rows), flush=True)
    if args.tables != "resnet":
        lenet = lenet_rows([*threads, DEFAULT], [0, 1], args.lenet_iterations, args.repeats,
                           args.data_dir)
        print()
        print(markdown(lenet))
    out = args.out or default_out()
    write_csv(rows + lenet, out)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
