"""Cluster plumbing without a cluster: failures in one line, threads, no Dask by default."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from landscapes import cluster
from landscapes.cluster import Failure, TaskBar, TaskError, remote, result, task_threads

ROOT = Path(__file__).resolve().parents[2]


def test_task_threads_are_one_per_task_on_a_cluster_unless_asked():
    assert task_threads(None, True) == 1
    assert task_threads(None, False) is None  # in-process: the process's own setting
    assert task_threads(3, True) == task_threads(3, False) == 3
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="threads must be"):
            task_threads(bad, True)


def test_a_user_error_on_a_worker_comes_back_as_one_line():
    def missing() -> None:
        raise FileNotFoundError("mnist train split not found: no train-images-idx3-ubyte in "
                                "'/nowhere/mnist'.\nDownload failed from every mirror:\n  http://x"
                                "\nTo fix: place train-images-idx3-ubyte in '/nowhere/mnist'.")

    failure = remote(missing, threads=None)
    assert isinstance(failure, Failure) and failure.kind == "FileNotFoundError"
    line = failure.line()
    assert "\n" not in line and line.startswith("on worker ")
    assert "train-images-idx3-ubyte in '/nowhere/mnist'" in line and "To fix:" in line
    assert "mirror" not in line


def test_a_bug_on_a_worker_still_raises():
    def bug() -> None:
        raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        remote(bug, threads=None)


def test_a_task_runs_with_the_threads_it_asks_for():
    before = torch.get_num_threads()
    try:
        assert remote(torch.get_num_threads, threads=1) == 1
        assert remote(torch.get_num_threads, threads=2) == 2
    finally:
        torch.set_num_threads(before)


class _Done:
    """A finished future, as Dask's look to :func:`result`."""

    def __init__(self, value):
        self.value = value

    def add_done_callback(self, fn):
        fn(self)

    def result(self):
        return self.value


def test_result_raises_a_failure_as_a_value_error():
    failure = Failure("tcp://10.0.0.7:4000", "node7", "ValueError", "bad thing")
    with pytest.raises(TaskError, match=r"^on worker tcp://10.0.0.7:4000 \(node7\): bad thing$"):
        result(_Done(failure))
    assert isinstance(TaskError(failure), ValueError)  # the commands' one-line errors
    assert result(_Done(42), threading.Event()) == 42


def test_result_gives_up_when_the_study_stops():
    from concurrent.futures import CancelledError

    class Never:
        def add_done_callback(self, fn):
            pass

    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        result(Never(), stop)


def test_the_bar_counts_a_growing_graph(capsys):
    bar = TaskBar(show=True, desc="tasks")  # a bar even without a terminal
    bar.add(2)
    bar.advance()
    bar.add(3)
    bar.advance(4)
    assert (bar.done, bar.total) == (5, 5)
    bar.close()
    assert "5/5" in capsys.readouterr().err
    quiet = TaskBar(show=False)
    quiet.add()
    quiet.advance()
    quiet.close()
    assert capsys.readouterr().err == ""


def test_worker_device_needs_every_worker_to_agree():
    assert cluster.worker_device("auto", {"a": {"cuda": 2}, "b": {"cuda": 1}}) == "cuda"
    assert cluster.worker_device("cpu", {"a": {"cuda": 2}}) == "cpu"
    with pytest.raises(ValueError, match="worker b has no GPU"):
        cluster.worker_device("cuda", {"a": {"cuda": 1}, "b": {"cuda": 0}})


def test_open_cluster_refuses_bad_requests(monkeypatch):
    with pytest.raises(ValueError, match="not both"):
        with cluster.open_cluster(2, "tcp://127.0.0.1:8786"):
            pass
    with pytest.raises(ValueError, match="at least 1"):
        with cluster.open_cluster(0):
            pass
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    with pytest.raises(ValueError, match="cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'"):
        with cluster.open_cluster(scheduler="tcp://127.0.0.1:9"):
            pass


def test_the_default_path_never_imports_dask(tmp_path, data_root):
    # python -m landscapes.compare without --workers or --scheduler: no cluster, and no
    # module of ours imports Dask. (xarray itself imports dask and distributed when they
    # are installed, to look for a scheduler when it writes netCDF: that is not ours.)
    code = (
        "import builtins, sys\n"
        "ours = ('landscapes', 'experiments', 'theory')\n"
        "found = []\n"
        "plain = builtins.__import__\n"
        "def watch(name, globals=None, locals=None, fromlist=(), level=0):\n"
        "    importer = (globals or {}).get('__name__', '')\n"
        "    if level == 0 and name.split('.')[0] in ('dask', 'distributed') \\\n"
        "            and importer.split('.')[0] in ours:\n"
        "        found.append((importer, name))\n"
        "    return plain(name, globals, locals, fromlist, level)\n"
        "builtins.__import__ = watch\n"
        "from landscapes.app.compare import main\n"
        "rc = main(['deep_linear', 'mnist_mlp', '--analyses', 'init_to_final',\n"
        "           '--replicates', '1', '--epochs', '0.02', '--eval-examples', '100',\n"
        "           '--points', '5', '--quiet', '--out', sys.argv[1]])\n"
        "assert rc == 0 and not found, (rc, found)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANDSCAPES_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "comparison.nc").exists()


def _listening(pids: list[int]) -> set[tuple[int, str, int]]:
    import psutil

    found = set()
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            conns = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") else proc.connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found |= {(pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return found


def test_a_local_cluster_listens_on_loopback_only():
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    me = os.getpid()
    before = _listening([me])
    with cluster.open_cluster(1, quiet=True) as opened:
        pids = [me, *(p.pid for p in psutil.Process(me).children(recursive=True))]
        new = _listening(pids) - before
        link = opened.client.dashboard_link
    assert any(pid != me for pid, _, _ in new), new  # the worker's (and nanny's) own listeners
    assert any(pid == me for pid, _, _ in new), new  # the scheduler's, in this process
    everywhere = sorted(s for s in new if s[1] in ("0.0.0.0", "::", ""))
    assert not everywhere, f"listening on every interface: {everywhere}"
    assert all(ip.startswith("127.") or ip == "::1" for _, ip, _ in new), new
    if cluster._has_bokeh():
        assert "127.0.0.1" in link
        assert any(str(port) in link for pid, _, port in new if pid == me)


def test_open_cluster_refuses_an_empty_host():
    with pytest.raises(ValueError, match=r"host must be an address to listen on.*got ''"):
        with cluster.open_cluster(1, host=""):
            pass
