"""Flags from a dataclass: types, choices, help, and only what was given applied."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from landscapes.flags import UNSET, add_flags, from_args, given


@dataclass(frozen=True)
class Knobs:
    """Knobs of a test.

    Attributes
    ----------
    mode : str
        how the points are found,
        over two lines
    """

    points: int = field(default=11, metadata={"help": "points per line"})
    scale: float | None = field(default=None, metadata={"help": "scale of the start"})
    splits: tuple[str, ...] = field(default=("train", "test"), metadata={"help": "splits"})
    starts: tuple[int, ...] = field(default=(), metadata={"help": "start iterations"})
    fused: bool = field(default=False, metadata={"help": "fuse the first layer"})
    mode: Literal["interpolate", "recompute"] = "interpolate"
    name: str | None = field(default="x", metadata={"help": "a name", "metavar": "NAME"})

    def __post_init__(self) -> None:
        if self.points < 3:
            raise ValueError(f"points must be at least 3, got {self.points!r}")


def parser_for(*args, **kwargs):
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_flags(parser, *args, **kwargs)
    return parser


def test_nothing_given_is_unset_and_changes_nothing():
    args = parser_for(Knobs).parse_args([])
    assert all(getattr(args, name) is UNSET for name in
               ("points", "scale", "splits", "starts", "fused", "mode", "name"))
    defaults = Knobs(points=5)
    assert given(args, Knobs) == {} and from_args(defaults, args) is defaults


def test_each_type_parses_and_only_given_flags_change():
    argv = ["--points", "7", "--scale", "2.5", "--splits", "test, val,", "--starts", "1,20",
            "--mode", "recompute"]
    got = from_args(Knobs(name="kept"), parser_for(Knobs).parse_args(argv))
    assert got == Knobs(points=7, scale=2.5, splits=("test", "val"), starts=(1, 20),
                        mode="recompute", name="kept")


def test_unset_words_give_none_for_optional_fields_only():
    parser = parser_for(Knobs, unset=("all", "none"))
    got = from_args(Knobs(scale=3.0, name="y"),
                    parser.parse_args(["--scale", "ALL", "--name", "none"]))
    assert got.scale is None and got.name is None
    with pytest.raises(argparse.ArgumentError, match="invalid int value: 'none'"):
        parser.parse_args(["--points", "none"])


@pytest.mark.parametrize("argv, value", [(["--fused"], True), (["--fused", "false"], False),
                                         (["--fused", "yes"], True), (["--no-fused"], False)])
def test_bools_read_as_switches_or_words(argv, value):
    assert from_args(Knobs(fused=not value), parser_for(Knobs).parse_args(argv)).fused is value


def test_choices_come_from_literal_metadata_or_the_caller():
    with pytest.raises(argparse.ArgumentError, match="invalid choice: 'recomput'"):
        parser_for(Knobs).parse_args(["--mode", "recomput"])
    parser = parser_for(Knobs, choices={"name": ["x", "y"]})
    with pytest.raises(argparse.ArgumentError, match="invalid choice: 'z'"):
        parser.parse_args(["--name", "z"])


def test_help_comes_from_metadata_or_the_docstring_and_shows_the_defaults():
    text = parser_for(Knobs, defaults=Knobs(points=41), title="knobs").format_help()
    assert "knobs:" in text and "points per line [41]" in text
    assert "how the points are found, over two lines [interpolate]" in " ".join(text.split())
    assert "('none' to unset) [none]" in " ".join(text.split())  # scale: None, spelled
    assert "train,test" in text and "NAME" in text
    labelled = " ".join(parser_for(Knobs(points=9), label="mine").format_help().split())
    assert "[mine: 9]" in labelled and "[mine: ('train', 'test')]" in labelled


def test_excluded_fields_have_no_flag_and_misnamed_ones_are_an_error():
    text = parser_for(Knobs, exclude=("points",)).format_help()
    assert "--points" not in text and "--scale" in text
    with pytest.raises(ValueError, match=r"exclude names no field of Knobs: \['pionts'\]"):
        parser_for(Knobs, exclude=("pionts",))
    with pytest.raises(TypeError, match="needs a dataclass"):
        parser_for(int)


def test_the_class_validates_what_the_flags_give():
    args = parser_for(Knobs).parse_args(["--points", "2"])
    with pytest.raises(ValueError, match="points must be at least 3, got 2"):
        from_args(Knobs(), args)


def test_flags_go_on_a_group_and_unset_pickles_as_itself():
    import pickle

    parser = argparse.ArgumentParser()
    group = parser.add_argument_group("mine")
    assert add_flags(group, Knobs) is group
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET and repr(UNSET) == "UNSET"
