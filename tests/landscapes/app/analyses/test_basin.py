"""The basin analysis: the ray from each solution to the init and past it, and its width."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from landscapes import paths, results
from landscapes.app.analyses import get_analysis, zoo
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.basin import likeness, training_loss, width
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("basin")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    system = get_system("mnist_mlp")
    return system, system.analyze(ANALYSIS, tiny, runtime)


def test_width_reads_the_first_rise_past_the_threshold():
    a = np.linspace(-1, 2, 7)
    assert width(np.abs(a), a, 0.75) == pytest.approx(0.75)
    assert width(np.abs(a), a, 0.25) == pytest.approx(0.25)
    # the other side of the solution does not count, nor does a dip on the way
    assert width(np.array([9.0, 9.0, 0.0, 0.1, -1.0, 2.0, 3.0]), a, 0.5) == pytest.approx(1.25)
    assert width(np.full(7, 1.0), a, 0.5) == np.inf
    assert np.isnan(width(np.full(7, np.nan), a, 0.5))
    assert width(np.array([0, 0, 0, np.inf, 0, 0, 0.0]), a, 0.5) == pytest.approx(0.5)


def test_the_ray_runs_from_the_solution_through_the_init(measured, tiny, runtime):
    system, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "optimizer", "alpha")
    reps = system.replicates(tiny, runtime)
    for n in tiny.optimizers:
        run = reps.variant(**zoo.changes(n))
        for r in range(tiny.replicates):
            # λ = α·‖θ₀ − θ₁‖ is the distance coordinate ...
            d = ds.distance.sel(optimizer=n, replicate=r)
            np.testing.assert_allclose(d, ds.alpha * ds.init_distance.sel(optimizer=n,
                                                                          replicate=r),
                                       rtol=1e-5, atol=1e-6)
            # ... and α = 1 is the init: the same loss the init has on its own
            at_init = run.evaluate(paths.linear(reps.init(r), run.final(r), [0.0]), "x", r)
            np.testing.assert_allclose(ds.loss.sel(optimizer=n, replicate=r, alpha=1.0),
                                       at_init.loss.isel(alpha=0), rtol=1e-4)
    # every width is the width() of the stored curve, in distance units
    for n in tiny.optimizers:
        for r in range(tiny.replicates):
            curve = training_loss(ds).sel(optimizer=n, replicate=r).values
            expected = width(curve, ds.alpha.values, tiny.basin_threshold)
            expected *= float(ds.init_distance.sel(optimizer=n, replicate=r))
            assert float(ds.basin_width.sel(optimizer=n, replicate=r)) == pytest.approx(expected)
    assert ds.basin_width.attrs["threshold"] == tiny.basin_threshold


def test_likeness_compares_same_and_other_optimizer_curves():
    alpha = np.linspace(0, 1, 5)
    a, b = alpha ** 2, 1 - alpha

    def ratio(curves):
        ds = xr.Dataset({"loss": (("replicate", "optimizer", "alpha"), np.array(curves))},
                        coords={"replicate": [0, 1], "optimizer": ["a", "b"], "alpha": alpha})
        return float(likeness(ds))

    assert 0 < ratio([[a, b], [a + 0.01, b]]) < 0.1  # each optimizer keeps its shape
    assert ratio([[a, a + 0.01], [b, b + 0.01]]) > 10  # the shapes follow the init
    single = xr.Dataset({"loss": (("replicate", "optimizer", "alpha"), np.array([[a, b]]))},
                        coords={"replicate": [0], "optimizer": ["a", "b"], "alpha": alpha})
    assert np.isnan(float(likeness(single)))


def test_rows_and_panel(measured):
    import matplotlib.pyplot as plt

    _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    assert rows["basin runs diverged"] == "none"
    assert "SGD" in rows[next(k for k in rows if k.startswith("basin width"))]
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds, Context())
    assert len(ax.lines) >= 2 * 2
    plt.close(fig)
