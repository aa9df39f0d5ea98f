"""Budgets: validation, the flags generated from them, and their cache-key parts."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from landscapes.app.settings import Budget, add_flags, budget_from_args


def parse(argv, defaults=Budget()):
    parser = argparse.ArgumentParser()
    add_flags(parser, defaults)
    return budget_from_args(defaults, parser.parse_args(argv)), parser


def test_every_field_has_a_flag_with_its_help_and_default():
    _, parser = parse([])
    text = parser.format_help()
    for f in dataclasses.fields(Budget):
        assert f"--{f.name.replace('_', '-')}" in text
        assert f.metadata["help"].split()[0] in text
    for flag in ("--epochs", "--eval-examples", "--splits", "--points", "--zoom-points",
                 "--max-starts", "--bn", "--precision"):
        assert flag in text


def test_flags_override_only_what_was_given():
    defaults = Budget(points=41, max_starts=8, epochs=1.0)
    budget, _ = parse(["--points", "11", "--splits", "test", "--max-starts", "all"], defaults)
    assert budget.points == 11 and budget.splits == ("test",) and budget.max_starts is None
    assert budget.epochs == 1.0 and budget.zoom_points == defaults.zoom_points
    assert parse([], defaults)[0] == defaults


@pytest.mark.parametrize("changes, message", [
    ({"points": 2}, "points must be at least 3"),
    ({"replicates": 0}, "replicates must be at least 1"),
    ({"eval_examples": 0}, "eval_examples must be at least 1"),
    ({"epochs": -1}, "epochs must be positive"),
    ({"bn": "recomput"}, "did you mean 'recompute'"),
    ({"precision": "fp8"}, "unknown precision 'fp8'"),
    ({"points": 2.5}, "points must be int"),
    ({"splits": ""}, "splits must name at least one split"),
    ({"optimizers": "sgd"}, "at least two distinct optimizers"),
    ({"optimizers": "sgd,adma"}, "did you mean 'adam'"),
    ({"switches": "sgd>sgd"}, "switches 'sgd' to itself"),
    ({"switches": "sgd-adam"}, "must read first>second"),
    ({"basin_threshold": 0}, "basin_threshold must be positive"),
    ({"surface_points": 2}, "surface_points must be at least 3"),
    ({"train_examples": 0}, "train_examples must be at least 1"),
])
def test_bad_values_get_one_clear_line(changes, message):
    with pytest.raises(ValueError, match=message):
        Budget(**changes)


def test_equal_requests_are_equal_budgets():
    assert Budget(epochs=40) == Budget(epochs=40.0)
    assert Budget(splits="train,test") == Budget()


def test_key_holds_exactly_the_fields_asked_for():
    a, b = Budget(), Budget(epochs=3.0, points=50)
    assert a.key(("replicates", "seed")) == b.key(("replicates", "seed"))
    assert a.key(("points",)) != b.key(("points",))
    assert a.key() != b.key()
