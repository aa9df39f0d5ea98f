"""One process (or thread) at a time per run."""

from __future__ import annotations

import os
import threading
import time

from experiments.lock import hold


def test_a_second_holder_waits_once_naming_the_first(tmp_path):
    path = tmp_path / "run" / ".lock"
    told, order = [], []
    first_in, release = threading.Event(), threading.Event()

    def first():
        with hold(path):
            order.append("first in")
            first_in.set()
            release.wait(10)
            order.append("first out")

    def second():
        with hold(path, told.append):
            order.append("second in")

    a = threading.Thread(target=first)
    a.start()
    first_in.wait(10)
    b = threading.Thread(target=second)
    b.start()
    deadline = time.monotonic() + 10
    while not told and time.monotonic() < deadline:
        time.sleep(0.01)
    assert told == [str(os.getpid())] and order == ["first in"]
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["first in", "first out", "second in"]
    assert path.read_text() == ""  # no pid of a process that no longer holds it


def test_an_uncontended_lock_does_not_wait(tmp_path):
    told = []
    with hold(tmp_path / ".lock", told.append):
        pass
    with hold(tmp_path / ".lock", told.append):
        pass
    assert told == []
