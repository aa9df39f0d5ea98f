"""``python -m benchmarks.sweep_plan``: the three papers at paper budget, laid out on paper.

Nothing here is timed: the sizes come from the experiments' own configs (parameters,
iterations, the checkpoint schedule, Frankle's start iterations), the work from forward
FLOPs per example (:func:`benchmarks.measure.forward_flops`; training counts three
forward passes per example), and seconds from one *assumed* sustained rate per GPU,
:data:`TFLOPS`. The table is what the Scaling-out page of the documentation quotes.

Rows are task kinds: one training run (config × replicate), or one analysis of one
replicate, evaluated on every example of the train and test splits (the paper budget's
``eval_examples=None``), in blocks of whole start lines or grid rows.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TFLOPS", "Task", "tasks", "markdown", "main"]

#: Sustained float32/TF32 throughput assumed per GPU, in TFLOP/s (an A100-class GPU on
#: convolutions at a good batch size; small models stay far below it). An assumption.
TFLOPS = 25.0
#: Examples per split (train, test) and training examples per epoch.
EXAMPLES = {"mnist": (60_000, 10_000), "cifar10": (50_000, 10_000),
            "imagenet": (1_281_167, 50_000)}


@dataclass
class Task:
    paper: str
    what: str
    count: int
    flop: float  # per task
    sent_mb: float  # to the worker: anchors and weights (once per worker and replicate)
    back_mb: float  # to the client
    note: str = ""

    @property
    def gpu_hours(self) -> float:
        return self.count * self.flop / (TFLOPS * 1e12) / 3600

    @property
    def hours_each(self) -> float:
        return self.flop / (TFLOPS * 1e12) / 3600


def _model(name: str) -> tuple[object, int, float, int, int, list[int]]:
    """(config, parameters, forward FLOP per example, iterations per epoch, total, schedule)."""
    import torch

    from benchmarks.measure import forward_flops
    from experiments.checkpoints import schedule
    from experiments.config import experiment
    from experiments.models import build, spec

    config = experiment(name)
    net = build(config.model)
    params = sum(v.numel() for v in net.state_dict().values() if v.is_floating_point())
    s = spec(config.model)
    per_epoch = math.ceil(EXAMPLES[s.dataset][0] / config.batch_size)
    total = int(config.epochs * per_epoch)
    flop = forward_flops(net, torch.zeros((1, *s.input_shape)))[0]
    return config, params, float(flop), per_epoch, total, schedule(total, per_epoch,
                                                                   config.checkpoints)


def tasks() -> list[Task]:
    from experiments.models import spec
    from landscapes.app.systems import frankle_iterations

    out: list[Task] = []

    def network(paper: str, name: str, replicates: int, lines: dict[str, int],
                runs_per_replicate: int = 1, step_cost: float = 1.0) -> None:
        config, params, flop, per_epoch, total, saved = _model(name)
        dataset = spec(config.model).dataset
        mb = params * 4 / 1e6
        seen = config.epochs * EXAMPLES[dataset][0]
        out.append(Task(paper, f"train {name} ({config.epochs:g} epochs, {total} it)",
                        replicates * runs_per_replicate, 3 * flop * seen * step_cost, 0.0,
                        len(saved) * mb, f"{len(saved)} checkpoints of {mb:.1f} MB"))
        examples = sum(EXAMPLES[dataset])
        for what, points in lines.items():
            anchors = 2
            if what == "from_iteration":
                starts = len(frankle_iterations(saved, total))
                points, anchors = starts * 100, starts + 1
                what = f"from_iteration ({starts} starts × 100)"
            out.append(Task(paper, f"{name}: {what}", replicates, points * examples * flop,
                            (anchors + 1) * mb, 0.0, f"{points} points"))

    paper = "Frankle 2020"
    for name in ("mnist_mlp", "cifar_resnet20", "cifar_vgg16", "imagenet_resnet50"):
        network(paper, name, 3, {"init_to_final": 100, "from_iteration": 0})
    paper = "Goodfellow 2015"
    for name in ("mnist_maxout_dropout", "mnist_relu_dropout", "mnist_sigmoid_dropout",
                 "mnist_relu"):
        network(paper, name, 2, {"init_to_final + 3 zooms + 2 lines": 100 + 600 + 200,
                                 "from_iteration": 0})
    network(paper, "cifar_maxout", 2, {"init_to_final + zoom_init": 300})
    paper = "Im 2016 (CIFAR-10, 200 epochs)"
    for name in ("cifar_vgg16_dropout", "cifar_nin"):
        # 10 optimizers (4 of them Runge-Kutta: two gradients per step) and 6 switches at
        # 3 points, from 3 inits; 28 barycentric 41×41 surfaces per init (Table 1).
        network(paper, name, 3, {"28 surfaces of 41×41": 28 * 41 * 41},
                runs_per_replicate=10 + 18, step_cost=(6 + 2 * 4 + 18) / 28)
    return out


HEAD = ["paper", "task", "tasks", "GPU-h each", "GPU-h", "to a worker (MB)",
        "back to the client (MB)", "size"]


def cells(t: Task) -> list[str]:
    return [t.paper, t.what, str(t.count), f"{t.hours_each:.3g}", f"{t.gpu_hours:.3g}",
            f"{t.sent_mb:.0f}", f"{t.back_mb:.0f}", t.note]


def summary(rows: Sequence[Task]) -> list[str]:
    """The sweep's totals: GPU-hours, the largest row, the longest task, bytes written."""
    total = sum(t.gpu_hours for t in rows)
    top = max(rows, key=lambda t: t.gpu_hours)
    longest = max((t for t in rows if t.what.startswith("train")), key=lambda t: t.hours_each)
    written = sum(t.count * t.back_mb for t in rows) / 1e3
    return [f"{total:.0f} GPU-h in all; the largest row, {top.what}, is {top.gpu_hours:.0f} "
            f"({top.gpu_hours / total:.0%})",
            f"the longest training task: {longest.what}, {longest.hours_each:.1f} h",
            f"checkpoints written (and, without a shared filesystem, sent to the client): "
            f"{written:.0f} GB"]


def markdown(rows: Sequence[Task]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(cells(t)) + " |" for t in rows]
    return "\n".join(lines)


def write_csv(rows: Sequence[Task], path: Any) -> None:
    import csv
    import io
    from pathlib import Path

    from landscapes import results

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEAD)
    writer.writerows(cells(t) for t in rows)
    results.atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


def main(argv: Sequence[str] | None = None) -> None:
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep_plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, help="also write the table as CSV here "
                        "(the documentation's is docs/scaling/sweep_plan.csv)")
    args = parser.parse_args(argv)
    rows = tasks()
    print(f"assumed sustained rate {TFLOPS:g} TFLOP/s per GPU\n")
    print(markdown(rows))
    print()
    print("\n".join(summary(rows)))
    if args.csv:
        write_csv(rows, args.csv)


if __name__ == "__main__":
    main()
