"""Spawn instability: the barrier between two children of iteration k (Frankle et al. 2020)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from landscapes import metrics, results
from landscapes.app.analyses import ANALYSES, EXTENSIONS, ZOO_ANALYSES, Declined, get_analysis
from landscapes.app.analyses.base import Context, Plan
from landscapes.app.analyses.instability import DIM, children_lines, spawn_iterations
from landscapes.app.papers import get_paper
from landscapes.app.papers.base import Outcome
from landscapes.app.settings import Budget
from landscapes.app.systems import frankle_iterations, get_system, log_spaced

ANALYSIS = get_analysis("instability")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    system = get_system("mnist_mlp")
    reps = system.replicates(tiny, runtime)
    return reps, tiny, system.analyze(ANALYSIS, tiny, runtime)


def _equal(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_instability_at_the_final_iteration_is_zero(measured):
    # Children spawned at the last iteration train nothing: both are the parent.
    reps, _, ds = measured
    final = reps.total
    assert final in ds[DIM].values and ds.attrs["final_iteration"] == final
    for r in range(reps.count):
        one, two = (reps.variant(spawn_at=final, spawn_child=c).final(r) for c in (1, 2))
        assert _equal(one, reps.final(r)) and _equal(two, reps.final(r))
    last = ds.sel({DIM: final})
    assert bool((last.children_identical == 1).all())
    for var in ("loss", "error"):
        assert float(metrics.linear_barrier(last[var]).height.max()) == 0.0
        assert float((last[var].max("alpha") - last[var].min("alpha")).max()) == 0.0


def test_children_of_an_early_iteration_differ(measured):
    reps, _, ds = measured
    first = ds.sel({DIM: 0})
    assert not bool(first.children_identical.any())
    assert bool((first.distance.isel(alpha=-1) > 0).all())  # ‖θ_1 − θ_2‖
    # Different data orders end at different solutions, with different losses.
    assert bool((first.loss.isel(alpha=0) != first.loss.isel(alpha=-1)).all())
    one, two = (reps.variant(spawn_at=0, spawn_child=c) for c in (1, 2))
    assert _equal(one.init(0), two.init(0)) and not _equal(one.final(0), two.final(0))


def test_dataset_schema_and_the_k_of_from_iteration(measured, runtime):
    reps, budget, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", DIM, "alpha")
    assert float(ds.alpha.min()) == 0.0 and float(ds.alpha.max()) == 1.0
    starts = get_system("mnist_mlp").analyze(get_analysis("from_iteration"), budget, runtime)
    assert list(ds[DIM].values) == [*starts.start_iteration.values, reps.total]
    # eval_examples is a subset: the loss barrier carries its bootstrap interval
    iv = ds.linear_interval
    assert iv.dims == ("replicate", "split", DIM, "bound")
    assert bool((iv.sel(bound="low") <= iv.sel(bound="high")).all())
    rows = ANALYSIS.rows(ds, Context())
    assert rows["children identical at k = final"] == f"yes ({reps.count}/{reps.count})"
    assert f"k={reps.total}: 0" in rows["instability (error barrier between children) vs k"]


def test_the_adaptive_search_reads_the_same_lines(measured, runtime):
    _, budget, grid = measured
    ds = get_system("mnist_mlp").analyze(
        ANALYSIS, budget.replace(barrier_tol=1e-3, barrier_evaluations=15), runtime)
    np.testing.assert_array_equal(ds.loss.values, grid.loss.values)  # the same children
    found, coarse = ds.linear_adaptive, metrics.linear_barrier(ds.loss).height
    assert bool((found >= coarse.transpose(*found.dims) - ds.linear_adaptive_tolerance
                 - 1e-9).all())
    assert float(ds.linear_adaptive.sel({DIM: ds.attrs["final_iteration"]}).max()) == 0.0
    assert int(ds.adaptive_evaluations.max()) <= 11 + 2 * (15 - 11)


def test_points_and_runs_are_priced_from_the_plan():
    budget = Budget(points=11, max_starts=4)
    saved = [0, 1, 2, 4, 8, 16, 32, 64, 100, 128, 200]
    plan = Plan(total=200, per_epoch=100, checkpoints=tuple(saved),
                starts=tuple(log_spaced(frankle_iterations(saved, 200), 4)))
    assert spawn_iterations(200, 4) == [*plan.starts, 200]
    assert ANALYSIS.count_points(budget, plan) == (len(plan.starts) + 1) * 11
    searched = budget.replace(barrier_tol=1e-3, barrier_evaluations=20)
    # Each split's search starts from the line's 11 points and adds up to 20 of its own.
    assert ANALYSIS.count_points(searched, plan) == (len(plan.starts) + 1) * (11 + 2 * 20)
    changes = ANALYSIS.variants(None, 200, budget)
    assert {c["spawn_child"] for c in changes} == {1, 2}
    assert sorted({c["spawn_at"] for c in changes}) == [*plan.starts, 200]


def test_a_line_between_equal_children_is_one_point():
    a, b = {"w": torch.tensor([0.1, 0.7])}, {"w": torch.tensor([0.3, -0.2])}
    p = children_lines({0: (a, b), 5: (a, dict(a))}, np.linspace(0, 1, 7))
    assert p.shape == (2, 7) and len(p.anchors) == 3
    assert all(torch.equal(p.point((1, i))["w"], a["w"]) for i in range(7))
    assert torch.allclose(p.point((0, 6))["w"], b["w"])


def test_closed_forms_decline_with_a_reason():
    system = get_system("deep_linear")
    budget = Budget(replicates=2, points=5)
    with pytest.raises(Declined):
        system.analyze(ANALYSIS, budget, None)
    with pytest.raises(Declined, match="SGD noise"):
        ANALYSIS.measure(system.replicates(budget), budget)


def test_an_extension_that_trains_children():
    assert "instability" in EXTENSIONS and "instability" in ZOO_ANALYSES
    assert "instability" not in ANALYSES and ANALYSIS.needs.spawn


def test_the_frankle_extension_is_listed_and_judged(measured, runtime, tmp_path):
    _, budget, ds = measured
    paper = get_paper("frankle2020")
    figure = paper.figure("ext-instability")
    assert figure.on_request and ("mnist_mlp", "instability") in figure.needs
    [claim] = [c for c in paper.claims if c.figures == ("ext-instability",)]
    assert claim.extension
    starts = get_system("mnist_mlp").analyze(get_analysis("from_iteration"), budget, runtime)
    study = SimpleNamespace(parts={"instability": {"mnist_mlp": ds},
                                   "from_iteration": {"mnist_mlp": starts}})
    outcome = Outcome(study=study, budget=budget)  # type: ignore[arg-type]
    text, verdict = claim.judge(outcome)
    assert verdict == "shown" and "mnist_mlp" in text and "stable" in text
    assert f"at k = final ({ds.attrs['final_iteration']}): barrier 0" in text
    assert "Spearman" in text
    figure.draw(outcome).savefig(tmp_path / "ext.png")
    assert (tmp_path / "ext.png").stat().st_size > 0
