"""One process at a time per run: an exclusive lock on a file in the run's folder.

``fcntl.flock`` locks belong to the open file, so the kernel drops them when the process
ends however it ends: a killed run never leaves a stale lock, and no timeout or pid
check is needed to break one. The holder writes its pid into the file so that a waiting
process can say whom it waits for. Where ``fcntl`` does not exist (Windows) runs are
not locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["hold"]


@contextlib.contextmanager
def hold(path: str | os.PathLike, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block.

    Parameters
    ----------
    path : str or path-like
        The lock file; its folder is created if needed. It is left in place: removing
        it would let two processes lock two different files of the same name.
    waiting : callable, optional
        Called once, with the holder's pid (or ``"another process"``), when the lock
        is taken and this process has to wait for it.

    Examples
    --------
    >>> import tempfile
    >>> lock = Path(tempfile.mkdtemp()) / ".lock"
    >>> with hold(lock):
    ...     lock.read_text().strip() == str(os.getpid())
    True
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process")
            fcntl.flock(fd, fcntl.LOCK_EX)  # a signal (Ctrl-C) still interrupts the wait
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            # Cleared before the lock goes, so a waiter never names a finished process.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
