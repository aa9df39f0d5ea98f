"""Named systems: closed-form theory and trained networks, behind one interface.

A system turns a :class:`~landscapes.app.settings.Budget` into results of any analysis
(:meth:`System.analyze`), so the commands never branch on what kind of system they
hold. Under the hood:

- a :class:`NetworkSystem` trains (or reuses from the run store) one run per replicate
  and hands the analysis :class:`NetworkReplicates`: their anchors and the engine;
- a :class:`TheorySystem` asks the analysis for its closed form. The same system also
  exists as a torch network (:meth:`TheorySystem.replicates`, built with
  :mod:`experiments.models.deep_linear` on the closed form's own anchors), so every
  analysis's path can be evaluated by the engine and checked against the exact answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from landscapes.app.analyses.base import Analysis, Declined
from landscapes.app.settings import Budget, Runtime
from landscapes.names import unknown_name

__all__ = ["System", "TheorySystem", "NetworkSystem", "get_system", "describe_systems",
           "THEORY", "log_spaced", "frankle_iterations", "epoch_length"]

#: Closed-form systems listed by --list (any deep_linear_L<depth>_w<width> also works).
THEORY = ("deep_linear", "deep_linear_L3_w4")
#: The random start of random→final is seeded from this offset plus seed and replicate.
RANDOM_SEED_OFFSET = 10_000


def log_spaced(values: Sequence[int], n: int | None) -> list[int]:
    """At most ``n`` of the sorted ``values``, evenly spread on a log(1 + t) scale.

    The first value is always kept (t = 0, Frankle's "iteration 0").

    Examples
    --------
    >>> log_spaced([0, 1, 2, 4, 8, 16, 32, 64], 4)
    [0, 4, 16, 64]
    """
    values = list(values)
    if n is None or len(values) <= n:
        return values
    target = np.geomspace(1, values[-1] + 1, n) - 1
    chosen = {min(values, key=lambda v: abs(np.log1p(v) - np.log1p(t))) for t in target}
    return sorted(chosen | {values[0]})


def frankle_iterations(available: Sequence[int], total: int) -> list[int]:
    """Frankle's (2020, §2) start iterations t ∈ {0} ∪ {2^k} ∪ {1000k} below ``total``.

    Examples
    --------
    >>> frankle_iterations([0, 1, 2, 3, 4, 469, 1000, 2000], 2000)
    [0, 1, 2, 4, 1000]
    """
    return [t for t in sorted(available)
            if t < total and (t == 0 or t & (t - 1) == 0 or t % 1000 == 0)]


class System:
    """A named system. Subclasses set ``kind`` and implement the two methods.

    Attributes
    ----------
    name, description : str
    kind : {"theory", "network"}
    uses : tuple of str
        Budget fields its numbers depend on for every analysis (each analysis adds its
        own): only these, plus :meth:`key`, enter the analysis cache key.
    """

    name: str
    description: str
    kind: str
    uses: tuple[str, ...] = ()

    def key(self, budget: Budget, runtime: Runtime, analysis: Analysis | None = None) -> str:
        """What identifies this system's results beyond the budget (its weights, data).

        ``analysis`` adds what that analysis alone depends on: the runs it trains besides
        the system's own (:meth:`Analysis.variants`).
        """
        raise NotImplementedError

    def analyze(self, analysis: Analysis, budget: Budget, runtime: Runtime) -> xr.Dataset:
        """``analysis`` as a dataset with a ``replicate`` dimension; may raise Declined."""
        raise NotImplementedError

    def check(self, analysis: Analysis, budget: Budget, runtime: Runtime) -> None:
        """Raise ``ValueError`` with one clear line if ``analysis`` cannot run at all."""


# --------------------------------------------------------------------------- theory


class TheorySystem(System):
    """A closed-form deep linear system from :mod:`theory.deep_linear`."""

    kind = "theory"
    uses = ("replicates", "seed")
    #: Gradient-descent iterations of the theory trajectory and its from-t starts.
    STEPS = 1000
    #: Every how many steps the theory trajectory is recorded.
    TRAJECTORY_STRIDE = 5

    def __init__(self, name: str) -> None:
        from theory import deep_linear

        self.spec = deep_linear.system(name)  # validates the name with a clear error
        self.name = name
        self.description = (
            "deep linear regression y = w1*w2*x (Goodfellow et al. 2015 §5), exact"
            if name == "deep_linear"
            else f"deep linear network, depth {self.spec.depth}, width {self.spec.width}, "
                 "exact polynomial")

    def key(self, budget: Budget, runtime: Runtime, analysis: Analysis | None = None) -> str:
        return json.dumps({"closed_form": self.name})

    def analyze(self, analysis: Analysis, budget: Budget, runtime: Runtime) -> xr.Dataset:
        return analysis.closed_form(self, budget).assign_attrs(analysis=analysis.name)

    def iterations(self, max_starts: int | None) -> list[int]:
        """The start iterations of from-iteration: 0 and every 2^k up to :attr:`STEPS`."""
        starts = [0] + [2**k for k in range(self.STEPS.bit_length()) if 2**k <= self.STEPS]
        return log_spaced(starts, max_starts)

    def trajectory_steps(self) -> np.ndarray:
        return np.arange(0, self.STEPS + 1, self.TRAJECTORY_STRIDE)

    def replicates(self, budget: Budget, runtime: Runtime | None = None) -> TheoryReplicates:
        """The torch twin: the closed form's anchors, evaluated by the engine."""
        return TheoryReplicates(self, budget)


class TheoryReplicates:
    """A closed-form system's anchors as state dicts of its torch twin, and the engine.

    Evaluation runs in float64 on the system's own data (X, Y) with its loss
    κ/N Σ ‖f(x) − y‖², so the engine's numbers must equal the closed form's.
    """

    def __init__(self, system: TheorySystem, budget: Budget) -> None:
        from theory import deep_linear

        # The data of a depth-L system is seeded with the budget's seed, as in theory.
        self.system, self.spec = system.name, deep_linear.system(system.name, seed=budget.seed)
        self.budget, self.count = budget, budget.replicates
        self.iterations = sorted(set(system.iterations(budget.max_starts))
                                 | set(system.trajectory_steps().tolist()))
        self.points = deep_linear.anchors(system=system.name, n_replicates=budget.replicates,
                                          seed=budget.seed, random_scale=budget.random_scale,
                                          iterations=self.iterations)
        self._max_starts = system.iterations(budget.max_starts)
        self._trajectory = system.trajectory_steps().tolist()

    def _state(self, vector: np.ndarray) -> dict[str, Any]:
        from experiments.models.deep_linear import state_from_vector

        return state_from_vector(vector, self.spec.depth, self.spec.width)

    def init(self, r: int) -> dict[str, Any]:
        return self._state(self.points["init"][r])

    def final(self, r: int) -> dict[str, Any]:
        return self._state(self.points["final"][r])

    def other_final(self, r: int) -> dict[str, Any]:
        return self._state(self.points["other_final"][r])

    def random(self, r: int) -> dict[str, Any]:
        return self._state(self.points["random"][r])

    def starts(self, r: int) -> dict[int, Any]:
        at = {t: k for k, t in enumerate(self.iterations)}
        return {t: self._state(self.points["path"][r, at[t]]) for t in self._max_starts}

    def trajectory(self, r: int) -> tuple[list[int], list[dict[str, Any]]]:
        at = {t: k for k, t in enumerate(self.iterations)}
        return self._trajectory, [self._state(self.points["path"][r, at[t]])
                                  for t in self._trajectory]

    def evaluate(self, path: Any, analysis: str, r: int, *, measures: Sequence[Any] = (),
                 **options: Any) -> xr.Dataset:
        """The torch twin of the closed form along ``path``; ``measures`` (point
        measures, :mod:`landscapes.engine.point_measures`) and ``options`` pass through
        to :func:`landscapes.evaluate`."""
        import torch

        from experiments.models.deep_linear import DeepLinear, squared_error
        from landscapes import evaluate

        data = (torch.as_tensor(self.spec.X.T), torch.as_tensor(self.spec.Y.T))
        return evaluate(DeepLinear(self.spec.depth, self.spec.width), path, data,
                        loss_fn=squared_error(1.0), error=None, device="cpu",
                        batch_size=data[0].shape[0], progress=False, analysis=analysis,
                        system=self.system, measures=list(measures), **options)

    def label(self, parts: list[xr.Dataset]) -> xr.Dataset:
        from landscapes import results

        return results.combine(parts, "replicate")


# --------------------------------------------------------------------------- networks


class NetworkSystem(System):
    """A named experiment from :mod:`experiments`, trained per replicate, then evaluated."""

    kind = "network"
    uses = ("replicates", "seed", "epochs", "eval_examples", "train_examples", "train_precision",
            "splits", "bn", "precision")

    def __init__(self, name: str) -> None:
        from experiments.config import experiment
        from experiments.models import spec

        self.name = name
        self.config = experiment(name)
        model = spec(self.config.model)
        self.dataset = model.dataset
        self.task = model.task
        self.description = model.description
        self._replicates: dict[str, NetworkReplicates] = {}
        self._data_checked: Any = object()

    def config_for(self, budget: Budget, runtime: Runtime, trajectory_points: int = 0) -> Any:
        """The experiment's config under ``budget``: its length, seeds and checkpoints."""
        config = self.config
        if budget.epochs is not None:
            config = config.replace(epochs=budget.epochs)
        if budget.seed:
            config = config.replace(init_seed=budget.seed, data_seed=budget.seed,
                                    dropout_seed=budget.seed)
        if budget.train_examples is not None:
            config = config.replace(train_examples=budget.train_examples)
        if budget.train_precision != "float32":
            config = config.replace(precision=budget.train_precision)
        if trajectory_points:
            # Evenly spaced checkpoints so the trajectory has points between Frankle's
            # log-spaced ones; the iterations per epoch are needed to place them.
            total = config.iterations(epoch_length(config, runtime.data_dir))
            step = max(1, total // trajectory_points)
            config = config.replace(checkpoints=tuple(range(step, total, step)))
        return config

    def check(self, analysis: Analysis, budget: Budget, runtime: Runtime) -> None:
        from experiments.data import SPLITS

        if budget.replicates < analysis.min_replicates:
            raise ValueError(f"{analysis.name} needs at least {analysis.min_replicates} "
                             f"replicates of {self.name}, got --replicates "
                             f"{budget.replicates}")
        for split in budget.splits:
            if split not in SPLITS[self.dataset]:
                raise ValueError(f"{self.name} ({self.dataset}) has no split {split!r}; "
                                 f"choose --splits from {list(SPLITS[self.dataset])}")
        if self._data_checked != runtime.data_dir:
            from experiments import data

            # Loading (or downloading) the data now turns a missing file into one clear
            # line before any training; the loaders cache what they read.
            for split in SPLITS[self.dataset]:
                data.load(self.dataset, split, data_dir=runtime.data_dir)
            self._data_checked = runtime.data_dir

    def replicates(self, budget: Budget, runtime: Runtime) -> NetworkReplicates:
        """The trained runs under ``budget`` (trained now, or reused from the run store)."""
        return self.trained(self.config_for(budget, runtime, budget.trajectory_points),
                            budget, runtime)

    def trained(self, config: Any, budget: Budget, runtime: Runtime,
                shared: NetworkReplicates | None = None,
                replicates: int | None = None) -> NetworkReplicates:
        """``budget.replicates`` runs of ``config`` (any variant of this system's own), or
        its first ``replicates``.

        ``shared`` lends its evaluation data, so the variants of one analysis load the
        splits once. On a study's cluster the runs train as tasks there
        (:mod:`landscapes.app.executor`).
        """
        from landscapes.app.executor import executor_for

        count = budget.replicates if replicates is None else replicates
        memo = json.dumps([config.name, count, budget.key(), str(runtime.runs_dir),
                           str(runtime.data_dir), runtime.device])
        if memo not in self._replicates:
            runs = executor_for(runtime).train_replicates(
                config, count, runs_dir=runtime.runs_dir, data_dir=runtime.data_dir,
                device=runtime.device, progress=runtime.progress, threads=runtime.threads)
            self._replicates[memo] = NetworkReplicates(self, config, runs, budget, runtime)
        reps = self._replicates[memo]
        if shared is not None and reps._data is None:
            reps._data = shared._data
        return reps

    def key(self, budget: Budget, runtime: Runtime, analysis: Analysis | None = None) -> str:
        reps = self.replicates(budget, runtime)
        runs = reps.fingerprints()
        if analysis is not None:
            for changes in analysis.variants(reps.config, reps.total, budget):
                runs = runs + reps.variant(**changes).fingerprints()
        from landscapes.devices import resolve_threads

        # The thread count changes float32 rounding on CPU, so it is part of the key.
        threads = resolve_threads(runtime.threads) if runtime.device == "cpu" else None
        return json.dumps({"runs": runs, "data": reps.data_fingerprint(),
                           "device": runtime.device.split(":")[0], "threads": threads})

    def analyze(self, analysis: Analysis, budget: Budget, runtime: Runtime) -> xr.Dataset:
        self.check(analysis, budget, runtime)
        return analysis.measure(self.replicates(budget, runtime), budget)


class NetworkReplicates:
    """Trained runs of one network system: anchors from the run store, the engine, data."""

    def __init__(self, system: NetworkSystem, config: Any, runs: list[Any], budget: Budget,
                 runtime: Runtime) -> None:
        self.system, self.count = system.name, len(runs)
        self.config, self.runs, self.budget, self.runtime = config, runs, budget, runtime
        self.dataset, self.task = system.dataset, system.task
        self._owner = system
        self._data: dict[str, Any] | None = None
        self._fingerprint: str | None = None
        self._anchors: dict[tuple[str, int], dict[str, Any]] = {}
        self._diverged: dict[int, bool] = {}

    # ---------------------------------------------------------------- variants
    def variant(self, **changes: Any) -> NetworkReplicates:
        """The same system's runs with some hyperparameters changed, trained or reused.

        Replicate r of a variant has replicate r's seeds, hence the same initialisation
        and minibatch order when only the optimizer changes (Im et al. 2016 §4.1: "from
        the same initial weights and with the same minibatching").

        ``changes`` may set :data:`~landscapes.app.analyses.base.REPLICATES` to train
        only the variant's first n replicates.

        Examples
        --------
        ``reps.variant(optimizer="adam", lr=1e-3, momentum=None)``
        """
        from landscapes.app.analyses.base import variant_replicates

        changes, count = variant_replicates(changes, self.budget.replicates)
        return self._owner.trained(self.config.replace(**changes), self.budget, self.runtime,
                                   shared=self, replicates=count)

    @property
    def total(self) -> int:
        """Training iterations of each run (the same for every replicate)."""
        return int(self.runs[0].summary["iterations"])

    def diverged(self, r: int) -> bool:
        """Whether replicate ``r``'s training loss became NaN or inf.

        The trainer records the iteration (``diverged_at`` in the summary); a run
        trained before it did shows non-finite final losses or weights instead.
        """
        from landscapes.app.analyses.zoo import finite

        if r not in self._diverged:
            summary = self.runs[r].summary
            losses = [summary.get("train_loss"), summary.get("test_loss")]
            self._diverged[r] = (summary.get("diverged_at") is not None
                                 or any(v is not None and not np.isfinite(v) for v in losses)
                                 or not finite(self.final(r)))
        return self._diverged[r]

    # ---------------------------------------------------------------- anchors
    def init(self, r: int) -> dict[str, Any]:
        return self._anchor("init", r)

    def final(self, r: int) -> dict[str, Any]:
        return self._anchor("final", r)

    def _anchor(self, which: str, r: int) -> dict[str, Any]:
        # Read from the run store once per object: the zoo's analyses ask every variant's
        # solution many times (each pair, slice and divergence check).
        if (which, r) not in self._anchors:
            self._anchors[which, r] = getattr(self.runs[r], which)
        return self._anchors[which, r]

    def other_final(self, r: int) -> dict[str, Any]:
        # The next replicate's solution: with R replicates, R distinct pairs.
        return self.final((r + 1) % self.count)

    def random(self, r: int) -> dict[str, Any]:
        from landscapes.directions import random_direction

        # A Gaussian point whose every tensor has random_scale times the norm of the
        # solution's: "a random point with large norm" (Goodfellow et al. §4).
        d = random_direction(self.final(r), seed=RANDOM_SEED_OFFSET + self.budget.seed + r,
                             normalization="layer", bias_bn="normalize")
        return {k: self.budget.random_scale * v for k, v in d.items()}

    def starts(self, r: int) -> dict[int, Any]:
        run = self.runs[r]
        chosen = log_spaced(frankle_iterations(run.iterations, run.summary["iterations"]),
                            self.budget.max_starts)
        return {t: run.state(t) for t in chosen}

    def trajectory(self, r: int) -> tuple[list[int], Any]:
        run = self.runs[r]
        return run.iterations, _Lazy(run, run.iterations)

    # ---------------------------------------------------------------- evaluation
    def data(self) -> dict[str, Any]:
        """The evaluation splits, the first ``eval_examples`` of each (loaded once)."""
        if self._data is None:
            from experiments import data

            out = {}
            for split in self.budget.splits:
                x, y = data.load(self.dataset, split, data_dir=self.runtime.data_dir)
                n = self.budget.eval_examples
                out[split] = (x[:n], y[:n]) if n else (x, y)
            self._data = out
        return self._data

    def evaluate(self, path: Any, analysis: str, r: int, *, measures: Sequence[Any] = (),
                 **options: Any) -> xr.Dataset:
        """Replicate ``r``'s network along ``path``, here or on the study's cluster;
        ``measures`` (point measures, :mod:`landscapes.engine.point_measures`, shipped to
        the workers with the other options) and ``options`` pass through to
        :func:`landscapes.evaluate` (``reference=``, ``divergence=``)."""
        from landscapes.app.executor import executor_for

        if measures:
            options = {**options, "measures": list(measures)}
        return executor_for(self.runtime).evaluate(self, path, analysis, r, options)

    def evaluate_here(self, path: Any, analysis: str, r: int, *, measures: Sequence[Any] = (),
                      **options: Any) -> xr.Dataset:
        """:func:`landscapes.evaluate` of replicate ``r``'s network in this process."""
        from landscapes import evaluate

        # An analysis' own options (bn="recompute" along a curve) override the budget's.
        return evaluate(self.runs[r].model(), path, self.data(), progress=self.runtime.progress,
                        measures=list(measures), **{**self.options(analysis), **options})

    def options(self, analysis: str) -> dict[str, Any]:
        """The arguments of :func:`landscapes.evaluate` besides model, path, data, progress."""
        return {"device": self.runtime.device, "bn": self.budget.bn,
                "precision": self.budget.precision, "analysis": analysis,
                "system": self.system, **self._loss()}

    def data_spec(self) -> Any:
        """The evaluation data as a worker loads it, with this process's fingerprint."""
        from landscapes.app.executor import EvaluationData

        return EvaluationData(self.dataset, tuple(self.budget.splits), self.budget.eval_examples,
                              None if self.runtime.data_dir is None else str(self.runtime.data_dir),
                              self.data_fingerprint())

    def label(self, parts: list[xr.Dataset]) -> xr.Dataset:
        """Stack replicates, each labelled with its run's seeds and hyperparameters."""
        from landscapes import results

        labelled = [ds.assign_attrs(seeds=json.dumps(self.seeds(r), sort_keys=True),
                                    hyperparameters=self._hyperparameters(ds))
                    for r, ds in enumerate(parts)]
        return results.combine(labelled, "replicate")

    def seeds(self, r: int) -> dict[str, Any]:
        """The seeds that made replicate ``r``: the config's, and the replicate index."""
        c = self.runs[r].config
        return {"run": c.name, "replicate": self.runs[r].replicate, "init_seed": c.init_seed,
                "data_seed": c.data_seed, "dropout_seed": c.dropout_seed}

    def _hyperparameters(self, ds: xr.Dataset) -> str:
        evaluation = json.loads(ds.attrs.get("hyperparameters", "{}"))
        return json.dumps({"training": self.runs[0].config.to_dict(),
                           "evaluation": evaluation}, sort_keys=True)

    def _loss(self) -> dict[str, Any]:
        if self.task != "language_model":
            return {}
        return {"loss_fn": token_loss, "error": token_error}

    # ---------------------------------------------------------------- identity
    def fingerprints(self) -> list[str]:
        """A digest of each replicate's final weights: what its results depend on."""
        return [_file_digest(run.checkpoint_path(run.summary["iterations"])) for run in self.runs]

    def data_fingerprint(self) -> str:
        """A digest of the evaluation tensors themselves, whatever folder they came from."""
        from landscapes.app.executor import fingerprint

        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.data())
        return self._fingerprint


def token_loss(outputs: Any, targets: Any) -> Any:
    """Cross-entropy per token of a language model (module level: workers unpickle it)."""
    import torch

    return torch.nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]),
                                             targets.reshape(-1))


def token_error(outputs: Any, targets: Any) -> Any:
    """Share of tokens whose most likely prediction is wrong."""
    return (outputs.argmax(-1) != targets).float().mean()


def epoch_length(config: Any, data_dir: Any) -> int:
    """Iterations per epoch of ``config`` (reads the training set's size once per setting)."""
    return _per_epoch_cached(config.model, config.batch_size, config.train_examples,
                             None if data_dir is None else str(data_dir))


@functools.lru_cache(maxsize=64)
def _per_epoch_cached(model: str, batch_size: int, train_examples: int | None,
                      data_dir: str | None) -> int:
    from experiments.config import TrainConfig
    from experiments.train import iterations_per_epoch

    config = TrainConfig(model=model, batch_size=batch_size, train_examples=train_examples)
    return iterations_per_epoch(config, data_dir)


@functools.lru_cache(maxsize=256)
def _digest_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.blake2b(digest_size=12)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_digest(path: Any) -> str:
    stat = path.stat()
    return _digest_cached(str(path), stat.st_size, stat.st_mtime_ns)


class _Lazy:
    """Checkpoints of a run, loaded one at a time when indexed (keeps memory flat)."""

    def __init__(self, run: Any, steps: list[int]) -> None:
        self.run, self.steps = run, steps

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Any:
        state = self.run.state(self.steps[i])
        return {k: v for k, v in state.items() if v.is_floating_point()}


# --------------------------------------------------------------------------- registry


def _networks() -> list[str]:
    from experiments.config import EXPERIMENTS, experiment

    experiment("mnist_mlp")  # fills the registry
    return list(EXPERIMENTS)


def get_system(name: str) -> System:
    """Look a system up by name, with the closest match in the error.

    Examples
    --------
    >>> get_system("deep_linear").kind
    'theory'
    >>> get_system("mnst_mlp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown system 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from [...]
    """
    networks = _networks()
    if name in networks:
        return NetworkSystem(name)
    if isinstance(name, str) and name.startswith("deep_linear"):
        try:
            return TheorySystem(name)
        except ValueError:
            pass
    raise unknown_name("system", name, [*networks, *THEORY],
                       listed=[*networks, "deep_linear", "deep_linear_L<depth>_w<width>"])


def describe_systems() -> list[tuple[str, str]]:
    """(name, one-line description) of every listed system.

    Examples
    --------
    >>> [name for name, _ in describe_systems()][:3]
    ['deep_linear', 'deep_linear_L3_w4', 'mnist_mlp']
    """
    return [(n, get_system(n).description) for n in (*THEORY, *_networks())]


__all__ += ["Declined", "NetworkReplicates", "TheoryReplicates"]
