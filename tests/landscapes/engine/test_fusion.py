"""Folding batch norm into convolutions: the fused module against the model it came from."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call

from landscapes.engine.fusion import FusedConv, fuse


class Block(nn.Module):
    """conv-bn-relu, conv-bn, + shortcut, relu: the residual block of ResNet-20."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.conv2 = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(nn.functional.relu(self.conv1(x)))
        return nn.functional.relu(out + x)


def resnet_like() -> nn.Module:
    """Every pattern fuse() knows: conv-bn-ReLU module, conv-bn-relu function, the
    residual addition, conv-bn alone (with a conv bias and no affine batch norm);
    for 8 × 8 images."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        Block(4),
        nn.Conv2d(4, 4, 1, stride=2), nn.BatchNorm2d(4, affine=False),
        nn.Flatten(), nn.Linear(64, 3),
    )


def perturbed(net: nn.Module, dtype: torch.dtype, seed: int = 0) -> dict[str, torch.Tensor]:
    """A point with batch norm statistics and affine parameters far from the defaults."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, v in net.state_dict().items():
        if not v.is_floating_point():
            out[name] = v
        elif name.endswith("running_var"):
            out[name] = (0.5 + torch.rand(v.shape, generator=gen)).to(dtype)
        else:
            out[name] = (v + 0.5 * torch.randn(v.shape, generator=gen)).to(dtype)
    return out


def test_fuse_finds_every_chain_and_keeps_the_names():
    net = resnet_like().eval()
    fused, what = fuse(net)
    assert what == "4 convolution + batch norm chains fused (3 with ReLU, 1 with a residual addition)"
    parts = [m for m in fused.modules() if isinstance(m, FusedConv)]
    assert [(p.add, p.relu) for p in parts] == [(False, True), (False, True), (True, True), (False, False)]
    # the same names, so functional_call runs it at any point of a path
    assert set(fused.state_dict()) == set(net.state_dict())


@pytest.mark.parametrize("onednn", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_fused_module_equals_the_model_at_any_point(onednn, channels_last, dtype, rtol):
    net = resnet_like().to(dtype).eval()
    fused, _ = fuse(net, onednn=onednn)
    x = torch.randn(6, 2, 8, 8, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for seed in range(3):
            point = perturbed(net, dtype, seed)
            expected = functional_call(net, point, (x,))
            got = functional_call(fused, point, (x,))
            torch.testing.assert_close(got, expected, rtol=rtol, atol=rtol * float(expected.abs().max()))


def test_bfloat16_fused_is_as_close_to_float32_as_bfloat16_unfused():
    torch.manual_seed(0)
    net = resnet_like().eval()
    fused, _ = fuse(net)
    x = torch.randn(32, 2, 8, 8).contiguous(memory_format=torch.channels_last)
    point = perturbed(net, torch.float32)
    with torch.no_grad():
        exact = functional_call(net, point, (x,))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain = functional_call(net, point, (x,)).float()
            both = functional_call(fused, point, (x,)).float()
    scale = float(exact.abs().max())
    # bf16 keeps 8 bits: a few parts in a thousand through five layers
    assert float((plain - exact).abs().max()) < 3e-2 * scale
    assert float((both - exact).abs().max()) < 3e-2 * scale


class TwiceUsed(nn.Module):
    """The convolution's output feeds the batch norm and the head: folding would be wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(x)
        return self.bn(z) + z


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x))
        return y if float(y.sum()) > 0 else -y  # control flow on values


@pytest.mark.parametrize(
    "net, reason",
    [
        (TwiceUsed(), "no convolution is followed by a batch norm"),
        (nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, track_running_stats=False)),
         "no convolution is followed by a batch norm"),
        (Untraceable(), "torch.fx cannot trace"),
    ],
)
def test_nothing_is_fused_where_folding_is_not_exact(net, reason):
    fused, why = fuse(net.eval())
    assert fused is None and reason in why


def test_skipped_layer_and_model_are_left_alone():
    net = resnet_like().eval()
    before = copy.deepcopy(net.state_dict())
    fused, what = fuse(net, skip=frozenset({"0"}))
    assert what.startswith("3 convolution")
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert not any(isinstance(m, FusedConv) for m in net.modules())


class ModeDependent(nn.Module):
    """Reads self.training in Python, which FX bakes into the graph it traces."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        return nn.functional.dropout(y, 0.5, training=self.training)


def test_a_model_in_training_mode_is_traced_as_evaluation_runs_it():
    net = ModeDependent().train()
    fused, _ = fuse(net)
    assert net.training  # the model's own mode is left as it was
    x = torch.randn(4, 2, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net.eval()(x), rtol=1e-5, atol=1e-6)
