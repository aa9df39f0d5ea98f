"""Named systems for the command-line tools: closed-form theory and trained networks.

Both kinds implement one interface, :class:`System`: ``analyze(analysis, settings)``
returns a slice dataset with dimensions ``(replicate, [split,] alpha)`` in the results
schema, so code that consumes results never branches on the kind. This module is the
one place in the core that imports both :mod:`theory` and :mod:`experiments`, and
only the command-line tools import it.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import xarray as xr

__all__ = ["Settings", "System", "ANALYSES", "describe_systems", "get_system"]

#: Analyses every system provides, with one line each.
ANALYSES: dict[str, str] = {
    "init_to_final": "small random init -> solution (Goodfellow et al. 2015 Figs. 1-3, 9)",
    "final_to_final": "solution -> solution of another replicate (Figs. 5 left, 10 left)",
    "random_to_final": "random large-norm point -> solution (Figs. 5 right, 10 right)",
}


@dataclass(frozen=True)
class Settings:
    """What every analysis needs to know; one object per budget."""

    alphas: np.ndarray
    replicates: int
    seed: int
    epochs: float
    eval_examples: int | None
    device: str
    data_dir: str | os.PathLike | None
    progress: bool | None
    random_scale: float = 5.0


class System(Protocol):
    """A named system: theory or a trained network, behind one interface."""

    name: str
    description: str

    def analyze(self, analysis: str, settings: Settings) -> xr.Dataset:
        """Return ``analysis`` as a slice dataset with a ``replicate`` dimension."""
        ...


class TheorySystem:
    """A closed-form deep linear system from :mod:`theory.deep_linear`."""

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

        kwargs: dict[str, Any] = dict(
            system=self.name, n_replicates=settings.replicates, seed=settings.seed,
            alphas=settings.alphas,
        )
        if analysis == "random_to_final":
            kwargs["random_scale"] = settings.random_scale
        return getattr(deep_linear, analysis)(**kwargs)


class NetworkSystem:
    """A network from :mod:`experiments`, trained per replicate and then evaluated."""

    def __init__(self, name: str, description: str, dataset: str) -> None:
        self.name = name
        self.description = description
        self.dataset = dataset
        self._runs: dict[tuple[Any, ...], list[Any]] = {}

    def _trained(self, settings: Settings) -> list[Any]:
        from experiments.train import TrainConfig, train

        key = (settings.replicates, settings.seed, settings.epochs, settings.device)
        if key not in self._runs:
            self._runs[key] = [
                train(
                    TrainConfig(model="mnist_mlp", dataset=self.dataset, epochs=settings.epochs,
                                init_seed=settings.seed + r, data_seed=settings.seed + r),
                    data_dir=settings.data_dir, device=settings.device,
                    progress=settings.progress,
                )
                for r in range(settings.replicates)
            ]
        return self._runs[key]

    def _data(self, settings: Settings) -> dict[str, tuple[Any, Any]]:
        from experiments.data import load_mnist

        out = {}
        for split in ("train", "test"):
            x, y = load_mnist(split, dataset=self.dataset, data_dir=settings.data_dir, flatten=True)
            n = settings.eval_examples
            out[split] = (x[:n], y[:n]) if n else (x, y)
        return out

    def analyze(self, analysis: str, settings: Settings) -> xr.Dataset:
        from landscapes import evaluate, paths, results
        from landscapes.directions import random_direction

        runs = self._trained(settings)
        data = self._data(settings)
        parts = []
        for r, run in enumerate(runs):
            if analysis == "init_to_final":
                path = paths.linear(run.init, run.final, settings.alphas, names=("init", "final"))
            elif analysis == "final_to_final":
                other = runs[(r + 1) % len(runs)]
                path = paths.linear(run.final, other.final, settings.alphas,
                                    names=("final", "other_final"))
            else:
                # A Gaussian point whose every tensor has random_scale times the norm of
                # the solution's: "a random point with large norm" (Goodfellow et al. §4).
                d = random_direction(run.final, seed=10_000 + settings.seed + r,
                                     normalization="layer", bias_bn="normalize")
                start = {k: settings.random_scale * v for k, v in d.items()}
                path = paths.linear(start, run.final, settings.alphas, names=("random", "final"))
            parts.append(
                evaluate(run.model, path, data, device=settings.device, progress=settings.progress,
                         analysis=analysis, system=self.name)
            )
        out = results.combine(parts, "replicate")
        out.attrs["hyperparameters"] = parts[0].attrs["hyperparameters"]
        return out


#: Trained-network systems: name -> (description, dataset).
NETWORKS: dict[str, tuple[str, str]] = {
    "mnist_mlp": ("LeNet-300-100 on MNIST, SGD lr 0.1 batch 128 (Frankle 2020 / OpenLTH)", "mnist"),
    "fashion_mlp": ("LeNet-300-100 on Fashion-MNIST, SGD lr 0.1 batch 128", "fashion_mnist"),
}
#: Closed-form systems listed by --list (any deep_linear_L<depth>_w<width> also works).
THEORY = ("deep_linear", "deep_linear_L3_w4")


def get_system(name: str) -> System:
    """Look a system up by name, with the closest match in the error.

    Examples
    --------
    >>> get_system("mnst_mlp")
    Traceback (most recent call last):
    ...
    ValueError: unknown system 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from ['deep_linear', 'deep_linear_L<depth>_w<width>', 'fashion_mlp', 'mnist_mlp']
    """
    if name in NETWORKS:
        description, dataset = NETWORKS[name]
        return NetworkSystem(name, description, dataset)
    if name.startswith("deep_linear"):
        try:
            return TheorySystem(name)
        except ValueError:
            pass
    choices = sorted([*NETWORKS, "deep_linear", "deep_linear_L<depth>_w<width>"])
    close = difflib.get_close_matches(name, [*NETWORKS, *THEORY], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown system {name!r}{hint}; choose from {choices}")


def describe_systems() -> list[tuple[str, str]]:
    """(name, one-line description) of every listed system.

    Examples
    --------
    >>> [name for name, _ in describe_systems()][:2]
    ['deep_linear', 'deep_linear_L3_w4']
    """
    return [(n, get_system(n).description) for n in THEORY] + [
        (n, d) for n, (d, _) in NETWORKS.items()
    ]
