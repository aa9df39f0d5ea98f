"""Output folders that are checked before any work and never silently replaced.

Every command writes a ``manifest.json`` beside its results: what was asked for
(systems, analyses or figures, the budget). A folder that holds a different request is
refused with one line saying so, instead of having some of its files replaced; the
same request may overwrite (it reproduces the same numbers). Every folder a command
will write to -- its output, the run store, the analysis cache -- is checked for
writability at the start, so a wrong path fails in a second, not after an hour.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from landscapes import results

__all__ = ["MANIFEST", "check_writable", "claim", "tag", "working_in"]

#: The file that records what a folder's results are.
MANIFEST = "manifest.json"


def check_writable(folder: str | os.PathLike, what: str) -> Path:
    """Create ``folder`` if needed and prove a file can be written in it.

    Raises
    ------
    ValueError
        ``<what> <folder> is not a writable folder (<reason>); ...`` -- a path that is
        a file, a read-only folder, a full disk.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "file"
    >>> _ = f.write_text("x")
    >>> check_writable(f / "out", "--out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --out .../file/out is not a writable folder (...); choose another one
    """
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"{what} {path} is not a writable folder ({reason}); choose another "
                         "one") from None
    return path


def tag(base: str, changes: dict[str, Any]) -> str:
    """A folder name: ``base`` alone, or with a hash of what differs from its defaults.

    Examples
    --------
    >>> tag("quick", {})
    'quick'
    >>> tag("quick", {"points": 11}) == tag("quick", {"points": 11}) != tag("quick", {})
    True
    """
    if not changes:
        return base
    text = json.dumps(changes, sort_keys=True, default=str)
    return f"{base}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def claim(folder: Path, request: dict[str, Any], what: str = "--out") -> None:
    """Make ``folder`` hold ``request``'s results, refusing one that holds another's.

    Raises
    ------
    ValueError
        When ``folder`` already has a manifest of a different request.
    """
    target = Path(folder) / MANIFEST
    wanted = json.loads(json.dumps(request, sort_keys=True, default=str))
    if target.exists():
        try:
            found = json.loads(target.read_text())
        except (OSError, ValueError):
            found = None
        if found != wanted:
            differs = sorted(k for k in set(wanted) | set(found or {})
                             if (found or {}).get(k) != wanted.get(k))
            raise ValueError(f"{what} {folder} holds results of a different request "
                             f"(differs in {differs}); choose another folder or remove it")
    text = json.dumps(wanted, indent=2, sort_keys=True) + "\n"
    results.atomic_write(target, lambda tmp: Path(tmp).write_text(text))


T = TypeVar("T")


def working_in(out: Path, work: Callable[[], T], quiet: bool = False) -> tuple[int, T | None]:
    """Run ``work`` while holding ``out``'s lock; failures become one line and a status.

    Two commands writing one folder take turns: the second waits (saying for whom),
    then finds the first one's analyses in the cache. A user error (missing data, a bad
    value found late) and a failed write (a full disk) print one ``error:`` line and
    return 2; Ctrl-C returns 130 after saying what is kept.

    Returns
    -------
    (int, object)
        The exit status and what ``work`` returned (None unless the status is 0).
    """
    from experiments.lock import hold

    def waiting(holder: str) -> None:
        if not quiet:
            print(f"waiting: process {holder} is writing {out}", file=sys.stderr, flush=True)

    try:
        with hold(Path(out) / ".lock", waiting=waiting):
            return 0, work()
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        where = exc.filename or out
        print(f"error: cannot write {where}: {exc.strerror or exc}; free some space or choose "
              "another --out", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: finished analyses and training checkpoints are kept; the same "
              "command continues from them", file=sys.stderr)
        return 130, None
    return 2, None
