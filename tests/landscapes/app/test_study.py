"""The study: cache keys hold what changes a number and nothing else; n/a for declined."""

from __future__ import annotations

import pytest

from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.base import Analysis, Declined
from landscapes.app.settings import Budget, Runtime
from landscapes.app.study import Study, analyze, cache_key
from landscapes.app.systems import get_system

QUIET = Runtime(progress=False)


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("analysis", ["init_to_final", "zoom_init", "from_iteration"])
def test_theory_keys_ignore_what_a_closed_form_does_not_use(analysis):
    system, a = get_system("deep_linear"), get_analysis(analysis)
    base = Budget(points=11, zoom_points=9)
    key = cache_key(system, a, base, QUIET)
    for unused in ({"epochs": 3.0}, {"eval_examples": 10}, {"bn": "recompute"},
                   {"precision": "bfloat16"}, {"splits": "test"}):
        assert cache_key(system, a, base.replace(**unused), QUIET) == key, unused
    used = {"init_to_final": {"points": 12}, "zoom_init": {"zoom_points": 10},
            "from_iteration": {"max_starts": 3}}[analysis]
    assert cache_key(system, a, base.replace(**used), QUIET) != key
    assert cache_key(system, a, base.replace(seed=1), QUIET) != key


def test_a_cached_result_is_read_back_and_a_damaged_one_recomputed(tmp_path, capsys):
    system, a = get_system("deep_linear"), get_analysis("init_to_final")
    budget = Budget(points=11, replicates=2)
    first = analyze(system, a, budget, Runtime())
    cached = list((tmp_path / "home" / "analyses" / "deep_linear").glob("init_to_final-*.nc"))
    assert len(cached) == 1
    assert analyze(system, a, budget, Runtime()).identical(first)
    cached[0].write_bytes(cached[0].read_bytes()[:100])  # truncated
    again = analyze(system, a, budget, Runtime())
    assert again.loss.equals(first.loss)
    assert "unreadable" in capsys.readouterr().err


class _NoTheory(Analysis):
    name = "no_theory"
    uses = ("replicates",)


def test_a_declined_analysis_reads_na_in_the_table(monkeypatch):
    from landscapes.app import analyses

    study = Study(["deep_linear"], ["init_to_final"], Budget(points=11, replicates=2), QUIET)
    study.run()
    study.parts["no_theory"] = {"deep_linear": Declined("no closed form of no_theory")}
    assert study.stacked("no_theory") is None
    table = study.table()
    assert table[0]["splits"] == "exact objective"
    assert table[0]["monotone init->final"] == "yes (2/2)"
    assert isinstance(analyses.get_analysis("trajectory"), Analysis)
    with pytest.raises(Declined):
        _NoTheory().closed_form(get_system("deep_linear"), Budget())


def test_a_zoo_analysis_is_keyed_by_the_weights_of_the_runs_it_trains(tiny, runtime):
    # The optimizer zoo's runs are variants of the system's: a different earlier result in
    # the run store under a variant's name must not be read back as this one's.
    import torch

    from landscapes.app.analyses import zoo

    system, analysis = get_system("mnist_mlp"), get_analysis("optimizers")
    key = cache_key(system, analysis, tiny, runtime)
    assert cache_key(system, analysis, tiny, runtime) == key
    run = system.replicates(tiny, runtime).variant(**zoo.changes("adam")).runs[1]
    path = run.checkpoint_path(run.summary["iterations"])
    original = path.read_bytes()
    try:
        torch.save({k: v + 1 for k, v in run.final.items()}, path)
        assert cache_key(system, analysis, tiny, runtime) != key
        # an analysis that trains no variant does not depend on them
        plain = get_analysis("init_to_final")
        assert cache_key(system, plain, tiny, runtime) == cache_key(system, plain, tiny, runtime)
    finally:
        path.write_bytes(original)


def test_the_projection_counts_the_zoos_runs_until_they_are_trained(tiny, runtime):
    from landscapes.app.projection import _unfinished_variants, project

    fresh = runtime.__class__(**{**runtime.__dict__, "runs_dir": runtime.runs_dir / "fresh"})
    system, analysis = get_system("mnist_mlp"), get_analysis("optimizers")
    switching = get_analysis("switching")
    # Adam's two replicates (SGD's are the system's own runs, counted apart) ...
    assert _unfinished_variants(system, [analysis], tiny, fresh, 4) == 2
    # ... and the switched runs: 3 fractions of adam>sgd, twice; a Runge-Kutta run counts
    # twice (two gradients per step)
    assert _unfinished_variants(system, [analysis, switching], tiny, fresh, 4) == 2 + 6
    rk = tiny.replace(optimizers=("sgd", "rk2"))
    assert _unfinished_variants(system, [analysis], rk, fresh, 4) == 4
    assert project([("mnist_mlp", "optimizers")], tiny, fresh).training > 0
    system.analyze(analysis, tiny, fresh)
    assert _unfinished_variants(system, [analysis], tiny, fresh, 4) == 0


def test_the_projection_counts_a_child_by_the_iterations_it_trains(tiny, runtime):
    from landscapes.app.projection import _unfinished_variants

    fresh = runtime.__class__(**{**runtime.__dict__, "runs_dir": runtime.runs_dir / "young"})
    system, analysis = get_system("mnist_mlp"), get_analysis("instability")
    # Children 1 and 2 of k = 0, 1, 2, 4 of 4 iterations, two replicates each: a child of k
    # trains 4 - k iterations, so in units of one run 2 * 2 * (4 + 3 + 2 + 0) / 4.
    assert _unfinished_variants(system, [analysis], tiny, fresh, 4) == 9
