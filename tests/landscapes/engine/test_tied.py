"""Tied parameters: interpolated once, tied at every point, and checked in the anchors."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.engine.tied import merge_tied, tied_groups

LOGGER = "landscapes.engine"


class TiedLM(nn.Module):
    """Next-token scores with the output layer tied to the token embedding."""

    def __init__(self, vocab: int = 11, width: int = 6) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, width)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab)
        self.head.weight = self.embedding.weight
        self.tied_at_every_call: list[bool] = []

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        # the same tensor object must feed both uses at every point
        self.tied_at_every_call.append(self.head.weight is self.embedding.weight)
        return self.head(torch.tanh(self.mix(self.embedding(tokens).mean(1))))


class TiedSquare(nn.Module):
    """``m[1].weight = m[0].weight`` on a first layer that first-layer reuse would take."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 3))
        self.layers[2].weight = self.layers[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def moved(model: nn.Module, seed: int, scale: float = 0.5) -> nn.Module:
    """A copy of ``model`` with every parameter moved (ties kept: parameters() lists each once)."""
    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return other


def plain_loop(model, path, x, y, batch_size=16):
    """load_state_dict at each point (both tied keys: one tensor), then forward."""
    net = copy.deepcopy(model).eval()
    out = []
    for i in range(len(path)):
        net.load_state_dict(path.point(i))
        total = 0.0
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                total += float(nn.functional.cross_entropy(net(x[s : s + batch_size]), y[s : s + batch_size])) * len(
                    y[s : s + batch_size]
                )
        out.append(total / len(x))
    return np.array(out).reshape(path.shape)


def lm_data(seed=0, n=40):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 11, (n, 7), generator=gen), torch.randint(0, 11, (n,), generator=gen)


def test_state_dict_lists_both_names_and_the_groups_find_them():
    model = TiedLM()
    assert {"embedding.weight", "head.weight"} <= set(model.state_dict())
    assert tied_groups(model) == [("embedding.weight", "head.weight")]
    assert tied_groups(nn.Linear(2, 2)) == []


@pytest.mark.parametrize("kind", ["linear", "plane"])
def test_tied_model_equals_a_load_state_dict_loop(kind):
    torch.manual_seed(0)
    model = TiedLM()
    final = moved(model, 1)
    if kind == "linear":
        path = paths.linear(model.state_dict(), final.state_dict(), [-0.5, 0.0, 0.5, 1.0, 1.5])
    else:  # random directions drawn once for the tied tensor
        path = paths.plane(final, alphas=[-1.0, 0.0, 1.0], betas=[-0.5, 0.5], seed=3)
    x, y = lm_data()
    ds = evaluate(model, path, (x, y), device="cpu", batch_size=16, progress=False)
    np.testing.assert_allclose(ds.loss.values, plain_loop(model, path, x, y), rtol=1e-5)
    assert model.tied_at_every_call and all(model.tied_at_every_call)
    assert model.head.weight is model.embedding.weight  # the model is left as it was


def test_tied_first_layer_turns_reuse_off_and_gives_the_loop_numbers(caplog):
    torch.manual_seed(1)
    model = TiedSquare().double()
    path = paths.linear(model, moved(model, 2), np.linspace(-0.5, 1.5, 5))
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(48, 5, generator=gen, dtype=torch.float64), torch.randint(0, 3, (48,), generator=gen)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(model, path, (x, y), device="cpu", batch_size=16, progress=False)
    assert "'layers.0.weight' is tied to ['layers.2.weight']" in caplog.text
    np.testing.assert_allclose(ds.loss.values, plain_loop(model, path, x, y), rtol=1e-10)


def test_anchors_that_disagree_on_a_tied_pair_are_an_error_naming_both_keys():
    model = TiedLM()
    init = model.state_dict()
    final = {k: v + 0.1 for k, v in init.items()}  # both names moved alike: fine
    x, y = lm_data()
    evaluate(model, paths.linear(init, final, [0.0, 1.0]), (x, y), device="cpu", progress=False)
    final["head.weight"] = final["head.weight"] + 1.0
    with pytest.raises(ValueError, match=r"anchor 'final' has different values for 'embedding.weight' and "
                                          r"'head.weight', which the model ties"):
        evaluate(model, paths.linear(init, final, [0.0, 1.0], names=("init", "final")), (x, y), device="cpu")
    with pytest.raises(ValueError, match=r"reference has different values for 'embedding.weight' and 'head.weight'"):
        evaluate(model, paths.linear(init, init, [0.0]), (x, y), reference=final, device="cpu")


def test_an_anchor_may_name_a_tied_tensor_by_either_name():
    torch.manual_seed(4)
    model = TiedLM()
    final = moved(model, 5)
    x, y = lm_data()
    full = paths.linear(model.state_dict(), final.state_dict(), [0.0, 0.5, 1.0])
    ref = evaluate(model, full, (x, y), device="cpu", progress=False)
    for drop in ("embedding.weight", "head.weight"):
        a = {k: v for k, v in model.state_dict().items() if k != drop}
        b = {k: v for k, v in final.state_dict().items() if k != drop}
        ds = evaluate(model, paths.linear(a, b, [0.0, 0.5, 1.0]), (x, y), device="cpu", progress=False)
        np.testing.assert_allclose(ds.loss.values, ref.loss.values, rtol=1e-6)


def test_merge_keeps_one_name_and_the_first():
    a, b = torch.ones(2), torch.ones(2)
    assert list(merge_tied({"x": a, "h": b, "o": a}, [("h", "x")], "anchor 'a'")) == ["h", "o"]
    assert merge_tied({"x": a}, [("h", "x")], "anchor 'a'")["h"] is a
    untied = {"x": a}
    assert merge_tied(untied, [], "anchor 'a'") is untied
