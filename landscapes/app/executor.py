"""Where a study's work runs: in this process (the default), or as tasks on a Dask cluster.

A study is a graph of independent pieces: training runs (config × replicate), then for
every (system, analysis) pair the evaluation of each replicate's path, split into
blocks of points when the path is large (:func:`landscapes.paths.blocks`). Systems and
analyses never ask where they run: a network system trains through
:meth:`InProcess.train_replicates` and evaluates through :meth:`InProcess.evaluate` of
the runtime's executor (:func:`executor_for`), and an analysis maps its replicates
with :func:`for_each`.

:class:`InProcess` calls the code as it always ran. :class:`Distributed` sends the same
calls to a ``dask.distributed.Client``:

- every run to train is one task (the study submits them all before any analysis
  waits, :meth:`~landscapes.app.study.Study.run`); its result is written into the
  client's run store as it arrives (the one replicate loop of
  :mod:`experiments.replicates`, at :mod:`experiments.remote`'s workers), so nothing
  depends on a shared filesystem;
- every analysis of every system runs in a thread of the client, which builds the
  paths from the client's store, sends each block of points with the anchors and the
  final weights to a worker, and reassembles the blocks exactly (``xarray.concat``
  along the first dimension; the engine gives every point the same bits whichever
  other points share its block). The client writes the analysis cache, as in-process.

Workers read the evaluation data from their own data root and check it against the
client's digest. Every task of a study runs with one torch thread count, the one its
networks' cache keys name (:meth:`~landscapes.app.systems.NetworkSystem.key`): one on
a cluster unless ``threads`` says otherwise. The engine gives the multilayer
perceptrons' points the same bits with any count; their training does not, nor do
float32 convolutions (at rounding level). Dask is imported only by :class:`Distributed`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import xarray as xr

if TYPE_CHECKING:  # pragma: no cover
    from landscapes.app.runtime import Runtime
    from landscapes.paths import Path

__all__ = ["InProcess", "Distributed", "executor_for", "for_each", "evaluate_on", "Evaluation",
           "EvaluationData", "BLOCK_POINTS", "threaded"]

#: Points per evaluation task on a cluster: a 51×51 plane becomes 11 blocks of ~5
#: rows. Small enough to spread one large path over many workers, large enough that
#: a block's fixed costs (probing the model, the anchors' first-layer outputs, moving
#: the anchors) stay a few per cent of its work.
BLOCK_POINTS = 256


class InProcess:
    """Everything in this process, exactly as the code runs without an executor."""

    distributed = False

    def train_replicates(self, config: Any, replicates: int, *, runs_dir: Any = None,
                         progress: bool | None = None, **kwargs: Any) -> list[Any]:
        """Replicates 0 … ``replicates`` − 1 of ``config``, trained or reused, one after
        another; each one that trains is announced on stderr."""
        from experiments.replicates import InProcess as Here
        from experiments.replicates import train_replicates

        return train_replicates(config, replicates, place=Here(
            runs_dir=runs_dir, progress=progress, announce=True, **kwargs))

    def evaluate(self, reps: Any, path: Path, analysis: str, r: int,
                 options: dict[str, Any]) -> xr.Dataset:
        from landscapes.devices import resolve_threads, using_threads

        # The count the cache key names (NetworkSystem.key), whatever the process set.
        with using_threads(resolve_threads(reps.runtime.threads)):
            return reps.evaluate_here(path, analysis, r, **options)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(item) for item in items]


IN_PROCESS = InProcess()


def executor_for(runtime: Runtime | None) -> InProcess | Distributed:
    """The executor a study set in ``runtime``, or :class:`InProcess`."""
    found = getattr(runtime, "executor", None)
    return IN_PROCESS if found is None else found


def for_each(reps: Any, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``[fn(i) for i in items]``, the items side by side when the study runs on a cluster.

    Analyses map their replicates with it, so that a cluster evaluates them at once.
    """
    return executor_for(getattr(reps, "runtime", None)).map(fn, items)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class EvaluationData:
    """The evaluation splits as any worker can load them: the first ``examples`` of each."""

    dataset: str
    splits: tuple[str, ...]
    examples: int | None
    data_dir: str | None
    fingerprint: str | None = None

    def load(self) -> dict[str, Any]:
        """The splits, from this process's data root, checked against the fingerprint."""
        with _DATA_LOCK:
            if self not in _DATA:
                _DATA[self] = self._load()
            return _DATA[self]

    def _load(self) -> dict[str, Any]:
        from experiments import data

        out = {}
        for split in self.splits:
            x, y = data.load(self.dataset, split, data_dir=self.data_dir)
            out[split] = (x[: self.examples], y[: self.examples]) if self.examples else (x, y)
        if self.fingerprint is not None and fingerprint(out) != self.fingerprint:
            raise ValueError(
                f"the {self.dataset} data under {str(data.data_root(self.data_dir))!r} differ "
                "from the client's (another version of the files?): point --data-dir or "
                "$LANDSCAPES_DATA at the same files on every machine")
        return out


_DATA: dict[EvaluationData, dict[str, Any]] = {}
_DATA_LOCK = threading.Lock()


def fingerprint(splits: dict[str, Any]) -> str:
    """A digest of evaluation tensors themselves, whatever folder they came from."""
    import hashlib

    digest = hashlib.blake2b(digest_size=12)
    for split, (x, y) in sorted(splits.items()):
        digest.update(split.encode())
        for t in (x, y):
            digest.update(str((tuple(t.shape), str(t.dtype))).encode())
            digest.update(t.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class Evaluation:
    """One replicate's :func:`landscapes.evaluate` call, described for any process.

    ``model`` is the experiment's model name; the network starts from ``state`` (the
    run's final weights, as :meth:`experiments.store.Run.model` loads them). ``options``
    are the keyword arguments of :func:`landscapes.evaluate` besides the model, path
    and data, ``measures=`` among them: point measures are frozen dataclasses of the
    package (:mod:`landscapes.engine.point_measures`), pickled to the workers with the
    rest, and their seeds derive from each point's index in the whole path
    (:attr:`landscapes.paths.Path.start`), so blocks reassemble to the in-process numbers.
    """

    model: str
    data: EvaluationData
    options: dict[str, Any]

    def run(self, state: dict[str, Any], path: Path, start: int, stop: int) -> xr.Dataset:
        """Evaluate the block [start, stop) of the first dimension of ``path``."""
        from experiments.models import build
        from landscapes import evaluate, paths

        net = build(self.model)
        net.load_state_dict(state)
        part = path if (start, stop) == (0, path.shape[0]) else paths.take(path, start, stop)
        return evaluate(net.eval(), part, self.data.load(), progress=False, **self.options)


def _evaluate_block(request: Evaluation, state: dict[str, Any], path: Path, start: int,
                    stop: int) -> xr.Dataset:
    return request.run(state, path, start, stop)


def reassemble(path: Path, parts: list[xr.Dataset]) -> xr.Dataset:
    """The blocks of ``path`` as one dataset, as if it had been evaluated whole."""
    if len(parts) == 1:
        return parts[0]
    ds = xr.concat(parts, path.dims[0], combine_attrs="override", data_vars="all",
                   coords="different", compat="equals", join="exact")
    # The distance coordinate of the whole path, computed as the engine computes it.
    return ds.assign_coords(distance=ds["distance"].copy(data=path.distance()))


def evaluate_on(client: Any, model: str, state: dict[str, Any], path: Path,
                data: EvaluationData, *, threads: int | None = None,
                block_points: int = BLOCK_POINTS, progress: bool | None = False,
                **options: Any) -> xr.Dataset:
    """:func:`landscapes.evaluate` of one large path on a Dask cluster, in blocks of points.

    Parameters
    ----------
    client : dask.distributed.Client
    model : str
        An experiment's model name (:func:`experiments.models.build`).
    state : dict
        The weights the network starts from (entries the path does not cover).
    path : landscapes.paths.Path
    data : EvaluationData
        The splits, loaded by each worker from its own data root.
    threads : int, optional
        Torch threads per block (default one).
    block_points : int
        Points per task (:data:`BLOCK_POINTS`).
    **options
        Keyword arguments of :func:`landscapes.evaluate` (``device``, ``bn``,
        ``measures``...).

    Returns
    -------
    xarray.Dataset
        What :func:`landscapes.evaluate` returns for the whole path, bit for bit (but
        for the ``created`` time stamp).
    """
    executor = Distributed(client, threads=threads, progress=progress,
                           block_points=block_points)
    with executor.running():
        return executor.evaluate_request(Evaluation(model, data, options), state, path)


# --------------------------------------------------------------------------- the cluster


class Distributed:
    """A study's tasks on a ``dask.distributed.Client``; see the module's docstring.

    Parameters
    ----------
    client : dask.distributed.Client
    threads : int, optional
        Torch threads of every task (default one).
    share : bool, optional
        ``None``: a worker that sees the client's run store trains in it; ``False``:
        every run comes back as files, as on a cluster without a shared filesystem.
    progress : bool, optional
        One bar over every task (default: on a terminal; periodic lines otherwise).
    block_points : int
        Points per evaluation task (:data:`BLOCK_POINTS`).
    """

    distributed = True

    def __init__(self, client: Any, *, threads: int | None = None, share: bool | None = None,
                 progress: bool | None = None, block_points: int = BLOCK_POINTS) -> None:
        from landscapes.cluster import TaskBar, task_threads

        self.client = client
        self.threads = task_threads(threads, True)
        # Anchors and weights go into the graph on purpose (see landscapes.cluster.hold).
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        self.share = share
        self.block_points = block_points
        self.bar = TaskBar(progress)
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str, int], Any] = {}
        self._written: dict[tuple[str, str, int], threading.Lock] = {}
        self._received: set[tuple[str, str, int]] = set()
        self._stores: dict[str, Any] = {}
        self._futures: set[Any] = set()

    # ------------------------------------------------------------------ training
    def _store(self, runs_dir: Any) -> Any:
        from experiments.remote import Store

        store = Store(runs_dir, self.share)
        with self._lock:
            if str(store.root) not in self._stores:
                self._stores[str(store.root)] = store.__enter__()
            return self._stores[str(store.root)]

    def submit_training(self, config: Any, replicate: int, *, runs_dir: Any = None,
                        data_dir: Any = None, device: str = "cpu") -> Any | None:
        """The future of one run's training (``None`` if the store has it finished)."""
        from experiments.remote import submit
        from experiments.store import Run

        store = self._store(runs_dir)
        key = (str(store.root), config.name, replicate)
        with self._lock:
            if key in self._runs:
                return self._runs[key]
            if Run(config, replicate, runs_dir).done:
                self._runs[key] = None
                return None
            future = submit(self.client, config, replicate, store=store, data_dir=data_dir,
                            device=device, threads=self.threads)
            self._runs[key] = future
            self._written[key] = threading.Lock()
            self._futures.add(future)
        self.bar.add()
        return future

    def train_replicates(self, config: Any, replicates: int, *, runs_dir: Any = None,
                         data_dir: Any = None, device: str = "cpu", progress: Any = None,
                         threads: int | None = None) -> list[Any]:
        """The runs, trained on the cluster (or found in the store) and written there.

        Every task trains with this executor's thread count (``threads`` is the
        in-process signature's; a study passes the same count).
        """
        from experiments.replicates import train_replicates

        return train_replicates(config, replicates, place=_Shared(
            self, runs_dir=runs_dir, data_dir=data_dir, device=device))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, reps: Any, path: Path, analysis: str, r: int,
                 options: dict[str, Any]) -> xr.Dataset:
        """Replicate ``r``'s path, in blocks of points on the workers, reassembled."""
        request = Evaluation(reps.runs[r].config.model, reps.data_spec(),
                             {**reps.options(analysis), **options})
        return self.evaluate_request(request, reps.final(r), path,
                                     f"{reps.system}-{analysis}-r{r}")

    def evaluate_request(self, request: Evaluation, state: dict[str, Any], path: Path,
                         name: str = "path") -> xr.Dataset:
        """``request`` along ``path`` from weights ``state``, block by block on the workers."""
        from landscapes import paths
        from landscapes.cluster import hold, remote, result

        parts = paths.blocks(path, self.block_points)
        # Anchors and weights travel once to each worker that needs them, not per block.
        sent = [hold(self.client, request, f"request-{name}"),
                hold(self.client, state, f"weights-{name}"),
                hold(self.client, path, f"path-{name}")]
        tag = secrets.token_hex(3)
        futures = [self.client.submit(remote, _evaluate_block, *sent, start, stop,
                                      threads=self.threads, pure=False,
                                      key=f"evaluate-{name}-{start}:{stop}-{tag}")
                   for start, stop in parts]
        with self._lock:
            self._futures.update(futures)
        self.bar.add(len(futures))
        out = []
        for future in futures:
            out.append(result(future, self.stop))
            self.bar.advance()
        return reassemble(path, out)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``fn`` of every item, each in a thread of its own (they wait on tasks)."""
        return threaded([lambda i=item: fn(i) for item in items], self.stop)

    @contextlib.contextmanager
    def running(self) -> Iterator[Distributed]:
        """Close the bar and the store markers on exit; on an error or Ctrl-C, stop
        every thread and cancel every task still queued (finished ones are kept)."""
        failed = False
        try:
            yield self
        except BaseException:
            failed = True
            self.stop.set()
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            with contextlib.suppress(Exception):
                self.client.cancel(pending)
            raise
        finally:
            self.bar.close(failed)
            for store in self._stores.values():
                store.__exit__(None, None, None)


class _Shared:
    """The :class:`~experiments.replicates.Place` of one :meth:`Distributed.train_replicates`
    call: the executor's tasks, shared by every analysis that waits for the same run.

    A run already submitted (by the study, before any analysis waits) is waited for, not
    trained again; the first thread to see it finish writes it into the store, and the
    executor's one bar and stop event serve every call.
    """

    def __init__(self, executor: Distributed, *, runs_dir: Any, data_dir: Any,
                 device: str) -> None:
        self.executor, self.client, self.runs_dir = executor, executor.client, runs_dir
        self.data_dir, self.device = data_dir, device
        self._runs: dict[int, Any] = {}

    def __enter__(self) -> _Shared:
        return self  # the executor's running() holds the bar and the store markers

    def __exit__(self, *exc: Any) -> None:
        return None

    def submit(self, run: Any) -> Any | None:
        future = self.executor.submit_training(run.config, run.replicate,
                                               runs_dir=self.runs_dir,
                                               data_dir=self.data_dir, device=self.device)
        if future is not None:
            self._runs[id(future)] = run
        return future

    def wait(self, handles: list[Any]) -> Iterator[Any]:
        from experiments.remote import landed

        return landed(self.client, handles, lambda f: self.land(f, self._runs[id(f)]))

    def land(self, future: Any, run: Any) -> None:
        from experiments.remote import receive
        from landscapes.cluster import result

        ex = self.executor
        trained = result(future, ex.stop)
        key = (str(ex._store(self.runs_dir).root), run.config.name, run.replicate)
        with ex._written[key]:  # several analyses wait for one run: one writes it
            if key not in ex._received:
                receive(trained, run.config, self.runs_dir)
                ex._received.add(key)
                ex.bar.advance()


def threaded(jobs: list[Callable[[], Any]], stop: threading.Event) -> list[Any]:
    """Run ``jobs`` in daemon threads; their results in order, or the first error.

    The calling thread only waits, so Ctrl-C reaches it at once. The first error sets
    ``stop``, which every wait of the study watches, so the other threads end within a
    moment and the error that caused it is the one raised.
    """
    if len(jobs) <= 1:
        return [job() for job in jobs]
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []
    done = threading.Semaphore(0)

    def work(i: int, job: Callable[[], Any]) -> None:
        try:
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
            errors.append(exc)
            stop.set()
        finally:
            done.release()

    for i, job in enumerate(jobs):
        threading.Thread(target=work, args=(i, job), daemon=True,
                         name=f"landscapes-{i}").start()
    finished, grace = 0, None
    while finished < len(jobs):
        if done.acquire(timeout=0.2):
            finished += 1
        elif stop.is_set():
            # Threads blocked on tasks see the stop within a slice of their wait.
            grace = grace if grace is not None else time.monotonic() + 5.0
            if time.monotonic() > grace:
                break
    if errors:
        raise min(errors, key=_rank)
    if stop.is_set():
        from concurrent.futures import CancelledError

        raise CancelledError("the study was stopped")
    return results


_threaded = threaded  # its name before the study ran its own orchestration


def _rank(exc: BaseException) -> int:
    # Report the cause, not a thread that was merely told to stop because of it.
    from concurrent.futures import CancelledError

    return 1 if isinstance(exc, CancelledError) else 0


def with_executor(runtime: Runtime, executor: Any) -> Runtime:
    """``runtime`` with ``executor`` set (frozen dataclasses are replaced, not changed)."""
    return dataclasses.replace(runtime, executor=executor)
