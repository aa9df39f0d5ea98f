"""A study on a Dask cluster: the same numbers, and faults that change nothing.

The cluster tests start real worker processes on localhost (``LocalCluster`` with
``processes=True``, and the command line's ``--workers``) on a budget of seconds.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from landscapes import results
from landscapes.app.compare import BUDGETS
from landscapes.app.executor import Distributed, _threaded, reassemble
from landscapes.app.settings import Runtime
from landscapes.app.study import Study
from landscapes.cluster import TaskError, open_cluster

pytestmark = pytest.mark.usefixtures("data_root")

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS = ["deep_linear", "mnist_mlp"]
ANALYSES = ["init_to_final", "from_iteration", "learning_curve", "trajectory"]
#: Training long enough (~190 iterations per run) to be killed in the middle.
BUDGET = BUDGETS["quick"].replace(replicates=2, epochs=0.4, eval_examples=200, points=7,
                                  zoom_points=7, max_starts=3, trajectory_points=4,
                                  splits="test")
FLAGS = ["--replicates", "2", "--epochs", "0.4", "--eval-examples", "200", "--points", "7",
         "--zoom-points", "7", "--max-starts", "3", "--trajectory-points", "4",
         "--splits", "test"]


def without_time(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without its creation time, the one attribute two runs never share."""
    out = ds.copy()
    out.attrs.pop("created", None)
    return out


def assert_same(got: dict[str, xr.Dataset], want: dict[str, xr.Dataset]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        xr.testing.assert_identical(without_time(got[name]), without_time(want[name]))


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    """A home per study, so that nothing is reused between them by accident."""
    root = tmp_path_factory.mktemp("homes")
    before = os.environ.get("LANDSCAPES_HOME")
    os.environ["LANDSCAPES_HOME"] = str(root / "workers")  # the workers' scratch
    yield root
    if before is None:
        os.environ.pop("LANDSCAPES_HOME", None)
    else:
        os.environ["LANDSCAPES_HOME"] = before


def study(home: Path, client=None, analyses=ANALYSES, threads: int | None = None) -> Study:
    os.environ["LANDSCAPES_HOME"] = str(home)
    runtime = Runtime(runs_dir=home / "runs", progress=False, threads=threads)
    return Study(SYSTEMS, analyses, BUDGET, runtime, client=client)


def test_two_workers_give_the_in_process_numbers_even_when_one_is_killed(homes):
    # One test, so that pytest-xdist computes the in-process reference once.
    # The workers' one thread: training's float32 sums depend on the count at rounding.
    reference = study(homes / "in-process", threads=1).run()
    os.environ["LANDSCAPES_HOME"] = str(homes / "workers")  # the workers' scratch
    with open_cluster(workers=2, quiet=True) as cluster:
        client = cluster.client
        # No shared disk: runs come back as files; paths go out in blocks of 8 points.
        executor = Distributed(client, share=False, block_points=8, progress=False)
        s = study(homes / "two-workers", executor).run()
        assert_same(s.tree(), reference.tree())
        assert s.table() == reference.table()
        assert executor.bar.total > 12  # trainings, and from_iteration in several blocks
        # Trained in the workers' own store ($LANDSCAPES_HOME when they started), then
        # copied into the client's.
        scratch = homes / "workers" / "scratch" / "runs"
        copied = list((homes / "two-workers" / "runs").glob("*/replicate_*"))
        assert len(copied) == 2
        for run in copied:
            twin = scratch / run.relative_to(homes / "two-workers" / "runs")
            assert (twin / "summary.json").read_bytes() == (run / "summary.json").read_bytes()

        # A worker killed while it trains (in the shared store this time): Dask reruns
        # the task elsewhere, and the run resumes or restarts to the same weights.
        killed = _kill_a_training_worker(client, study(homes / "killed", Distributed(
            client, progress=False)), reference)
        assert killed not in client.scheduler_info()["workers"]


def _kill_a_training_worker(client, s: Study, reference: Study) -> str:
    pids = client.run(os.getpid)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            s.run()
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    runner = threading.Thread(target=go)
    runner.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and runner.is_alive() and time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if address in pids and any(str(k).startswith("train-") for k in keys):
                os.kill(pids[address], signal.SIGKILL)  # no warning, mid-task
                killed = address
                break
        time.sleep(0.02)
    runner.join(300)
    assert not errors, errors
    assert killed is not None, "training finished before a worker could be killed"
    assert_same(s.tree(), reference.tree())
    return killed


def test_mlp_evaluation_does_not_depend_on_the_thread_count_and_training_is_keyed(tmp_path):
    # The engine gives LeNet-300-100's points the same bits with 1 and 2 threads, so
    # blocks evaluated anywhere agree; training does not (MKL splits the last layer's
    # weight gradient, a 10×100 product over the batch, by thread), so in-process runs
    # and workers agree only at one count, and the count is in every network's key.
    from experiments import data
    from experiments.config import experiment
    from experiments.train import train
    from landscapes import evaluate, paths
    from landscapes.app.systems import get_system
    from landscapes.devices import using_threads

    config = experiment("mnist_mlp", epochs=1, train_examples=1280)
    runs = {n: train(config, runs_dir=tmp_path / str(n), device="cpu", progress=False, threads=n)
            for n in (1, 2)}
    assert all(torch.allclose(runs[1].final[k], runs[2].final[k], rtol=0, atol=1e-6)
               for k in runs[1].final)
    x, y = data.load("mnist", "test")
    line = paths.linear(runs[1].init, runs[1].final, np.linspace(0, 1, 5))
    found = []
    for threads in (1, 2):
        with using_threads(threads):
            found.append(evaluate(runs[1].model(), line, (x[:2000], y[:2000]), device="cpu",
                                  progress=False).loss.values)
    np.testing.assert_array_equal(*found)

    system, budget = get_system("mnist_mlp"), BUDGET.replace(replicates=1)
    keys = {n: system.key(budget, Runtime(runs_dir=tmp_path / "keyed", progress=False,
                                          threads=n)) for n in (1, 2)}
    assert keys[1] != keys[2]
    assert json.loads(keys[2])["threads"] == 2


def test_a_bad_data_root_on_a_worker_is_one_line_naming_worker_and_file(homes, tmp_path, capfd):
    import logging

    from dask.distributed import Client, LocalCluster

    bad = tmp_path / "data"
    (bad / "mnist").mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (bad / "mnist" / name).write_bytes(b"not an IDX file")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      silence_logs=logging.ERROR, dashboard_address=None,
                      env={"LANDSCAPES_DATA": str(bad)}) as local, Client(local) as client:
        s = study(homes / "bad-data", client, analyses=["init_to_final"])
        with pytest.raises(TaskError) as caught:
            s.run()  # the client's own data are fine: only the worker's are damaged
        worker = next(iter(client.scheduler_info()["workers"]))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"on worker {worker} (")
    assert f"{bad / 'mnist'}" in message and "is not an IDX file" in message
    assert "Traceback" not in capfd.readouterr().err


def test_threads_report_the_error_that_stopped_the_study():
    stop = threading.Event()

    def fails() -> None:
        time.sleep(0.1)
        raise ValueError("the cause")

    def waits() -> None:
        from landscapes.cluster import result

        class Never:
            def add_done_callback(self, fn):
                pass

        result(Never(), stop)

    with pytest.raises(ValueError, match="the cause"):
        _threaded([waits, fails, waits], stop)
    assert stop.is_set()
    assert _threaded([lambda: 1, lambda: 2], threading.Event()) == [1, 2]


def test_blocks_reassemble_into_the_whole_path():
    from landscapes import evaluate, paths

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    a = {k: v.clone() for k, v in net.state_dict().items()}
    path = paths.from_iterations({0: a, 2: {k: v + 1 for k, v in a.items()}},
                                 {k: -v for k, v in a.items()}, np.linspace(0, 1, 4))
    data = {"test": (torch.randn(50, 6), torch.randint(0, 3, (50,)))}
    whole = evaluate(net, path, data, device="cpu", progress=False)
    parts = [evaluate(net, paths.take(path, i, i + 1), data, device="cpu", progress=False)
             for i in range(2)]
    xr.testing.assert_identical(without_time(reassemble(path, parts)), without_time(whole))


def _compare(home: Path, *extra: str, session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANDSCAPES_HOME": str(home)}
    args = [sys.executable, "-m", "landscapes.compare", *SYSTEMS, "--analyses",
            "init_to_final,from_iteration", *FLAGS, "--out", str(home / "out"), *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=session)


def test_ctrl_c_keeps_finished_runs_and_a_rerun_finishes_the_rest(homes):
    home = homes / "interrupted"
    first = _compare(home, "--workers", "1", session=True)
    summaries = str(home / "runs" / "*" / "replicate_*" / "summary.json")
    deadline = time.monotonic() + 180
    while not glob.glob(summaries) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    kept = {p: os.stat(p).st_mtime_ns for p in glob.glob(summaries)}
    assert kept, "no run finished"
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err

    again = _compare(home, "--workers", "1")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert {p: os.stat(p).st_mtime_ns for p in kept} == kept  # not trained again
    # The same numbers as this process computes from those runs.
    s = Study(SYSTEMS, ["init_to_final", "from_iteration"], BUDGET,
              Runtime(runs_dir=home / "runs", progress=False, threads=1), reuse=False).run()
    results.save(s.tree(), home / "here.nc")
    got = results.load_tree(home / "out" / "comparison.nc")
    want = results.load_tree(home / "here.nc")
    assert_same({k: got[k].to_dataset() for k in ("init_to_final", "from_iteration")},
                {k: want[k].to_dataset() for k in ("init_to_final", "from_iteration")})


def test_im2016_analyses_on_two_workers_give_the_in_process_numbers(homes):
    # Im et al.'s analyses train variants of a system (one per optimizer and switch) from
    # inside the analysis and evaluate with a reference network (functional distance):
    # both go through the executor as well.
    budget = BUDGETS["quick"].replace(replicates=1, epochs=2.0, train_examples=256,
                                      eval_examples=64, points=5, surface_points=3,
                                      trajectory_points=2, splits="test",
                                      optimizers=("sgd", "adam"), switches=("adam>sgd",))
    analyses = ["optimizers", "switching"]

    def im_study(home: Path, client=None) -> Study:
        os.environ["LANDSCAPES_HOME"] = str(home)
        # One thread, the workers': training's float32 sums depend on the count.
        runtime = Runtime(runs_dir=home / "runs", progress=False, threads=1)
        return Study(["fashion_mlp"], analyses, budget, runtime, client=client)

    reference = im_study(homes / "im-in-process").run()
    os.environ["LANDSCAPES_HOME"] = str(homes / "workers")
    with open_cluster(workers=2, quiet=True) as cluster:
        executor = Distributed(cluster.client, share=False, block_points=4, progress=False)
        s = im_study(homes / "im-two-workers", executor).run()
    assert_same(s.tree(), reference.tree())
    assert s.table() == reference.table()
    assert executor.bar.total > 4  # the variants' trainings and blocks of their paths


def test_point_measures_on_two_workers_give_the_in_process_numbers(data_root):
    # Point measures travel to the workers as an evaluation option; blocks of the plane
    # reassemble to the in-process dataset, seeded measures included (each point's seed
    # comes from its index in the whole plane, not in its block).
    from experiments import data
    from experiments.models import build
    from landscapes import evaluate, paths
    from landscapes.app.executor import EvaluationData, evaluate_on, fingerprint
    from landscapes.devices import using_threads
    from landscapes.engine.gradient_norm import GradientNorm, RandomSlopes

    torch.manual_seed(0)
    net = build("mnist_mlp").eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = data.load("mnist", "test", data_dir=data_root)
    splits = {"test": (x[:200], y[:200])}
    spec = EvaluationData("mnist", ("test",), 200, str(data_root), fingerprint(splits))
    plane = paths.plane(state, alphas=np.linspace(-1, 1, 5), betas=np.linspace(-1, 1, 3), seed=0)
    measures = [GradientNorm(), RandomSlopes(probes=2, seed=7)]
    with using_threads(1):  # the workers' count
        here = evaluate(net, plane, splits, device="cpu", progress=False, measures=measures)
    with open_cluster(workers=2, quiet=True) as cluster:
        there = evaluate_on(cluster.client, "mnist_mlp", state, plane, spec, threads=1,
                            block_points=4, device="cpu", measures=measures)
    assert {"loss", "gradient_norm", "slope"} <= set(here.data_vars)
    assert here.slope.dims == ("split", "alpha", "beta", "probe")
    xr.testing.assert_identical(without_time(there), without_time(here))
