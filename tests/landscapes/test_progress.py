"""Progress: a bar on a terminal, periodic integer-count lines otherwise, never a warning."""

from __future__ import annotations

import io
import re
import warnings

import pytest

from landscapes import progress as progress_module
from landscapes.progress import Progress


class Clock:
    """A fake monotonic clock advanced by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(total, seconds_per_unit, units=None, **kwargs):
    clock, out = Clock(), io.StringIO()
    with Progress(total, "work", unit="it", stream=out, clock=clock, **kwargs) as p:
        for _ in range(total if units is None else units):
            clock.now += seconds_per_unit
            p.advance()
    return out.getvalue().splitlines()


def test_without_a_terminal_a_line_every_tenth_then_the_end():
    lines = run(100, 1.0)
    assert len(lines) == 10
    counts = [int(re.match(r"work: (\d+)/100 it", line).group(1)) for line in lines]
    assert counts == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert "(50%)" in lines[4] and "left" in lines[4] and "1.0 it/s" in lines[4]
    assert lines[-1] == "work: 100/100 it done in 0:01:40"


def test_long_work_gets_a_line_every_minute_before_each_tenth():
    lines = run(1000, 1.0)  # a tenth takes 100 s: the minute comes first
    counts = [int(re.match(r"work: (\d+)/", line).group(1)) for line in lines]
    assert counts[:3] == [60, 100, 160]
    assert all(b > a for a, b in zip(counts, counts[1:])) and counts[-1] == 1000


def test_short_work_is_quiet_and_unknown_totals_count():
    assert run(100, 0.01) == []  # one second in all
    lines = run(None, 1.0, units=130)
    assert [line.split(",")[0] for line in lines] == ["work: 60 it", "work: 120 it", "work: 130 it done in 0:02:10"]


def test_a_total_that_grows_as_the_work_unfolds():
    clock, out = Clock(), io.StringIO()
    with Progress(0, "tasks", unit="task", stream=out, clock=clock) as p:
        for more in (10, 10):  # a graph whose second half is known once the first is done
            p.extend(more)
            for _ in range(more):
                clock.now += 1.0
                p.advance()
    lines = out.getvalue().splitlines()
    assert lines[-1] == "tasks: 20/20 task done in 0:00:20"
    assert all(int(re.match(r"tasks: (\d+)/", line).group(1)) <= 20 for line in lines)
    with pytest.raises(ValueError, match="known total"):
        Progress(None, "x", show=False).extend(1)
    bar = Progress(2, "x", stream=Terminal())
    bar.extend(3)
    assert bar.bar.total == 5
    bar.close()


def test_an_interrupted_count_says_where_it_stopped():
    lines = run(100, 1.0, units=42)
    assert lines[-1] == "work: stopped at 42/100 it after 0:00:42"
    clock, out = Clock(), io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with Progress(None, "work", stream=out, clock=clock) as p:
            clock.now = 30.0
            p.advance(7)
            raise KeyboardInterrupt
    assert out.getvalue() == "work: stopped at 7 it after 0:00:30\n"


def test_a_resumed_count_rates_only_the_new_units():
    lines = run(20, 2.0, units=10, initial=10)
    assert lines[0].startswith("work: 13/20 it (65%), 2.0 s/it")  # quiet for 5 s
    assert all("2.0 s/it" in line for line in lines[:-1])
    assert lines[-1] == "work: 20/20 it done in 0:00:20"


def test_counts_are_integers():
    p = Progress(10, "work", show=False)
    with pytest.raises(TypeError):
        p.advance(0.5)


@pytest.mark.parametrize("show, stream, shows_bar", [
    (None, Terminal(), True), (True, io.StringIO(), True), (None, io.StringIO(), False),
    (False, Terminal(), False),
])
def test_modes(show, stream, shows_bar):
    clock = Clock()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Progress(82, "work", show=show, stream=stream, clock=clock) as p:
            for _ in range(82):
                clock.now += 1.0
                p.advance()
            p.advance()  # one too many never clamps with a warning
    text = stream.getvalue()
    assert ("\r" in text) == shows_bar
    if show is False:
        assert text == ""
    else:
        assert "82/82" in text and not re.search(r"82\.0+\d", text)


def test_no_torch_in_the_progress_module():
    assert "torch" not in progress_module.__dict__
