"""The benchmark's workloads and the plain per-point loop they are compared with."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from landscapes import evaluate, paths
from landscapes.engine import PRECISIONS

__all__ = ["Workload", "plain_loop", "lenet_workloads", "resnet_workloads", "peer"]


def plain_loop(
    model: nn.Module,
    path: paths.Path,
    x: torch.Tensor,
    y: torch.Tensor,
    points: int | None = None,
    bn_data: torch.Tensor | None = None,
    bn_batches: int = 0,
    batch_size: int = 1000,
    precision: str = "float32",
    device: str = "cpu",
) -> np.ndarray:
    """What a researcher writes by hand: ``load_state_dict`` and a DataLoader pass per
    point (after a cumulative batch norm re-estimate when ``bn_data`` is given), under
    :func:`torch.autocast` for a reduced ``precision``. Returns the loss at the first
    ``points`` points."""
    net = copy.deepcopy(model).to(device).eval()
    x, y = x.to(device), y.to(device)
    bn_data = None if bn_data is None else bn_data.to(device)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size)
    dtype = PRECISIONS[precision]
    autocast = torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)
    out = []
    for i in range(len(path) if points is None else min(points, len(path))):
        net.load_state_dict(path.point(i))
        with torch.no_grad(), autocast:
            if bn_data is not None:
                for m in net.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.reset_running_stats()
                        m.momentum = None
                        m.train()
                for xb, in DataLoader(TensorDataset(bn_data[: bn_batches * batch_size]), batch_size=batch_size):
                    net(xb)
                net.eval()
            total, wrong = 0.0, 0.0
            for xb, yb in loader:
                logits = net(xb).float()
                total += float(nn.functional.cross_entropy(logits, yb)) * len(yb)
                wrong += float((logits.argmax(1) != yb).sum())
        out.append(total / len(x))
    return np.array(out)


@dataclass
class Workload:
    """One row of the table: a model, a path, data, and how the engine is called."""

    name: str
    model: nn.Module
    path: paths.Path
    x: torch.Tensor
    y: torch.Tensor
    batch_size: int = 1000
    bn: str = "interpolate"
    bn_data: torch.Tensor | None = None
    bn_batches: int = 2
    #: Points the plain loop is timed on (its cost is linear in the points); None: all.
    plain_points: int | None = None
    #: Extra :func:`landscapes.evaluate` options, and the relative tolerance they allow.
    options: dict = field(default_factory=dict)
    rtol: float = 1e-4
    #: Precision of both the engine and the plain loop (autocast for reduced ones).
    precision: str = "float32"
    device: str = "cpu"

    @property
    def conv(self) -> bool:
        """Whether the model is a conv net (its peak is the convolution's)."""
        return any(isinstance(m, nn.Conv2d) for m in self.model.modules())

    def engine(self) -> np.ndarray:
        bn_data = None
        if self.bn == "recompute":
            bn_data = (self.bn_data, torch.zeros(len(self.bn_data), dtype=torch.long))
        ds = evaluate(self.model, self.path, (self.x, self.y), device=self.device,
                      batch_size=self.batch_size, bn=self.bn, bn_batches=self.bn_batches,
                      bn_data=bn_data, precision=self.precision, progress=False, **self.options)
        return ds.loss.values.reshape(-1)

    def plain(self) -> np.ndarray:
        bn_data = self.bn_data if self.bn == "recompute" else None
        return plain_loop(self.model, self.path, self.x, self.y, self.plain_points, bn_data,
                          self.bn_batches, self.batch_size, self.precision, self.device)

    @property
    def plain_fraction(self) -> float:
        """Share of the points the plain loop is timed on."""
        n = len(self.path)
        return min(self.plain_points or n, n) / n

    @property
    def examples_per_point(self) -> int:
        extra = self.bn_batches * self.batch_size if self.bn == "recompute" else 0
        return len(self.x) + extra


def _pair(builder: Callable[[], nn.Module], seed: int) -> tuple[nn.Module, dict, dict]:
    torch.manual_seed(seed)
    model = builder()
    a = copy.deepcopy(model.state_dict())
    torch.manual_seed(seed + 1)
    b = copy.deepcopy(builder().state_dict())
    return model, a, b


def lenet_workloads(
    builder: Callable[[], nn.Module],
    test: tuple[torch.Tensor, torch.Tensor],
    train: tuple[torch.Tensor, torch.Tensor] | None,
    alphas: int = 100,
    side: int = 25,
    plain_points: int | None = None,
) -> list[Workload]:
    """LeNet-300-100 on MNIST: 100 α on the test and train sets, and a side × side plane."""
    model, a, b = _pair(builder, 0)
    line = paths.linear(a, b, np.linspace(0, 1, alphas))
    grid = np.linspace(-1, 1, side)
    plane = paths.plane(b, alphas=grid, betas=grid, seed=0)
    name = f"LeNet-300-100, MNIST test {len(test[0])}, {alphas} α"
    out = [
        Workload(name, model, line, *test),
        Workload(f"{name}, precision=bfloat16", model, line, *test, precision="bfloat16", rtol=5e-2),
    ]
    if train is not None:
        out.append(Workload(f"LeNet-300-100, MNIST train {len(train[0])}, {alphas} α", model, line,
                            *train, plain_points=plain_points))
    out.append(Workload(f"LeNet-300-100, MNIST test {len(test[0])}, {side}×{side} plane", model,
                        plane, *test, plain_points=plain_points))
    return out


def resnet_workloads(
    builder: Callable[[], nn.Module], examples: int, alphas: int = 20, batch_size: int = 128,
    plain_points: int | None = None,
) -> list[Workload]:
    """A ResNet-20-sized conv net with batch norm on CIFAR-shaped random tensors, both
    batch norm modes, in float32 and bfloat16 (each against the plain loop in the same
    precision)."""
    model, a, b = _pair(builder, 0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(examples, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (examples,), generator=gen)
    bn_data = torch.randn(2 * batch_size, 3, 32, 32, generator=gen)
    line = paths.linear(a, b, np.linspace(0, 1, alphas))
    name = f"ResNet-20 (BN), CIFAR-shaped {examples}, {alphas} α"
    out = []
    for bn in ("interpolate", "recompute"):
        for precision, rtol in (("float32", 1e-4), ("bfloat16", 5e-2)):
            out.append(Workload(f"{name}, bn={bn}, {precision}", model, line, x, y, batch_size, bn,
                                bn_data, plain_points=plain_points, precision=precision, rtol=rtol))
    return out


def peer(work: Workload) -> Callable[[], object] | None:
    """``loss_landscapes.linear_interpolation`` on a linear workload, as its documentation
    intends (one ``Loss`` metric over the whole tensor); ``None`` when not installed."""
    try:
        import loss_landscapes
        import loss_landscapes.metrics
    except ImportError:
        return None
    start, end = copy.deepcopy(work.model), copy.deepcopy(work.model)
    start.load_state_dict(work.path.anchors[0])
    end.load_state_dict(work.path.anchors[1])
    metric = loss_landscapes.metrics.Loss(nn.functional.cross_entropy, work.x, work.y)

    def run() -> object:
        return loss_landscapes.linear_interpolation(
            start, end, metric, steps=len(work.path), deepcopy_model=True
        )

    return run
