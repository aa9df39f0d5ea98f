"""Hutchinson and Hutch++ against the exact trace."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from landscapes import curvature
from landscapes.curvature.trace import estimate_trace


def _op(a: torch.Tensor):
    return lambda v: v @ a if v.dim() == 2 else a @ v


def _estimate(a, **kw):
    kw.setdefault("dtype", torch.float64)
    kw.setdefault("device", torch.device("cpu"))
    kw.setdefault("block", 10)
    kw.setdefault("sketch", 10)
    return estimate_trace(_op(a), a.shape[0], **kw)


@given(seed=st.integers(0, 2**16), n=st.integers(3, 30), rank=st.integers(1, 5))
def test_hutchpp_is_exact_on_matrices_of_rank_at_most_its_sketch(seed, n, rank):
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n, min(rank, n), generator=gen, dtype=torch.float64)
    a = u @ torch.diag(torch.randn(u.shape[1], generator=gen, dtype=torch.float64)) @ u.T
    t = _estimate(a, method="hutch++", tol=1e-3, max_probes=60, seed=seed)
    assert t.value == pytest.approx(float(torch.trace(a)), rel=1e-8, abs=1e-8)
    assert t.stderr <= 1e-8 * max(1.0, float(a.abs().max()))


@pytest.mark.parametrize("method", ["hutch++", "hutchinson"])
def test_estimates_are_within_their_standard_error(method, mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    ds = curvature.trace(net, (x, y), method=method, tol=1e-3, max_probes=400, device="cpu")
    err = float(ds.trace_stderr)
    assert 0 < err < 0.1 * abs(float(torch.trace(h)))
    assert abs(float(ds.hessian_trace) - float(torch.trace(h))) < 4 * err
    assert int(ds.trace_products) <= 400


def test_hutchpp_beats_hutchinson_when_a_few_eigenvalues_dominate():
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(300, 300, generator=gen, dtype=torch.float64))
    values = torch.cat([torch.tensor([100.0, 50.0, 30.0, 20.0], dtype=torch.float64),
                        0.01 * torch.rand(296, generator=gen, dtype=torch.float64)])
    a = (q * values) @ q.T
    plus = _estimate(a, method="hutch++", tol=1e-12, max_probes=60, seed=0)
    plain = _estimate(a, method="hutchinson", tol=1e-12, max_probes=60, seed=0)
    exact = float(values.sum())
    assert plus.stderr < 0.1 * plain.stderr
    assert abs(plus.value - exact) < abs(plain.value - exact)
    assert plus.products == plain.products == 60


def test_tolerance_stops_early_and_is_recorded(mlp):
    net, x, y = mlp
    loose = curvature.trace(net, (x, y), tol=0.2, max_probes=400, device="cpu")
    assert float(loose.trace_converged) == 1.0 and int(loose.trace_products) < 400
    assert float(loose.trace_stderr) <= 0.2 * abs(float(loose.hessian_trace))
    assert '"tol": 0.2' in loose.attrs["hyperparameters"]


def test_same_seed_same_trace(mlp):
    net, x, y = mlp
    a = curvature.trace(net, (x, y), seed=5, max_probes=40, device="cpu")
    b = curvature.trace(net, (x, y), seed=5, max_probes=40, device="cpu")
    c = curvature.trace(net, (x, y), seed=6, max_probes=40, device="cpu")
    assert float(a.hessian_trace) == float(b.hessian_trace) != float(c.hessian_trace)


def test_unknown_method_is_refused(mlp):
    net, x, y = mlp
    with pytest.raises(ValueError, match=r"unknown method 'hutch'; choose from \['hutch\+\+', 'hutchinson'\]"):
        curvature.trace(net, (x, y), method="hutch", device="cpu")
