"""The derived specs: every family of experiments.models and hand-built nets keep their function."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from experiments.models import build
from landscapes.anchors import shared_entries
from landscapes.align import (
    UnsupportedModel,
    apply_permutation,
    check_function,
    permutation_spec,
    random_permutation,
)


def _preserved(net: nn.Module, seed: int = 1, example: torch.Tensor | None = None) -> float:
    spec = permutation_spec(net, example)
    state = net.state_dict()
    permuted = apply_permutation(spec, random_permutation(spec, seed), state)
    moved = [k for k in state if not torch.equal(permuted[k], state[k])]
    assert moved, "the random permutation moved nothing: the check would be empty"
    batch = torch.cat([spec.example] * 4) if example is None else example
    return check_function(net, state, permuted, batch).relative_error


@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_sigmoid", "mnist_maxout", "mnist_resnet20",
                                  "mnist_resnet20_nobn", "mnist_vgg16", "mnist_vgg16_dropout",
                                  "mnist_nin", "cifar_maxout"])
def test_every_family_keeps_its_function(name, align_tools):
    T = align_tools
    torch.manual_seed(0)
    net = T.busy_batchnorm(build(name)).eval()
    if name == "mnist_sigmoid":
        nn.init.normal_(net[-1].weight)  # its output layer starts at zero: nothing to compare
    assert _preserved(net) < 1e-10


def test_resnet20_residual_streams_are_one_group_each():
    torch.manual_seed(0)
    net = build("mnist_resnet20")
    spec = permutation_spec(net)
    def makes_stream(a):
        return a.axis == 0 and (a.key.endswith("shortcut.0.weight") or a.key == "stem.0.0.weight")

    streams = [g for g in spec.groups if any(makes_stream(a) for a in g.axes)]
    assert [g.size for g in streams] == [16, 32, 64]
    first = streams[0]
    keys = {a.key for a in first.axes}
    # The stem, every block's second conv of stage 1 and stage 2's projection read it.
    assert {"stem.0.0.weight", "stages.0.conv2.0.weight", "stages.2.conv2.1.running_var",
            "stages.3.shortcut.0.weight", "stages.3.conv1.0.weight"} <= keys
    # Three streams and one inner group per block.
    assert len(spec.groups) == 3 + 9


def test_batch_norm_statistics_move_with_their_channels(align_tools):
    T = align_tools
    net = T.TinyVGG()
    spec = permutation_spec(net)
    axes = {(a.key, a.axis, a.parameter) for a in spec.groups[0].axes}
    assert {("features.1.running_mean", 0, False), ("features.1.running_var", 0, False),
            ("features.1.weight", 0, True)} <= axes


def test_a_flattened_map_moves_in_blocks(align_tools):
    T = align_tools
    spec = permutation_spec(T.TinyVGG())
    [axis] = [a for g in spec.groups for a in g.axes if a.key == "head.0.weight" and a.axis == 1]
    assert axis.block == 49


def test_tied_embedding_model(align_tools):
    T = align_tools
    torch.manual_seed(0)
    net = T.TiedLM().eval()
    spec = permutation_spec(net)
    stream = spec["embed"]
    keys = {(a.key, a.axis) for a in stream.axes}
    assert {("embed.weight", 1), ("head.weight", 1), ("norm.weight", 0), ("down.weight", 0)} <= keys
    assert ("embed.weight", 0) not in keys  # the vocabulary never moves
    assert _preserved(net) < 1e-10


def test_tied_state_stays_tied(align_tools):
    T = align_tools
    net = T.TiedLM()
    spec = permutation_spec(net)
    permuted = apply_permutation(spec, random_permutation(spec, 2), net.state_dict())
    assert torch.equal(permuted["embed.weight"], permuted["head.weight"])
    assert shared_entries(permuted) == [("embed.weight", "head.weight")]  # still one tensor


def test_untraceable_sequential_falls_back_to_its_layers():
    class Branchy(nn.Module):  # data-dependent control flow: fx cannot trace it
        def forward(self, x):
            return x if x.sum() > -1e9 else -x

    net = nn.Sequential(nn.Linear(3, 5), Branchy(), nn.Linear(5, 2))
    with pytest.raises(UnsupportedModel, match=r"layer '1' \(Branchy\)"):
        permutation_spec(net)
    plain = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    assert permutation_spec(plain).traced


@pytest.mark.parametrize("net, match", [
    (nn.Sequential(nn.Linear(4, 8), nn.LSTM(8, 8)), r"layer '1' \(LSTM\) has no permutation rule"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, groups=2), nn.Flatten()),
     r"layer '1' \(Conv2d\) is a grouped convolution"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8)), r"normalises 2 groups"),
])
def test_unsupported_layers_name_themselves(net, match):
    with pytest.raises(UnsupportedModel, match=match):
        permutation_spec(net)


def test_an_unknown_operation_on_hidden_units_is_refused():
    class Cumulative(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(3, 6), nn.Linear(6, 2)

        def forward(self, x):
            return self.fc2(torch.cumsum(self.fc1(x), dim=1))  # order-dependent over units

    with pytest.raises(UnsupportedModel, match=r"operation 'cumsum'.*no permutation rule"):
        permutation_spec(Cumulative())


def test_untraceable_model_that_is_no_sequential():
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x

    with pytest.raises(UnsupportedModel, match="torch.fx could not trace it"):
        permutation_spec(Branchy())


def test_bad_arguments():
    with pytest.raises(TypeError, match="nn.Module"):
        permutation_spec({"w": torch.zeros(2)})
    with pytest.raises(UnsupportedModel, match="does not run on the example"):
        permutation_spec(nn.Linear(3, 2), torch.zeros(2, 4))


@given(widths=st.lists(st.integers(2, 9), min_size=1, max_size=4),
       activation=st.sampled_from([nn.ReLU, nn.Tanh, nn.GELU]),
       batch_norm=st.booleans(), seed=st.integers(0, 1000))
def test_random_mlps_keep_their_function(widths, activation, batch_norm, seed, align_tools):
    T = align_tools
    torch.manual_seed(seed)
    layers, width = [], 5
    for w in widths:
        norm = [nn.BatchNorm1d(w)] if batch_norm else []
        layers += [nn.Linear(width, w), *norm, activation()]
        width = w
    net = T.busy_batchnorm(nn.Sequential(*layers, nn.Linear(width, 3))).eval()
    spec = permutation_spec(net)
    assert [g.size for g in spec.groups] == widths
    state = net.state_dict()
    permuted = apply_permutation(spec, random_permutation(spec, seed), state)
    assert check_function(net, state, permuted, torch.randn(8, 5)).relative_error < 1e-10


@given(channels=st.lists(st.integers(2, 6), min_size=1, max_size=3), kernel=st.sampled_from([1, 3]),
       pool=st.sampled_from(["max", "avg", "none"]), seed=st.integers(0, 1000))
def test_random_conv_nets_keep_their_function(channels, kernel, pool, seed, align_tools):
    T = align_tools
    torch.manual_seed(seed)
    layers, c = [], 2
    for out in channels:
        layers += [nn.Conv2d(c, out, kernel, padding=kernel // 2), nn.BatchNorm2d(out), nn.ReLU()]
        if pool != "none":
            layers.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
        c = out
    side = 8 // (2 ** len(channels)) if pool != "none" else 8
    head = [nn.Flatten(), nn.Linear(c * side * side, 3)]
    net = T.busy_batchnorm(nn.Sequential(*layers, *head)).eval()
    x = torch.randn(4, 2, 8, 8)
    spec = permutation_spec(net, x)
    state = net.state_dict()
    permuted = apply_permutation(spec, random_permutation(spec, seed), state)
    assert check_function(net, state, permuted, x).relative_error < 1e-10


def test_an_unbatched_conv_input_moves_its_channel_axis():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 5, 3), nn.ReLU(), nn.Conv2d(5, 3, 3)).eval()
    x = torch.randn(2, 9, 9)  # one image, no batch axis: channels are axis 0
    spec = permutation_spec(net, x)
    assert [(g.name, g.size) for g in spec.groups] == [("0", 5)]
    assert _preserved(net, example=x) < 1e-10


def test_channels_last_layers_through_permute_and_transpose():
    class ChannelsLast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 1)
            self.mix = nn.Linear(6, 6)
            self.out = nn.Conv2d(6, 2, 1)

        def forward(self, x):
            h = torch.relu(self.conv(x)).permute(0, 2, 3, 1)  # (N, H, W, C)
            h = torch.relu(self.mix(h)).transpose(1, 3).transpose(2, 3)  # back to (N, C, H, W)
            return self.out(h)

    torch.manual_seed(0)
    net = ChannelsLast().eval()
    x = torch.randn(4, 3, 5, 5)
    spec = permutation_spec(net, x)
    assert sorted(g.name for g in spec.groups) == ["conv", "mix"]
    assert _preserved(net, example=x) < 1e-10
