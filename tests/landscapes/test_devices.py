"""Device and thread choice."""

from __future__ import annotations

import pytest
import torch

from landscapes import devices
from landscapes.devices import resolve_threads, using_threads


@pytest.mark.parametrize("cpus, torch_threads, expected", [
    (2, 2, 1), (1, 1, 1), (16, 16, 15), (16, 4, 4), (8, 1, 1)])
def test_default_threads_leave_a_cpu_free_and_respect_the_process_setting(
        monkeypatch, cpus, torch_threads, expected):
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: set(range(cpus)),
                        raising=False)
    with using_threads(torch_threads):
        assert resolve_threads(None) == expected
        assert resolve_threads(3) == 3  # an explicit request is taken as is


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="threads must be an integer ≥ 1"):
        resolve_threads(bad)


def test_using_threads_restores_the_count():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with using_threads(1):
            raise RuntimeError
    assert torch.get_num_threads() == before
