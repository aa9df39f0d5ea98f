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
