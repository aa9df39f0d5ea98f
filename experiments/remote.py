"""Training runs as Dask tasks, whether or not the workers share the client's disk.

A worker trains one run (config × replicate) exactly as :func:`experiments.trainer.train`
does in the client's process -- same seeds, same batches -- and hands it back:

- if the worker sees the client's run store (a shared filesystem: it finds the marker
  file :class:`Store` puts there), it trains in place, where the run is resumable and
  reused by everyone, and returns only the run's name;
- otherwise it trains in its own scratch store (``$LANDSCAPES_HOME/scratch/runs`` on
  the worker, so a rerun on that machine resumes) and returns the run's files: its
  config, every checkpoint and its summary. The client writes them into its own store
  (:func:`receive`), each atomically and the summary last, so that a run there is
  either finished or unfinished, never half-copied.

An unfinished run in the client's store travels with its task and the worker resumes
it, so a run continued elsewhere still ends with an uninterrupted run's weights.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.config import TrainConfig
from experiments.store import Run, runs_root
from landscapes.results import atomic_write

__all__ = ["Trained", "Store", "pack", "receive", "submit", "train_task", "train_replicates",
           "Workers", "landed"]

#: Name prefix of the marker file that tells a worker it shares the client's store.
MARKER = ".shared-"
#: The file whose presence means a run is finished; written last.
SUMMARY = "summary.json"


@dataclass
class Trained:
    """A finished run as a task returns it: its files, or ``None`` if written in place."""

    name: str
    replicate: int
    files: dict[str, bytes] | None
    host: str

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in (self.files or {}).values())


class Store:
    """The client's run store, marked while a cluster works for it.

    Parameters
    ----------
    runs_dir : str or path-like, optional
        See :func:`experiments.store.runs_root`.
    share : bool, optional
        ``None``: let each worker find out whether it sees this folder; ``False``:
        treat every worker as remote (its runs come back as files), as on a cluster
        without a shared filesystem.
    """

    def __init__(self, runs_dir: str | os.PathLike | None = None, share: bool | None = None):
        self.root = runs_root(runs_dir).expanduser().resolve()
        self.token = None if share is False else secrets.token_hex(8)

    def __enter__(self) -> Store:
        if self.token is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / (MARKER + self.token)).write_text("a Dask client uses this store\n")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.token is not None:
            (self.root / (MARKER + self.token)).unlink(missing_ok=True)


def _resume_file(name: str) -> bool:
    return name.startswith("resume")


def pack(run: Run, resume: bool = False) -> dict[str, bytes]:
    """The files of ``run``'s folder by relative path; resume states only if ``resume``.

    Hidden files (locks, temporary files of an atomic write) never travel.
    """
    out: dict[str, bytes] = {}
    if not run.path.exists():
        return out
    for path in sorted(run.path.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if _resume_file(path.name) and not resume:
            continue
        out[path.relative_to(run.path).as_posix()] = path.read_bytes()
    return out


def _write(files: dict[str, bytes], folder: Path) -> None:
    # The summary marks a run finished, so it goes last.
    for rel in sorted(files, key=lambda r: r == SUMMARY):
        data = files[rel]
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"refusing to write {rel!r} outside {str(folder)!r}")
        atomic_write(folder / rel, lambda tmp, b=data: Path(tmp).write_bytes(b))


def train_task(config: TrainConfig, replicate: int, *, store: str, token: str | None,
               data_dir: str | None, device: str, torch_threads: int | None = None,
               partial: dict[str, bytes] | None = None,
               inputs: dict[str, bytes] | None = None) -> Trained:
    """Train (or reuse) one run on a worker; see the module's docstring.

    ``store`` is the client's run store as the client sees it, ``token`` its marker
    (``None``: never share), ``partial`` the files of an unfinished run there;
    ``torch_threads`` as :func:`experiments.trainer.train`'s ``threads``; ``inputs``
    the files of other runs it starts from (:func:`experiments.spawn.inputs`: a child's
    parent state, a curve's endpoints), by path relative to the store.
    """
    from experiments.trainer import train
    from landscapes.home import home

    shared = token is not None and (Path(store) / (MARKER + token)).exists()
    run = Run(config, replicate, store if shared else home("scratch", "runs"))
    if not shared and partial:
        with run.lock():
            if not run.done and not any(run.path.glob("resume*")):
                _write(partial, run.path)
    if not shared and inputs:
        root = run.path.parents[1]
        _write({rel: data for rel, data in inputs.items() if not (root / rel).exists()}, root)
    train(config, replicate=replicate, runs_dir=run.path.parents[1], data_dir=data_dir,
          device=device, progress=False, threads=torch_threads)
    return Trained(config.name, replicate, None if shared else pack(run), socket.gethostname())


def receive(trained: Trained, config: TrainConfig, runs_dir: str | os.PathLike | None) -> Run:
    """The client's :class:`~experiments.store.Run` for a task's result, written there.

    A run that is already finished in the store (trained in place, or by someone else
    meanwhile) is kept as it is: nothing silently replaces an earlier result.
    """
    run = Run(config, trained.replicate, runs_dir)
    if run.done:
        return run
    if trained.files is None:
        raise ValueError(f"a worker trained {str(run.path)!r} in place but the client does "
                         "not find it finished there")
    if SUMMARY not in trained.files:
        raise ValueError(f"a worker returned {config.name} replicate {trained.replicate} "
                         "without its summary")
    with run.lock():  # against a process of the client's training the same run
        if not run.done:
            _write(trained.files, run.path)
            for path in run.path.glob("resume*"):
                path.unlink(missing_ok=True)  # the run is finished; its resume state is stale
    return run


def submit(client: Any, config: TrainConfig, replicate: int, *, store: Store,
           data_dir: str | os.PathLike | None, device: str, threads: int | None) -> Any:
    """Submit one run's training; returns the Dask future of a :class:`Trained`."""
    from landscapes.cluster import remote

    run = Run(config, replicate, store.root)
    partial = None if run.done else (pack(run, resume=True) or None)
    from experiments.spawn import inputs

    needs = None if run.done else (inputs(run) or None)
    data = None if data_dir is None else str(data_dir)
    return client.submit(remote, train_task, config, replicate, threads=threads,
                         store=str(store.root), token=store.token, data_dir=data,
                         device=device, torch_threads=threads, partial=partial,
                         inputs=needs, pure=False,
                         key=f"train-{config.name}-r{replicate}-{secrets.token_hex(4)}")


class Workers:
    """A :class:`~experiments.replicates.Place` on ``client``'s workers: one task a run.

    Finished runs in the store are reused (no task); each other run is one task, written
    into the store as soon as it comes back, so an interrupted loop keeps what finished
    and cancels what is still queued.

    Parameters
    ----------
    client : dask.distributed.Client
    runs_dir, data_dir
        The client's run store and data root.
    device : str
        The workers' device.
    threads : int, optional
        Torch threads of every task.
    progress : bool, optional
        A bar over the tasks (:class:`landscapes.cluster.TaskBar`), named ``desc``.
    share : bool, optional
        As :class:`Store`.
    """

    def __init__(self, client: Any, *, runs_dir: str | os.PathLike | None = None,
                 data_dir: str | os.PathLike | None = None, device: str = "cpu",
                 threads: int | None = 1, progress: bool | None = None,
                 share: bool | None = None, desc: str = "train") -> None:
        self.client, self.runs_dir, self.data_dir = client, runs_dir, data_dir
        self.device, self.threads, self.progress = device, threads, progress
        self.share, self.desc = share, desc
        self.futures: list[Any] = []
        self._runs: dict[int, Run] = {}

    def __enter__(self) -> Workers:
        from landscapes.cluster import TaskBar

        self.store = Store(self.runs_dir, self.share).__enter__()
        self.bar = TaskBar(self.progress, desc=self.desc)
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        try:
            if kind is not None:
                self.client.cancel(self.futures)
            self.bar.close(failed=kind is not None)
        finally:
            self.store.__exit__(None, None, None)

    def submit(self, run: Run) -> Any | None:
        if run.done:
            return None
        future = submit(self.client, run.config, run.replicate, store=self.store,
                        data_dir=self.data_dir, device=self.device, threads=self.threads)
        self.futures.append(future)
        self.bar.add()
        return self.track(future, run)

    def track(self, future: Any, run: Run) -> Any:
        """Remember which run ``future`` trains; returns it."""
        self._runs[id(future)] = run
        return future

    def wait(self, handles: list[Any]) -> Iterator[Any]:
        return landed(self.client, handles, lambda f: self.land(f, self._runs[id(f)]))

    def land(self, future: Any, run: Run) -> None:
        """Write one finished task's run into the store."""
        from landscapes.cluster import result

        receive(result(future), run.config, self.runs_dir)
        self.bar.advance()


def landed(client: Any, futures: list[Any], land: Callable[[Any], None]) -> Iterator[Any]:
    """Each of ``futures`` as its task finishes, after ``land(future)`` has written it."""
    from distributed import as_completed

    for future in as_completed(list(futures), loop=client.loop):
        land(future)
        yield future


def train_replicates(client: Any, config: TrainConfig, replicates: int, *,
                     runs_dir: str | os.PathLike | None = None,
                     data_dir: str | os.PathLike | None = None, device: str = "cpu",
                     threads: int | None = 1, progress: bool | None = None,
                     share: bool | None = None) -> list[Run]:
    """Replicates 0 … ``replicates`` − 1 of ``config`` trained on ``client``'s workers
    (:func:`experiments.replicates.train_replicates` at :class:`Workers`)."""
    from experiments.replicates import train_replicates as loop

    place = Workers(client, runs_dir=runs_dir, data_dir=data_dir, device=device,
                    threads=threads, progress=progress, share=share,
                    desc=f"train {config.name}")
    return loop(config, replicates, place=place)
