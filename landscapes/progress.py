"""Progress of long work: a bar on a terminal, a plain periodic line otherwise.

Training and evaluation both count whole units (iterations, batches) with one
:class:`Progress`. On a terminal it draws a tqdm bar. Without one (a log file, a batch
job, a notebook's captured stderr) a bar would print nothing useful or a wall of
carriage returns, so it writes a line to stderr when another tenth of the work is done
or a minute has passed, whichever comes first, and one at the end; work that finishes
within a few seconds stays quiet. Counts are integers, so a bar never ends on
``82.00000000000001/82`` and tqdm never warns about clamping.
"""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress"]

#: Without a terminal, a line each time another tenth of the total is done ...
LINE_TENTHS = 1
#: ... or this many seconds after the last line, whichever comes first ...
LINE_SECONDS = 60.0
#: ... but never sooner than this after the start or the last line: short work is quiet.
QUIET_SECONDS = 5.0


class Progress:
    """Count done units of long work and show them.

    Parameters
    ----------
    total : int or None
        Units in the whole work; None when unknown (lines then show counts and rate).
    desc : str
        What is being done, shown first on the bar or line.
    unit : str
        Name of one unit, e.g. ``"it"`` or ``"batch"``.
    initial : int
        Units already done (a resumed run); rates count only the units done here.
    show : bool or None
        None: a bar when ``stream`` is a terminal, else periodic lines; True: a bar;
        False: nothing.
    stream : file-like, optional
        Where to write; default ``sys.stderr`` at construction.
    clock : callable, optional
        Seconds, monotonic; default :func:`time.monotonic` (tests pass a fake one).

    Examples
    --------
    >>> import io
    >>> seconds = iter([0, 20, 40, 60, 80, 100]).__next__  # a clock that ticks 20 s a call
    >>> out = io.StringIO()
    >>> with Progress(4, "demo", unit="step", stream=out, clock=seconds) as progress:
    ...     for _ in range(4):
    ...         progress.advance()
    >>> print(out.getvalue(), end="")
    demo: 1/4 step (25%), 20.0 s/step, 0:00:20 elapsed, ~0:01:00 left
    demo: 2/4 step (50%), 20.0 s/step, 0:00:40 elapsed, ~0:00:40 left
    demo: 3/4 step (75%), 20.0 s/step, 0:01:00 elapsed, ~0:00:20 left
    demo: 4/4 step done in 0:01:40
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "it",
        initial: int = 0,
        show: bool | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if total is not None and operator.index(total) < 0:
            raise ValueError(f"total must be ≥ 0 or None, got {total!r}")
        self.total = None if total is None else operator.index(total)
        self.desc, self.unit = desc, unit
        self.done = self.initial = operator.index(initial)
        self.stream = sys.stderr if stream is None else stream
        self.clock = time.monotonic if clock is None else clock
        self.text = ""
        if show is None:
            self.mode = "bar" if _is_terminal(self.stream) else "lines"
        else:
            self.mode = "bar" if show else "off"
        self.start = self.last = self.clock() if self.mode == "lines" else 0.0
        self.tenth = self._tenth()
        self.lines = 0
        self.closed = False
        self.bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm  # the plain one: tqdm.auto may warn in a notebook

            self.bar = tqdm(total=self.total, initial=self.done, desc=desc, unit=unit,
                            file=self.stream, dynamic_ncols=True)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done (an integer: no float drift)."""
        n = operator.index(n)
        self.done += n
        if self.bar is not None:
            room = n if self.total is None else max(0, min(n, self.total - self.bar.n))
            if room:
                self.bar.update(room)
        elif self.mode == "lines":
            now = self.clock()
            tenth = self._tenth()
            due = tenth >= self.tenth + LINE_TENTHS or now - self.last >= LINE_SECONDS
            unfinished = self.total is None or self.done < self.total  # close() says the end
            if due and unfinished and now - self.last >= QUIET_SECONDS:
                self._line(now, final=False)
                self.tenth = tenth

    def extend(self, n: int) -> None:
        """``n`` more units to do: the total of work that unfolds as it runs grows.

        (A task graph whose later tasks are known only once earlier ones finish.)
        """
        n = operator.index(n)
        if self.total is None or n < 0:
            raise ValueError(f"can only add units (n >= 0) to a known total, got {n!r}")
        self.total += n
        self.tenth = self._tenth()
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def note(self, text: str) -> None:
        """A short status shown after the counts, e.g. ``"loss 0.1234"``."""
        self.text = text
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def close(self, failed: bool = False) -> None:
        """Finish the bar, or write the last line (unless the work was short and quiet).

        ``failed``: the work stopped early (an exception); the line then says where.
        """
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "lines":
            now = self.clock()
            if self.lines or now - self.start >= QUIET_SECONDS:
                self._line(now, final=True, failed=failed)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(failed=kind is not None)

    def _tenth(self) -> int:
        if not self.total:
            return 0
        return min(self.done, self.total) * 10 // self.total

    def _line(self, now: float, final: bool, failed: bool = False) -> None:
        elapsed = now - self.start
        count = f"{self.done}" if self.total is None else f"{min(self.done, self.total)}/{self.total}"
        finished = not failed and (self.total is None or self.done >= self.total)
        if final and finished:
            parts = [f"{self.desc}: {count} {self.unit} done in {_clock_time(elapsed)}"]
        elif final:
            parts = [f"{self.desc}: stopped at {count} {self.unit} after {_clock_time(elapsed)}"]
        else:
            share = "" if self.total is None else f" ({100 * self.done // max(self.total, 1)}%)"
            parts = [f"{self.desc}: {count} {self.unit}{share}"]
            rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
            if rate > 0:
                parts.append(f"{rate:.1f} {self.unit}/s" if rate >= 1 else f"{1 / rate:.1f} s/{self.unit}")
            parts.append(f"{_clock_time(elapsed)} elapsed")
            if rate > 0 and self.total is not None:
                parts.append(f"~{_clock_time((self.total - self.done) / rate)} left")
        if self.text:
            parts.append(self.text)
        print(", ".join(parts), file=self.stream, flush=True)
        self.lines += 1
        self.last = now


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _clock_time(seconds: float) -> str:
    """``H:MM:SS``, like tqdm."""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
