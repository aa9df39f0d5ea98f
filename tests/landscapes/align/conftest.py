"""Shared nets of the alignment tests, and two small MLPs trained on real MNIST from two seeds.

The helpers reach the tests as the ``align_tools`` fixture (test files import nothing
from each other)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _train(seed: int, x: torch.Tensor, y: torch.Tensor, steps: int = 400) -> nn.Sequential:
    torch.manual_seed(seed)
    net = mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
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


def busy_batchnorm(net: nn.Module) -> nn.Module:
    # Fresh running statistics are 0 and 1: permuting them wrongly would go unseen.
    generator = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator))
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            if m.affine:
                m.bias.data.copy_(torch.randn(m.num_features, generator=generator))
    return net


class TinyVGG(nn.Module):
    """conv-bn-relu ×2, max pool, conv-bn-relu, a flattened 7×7 map into a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Linear(6 * 7 * 7, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).view(x.shape[0], -1))


class TiedLM(nn.Module):
    """Embedding, a residual MLP with layer norm, and a head tied to the embedding."""

    def __init__(self, vocab: int = 20, width: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.norm = nn.LayerNorm(width)
        self.up, self.down = nn.Linear(width, 32), nn.Linear(32, width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        h = h + self.down(torch.relu(self.up(self.norm(h))))
        return self.head(h)




@pytest.fixture(scope="session")
def align_tools() -> SimpleNamespace:
    """The helpers above: ``mlp``, ``TinyVGG``, ``TiedLM``, ``busy_batchnorm``,
    ``line_losses`` and ``barrier``."""
    return SimpleNamespace(mlp=mlp, TinyVGG=TinyVGG, TiedLM=TiedLM, busy_batchnorm=busy_batchnorm,
                           line_losses=line_losses, barrier=barrier)
