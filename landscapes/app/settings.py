"""Budgets: what a study computes, as one frozen dataclass whose fields become CLI flags.

A :class:`Budget` holds every knob that decides how much a study computes -- training
length, evaluation examples, grid sizes, replicates -- and the choices that change its
numbers (batch-norm policy, precision). It is composed, not written out: the
:class:`Shared` knobs (replicates, seed, data, numerics) plus the fields of every
registered analysis' own ``Settings`` dataclass (:class:`~landscapes.app.analyses.base.
Analysis`), which also validates them. Each field carries its help text, so the
command-line flags (:func:`add_flags`), ``--help`` and each analysis' cache key
(:meth:`Budget.key` of its derived ``uses``) all come from the analyses' declarations
and cannot drift apart. Settings that only change how fast the same numbers come
(threads, progress output, the device's index) are :class:`Runtime` fields instead.

Examples
--------
>>> b = Budget(points=41, replicates=2)
>>> b.replace(points=11).points
11
>>> Budget(bn="recomput")
Traceback (most recent call last):
...
ValueError: unknown bn 'recomput' (did you mean 'recompute'?); choose from ['interpolate', 'recompute']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import Any

from landscapes import flags
from landscapes.app.analyses.base import Knobs
from landscapes.app.runtime import Runtime
from landscapes.names import unknown_name

__all__ = ["Budget", "Shared", "Runtime", "BN_MODES", "PRECISIONS", "add_flags", "budget_from_args"]

#: Batch-norm policies of :func:`landscapes.evaluate`.
BN_MODES = ("interpolate", "recompute")
#: Precisions of :func:`landscapes.evaluate`.
PRECISIONS = ("float32", "bfloat16", "float16")


def _knob(default: Any, help: str, metavar: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "metavar": metavar})


@dataclass(frozen=True)
class Shared(Knobs):
    """The knobs every analysis may share: how many replicates, which data, which numerics.

    An analysis' own knobs are declared by the analysis (its ``Settings``); :class:`Budget`
    is this plus all of them. ``None`` in an optional field means "the natural full
    amount": every example of a split, every start iteration, each experiment's own
    training length.
    """

    replicates: int = _knob(3, "replicates per system: independently trained networks, or "
                               "seeded inits for theory (final->final pairs them)", "N")
    seed: int = _knob(0, "base seed of the replicates", "N")
    epochs: float | None = _knob(None, "training length of every network in epochs "
                                       "(default: each experiment's own)", "E")
    eval_examples: int | None = _knob(None, "examples of each split the networks are "
                                            "evaluated on, the first N (default: all)", "N")
    train_examples: int | None = _knob(None, "train every network on the first N training "
                                             "examples only (default: all)", "N")
    splits: tuple[str, ...] = _knob(("train", "test"), "comma-separated splits to evaluate",
                                    "LIST")
    max_starts: int | None = _knob(None, "at most this many start iterations t, "
                                         "log-spaced (default: every checkpoint of Frankle's "
                                         "schedule)", "N")
    trajectory_points: int = _knob(0, "extra evenly spaced checkpoints for the trajectory, "
                                      "besides Frankle's log-spaced ones", "N")
    random_scale: float = _knob(5.0, "norm of the random start of random->final, in units of "
                                     "the solution's norm (layer by layer)", "S")
    bn: str = _knob("interpolate", "batch-norm statistics along a path: 'interpolate' them "
                                   "or 'recompute' them at every point", "MODE")
    precision: str = _knob("float32", "precision of the evaluation's forward passes: "
                                      "float32 (exact), bfloat16 or float16 (autocast)", "P")
    train_precision: str = _knob("float32", "precision of every network's training: "
                                            "float32, or bfloat16 autocast (CPU and CUDA; "
                                            "float16 on CUDA only)", "P")

    def __post_init__(self) -> None:
        _coerce(self)
        _validate(self)
        for settings in _SETTINGS:  # each analysis validates its own knobs
            settings(**{f.name: getattr(self, f.name) for f in fields(settings)})

    def replace(self, **changes: Any) -> Budget:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def key(self, used: tuple[str, ...] | None = None) -> str:
        """Canonical JSON of the fields in ``used`` (default all): a cache key's part.

        Examples
        --------
        >>> Budget().key(("points",)) == Budget(epochs=3).key(("points",))
        True
        """
        values = self.to_dict()
        names = values if used is None else used
        return json.dumps({k: values[k] for k in sorted(names)}, sort_keys=True)


def _declared(analyses: Any = None) -> tuple[list[type], list[dataclasses.Field]]:
    """The ``Settings`` of ``analyses`` (default: every registered one), and their
    fields, each name once.

    Several analyses may declare one knob (the lines' ``points``): the declarations
    must agree, or the one flag could not serve them all.
    """
    from landscapes.app.analyses import REGISTRY, get_analysis

    if analyses is None:
        analyses = [get_analysis(name) for name in REGISTRY]
    shared = {f.name for f in fields(Shared)}
    classes: list[type] = []
    own: dict[str, tuple[str, dataclasses.Field]] = {}
    for analysis in analyses:
        name, settings = analysis.name, analysis.Settings
        if settings not in classes:
            classes.append(settings)
        for f in fields(settings):
            if f.name in shared:
                raise TypeError(f"analysis {name!r} declares {f.name!r}, a shared budget "
                                f"field: list it in its reads instead")
            seen = own.setdefault(f.name, (name, f))
            if (seen[1].type, seen[1].default, dict(seen[1].metadata)) != (
                    f.type, f.default, dict(f.metadata)):
                raise TypeError(f"analyses {seen[0]!r} and {name!r} declare {f.name!r} "
                                f"differently")
    return classes, [f for _, f in own.values()]


_SETTINGS, _OWN = _declared()

#: How much a study computes, and every choice that changes its numbers: the
#: :class:`Shared` knobs and every registered analysis' own (its ``Settings``).
Budget = dataclasses.make_dataclass(
    "Budget",
    [(f.name, f.type, field(default=f.default, metadata=f.metadata)) for f in _OWN],
    bases=(Shared,), frozen=True,
    namespace={"__doc__": """How much a study computes, and every choice that changes its numbers.

    The :class:`Shared` knobs, then each registered analysis' own knobs (the fields of
    its ``Settings``, in registry order). ``None`` in an optional field means "the
    natural full amount".
    """})
Budget.__module__ = __name__  # pickled by name: Dask ships budgets to its workers


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _coerce(budget: Shared) -> None:
    # 40 and 40.0 must be one budget, and a CLI string must not slip through.
    for f in fields(budget):
        value = getattr(budget, f.name)
        base = str(f.type).split(" |")[0]
        if value is None or isinstance(value, bool):
            if isinstance(value, bool):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            continue
        try:
            if base == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                value = int(value)
            elif base == "float":
                value = float(value)
            elif base.startswith("tuple"):
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                value = tuple(str(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{f.name} must be {base}, got {value!r}") from None
        object.__setattr__(budget, f.name, value)


def _validate(b: Shared) -> None:
    # The shared knobs; each analysis' Settings validates its own.
    if b.replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {b.replicates!r}")
    for name in ("eval_examples", "max_starts", "train_examples"):
        value = getattr(b, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or unset for all), got {value!r}")
    if b.epochs is not None and not b.epochs > 0:
        raise ValueError(f"epochs must be positive (or unset for each experiment's own), "
                         f"got {b.epochs!r}")
    if b.seed < 0 or b.trajectory_points < 0:
        raise ValueError(f"seed and trajectory_points must be >= 0, got {b.seed!r} and "
                         f"{b.trajectory_points!r}")
    if not b.random_scale > 0:
        raise ValueError(f"random_scale must be positive, got {b.random_scale!r}")
    if not b.splits:
        raise ValueError("splits must name at least one split, e.g. 'train,test'")
    if b.bn not in BN_MODES:
        raise unknown_name("bn", b.bn, BN_MODES)
    if b.precision not in PRECISIONS:
        raise unknown_name("precision", b.precision, PRECISIONS)
    if b.train_precision not in PRECISIONS:
        raise unknown_name("train_precision", b.train_precision, PRECISIONS)


# ------------------------------------------------------------------------ command line


def add_flags(parser: argparse.ArgumentParser, defaults: Budget) -> None:
    """One ``--flag`` per :class:`Budget` field, with its help and the budget's value
    (:func:`landscapes.flags.add_flags`); ``all`` unsets an optional count."""
    flags.add_flags(
        parser, Budget, defaults=defaults, unset=("all", "none", "default"),
        title="budget (defaults: the chosen --budget; each changes the results and their "
              "cache key)",
        choices={"bn": BN_MODES, "precision": PRECISIONS, "train_precision": PRECISIONS})


def budget_from_args(defaults: Budget, args: argparse.Namespace) -> Budget:
    """``defaults`` with every budget flag the user gave applied (validated)."""
    return flags.from_args(defaults, args)
