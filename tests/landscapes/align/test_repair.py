"""REPAIR and the batch-norm reset: statistics match their targets, barriers fall."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landscapes.align import (
    CORRECTIONS,
    correct,
    interpolate,
    repair,
    reset_batchnorm,
    weight_matching,
)
from landscapes.align.repair import unit_statistics



def test_repaired_units_have_the_interpolated_statistics(trained_pair):
    a, b, (x, _), _ = trained_pair
    sa, sb = a.state_dict(), dict(weight_matching(a, b))
    batches = [x[i:i + 500] for i in range(0, 2000, 500)]
    fixed = repair(a, interpolate(sa, sb, 0.3), (sa, sb), 0.3, batches)
    ends = [unit_statistics(a, s, ["0", "2"], batches) for s in (sa, sb)]
    got = unit_statistics(a, fixed, ["0", "2"], batches)
    plain = unit_statistics(a, interpolate(sa, sb, 0.3), ["0", "2"], batches)
    for layer in ("0", "2"):
        target = 0.7 * ends[0][layer][1] + 0.3 * ends[1][layer][1]
        assert torch.allclose(got[layer][1], target, rtol=1e-4, atol=1e-6)
        target_mean = 0.7 * ends[0][layer][0] + 0.3 * ends[1][layer][0]
        assert torch.allclose(got[layer][0], target_mean, atol=1e-5)
    # The collapse REPAIR undoes: the plain midpoint's second layer has less variance.
    assert plain["2"][1].mean() < got["2"][1].mean()


def test_repair_lowers_the_aligned_barrier_further(trained_pair, align_tools):
    T = align_tools
    a, b, (x, _), (xt, yt) = trained_pair
    sa, sb = a.state_dict(), dict(weight_matching(a, b))
    batches = [x[i:i + 500] for i in range(0, 4000, 500)]
    plain = T.barrier(T.line_losses(a, sa, sb, xt, yt))
    def fix(state, alpha):
        return repair(a, state, (sa, sb), alpha, batches)

    repaired = T.barrier(T.line_losses(a, sa, sb, xt, yt, fix=fix))
    assert repaired < plain


def test_reset_recomputes_batch_norm_of_an_interpolated_net(align_tools):
    T = align_tools
    torch.manual_seed(0)
    a, b = T.TinyVGG(), T.TinyVGG()
    x = torch.randn(64, 1, 28, 28)
    mid = interpolate(a.state_dict(), b.state_dict(), 0.5)
    fresh = reset_batchnorm(a, mid, [x[:32], x[32:]])
    probe = T.TinyVGG()
    probe.load_state_dict(mid)
    pre = probe.features[0](x)
    assert torch.allclose(fresh["features.1.running_mean"], pre.mean((0, 2, 3)).detach(), atol=1e-5)
    assert not torch.allclose(fresh["features.1.running_mean"], mid["features.1.running_mean"])


def test_correct_offers_each_method(align_tools):
    T = align_tools
    torch.manual_seed(0)
    net = T.TinyVGG()
    sa, sb = net.state_dict(), T.TinyVGG().state_dict()
    x = torch.randn(16, 1, 28, 28)
    points = {m: correct(net, sa, sb, 0.5, x, method=m) for m in CORRECTIONS}
    assert all(torch.equal(points["none"][k], v) for k, v in interpolate(sa, sb, 0.5).items())
    key = "features.1.running_var"
    assert not torch.equal(points["reset"][key], points["none"][key])
    # A head layer with a bias and no batch norm after it: REPAIR rescales it too.
    assert not torch.equal(points["repair"]["head.0.weight"], points["reset"]["head.0.weight"])
    with pytest.raises(ValueError, match="unknown correction 'bn'"):
        correct(net, sa, sb, 0.5, x, method="bn")
    with pytest.raises(ValueError, match="needs data"):
        correct(net, sa, sb, 0.5, method="reset")
    with pytest.raises(ValueError, match="no batch norm"):
        reset_batchnorm(nn.Linear(2, 2), nn.Linear(2, 2).state_dict(), x)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 2"):
        repair(net, sa, (sa, sb), 2, x)
