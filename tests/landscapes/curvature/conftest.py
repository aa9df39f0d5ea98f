"""Small float64 models and their exact Hessians (torch.func.hessian), for the curvature tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian


class Tied(nn.Module):
    """A tiny language model whose output layer is its embedding (one tensor)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.mix = nn.Linear(3, 3)
        self.head = nn.Linear(3, 5, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.mix(self.embed(tokens))))


class DictOut(nn.Module):
    """Returns a dict, as Hugging Face models do."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.body(x), "features": x}


def flat_hessian(params: dict[str, torch.Tensor], loss: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> torch.Tensor:
    """The Hessian of ``loss`` over ``params`` flattened in their order."""
    names = list(params)
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    theta = torch.cat([params[n].detach().reshape(-1) for n in names])

    def f(flat: torch.Tensor) -> torch.Tensor:
        return loss({n: t.view(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)})

    return hessian(f)(theta)


def model_hessian(net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None, read=None) -> torch.Tensor:
    """Exact Hessian over ``net``'s parameters (each tied tensor once) of the eval-mode mean loss."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    read = read or (lambda out: out)
    params = dict(net.named_parameters())
    buffers = dict(net.named_buffers())
    net.eval()
    return flat_hessian(params, lambda p: loss_fn(read(functional_call(net, {**buffers, **p}, (x,))), y))


@pytest.fixture
def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(60, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (60,))
    return net, x, y


@pytest.fixture
def bn_net() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2)).double()
    net[1].running_mean.copy_(torch.randn(4))
    net[1].running_var.copy_(torch.rand(4) + 0.5)
    net[1].weight.data.normal_()
    x = torch.randn(40, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    return net.eval(), x, y


@pytest.fixture
def exact():
    """The helpers above, for test modules (conftest is not importable under importlib mode)."""
    import types

    return types.SimpleNamespace(flat_hessian=flat_hessian, model_hessian=model_hessian, Tied=Tied,
                                 DictOut=DictOut)
