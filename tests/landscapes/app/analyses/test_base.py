"""What an analysis declares: its settings, the shared knobs it reads, and the view that
holds it to them; the cache key and the CLI flags derived from the declarations."""

from __future__ import annotations

import argparse
import pickle
from dataclasses import dataclass, fields

import numpy as np
import pytest

from landscapes.app.analyses import REGISTRY, get_analysis
from landscapes.app.analyses.base import (
    COMMON,
    Analysis,
    Plan,
    at_least,
    knob,
)
from landscapes.app.analyses.line import LineSettings
from landscapes.app.settings import Budget, Shared, _declared, add_flags


@dataclass(frozen=True)
class _Width:
    width: int = knob(7, "how wide the demo's window is", "N")

    def __post_init__(self) -> None:
        at_least("width", self.width, 1)


class _Demo(Analysis):
    name = "demo"
    Settings = LineSettings

    def grid(self, budget):
        return np.linspace(0.0, 1.0, budget.points)


class _Forgetful(_Demo):
    name = "forgetful"

    def grid(self, budget):  # reads a knob it never declared
        return np.linspace(0.0, 1.0, budget.surface_points)


def test_uses_is_derived_from_the_declarations():
    assert _Demo().uses == (*COMMON, "points")
    for name in REGISTRY:
        analysis = get_analysis(name)
        own = {f.name for f in fields(analysis.Settings)}
        assert set(analysis.uses) == set(COMMON) | set(analysis.reads) | own
        # nothing hand-kept: no registered analysis lists its fields itself
        assert all("uses" not in vars(c) for c in type(analysis).__mro__[:-2]), name


def test_a_read_of_an_undeclared_knob_fails_with_one_clear_line():
    assert _Demo().count_points(Budget(points=9), Plan(total=10, per_epoch=5)) == 9
    with pytest.raises(AttributeError, match="'forgetful' read the budget field "
                                             "'surface_points' it does not declare"):
        _Forgetful().grid(Budget())


def test_the_view_pickles_and_stays_frozen():
    view = _Demo().view(Budget(points=5))
    again = pickle.loads(pickle.dumps(view))
    assert again.points == 5 and _Demo().view(view) is view
    with pytest.raises(AttributeError):
        again.points = 3
    with pytest.raises(AttributeError):
        again.replicates_  # noqa: B018 -- undeclared


def test_budget_is_the_shared_knobs_plus_every_analysis_own():
    shared = {f.name for f in fields(Shared)}
    own = {f.name for name in REGISTRY for f in fields(get_analysis(name).Settings)}
    assert {f.name for f in fields(Budget)} == shared | own and not shared & own
    assert pickle.loads(pickle.dumps(Budget(points=11))) == Budget(points=11)


def test_each_declared_knob_is_a_flag_with_its_help():
    parser = argparse.ArgumentParser()
    add_flags(parser, Budget())
    text = " ".join(parser.format_help().split())
    for name in REGISTRY:
        for f in fields(get_analysis(name).Settings):
            assert f"--{f.name.replace('_', '-')}" in text
            assert " ".join(f.metadata["help"].split()[:4]) in text


def test_the_settings_validate_their_own_knobs():
    assert get_analysis("basin").settings(Budget(points=5)).points == 5
    with pytest.raises(ValueError, match="zoom_points must be at least 3"):
        Budget(zoom_points=1)


def test_two_analyses_must_declare_one_knob_alike():
    @dataclass(frozen=True)
    class Other:
        points: int = knob(5, "another meaning of points", "N")

    class _Other(_Demo):
        name = "other"
        Settings = Other

    class _Sharing(_Demo):
        name = "sharing"
        Settings = _Width

    classes, own = _declared([_Demo(), _Sharing()])
    assert classes == [LineSettings, _Width] and [f.name for f in own] == ["points", "width"]
    with pytest.raises(TypeError, match="'demo' and 'other' declare 'points' differently"):
        _declared([_Demo(), _Other()])


def test_a_shared_knob_cannot_be_declared_as_an_analysis_own():
    @dataclass(frozen=True)
    class Seedy:
        seed: int = knob(0, "a second seed", "N")

    class _Seedy(_Demo):
        name = "seedy"
        Settings = Seedy

    with pytest.raises(TypeError, match="shared budget field"):
        _declared([_Seedy()])


@pytest.mark.parametrize("name", REGISTRY)
def test_the_declarations_match_what_the_analysis_does(name):
    analysis, cls = get_analysis(name), type(get_analysis(name))
    assert (cls.closed_form is not Analysis.closed_form) == analysis.has_closed_form
    assert (cls.variants is not Analysis.variants) == analysis.needs.variants
    assert analysis.compared and analysis.cost > 0
