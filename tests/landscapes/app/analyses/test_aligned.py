"""The aligned analysis: final→final before and after permutation alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscapes import results
from landscapes.align import apply_permutation, permutation_spec, random_permutation
from landscapes.app.analyses import ANALYSES, EXTENSIONS, get_analysis
from landscapes.app.analyses.aligned import barriers
from landscapes.app.analyses.base import Context
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("aligned")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    budget = tiny.replace(align_examples=256)
    system = get_system("mnist_mlp")
    return system, budget, system.analyze(ANALYSIS, budget, runtime)


def test_dataset_schema_lines_and_function_check(measured):
    _, budget, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "line", "alpha")
    assert list(ds.line.values) == ["unaligned", "aligned", "aligned+repair"]
    assert float(ds.alpha.min()) == 0.0 and float(ds.alpha.max()) == 1.0
    assert bool((ds.function_preserved == 1).all())
    assert float(ds.function_relative_error.max()) <= 1e-5
    assert "function preserved" in ds.attrs["function_check"]
    # alignment moves b towards a; the plain lines end at the same two solutions
    assert bool((ds.distance_after < ds.distance_before).all())
    ends = ds.loss.sel(line=["unaligned", "aligned"])
    np.testing.assert_allclose(ends.isel(alpha=0).sel(line="aligned"),
                               ends.isel(alpha=0).sel(line="unaligned"), rtol=1e-6)
    # π(θ_b) computes θ_b's function: the same loss at α = 1
    np.testing.assert_allclose(ends.isel(alpha=-1).sel(line="aligned"),
                               ends.isel(alpha=-1).sel(line="unaligned"), rtol=1e-4)


def test_aligned_barrier_is_no_higher_than_unaligned(measured):
    # Entezari et al. 2022: aligning removes most of the barrier between SGD solutions;
    # measured here on two tiny MNIST MLP runs, on the training split.
    _, _, ds = measured
    b = barriers(ds).sel(split="train")
    assert bool((b.sel(line="aligned") <= b.sel(line="unaligned") + 1e-6).all())
    assert float(b.sel(line="unaligned").min()) > 0


def test_rows_report_every_line_and_the_check(measured):
    _, _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    assert "barrier final->final (loss), aligned+repair" in rows
    assert rows["function preserved by the alignment"].startswith("yes")


def test_aligning_a_permuted_copy_gives_zero_barrier():
    from landscapes.app.analyses.aligned import align

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    a = net.state_dict()
    spec = permutation_spec(net, torch.randn(2, 12))
    b = apply_permutation(spec, random_permutation(spec, seed=3), a)
    assert not all(torch.equal(a[k], b[k]) for k in a)
    for method in ("weight", "activation"):
        aligned = align(net, a, b, method, [torch.randn(64, 12)])
        assert all(torch.equal(aligned[k], a[k]) for k in a), method


def test_it_is_an_extension_and_its_knobs_are_checked():
    assert "aligned" in EXTENSIONS and "aligned" not in ANALYSES
    with pytest.raises(ValueError, match="unknown align_method 'wieght'"):
        Budget(align_method="wieght")
    with pytest.raises(ValueError, match="unknown align_correction"):
        Budget(align_correction="fix")


def test_optimizer_pairs_are_aligned_too(tiny, runtime):
    budget = tiny.replace(align_examples=256, align_correction="none")
    system = get_system("mnist_mlp")
    ds = system.analyze(get_analysis("aligned_optimizers"), budget, runtime)
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "optimizer_a", "optimizer_b", "line", "alpha")
    pair = ds.sel(optimizer_a="sgd", optimizer_b="adam")
    assert bool(np.isfinite(pair.loss).all())
    assert bool(ds.sel(optimizer_a="adam").loss.isnull().all())  # the lower triangle
    assert bool((pair.function_preserved == 1).all())
    assert bool((pair.distance_after <= pair.distance_before).all())
    rows = get_analysis("aligned_optimizers").rows(ds, Context())
    assert "barrier between optimizers' solutions, aligned" in rows
