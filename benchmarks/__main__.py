"""``python -m benchmarks``: the engine against the plain per-point loop.

Each workload runs a warm-up and then ``--repeats`` timed runs of both the plain loop
(``load_state_dict`` at each point, then a ``DataLoader(batch_size=1000)`` pass) and
:func:`landscapes.evaluate`, in the same process, after checking that both give the
same numbers. The table reports medians, their ratio, the effective GFLOP/s (forward
FLOPs the plain loop needs ÷ engine seconds), the machine's peak float32 matmul
GFLOP/s measured in the same run (the best of ten 2048² products), and the arithmetic limit: the FLOPs left after
first-layer reuse ÷ that peak. It is printed as markdown and written as CSV.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from benchmarks.measure import forward_flops, median_time, peak_gflops
from benchmarks.table import markdown, row, write_csv
from benchmarks.workloads import Workload, lenet_workloads, peer, resnet_workloads


def measure(work: Workload, repeats: int, peak: float) -> dict:
    """One table row; raises if the engine and the plain loop disagree."""
    plain = work.plain()
    np.testing.assert_allclose(work.engine()[: len(plain)], plain, rtol=work.rtol)
    per_example, first = forward_flops(work.model, work.x[:1])
    n = len(work.path)
    active = int(np.any(work.path.coefficients != 0, axis=0).sum())
    flops = per_example * work.examples_per_point * n
    left = ((per_example - first) * n + first * active) * work.examples_per_point
    t_plain = median_time(work.plain, repeats) / work.plain_fraction
    t_engine = median_time(work.engine, repeats)
    name = work.name
    if work.plain_fraction < 1:
        name += f" (plain loop timed on {work.plain_points} points, scaled)"
    return row(name, t_plain, t_engine, flops, left, peak)


def peer_row(work: Workload, run: Callable[[], object], repeats: int, reference: dict) -> dict:
    """loss-landscapes on ``work`` (one metric) against the engine's time there."""
    t_peer = median_time(run, repeats)
    out = dict(reference)
    out.update(workload=f"peer: loss-landscapes linear_interpolation, {work.name}",
               plain_s=t_peer, ratio=t_peer / reference["engine_s"])
    return out


def default_out() -> Path:
    home = os.environ.get("LANDSCAPES_HOME")
    root = Path(home).expanduser() if home else Path.home() / ".cache" / "landscapes"
    return root / "benchmarks" / "engine.csv"


def run(workloads: Sequence[Workload], repeats: int, with_peer: bool = True) -> list[dict]:
    """Measure every workload (and the peer on the first) and return the rows."""
    peak = peak_gflops()
    rows = []
    for work in workloads:
        rows.append(measure(work, repeats, peak))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    peer_run = peer(workloads[0]) if with_peer else None
    if peer_run is not None:
        rows.append(peer_row(workloads[0], peer_run, repeats, rows[0]))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke run")
    parser.add_argument("--data-dir", help="MNIST root (default $LANDSCAPES_DATA)")
    parser.add_argument("--plain-points", type=int, default=20,
                        help="time the slowest plain loops on this many points and scale")
    parser.add_argument("--out", type=Path, help=f"CSV file (default {default_out()})")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats!r}")

    from experiments.data import load_mnist
    from experiments.models import build

    test = load_mnist("test", data_dir=args.data_dir, flatten=True)
    train = load_mnist("train", data_dir=args.data_dir, flatten=True)
    if args.quick:
        test, train = (test[0][:1000], test[1][:1000]), None
        work = lenet_workloads(lambda: build("mnist_mlp"), test, None, alphas=10, side=4)
        work += resnet_workloads(lambda: build("cifar_resnet20"), examples=32, alphas=3, batch_size=16)
    else:
        work = lenet_workloads(lambda: build("mnist_mlp"), test, train,
                               plain_points=args.plain_points)
        work += resnet_workloads(lambda: build("cifar_resnet20"), examples=512,
                                 plain_points=args.plain_points)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of "
          f"{args.repeats} runs after a warm-up\n")
    rows = run(work, args.repeats)
    print()
    print(markdown(rows))
    out = args.out or default_out()
    write_csv(rows, out)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
