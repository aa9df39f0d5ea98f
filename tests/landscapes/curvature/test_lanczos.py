"""Lanczos eigenpairs against torch.linalg.eigvalsh."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from landscapes import curvature
from landscapes.curvature.lanczos import eigenpairs


def _matrix(seed: int, n: int, spread: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    values = torch.linspace(-1.0, spread, n, dtype=torch.float64) + 0.01 * torch.rand(n, generator=gen, dtype=torch.float64)
    return (q * values) @ q.T


def _run(a: torch.Tensor, **kw):
    kw.setdefault("dtype", torch.float64)
    kw.setdefault("device", torch.device("cpu"))
    return eigenpairs(lambda v: v @ a if v.dim() == 2 else a @ v, a.shape[0], **kw)


@given(seed=st.integers(0, 2**16), n=st.integers(5, 40), k=st.integers(1, 4),
       spread=st.floats(0.5, 100.0), which=st.sampled_from(["largest", "smallest", "both"]))
def test_extreme_eigenvalues_of_symmetric_matrices(seed, n, k, spread, which):
    a = _matrix(seed, n, spread)
    exact = torch.linalg.eigvalsh(a).numpy()
    found = _run(a, k=k, which=which, tol=1e-10, max_iter=n, seed=seed)
    k = min(k, n)
    norm = np.abs(exact).max()
    if "largest" in found:
        np.testing.assert_allclose(found["largest"].values, exact[::-1][:k], rtol=0, atol=1e-7 * norm)
    if "smallest" in found:
        np.testing.assert_allclose(found["smallest"].values, exact[:k], rtol=0, atol=1e-7 * norm)
    for end in found.values():
        # the measured residuals are what the stopping rule promised (up to rounding)
        assert (end.residuals <= 1e-9 * norm + 1e-12).all() or end.iterations == n
        v = end.vectors
        torch.testing.assert_close(v @ v.T, torch.eye(k, dtype=v.dtype), atol=1e-8, rtol=0)


@given(seed=st.integers(0, 2**16), n=st.integers(3, 12), copies=st.integers(2, 3), k=st.integers(2, 5))
def test_repeated_eigenvalues_are_found_as_often_as_they_repeat(seed, n, copies, k):
    # kron(I, A): every eigenvalue of A repeated, as a linear layer's Hessian under MSE
    a = _matrix(seed, n, 10.0)
    big = torch.kron(torch.eye(copies, dtype=torch.float64), a)
    exact = torch.linalg.eigvalsh(big).numpy()
    found = _run(big, k=k, which="both", tol=1e-10, max_iter=n * copies, seed=seed)
    norm = np.abs(exact).max()
    np.testing.assert_allclose(found["largest"].values, exact[::-1][:k], atol=1e-7 * norm)
    np.testing.assert_allclose(found["smallest"].values, exact[:k], atol=1e-7 * norm)


def test_stopping_rule_is_kept_and_recorded():
    a = _matrix(0, 200, 50.0)
    loose = _run(a, k=1, which="largest", tol=1e-2, max_iter=200, seed=0)["largest"]
    tight = _run(a, k=1, which="largest", tol=1e-8, max_iter=200, seed=0)["largest"]
    assert loose.converged and tight.converged and loose.iterations < tight.iterations
    assert loose.residuals[0] <= 1e-2 * 50.1 * 1.01
    capped = _run(a, k=1, which="largest", tol=1e-12, max_iter=5, seed=0)["largest"]
    assert capped.iterations == 5 and not capped.converged
    # Lanczos estimates the residual that the extra product measures
    np.testing.assert_allclose(loose.estimates, loose.residuals, rtol=1e-6)


def test_hessian_eigenvalues_at_a_point_and_residuals(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    want = torch.linalg.eigvalsh(h).numpy()
    assert want[0] < 0  # indefinite: the smallest end is negative curvature
    ds = curvature.eigenvalues(net, (x, y), k=3, which="both", tol=1e-9, max_iter=200, device="cpu")
    np.testing.assert_allclose(ds.top_eigenvalue.values, want[::-1][:3], rtol=1e-8)
    np.testing.assert_allclose(ds.bottom_eigenvalue.values, want[:3], rtol=1e-7)
    assert (ds.top_residual.values < 1e-8 * want.max()).all()
    hyper = ds.attrs["hyperparameters"]
    assert '"tol": 1e-09' in hyper and '"max_iter": 200' in hyper and "seeds" in ds.attrs
    assert float(ds.lanczos_converged) == 1.0


def test_float32_within_float32_tolerance(mlp, exact):
    net, x, y = mlp
    want = float(torch.linalg.eigvalsh(exact.model_hessian(net, x, y))[-1])
    ds = curvature.eigenvalues(net.float(), (x.float(), y), tol=1e-5, device="cpu")
    assert float(ds.top_eigenvalue[0]) == pytest.approx(want, rel=1e-4)


def test_same_seed_same_numbers_other_seed_other_vectors(mlp):
    net, x, y = mlp
    one, v1 = curvature.eigenvalues(net, (x, y), k=2, vectors=True, seed=3, tol=1e-2, device="cpu")
    two, v2 = curvature.eigenvalues(net, (x, y), k=2, vectors=True, seed=3, tol=1e-2, device="cpu")
    assert np.array_equal(one.top_eigenvalue.values, two.top_eigenvalue.values)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(v1["largest"], v2["largest"]) for k in a)
    other = curvature.eigenvalues(net, (x, y), k=2, seed=4, tol=1e-2, device="cpu")
    assert not np.array_equal(one.top_eigenvalue.values, other.top_eigenvalue.values)


def test_eigenvectors_are_eigenvectors_of_the_hessian(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    ds, found = curvature.eigenvalues(net, (x, y), k=2, vectors=True, tol=1e-10, device="cpu")
    names = [n for n, _ in net.named_parameters()]
    for lam, d in zip(ds.top_eigenvalue.values, found["largest"]):
        v = torch.cat([d[n].reshape(-1) for n in names])
        torch.testing.assert_close(h @ v, lam * v, atol=1e-8, rtol=0)
        assert float(v.norm()) == pytest.approx(1.0)


@pytest.mark.parametrize("kw, message", [
    ({"k": 0}, "k must be a positive integer, got 0"),
    ({"which": "top"}, "unknown which 'top'"),
    ({"tol": -1.0}, "tol must be a positive number"),
    ({"max_iter": 2.5}, "max_iter must be a positive integer"),
    ({"seed": "0"}, "seed must be an int"),
    ({"point": {"nope": torch.zeros(1)}}, "point tensor 'nope' is not in the model's state_dict"),
    ({"point": {"0.weight": torch.zeros(2)}}, "point tensor '0.weight' has shape"),
])
def test_bad_settings_are_refused_with_one_clear_line(mlp, kw, message):
    net, x, y = mlp
    with pytest.raises(ValueError, match=message):
        curvature.eigenvalues(net, (x, y), device="cpu", **kw)


def test_a_point_other_than_the_model(mlp):
    net, x, y = mlp
    scaled = {k: 0.5 * v for k, v in net.state_dict().items()}
    at_half = curvature.eigenvalues(net, (x, y), point=scaled, tol=1e-8, device="cpu")
    moved = copy.deepcopy(net)
    moved.load_state_dict(scaled)
    direct = curvature.eigenvalues(moved, (x, y), tol=1e-8, device="cpu")
    assert float(at_half.top_eigenvalue[0]) == pytest.approx(float(direct.top_eigenvalue[0]), rel=1e-10)
