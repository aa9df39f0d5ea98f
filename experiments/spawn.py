"""Spawned children: runs that start from iteration k of a parent run (Frankle et al. 2020).

Frankle, Dziugaite, Roy & Carbin (2020, "Linear mode connectivity and the lottery ticket
hypothesis", §3) measure when training becomes *stable to SGD noise*: from iteration k
of a run, two copies (children) are trained to the end with different data orders and
augmentation, and the barrier between them is the instability at k.

A child is an ordinary run of the store: its config is the parent's with
``spawn_at = k`` and ``spawn_child = c`` (:attr:`~experiments.config.TrainConfig.parent`
strips them again), so it has its own hash-named folder, checkpoints, resume states and
lock, and trains in-process or on Dask workers like any run. It starts from the parent's
state at k -- the weights of its checkpoint and, saved beside it by every run
(``states/it<k>.pt``), the optimizer's state, the schedule's position, the loss scaler
and a language model's carried hidden state -- so the child continues exactly where the
parent was. From k on, child c ≥ 1 draws every random stream from its own seeds:

- the data order: in the epoch containing k, the examples the parent had not yet seen
  in that epoch are shuffled anew (so each example is still seen once per epoch); later
  epochs are permutations of the child's own;
- the augmentation and the dropout masks of each iteration.

Child 0 keeps the parent's streams: it reproduces the parent's weights bit for bit (the
check that spawning loses nothing), and being the parent over again, is no child to
measure instability with; use children 1 and 2.

**k is always a checkpoint of the parent.** A child whose k is not in the parent's
schedule is refused with one line: approximating the state at k by a neighbouring
checkpoint would change what is measured. :func:`children` adds k to the parent's
``checkpoints`` when its schedule lacks it (this changes the parent's name, so that
parent is trained anew with the checkpoint; a parent that has k already is reused).

A child's checkpoints start at k; :meth:`experiments.store.Run.state` reads the earlier
ones from the parent. A parent trained before training states were kept has none to
spawn from: the child says so, and the fix (retrain the parent).

Examples
--------
>>> from experiments.config import experiment
>>> parent = experiment("mnist_mlp", epochs=2)
>>> a, b = children(parent, 512, per_epoch=469)
>>> a.parent == b.parent == parent, (a.spawn_child, b.spawn_child)
(True, (1, 2))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


from experiments import checkpoints
from experiments.config import TrainConfig, train_command
from experiments.store import Run
from experiments.streams import SPAWN, counters, epoch_order

__all__ = ["children", "check_spawn", "start_state", "inputs", "counters", "epoch_order",
           "SPAWN"]

def children(parent: TrainConfig, k: int, count: int = 2, *, per_epoch: int | None = None,
             data_dir: str | os.PathLike | None = None) -> list[TrainConfig]:
    """The configs of ``count`` children (1 … count) spawned at iteration ``k`` of ``parent``.

    Parameters
    ----------
    parent : TrainConfig
        Not itself a child.
    k : int
        The spawn iteration, 0 ≤ k ≤ the parent's iterations. Added to the parent's
        ``checkpoints`` when its schedule does not have it.
    count : int
        Children, at least 1.
    per_epoch : int, optional
        The parent's iterations per epoch; read from the data when not given.
    data_dir : str or path-like, optional
        See :func:`experiments.data.data_root`.

    Returns
    -------
    list of TrainConfig
        Children 1 … count, sharing one parent (``child.parent``).
    """
    if not isinstance(parent, TrainConfig) or parent.spawn_at is not None or parent.curve:
        raise ValueError(f"parent must be a TrainConfig of an ordinary run, got {parent!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer ≥ 1, got {count!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an iteration ≥ 0, got {k!r}")
    if per_epoch is None:
        from experiments.feed import iterations_per_epoch

        per_epoch = iterations_per_epoch(parent, data_dir)
    total = parent.iterations(per_epoch)
    if k > total:
        raise ValueError(f"k={k!r} is beyond the parent's {total} iterations")
    if k not in _schedule(parent, total, per_epoch):
        parent = parent.replace(checkpoints=(*parent.checkpoints, k))
    return [parent.replace(spawn_at=k, spawn_child=c) for c in range(1, count + 1)]


def _schedule(config: TrainConfig, total: int, per_epoch: int) -> list[int]:
    # The trainer's own schedule (it keeps the switch point of Im et al. too).
    extra = (*config.checkpoints, *((config.switch_at,) if config.switch_at else ()))
    return checkpoints.schedule(total, per_epoch, extra)


def check_spawn(config: TrainConfig, total: int, per_epoch: int) -> list[int]:
    """A child's checkpoint schedule: the parent's from ``spawn_at`` on.

    Raises
    ------
    ValueError
        In one line, when ``spawn_at`` is beyond the run or not a parent checkpoint.
    """
    k = config.spawn_at
    full = _schedule(config, total, per_epoch)
    if k > total:
        raise ValueError(f"spawn_at={k!r} is beyond the parent's {total} iterations")
    if k not in full:
        before = max(t for t in full if t < k)
        after = min(t for t in full if t > k)
        raise ValueError(f"spawn_at={k!r} is not a checkpoint of the parent (nearest: {before} "
                         f"and {after}); add it to the parent's checkpoints (checkpoints="
                         f"{(*config.checkpoints, k)!r}), as experiments.spawn.children does")
    return [t for t in full if t >= k]


def start_state(run: Run) -> dict[str, Any] | None:
    """What child ``run`` starts from: the parent's resume-state parts at ``spawn_at``,
    or None when the parent has no intact checkpoint and training state there."""
    parent, k = run.parent, run.config.spawn_at
    weights, state = parent.checkpoint_path(k), parent.train_state_path(k)
    if checkpoints.damage(weights) is not None or checkpoints.damage(state) is not None:
        return None
    fix = f"to rebuild it, {parent.retrain_hint()}"
    out = dict(checkpoints.load(state, what="training state", fix=fix))
    out["model"] = checkpoints.load(weights, fix=fix)
    out.update(step=int(k), seconds=0.0)
    return out


def no_start(run: Run) -> ValueError:
    """The one line for a child whose finished parent has no state at ``spawn_at``."""
    parent, k = run.parent, run.config.spawn_at
    return checkpoints.RunFileError(
        f"parent run {str(parent.path)!r} has no checkpoint and training state at iteration "
        f"{k} ({parent.train_state_path(k).name} under states/): it was trained before "
        f"training states were kept, or they were deleted; retrain it: `rm -r "
        f"{str(parent.path)!r} && {train_command(parent.config, parent.replicate + 1)}`")


def inputs(run: Run) -> dict[str, bytes]:
    """The files of other runs that ``run`` starts from, by path relative to the store:
    a child's parent state at ``spawn_at``, a curve's endpoint weights. They travel with
    a Dask task to a worker that does not share the store."""
    root = run.path.parents[1]
    paths: list[Path] = []
    if run.parent is not None:
        parent, k = run.parent, run.config.spawn_at
        paths = [parent.path / "config.json", parent.checkpoint_path(k),
                 parent.train_state_path(k)]
    elif run.config.curve is not None:
        from experiments.curves import end_paths

        paths = [p for ref in run.config.curve_ends for p in end_paths(root, ref)]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths if p.exists()}
