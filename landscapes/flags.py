"""Command-line flags from a dataclass: one ``--flag`` per field, and back.

:func:`add_flags` gives every field of a dataclass a flag whose type, choices and help
come from what the field declares:

- its type hint: ``int``, ``float`` and ``str`` parse as such; ``X | None`` also takes
  an unset word (``none``) for None; ``tuple[X, ...]`` reads a comma-separated list;
  ``bool`` is ``--x`` / ``--no-x`` (``--x false`` reads too); ``Literal[...]`` gives
  the choices;
- its help: the field's ``metadata["help"]``, else its entry in the class docstring's
  ``Attributes`` section; ``metadata["metavar"]`` and ``metadata["choices"]`` where
  given;
- the value it stands for now: a defaults instance's value, shown in brackets.

A flag not given parses to :data:`UNSET`, so :func:`from_args` can tell it from any
value, ``None`` included, and changes only what the user gave.

Examples
--------
>>> import argparse
>>> from dataclasses import dataclass, field
>>> @dataclass(frozen=True)
... class Knobs:
...     points: int = field(default=11, metadata={"help": "points per line"})
...     scale: float | None = field(default=None, metadata={"help": "scale"})
...     splits: tuple[str, ...] = field(default=("train",), metadata={"help": "splits"})
>>> parser = argparse.ArgumentParser()
>>> _ = add_flags(parser, Knobs)
>>> from_args(Knobs(), parser.parse_args(["--points", "5", "--splits", "train,test"]))
Knobs(points=5, scale=None, splits=('train', 'test'))
>>> from_args(Knobs(scale=2.0), parser.parse_args(["--scale", "none"])).scale is None
True
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["UNSET", "add_flags", "from_args", "given"]


class _Unset:
    """The value of a flag that was not given."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


#: What :func:`add_flags`'s flags parse to when not given.
UNSET: Any = _Unset()


def add_flags(parser_or_group: Any, cls_or_instance: Any, *, defaults: Any = None,
              title: str | None = None, exclude: Iterable[str] = (), label: str | None = None,
              unset: Sequence[str] = ("none",),
              choices: Mapping[str, Sequence[Any]] | None = None) -> Any:
    """One ``--flag`` per field of a dataclass, on a parser or an argument group.

    Parameters
    ----------
    parser_or_group : argparse.ArgumentParser or argument group
    cls_or_instance : dataclass type or instance
        Whose fields become flags (an instance also gives the values shown).
    defaults : dataclass instance, optional
        The values shown in each flag's help (default: ``cls_or_instance`` if an
        instance, else the class defaults).
    title : str, optional
        Put the flags in an argument group of this title (default: where given).
    exclude : iterable of str
        Fields without a flag.
    label : str, optional
        How the shown values are named: ``[label: 0.1]`` (the value's repr); without a
        label, ``[0.1]`` as one would type it on the command line.
    unset : sequence of str
        The words (any case) that set an optional field to None; the first is the one
        the help names.
    choices : mapping, optional
        Field name -> its allowed values, besides those of ``Literal`` hints and of
        ``metadata["choices"]``.

    Returns
    -------
    The parser or group the flags went to.
    """
    cls = cls_or_instance if isinstance(cls_or_instance, type) else type(cls_or_instance)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"add_flags needs a dataclass or an instance of one, got {cls!r}")
    if defaults is None and not isinstance(cls_or_instance, type):
        defaults = cls_or_instance
    if not unset:
        raise ValueError("unset must name at least one word, e.g. ('none',)")
    skip = set(exclude)
    unknown = skip - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"exclude names no field of {cls.__name__}: {sorted(unknown)}")
    group = parser_or_group.add_argument_group(title) if title else parser_or_group
    hints = typing.get_type_hints(cls)
    docs = _attribute_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            _add_flag(group, f, hints[f.name], docs, defaults, label, tuple(unset),
                      (choices or {}).get(f.name))
    return group


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` whose flags ``args`` holds a value for (not :data:`UNSET`)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if getattr(args, f.name, UNSET) is not UNSET}


def from_args(defaults: Any, args: argparse.Namespace) -> Any:
    """``defaults`` with every flag given in ``args`` applied (:func:`dataclasses.replace`,
    so the class validates the result); ``defaults`` itself when none was given."""
    changes = given(args, type(defaults))
    return dataclasses.replace(defaults, **changes) if changes else defaults


# ------------------------------------------------------------------------ one flag


def _add_flag(group: Any, f: dataclasses.Field, hint: Any, docs: dict[str, str], defaults: Any,
              label: str | None, unset: tuple[str, ...], extra: Sequence[Any] | None) -> None:
    base, optional = _strip_none(hint)
    allowed = list(extra or f.metadata.get("choices") or ())
    if typing.get_origin(base) is typing.Literal:
        allowed = allowed or list(typing.get_args(base))
        base = type(allowed[0])
    help_text = f.metadata.get("help") or docs.get(f.name, "")
    if optional:
        help_text += f" ('{unset[0]}' to unset)"
    value = _default(f) if defaults is None else getattr(defaults, f.name)
    shown = f"{label}: {value!r}" if label is not None else _spell(value, unset[0])
    flag = f"--{f.name.replace('_', '-')}"
    metavar = f.metadata.get("metavar") or (None if allowed else
                                            str(f.type).split(" |")[0].upper())
    convert = _converter(base)
    if optional:
        convert = _or_none(convert, unset)
    options: dict[str, Any] = {"dest": f.name, "default": UNSET, "type": convert,
                               "metavar": metavar, "help": f"{help_text} [{shown}]"}
    if allowed:
        options["choices"] = allowed
    if base is bool:
        # --x alone sets it; --x false and --no-x clear it.
        group.add_argument(flag, nargs="?", const=True, **options)
        group.add_argument(f"--no-{flag[2:]}", dest=f.name, action="store_const", const=False,
                           default=UNSET, help=f"--{flag[2:]} false")
    else:
        group.add_argument(flag, **options)


def _strip_none(hint: Any) -> tuple[Any, bool]:
    """The type without ``| None``, and whether None was allowed."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"a flag needs one type besides None, got {hint!r}")
        return args[0], optional
    return hint, False


def _converter(base: Any) -> Callable[[str], Any]:
    if typing.get_origin(base) is tuple:
        element = (typing.get_args(base) or (str,))[0]
        return _comma_list(_converter(element))
    if base is bool:
        return _parse_bool
    if base in (int, float, str):
        return base
    raise TypeError(f"no flag type for {base!r}: use int, float, str, bool, a tuple of "
                    "those, Literal[...] or any of them | None")


def _comma_list(convert: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(convert(t.strip()) for t in text.split(",") if t.strip())

    parse.__name__ = f"{convert.__name__} list"  # argparse names the type in its errors
    return parse


def _or_none(convert: Callable[[str], Any], words: tuple[str, ...]) -> Callable[[str], Any]:
    lowered = {w.lower() for w in words}

    def value_or_none(text: str) -> Any:
        return None if text.lower() in lowered else convert(text)

    value_or_none.__name__ = convert.__name__
    return value_or_none


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


_parse_bool.__name__ = "boolean"


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _spell(value: Any, unset: str) -> str:
    """A value as one would type it."""
    if value is None:
        return unset
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _attribute_docs(cls: type) -> dict[str, str]:
    """Field -> description from the numpydoc ``Attributes`` section of ``cls``'s docstring."""
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^Attributes\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.M | re.S)
    if match is None:
        return {}
    out: dict[str, str] = {}
    name = None
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            name = line.split(":")[0].strip()
            out[name] = ""
        elif name is not None and line.strip():
            out[name] = f"{out[name]} {line.strip()}".strip()
    return out
