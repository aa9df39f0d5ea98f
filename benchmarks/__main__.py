"""``python -m benchmarks``: the engine against the plain per-point loop.

Each workload runs a warm-up and then ``--repeats`` timed runs, alternating, of both the plain loop
(``load_state_dict`` at each point, then a ``DataLoader`` pass; under
:func:`torch.autocast` for bfloat16 rows) and :func:`landscapes.evaluate`, in the
same process and precision, after checking that both give the same numbers. The
table reports medians, their ratio, the effective GFLOP/s (forward FLOPs the plain
loop needs ÷ engine seconds), the machine's peak measured in the same run (for MLPs
the best of ten 2048² float32 matrix products; for conv nets the best 64→64 3×3
convolution on channels-last images in the row's precision), and the arithmetic
limit: the FLOPs the engine must do ÷ that peak (after first-layer reuse for MLPs).
It is printed as markdown and written as CSV, with the load average before and after.

Then the adaptive barrier search against uniform grids on LeNet lines
(:mod:`benchmarks.adaptive`; ``--no-adaptive`` skips it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from landscapes.devices import resolve_device
from landscapes.engine import PRECISIONS

from benchmarks import adaptive
from benchmarks.measure import conv_peak_gflops, forward_flops, median_time, paired_median_times, peak_gflops
from benchmarks.table import markdown, row, write_csv
from benchmarks.workloads import Workload, lenet_workloads, peer, resnet_workloads


def peaks(workloads: Sequence[Workload], device: str = "cpu") -> dict[tuple[bool, str], float]:
    """The peak each row is measured against, by (conv net?, precision): the matmul
    peak for MLPs, the convolution peak in the row's precision for conv nets."""
    out = {}
    matmul = peak_gflops(device=device) if any(not w.conv for w in workloads) else float("nan")
    for work in workloads:
        key = (work.conv, work.precision)
        if key not in out:
            out[key] = conv_peak_gflops(PRECISIONS[work.precision] or torch.float32, device=device) if work.conv else matmul
    return out


def measure(work: Workload, repeats: int, peak: float) -> dict:
    """One table row; raises if the engine and the plain loop disagree."""
    plain = work.plain()
    np.testing.assert_allclose(work.engine()[: len(plain)], plain, rtol=work.rtol)
    per_example, first = forward_flops(work.model, work.x[:1])
    n = len(work.path)
    active = int(np.any(work.path.coefficients != 0, axis=0).sum())
    flops = per_example * work.examples_per_point * n
    # conv nets fold batch norm into the first layer rather than reuse it
    left = flops if work.conv else ((per_example - first) * n + first * active) * work.examples_per_point
    t_plain, t_engine = paired_median_times(work.plain, work.engine, repeats)
    t_plain /= work.plain_fraction
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
    found = peaks(workloads, workloads[0].device if workloads else "cpu")
    rows = []
    for work in workloads:
        rows.append(measure(work, repeats, found[work.conv, work.precision]))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    peer_run = peer(workloads[0]) if with_peer and workloads[0].device == "cpu" else None
    if peer_run is not None:
        rows.append(peer_row(workloads[0], peer_run, repeats, rows[0]))
    return rows


def against_float32(workloads: Sequence[Workload], rows: Sequence[dict]) -> list[str]:
    """For every bfloat16 row, the engine against the float32 plain loop of the same
    workload (the row before it)."""
    out = []
    for i, work in enumerate(workloads):
        if work.precision != "float32" and i > 0 and workloads[i - 1].precision == "float32":
            ratio = rows[i - 1]["plain_s"] / rows[i]["engine_s"]
            out.append(f"{work.name}: engine {ratio:.1f}× the float32 plain loop")
    return out


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke run")
    parser.add_argument("--data-dir", help="MNIST root (default $LANDSCAPES_DATA)")
    parser.add_argument("--plain-points", type=int, default=20,
                        help="time the slowest plain loops on this many points and scale")
    parser.add_argument("--out", type=Path, help=f"CSV file (default {default_out()})")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N for the same rows on a GPU")
    parser.add_argument("--only", default="",
                        help="run only the workloads whose name contains this text, e.g. ResNet")
    parser.add_argument("--no-adaptive", action="store_true",
                        help="skip the adaptive-search rows (which train two LeNets, or reuse them)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats!r}")
    try:
        device = str(resolve_device(args.device))
    except ValueError as exc:
        parser.error(str(exc))

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
    work = [w for w in work if args.only in w.name]
    if not work:
        parser.error(f"no workload name contains {args.only!r}")
    for w in work:
        w.device = device
    before = load()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}; medians of "
          f"{args.repeats} runs after a warm-up; load average {before}\n")
    rows = run(work, args.repeats)
    print()
    print(markdown(rows))
    for line in against_float32(work, rows):
        print(line)
    print(f"\nload average before {before}, after {load()}")
    out = args.out or default_out()
    write_csv(rows, out)
    print(f"written to {out}")
    if not (args.quick or args.no_adaptive):
        adaptive.main(["--epochs", "1", "--replicates", "2", "--starts", "0,16",
                       "--repeats", str(args.repeats), "--device", device,
                       "--out", str(out.with_name("adaptive.csv"))]
                      + (["--data-dir", args.data_dir] if args.data_dir else []))


if __name__ == "__main__":
    main()
