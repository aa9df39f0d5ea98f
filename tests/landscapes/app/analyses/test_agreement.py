"""The engine on the torch twin of a closed-form system equals the closed form.

For every registered analysis, the path it builds from a system's replicates is
evaluated by :func:`landscapes.evaluate` on :class:`experiments.models.deep_linear.DeepLinear`
with the closed form's own anchors, in float64, and compared with what
:mod:`theory.deep_linear` computes exactly -- the way neural-tangents checks its kernels
against sampled networks. Each analysis declares whether it has a closed form and which
variables to compare (``has_closed_form``, ``compared``): the trajectory has no loss, so
its projection, residual and norm are compared instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from landscapes.app.analyses import REGISTRY, get_analysis
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system

#: float64 end to end; the closed forms sum squares of a polynomial's values, the engine
#: multiplies matrices: both are exact to a few ulps of the loss scale.
RTOL, ATOL = 1e-9, 1e-12
#: The curvature's Lanczos run to exhaustion and its Hutch++ sketch spanning the twin's
#: parameters: both are then exact, not estimates, and compared at the same tolerance.
BUDGET = Budget(replicates=3, points=17, zoom_points=9, max_starts=5, seed=1,
                curvature_tol=1e-12, curvature_sketch=64)
SYSTEMS = ["deep_linear", "deep_linear_L3_w4"]


#: Each analysis declares whether it has a closed form (``has_closed_form``) and which
#: variables the closed form shares with the engine (``compared``): those without one are
#: skipped below, and a test checks that every closed-form system really declines them.
DECLINED = [a for a in REGISTRY if not get_analysis(a).has_closed_form]
#: Closed forms of the loss along a path, and of other variables (the trajectory's).
ALONG_PATHS = [a for a in REGISTRY if get_analysis(a).has_closed_form
               and "loss" in get_analysis(a).compared]
OTHERS = [a for a in REGISTRY if get_analysis(a).has_closed_form
          and "loss" not in get_analysis(a).compared]


@pytest.mark.parametrize("system_name", SYSTEMS)
@pytest.mark.parametrize("analysis_name", ALONG_PATHS)
def test_engine_equals_closed_form_along_every_path(system_name, analysis_name):
    system, analysis = get_system(system_name), get_analysis(analysis_name)
    exact = analysis.closed_form(system, BUDGET)
    measured = analysis.measure(system.replicates(BUDGET), BUDGET)
    assert measured.loss.dims == exact.loss.dims
    for dim in exact.loss.dims:
        np.testing.assert_array_equal(measured[dim].values, exact[dim].values)
    for var in analysis.compared:  # the loss, and what else the closed form has
        scale = float(np.abs(exact[var]).max())
        assert measured[var].dims == exact[var].dims, var
        np.testing.assert_allclose(measured[var].values, exact[var].values,
                                   rtol=RTOL, atol=ATOL * scale, err_msg=var)
    # the paths run between the same points: equal distances along them
    # (a coordinate equal across replicates is stored once, hence the broadcast)
    np.testing.assert_allclose(measured.distance.broadcast_like(exact.distance).values,
                               exact.distance.values, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("system_name", SYSTEMS)
@pytest.mark.parametrize("analysis_name", OTHERS)
def test_engine_equals_closed_form_of_other_variables(system_name, analysis_name):
    # The trajectory: projection, residual and norm, computed by :mod:`landscapes.trajectory`
    # from the twin's checkpoints.
    system, analysis = get_system(system_name), get_analysis(analysis_name)
    exact = analysis.closed_form(system, BUDGET)
    measured = analysis.measure(system.replicates(BUDGET), BUDGET)
    for dim in exact.dims:
        np.testing.assert_array_equal(measured[dim].values, exact[dim].values)
    for var in analysis.compared:
        np.testing.assert_allclose(measured[var].values, exact[var].values,
                                   rtol=1e-8, atol=1e-10, err_msg=var)


def test_every_closed_form_is_compared():
    assert OTHERS and ALONG_PATHS
    assert set(ALONG_PATHS) | set(OTHERS) | set(DECLINED) == set(REGISTRY)


def test_the_agreement_can_fail():
    # The same comparison with another seed's anchors must not pass: the test above
    # compares numbers that depend on the anchors, not two copies of one constant.
    system, analysis = get_system("deep_linear"), get_analysis("final_to_final")
    exact = analysis.closed_form(system, BUDGET)
    other = analysis.measure(system.replicates(BUDGET.replace(seed=2)), BUDGET)
    assert not np.allclose(other.loss.values, exact.loss.values, rtol=RTOL)


def test_limits_of_the_closed_form_hold_on_the_network():
    # At α = 0 the init→final line is the init, at α = 1 a solution (J = 0); the engine
    # sees the same limits on the twin.
    system, analysis = get_system("deep_linear_L3_w4"), get_analysis("init_to_final")
    measured = analysis.measure(system.replicates(BUDGET), BUDGET)
    assert float(measured.loss.sel(alpha=1.0).max()) < 1e-12
    assert (measured.loss.sel(alpha=0.0) > 0.1).all()


@pytest.mark.parametrize("system_name", SYSTEMS)
@pytest.mark.parametrize("analysis_name", DECLINED)
def test_closed_forms_decline_what_they_have_no_counterpart_of(system_name, analysis_name):
    from landscapes.app.analyses import Declined

    with pytest.raises(Declined):
        get_system(system_name).analyze(get_analysis(analysis_name), BUDGET, None)


def test_only_the_zoo_analyses_are_declined():
    # What trains the zoo or a batch-norm pair has no counterpart in one gradient flow,
    # nor has what declares no closed form (alignment permutes hidden units), and
    # everything else has one.
    from landscapes.app.analyses import REGISTRY, ZOO_ANALYSES

    without = {n for n in REGISTRY if not get_analysis(n).has_closed_form}
    assert set(DECLINED) == set(ZOO_ANALYSES) | without
