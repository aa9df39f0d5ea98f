"""From iteration t: the adaptive α barrier against a dense grid (deep_linear closed form)."""

from __future__ import annotations

import numpy as np

from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.from_iteration import barriers
from landscapes.app.analyses.line import adaptive_points
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system


def test_adaptive_agrees_with_dense_grid_and_stays_in_budget() -> None:
    analysis, system = get_analysis("from_iteration"), get_system("deep_linear")
    budget = analysis.view(Budget(points=21, replicates=2, max_starts=4, barrier_tol=1e-4,
                                  barrier_evaluations=25))
    ds = analysis.closed_form(system, budget)
    dense = analysis.closed_form(system, analysis.view(Budget(points=2001, replicates=2,
                                                              max_starts=4)))
    for kind in ("rise", "linear"):
        exact = barriers(dense.loss, 1.0, kind)
        tolerance = ds[f"{kind}_adaptive_tolerance"]
        # 1e-12: flat lines whose "barrier" is rounding (the analysis' ROUNDING).
        assert (abs(ds[f"{kind}_adaptive"] - exact) <= tolerance + 1e-12).all()
        assert (ds[f"{kind}_adaptive_evaluations"] <= 25).all()
    # The searches of a line share points: all of them together within the priced most.
    assert int(ds.adaptive_evaluations.max()) <= adaptive_points(budget, searches=2, seeded=True)
    assert ds.sizes["alpha"] == 21


def test_search_seeded_by_the_grid_spends_fewer_points_than_one_from_scratch() -> None:
    """The searches start from the line's uniform grid: on a fine grid they add fewer
    points than a search from scratch and find the barrier it finds."""
    from theory import deep_linear

    from landscapes.app.analyses.line import adaptive_barrier

    analysis, system = get_analysis("from_iteration"), get_system("deep_linear")
    budget = analysis.view(Budget(points=101, replicates=1, max_starts=4, barrier_tol=1e-3))
    ds = analysis.closed_form(system, budget)
    for t in ds.start_iteration.values:
        def curve(alpha: np.ndarray, t: int = int(t)):
            return deep_linear.from_time_to_final(
                iterations=[t], system="deep_linear", n_replicates=1, seed=budget.seed,
                alphas=alpha).loss.isel(replicate=0, start_iteration=0, drop=True)

        splits = list(ds.split.values) if "split" in ds.dims else None
        fresh = adaptive_barrier(curve, "rise", tol=1e-3, max_evaluations=30, splits=splits)
        seeded = ds.sel(start_iteration=t).isel(replicate=0)
        assert int(seeded.rise_adaptive_evaluations) < int(fresh.rise_adaptive_evaluations)
        slack = 2 * float(fresh.rise_adaptive_tolerance.max()) + 1e-12
        assert np.allclose(seeded.rise_adaptive, fresh.rise_adaptive, rtol=0, atol=slack)


def test_rows_read_the_search_and_are_unchanged_without_it() -> None:
    analysis, system = get_analysis("from_iteration"), get_system("deep_linear")
    plain = Budget(points=41, replicates=2, max_starts=4)
    off = analysis.closed_form(system, analysis.view(plain))
    on = analysis.closed_form(system, analysis.view(plain.replace(barrier_tol=1e-6)))
    context = Context(reference=None)
    rows_off, rows_on = analysis.rows(off, context), analysis.rows(on, context)
    assert "linear_adaptive" not in off.data_vars
    assert rows_off["largest bump from t"] == rows_on["largest bump from t"]
    assert np.isfinite(on.linear_adaptive).all()


def test_network_lines_from_every_start(tiny, runtime):
    import xarray as xr

    from landscapes import metrics

    analysis, system = get_analysis("from_iteration"), get_system("mnist_mlp")
    grid_ds = system.analyze(analysis, tiny, runtime)
    ds = system.analyze(analysis, tiny.replace(barrier_tol=1e-3, barrier_evaluations=20),
                        runtime)
    xr.testing.assert_allclose(ds.loss, grid_ds.loss)
    lines = np.isfinite(ds.loss.isel(alpha=0))
    assert (np.isfinite(ds.rise_adaptive) == lines).all()
    rise = metrics.rise_barrier(ds.loss).height
    tol = ds.rise_adaptive_tolerance
    assert (ds.rise_adaptive.where(lines, 0) >= rise.where(lines, 0) - tol.fillna(0) - 1e-6).all()
    assert (ds.rise_adaptive_evaluations.fillna(0) <= 20).all()
