"""Engine sessions (state kept across evaluate calls) and per-example losses."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.engine import session


def mlp_line(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)
    a = copy.deepcopy(net.state_dict())
    b = {k: v + 0.5 * torch.randn_like(v) for k, v in a.items()}
    gen = torch.Generator().manual_seed(seed + 1)
    x, y = torch.randn(50, 6, generator=gen, dtype=dtype), torch.randint(0, 3, (50,), generator=gen)
    return net, paths.linear(a, b, [0.0, 1.0]), (x, y)


def conv_bn_line(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Flatten(), nn.Linear(64, 3)).double()
    a = copy.deepcopy(net.state_dict())
    b = {k: (v + 0.3 * torch.randn_like(v)).abs() if k.endswith("running_var")
         else v + 0.3 * torch.randn_like(v) if v.is_floating_point() else v for k, v in a.items()}
    gen = torch.Generator().manual_seed(seed + 1)
    x, y = torch.randn(40, 2, 4, 4, generator=gen, dtype=torch.float64), torch.randint(0, 3, (40,), generator=gen)
    return net, paths.linear(a, b, [0.0, 1.0]), (x, y)


@pytest.mark.parametrize("make", [mlp_line, conv_bn_line])
def test_session_gives_the_same_numbers_and_reuses_state(make):
    net, line, data = make()
    rounds = [np.linspace(-0.5, 1.5, 5), [0.25, 0.3], [0.9]]
    alone = [evaluate(net, line.resampled(r), data, device="cpu", batch_size=16, progress=False)
             for r in rounds]
    with session() as s:
        inside = [evaluate(net, line.resampled(r), data, device="cpu", batch_size=16, progress=False)
                  for r in rounds]
    for one, two in zip(alone, inside):
        np.testing.assert_array_equal(one.loss.values, two.loss.values)
        np.testing.assert_array_equal(one.error.values, two.error.values)
    assert s.hits >= 2 * (len(rounds) - 1)  # model, anchors and runner, at least
    assert s.used == 0 and not s._store  # emptied on exit


def test_session_serves_no_stale_first_layer_outputs():
    net, line, (x, y) = mlp_line()
    with session() as s:
        before = evaluate(net, line, (x, y), device="cpu", batch_size=16, progress=False)
        assert s.used > 0  # the anchors' first-layer outputs are kept
        x.mul_(2.0)  # in place: the version counter moves on
        after = evaluate(net, line, (x, y), device="cpu", batch_size=16, progress=False)
    fresh = evaluate(net, line, (x, y), device="cpu", batch_size=16, progress=False)
    np.testing.assert_array_equal(after.loss.values, fresh.loss.values)
    assert not np.allclose(after.loss.values, before.loss.values)


def test_session_memory_cap_keeps_results():
    net, line, data = mlp_line()
    ref = evaluate(net, line, data, device="cpu", batch_size=16, progress=False)
    with session(memory=0) as s:
        for _ in range(2):
            ds = evaluate(net, line, data, device="cpu", batch_size=16, progress=False)
            np.testing.assert_array_equal(ds.loss.values, ref.loss.values)
        assert s.used == 0
    with pytest.raises(ValueError, match="memory must be a number of bytes"):
        with session(memory=-1):
            pass


def test_resampled_needs_a_line():
    net, line, _ = mlp_line()
    plane = paths.plane(line.anchors[0], alphas=[0.0, 1.0], betas=[0.0, 1.0], seed=0)
    with pytest.raises(ValueError, match="resampled needs a line"):
        plane.resampled([0.5])
    half = line.resampled([0.5])
    assert half.anchors is line.anchors and half.kind == "linear"
    np.testing.assert_allclose(half.distance(), 0.5 * line.distance()[1])


@pytest.mark.parametrize(
    "loss_fn, kind",
    [(None, "cross entropy"), (nn.CrossEntropyLoss(reduction="sum"), "summed"),
     (nn.functional.cross_entropy, "functional"), (nn.CrossEntropyLoss(label_smoothing=0.1), "module")],
)
def test_per_example_losses_average_to_the_loss(loss_fn, kind):
    net, line, data = mlp_line()
    ds = evaluate(net, line.resampled([0.0, 0.4, 1.0]), data, loss_fn=loss_fn, per_example=True,
                  device="cpu", batch_size=16, progress=False)
    each = ds.loss_per_example
    assert each.dims == ("alpha", "example") and each.sizes["example"] == 50
    np.testing.assert_allclose(each.mean("example").values, ds.loss.values, rtol=1e-12)
    assert (each.values >= 0).all()


def test_per_example_for_a_conv_net_with_folded_batch_norm():
    net, line, data = conv_bn_line()
    ds = evaluate(net, line.resampled([0.0, 0.5, 1.0]), data, per_example=True, device="cpu",
                  batch_size=16, progress=False)
    np.testing.assert_allclose(ds.loss_per_example.mean("example").values, ds.loss.values, rtol=1e-12)


def test_per_example_over_splits_of_different_sizes_pads_the_shorter_with_nan():
    net, line, (x, y) = mlp_line()
    data = {"train": (x, y), "test": (x[:30], y[:30])}
    ds = evaluate(net, line.resampled([0.0, 0.5, 1.0]), data, per_example=True, device="cpu",
                  batch_size=16, progress=False)
    each = ds.loss_per_example
    assert each.dims == ("split", "alpha", "example") and each.sizes["example"] == 50
    test = each.sel(split="test")
    assert np.isnan(test.isel(example=slice(30, None))).all()
    assert np.isfinite(test.isel(example=slice(None, 30))).all()
    np.testing.assert_allclose(each.mean("example", skipna=True).values, ds.loss.values,
                               rtol=1e-12)


def test_per_example_refuses_a_loss_that_does_not_say_how_it_reduces():
    net, line, data = mlp_line()
    with pytest.raises(ValueError, match="per_example=True needs a loss that says"):
        evaluate(net, line, data, per_example=True, device="cpu", progress=False,
                 loss_fn=lambda o, t: (o - 1).pow(2).mean())
