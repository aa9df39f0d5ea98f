"""Which torch device, and how many CPU threads, to run on; small on purpose, so training
can pick them without the engine."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["resolve_device", "resolve_threads", "thread_choice", "ThreadChoice", "decide_threads",
           "machine_threads", "busy_cpus", "cgroup_quota", "parse_cpu_max", "parse_proc_stat",
           "using_threads"]


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into CUDA when present, else CPU; check explicit choices.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return dev


def resolve_threads(requested: int | None = None) -> int:
    """CPU threads for torch's operations: ``requested``, or the machine's free cores.

    The default is :func:`thread_choice`'s: the cores this process may use that no other
    work is using when the process first asks, at least one, decided once per process.

    Examples
    --------
    >>> resolve_threads(3)
    3
    >>> resolve_threads() >= 1
    True
    >>> resolve_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: threads must be an integer ≥ 1, got 0
    """
    return thread_choice(requested).threads


def thread_choice(requested: int | None = None) -> ThreadChoice:
    """How many CPU threads to use, and why: ``requested``, or what the machine shows.

    Torch's own default, one thread per core, waits at every operation for its slowest
    thread; when another process holds a core, that thread is descheduled and all of
    them wait. On the 2-core machine this project is built on, LeNet-300-100 trained
    several times slower with 2 threads than with 1 as soon as one other process ran,
    while 2 threads beat 1 when the machine was idle (``python -m benchmarks.training``
    measures both). So the default is the count of free cores (:func:`decide_threads`):
    the CPUs this process may run on (:func:`os.sched_getaffinity`) less those other
    work keeps busy, sampled from ``/proc/stat`` over :data:`SAMPLE_SECONDS` (the
    1-minute load average where there is no ``/proc/stat``), capped by a cgroup CPU
    quota (``cpu.max``) and by the count the process already set (``OMP_NUM_THREADS``,
    :func:`torch.set_num_threads`).

    The machine is read once per process (the first default asked for) and kept:
    float32 results depend on the thread count at rounding level (MKL and oneDNN split
    their sums by thread), so every part of one process must use, and name in its
    cache keys, the same count. Two processes on one machine at different loads may
    choose differently; ``requested`` (``--threads``) gives the same count everywhere.

    Examples
    --------
    >>> thread_choice(3).threads, thread_choice(3).source
    (3, 'requested')
    >>> thread_choice().threads >= 1
    True
    """
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise ValueError(f"threads must be an integer ≥ 1, got {requested!r}")
        return ThreadChoice(requested, "requested")
    machine = _machine()
    process = torch.get_num_threads()
    if process >= machine.threads:
        return machine
    return dataclasses.replace(machine, threads=process, process=process)


#: Seconds over which the CPUs' use by other work is sampled at a process's first default.
SAMPLE_SECONDS = 0.2

#: Share of a core that other work may use before the core counts as taken: an idle
#: machine's daemons and shells (0.00–0.05 of a core measured on this project's idle
#: machine over 0.2 s, where /proc/stat counts in steps of 0.05) stay below it.
SLACK = 0.25


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and what it was decided from, for a run's provenance.

    ``cpus``: the CPUs this process may run on; ``quota``: the cgroup's CPU quota in
    cores (None: none); ``busy``: cores' worth of CPU time other work used over the
    sample; ``load``: the 1-minute load average; ``process``: the process's own count,
    where it was the limit.
    """

    threads: int
    source: str  # "requested" or "default"
    cpus: int | None = None
    quota: float | None = None
    busy: float | None = None
    load: float | None = None
    process: int | None = None

    @property
    def reason(self) -> str:
        """One line saying why, for people.

        Examples
        --------
        >>> ThreadChoice(1, "default", cpus=2, busy=1.1, load=2.5).reason
        '1 thread: 2 CPUs, 1.10 of them busy with other work, load average 2.50'
        """
        head = f"{self.threads} thread{'' if self.threads == 1 else 's'}"
        if self.source == "requested":
            return f"{head}: asked for"
        parts = [f"{self.cpus} CPUs"]
        if self.quota is not None:
            parts.append(f"a cgroup quota of {self.quota:g} cores")
        if self.busy is not None:
            parts.append(f"{self.busy:.2f} of them busy with other work")
        if self.load is not None:
            parts.append(f"load average {self.load:.2f}")
        if self.process is not None:
            parts.append(f"the process set {self.process} (OMP_NUM_THREADS or torch)")
        return f"{head}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Every field and the reason, JSON-ready."""
        return {**dataclasses.asdict(self), "reason": self.reason}


def decide_threads(cpus: int, quota: float | None = None, busy: float | None = None) -> int:
    """Threads for a machine: its free cores, at least 1, at most the cores it may use.

    ``cpus`` CPUs may run this process, other work keeps ``busy`` cores' worth of them
    busy (None: unknown, taken as idle), and a cgroup quota of ``quota`` cores (None:
    none) allows at most ⌊quota⌋ threads without throttling. A core counts as taken
    once other work uses more than :data:`SLACK` of it.

    Examples
    --------
    >>> decide_threads(2, busy=0.05)  # idle
    2
    >>> decide_threads(2, busy=1.0)  # one busy process
    1
    >>> decide_threads(16, quota=4.0, busy=2.0)
    4
    """
    usable = cpus if quota is None else max(1, min(cpus, math.floor(quota)))
    taken = 0 if busy is None else max(0, math.ceil(busy - SLACK))
    return max(1, min(usable, cpus - taken))


@functools.cache
def _machine() -> ThreadChoice:
    """The machine's default, read once per process."""
    return machine_threads()


def machine_threads() -> ThreadChoice:
    """The machine's default read now (:func:`thread_choice` keeps its first read).

    Not capped by the process's own count; benchmarks read it afresh before each run to
    see what a process started then would choose.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = list(range(os.cpu_count() or 1))
    quota = cgroup_quota()
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    busy = busy_cpus(cpus)
    if busy is None:
        busy = load
    return ThreadChoice(decide_threads(len(cpus), quota, busy), "default", cpus=len(cpus),
                        quota=quota, busy=busy, load=load)


def busy_cpus(cpus: list[int], seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores' worth of ``cpus``' time spent on work over ``seconds`` (None: unreadable).

    This process sleeps meanwhile, so the work is other processes'; time stolen by a
    hypervisor counts as busy, waiting for disk as idle.
    """
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None:
        return None
    busy = 0.0
    for cpu in cpus:
        if cpu in before and cpu in after:
            (total0, idle0), (total1, idle1) = before[cpu], after[cpu]
            if total1 > total0:
                busy += 1 - (idle1 - idle0) / (total1 - total0)
    return round(busy, 2)


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """Per CPU of a ``/proc/stat``: (all ticks, idle and iowait ticks).

    Examples
    --------
    >>> parse_proc_stat("cpu  9 0 1 90 0 0 0 0 0 0\\ncpu0 5 0 1 40 4 0 0 0 0 0\\n")
    {0: (50, 44)}
    """
    out = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(f) for f in fields[:8]]  # guest time is already in user time
            out[int(name[3:])] = (sum(ticks), ticks[3] + (ticks[4] if len(ticks) > 4 else 0))
    return out


def _cpu_times() -> dict[int, tuple[int, int]] | None:
    try:
        return parse_proc_stat(Path("/proc/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def cgroup_quota(root: str | os.PathLike = "/sys/fs/cgroup",
                 membership: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """The tightest CPU quota, in cores, of this process's cgroup and its parents.

    cgroup v2 ``cpu.max`` (``"max 100000"``: none; ``"150000 100000"``: 1.5 cores) or
    v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; None where there is none or
    nothing can be read.
    """
    base = Path(root)
    try:
        lines = Path(membership).read_text().splitlines()
    except OSError:
        lines = []
    found: list[float] = []
    for line in lines or ["0::/"]:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2
            folders = [base / path.strip("/")]
        elif "cpu" in controllers.split(","):
            folders = [base / controllers / path.strip("/"), base / "cpu" / path.strip("/")]
        else:
            continue
        for folder in folders:
            for at in (folder, *folder.parents):
                quota = _quota_in(at)
                if quota is not None:
                    found.append(quota)
                if at == base:
                    break
    return min(found) if found else None


def parse_cpu_max(text: str) -> float | None:
    """Cores allowed by a cgroup v2 ``cpu.max`` line (None: no limit).

    Examples
    --------
    >>> parse_cpu_max("150000 100000"), parse_cpu_max("max 100000")
    (1.5, None)
    """
    quota, _, period = text.strip().partition(" ")
    if quota == "max":
        return None
    return int(quota) / int(period or 100000)


def _quota_in(folder: Path) -> float | None:
    try:
        return parse_cpu_max((folder / "cpu.max").read_text())
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


@contextlib.contextmanager
def using_threads(threads: int) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads, then restore the previous count.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with using_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
