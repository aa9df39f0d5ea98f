"""Named systems for the command-line tools: closed-form theory and trained networks.

Both kinds implement one interface, :class:`System`: ``analyze(analysis, settings)``
returns a dataset in the results schema with a ``replicate`` dimension, so code that
consumes results never branches on the kind. This module is the one place in the core
that imports both :mod:`theory` and :mod:`experiments`, and only the command-line tools
import it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.names import unknown_name

__all__ = ["Settings", "System", "ANALYSES", "ZOOMS", "describe_systems", "get_system"]

#: Analyses every system provides, with one line each.
ANALYSES: dict[str, str] = {
    "init_to_final": "small random init -> solution on [-0.5, 1.5] (Goodfellow et al. 2015 "
                     "Figs. 1-3, 9; Im et al. 2016 Fig. 10)",
    "zoom": "init -> solution at high resolution on [0, 1] (Goodfellow et al. Fig. 4)",
    "zoom_init": "init -> solution on [0, 0.01], the start (Fig. 4)",
    "zoom_final": "init -> solution on [0.99, 1], the end (Fig. 4)",
    "final_to_final": "solution -> solution of another replicate (Figs. 5 left, 10 left)",
    "random_to_final": "random large-norm point -> solution (Figs. 5 right, 10 right)",
    "from_iteration": "iteration t -> solution for Frankle's t in {0, 2^k, 1000k} "
                      "(Frankle 2020 Figs. 2-3)",
    "trajectory": "training path projected on the init -> solution axis vs residual, with "
                  "the matched random walk (Goodfellow et al. App. B, Figs. 11-13)",
}

#: The α window of each zoom analysis.
ZOOMS: dict[str, tuple[float, float]] = {
    "zoom": (0.0, 1.0), "zoom_init": (0.0, 0.01), "zoom_final": (0.99, 1.0),
}


@dataclass(frozen=True)
class Settings:
    """What every analysis needs to know; one object per budget.

    Attributes
    ----------
    alphas : numpy.ndarray
        Grid of the init→final, final→final and random→final lines.
    zoom_points : int
        Points of each zoom window.
    from_alphas : numpy.ndarray
        Grid of each line from iteration t.
    max_starts : int or None
        At most this many start iterations t (log-spaced), None for every one.
    replicates, seed : int
    epochs : float or None
        Training length of networks; None for each experiment's own (the papers').
    eval_examples : int or None
        Examples of each split the networks are evaluated on; None for all.
    trajectory_points : int
        Extra evenly spaced checkpoints for the trajectory (besides Frankle's schedule).
    """

    alphas: np.ndarray
    zoom_points: int
    from_alphas: np.ndarray
    max_starts: int | None
    replicates: int
    seed: int
    epochs: float | None
    eval_examples: int | None
    device: str = "cpu"
    data_dir: str | os.PathLike | None = None
    runs_dir: str | os.PathLike | None = None
    progress: bool | None = None
    random_scale: float = 5.0
    trajectory_points: int = 0
    splits: tuple[str, ...] = field(default=("train", "test"))

    def key(self, analysis: str) -> str:
        """What the result of ``analysis`` depends on, as a canonical JSON string."""
        values = asdict(self)
        # The data and run folders stay in: other data means other results.
        for unused in ("device", "progress"):
            values.pop(unused)
        values["data_dir"] = None if self.data_dir is None else str(self.data_dir)
        values["runs_dir"] = None if self.runs_dir is None else str(self.runs_dir)
        grid = "from_alphas" if analysis == "from_iteration" else "alphas"
        if analysis in ZOOMS or analysis == "trajectory":
            grid = None
        values = {k: v for k, v in values.items() if k not in ("alphas", "from_alphas") or k == grid}
        return json.dumps({"analysis": analysis, **values}, sort_keys=True,
                          default=lambda a: np.asarray(a).round(12).tolist())

    def grid(self, analysis: str) -> np.ndarray:
        """The α grid of a line analysis."""
        if analysis in ZOOMS:
            return grids.uniform(self.zoom_points, *ZOOMS[analysis])
        return self.from_alphas if analysis == "from_iteration" else self.alphas


class System(Protocol):
    """A named system: theory or a trained network, behind one interface."""

    name: str
    description: str

    def analyze(self, analysis: str, settings: Settings) -> xr.Dataset:
        """Return ``analysis`` as a dataset with a ``replicate`` dimension."""
        ...


def _log_spaced(values: list[int], n: int | None) -> list[int]:
    """At most ``n`` of the sorted ``values``, evenly spread on a log(1 + t) scale."""
    if n is None or len(values) <= n:
        return values
    target = np.geomspace(1, values[-1] + 1, n) - 1
    chosen = {min(values, key=lambda v: abs(np.log1p(v) - np.log1p(t))) for t in target}
    return sorted(chosen | {values[0]})


class TheorySystem:
    """A closed-form deep linear system from :mod:`theory.deep_linear`."""

    #: Gradient-descent iterations of the theory trajectory and its from-t starts.
    STEPS = 1000

    def __init__(self, name: str) -> None:
        from theory import deep_linear

        deep_linear.system(name)  # validates the name with a clear error
        self.name = name
        self.description = (
            "deep linear regression y = w1*w2*x (Goodfellow et al. 2015 §5), exact"
            if name == "deep_linear"
            else "deep linear network " + name.removeprefix("deep_linear_") + ", exact polynomial"
        )

    def analyze(self, analysis: str, settings: Settings) -> xr.Dataset:
        from theory import deep_linear

        common: dict[str, Any] = dict(system=self.name, n_replicates=settings.replicates,
                                      seed=settings.seed)
        if analysis == "trajectory":
            return deep_linear.trajectory(steps=np.arange(0, self.STEPS + 1, 5), baseline=True,
                                          **common)
        common["alphas"] = settings.grid(analysis)
        if analysis == "from_iteration":
            starts = [0] + [2**k for k in range(self.STEPS.bit_length()) if 2**k <= self.STEPS]
            ds = deep_linear.from_time_to_final(
                iterations=np.array(_log_spaced(starts, settings.max_starts)), **common)
            return ds.assign_attrs(analysis=analysis)
        if analysis == "random_to_final":
            common["random_scale"] = settings.random_scale
        ds = getattr(deep_linear, "init_to_final" if analysis in ZOOMS else analysis)(**common)
        return ds.assign_attrs(analysis=analysis)


class NetworkSystem:
    """A named experiment from :mod:`experiments`, trained per replicate, then evaluated."""

    def __init__(self, name: str) -> None:
        from experiments.config import experiment
        from experiments.models import spec

        self.name = name
        self.config = experiment(name)
        model = spec(self.config.model)
        self.dataset = model.dataset
        self.task = model.task
        self.description = model.description
        self._trained: dict[str, list[Any]] = {}

    def _config(self, settings: Settings) -> Any:
        config = self.config
        if settings.epochs is not None:
            config = config.replace(epochs=settings.epochs)
        if settings.trajectory_points:
            # Evenly spaced checkpoints so the trajectory panel has points between
            # Frankle's log-spaced ones; iterations per epoch are needed to place them.
            from experiments.train import iterations_per_epoch

            total = config.iterations(iterations_per_epoch(config, settings.data_dir))
            step = max(1, total // settings.trajectory_points)
            config = config.replace(checkpoints=tuple(range(step, total, step)))
        return config

    def _runs(self, settings: Settings) -> list[Any]:
        from experiments.train import train_replicates

        key = settings.key("runs")
        if key not in self._trained:
            self._trained[key] = train_replicates(
                self._config(settings), settings.replicates, runs_dir=settings.runs_dir,
                data_dir=settings.data_dir, device=settings.device, progress=settings.progress)
        return self._trained[key]

    def _data(self, settings: Settings) -> dict[str, Any]:
        from experiments import data

        out = {}
        for split in settings.splits:
            x, y = data.load(self.dataset, split, data_dir=settings.data_dir)
            n = settings.eval_examples
            out[split] = (x[:n], y[:n]) if n else (x, y)
        return out

    def _path(self, analysis: str, runs: list[Any], r: int, settings: Settings) -> Any:
        from landscapes import paths
        from landscapes.directions import random_direction

        run, alphas = runs[r], settings.grid(analysis)
        if analysis == "init_to_final" or analysis in ZOOMS:
            return paths.linear(run.init, run.final, alphas, names=("init", "final"))
        if analysis == "final_to_final":
            other = runs[(r + 1) % len(runs)]
            return paths.linear(run.final, other.final, alphas, names=("final", "other_final"))
        if analysis == "random_to_final":
            # A Gaussian point whose every tensor has random_scale times the norm of the
            # solution's: "a random point with large norm" (Goodfellow et al. §4).
            d = random_direction(run.final, seed=10_000 + settings.seed + r,
                                 normalization="layer", bias_bn="normalize")
            start = {k: settings.random_scale * v for k, v in d.items()}
            return paths.linear(start, run.final, alphas, names=("random", "final"))
        total = run.summary["iterations"]
        frankle = [t for t in run.iterations
                   if t < total and (t == 0 or t & (t - 1) == 0 or t % 1000 == 0)]
        starts = _log_spaced(frankle, settings.max_starts)
        return paths.from_iterations({t: run.state(t) for t in starts}, run.final, alphas)

    def analyze(self, analysis: str, settings: Settings) -> xr.Dataset:
        from landscapes import evaluate, results

        if settings.replicates < 2 and analysis == "final_to_final":
            raise ValueError("final_to_final needs at least 2 replicates")
        runs = self._runs(settings)
        if analysis == "trajectory":
            parts = [self._trajectory(run) for run in runs]
        else:
            data = self._data(settings)
            parts = [
                evaluate(runs[r].model(), self._path(analysis, runs, r, settings), data,
                         device=settings.device, progress=settings.progress,
                         analysis=analysis, system=self.name, **self._loss())
                for r in range(len(runs))
            ]
        out = results.combine(parts, "replicate")
        out.attrs["hyperparameters"] = json.dumps(runs[0].config.to_dict(), sort_keys=True)
        return out

    def _loss(self) -> dict[str, Any]:
        if self.task != "language_model":
            return {}
        import torch

        def loss_fn(outputs: Any, targets: Any) -> Any:
            return torch.nn.functional.cross_entropy(
                outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))

        def error(outputs: Any, targets: Any) -> Any:
            return (outputs.argmax(-1) != targets).float().mean()

        return {"loss_fn": loss_fn, "error": error}

    def _trajectory(self, run: Any) -> xr.Dataset:
        """Projection of every checkpoint, plus the matched random walk (App. B)."""
        from landscapes import trajectory
        from theory.random_walk import matched_walk

        steps = run.iterations
        states = _Lazy(run, steps)
        ds = trajectory.project(states, step=steps, system=self.name, analysis="trajectory")
        sizes, dimension = _step_sizes(states)
        walk = matched_walk(sizes=sizes, dimension=dimension, steps=np.asarray(steps))
        return ds.assign(walk_projection=walk.projection, walk_residual=walk.residual)


class _Lazy:
    """Checkpoints of a run, loaded one at a time when indexed (keeps memory flat)."""

    def __init__(self, run: Any, steps: list[int]) -> None:
        self.run, self.steps = run, steps

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Any:
        state = self.run.state(self.steps[i])
        return {k: v for k, v in state.items() if v.is_floating_point()}


def _step_sizes(states: _Lazy) -> tuple[np.ndarray, int]:
    """‖θ_k − θ_(k−1)‖ between consecutive checkpoints (float64), and the dimension D."""
    import torch

    sizes, previous = [], None
    for i in range(len(states)):
        current = torch.cat([v.double().ravel() for _, v in sorted(states[i].items())])
        if previous is not None:
            sizes.append(float(torch.linalg.vector_norm(current - previous)))
        previous = current
    return np.array(sizes), int(previous.numel()) if previous is not None else 0


#: Closed-form systems listed by --list (any deep_linear_L<depth>_w<width> also works).
THEORY = ("deep_linear", "deep_linear_L3_w4")


def _networks() -> list[str]:
    from experiments.config import EXPERIMENTS, experiment

    experiment("mnist_mlp")  # fills the registry
    return list(EXPERIMENTS)


def get_system(name: str) -> System:
    """Look a system up by name, with the closest match in the error.

    Examples
    --------
    >>> get_system("mnst_mlp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown system 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from [...]
    """
    networks = _networks()
    if name in networks:
        return NetworkSystem(name)
    if name.startswith("deep_linear"):
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
