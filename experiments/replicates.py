"""The one loop that trains the replicates of a config, wherever they train.

:func:`train_replicates` (and :func:`iter_replicates`, which hands each run back as
soon as it and every replicate before it are in the store) decide which replicates need
work, hand each to a :class:`Place`, wait for them and return the runs in replicate
order. A place says only *where* a run trains:

- :class:`InProcess`: here, one after another (:func:`experiments.trainer.train`, which
  reuses a finished run and resumes an interrupted one);
- :class:`experiments.remote.Workers`: each run one task on a Dask cluster, written
  into the client's store as it comes back (``--workers``, ``--scheduler``, and the
  app's :class:`~landscapes.app.executor.Distributed`, which shares its tasks between
  the analyses of a study).

Spawned children (:mod:`experiments.spawn`) need their parents: the loop trains the
parent replicates first, at the same place, then the children.

Examples
--------
>>> from experiments.config import experiment
>>> runs = train_replicates(experiment("mnist_mlp"), 2)  # doctest: +SKIP
>>> [run.replicate for run in runs]  # doctest: +SKIP
[0, 1]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import torch

from experiments.config import TrainConfig
from experiments.store import Run

__all__ = ["Place", "InProcess", "train_replicates", "iter_replicates"]


class Place(Protocol):
    """Where runs train: one run handed over at a time, then waited for together.

    ``runs_dir`` is the store the runs land in. ``submit`` starts (or queues) a run's
    training and returns something to wait on, or ``None`` when the run needs nothing
    from this place. ``wait`` yields those handles as their runs finish, in any order,
    with each run already written into the store. Used as a context manager around one
    loop, so that a place can hold what it needs meanwhile (a store marker, a progress
    bar) and cancel what is left on an error or Ctrl-C.
    """

    runs_dir: str | os.PathLike | None

    def submit(self, run: Run) -> Any | None: ...

    def wait(self, handles: list[Any]) -> Iterable[Any]: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> Any: ...


class InProcess:
    """Runs trained in this process, one after another, in replicate order.

    Parameters
    ----------
    runs_dir, data_dir, device, progress, threads
        As :func:`experiments.trainer.train`.
    announce : bool
        Say on stderr which run starts training (one line per run that is not finished
        yet; none when ``progress`` is False), as a study does.
    """

    def __init__(self, *, runs_dir: str | os.PathLike | None = None,
                 data_dir: str | os.PathLike | None = None,
                 device: str | torch.device = "auto", progress: bool | None = None,
                 threads: int | None = None, announce: bool = False) -> None:
        self.runs_dir, self.data_dir, self.device = runs_dir, data_dir, device
        self.progress, self.threads, self.announce = progress, threads, announce

    def submit(self, run: Run) -> Run:
        # Every run, finished or not: train() reuses a finished one (and rebuilds a
        # damaged summary), so the work happens when it is waited for.
        return run

    def wait(self, handles: list[Any]) -> Iterator[Run]:
        from experiments.trainer import train

        for run in handles:
            if self.announce and self.progress is not False and not run.done:
                config = run.config
                switched = (f" -> {config.switch_optimizer} at {config.switch_at}"
                            if config.switch_at else "")
                print(f"train {config.name} ({config.optimizer}{switched}), replicate "
                      f"{run.replicate}", file=sys.stderr, flush=True)
            train(run.config, replicate=run.replicate, runs_dir=self.runs_dir,
                  data_dir=self.data_dir, device=self.device, progress=self.progress,
                  threads=self.threads)
            yield run

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def train_replicates(config: TrainConfig, replicates: int, *, place: Place | None = None,
                     **kwargs: Any) -> list[Run]:
    """Replicates 0 … ``replicates`` − 1 of ``config``, trained at ``place`` or reused.

    Parameters
    ----------
    config : TrainConfig
    replicates : int
        At least 1.
    place : Place, optional
        Where the runs train (default: :class:`InProcess` with ``**kwargs``).
    **kwargs
        :class:`InProcess`'s options (``runs_dir``, ``device``...), without ``place``.

    Returns
    -------
    list of Run
        Finished, in replicate order.
    """
    return list(iter_replicates(config, replicates, place=place, **kwargs))


def iter_replicates(config: TrainConfig, replicates: int, *, place: Place | None = None,
                    **kwargs: Any) -> Iterator[Run]:
    """:func:`train_replicates`, each run yielded once it and those before it are done."""
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"replicates must be an integer ≥ 1, got {replicates!r}")
    if place is None:
        place = InProcess(**kwargs)
    elif kwargs:
        raise TypeError(f"train options {sorted(kwargs)} go to the place, not beside it")
    return _loop(config, replicates, place)


def _loop(config: TrainConfig, replicates: int, place: Place) -> Iterator[Run]:
    runs = [Run(config, r, place.runs_dir) for r in range(replicates)]
    if config.parent is not None and not all(run.done for run in runs):
        # A spawned child starts from its parent's state: the parents train first, at
        # the same place (:mod:`experiments.spawn`).
        for _ in _loop(config.parent, replicates, place):
            pass
    with place:
        pending: dict[int, int] = {}
        handles = []
        for run in runs:
            handle = place.submit(run)
            if handle is not None:
                pending[id(handle)] = run.replicate
                handles.append(handle)
        waiting = set(pending.values())
        ready = 0
        for handle in place.wait(handles):
            waiting.discard(pending[id(handle)])
            while ready < replicates and ready not in waiting:
                yield runs[ready]
                ready += 1
        yield from runs[ready:]
