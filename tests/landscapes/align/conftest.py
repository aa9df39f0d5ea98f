"""Two small MLPs trained on real MNIST from different seeds: the pair alignment is for."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _train(seed: int, x: torch.Tensor, y: torch.Tensor, steps: int = 400) -> nn.Sequential:
    torch.manual_seed(seed)
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(0, len(x), (64,), generator=order)
        opt.zero_grad()
        nn.functional.cross_entropy(net(x[index]), y[index]).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="session")
def trained_pair(mnist_train, mnist_test):
    """``(a, b, (x_train, y_train), (x_test, y_test))``: 400 SGD steps each, seeds 0 and 1."""
    x, y = mnist_train
    x, y = x[:10_000], y[:10_000]
    return _train(0, x, y), _train(1, x, y), (x, y), (mnist_test[0][:2000], mnist_test[1][:2000])


def line_losses(net: nn.Module, a: dict, b: dict, x: torch.Tensor, y: torch.Tensor,
                points: int = 11, fix=None) -> torch.Tensor:
    """Test loss along ``(1 - α) a + α b``; ``fix(state, α)`` corrects each point first."""
    import copy

    from landscapes.align import interpolate

    probe = copy.deepcopy(net)
    out = []
    for alpha in torch.linspace(0, 1, points).tolist():
        state = interpolate(a, b, alpha)
        probe.load_state_dict(fix(state, alpha) if fix else state)
        with torch.no_grad():
            out.append(float(nn.functional.cross_entropy(probe.eval()(x), y)))
    return torch.tensor(out)


def barrier(losses: torch.Tensor) -> float:
    """Largest rise of the loss above the straight line between the endpoints' losses."""
    alphas = torch.linspace(0, 1, len(losses))
    return float((losses - ((1 - alphas) * losses[0] + alphas * losses[-1])).max())
