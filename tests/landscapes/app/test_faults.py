"""The fault suite for analyses and the compare command (issue 13).

kill -9 and Ctrl-C during an analysis and during a write, damaged cache and output
files, a full or read-only output folder, two processes running the same compare. Each
case asserts what survives (results equal to an uninterrupted run's, earlier outputs
untouched, finished analyses not recomputed) and what the user sees (one line, no
traceback), and records its outcome with ``record_fault`` for the docs' table. Kills
and interrupts are real signals a child sends itself at a chosen point (patched in by
:data:`DRIVER`); the networks are trained once for the module and shared.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landscapes import results
from landscapes.app import compare

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("data_root")]

ROOT = Path(__file__).resolve().parents[3]
TABLE = "analyses"
#: Two analyses of a closed form and a tiny LeNet: 4 evaluate calls per analysis.
ARGS = ["deep_linear", "mnist_mlp", "--analyses", "init_to_final,from_iteration",
        "--epochs", "0.05", "--eval-examples", "200", "--points", "5", "--max-starts", "3",
        "--replicates", "2", "--quiet", "--device", "cpu", "--threads", "1"]

#: Run in a child: patch in the fault ``spec`` describes, then the compare command.
DRIVER = r"""
import json, os, signal, sys, time
from pathlib import Path

spec = json.loads(sys.argv[1])
from landscapes import results
from landscapes.app import compare, systems

fault = spec.get("fault")
signum = signal.SIGKILL if spec.get("signal") == "kill" else signal.SIGINT
if fault == "evaluate":
    calls = {"n": 0}
    original = systems.NetworkReplicates.evaluate

    def evaluate(self, path, analysis, r, **options):
        if analysis == spec["analysis"]:
            calls["n"] += 1
            if calls["n"] == spec["nth"]:
                os.kill(os.getpid(), signum)
        return original(self, path, analysis, r, **options)

    systems.NetworkReplicates.evaluate = evaluate
elif fault == "write":
    original_write = results.atomic_write

    def atomic_write(path, write):
        if Path(path).name == spec["file"]:
            def half(tmp):
                write(tmp)
                os.truncate(tmp, os.path.getsize(tmp) // 2)
                os.kill(os.getpid(), signum)
            return original_write(path, half)
        return original_write(path, write)

    results.atomic_write = atomic_write
elif fault == "slow":
    original_run = compare.run

    def slow(*args, **kwargs):
        Path(spec["marker"]).write_text("started")
        time.sleep(spec["seconds"])
        return original_run(*args, **kwargs)

    compare.run = slow
if spec.get("count"):
    original_analyze = systems.NetworkSystem.analyze

    def counted(self, analysis, budget, runtime):
        with open(spec["count"], "a") as fh:
            fh.write(analysis.name + "\n")
        return original_analyze(self, analysis, budget, runtime)

    systems.NetworkSystem.analyze = counted
sys.exit(compare.main(spec["args"]))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root):
    """The tiny networks trained once, and one uninterrupted compare: its run store, its
    analysis cache, its output folder and its results. Faults here are about analyses
    and outputs, so every case shares the runs and copies the rest when it needs them."""
    folder = tmp_path_factory.mktemp("runs")
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("reference") / "out"
    env = {**os.environ, "LANDSCAPES_HOME": str(home), "LANDSCAPES_DATA": str(data_root)}
    code = subprocess.run([sys.executable, "-m", "landscapes.compare", *ARGS, "--runs-dir",
                           str(folder), "--out", str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert code.returncode == 0, code.stderr
    return folder, results.load_tree(out / "comparison.nc"), home, out


def finished(tmp_path: Path, runs) -> Path:
    """A copy of the uninterrupted compare's cache and outputs; returns its --out."""
    import shutil

    shutil.copytree(runs[2], tmp_path / "home")
    shutil.copytree(runs[3], tmp_path / "out")
    return tmp_path / "out"


@pytest.fixture
def child(tmp_path, runs, data_root):
    """Start a compare child with a fault; children still running at the end are killed."""
    started: list[subprocess.Popen] = []

    def start(out: Path, **spec) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LANDSCAPES_HOME": str(tmp_path / "home"),
               "LANDSCAPES_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
        spec["args"] = [*ARGS, "--runs-dir", str(runs[0]), "--out", str(out)]
        process = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(spec)], env=env,
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def same_results(tree, reference) -> bool:
    """Every number of every analysis equal to the reference's (provenance times aside)."""
    return set(tree.children) == set(reference.children) and all(
        tree[name].to_dataset().equals(reference[name].to_dataset()) for name in tree.children)


def cached(tmp_path: Path) -> dict[str, float]:
    folder = tmp_path / "home" / "analyses"
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.nc")}


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


@pytest.mark.parametrize("signal_name", ["kill", "sigint"])
def test_interrupted_analysis_then_rerun_gives_the_same_results(tmp_path, runs, child,
                                                                signal_name, record_fault):
    out = tmp_path / "out"
    # Interrupted in the second evaluation of from_iteration: init_to_final of both systems
    # and from_iteration of the closed form are finished and cached by then.
    code, err = finish(child(out, fault="evaluate", analysis="from_iteration", nth=2,
                             signal=signal_name))
    if signal_name == "kill":
        assert code == -signal.SIGKILL
    else:
        assert code == 130 and err.strip().splitlines()[-1].startswith("interrupted:")
        assert "Traceback" not in err
    before = cached(tmp_path)
    assert any(k.startswith("mnist_mlp/init_to_final") for k in before)
    count = tmp_path / "count"
    code, err = finish(child(out, count=str(count)))
    assert code == 0, err
    assert count.read_text().split() == ["from_iteration"]  # only what was unfinished
    assert all(cached(tmp_path)[k] == t for k, t in before.items())
    assert same_results(results.load_tree(out / "comparison.nc"), runs[1])
    assert temp_files(tmp_path) == []
    record_fault(TABLE, "kill -9" if signal_name == "kill" else "Ctrl-C (SIGINT)",
                 "during an analysis (from_iteration, 2nd evaluation)",
                 "exit -9, no traceback" if signal_name == "kill"
                 else "exit 130: 'interrupted: finished analyses ... are kept'",
                 "the 3 finished analyses in the cache, untouched",
                 "rerun computes only from_iteration of mnist_mlp; every number equal to an "
                 "uninterrupted run")


@pytest.mark.parametrize("signal_name", ["kill", "sigint"])
def test_interrupted_write_leaves_the_earlier_output_whole(tmp_path, runs, child, signal_name,
                                                           record_fault):
    out = finished(tmp_path, runs)
    earlier = (out / "comparison.nc").read_bytes()
    code, err = finish(child(out, fault="write", file="comparison.nc", signal=signal_name))
    assert code == (-signal.SIGKILL if signal_name == "kill" else 130)
    assert (out / "comparison.nc").read_bytes() == earlier
    if signal_name == "sigint":
        assert temp_files(out) == [] and "Traceback" not in err
    code, err = finish(child(out))
    assert code == 0 and same_results(results.load_tree(out / "comparison.nc"), runs[1])
    record_fault(TABLE, "kill -9" if signal_name == "kill" else "Ctrl-C (SIGINT)",
                 "writing comparison.nc (half written)",
                 "exit -9" if signal_name == "kill" else "exit 130, temp file removed",
                 "the earlier comparison.nc, byte for byte",
                 "rerun writes the same results")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_cached_analysis_is_recomputed_and_said(tmp_path, runs, child, damage,
                                                          record_fault):
    out = finished(tmp_path, runs)
    folder = tmp_path / "home" / "analyses" / "mnist_mlp"
    target = next(folder.glob("init_to_final-*.nc"))
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00garbage" * 64)
    count = tmp_path / "count"
    process = child(out, count=str(count))
    code, err = finish(process)
    assert code == 0 and count.read_text().split() == ["init_to_final"]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: cached {target} is unreadable")
    assert same_results(results.load_tree(out / "comparison.nc"), runs[1])
    record_fault(TABLE, f"{damage} file", "a cached analysis (init_to_final of mnist_mlp)",
                 "recomputed; one line on stderr names the file",
                 "every other cached analysis", "results equal to an undamaged run")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_output_file_is_rewritten(tmp_path, runs, child, damage, record_fault):
    out = finished(tmp_path, runs)
    target = out / "comparison.nc"
    data = target.read_bytes()
    target.write_bytes(data[:100] if damage == "truncated" else b"garbage")
    code, err = finish(child(out, count=str(tmp_path / "count")))
    assert code == 0 and not (tmp_path / "count").exists()  # nothing recomputed
    assert same_results(results.load_tree(target), runs[1])
    record_fault(TABLE, f"{damage} file", "the output comparison.nc",
                 "the same command rewrites it from the cache", "the cached analyses",
                 "results equal to an undamaged run, nothing recomputed")


def test_a_full_disk_is_one_line_and_keeps_the_earlier_output(tmp_path, runs, data_root,
                                                              monkeypatch, capsys,
                                                              record_fault):
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    argv = [*ARGS, "--runs-dir", str(runs[0]), "--out", str(out), "--data-dir", str(data_root)]
    assert compare.main(argv) == 0
    earlier = (out / "summary.csv").read_bytes()
    original = results.atomic_write

    def full(path, write):
        if Path(path).name == "comparison.png":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, write)

    monkeypatch.setattr(results, "atomic_write", full)
    capsys.readouterr()
    assert compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: cannot write {out / 'comparison.png'}: No space left on "
                           "device; free some space or choose another --out")
    assert (out / "summary.csv").read_bytes() == earlier
    record_fault(TABLE, "full disk (ENOSPC)", "writing the figure comparison.png",
                 "exit 2, one line naming the file and the fix",
                 "summary.csv of the earlier run; the analyses in the cache",
                 "no traceback; earlier outputs byte for byte")


def test_a_read_only_output_folder_fails_before_any_work(tmp_path, monkeypatch, capsys,
                                                         record_fault):
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        compare.main(["deep_linear", "mnist_mlp", "--out", str(tmp_path / "ro"), "--quiet"])
    assert exc.value.code == 2 and time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert "is not a writable folder (Permission denied)" in err and "Traceback" not in err
    record_fault(TABLE, "read-only folder", "--out", "exit 2 before any training or analysis",
                 "nothing was started", "one line naming the folder")


def test_two_processes_running_the_same_compare_take_turns(tmp_path, runs, child,
                                                           record_fault):
    out = tmp_path / "out"
    marker = tmp_path / "started"
    count = tmp_path / "count"
    first = child(out, fault="slow", seconds=4, marker=str(marker), count=str(count))
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    second = child(out, count=str(count))
    code_1, err_1 = finish(first)
    code_2, err_2 = finish(second)
    assert code_1 == 0 and code_2 == 0, (err_1, err_2)
    # The second waited for the first's lock and found its analyses in the cache: each
    # was computed once (without the lock both would have computed all of them).
    assert sorted(count.read_text().split()) == ["from_iteration", "init_to_final"]
    assert same_results(results.load_tree(out / "comparison.nc"), runs[1])
    record_fault(TABLE, "two processes", "the same compare, same --out",
                 "the second waits for the first (and says so unless --quiet), then reads "
                 "the first's analyses", "one set of outputs",
                 "each analysis computed once; results equal to a single run")


COMMITTED = ROOT / "docs" / "reliability" / "faults_analyses.csv"


def test_the_committed_table_lists_exactly_the_cases_of_this_suite():
    # The docs render docs/reliability/faults_analyses.csv; regenerate it with
    # LANDSCAPES_RELIABILITY_OUT=docs/reliability python -m pytest -m faults tests
    import csv

    signals = ("kill -9", "Ctrl-C (SIGINT)")
    expected = {(s, "during an analysis (from_iteration, 2nd evaluation)") for s in signals}
    expected |= {(s, "writing comparison.nc (half written)") for s in signals}
    for damage in ("truncated", "garbage"):
        expected |= {(f"{damage} file", "a cached analysis (init_to_final of mnist_mlp)"),
                     (f"{damage} file", "the output comparison.nc")}
    expected |= {("full disk (ENOSPC)", "writing the figure comparison.png"),
                 ("read-only folder", "--out"),
                 ("two processes", "the same compare, same --out")}
    with open(COMMITTED, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["fault"], r["where injected"]) for r in rows} == expected
    assert len(rows) == len(expected) and all(all(r.values()) for r in rows)
