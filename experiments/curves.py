"""Mode-connecting curves trained as runs of the store (Garipov et al. 2018).

Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018, "Loss surfaces, mode
connectivity, and fast ensembling of DNNs", §3) join two solutions θ_a and θ_b by a
curve θ(t) = c_a(t)·θ_a + c_bend(t)·θ_bend + c_b(t)·θ_b -- a quadratic Bezier curve or
a polygonal chain (:func:`landscapes.paths.curve_coefficients`) -- and train only the
bend θ_bend, minimising the loss averaged over the curve: each minibatch draws
t ~ U[0, 1] and takes a gradient step on the loss at θ(t). The endpoints stay fixed;
the bend starts at their midpoint, where the curve is the straight line.

A curve run is an ordinary run of the store: its config is a
:class:`~experiments.config.TrainConfig` with ``curve`` ("bezier" or "polychain") and
``curve_ends`` (the two endpoint runs, ``"<config name>/replicate_<r>"``, their final
weights), its other fields the training of the bend (optimizer, rate, epochs, data
seed...), so it has its own folder, checkpoints and resume states, and trains in-process
or on Dask workers like any run. Its checkpoints hold θ_bend as a state dict of the
endpoints' network; :func:`curve_path` makes the finished curve a
:class:`landscapes.paths.Path` of anchors (θ_a, θ_bend, θ_b), which the engine
evaluates like any path. t is drawn from the global generator right after the trainer
reseeds it for the iteration (the dropout seed), so a resumed curve run draws the same
t as an uninterrupted one. The summary's losses are those of the curve's midpoint θ(½).
Replicates of a curve config join the same endpoints and differ in the bend's data
order and draws of t.

**Batch norm.** During training the point θ(t) carries its batch-norm buffers as the
curve's combination of the anchors' buffers, and train mode normalises with the
statistics of each batch, so the running statistics play no part in training (their
updates go to the temporary point and are dropped; the bend keeps the endpoints'
midpoint). After training, evaluate with ``bn="recompute"``, which re-estimates the
statistics at every t: interpolated statistics do not belong to the network at t
(Garipov et al. recompute them too).

Examples
--------
>>> from experiments.config import experiment
>>> a, b = (experiment("mnist_mlp", epochs=1, init_seed=s) for s in (0, 1))
>>> c = curve_config(Run(a), Run(b), epochs=2)
>>> c.curve, c.curve_ends[0] == f"{a.name}/replicate_0"
('bezier', True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from experiments import checkpoints
from experiments.checkpoints import RunFileError
from experiments.config import TrainConfig
from experiments.store import Run
from landscapes import paths

__all__ = ["curve_config", "curve_path", "end_state", "ends_done", "Curve"]


def curve_config(a: Run, b: Run, kind: str = "bezier", **training: Any) -> TrainConfig:
    """The config of a curve of ``kind`` between the final weights of runs ``a`` and ``b``.

    Parameters
    ----------
    a, b : Run
        Endpoint runs of one network (the same ``config.model``).
    kind : {"bezier", "polychain"}
    **training
        Fields of the bend's training (``lr``, ``epochs``, ``optimizer``...); the rest
        are the class defaults.
    """
    for name, run in (("a", a), ("b", b)):
        if not isinstance(run, Run):
            raise ValueError(f"{name} must be a Run of the store, got {run!r}")
    if a.config.model != b.config.model:
        raise ValueError(f"the endpoints are different networks: {a.config.model!r} and "
                         f"{b.config.model!r}")
    ends = tuple(f"{r.config.name}/replicate_{r.replicate}" for r in (a, b))
    return TrainConfig(model=a.config.model, curve=kind, curve_ends=ends, **training)


def end_paths(root: Path, ref: str) -> list[Path]:
    """The files of endpoint run ``ref`` that a curve reads: its config and final weights."""
    folder = Path(root) / ref
    try:
        total = int(json.loads((folder / "config.json").read_text())["iterations"])
    except (OSError, ValueError, KeyError, TypeError):
        return [folder / "config.json"]
    return [folder / "config.json", folder / "checkpoints" / f"it{total:08d}.pt"]


def end_state(root: str | os.PathLike, ref: str, model: str) -> dict[str, torch.Tensor]:
    """The final weights of endpoint run ``ref`` in store ``root``, checked to be of ``model``.

    Raises
    ------
    RunFileError
        In one line, when the run is not in the store, not finished, or of another model.
    """
    folder = Path(root) / ref
    files = end_paths(Path(root), ref)
    if len(files) < 2 or not files[1].exists():
        raise RunFileError(f"curve endpoint {str(folder)!r} is not a finished run of this store; "
                           "train it first (its final checkpoint is read)")
    trained = json.loads(files[0].read_text()).get("config", {}).get("model")
    if trained != model:
        raise RunFileError(f"curve endpoint {str(folder)!r} is a {trained!r} run, the curve's "
                           f"model is {model!r}")
    return checkpoints.load(files[1], fix=f"retrain the endpoint run {str(folder)!r}")


def ends_done(run: Run) -> bool:
    """Whether both endpoint runs of curve run ``run`` are finished in its store (so it
    can start: a Dask task carries their weights, :func:`experiments.spawn.inputs`)."""
    root = run.path.parents[1]
    return all((root / ref / "summary.json").exists() and len(files) == 2 and files[1].exists()
               for ref, files in ((ref, end_paths(root, ref)) for ref in run.config.curve_ends))


def ends(run: Run) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The endpoints θ_a, θ_b of curve run ``run`` (on CPU)."""
    root = run.path.parents[1]
    a, b = (end_state(root, ref, run.config.model) for ref in run.config.curve_ends)
    return a, b


def curve_path(run: Run, ts: Any = "uniform", iteration: int | None = None) -> paths.Path:
    """The curve of a curve run as a path (:func:`landscapes.paths.bezier` or ``polychain``).

    Parameters
    ----------
    run : Run
        A curve run (``run.config.curve`` set), finished unless ``iteration`` is given.
    ts : array_like or str
        Values of t in [0, 1].
    iteration : int, optional
        The bend of this checkpoint (default: the final one).
    """
    if run.config.curve is None:
        raise ValueError(f"{run!r} is not a curve run (its config has no curve)")
    a, b = ends(run)
    bend = run.final if iteration is None else run.state(iteration)
    make = paths.bezier if run.config.curve == "bezier" else paths.polychain
    return make(a, bend, b, ts, names=("a", "bend", "b"))


class Curve:
    """The fixed endpoints of a curve in training, on the training device.

    Parameters
    ----------
    kind : {"bezier", "polychain"}
    a, b : state dict
        θ_a and θ_b, with the keys of the bend network's state dict.
    model : nn.Module
        The bend network; its entries give each endpoint tensor its device and layout.
    """

    def __init__(self, kind: str, a: dict[str, torch.Tensor], b: dict[str, torch.Tensor],
                 model: nn.Module) -> None:
        own = model.state_dict()
        missing = sorted(set(own) ^ set(a)) or sorted(set(own) ^ set(b))
        if missing:
            raise RunFileError(f"the curve's endpoints do not fit its network: entries "
                               f"{missing[:5]!r} differ")
        self.kind = kind
        self.ends = [{k: torch.empty_like(v).copy_(e[k]) for k, v in own.items()}
                     for e in (a, b)]

    def midpoint(self) -> dict[str, torch.Tensor]:
        """(θ_a + θ_b)/2 where the curve starts (integer entries from θ_a)."""
        a, b = self.ends
        return {k: (v + b[k]) / 2 if v.is_floating_point() else v for k, v in a.items()}

    def point(self, model: nn.Module, t: float) -> dict[str, torch.Tensor]:
        """θ(t), differentiable in the bend's parameters (``model``'s own tensors)."""
        c_a, c_bend, c_b = paths.curve_coefficients(self.kind, [t])[0].tolist()
        a, b = self.ends
        bend = dict(model.named_parameters())
        bend.update({k: v for k, v in model.named_buffers() if k not in bend})
        return {k: c_a * a[k] + c_bend * v + c_b * b[k] if v.is_floating_point() else v
                for k, v in bend.items()}

    def forward(self, model: nn.Module, inputs: torch.Tensor, t: float) -> torch.Tensor:
        """The network at θ(t) on ``inputs``; its buffers' updates are dropped."""
        return torch.func.functional_call(model, self.point(model, t), (inputs,))

    @torch.no_grad()
    def at(self, model: nn.Module, t: float) -> nn.Module:
        """A copy of ``model`` holding θ(t) (for measuring)."""
        import copy

        net = copy.deepcopy(model)
        net.load_state_dict({k: v.detach() for k, v in self.point(model, t).items()})
        return net
