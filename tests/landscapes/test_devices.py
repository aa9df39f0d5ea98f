"""Device and thread choice."""

from __future__ import annotations

import pytest
import torch

from landscapes import devices
from landscapes.devices import resolve_threads, using_threads


@pytest.mark.parametrize("cpus, quota, busy, expected", [
    (2, None, 0.0, 2),     # idle 2-core machine: both cores
    (2, None, 0.2, 2),     # a shell and daemons do not take a core
    (2, None, 0.9, 1),     # one other busy process: one thread
    (2, None, 2.0, 1),     # saturated: still one, never zero
    (2, None, None, 2),    # load unknown: taken as idle
    (1, None, 0.0, 1),     # affinity to one CPU
    (16, None, 3.4, 12),
    (16, 4.0, 0.0, 4),     # a cgroup quota of 4 cores caps an idle 16-core machine
    (16, 1.5, 0.0, 1),     # a fractional quota rounds down (threads beyond it are throttled)
    (16, 0.5, 0.0, 1),
    (16, 8.0, 12.0, 4),    # busy cores count before the quota
])
def test_the_default_is_the_free_cores_capped_by_the_quota(cpus, quota, busy, expected):
    assert devices.decide_threads(cpus, quota, busy) == expected


def fake_machine(monkeypatch, cpus, busy, load=0.5):
    """This process on ``cpus`` CPUs with ``busy`` cores used by others; a fresh read."""
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: set(range(cpus)),
                        raising=False)
    monkeypatch.setattr(devices, "busy_cpus", lambda cpus, seconds=0.2: busy)
    monkeypatch.setattr(devices, "cgroup_quota", lambda: None)
    monkeypatch.setattr(devices.os, "getloadavg", lambda: (load, load, load))
    devices._machine.cache_clear()


@pytest.fixture(autouse=True)
def fresh_machine():
    devices._machine.cache_clear()
    yield
    devices._machine.cache_clear()  # the next test's process reads the real machine


@pytest.mark.parametrize("busy, expected", [(0.05, 2), (1.1, 1)])
def test_the_choice_records_what_it_was_decided_from(monkeypatch, busy, expected):
    fake_machine(monkeypatch, 2, busy, load=2.5)
    with using_threads(2):
        choice = devices.thread_choice()
    assert choice.threads == expected and choice.source == "default"
    record = choice.to_dict()
    assert record["cpus"] == 2 and record["busy"] == busy and record["load"] == 2.5
    assert f"{busy:.2f} of them busy" in record["reason"] and "2 CPUs" in record["reason"]


def test_the_machine_is_read_once_per_process(monkeypatch):
    reads = []
    fake_machine(monkeypatch, 2, 0.0)
    monkeypatch.setattr(devices, "busy_cpus", lambda cpus, seconds=0.2: reads.append(1) or 0.0)
    with using_threads(2):
        first = resolve_threads()
        monkeypatch.setattr(devices, "busy_cpus", lambda cpus, seconds=0.2: 2.0)
        assert resolve_threads() == first == 2  # one count, and one cache key, per process
    assert len(reads) == 1


def test_without_proc_stat_the_load_average_decides(monkeypatch):
    fake_machine(monkeypatch, 2, None, load=1.7)
    with using_threads(2):
        assert devices.thread_choice().threads == 1


def test_the_process_setting_caps_the_default_and_a_request_is_taken_as_is(monkeypatch):
    fake_machine(monkeypatch, 16, 0.0)
    with using_threads(4):  # OMP_NUM_THREADS=4, or torch.set_num_threads(4)
        choice = devices.thread_choice()
        assert choice.threads == 4 and choice.process == 4 and "the process set 4" in choice.reason
        assert resolve_threads(3) == 3 and resolve_threads(32) == 32
        assert devices.thread_choice(3).to_dict() == {
            "threads": 3, "source": "requested", "cpus": None, "quota": None, "busy": None,
            "load": None, "process": None, "reason": "3 threads: asked for"}


def test_cpu_use_is_read_from_proc_stat_per_cpu():
    before = devices.parse_proc_stat("cpu  1 1 1 1 1 1 1 1 0 0\n"
                                     "cpu0 10 0 0 90 0 0 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0 0 0\n"
                                     "intr 5 6\n")
    assert before == {0: (100, 90), 1: (100, 100)}


def test_busy_cpus_counts_only_the_cpus_this_process_may_use(monkeypatch):
    snapshots = iter([{0: (100, 90), 1: (100, 100)}, {0: (200, 100), 1: (200, 110)}])
    monkeypatch.setattr(devices, "_cpu_times", lambda: next(snapshots))
    monkeypatch.setattr(devices.time, "sleep", lambda s: None)
    assert devices.busy_cpus([0, 1]) == pytest.approx(1.8)  # 0.9 + 0.9
    snapshots = iter([{0: (100, 90), 1: (100, 100)}, {0: (200, 100), 1: (200, 200)}])
    assert devices.busy_cpus([1]) == 0.0
    monkeypatch.setattr(devices, "_cpu_times", lambda: None)
    assert devices.busy_cpus([0]) is None


def test_cgroup_quotas_v2_and_v1_the_tightest_on_the_path(tmp_path):
    assert devices.parse_cpu_max("max 100000") is None
    assert devices.parse_cpu_max("250000 100000") == 2.5
    v2 = tmp_path / "v2"
    (v2 / "user" / "job").mkdir(parents=True)
    (v2 / "cpu.max").write_text("max 100000\n")
    (v2 / "user" / "cpu.max").write_text("300000 100000\n")
    (v2 / "user" / "job" / "cpu.max").write_text("max 100000\n")
    member = tmp_path / "cgroup"
    member.write_text("0::/user/job\n")
    assert devices.cgroup_quota(v2, member) == 3.0  # the parent's quota binds the job
    v1 = tmp_path / "v1"
    (v1 / "cpu,cpuacct" / "box").mkdir(parents=True)
    (v1 / "cpu,cpuacct" / "box" / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu,cpuacct" / "box" / "cpu.cfs_period_us").write_text("100000\n")
    member.write_text("4:memory:/box\n2:cpu,cpuacct:/box\n0::/\n")
    assert devices.cgroup_quota(v1, member) == 1.5
    (v1 / "cpu,cpuacct" / "box" / "cpu.cfs_quota_us").write_text("-1\n")
    assert devices.cgroup_quota(v1, member) is None
    assert devices.cgroup_quota(tmp_path / "absent", tmp_path / "absent-too") is None


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
