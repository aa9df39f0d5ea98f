"""The curve analysis: final→final along the line and along a trained mode-connecting curve."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

from experiments.store import Run
from landscapes import engine, paths, results
from landscapes.app.analyses import ANALYSES, EXTENSIONS, ZOO_ANALYSES, Declined, get_analysis
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.curve import LINES, barriers, pair_changes, pair_paths
from landscapes.app.executor import InProcess, with_executor
from landscapes.app.settings import Budget
from landscapes.app.study import Study
from landscapes.app.systems import get_system

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("data_root")

ANALYSIS = get_analysis("curve")
#: Two LeNet-300-100s, 32 iterations each on 4096 MNIST examples; the bends 128 iterations.
BUDGET = Budget(replicates=2, epochs=1.0, train_examples=4096, eval_examples=512,
                curve_points=7, curve_epochs=4.0)


@pytest.fixture(scope="module")
def measured(runtime):
    system = get_system("mnist_mlp")
    return system, system.analyze(ANALYSIS, BUDGET, runtime)


def test_dataset_schema_and_the_ends_of_both_paths(measured):
    _, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "line", "alpha")
    assert tuple(ds.line.values) == LINES
    np.testing.assert_array_equal(ds.alpha.values, np.linspace(0, 1, BUDGET.curve_points))
    # the curve keeps the line's endpoints: the same two solutions at t = 0 and t = 1
    for t in (0, -1):
        end = ds.loss.isel(alpha=t)
        np.testing.assert_allclose(end.sel(line="curve"), end.sel(line="line"), rtol=1e-6)
    assert bool(np.isfinite(ds.loss).all()) and bool((ds.bend_distance > 0).all())
    assert ds.attrs["curve_kind"] == "bezier" and ds.attrs["curve_epochs"] == 4.0


def test_a_trained_curve_has_no_higher_barrier_than_the_line(measured):
    # Garipov et al. 2018: the bend is trained so that the loss stays low along the whole
    # curve. Two tiny MLPs from different inits: the line has a barrier, the curve
    # none higher, in loss on both splits.
    _, ds = measured
    b = barriers(ds)
    assert float(b.sel(split="train", line="line").min()) > 0.1
    assert bool((b.sel(line="curve") <= b.sel(line="line")).all())


def test_a_zero_bend_is_the_line_at_every_t(measured, runtime):
    # The bend starts at the endpoints' midpoint (the curve run's iteration 0), where
    # the Bezier curve (1 − t)²a + 2t(1 − t)(a + b)/2 + t²b is (1 − t)a + tb.
    system, _ = measured
    reps = system.replicates(BUDGET, runtime)
    run = reps.variant(**pair_changes(reps.config, 0, ANALYSIS.view(BUDGET))).runs[0]
    t = np.linspace(0, 1, 5)
    made = pair_paths(reps, 0, run, t, iteration=0)
    for i in range(len(t)):
        line, curve = made["line"].point(i), made["curve"].point(i)
        for k in line:
            torch.testing.assert_close(curve[k], line[k], rtol=1e-6, atol=1e-6)
    data = reps.data()
    evaluated = {name: engine.evaluate(run.model(), path, data, device="cpu", progress=False,
                                       bn="recompute").loss.values for name, path in made.items()}
    np.testing.assert_allclose(evaluated["curve"], evaluated["line"], rtol=1e-5)


@pytest.mark.parametrize("kind", ["bezier", "polychain"])
def test_either_kind_with_the_midpoint_bend_is_the_line(kind):
    torch.manual_seed(0)
    a, b = ({"w": torch.randn(4, 3), "v": torch.randn(3)} for _ in range(2))
    middle = {k: (a[k] + b[k]) / 2 for k in a}
    t = np.linspace(0, 1, 9)
    curve = getattr(paths, kind)(a, middle, b, t)
    line = paths.linear(a, b, t)
    for i in range(len(t)):
        for k in a:
            torch.testing.assert_close(curve.point(i)[k], line.point(i)[k])


def test_rows_and_panel(measured):
    _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    for var in ("loss", "error"):
        for line in LINES:
            assert len(rows[f"barrier final->final ({var}), {line}"].split(" | ")) == 2
    assert rows["curve trained"].startswith("bezier, 4 epoch(s)")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds.expand_dims(system=["mnist_mlp"]), Context())
    assert len(ax.get_lines()) == 2
    plt.close(fig)


def test_the_adaptive_search_gives_both_paths_their_barrier(measured, runtime):
    system, plain = measured
    ds = system.analyze(ANALYSIS, BUDGET.replace(barrier_tol=0.05, barrier_evaluations=15),
                        runtime)
    assert set(ds.linear_adaptive.dims) == {"replicate", "line", "split"}
    assert bool((ds.linear_adaptive_evaluations <= 15).all())
    # the search finds the barrier to its tolerance: not below the uniform grid's by more
    # where it converged, and the rows read it
    found, grid = barriers(ds), barriers(plain)
    converged = ds.linear_adaptive_converged.astype(bool).transpose(*found.dims)
    tol = ds.linear_adaptive_tolerance.transpose(*found.dims)
    assert bool(converged.any())
    assert bool(((found >= grid - tol - 1e-9) | ~converged).all())
    xr_equal = np.allclose(found.values, ds.linear_adaptive.transpose(*found.dims).values)
    assert xr_equal


def test_its_curve_runs_are_variants_of_the_system(measured, runtime):
    system, _ = measured
    reps = system.replicates(BUDGET, runtime)
    view = ANALYSIS.view(BUDGET)
    found = ANALYSIS.variants(reps.config, reps.total, view)
    assert [v["curve_ends"] for v in found] == [
        (f"{reps.config.name}/replicate_0", f"{reps.config.name}/replicate_1"),
        (f"{reps.config.name}/replicate_1", f"{reps.config.name}/replicate_0")]
    curve = reps.variant(**found[0])
    assert curve.count == 1 and curve.runs[0].done and curve.runs[0].config.curve == "bezier"
    # its weights are in the cache key: a different bend is a different result
    key = system.key(BUDGET, runtime, ANALYSIS)
    assert all(fp in key for fp in curve.fingerprints())
    assert "curve" in ZOO_ANALYSES and "curve" in EXTENSIONS and "curve" not in ANALYSES


class _Stop(Exception):
    pass


class _Recording(InProcess):
    """Records what a study submits to its cluster, then stops it."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str | None, int]] = []
        self.stop = threading.Event()

    def submit_training(self, config, replicate, **kwargs):
        self.submitted.append((config.curve, replicate))

    def train_replicates(self, *args, **kwargs):
        raise _Stop


def test_a_cluster_trains_a_curve_only_after_its_endpoints(measured, runtime, tmp_path):
    # Submitted up front, a curve's task would start before its endpoints exist.
    for store, curves in ((tmp_path / "runs", []), (runtime.runs_dir, [("bezier", 0)] * 2)):
        here = runtime.__class__(device="cpu", data_dir=runtime.data_dir, runs_dir=store,
                                 progress=False)
        executor = _Recording()
        study = Study(["mnist_mlp"], ["curve"], BUDGET, here)
        with pytest.raises(_Stop):
            study._run_on(executor, with_executor(here, executor))
        assert sorted(executor.submitted, key=str) == sorted([(None, 0), (None, 1), *curves],
                                                               key=str)


def test_closed_forms_decline_and_the_knobs_are_checked():
    with pytest.raises(Declined):
        get_system("deep_linear").analyze(ANALYSIS, BUDGET, None)
    with pytest.raises(Declined, match="networks only"):
        ANALYSIS.measure(get_system("deep_linear").replicates(BUDGET), BUDGET)
    with pytest.raises(ValueError, match="unknown curve_kind 'spline'"):
        Budget(curve_kind="spline")
    with pytest.raises(ValueError, match="curve_points must be at least 3"):
        Budget(curve_points=2)
    with pytest.raises(ValueError, match="curve_epochs must be positive"):
        Budget(curve_epochs=0.0)


def test_the_paper_extension_is_listed_and_reports_both_barriers(measured):
    from landscapes.app.papers import get_paper
    from landscapes.app.papers.base import Outcome
    from landscapes.app.papers.goodfellow2015 import MAXOUT

    paper = get_paper("goodfellow2015")
    figure = paper.figure("ext-curve")
    assert figure.needs == ((MAXOUT, "curve"),) and figure.on_request
    [claim] = [c for c in paper.claims if c.figures == ("ext-curve",)]
    assert claim.extension
    _, ds = measured  # judged on the tiny MLP's result, standing in for the maxout's
    outcome = Outcome(SimpleNamespace(parts={"curve": {MAXOUT: ds}}), paper.budgets["quick"])
    text, verdict = claim.judge(outcome)
    assert verdict == "shown" and "along the line" in text and "along the curve" in text
    line = barriers(ds).sel(split="train", line="line")
    assert f"{float(line.mean()):.3g}" in text
    assert figure.draw(outcome).axes


def test_batch_norm_is_recomputed_along_both_paths(tiny_conv, runtime):
    # Interpolated running statistics are not the network's at t: both paths re-estimate
    # them, whatever the budget's bn, so the curve's ends are its endpoints.
    import json

    budget = Budget(replicates=2, epochs=1.0, train_examples=512, eval_examples=64,
                    curve_points=3, curve_epochs=1.0, splits=("train",))
    ds = get_system(tiny_conv).analyze(ANALYSIS, budget, runtime)
    evaluation = json.loads(ds.attrs["hyperparameters"])["evaluation"]["evaluation"]
    assert evaluation["bn"] == "recompute" and budget.bn == "interpolate"
    ends = ds.loss.isel(alpha=[0, -1])
    np.testing.assert_allclose(ends.sel(line="curve"), ends.sel(line="line"), rtol=1e-5)
