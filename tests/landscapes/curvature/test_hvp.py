"""Hessian-vector products of the full-data loss against torch.func.hessian."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from landscapes import curvature
from landscapes.curvature.context import point_context
from landscapes.curvature.hvp import Operator
from landscapes.curvature.objective import Objective



def _vectors(net: nn.Module, n: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [{k: torch.randn(p.shape, generator=gen, dtype=p.dtype) for k, p in net.named_parameters()}
            for _ in range(n)]


def _flat(v: dict[str, torch.Tensor], names) -> torch.Tensor:
    return torch.cat([v[n].reshape(-1) for n in names])


def test_hvp_is_the_exact_hessian_times_v_over_every_batch(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    names = [n for n, _ in net.named_parameters()]
    vs = _vectors(net, 3)
    for batch_size in (7, 60):  # batches of unequal size: still the mean over all 60 examples
        got = curvature.hvp(net, (x, y), vs, device="cpu", batch_size=batch_size)
        for v, hv in zip(vs, got):
            torch.testing.assert_close(_flat(hv, names), h @ _flat(v, names), rtol=1e-10, atol=1e-12)


def test_batched_products_equal_one_at_a_time(mlp):
    net, x, y = mlp
    ctx = point_context(net, (x, y), device="cpu", batch_size=16)
    obj = Objective(ctx)
    v = torch.randn(4, obj.size, dtype=torch.float64)
    together = Operator(obj, vectorize=True, mode="forward").matvec(v)
    looped = Operator(obj, vectorize=False, mode="forward").matvec(v)
    single = torch.stack([Operator(obj).matvec(u) for u in v])
    reverse = Operator(obj, mode="reverse").matvec(v)
    torch.testing.assert_close(together, looped, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(together, single, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(together, reverse, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="unknown mode 'sideways'"):
        Operator(obj, mode="sideways")


def test_summed_loss_is_divided_by_the_examples(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    names = [n for n, _ in net.named_parameters()]
    [v] = _vectors(net, 1)
    got = curvature.hvp(net, (x, y), v, loss_fn=nn.CrossEntropyLoss(reduction="sum"), device="cpu", batch_size=9)
    torch.testing.assert_close(_flat(got, names), h @ _flat(v, names), rtol=1e-10, atol=1e-12)


def test_tied_weights_are_one_parameter(exact):
    torch.manual_seed(0)
    net = exact.Tied().double()
    tokens, targets = torch.randint(0, 5, (30,)), torch.randint(0, 5, (30,))
    params = dict(net.named_parameters())  # the tied tensor once, under 'embed.weight'
    assert "head.weight" not in params
    h = exact.flat_hessian(params, lambda p: nn.functional.cross_entropy(functional_call(net, p, (tokens,)), targets))
    vs = _vectors(net, 1)
    [v] = vs
    v["head.weight"] = v["embed.weight"]
    got = curvature.hvp(net, (tokens, targets), v, device="cpu")
    torch.testing.assert_close(_flat(got, list(params)), h @ _flat(v, list(params)), rtol=1e-10, atol=1e-12)
    assert got["head.weight"] is got["embed.weight"]
    ev = curvature.eigenvalues(net, (tokens, targets), k=1, tol=1e-9, device="cpu")
    assert float(ev.top_eigenvalue[0]) == pytest.approx(float(torch.linalg.eigvalsh(h)[-1]), rel=1e-8)


def test_dict_outputs_are_read_with_output(exact):
    torch.manual_seed(0)
    net = exact.DictOut().double()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    h = exact.model_hessian(net, x, y, read=lambda out: out["logits"])
    names = [n for n, _ in net.named_parameters()]
    [v] = _vectors(net, 1)
    got = curvature.hvp(net, (x, y), v, output="logits", device="cpu")
    torch.testing.assert_close(_flat(got, names), h @ _flat(v, names), rtol=1e-10, atol=1e-12)
    with pytest.raises(TypeError, match="not a tensor"):
        curvature.hvp(net, (x, y), v, device="cpu")
    # A loss of the user's own receives what the model returns, as evaluate's does.
    own = curvature.hvp(net, (x, y), v, device="cpu",
                        loss_fn=lambda out, t: nn.functional.cross_entropy(out["logits"], t))
    torch.testing.assert_close(_flat(own, names), h @ _flat(v, names), rtol=1e-10, atol=1e-12)


def test_float32_products_agree_with_float64_to_float32_accuracy(mlp):
    net, x, y = mlp
    names = [n for n, _ in net.named_parameters()]
    [v] = _vectors(net, 1)
    exact = _flat(curvature.hvp(net, (x, y), v, device="cpu"), names)
    single = _flat(curvature.hvp(net.float(), (x.float(), y), {k: t.float() for k, t in v.items()},
                                 device="cpu"), names)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), exact, rtol=1e-4, atol=1e-5)
    # dtype= computes in float64 for a float32 model, without changing the model
    again = _flat(curvature.hvp(net, (x.float(), y), v, device="cpu", dtype=torch.float64), names)
    assert again.dtype == torch.float64 and next(net.parameters()).dtype == torch.float32
    torch.testing.assert_close(again, exact, rtol=1e-5, atol=1e-6)  # the point was rounded to float32


def test_bad_input_gives_one_clear_error(mlp):
    net, x, y = mlp
    [v] = _vectors(net, 1)
    with pytest.raises(ValueError, match="unknown bn 'batch'"):
        curvature.hvp(net, (x, y), v, bn="batch", device="cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        curvature.hvp("net", (x, y), v, device="cpu")
    with pytest.raises(ValueError, match="lacks parameter '0.bias'"):
        curvature.hvp(net, (x, y), {"0.weight": v["0.weight"]}, device="cpu")
    with pytest.raises(TypeError, match="dict of splits"):
        curvature.hvp(net, {"train": (x, y)}, v, device="cpu")
    with pytest.raises(ValueError, match="reduction='none'"):
        curvature.hvp(net, (x, y), v, loss_fn=nn.CrossEntropyLoss(reduction="none"), device="cpu")
    with pytest.raises(ValueError, match="unknown dtype"):
        curvature.hvp(net, (x, y), v, dtype=torch.float16, device="cpu")


def test_linear_model_with_mse_falls_back_to_reverse_over_reverse(exact):
    # forward-mode AD through mse_loss's backward raises on a linear model
    torch.manual_seed(0)
    net = nn.Linear(3, 2).double()
    x = torch.randn(25, 3, dtype=torch.float64)
    y = torch.randn(25, 2, dtype=torch.float64)
    h = exact.model_hessian(net, x, y, loss_fn=nn.functional.mse_loss)
    ctx = point_context(net, (x, y), loss_fn=nn.MSELoss(), device="cpu", batch_size=10)
    op = Operator(Objective(ctx), mode="forward")
    v = torch.randn(3, h.shape[0], dtype=torch.float64)
    torch.testing.assert_close(op.matvec(v), v @ h, rtol=1e-10, atol=1e-12)
    assert op.mode == "reverse"
    ev = curvature.eigenvalues(net, (x, y), loss_fn=nn.MSELoss(), k=2, tol=1e-10, device="cpu")
    np.testing.assert_allclose(ev.top_eigenvalue.values, torch.linalg.eigvalsh(h).flip(0)[:2].numpy(), rtol=1e-9)
