"""Batch norm's two objectives and the per-layer blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd.functional import hessian as autograd_hessian

from landscapes import curvature
from landscapes.curvature.objective import block_groups


def _flat_params(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def _hvp_flat(net, data, v, **kw):
    names = [n for n, _ in net.named_parameters()]
    out = curvature.hvp(net, data, {n: t for n, t in zip(names, _split(net, v))}, device="cpu", **kw)
    return torch.cat([out[n].reshape(-1) for n in names])


def _split(net, flat):
    shapes = [p.shape for p in net.parameters()]
    return [t.view(s) for t, s in zip(torch.split(flat, [p.numel() for p in net.parameters()]), shapes)]


def _train_mode_hessian(net, x, y, batch_size):
    """Σ_b n_b/N ∇²L_b with batch norm on batch b's statistics, by double backward on a copy."""
    total = 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        copy = nn.Sequential(*[m for m in _clone(net)]).train()

        def f(flat, copy=copy, xb=xb, yb=yb):
            params = dict(zip([n for n, _ in copy.named_parameters()], _split(copy, flat)))
            out = torch.func.functional_call(copy, {**{k: b.clone() for k, b in copy.named_buffers()}, **params},
                                             (xb,))
            return nn.functional.cross_entropy(out, yb)

        total = total + len(xb) * autograd_hessian(f, _flat_params(net))
    return total / len(x)


def _clone(net):
    import copy

    return copy.deepcopy(net)


def test_eval_mode_hessian_is_at_the_running_statistics(bn_net, exact):
    net, x, y = bn_net
    h = exact.model_hessian(net, x, y)
    v = torch.randn(h.shape[0], dtype=torch.float64)
    torch.testing.assert_close(_hvp_flat(net, (x, y), v, batch_size=13), h @ v, rtol=1e-10, atol=1e-12)


def test_train_mode_hessian_uses_each_batch_statistics(bn_net):
    net, x, y = bn_net
    before = {k: b.clone() for k, b in net.named_buffers()}
    v = torch.randn(_flat_params(net).numel(), dtype=torch.float64)
    want = _train_mode_hessian(net, x, y, 20) @ v
    got = _hvp_flat(net, (x, y), v, bn="train", batch_size=20)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)
    # another objective than eval mode's, and one that depends on the batch size
    assert not torch.allclose(got, _hvp_flat(net, (x, y), v, batch_size=20))
    assert not torch.allclose(got, _hvp_flat(net, (x, y), v, bn="train", batch_size=10))
    for k, b in net.named_buffers():  # nothing written to the model
        assert torch.equal(b, before[k])
    assert not net.training


def test_recompute_uses_the_statistics_of_the_point(bn_net, exact):
    net, x, y = bn_net
    fresh = _clone(net)
    with torch.no_grad():
        z = fresh[0](x)
        fresh[1].running_mean.copy_(z.mean(0))
        fresh[1].running_var.copy_(z.var(0, unbiased=True))
    h = exact.model_hessian(fresh, x, y)
    v = torch.randn(h.shape[0], dtype=torch.float64)
    got = _hvp_flat(net, (x, y), v, bn="recompute", bn_batches=1, batch_size=40)
    torch.testing.assert_close(got, h @ v, rtol=1e-9, atol=1e-11)
    ds = curvature.eigenvalues(net, (x, y), bn="recompute", bn_batches=1, batch_size=40, device="cpu")
    assert '"bn": "recompute"' in ds.attrs["hyperparameters"]


def test_bn_is_recorded_and_none_without_batch_norm(bn_net, mlp):
    net, x, y = bn_net
    for bn in ("interpolate", "train"):
        ds = curvature.trace(net, (x, y), bn=bn, device="cpu", max_probes=20)
        assert f'"bn": "{bn}"' in ds.attrs["hyperparameters"]
    plain, x, y = mlp
    ds = curvature.trace(plain, (x, y), device="cpu", max_probes=20)
    assert '"bn": "none"' in ds.attrs["hyperparameters"]


def test_blocks_are_the_diagonal_blocks_of_the_hessian(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    sizes = [p.numel() for p in net.parameters()]
    ds = curvature.eigenvalues(net, (x, y), k=2, which="both", blocks="layer", tol=1e-10, device="cpu")
    assert list(ds.block.values) == ["0", "2"]
    first = sizes[0] + sizes[1]
    for name, sl in (("0", slice(0, first)), ("2", slice(first, None))):
        want = torch.linalg.eigvalsh(h[sl, sl])
        got = ds.top_eigenvalue.sel(block=name).values
        torch.testing.assert_close(torch.tensor(got), want.flip(0)[:2], rtol=1e-8, atol=1e-10)
        # zero curvature is repeated in these blocks: found again by deflation
        got = ds.bottom_eigenvalue.sel(block=name).values
        torch.testing.assert_close(torch.tensor(got), want[:2], rtol=1e-8, atol=1e-9)
    tr = curvature.trace(net, (x, y), blocks=["0.weight", "2"], device="cpu", sketch=60)
    w = sizes[0]
    assert float(tr.hessian_trace.sel(block="0.weight")) == pytest.approx(float(torch.trace(h[:w, :w])), rel=1e-9)


def test_block_names_are_checked():
    with pytest.raises(ValueError, match="block 'conv' names no trainable parameter"):
        block_groups(["0.weight"], ["conv"])
    with pytest.raises(ValueError, match="unknown blocks 'layers'"):
        block_groups(["0.weight"], "layers")
