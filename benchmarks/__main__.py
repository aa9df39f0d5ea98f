"""``python -m benchmarks``: engine vs the plain per-point loop on real MNIST.

Each workload runs a warm-up and then ``--repeats`` timed runs of both the reference
(``load_state_dict`` at each point, then a DataLoader over the data) and the engine, in
the same process; the table reports medians and their ratio, since these machines are
shared and noisy.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from experiments.data import load_mnist
from experiments.models import lenet_300_100
from landscapes import evaluate, paths


def plain_loop(model: nn.Module, path: paths.Path, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """What a researcher writes by hand: one load_state_dict and one pass per point."""
    net = copy.deepcopy(model).eval()
    loader = DataLoader(TensorDataset(x, y), batch_size=1000)
    out = []
    for i in range(len(path)):
        net.load_state_dict(path.point(i))
        total = 0.0
        with torch.no_grad():
            for xb, yb in loader:
                total += float(nn.functional.cross_entropy(net(xb), yb)) * len(yb)
        out.append(total / len(x))
    return np.array(out)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = load_mnist("test", data_dir=args.data_dir, flatten=True)
    model = lenet_300_100()
    a = copy.deepcopy(model.state_dict())
    b = {k: v + 0.1 * torch.randn_like(v) for k, v in a.items()}
    path = paths.linear(a, b, np.linspace(0, 1, args.points))
    engine = lambda: evaluate(model, path, (x, y), device="cpu", progress=False)  # noqa: E731
    ref = plain_loop(model, path, x, y)
    got = engine().loss.values
    np.testing.assert_allclose(got, ref, rtol=1e-5)  # same numbers before any timing
    t_plain = median_time(lambda: plain_loop(model, path, x, y), args.repeats)
    t_engine = median_time(engine, args.repeats)
    print(f"{'workload':48s} {'plain s':>8s} {'engine s':>9s} {'ratio':>6s}")
    name = f"LeNet-300-100, MNIST test 10k, {args.points} alpha"
    print(f"{name:48s} {t_plain:8.2f} {t_engine:9.2f} {t_plain / t_engine:6.2f}")


if __name__ == "__main__":
    main()
