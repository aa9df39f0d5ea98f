"""The eigenplane analysis: the loss on θ* + a·d₁ + b·d₂ along the top Hessian eigenvectors.

The engine is held to the deep linear closed form in ``test_agreement.py``; here a tiny
trained MNIST MLP checks what the plane must be: its centre is the solution, and along
an eigenvector the loss bends as its eigenvalue says, J(h) + J(−h) − 2J(0) ≈ λ h². The
network is Goodfellow et al.'s sigmoid MLP: a ReLU network's loss along a line has kinks
wherever a unit switches, curvature its Hessian (zero second derivatives a.e.) does not
see, and LeNet-300-100's second difference measured 1.5-2.2 λ₁ at h = 0.05-0.002.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from landscapes import paths, results
from landscapes.app.analyses import ANALYSES, EXTENSIONS, Declined, get_analysis
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.eigenplane import _check_gaps, _signed, edge_rise
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("eigenplane")
#: Spacing h = 0.01 around the centre; the Hessian of every evaluated training example.
PLANE = {"eigenplane_points": 5, "eigenplane_extent": 0.02, "curvature_examples": None}
SYSTEM = "mnist_sigmoid"


@pytest.fixture(scope="module")
def unit(tiny, runtime):
    budget = tiny.replace(**PLANE)
    system = get_system(SYSTEM)
    return system, budget, system.analyze(ANALYSIS, budget, runtime)


@pytest.fixture(scope="module")
def filtered(tiny, runtime):
    budget = tiny.replace(**PLANE, eigenplane_normalization="filter")
    return budget, get_system(SYSTEM).analyze(ANALYSIS, budget, runtime)


def test_schema_and_what_the_dataset_records(unit):
    _, budget, ds = unit
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "alpha", "beta")
    assert ds.top_eigenvalue.dims == ("replicate", "eigen") and ds.eigen.values.tolist() == [0, 1]
    np.testing.assert_array_equal(ds.alpha, np.linspace(-0.02, 0.02, 5))
    np.testing.assert_array_equal(ds.beta, ds.alpha)
    top = ds.top_eigenvalue.values
    assert (top[:, 0] >= top[:, 1]).all() and (top[:, 0] > 0).all()
    # the residuals are what the Lanczos stopping rule promised, measured
    assert (ds.top_residual.values <= 1.01 * budget.curvature_tol * top[:, :1]).all()
    assert (ds.lanczos_converged == 1).all()
    # unit eigenvectors, and the flat vectors themselves are not kept
    np.testing.assert_allclose(ds.direction_norm, 1.0, rtol=1e-5)
    assert "eigenvector" not in ds and "parameter" not in ds.dims
    assert ds.attrs["eigenplane_normalization"] == "unit" and ds.attrs["hessian_split"] == "train"


def test_the_centre_is_the_solution(unit, runtime):
    system, budget, ds = unit
    reps = system.replicates(budget, runtime)
    for r in range(budget.replicates):
        alone = reps.evaluate(paths.linear(reps.final(r), reps.final(r), [0.0]), "x", r)
        centre = ds.loss.sel(replicate=r, alpha=0.0, beta=0.0)
        np.testing.assert_allclose(centre.values, alone.loss.isel(alpha=0).values, rtol=1e-6)


def test_along_each_eigenvector_the_loss_bends_by_its_eigenvalue(unit):
    # J(θ* + h d) + J(θ* − h d) − 2 J(θ*) = λ h² + O(h⁴) for a unit eigenvector d:
    # the third order cancels, and the plane's training loss is the Hessian's objective.
    _, _, ds = unit
    loss = ds.loss.sel(split="train").astype(float)
    h = float(ds.alpha[3] - ds.alpha[2])
    centre = loss.sel(alpha=0.0, beta=0.0)
    along1 = (loss.isel(alpha=1).sel(beta=0.0) + loss.isel(alpha=3).sel(beta=0.0) - 2 * centre)
    along2 = (loss.isel(beta=1).sel(alpha=0.0) + loss.isel(beta=3).sel(alpha=0.0) - 2 * centre)
    lam = ds.top_eigenvalue
    # (measured: 0.2 % off at h = 0.01, 4 % at h = 0.05, where h⁴ terms show)
    np.testing.assert_allclose(along1 / h**2, lam.isel(eigen=0), rtol=0.02)
    np.testing.assert_allclose(along2 / h**2, lam.isel(eigen=1), rtol=0.02)
    # the check tells the two axes apart: d1 bends more than d2 where λ1 clearly exceeds λ2
    sharper = (lam.isel(eigen=0) > 1.1 * lam.isel(eigen=1)).values
    assert sharper.any()
    assert (along1.values[sharper] > along2.values[sharper]).all()


def test_filter_normalised_directions_have_the_solution_filter_norms(unit, filtered, runtime):
    # Li et al. (2018): each filter of d rescaled to the solution's filter norm, biases
    # zeroed, so ‖d‖² is Σ ‖W‖² over the solution's weight matrices.
    system, _, plain = unit
    budget, ds = filtered
    results.validate(ds)
    reps = system.replicates(budget, runtime)
    for r in range(budget.replicates):
        final = reps.final(r)
        want = np.sqrt(sum(float((v.double() ** 2).sum()) for v in final.values()
                           if v.is_floating_point() and v.dim() >= 2))
        np.testing.assert_allclose(ds.direction_norm.sel(replicate=r), want, rtol=1e-5)
    # the same eigenpairs, a different plane
    np.testing.assert_allclose(ds.top_eigenvalue, plain.top_eigenvalue, rtol=1e-6)
    assert not np.allclose(ds.loss.isel(alpha=0), plain.loss.isel(alpha=0), rtol=1e-3)


def test_rows_and_panel(unit):
    _, _, ds = unit
    rows = ANALYSIS.rows(ds, Context())
    assert set(rows) == {"eigenplane lambda_1, lambda_2 at the solution",
                         "eigenplane loss rise at the edge along d1 / d2",
                         "  over the quadratic ½λe² (d1 / d2)"}
    assert rows["eigenplane loss rise at the edge along d1 / d2"].count("|") == 1  # two splits
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds.expand_dims(system=[SYSTEM]), Context())
    assert ax.collections and "λ1" in ax.get_xlabel() and ax.get_title() == SYSTEM
    plt.close(fig)


def test_a_stack_with_a_closed_form_reads_its_pair_once(unit):
    # compare stacks the systems: the closed form's pair is repeated along the splits
    from landscapes.app.study import stack_systems

    _, budget, ds = unit
    exact = ANALYSIS.closed_form(get_system("deep_linear"), budget)
    stack = stack_systems({"deep_linear": exact, SYSTEM: ds})
    assert "split" in stack.top_eigenvalue.dims
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, stack, Context())
    assert ax.get_title() == "deep_linear" and "λ1 = 4" in ax.get_xlabel()
    plt.close(fig)
    rows = ANALYSIS.rows(stack.sel(system="deep_linear"), Context())
    # λ2 = 0 (the valley w1·w2 = 1): no quadratic prediction to divide by
    assert rows["  over the quadratic ½λe² (d1 / d2)"].split(" | ")[0].endswith("/ nan")


def test_edge_rise_reads_the_axes_not_the_corners():
    g = np.linspace(-2, 2, 5)
    bowl = xr.DataArray(3 * g[:, None] ** 2 + g[None, :] ** 2 + 100 * (g[:, None] * g[None, :]) ** 2,
                        dims=("alpha", "beta"), coords={"alpha": g, "beta": g})
    one, two = edge_rise(bowl)
    assert float(one) == 12.0 and float(two) == 4.0


def test_the_closed_form_centre_is_the_solution_and_its_edges_rise_as_lambda():
    from theory import deep_linear

    budget = Budget(replicates=2, seed=1, eigenplane_points=5, eigenplane_extent=1e-3)
    ds = ANALYSIS.closed_form(get_system("deep_linear_L3_w4"), budget)
    found = deep_linear.anchors(system="deep_linear_L3_w4", n_replicates=2, seed=1)
    spec = deep_linear.system("deep_linear_L3_w4", seed=1)
    np.testing.assert_allclose(ds.loss.sel(alpha=0.0, beta=0.0),
                               [spec.loss(t) for t in found["final"]], rtol=1e-12)
    one, two = edge_rise(ds.loss)
    e = 1e-3
    np.testing.assert_allclose(one, 0.5 * ds.top_eigenvalue.isel(eigen=0) * e * e, rtol=1e-3)
    np.testing.assert_allclose(two, 0.5 * ds.top_eigenvalue.isel(eigen=1) * e * e, rtol=1e-3)


def test_a_degenerate_pair_is_declined_and_signs_are_fixed():
    with pytest.raises(Declined, match="lambda_1 = lambda_2"):
        _check_gaps(np.array([2.0, 2.0, 1.0]), "toy", 0)
    with pytest.raises(Declined, match="lambda_2 = lambda_3: the plane itself"):
        _check_gaps(np.array([3.0, 1.0, 1.0]), "toy", 0)
    _check_gaps(np.array([3.0, 1.0]), "toy", 0)  # two parameters: no λ3
    assert _signed(np.array([0.1, -0.9])).tolist() == [-0.1, 0.9]
    assert _signed(np.array([0.1, 0.9])).tolist() == [0.1, 0.9]


def test_settings_and_registration():
    assert "eigenplane" in EXTENSIONS and "eigenplane" not in ANALYSES
    with pytest.raises(ValueError, match="eigenplane_points must be odd"):
        Budget(eigenplane_points=4)
    with pytest.raises(ValueError, match=r"unknown eigenplane_normalization 'random'; choose "
                                         r"from \['unit', 'filter', 'layer'\]"):
        Budget(eigenplane_normalization="random")
    with pytest.raises(ValueError, match="eigenplane_extent must be a positive number"):
        Budget(eigenplane_extent=0.0)
    # the Hessian's knobs are the curvature analysis' own flags
    assert {"curvature_tol", "curvature_examples"} <= set(ANALYSIS.uses)
