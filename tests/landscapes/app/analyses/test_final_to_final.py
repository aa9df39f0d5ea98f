"""final → final on networks: the adaptive α barrier beside the uniform curve."""

from __future__ import annotations

import numpy as np
import xarray as xr

from landscapes import metrics
from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.base import Context
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("final_to_final")


def test_network_barrier_from_the_search(tiny, runtime):
    system = get_system("mnist_mlp")
    grid_ds = system.analyze(ANALYSIS, tiny, runtime)
    ds = system.analyze(ANALYSIS, tiny.replace(barrier_tol=1e-3, barrier_evaluations=20),
                        runtime)
    xr.testing.assert_allclose(ds.loss, grid_ds.loss)  # the figure's curve unchanged
    assert "linear_adaptive" not in grid_ds.data_vars
    assert (ds.linear_adaptive_evaluations <= 20).all()
    on_grid = metrics.linear_barrier(ds.loss.sel(alpha=slice(0.0, 1.0))).height
    # The grid samples the curve's maximum from below.
    assert (ds.linear_adaptive >= on_grid - ds.linear_adaptive_tolerance - 1e-6).all()
    assert np.isfinite(ds.linear_adaptive_alpha.where(ds.linear_adaptive > 0, 0.5)).all()
    one = ds.isel(system=0, drop=True) if "system" in ds.dims else ds
    assert ANALYSIS.rows(one, Context())["barrier final->final"]
