"""The run store: one directory per training run, keyed by its hyperparameters.

Layout of a run (``<runs>/<config name>/replicate_<r>/``):

- ``config.json``: every hyperparameter, the replicate and the seeds actually used;
- ``checkpoints/it<iteration>.pt``: the model's state at each scheduled iteration;
- ``states/it<iteration>.pt``: the optimizer's and schedule's state there, from which a
  child run is spawned (:mod:`experiments.spawn`); as large as the optimizer's state
  (nothing for plain SGD, one copy of the weights with momentum, two for Adam);
- ``resume.pt``: model, optimizer and step, rewritten at every checkpoint and on Ctrl-C,
  the one before it kept as ``resume.prev.pt``; both removed when the run finishes;
- ``summary.json``: written last, so its presence means the run is finished;
- ``.lock``: held by the process training the run (:mod:`experiments.lock`).

Every file is written atomically, so a run killed at any moment is either resumed
from its last resume state or, if finished, reused as it is. A file damaged by other
means (a disk, a copy) raises :class:`~experiments.checkpoints.RunFileError` naming it
and the command that recovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from experiments import checkpoints, lock
from experiments.checkpoints import RunFileError
from experiments.config import TrainConfig, train_command
from landscapes.home import home
from landscapes.results import atomic_write

__all__ = ["Run", "RunFileError", "runs_root", "seed", "write_json"]

_CHECKPOINT = re.compile(r"^it(\d+)\.pt$")


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    """Where runs live: ``runs_dir``, ``$LANDSCAPES_HOME/runs``, or ``~/.cache/landscapes/runs``.

    Examples
    --------
    >>> str(runs_root("/tmp/runs"))
    '/tmp/runs'
    """
    if runs_dir is not None:
        return Path(runs_dir).expanduser()
    return home("runs")


def seed(base: int, replicate: int, stream: str, *counters: int) -> int:
    """A 63-bit seed for one random stream of one replicate.

    Hashing keeps streams apart: replicate 1 of seed 0 never equals replicate 0 of
    seed 1, and the order, augmentation and dropout streams never coincide.

    Examples
    --------
    >>> seed(0, 0, "init") == seed(0, 0, "init") != seed(0, 1, "init")
    True
    """
    text = json.dumps([base, replicate, stream, *counters])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def write_json(path: Path, values: dict[str, Any]) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


class Run:
    """One replicate of one config in the store; cheap to create, reads lazily.

    Parameters
    ----------
    config : TrainConfig
    replicate : int
    runs_dir : str or path-like, optional
        See :func:`runs_root`.
    """

    def __init__(self, config: TrainConfig, replicate: int = 0,
                 runs_dir: str | os.PathLike | None = None) -> None:
        if isinstance(replicate, bool) or not isinstance(replicate, int) or replicate < 0:
            raise ValueError(f"replicate must be an integer ≥ 0, got {replicate!r}")
        self.config = config
        self.replicate = replicate
        self.path = runs_root(runs_dir) / config.name / f"replicate_{replicate}"

    def __repr__(self) -> str:
        state = "done" if self.done else "unfinished"
        return f"Run({self.config.name!r}, replicate={self.replicate}, {state}, path={str(self.path)!r})"

    @property
    def done(self) -> bool:
        """Whether training finished (``summary.json`` exists)."""
        return self.summary_path.exists()

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def resume_paths(self) -> tuple[Path, Path]:
        """The newest resume state and the one before it."""
        return self.path / "resume.pt", self.path / "resume.prev.pt"

    @property
    def summary(self) -> dict[str, Any]:
        """Final accuracies, losses and timings of a finished run."""
        if not self.done:
            raise FileNotFoundError(f"run {str(self.path)!r} has not finished; train it first")
        try:
            values = json.loads(self.summary_path.read_text())
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not JSON: truncated or overwritten"
            raise RunFileError(f"summary {str(self.summary_path)!r} is damaged ({why}); "
                               f"{self.retrain_hint(rebuilds='it')}") from None
        if not isinstance(values, dict) or not isinstance(values.get("iterations"), int):
            raise RunFileError(f"summary {str(self.summary_path)!r} is damaged (no iteration "
                               f"count); {self.retrain_hint(rebuilds='it')}")
        return values

    def retrain_hint(self, rebuilds: str = "") -> str:
        """How to recover: the training command (which rebuilds ``rebuilds`` if given), or
        deleting the run and training it again."""
        command = train_command(self.config, self.replicate + 1)
        if rebuilds:
            return f"run `{command}` to rebuild {rebuilds}"
        return f"delete the run and train it again: `rm -r {str(self.path)!r} && {command}`"

    @property
    def iterations(self) -> list[int]:
        """Iterations with a checkpoint on disk, sorted (a spawned child's include its
        parent's before ``spawn_at``)."""
        folder = self.path / "checkpoints"
        own: list[int] = []
        if folder.exists():
            found = (_CHECKPOINT.match(p.name) for p in folder.iterdir())
            own = [int(m.group(1)) for m in found if m]
        parent = self.parent
        if parent is not None:
            own += [t for t in parent.iterations if t < self.config.spawn_at]
        return sorted(set(own))

    def checkpoint_path(self, iteration: int) -> Path:
        return self.path / "checkpoints" / f"it{iteration:08d}.pt"

    def train_state_path(self, iteration: int) -> Path:
        """The optimizer, schedule and step at a checkpointed iteration (what a child
        spawned there starts from, with the checkpoint's weights)."""
        return self.path / "states" / f"it{iteration:08d}.pt"

    @property
    def parent(self) -> Run | None:
        """For a spawned child (``config.spawn_at`` set), the run it starts from: the
        same replicate of ``config.parent`` in the same store; else None."""
        parent = self.config.parent
        return None if parent is None else Run(parent, self.replicate, self.path.parents[1])

    def state(self, iteration: int) -> dict[str, torch.Tensor]:
        """The model's state dict at a checkpointed iteration (on CPU).

        A spawned child's iterations before its ``spawn_at`` are its parent's.
        """
        path = self.checkpoint_path(iteration)
        parent = self.parent
        if not path.exists() and parent is not None and iteration < self.config.spawn_at:
            return parent.state(iteration)
        if not path.exists():
            raise ValueError(f"no checkpoint at iteration {iteration!r} in {str(self.path)!r}; "
                             f"available: {self.iterations}")
        return checkpoints.load(path, fix=f"to recompute it, {self.retrain_hint()}")

    def lock(self, waiting: Any = None) -> Any:
        """Context manager: hold the run's lock (see :func:`experiments.lock.hold`)."""
        return lock.hold(self.path / ".lock", waiting)

    def remove_temporaries(self) -> list[Path]:
        """Delete the temp files a killed write left behind (call with the lock held)."""
        found = [p for folder in (self.path, self.path / "checkpoints", self.path / "states")
                 if folder.is_dir()
                 for p in folder.glob(".*.tmp")]
        for p in found:
            p.unlink(missing_ok=True)
        return found

    @property
    def init(self) -> dict[str, torch.Tensor]:
        """The state at iteration 0."""
        return self.state(0)

    @property
    def final(self) -> dict[str, torch.Tensor]:
        """The state at the last iteration of a finished run."""
        return self.state(self.summary["iterations"])

    def model(self, iteration: int | None = None) -> torch.nn.Module:
        """The network with the weights of ``iteration`` (default: final), in eval mode."""
        from experiments.models import build

        net = build(self.config.model)
        net.load_state_dict(self.final if iteration is None else self.state(iteration))
        return net.eval()
