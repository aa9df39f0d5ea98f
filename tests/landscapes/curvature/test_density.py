"""Stochastic Lanczos quadrature: weights, moments and the broadened density."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from landscapes import curvature
from landscapes.curvature.density import broaden, quadrature


def _op(a):
    return lambda v: v @ a if v.dim() == 2 else a @ v


@given(seed=st.integers(0, 2**16), n=st.integers(4, 30), steps=st.integers(3, 8))
def test_each_probe_integrates_polynomials_exactly(seed, n, steps):
    # Gauss quadrature with m nodes is exact for degree ≤ 2m − 1: Σ τ θ^j = vᵀ H^j v.
    gen = torch.Generator().manual_seed(seed)
    b = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = (b + b.T) / 2
    q = quadrature(_op(a), n, probes=1, steps=steps, seed=seed, dtype=torch.float64, device=torch.device("cpu"))
    assert q.weights.sum() == pytest.approx(1.0)
    # the probe: the first Rademacher draw of the same seed, normalised
    g = torch.Generator().manual_seed(seed)
    v = torch.randint(0, 2, (n,), generator=g, dtype=torch.float64) * 2 - 1
    v = v / v.norm()
    for j in range(1, min(2 * steps - 1, 6) + 1):
        want = float(v @ torch.linalg.matrix_power(a, j) @ v)
        got = float((q.weights * q.nodes**j).sum())
        assert got == pytest.approx(want, rel=1e-8, abs=1e-8 * float(a.norm()) ** j)


def test_moments_estimate_the_normalised_trace_of_powers(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    p = h.shape[0]
    ds = curvature.density(net, (x, y), probes=60, steps=10, device="cpu")
    want = np.array([float(torch.trace(torch.linalg.matrix_power(h, j))) / p for j in (1, 2, 3, 4)])
    err = ds.moment_stderr.values
    assert (err > 0).all()
    assert (np.abs(ds.density_moment.values - want) < 4 * err).all()


def test_density_integrates_to_one_and_peaks_at_the_eigenvalues():
    values = torch.tensor([-1.0, 0.0, 0.0, 2.0, 5.0], dtype=torch.float64)
    a = torch.diag(values)
    q = quadrature(_op(a), 5, probes=3, steps=5, seed=0, dtype=torch.float64, device=torch.device("cpu"))
    grid = np.linspace(-3, 7, 2001)
    phi = broaden(q, grid, sigma=0.05)
    assert np.trapezoid(phi, grid) == pytest.approx(1.0, rel=1e-6)
    # Rademacher probes of a diagonal matrix weigh every eigenvalue 1/5: zero twice
    mass = [np.trapezoid(phi[(grid > v - 0.5) & (grid < v + 0.5)], grid[(grid > v - 0.5) & (grid < v + 0.5)])
            for v in (-1.0, 0.0, 2.0, 5.0)]
    np.testing.assert_allclose(mass, [0.2, 0.4, 0.2, 0.2], atol=1e-6)


def test_public_density_dataset(mlp):
    net, x, y = mlp
    ds = curvature.density(net, (x, y), probes=3, steps=12, grid=300, device="cpu", seed=1)
    assert ds.spectral_density.dims == ("spectrum",) and ds.spectrum.size == 300
    assert np.trapezoid(ds.spectral_density.values, ds.spectrum.values) == pytest.approx(1.0, rel=1e-3)
    assert ds.ritz_weight.sum("node").values == pytest.approx(np.ones(3))
    again = curvature.density(net, (x, y), probes=3, steps=12, grid=300, device="cpu", seed=1)
    assert np.array_equal(ds.spectral_density.values, again.spectral_density.values)
    fixed = curvature.density(net, (x, y), probes=3, steps=12, grid=[-1.0, 0.0, 1.0], sigma=0.1, device="cpu", seed=1)
    assert fixed.spectrum.values.tolist() == [-1.0, 0.0, 1.0] and float(fixed.density_sigma) == 0.1


@pytest.mark.parametrize("kw, message", [
    ({"probes": 0}, "probes must be a positive integer"),
    ({"grid": 1}, "grid must have at least 2 points"),
    ({"grid": "auto"}, "grid must be a number of points or a sequence"),
    ({"sigma": 0.0}, "sigma must be a positive number"),
])
def test_bad_density_settings(mlp, kw, message):
    net, x, y = mlp
    with pytest.raises(ValueError, match=message):
        curvature.density(net, (x, y), device="cpu", **kw)
