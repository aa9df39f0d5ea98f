"""The Spectrum and Along point measures on a PointContext."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from landscapes import curvature
from landscapes.curvature.context import point_context
from landscapes.engine.point_measures import PointMeasure


def test_spectrum_is_a_point_measure_that_pickles():
    s = curvature.Spectrum(k=2, density=True)
    assert isinstance(s, PointMeasure)
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(ValueError, match="unknown which 'top'"):
        curvature.Spectrum(which="top")
    with pytest.raises(ValueError, match="density_grid must be"):
        curvature.Spectrum(density=True, density_grid=(1.0, 0.0, 5))


@pytest.mark.parametrize("spectrum", [
    curvature.Spectrum(k=2, density=True, density_steps=10, density_probes=2, trace_probes=40),
    curvature.Spectrum(k=1, which="largest", trace=None, density=True, density_grid=(-1.0, 1.0, 50)),
    curvature.Spectrum(k=2, blocks=("0", "2"), trace="hutchinson", trace_probes=20),
])
def test_measure_returns_what_variables_declare(mlp, spectrum):
    net, x, y = mlp
    ctx = point_context(net, (x, y), device="cpu", seed=7)
    got = spectrum.measure(ctx)
    declared = spectrum.variables()
    assert set(got) == set(declared)
    coords = spectrum.coords()
    for name, var in declared.items():
        shape = tuple(len(coords[d]) for d in var.dims)
        assert np.shape(got[name]) == shape, name
        assert var.attrs["long_name"]


def test_spectrum_equals_the_public_functions(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    want = torch.linalg.eigvalsh(h).numpy()
    ctx = point_context(net, (x, y), device="cpu", seed=0)
    got = curvature.Spectrum(k=2, tol=1e-9, trace="hutch++", trace_sketch=60, density=True,
                             density_steps=12, density_probes=2).measure(ctx)
    np.testing.assert_allclose(got["top_eigenvalue"], want[::-1][:2], rtol=1e-8)
    np.testing.assert_allclose(got["bottom_eigenvalue"], want[:2], rtol=1e-7)
    assert float(got["hessian_trace"]) == pytest.approx(float(torch.trace(h)), rel=1e-9)  # sketch spans H
    assert got["spectral_density"].min() >= 0


def test_same_point_seed_same_numbers_other_seed_other(mlp):
    net, x, y = mlp
    s = curvature.Spectrum(k=1, tol=1e-2, trace_probes=30, density=True, density_steps=5, density_probes=1)
    one = s.measure(point_context(net, (x, y), device="cpu", seed=3))
    two = s.measure(point_context(net, (x, y), device="cpu", seed=3))
    other = s.measure(point_context(net, (x, y), device="cpu", seed=4))
    assert all(np.array_equal(one[k], two[k], equal_nan=True) for k in one)
    assert not np.array_equal(one["hessian_trace"], other["hessian_trace"])


def test_train_objective_on_batch_norm(bn_net):
    net, x, y = bn_net
    ctx = point_context(net, (x, y), device="cpu", batch_size=20)
    ev = curvature.Spectrum(trace=None, objective="eval").measure(ctx)
    tr = curvature.Spectrum(trace=None, objective="train").measure(ctx)
    assert not np.allclose(ev["top_eigenvalue"], tr["top_eigenvalue"])
    public = curvature.eigenvalues(net, (x, y), bn="train", batch_size=20, which="both", device="cpu")
    assert float(public.top_eigenvalue[0]) == pytest.approx(float(tr["top_eigenvalue"][0]), rel=1e-3)


def test_along_is_the_rayleigh_quotient(mlp, exact):
    net, x, y = mlp
    h = exact.model_hessian(net, x, y)
    gen = torch.Generator().manual_seed(0)
    dirs = [{k: torch.randn(v.shape, generator=gen, dtype=v.dtype) for k, v in net.state_dict().items()}
            for _ in range(2)]
    names = [n for n, _ in net.named_parameters()]
    flat = [torch.cat([d[n].reshape(-1) for n in names]) for d in dirs]
    want = [float(v @ h @ v / (v @ v)) for v in flat]
    ds = curvature.along(net, (x, y), dirs, device="cpu")
    np.testing.assert_allclose(ds.curvature_along.values, want, rtol=1e-10)
    one = curvature.along(net, (x, y), {k: 3 * v for k, v in dirs[0].items()}, device="cpu")
    assert float(one.curvature_along) == pytest.approx(want[0], rel=1e-10)  # scale-free
    ctx = point_context(net, (x, y), device="cpu")
    m = curvature.Along(tuple(dirs))
    assert set(m.measure(ctx)) == set(m.variables())
    with pytest.raises(ValueError, match="zero on every trainable parameter"):
        curvature.along(net, (x, y), {k: torch.zeros_like(v) for k, v in dirs[0].items()}, device="cpu")
