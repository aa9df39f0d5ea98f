"""The optimizers analysis: the zoo from one init, every pair, distance and disagreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from landscapes import results
from landscapes.app.analyses import get_analysis, zoo
from landscapes.app.analyses.base import Context, Declined
from landscapes.app.analyses.optimizers import disagreement_share, diverged_text
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("optimizers")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    system = get_system("mnist_mlp")
    return system, system.analyze(ANALYSIS, tiny, runtime)


def test_every_optimizer_starts_from_the_replicates_init(measured, tiny, runtime):
    system, _ = measured
    reps = system.replicates(tiny, runtime)
    for name in tiny.optimizers:
        other = reps.variant(**zoo.changes(name))
        assert other.runs[0].config.optimizer == zoo.recipe(name).optimizer
        for r in range(tiny.replicates):
            init, mine = reps.init(r), other.init(r)
            assert all(torch.equal(init[k], mine[k]) for k in init)
    first, second = reps.init(0), reps.init(1)
    assert not all(torch.equal(first[k], second[k]) for k in first)  # replicates: two inits


def test_pairs_fill_the_upper_triangle_with_distance_and_disagreement(measured, tiny):
    _, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "optimizer_a", "optimizer_b", "alpha")
    pair = ds.sel(optimizer_a="sgd", optimizer_b="adam")
    assert np.isfinite(pair.loss).all() and bool(ds.sel(optimizer_a="adam").loss.isnull().all())
    # at α = 0 the line is θ_a itself: no distance, no disagreement
    assert float(abs(pair.divergence.isel(alpha=0)).max()) < 1e-6
    assert float(pair.disagreement.isel(alpha=0).max()) == 0.0
    assert (pair.disagreement >= 0).all() and (pair.disagreement <= 1).all()
    assert float(pair.divergence.isel(alpha=-1).min()) > 0  # two different solutions
    # the line's ends are the two solutions, evaluated on their own
    np.testing.assert_allclose(pair.loss.isel(alpha=0), ds.final_loss.sel(optimizer="sgd"),
                               rtol=1e-5)
    np.testing.assert_allclose(pair.loss.isel(alpha=-1), ds.final_loss.sel(optimizer="adam"),
                               rtol=1e-5)
    assert (ds.init_loss > ds.final_loss).all()
    assert (ds.diverged == 0).all() and (ds.init_distance > 0).all()
    # the distance coordinate runs from 0 to ‖θ_adam − θ_sgd‖
    assert float(pair.distance.isel(alpha=0).max()) == 0.0


def test_disagreement_is_read_against_the_most_the_errors_allow():
    ds = xr.Dataset({
        "disagreement": (("optimizer_a", "optimizer_b", "alpha"), [[[0.0, 0.1]]]),
        "final_error": (("optimizer",), [0.05, 0.15])},
        coords={"optimizer_a": ["a"], "optimizer_b": ["b"], "optimizer": ["a", "b"],
                "alpha": [0.0, 1.0]})
    share = disagreement_share(ds)
    assert float(share.squeeze()) == pytest.approx(0.1 / 0.2)


def test_rows_and_panel(measured):
    import matplotlib.pyplot as plt

    _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    assert rows["optimizer runs diverged"] == "none"
    assert "±" in rows["label disagreement between solutions"]
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds.expand_dims(system=["mnist_mlp"]), Context())
    assert ax.images and "mnist_mlp" in ax.get_title()
    plt.close(fig)


def test_a_diverged_run_is_recorded_and_named_never_dropped(tiny, runtime, monkeypatch):
    # Adam's recipe replaced by SGD at a rate that overflows: its run diverges.
    monkeypatch.setitem(zoo.RECIPES, "adam", zoo.Recipe("Adam", "sgd", 1e4))
    system = get_system("mnist_mlp")
    ds = system.analyze(ANALYSIS, tiny, runtime)
    assert (ds.diverged.sel(optimizer="adam") == 1).all()
    assert (ds.diverged.sel(optimizer="sgd") == 0).all()
    assert ds.sel(optimizer_a="sgd", optimizer_b="adam").loss.isnull().all()
    assert ds.final_loss.sel(optimizer="adam").isnull().all()
    assert np.isfinite(ds.final_loss.sel(optimizer="sgd")).all()
    assert diverged_text(ds) == "Adam (r0, r1)"
    assert ANALYSIS.rows(ds, Context())["optimizer runs diverged"] == "Adam (r0, r1)"


def test_closed_forms_decline(tiny):
    with pytest.raises(Declined):
        ANALYSIS.closed_form(get_system("deep_linear"), tiny)


def test_adaptive_barrier_agrees_with_the_grid_and_keeps_the_curves(measured, tiny, runtime):
    """barrier_tol on: every trained pair's chord excess from the α search, which agrees
    with the uniform grid's (the search finds the maximum the grid samples, or higher)."""
    from landscapes import metrics

    system, grid_ds = measured
    budget = tiny.replace(barrier_tol=1e-3, barrier_evaluations=20)
    ds = system.analyze(ANALYSIS, budget, runtime)
    xr.testing.assert_allclose(ds.loss, grid_ds.loss)  # the figure's curves unchanged
    on_grid = metrics.linear_barrier(ds.loss).height
    found = ds.linear_adaptive
    pairs = np.isfinite(found)
    assert pairs.any() and (ds.linear_adaptive_evaluations.where(pairs, 0) <= 20).all()
    # A grid samples the maximum from below: the search's height is at least the grid's
    # less its tolerance, and on a coarse tiny grid no more than the grid's plus the spread.
    tol = ds.linear_adaptive_tolerance
    assert (found.where(pairs, 0) >= on_grid.where(pairs, 0) - tol.fillna(0) - 1e-6).all()
    rows = ANALYSIS.rows(ds.isel(system=0) if "system" in ds.dims else ds, Context())
    assert rows["barrier between optimizers' solutions"]
