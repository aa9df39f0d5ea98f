"""What an analysis is: a path per replicate, its closed form, its table rows and its panel.

An analysis never asks whether a system is theory or a trained network. A system hands
it :class:`Replicates` -- the anchors of each replicate (init, final, another final, a
random point, checkpoints) and a way to evaluate a path -- and the analysis builds its
path from them; the same definition therefore runs on a trained LeNet and on the torch
twin of a closed-form deep linear network, which is what the agreement test checks.
Systems with a closed form call :meth:`Analysis.closed_form` instead; one that has none
raises :class:`Declined` and the table shows "n/a".
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import xarray as xr


if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.anchors import Anchor
    from landscapes.paths import Path

__all__ = ["Analysis", "Declined", "Replicates", "Context", "Needs", "Plan", "NoSettings",
           "Knobs", "SettingsView", "knob", "at_least", "mean_std", "share", "per_split",
           "cells", "COMMON", "REPLICATES", "variant_replicates"]

#: Budget fields every analysis depends on.
COMMON = ("replicates", "seed")


# ------------------------------------------------------------------------- declarations


def knob(default: Any, help: str, metavar: str | None = None) -> Any:
    """A settings field with its ``--help`` text and metavar (the CLI flag is derived).

    Examples
    --------
    >>> from dataclasses import dataclass, fields
    >>> @dataclass(frozen=True)
    ... class S:
    ...     points: int = knob(100, "alpha points of the line", "N")
    >>> fields(S)[0].metadata["help"]
    'alpha points of the line'
    """
    return field(default=default, metadata={"help": help, "metavar": metavar})


def at_least(name: str, value: int, least: int) -> None:
    """Raise one clear line unless ``value >= least``."""
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value!r}")


@dataclass(frozen=True)
class NoSettings:
    """The settings of an analysis that has none of its own."""


class Knobs:
    """Marks a :class:`~landscapes.app.settings.Budget`: what an analysis' methods see
    through a :class:`SettingsView` (a marker here, so this module imports no settings)."""


class SettingsView:
    """A budget as one analysis may read it: the fields it declared, and nothing else.

    Reading an undeclared field raises, so a knob missing from an analysis'
    ``Settings`` or ``reads`` fails its tests instead of leaving a stale cache (the
    cache key is derived from the same declaration, :attr:`Analysis.uses`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> view = SettingsView(SimpleNamespace(points=5, seed=0), ("points",), "demo")
    >>> view.points
    5
    >>> view.seed  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AttributeError: analysis 'demo' read the budget field 'seed' it does not declare; ...
    """

    __slots__ = ("_budget", "_declared", "_owner")

    def __init__(self, budget: Any, declared: tuple[str, ...], owner: str) -> None:
        object.__setattr__(self, "_budget", budget)
        object.__setattr__(self, "_declared", frozenset(declared))
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pickle and copy probe dunders before the slots are set
            raise AttributeError(name)
        if name not in self._declared:
            raise AttributeError(
                f"analysis {self._owner!r} read the budget field {name!r} it does not "
                f"declare; add it to its Settings or its reads (declared: "
                f"{sorted(self._declared)})")
        return getattr(self._budget, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a budget is frozen")

    def __getstate__(self) -> tuple[Any, frozenset[str], str]:
        return self._budget, self._declared, self._owner

    def __setstate__(self, state: tuple[Any, frozenset[str], str]) -> None:
        for name, value in zip(self.__slots__, state):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"SettingsView({self._owner!r}, {sorted(self._declared)})"


@dataclass(frozen=True)
class Needs:
    """Runs an analysis trains besides a system's own (:meth:`Analysis.variants`).

    Attributes
    ----------
    zoo : bool
        The optimizer zoo of Im et al. (2016) from one init, or its switches.
    batchnorm_pair : bool
        One conv family with and without batch norm.
    spawn : bool
        Children spawned from checkpoints of the system's runs (Frankle et al. 2020).
    curve : bool
        A mode-connecting curve's bend trained between two of its solutions
        (Garipov et al. 2018).
    """

    zoo: bool = False
    batchnorm_pair: bool = False
    spawn: bool = False
    curve: bool = False

    @property
    def variants(self) -> bool:
        """Whether it trains anything besides the system's own runs."""
        return self.zoo or self.batchnorm_pair or self.spawn or self.curve


@dataclass(frozen=True)
class Plan:
    """What one replicate's training looks like, as :meth:`Analysis.count_points` prices it.

    Attributes
    ----------
    total, per_epoch : int
        Training iterations, and iterations per epoch.
    checkpoints : tuple of int
        Iterations whose weights are saved.
    starts : tuple of int
        Start iterations t the budget's ``max_starts`` picks (Frankle 2020 §4).
    """

    total: int
    per_epoch: int
    checkpoints: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()


#: Methods of an analysis that receive the budget: they see a :class:`SettingsView`.
READERS = ("path", "measure", "closed_form", "variants", "count_points", "grid")


def _viewing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Analysis, *args: Any, **kwargs: Any) -> Any:
        args = tuple(self.view(a) if isinstance(a, Knobs) else a for a in args)
        kwargs = {k: self.view(v) if isinstance(v, Knobs) else v for k, v in kwargs.items()}
        return method(self, *args, **kwargs)

    wrapper.__viewing__ = True  # type: ignore[attr-defined]
    return wrapper


#: The key of a variant's changes (:meth:`Analysis.variants`) that trains only its first
#: n replicates; not a training field, so it never reaches the config.
REPLICATES = "replicates"


def variant_replicates(changes: Mapping[str, Any], replicates: int) -> tuple[dict[str, Any], int]:
    """A variant's config changes without :data:`REPLICATES`, and how many replicates of
    it train (``replicates``, the system's, unless the entry asks for fewer).

    Examples
    --------
    >>> variant_replicates({"lr": 0.5}, 3), variant_replicates({"lr": 0.5, "replicates": 1}, 3)
    (({'lr': 0.5}, 3), ({'lr': 0.5}, 1))
    """
    rest = {k: v for k, v in changes.items() if k != REPLICATES}
    n = changes.get(REPLICATES, replicates)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= replicates:
        raise ValueError(f"a variant's {REPLICATES} must be an integer in [1, {replicates}], "
                         f"got {n!r}")
    return rest, n


class Declined(Exception):
    """A system has no counterpart of an analysis; its table cells read "n/a (why)"."""


class Replicates(Protocol):
    """The anchors of one system's replicates under one budget, and how to evaluate a path.

    Trained networks read them from the run store; closed-form systems compute them
    (:func:`theory.deep_linear.anchors`) and evaluate with their torch twin.
    """

    system: str
    count: int

    def init(self, r: int) -> Anchor:
        """θ at iteration 0 of replicate ``r``."""

    def final(self, r: int) -> Anchor:
        """θ at the end of training (the solution)."""

    def other_final(self, r: int) -> Anchor:
        """Another replicate's solution (an independent init and data order)."""

    def random(self, r: int) -> Anchor:
        """A random point of large norm (the budget's ``random_scale``)."""

    def starts(self, r: int) -> dict[int, Anchor]:
        """θ_t at the start iterations t the budget's ``max_starts`` picks."""

    def trajectory(self, r: int) -> tuple[list[int], Any]:
        """Iterations and a lazy sequence of θ at each, in training order."""

    def evaluate(self, path: Path, analysis: str, r: int, **options: Any) -> xr.Dataset:
        """Loss (and error) at every point of ``path``, in the results schema; ``options``
        go to :func:`landscapes.evaluate` (``reference=``, ``divergence=``)."""

    def label(self, parts: list[xr.Dataset]) -> xr.Dataset:
        """Stack per-replicate results along ``replicate`` with their provenance."""


@dataclass(frozen=True)
class Context:
    """What a table row or a panel may read besides its own dataset.

    Attributes
    ----------
    reference : xarray.Dataset or None
        The same system's init→final result (loss scale J_init − J_final), if computed.
    colors : dict of str to str
        Matplotlib colour of each system.
    """

    reference: xr.Dataset | None = None
    colors: Mapping[str, str] | None = None


class Analysis:
    """One analysis: subclass it in one file and add one line to the registry.

    Attributes
    ----------
    name, title, description : str
        Registry key, figure title, and the one line ``--list`` shows.
    Settings : type
        A frozen dataclass of its own knobs (each field's ``metadata["help"]`` is its
        ``--help``; :func:`knob`); :class:`~landscapes.app.settings.Budget` gains its
        fields, so the CLI flags come from here. Fields of one name that several
        analyses declare (``points``) must agree.
    reads : tuple of str
        Shared budget fields it reads besides ``replicates`` and ``seed``.
    uses : tuple of str
        Derived: ``replicates``, ``seed``, :attr:`reads` and the fields of
        :attr:`Settings` -- they, and only they, enter its cache key, and its methods
        that take the budget can read only them (:class:`SettingsView`).
    has_closed_form : bool
        Whether a closed-form system computes it exactly (:meth:`closed_form`); the
        agreement test compares every such analysis with the engine.
    compared : tuple of str
        Variables the closed form and the engine must agree on.
    needs : Needs
        Runs it trains besides the system's own (the zoo, a batch-norm pair).
    cost : float
        Forward passes over the examples per point (time projection).
    extension : bool
        Beyond the papers' own analyses (curvature): ``compare`` runs it only when
        named, and the paper reproductions mark its findings "extension".
    min_replicates : int
        Replicates it needs (final→final pairs two).
    ragged : bool
        Whether systems differ in a coordinate other than the path's (start iterations,
        trajectory steps), so stacking them outer-joins with NaN.
    """

    name: str = ""
    title: str = ""
    description: str = ""
    Settings: ClassVar[type] = NoSettings
    reads: tuple[str, ...] = ()
    has_closed_form: bool = False
    compared: tuple[str, ...] = ("loss",)
    needs: Needs = Needs()
    cost: float = 1.0
    extension: bool = False
    min_replicates: int = 1
    ragged: bool = False
    #: Barrier measures (``"rise"``, ``"linear"``, ``"bump"``) whose bootstrap interval
    #: over the examples the analysis keeps when a budget evaluates a subset of each
    #: split (``eval_examples``): ``<kind>_interval`` beside the curves
    #: (:func:`with_intervals`). Empty: none.
    intervals: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in READERS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__viewing__", False):
                setattr(cls, name, _viewing(method))

    # ------------------------------------------------------------------ declarations
    @property
    def uses(self) -> tuple[str, ...]:
        """Budget fields its results depend on: derived from :attr:`Settings` and
        :attr:`reads`, never listed by hand."""
        own = tuple(f.name for f in fields(self.Settings))
        return tuple(dict.fromkeys((*COMMON, *self.reads, *own)))

    def view(self, budget: Any) -> SettingsView:
        """``budget`` as this analysis may read it (:class:`SettingsView`)."""
        if isinstance(budget, SettingsView):
            return budget
        return SettingsView(budget, self.uses, self.name)

    def settings(self, budget: Any) -> Any:
        """This analysis' own knobs of ``budget``, as its :attr:`Settings` (validated)."""
        return self.Settings(**{f.name: getattr(budget, f.name)
                                for f in fields(self.Settings)})

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        """Points one replicate evaluates (the time projection's unit); default: the
        grid's. An analysis that reads saved checkpoints counts them from ``plan``."""
        return len(self.grid(budget))

    # ------------------------------------------------------------------ computing
    def grid(self, budget: SettingsView) -> np.ndarray:
        """The coordinates of its path (α, or a surface's side)."""
        raise NotImplementedError(f"{self.name} has no grid")

    def path(self, reps: Replicates, r: int, budget: SettingsView) -> Path:
        """The points of replicate ``r``; path analyses override this."""
        raise NotImplementedError(f"{self.name} has no path")

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        """Evaluate :meth:`path` for every replicate and stack them along ``replicate``.

        On a cluster the replicates are evaluated side by side
        (:func:`landscapes.app.executor.for_each`).
        """
        from landscapes.app.executor import for_each

        # A subset of the data is a sample: its barriers get an interval (networks only;
        # a closed form's objective is exact). The subset is the system's choice (its
        # ``uses`` carry eval_examples), so it is read from the replicates' own budget.
        subset = (bool(self.intervals) and getattr(reps, "dataset", None) is not None
                  and reps.budget.eval_examples is not None)  # type: ignore[attr-defined]

        def one(r: int) -> xr.Dataset:
            path = self.path(reps, r, budget)
            if not subset:
                return reps.evaluate(path, self.name, r)
            ds = reps.evaluate(path, self.name, r, per_example=True)
            return with_intervals(ds, self.intervals, seed=budget.seed)

        return reps.label(for_each(reps, one, range(reps.count)))

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        """The exact counterpart for a closed-form ``system``; default: none."""
        raise Declined(f"no closed form of {self.name}")

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        """Config changes of the runs this analysis trains besides the system's own.

        The optimizer zoo, switched runs, a twin without batch norm: each entry is
        applied to the system's training ``config`` (whose runs have ``total``
        iterations) by :meth:`NetworkReplicates.variant`, and trained for every
        replicate, unless the entry sets :data:`REPLICATES` to n: then only its
        replicates 0 … n − 1 (a curve between the system's replicates r and r + 1 is
        a config of its own, trained once). Their weights enter the cache key, and
        the time projection counts their training. Default: none.
        """
        return []

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        """Rows of the summary table for one system (no ``system`` dimension)."""
        return {}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Draw this analysis of every system in ``ds`` (a ``system`` dimension)."""
        raise NotImplementedError(f"{self.name} has no panel")


for _name in READERS:  # the base's own defaults see the view too
    setattr(Analysis, _name, _viewing(getattr(Analysis, _name)))


# --------------------------------------------------------------------------- intervals

#: Coverage and resamples of the bootstrap intervals of barriers from a data subset.
LEVEL, RESAMPLES = 0.95, 1000


def with_intervals(ds: xr.Dataset, kinds: tuple[str, ...], seed: int = 0) -> xr.Dataset:
    """``ds`` with a bootstrap interval of each barrier in ``kinds``, per line, over [0, 1].

    The curves came from a subset of each split's examples (``loss_per_example``, which
    is dropped): resampling the examples gives the spread another subset of the same
    size would show (:func:`landscapes.refine.bootstrap_intervals`). Each interval is a
    variable ``<kind>_interval`` with a ``bound`` dimension (``low``, ``high``).
    """
    from landscapes.refine import bootstrap_intervals

    each = ds["loss_per_example"].sel(alpha=slice(0.0, 1.0))
    out = ds.drop_vars("loss_per_example")
    # One draw of resampled curves serves every kind.
    found = bootstrap_intervals(each, kinds, level=LEVEL, resamples=RESAMPLES, seed=seed)
    for kind in kinds:
        out[f"{kind}_interval"] = found[kind]
        out[f"{kind}_interval"].attrs.update(
            long_name=f"{LEVEL:.0%} bootstrap interval of the {kind} barrier on [0, 1] over "
                      f"the examples ({RESAMPLES} resamples)")
    return out


def interval_note(ds: xr.Dataset, kind: str, split: str | None, at: dict[str, Any]) -> str:
    """`` (subset: 95% CI ±w)`` for the line ``at`` picks, or "" without an interval.

    w is the largest half-width over replicates: how far another subset of the same
    size could move the barrier of that line.
    """
    name = f"{kind}_interval"
    if name not in ds.data_vars:
        return ""
    iv = ds[name]
    if split is not None and "split" in iv.dims:
        iv = iv.sel(split=split)
    iv = iv.sel({k: v for k, v in at.items() if k in iv.dims})
    half = (iv.sel(bound="high") - iv.sel(bound="low")) / 2
    if not np.isfinite(half).any():
        return ""
    return f" (subset: {LEVEL:.0%} CI ±{float(half.max()):.2g})"


# --------------------------------------------------------------------------- formatting


def mean_std(values: Any, fmt: str = ".3g") -> str:
    """``mean ± std`` over replicates (NaNs ignored), or the value when there is one.

    Examples
    --------
    >>> mean_std([1.0, 2.0, 3.0]), mean_std([0.5])
    ('2 ± 0.82', '0.5')
    """
    v = np.asarray(values, dtype=float).ravel()
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return "nan" if v.size else "–"
    if v.size == 1:
        return f"{finite[0]:{fmt}}"
    return f"{finite.mean():{fmt}} ± {finite.std():.2g}"


def share(flags: Any) -> str:
    """``yes (k/n)``, ``no (0/n)`` or ``mixed (k/n)`` over replicates.

    Examples
    --------
    >>> share([True, True]), share([True, False])
    ('yes (2/2)', 'mixed (1/2)')
    """
    v = np.asarray(flags, dtype=bool).ravel()
    word = "yes" if v.all() else "no" if not v.any() else "mixed"
    return f"{word} ({int(v.sum())}/{v.size})"


def per_split(ds: xr.Dataset | xr.DataArray) -> Iterator[tuple[str | None, Any]]:
    """Each split of ``ds`` with its name, or ``(None, ds)`` when it has none (theory)."""
    if "split" not in ds.dims:
        yield None, ds
        return
    for split in ds.split.values:
        yield str(split), ds.sel(split=split)


def cells(parts: list[tuple[str | None, str]]) -> str:
    """Join per-split cells in split order: ``yes (3/3) | no (0/3)``.

    The table's ``splits`` row says which split each part is; a closed form has one.
    """
    return " | ".join(text for _, text in parts)


