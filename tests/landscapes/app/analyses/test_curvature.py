"""The curvature analysis: estimates against the closed form, and its parts.

The eigenvalues, trace and curvature along the lines are compared exactly in
``test_agreement.py``; the density's moments are a stochastic Lanczos quadrature
estimate, so they are held to the closed form within their own standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from landscapes.app.analyses import ANALYSES, EXTENSIONS, get_analysis
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system

BUDGET = Budget(replicates=3, max_starts=5, seed=1, curvature_tol=1e-12,
                curvature_sketch=64, curvature_probes=64)


@pytest.mark.parametrize("system_name", ["deep_linear", "deep_linear_L3_w4"])
def test_density_moments_agree_with_the_closed_form_within_their_errors(system_name):
    system, analysis = get_system(system_name), get_analysis("curvature")
    exact = analysis.closed_form(system, BUDGET).density_moment
    measured = analysis.measure(system.replicates(BUDGET), BUDGET)
    scale = float(np.abs(exact).max())
    miss = np.abs(measured.density_moment - exact) - 4 * measured.moment_stderr
    assert float(miss.max()) <= 1e-9 * scale
    # ... and the estimate is not the closed form by construction: another seed's
    # probes give other numbers.
    other = analysis.measure(system.replicates(BUDGET), BUDGET.replace(seed=2))
    assert not np.allclose(other.density_moment, measured.density_moment)


def test_the_saddle_near_the_init_is_negative_curvature():
    # Goodfellow et al. §3: the deep linear model's init sits near the saddle at 0,
    # where the Hessian has a negative eigenvalue; its solutions have none.
    ds = get_analysis("curvature").closed_form(get_system("deep_linear"), BUDGET)
    line = ds.sel(line="init_to_final").bottom_eigenvalue.isel(eigen=0)
    assert bool((line.isel(alpha=0) < 0).all())
    assert float(line.isel(alpha=-1).min()) > -1e-9


def test_it_is_an_extension_compare_runs_only_when_named():
    assert "curvature" in EXTENSIONS and "curvature" not in ANALYSES


def test_settings_are_checked_before_any_work():
    with pytest.raises(ValueError, match="curvature_tol must be in"):
        Budget(curvature_tol=2.0)
    with pytest.raises(ValueError, match="curvature_points must be at least 2"):
        Budget(curvature_points=1)
