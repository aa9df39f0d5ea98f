"""The switching analysis: runs that change optimizer, their curves, distances and lines."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from landscapes import results
from landscapes.app.analyses import get_analysis, zoo
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.switching import FRACTIONS, at, fraction_label, run_changes
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("switching")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    system = get_system("mnist_mlp")
    return system, system.analyze(ANALYSIS, tiny, runtime)


def test_fractions_name_the_pure_and_the_switched_runs():
    assert run_changes("adam>sgd", 1.0, 100) == zoo.changes("adam")
    assert run_changes("adam>sgd", 0.0, 100) == zoo.changes("sgd")
    late = run_changes("adam>sgd", 0.75, 100)
    assert late["switch_at"] == 75 and late["switch_optimizer"] == "sgd"
    assert at(0.25, 2) == 1 and at(0.75, 2) == 1  # never at 0 or at the end
    assert fraction_label("sgd>adam", 0.25) == "SGD 1/4 → Adam"
    assert fraction_label("sgd>adam", 0.0, 200) == "Adam200"


def test_switched_runs_follow_the_first_optimizer_until_the_switch(measured, tiny):
    _, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "switch", "fraction_a", "fraction_b", "alpha")
    d = ds.init_distance.sel(switch="adam>sgd")
    total = int(ds.step.max())
    for f in (0.25, 0.5, 0.75):
        step = at(f, total)
        assert float(ds.switch_step.sel(fraction=f).isel(replicate=0)) == step
        # the switch iteration is a checkpoint of the switched run
        assert bool(np.isfinite(d.sel(fraction=f, step=step)).all())
        pure = d.sel(fraction=1.0).dropna("step", how="all").step.values
        before = pure[pure <= step]
        # the same init, minibatches and optimizer up to the switch: the same weights
        np.testing.assert_allclose(d.sel(fraction=f, step=before),
                                   d.sel(fraction=1.0, step=before), rtol=1e-6, atol=1e-7)
        assert not np.allclose(d.sel(fraction=f).isel(step=-1), d.sel(fraction=1.0).isel(step=-1))
    assert (d.sel(step=0) == 0).all()
    curve = ds.curve_loss.sel(switch="adam>sgd")
    # every run's own checkpoints are evaluated (the pure runs lack the switch iterations)
    for f in FRACTIONS:
        assert int(np.isfinite(curve.sel(fraction=f)).all("split").sum("step").min()) >= 3
    assert (curve.sel(step=0) == curve.sel(step=0, fraction=1.0)).all()
    # lines join each solution to the later-switching ones only
    lines = ds.loss.isel(replicate=0, split=0, switch=0, alpha=0)
    for i, fa in enumerate(FRACTIONS):
        for j, fb in enumerate(FRACTIONS):
            assert bool(np.isfinite(lines.sel(fraction_a=fa, fraction_b=fb))) == (j > i)
    assert (ds.diverged == 0).all()


def test_rows_and_panel(measured):
    import matplotlib.pyplot as plt

    _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    assert rows["switching runs diverged"] == "none"
    assert rows["barrier pure first <-> switched after 3/4 (train)"].startswith("adam>sgd")
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds, Context())
    assert len(ax.lines) == len(FRACTIONS)
    plt.close(fig)


def test_adaptive_barrier_reads_the_late_switch(measured, tiny, runtime):
    from landscapes.app.analyses.switching import late_barriers

    system, grid_ds = measured
    ds = system.analyze(ANALYSIS, tiny.replace(barrier_tol=1e-3, barrier_evaluations=20),
                        runtime)
    xr.testing.assert_allclose(ds.loss, grid_ds.loss)
    late, grid_late = late_barriers(ds), late_barriers(grid_ds)
    assert set(late.dims) == set(grid_late.dims)
    tol = ds.linear_adaptive_tolerance.sel(fraction_a=1.0, fraction_b=0.75).max()
    assert (late >= grid_late - tol - 1e-6).all()
    assert (ds.linear_adaptive_evaluations.fillna(0) <= 20).all()
