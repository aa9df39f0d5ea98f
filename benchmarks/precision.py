"""What bfloat16 evaluation does to losses and barriers, against float32.

``python -m benchmarks.precision`` evaluates the same lines in both precisions:

- LeNet-300-100 on the MNIST test set (runs trained for ``--epochs``, or reused from
  the run store): init→final and final→final;
- ResNet-20 with batch norm on Fashion-MNIST (padded to 32 × 32, three channels),
  two replicates trained briefly here (``--iterations``), on 1,024 test images:
  init→final and final→final, with ``bn="interpolate"`` and ``bn="recompute"``.

For each it prints the largest difference of the loss curves (relative to the
float32 loss, and relative to the line's init→final loss range) and the rise and
linear barriers in both precisions.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from landscapes import evaluate, metrics, paths

__all__ = ["compare_precisions", "fashion_images", "train_resnet"]


def compare_precisions(name: str, model: nn.Module, line: paths.Path, data: tuple, scale: float,
                       **options: object) -> dict:
    """Loss curves and barriers of ``line`` in float32 and bfloat16."""
    curves = {p: evaluate(model, line, data, precision=p, device="cpu", progress=False, **options)
              for p in ("float32", "bfloat16")}
    full, half = curves["float32"].loss, curves["bfloat16"].loss
    diff = np.abs(half.values - full.values)
    row = {"line": name, "max_rel": float((diff / np.abs(full.values)).max()),
           "max_over_range": float(diff.max() / scale)}
    for kind, fn in (("rise", metrics.rise_barrier), ("linear", metrics.linear_barrier)):
        row[f"{kind}_float32"] = float(fn(full).height)
        row[f"{kind}_bfloat16"] = float(fn(half).height)
    return row


def markdown(rows: Sequence[dict]) -> str:
    """The rows as a markdown table.

    Examples
    --------
    >>> row = dict(line="l", max_rel=1e-3, max_over_range=2e-4, rise_float32=0.5,
    ...            rise_bfloat16=0.501, linear_float32=0.25, linear_bfloat16=0.249)
    >>> print(markdown([row]).splitlines()[2])
    | l | 1.0e-03 | 2.0e-04 | 0.5000 / 0.5010 | 0.2500 / 0.2490 |
    """
    head = ["line", "max |Δloss| ÷ loss", "max |Δloss| ÷ init→final range",
            "rise barrier f32 / bf16", "linear barrier f32 / bf16"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append(f"| {r['line']} | {r['max_rel']:.1e} | {r['max_over_range']:.1e} | "
                   f"{r['rise_float32']:.4f} / {r['rise_bfloat16']:.4f} | "
                   f"{r['linear_float32']:.4f} / {r['linear_bfloat16']:.4f} |")
    return "\n".join(out)


def fashion_images(split: str, data_dir: str | None = None, n: int | None = None) -> tuple:
    """Fashion-MNIST as CIFAR-shaped images: padded to 32 × 32, the channel repeated."""
    from experiments.data import load_mnist

    x, y = load_mnist(split, dataset="fashion_mnist", data_dir=data_dir)
    if n is not None:
        x, y = x[:n], y[:n]
    x = nn.functional.pad(x.reshape(-1, 1, 28, 28), (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    return x, y


def train_resnet(seed: int, x: torch.Tensor, y: torch.Tensor, iterations: int) -> tuple[dict, dict]:
    """ResNet-20's init and its weights after ``iterations`` SGD steps (batch 128,
    momentum 0.9, lr 0.05; bf16 autocast and channels-last, for speed)."""
    from experiments.models import build

    torch.manual_seed(seed)
    net = build("cifar_resnet20").to(memory_format=torch.channels_last)
    init = copy.deepcopy(net.state_dict())
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(iterations):
        idx = torch.randint(0, len(x), (128,), generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(net(x[idx].contiguous(memory_format=torch.channels_last)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return init, {k: v.contiguous() for k, v in net.state_dict().items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.precision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=1.0, help="LeNet training epochs")
    parser.add_argument("--iterations", type=int, default=300, help="ResNet-20 training steps")
    parser.add_argument("--alphas", type=int, default=21)
    parser.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA)")
    args = parser.parse_args(argv)

    from benchmarks.adaptive import train_lenet
    from experiments.data import load_mnist
    from experiments.models import build

    alphas = np.linspace(0, 1, args.alphas)
    rows = []
    runs = train_lenet(args.epochs, 2, args.data_dir)
    test = load_mnist("test", data_dir=args.data_dir, flatten=True)
    lenet = build("mnist_mlp")
    ends = [run.final for run in runs]
    ends_loss = evaluate(lenet, paths.linear(runs[0].init, ends[0], [0.0, 1.0]), test, device="cpu",
                         progress=False).loss.values
    scale = abs(float(ends_loss[0] - ends_loss[1]))
    rows.append(compare_precisions("LeNet-300-100 init→final", lenet,
                                   paths.linear(runs[0].init, ends[0], alphas), test, scale))
    rows.append(compare_precisions("LeNet-300-100 final→final", lenet,
                                   paths.linear(ends[0], ends[1], alphas), test, scale))

    train = fashion_images("train", args.data_dir, 10_000)
    test = fashion_images("test", args.data_dir, 1024)
    trained = [train_resnet(seed, *train, args.iterations) for seed in (0, 1)]
    resnet = build("cifar_resnet20")
    bn_data = (train[0][:256], train[1][:256])
    for bn in ("interpolate", "recompute"):
        options = {"bn": bn, "batch_size": 128, "bn_data": bn_data, "bn_batches": 2}
        ends_loss = evaluate(resnet, paths.linear(trained[0][0], trained[0][1], [0.0, 1.0]), test,
                             device="cpu", progress=False, **options).loss
        scale = abs(float(ends_loss[0] - ends_loss[1]))
        rows.append(compare_precisions(f"ResNet-20 Fashion-MNIST init→final, bn={bn}", resnet,
                                       paths.linear(trained[0][0], trained[0][1], alphas), test, scale,
                                       **options))
        rows.append(compare_precisions(f"ResNet-20 Fashion-MNIST final→final, bn={bn}", resnet,
                                       paths.linear(trained[0][1], trained[1][1], alphas), test, scale,
                                       **options))
        print(markdown(rows).splitlines()[-1], flush=True)
    print(f"\nload average {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
