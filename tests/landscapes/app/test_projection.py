"""The time projection prices each analysis by what it declares (points, cost per point)."""

from __future__ import annotations

import pytest

from experiments.checkpoints import schedule
from landscapes.app.analyses import REGISTRY, get_analysis
from landscapes.app.analyses.line import Line
from landscapes.app.projection import _points
from landscapes.app.settings import Budget
from landscapes.app.systems import frankle_iterations, log_spaced

BUDGET = Budget(points=11, zoom_points=9, surface_points=5, max_starts=4)
TOTAL, PER_EPOCH = 2000, 100


@pytest.mark.parametrize("name", REGISTRY)
def test_every_analysis_declares_a_count(name):
    points = _points(get_analysis(name), BUDGET, TOTAL, PER_EPOCH)
    assert points >= 0 and float(points).is_integer()


def test_the_counts_are_the_paths_lengths():
    saved = schedule(TOTAL, PER_EPOCH)
    starts = log_spaced(frankle_iterations(saved, TOTAL), BUDGET.max_starts)
    for name in REGISTRY:
        analysis = get_analysis(name)
        if isinstance(analysis, Line):
            assert _points(analysis, BUDGET, TOTAL, PER_EPOCH) == len(analysis.grid(BUDGET))
    assert _points(get_analysis("trajectory"), BUDGET, TOTAL, PER_EPOCH) == 0
    assert _points(get_analysis("learning_curve"), BUDGET, TOTAL, PER_EPOCH) == len(saved)
    from_t = get_analysis("from_iteration")
    assert _points(from_t, BUDGET, TOTAL, PER_EPOCH) == len(starts) * len(from_t.grid(BUDGET))
    surfaces = _points(get_analysis("surfaces"), BUDGET, TOTAL, PER_EPOCH)
    assert surfaces % BUDGET.surface_points ** 2 == 0


def test_a_costlier_point_costs_more():
    class Costly(type(get_analysis("init_to_final"))):
        cost = 3.0

    plain = _points(get_analysis("init_to_final"), BUDGET, TOTAL, PER_EPOCH)
    assert _points(Costly(), BUDGET, TOTAL, PER_EPOCH) == 3 * plain
