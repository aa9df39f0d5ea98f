"""Dask clusters for long work: start or join one, run tasks on it, report failures in one line.

Three modes, chosen by two flags that ``compare``, ``reproduce`` and
``experiments.train`` share (:func:`add_cluster_flags`):

- neither: everything runs in this process, and Dask is never imported;
- ``--workers N``: a local cluster of N worker processes on this machine;
- ``--scheduler ADDRESS``: a running cluster (``dask scheduler`` and ``dask worker``,
  started however the site starts them).

:func:`open_cluster` gives a ``dask.distributed.Client`` for either, after checking
that every worker runs the same code and torch as this process (a different version
would give different numbers). Tasks go through :func:`remote`, which pins the
worker's torch threads to the study's count and turns a user error on the worker (a
missing data file, a bad setting) into a :class:`Failure` that the client raises as
one line naming the worker (:func:`result`), instead of a wall of tracebacks. A worker
that dies mid-task is Dask's to handle: the task is rerun on another worker.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["Cluster", "open_cluster", "add_cluster_flags", "remote", "result", "hold", "Failure",
           "TaskError", "TaskBar", "code_digest", "worker_device", "task_threads"]

#: Seconds to wait for the first worker of a cluster joined with ``--scheduler``.
WORKER_WAIT = 30.0
#: Seconds to wait for that cluster's scheduler to answer.
CONNECT_TIMEOUT = 10.0


@functools.cache
def code_digest() -> str:
    """A digest of the code that computes results: every module of the three packages.

    Finer than a version and safer than a commit: editing the engine changes it even
    before a commit, while a commit that touches only documentation or tests does not.
    The analysis cache is keyed by it, and a worker whose digest differs from the
    client's is refused.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=12)
    for package in ("landscapes", "theory", "experiments"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- flags


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--scheduler ADDRESS`` (mutually exclusive)."""
    group = parser.add_argument_group(
        "scaling out (default: everything in this process; see the docs' Scaling out page)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--workers", type=int, metavar="N",
                       help="run the tasks on a local Dask cluster of N worker processes "
                            "(one torch thread each unless --threads says otherwise)")
    which.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the tasks on a running Dask cluster, e.g. "
                            "tcp://127.0.0.1:8786 (dask scheduler + dask worker)")


def task_threads(threads: int | None, clustered: bool) -> int | None:
    """Torch threads of every task: ``threads`` when given, one on a cluster's workers.

    In this process (``clustered`` false) ``None`` keeps the process's own setting.
    """
    if threads is not None:
        from landscapes.devices import resolve_threads

        return resolve_threads(threads)
    return 1 if clustered else None


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Failure:
    """What a task returns, instead of raising, when it failed for a user error."""

    worker: str
    host: str
    kind: str
    message: str

    def line(self) -> str:
        return f"on worker {self.worker} ({self.host}): {self.message}"


class TaskError(ValueError):
    """A task failed on a worker for a user error; the message is one line."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line())
        self.failure = failure


def _one_line(exc: BaseException) -> str:
    """The first line of an error, with its "To fix" line when it has one."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    fix = next((ln for ln in lines[1:] if ln.lower().startswith("to fix")), None)
    return lines[0] + (f" {fix}" if fix else "")


def _address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def remote(fn: Callable[..., Any], *args: Any, threads: int | None, **kwargs: Any) -> Any:
    """Run ``fn`` on a worker with ``threads`` torch threads; a user error becomes a Failure.

    User errors are ``ValueError`` and ``OSError`` (a missing file, a full disk, a bad
    setting): rerunning the task elsewhere would not help, and a traceback would hide
    the one line that says what to fix. Anything else is a bug and raises as usual.
    """
    if threads is not None:
        import torch

        # Set in the thread that runs the task: torch's count is per thread under OpenMP.
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    try:
        return fn(*args, **kwargs)
    except (ValueError, OSError) as exc:
        return Failure(_address(), socket.gethostname(), type(exc).__name__, _one_line(exc))


def result(future: Any, stop: threading.Event | None = None) -> Any:
    """A task's value; a :class:`Failure` raises :class:`TaskError`.

    With ``stop``, waits in short slices and gives up (``CancelledError``) once it is set,
    so that a thread waiting here never outlives an interrupted study.
    """
    from concurrent.futures import CancelledError

    if stop is not None:
        # Polling with Future.result(timeout=...) can lose its result under load in
        # some versions of distributed; a done callback cannot.
        finished = threading.Event()
        future.add_done_callback(lambda _: finished.set())
        while not finished.wait(0.2):
            if stop.is_set():
                raise CancelledError("the study was stopped")
    try:
        value = future.result()
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise RuntimeError(f"every worker that ran a task died ({exc}); they may run "
                               "out of memory: give them more, or use fewer threads") from None
        raise
    if isinstance(value, Failure):
        raise TaskError(value)
    return value


def hold(client: Any, value: Any, name: str) -> Any:
    """A future of ``value`` that Dask can recreate if the worker holding it dies.

    Unlike ``client.scatter``, whose data is lost with its worker, the value is kept in
    the task itself; tasks that take the future still move it only once per worker.
    """
    return client.submit(_same, value, pure=False, key=f"{name}-{secrets.token_hex(4)}")


def _same(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------- workers


def _facts() -> dict[str, Any]:
    """What must match between a worker and its client for the numbers to match."""
    import torch

    return {"code": code_digest(), "torch": torch.__version__, "host": socket.gethostname(),
            "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0}


def check_workers(client: Any) -> dict[str, dict[str, Any]]:
    """Every worker's facts; ``ValueError`` naming the first worker that differs."""
    mine = _facts()
    found = client.run(_facts)
    for address, facts in found.items():
        for key, what in (("code", "landscapes code"), ("torch", "torch")):
            if facts[key] != mine[key]:
                raise ValueError(
                    f"worker {address} ({facts['host']}) runs other {what} than this client "
                    f"({facts[key]} vs {mine[key]}): its numbers would differ; install the "
                    "same version on every worker")
    return found


def worker_device(requested: str, facts: dict[str, dict[str, Any]]) -> str:
    """The device the workers compute on: ``requested``, with ``auto`` decided by them.

    Every worker must agree, because the device type changes results (and so the
    cache key): ``auto`` is CUDA when every worker has a GPU, the CPU when none has.

    Examples
    --------
    >>> worker_device("auto", {"a": {"cuda": 0}, "b": {"cuda": 0}})
    'cpu'
    >>> worker_device("auto", {"a": {"cuda": 1}, "b": {"cuda": 0}})
    Traceback (most recent call last):
    ...
    ValueError: some workers have a GPU and some do not (a: 1, b: 0); pass --device cpu or --device cuda
    """
    if requested != "auto":
        if requested.startswith("cuda"):
            lacking = [a for a, f in facts.items() if not f["cuda"]]
            if lacking:
                raise ValueError(f"--device {requested} but worker {lacking[0]} has no GPU")
        return requested
    gpus = {a: f["cuda"] for a, f in facts.items()}
    if all(gpus.values()):
        return "cuda"
    if not any(gpus.values()):
        return "cpu"
    listed = ", ".join(f"{a}: {n}" for a, n in gpus.items())
    raise ValueError(f"some workers have a GPU and some do not ({listed}); pass --device cpu "
                     "or --device cuda")


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _connect(scheduler: str) -> Any:
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach a Dask scheduler at {scheduler!r} ({exc}); start one "
                         "with 'dask scheduler' and workers with 'dask worker ADDRESS'") from None


def _ignore_interrupts() -> None:
    """In a worker process: Ctrl-C is the client's to handle (it cancels and closes)."""
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_plugin() -> Any:
    """A worker plugin that keeps Ctrl-C in the client's terminal from reaching a worker
    (which would print its own traceback); a worker the nanny restarts gets it too."""
    from distributed import WorkerPlugin

    class Quiet(WorkerPlugin):
        idempotent = True
        name = "landscapes-quiet"

        def setup(self, worker: Any) -> None:
            _ignore_interrupts()  # runs on the worker's event loop, its main thread

    return Quiet()


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    # A process started now inherits the ignored SIGINT (Python keeps it ignored), which
    # covers the moments before the plugin runs.
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


#: Where a local cluster's scheduler, workers and dashboard listen unless told: this
#: machine only (Dask's dashboard would otherwise listen on every interface, showing
#: the tasks and logs to the network).
LOOPBACK = "127.0.0.1"


def _start(workers: int, host: str = LOOPBACK) -> tuple[Any, Any]:
    from dask.distributed import Client, LocalCluster

    # One Dask thread per worker: a worker runs one task at a time, with the torch
    # threads the task asks for. Workers log only errors, so the client's terminal
    # shows the bar, not Dask's chatter.
    with _interrupts_ignored():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               silence_logs=logging.ERROR, host=host,
                               dashboard_address=f"{_bracketed(host)}:0")
    client = Client(cluster, set_as_default=False)
    client.register_plugin(_quiet_plugin())
    return cluster, client


def _bracketed(host: str) -> str:
    """``host`` as an address's host part (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass
class Cluster:
    """An open cluster: its client and what each worker runs (:func:`check_workers`)."""

    client: Any
    facts: dict[str, dict[str, Any]]

    def device(self, requested: str) -> str:
        """See :func:`worker_device`."""
        return worker_device(requested, self.facts)


@contextlib.contextmanager
def open_cluster(workers: int | None = None, scheduler: str | None = None, *,
                 threads: int | None = None, quiet: bool = False,
                 stream: TextIO | None = None, host: str = LOOPBACK) -> Iterator[Cluster | None]:
    """A :class:`Cluster` for ``--workers`` or ``--scheduler``, else ``None``.

    Neither given: yields ``None`` without importing Dask. Otherwise starts (or joins)
    the cluster, checks its workers (:func:`check_workers`), says where its dashboard
    is, and closes what it started on exit. A local cluster's scheduler, workers and
    dashboard listen on ``host`` only, by default :data:`LOOPBACK` (this machine);
    name another address (``"0.0.0.0"`` for every interface) to reach them from others.

    Raises
    ------
    ValueError
        Both or a bad count given, Dask missing, the scheduler unreachable, no worker
        joining within :data:`WORKER_WAIT` seconds, or a worker running other code.
    """
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"--workers must be at least 1, got {workers!r}")
    if not isinstance(host, str) or not host.strip("[]"):
        raise ValueError(f"host must be an address to listen on, e.g. {LOOPBACK!r}, got {host!r}")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError("--workers and --scheduler need Dask: pip install dask distributed"
                         ) from None
    out = sys.stderr if stream is None else stream
    cluster = None
    if workers is not None:
        cluster, client = _start(workers, host.strip("[]"))
        what = f"a local Dask cluster of {workers} worker process{'es' if workers > 1 else ''}"
    else:
        client = _connect(scheduler)  # type: ignore[arg-type]
        what = f"the Dask cluster at {scheduler}"
    try:
        if workers is None:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except TimeoutError:
                raise ValueError(f"no worker joined the scheduler at {scheduler} within "
                                 f"{WORKER_WAIT:.0f} s; start some with 'dask worker "
                                 f"{scheduler}'") from None
        facts = check_workers(client)
        if not quiet:
            count = len(facts)
            per = task_threads(threads, True)
            link = client.dashboard_link
            extra = "" if _has_bokeh() else " (its graphs need bokeh: pip install 'bokeh>=3.1')"
            print(f"running on {what}: {count} worker{'s' if count != 1 else ''}, {per} torch "
                  f"thread{'s' if per != 1 else ''} per task; dashboard {link}{extra}",
                  file=out, flush=True)
        yield Cluster(client, facts)
    finally:
        # Closing after Ctrl-C or an error must not add tracebacks of its own.
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


# --------------------------------------------------------------------------- progress


class TaskBar:
    """One count over a task graph's tasks (:class:`landscapes.progress.Progress`: a bar
    on a terminal, a line now and then otherwise).

    The total grows as the graph unfolds (an analysis's evaluations are known once its
    runs are trained). Thread-safe: the threads that wait for tasks all count here.
    """

    def __init__(self, show: bool | None = None, desc: str = "tasks",
                 stream: TextIO | None = None) -> None:
        from landscapes.progress import Progress

        self._progress = Progress(0, desc, unit="task", show=show, stream=stream)
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return int(self._progress.total or 0)

    @property
    def done(self) -> int:
        return self._progress.done

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._progress.extend(n)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._progress.advance(n)

    def close(self, failed: bool = False) -> None:
        with self._lock:
            self._progress.close(failed)
