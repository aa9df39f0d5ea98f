"""The fault suite for training (issue 13): kills, Ctrl-C, damaged files, a full or
read-only run folder, two processes training one run.

Every case asserts what survives (the final weights, bit for bit, against an
uninterrupted run) and what the user sees (one line naming the file and the fix, never
a traceback), and records its outcome with ``record_fault`` for the docs' table.
Kills are real ``SIGKILL``s of a child process, sent by the child to itself at a
chosen point (patched in by :data:`DRIVER`, so nothing in the package knows about
tests); the rest run in-process.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from experiments import checkpoints
from experiments import train as train_module
from experiments import feed, trainer
from experiments.checkpoints import RunFileError
from experiments.config import experiment
from experiments.store import Run
from experiments.train import main, train

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("data_root")]

ROOT = Path(__file__).resolve().parents[2]
#: 16 iterations of LeNet-300-100 on 512 MNIST examples; checkpoints at 0-5, 8 and 16.
ARGS = ["mnist_mlp", "--epochs", "2", "--batch-size", "64", "--train-examples", "512",
        "--checkpoints", "3,5", "--optimizer", "momentum", "--momentum", "0.9",
        "--dropout-seed", "3", "--device", "cpu", "--no-progress"]
SAVES = [0, 1, 2, 3, 4, 5, 8, 16]
TABLE = "training"


def config():
    return experiment("mnist_mlp", epochs=2, batch_size=64, train_examples=512,
                      checkpoints=(3, 5), optimizer="momentum", momentum=0.9, dropout_seed=3)


#: Run in a child: patch in the fault ``spec`` describes, then the training command.
DRIVER = r"""
import json, os, signal, sys, time
from pathlib import Path

spec = json.loads(sys.argv[1])
from experiments import checkpoints, store, train as T

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def wait_for_marker():
    while not os.path.exists(spec["marker"]):
        time.sleep(0.02)

fault = spec.get("fault")
if fault in ("kill_step", "sigint_step", "wait_step"):
    original = T._Trainer._train_step

    def step(self, inputs, targets):
        if self.step == spec["at"]:
            if fault == "kill_step":
                die()
            elif fault == "wait_step":
                wait_for_marker()
                if spec.get("then") == "kill":
                    die()
            else:
                # Ctrl-C after the optimizer has moved the weights, before the step ends.
                schedule, schedule_step = self.schedule, self.schedule.step

                def interrupted(*args, **kwargs):
                    del schedule.step  # an instance attribute would be saved with its state
                    os.kill(os.getpid(), signal.SIGINT)
                    return schedule_step(*args, **kwargs)

                schedule.step = interrupted
        return original(self, inputs, targets)

    T._Trainer._train_step = step
elif fault == "kill_write":
    calls = {"n": 0}
    for module in (checkpoints, store):
        def patched(path, write, _original=module.atomic_write):
            if Path(path).name == spec["file"]:
                calls["n"] += 1
                if calls["n"] == spec.get("nth", 1):
                    def half(tmp):
                        write(tmp)
                        os.truncate(tmp, os.path.getsize(tmp) // 2)
                        die()
                    return _original(path, half)
            return _original(path, write)
        module.atomic_write = patched
if spec.get("refuse_fit"):
    def refuse(self):
        raise RuntimeError("trained a run another process had finished")
    T._Trainer.fit = refuse
sys.exit(T.main(spec["args"]))
"""


@pytest.fixture
def child():
    """Start a training child with a fault; any child still running at the end is killed
    (a failed case must not leave one waiting forever)."""
    started: list[subprocess.Popen] = []

    def start(runs: Path, **spec) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        spec["args"] = [*ARGS, "--runs-dir", str(runs)]
        process = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(spec)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Every checkpoint of an uninterrupted run."""
    run = train(config(), runs_dir=tmp_path_factory.mktemp("reference"), device="cpu",
                progress=False)
    assert run.iterations == SAVES
    return {t: run.state(t) for t in SAVES}


def identical(run: Run, reference: dict) -> bool:
    return run.iterations == SAVES and all(
        all(torch.equal(run.state(t)[k], v) for k, v in reference[t].items()) for t in SAVES)


def leftovers(run: Run) -> list[str]:
    """Temp files and resume states a finished run should not keep."""
    names = [p.name for p in run.path.rglob("*") if p.name.endswith(".tmp")]
    return names + [p.name for p in run.resume_paths if p.exists()]


def resumed_from(err: str) -> int:
    return int(re.search(r"from iteration (\d+)", err).group(1))


# -- kill -9 and Ctrl-C -----------------------------------------------------------------

KILLS = {
    "between checkpoints": dict(fault="kill_step", at=7),
    "writing a checkpoint": dict(fault="kill_write", file="it00000008.pt"),
    "writing the resume state": dict(fault="kill_write", file="resume.pt", nth=7),
    "writing the summary": dict(fault="kill_write", file="summary.json"),
}


@pytest.mark.parametrize("where", list(KILLS))
def test_kill_9_then_rerun_gives_bit_identical_weights(tmp_path, reference, where, capfd,
                                                       child, record_fault):
    code, _, err = finish(child(tmp_path, **KILLS[where]))
    assert code == -signal.SIGKILL, err
    run = Run(config(), 0, tmp_path)
    assert not run.done
    kept = [t for t in run.iterations if t in SAVES]
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 0
    err = capfd.readouterr().err
    start = resumed_from(err)
    assert err.splitlines()[0].startswith(("resuming ", "warning: ")) and "Traceback" not in err
    assert identical(run, reference) and leftovers(run) == []
    record_fault(TABLE, "kill -9", where, f"rerun resumed from iteration {start} of 16",
                 f"checkpoints {kept}; resume state at {start}",
                 "final and every checkpoint bit-identical to an uninterrupted run; no temp "
                 "file left")


def test_ctrl_c_mid_iteration_saves_a_consistent_state(tmp_path, reference, capfd, child,
                                                       record_fault):
    # SIGINT after the optimizer step but before the iteration ends: the saved state
    # must be the end of that iteration, not the weights of one with the step of another.
    code, _, err = finish(child(tmp_path, fault="sigint_step", at=6))
    assert code == 130, err
    assert err.strip().splitlines()[-1] == ("interrupted: the run saved its state and resumes "
                                            "when you run the same command again")
    run = Run(config(), 0, tmp_path)
    saved = checkpoints.load(run.resume_paths[0])["step"]
    assert saved == 7
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 0
    assert resumed_from(capfd.readouterr().err) == 7
    assert identical(run, reference) and leftovers(run) == []
    record_fault(TABLE, "SIGINT (Ctrl-C)", "inside iteration 7, after the weight update",
                 "exit 130 with one line; the iteration finished first and its state was saved",
                 "resume state at iteration 7", "rerun bit-identical to an uninterrupted run")


# -- damaged files ------------------------------------------------------------------------

DAMAGE = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "garbage": lambda path: path.write_bytes(b"\x00not a checkpoint\xff" * 64),
}


def stopped(tmp_path, monkeypatch, at: int) -> Run:
    """A run killed at iteration ``at`` (resume states at the two checkpoints before)."""
    original = train_module._Trainer._train_step

    def killed(self, inputs, targets):
        if self.step == at:
            raise SystemExit
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", killed)
    with pytest.raises(SystemExit):
        train(config(), runs_dir=tmp_path, device="cpu", progress=False)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    return Run(config(), 0, tmp_path)


#: Damaged files of a run stopped at iteration 7, and the iteration it resumes from.
FALLBACKS = [("resume.pt", 4), ("resume.pt and resume.prev.pt", 0), ("it00000004.pt", 4),
             ("it00000002.pt", 0)]
FIRSTS = ["finishes", "is killed"]


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("files, expected", FALLBACKS)
def test_damaged_state_of_an_unfinished_run_falls_back(tmp_path, monkeypatch, capsys, reference,
                                                       damage, files, expected, record_fault):
    run = stopped(tmp_path, monkeypatch, at=7)  # resume states at 5 and 4
    assert [checkpoints.load(p)["step"] for p in run.resume_paths] == [5, 4]
    for name in files.split(" and "):
        DAMAGE[damage](run.path / name if name.startswith("resume") else
                       run.path / "checkpoints" / name)
    train(config(), runs_dir=tmp_path, device="cpu", progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "weights_only" not in err[0]
    for name in files.split(" and "):
        assert name in err[0]
    assert resumed_from(err[0]) == expected
    assert identical(run, reference) and leftovers(run) == []
    record_fault(TABLE, f"{damage} file", f"{files} of an unfinished run",
                 f"one warning line naming the damage; resumed from iteration {expected}",
                 "every intact checkpoint and resume state",
                 "final weights bit-identical to an uninterrupted run")


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_of_a_finished_run_names_the_file_and_the_fix(
        tmp_path, capsys, reference, damage, record_fault):
    run = train(config(), runs_dir=tmp_path, device="cpu", progress=False)
    path = run.checkpoint_path(8)
    DAMAGE[damage](path)
    with pytest.raises(RunFileError) as info:
        run.state(8)
    message = str(info.value)
    assert message.startswith(f"checkpoint {str(path)!r} is damaged (")
    assert "weights_only" not in message and "\n" not in message
    command = message[message.index("`") + 1: message.rindex("`")]
    assert command.startswith(f"rm -r '{run.path}' && python -m experiments.train mnist_mlp")
    # The fix as printed: delete the run, then train it again from the given command.
    words = shlex.split(command.split("&& ")[1])[3:]
    shutil.rmtree(run.path)
    assert main([*words, "--runs-dir", str(tmp_path), "--device", "cpu"]) == 0
    assert identical(run, reference)
    record_fault(TABLE, f"{damage} file", "a checkpoint of a finished run",
                 "reading it: one error naming the file and the command that recomputes it",
                 "the other checkpoints; the command rebuilt all of them",
                 "message names file and command; the command restores bit-identical weights")


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_summary_is_rebuilt_from_the_final_checkpoint(tmp_path, capsys, reference,
                                                              damage, record_fault):
    run = train(config(), runs_dir=tmp_path, device="cpu", progress=False)
    before = run.summary
    DAMAGE[damage](run.summary_path)
    with pytest.raises(RunFileError, match="summary '.*' is damaged .*python -m experiments"):
        run.summary
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: summary ") and len(err.strip().splitlines()) == 1
    after = run.summary
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "iterations"):
        assert after[key] == before[key]
    assert after["seconds"] is None and identical(run, reference)
    # With the final checkpoint damaged too, nothing can rebuild it: one clear error.
    DAMAGE[damage](run.summary_path)
    DAMAGE[damage](run.checkpoint_path(16))
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: summary ") and "rm -r" in err[0]
    assert "it00000016.pt" in err[0]
    record_fault(TABLE, f"{damage} file", "summary.json of a finished run",
                 "rebuilt from the final checkpoint with one warning line (training time lost); "
                 "with that checkpoint damaged too, one error naming both and the fix",
                 "checkpoints; losses and accuracies identical", "values equal the original's")


# -- a full or read-only run folder -----------------------------------------------------------

def test_full_disk_stops_with_one_line_and_resumes(tmp_path, monkeypatch, capsys, reference,
                                                   record_fault):
    real_save = torch.save

    def full(obj, f, *args, **kwargs):
        if Path(f).name.startswith(".it00000008.pt."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full)
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    run = Run(config(), 0, tmp_path)
    assert err == [f"error: cannot write {str(run.checkpoint_path(8))!r}: no space left on the "
                   "device; the run keeps its state at iteration 5: free some space and run "
                   "the same command again to resume"]
    assert run.iterations == [0, 1, 2, 3, 4, 5] and leftovers(run) == ["resume.pt", "resume.prev.pt"]
    monkeypatch.setattr(torch, "save", real_save)
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 0
    assert identical(run, reference)
    record_fault(TABLE, "full disk (ENOSPC)", "writing the checkpoint at iteration 8",
                 "exit 2 with one line naming the file and the fix",
                 "checkpoints 0-5 and the resume state at 5",
                 "rerun after freeing space bit-identical to an uninterrupted run")


def test_read_only_run_folder_is_one_line_before_any_work(tmp_path, monkeypatch, capsys,
                                                          record_fault):
    from experiments import lock

    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        # What a read-only folder gives (simulated: tests may run as root).
        if str(path).startswith(str(tmp_path)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(lock.os, "open", read_only)
    loaded = []
    monkeypatch.setattr(feed, "load_data", lambda *a: loaded.append(1) or 1 / 0)
    assert main([*ARGS, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and "Permission denied" in err[0]
    assert "--runs-dir" in err[0] and loaded == []
    record_fault(TABLE, "read-only run folder", "before training",
                 "exit 2 with one line naming the file, before loading data",
                 "nothing to keep", "no traceback; no work started")


def test_a_runs_folder_that_is_a_file_is_one_line(tmp_path, capsys, record_fault):
    (tmp_path / "runs").write_text("not a folder")
    assert main([*ARGS, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot create the run folder ")
    assert "--runs-dir" in err[0] and (tmp_path / "runs").read_text() == "not a folder"
    record_fault(TABLE, "runs folder is a file", "--runs-dir", "exit 2 with one line",
                 "the file, untouched", "no traceback; the file is not replaced")


def test_a_finished_run_in_a_read_only_folder_is_reused(tmp_path, monkeypatch, reference,
                                                        record_fault):
    train(config(), runs_dir=tmp_path, device="cpu", progress=False)

    def no_writes(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    from experiments import lock, store

    monkeypatch.setattr(lock, "hold", no_writes)
    monkeypatch.setattr(store, "atomic_write", no_writes)
    monkeypatch.setattr(checkpoints, "atomic_write", no_writes)
    run = train(config(), runs_dir=tmp_path, device="cpu", progress=False)
    assert identical(run, reference)
    record_fault(TABLE, "read-only run folder", "a finished run", "reused without writing",
                 "everything", "weights read back bit-identical")


# -- two processes, one run ------------------------------------------------------------------

@pytest.mark.parametrize("first", FIRSTS)
def test_two_processes_training_one_run(tmp_path, monkeypatch, capsys, reference, first,
                                        child, record_fault):
    # The first is a child that pauses at iteration 9 until the second (this process)
    # waits for the lock, then finishes or is killed. The second must train nothing when
    # the first finishes, and resume the first's work when it dies.
    marker = tmp_path / "second is waiting"
    runs = tmp_path / "runs"
    a = child(runs, fault="wait_step", at=9, marker=str(marker),
              then="kill" if first == "is killed" else "continue")
    lock = Run(config(), 0, runs).path / ".lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip()):
        assert a.poll() is None and time.monotonic() < deadline, "the first never locked the run"
        time.sleep(0.05)
    say = trainer._say

    def heard(line):
        say(line)
        if line.startswith("waiting: "):
            marker.touch()

    monkeypatch.setattr(trainer, "_say", heard)
    if first == "finishes":
        def refuse(self):
            raise AssertionError("trained a run another process had finished")

        monkeypatch.setattr(train_module._Trainer, "fit", refuse)
    # Should this process never say it waits, release the first anyway: a failure, not a hang.
    safety = threading.Timer(120, marker.touch)
    safety.start()
    try:
        assert main([*ARGS, "--runs-dir", str(runs)]) == 0
    finally:
        safety.cancel()
    err = capsys.readouterr().err
    code_a, _, err_a = finish(a)
    assert code_a == (0 if first == "finishes" else -signal.SIGKILL), err_a
    assert err.splitlines()[0].startswith(f"waiting: process {a.pid} is training ")
    run = Run(config(), 0, runs)
    assert identical(run, reference) and leftovers(run) == []
    if first == "finishes":
        outcome = "the second waited (one line naming the first's pid), then reused the run"
    else:
        assert resumed_from(err) == 8
        outcome = ("the second waited, took the lock when the first died and resumed from "
                   "iteration 8")
    record_fault(TABLE, "two processes, one run", f"the first {first} while the second waits",
                 outcome, "the run, trained once",
                 "one training; final weights bit-identical to a single run")


COMMITTED = ROOT / "docs" / "reliability" / "faults_training.csv"


def test_the_committed_table_lists_exactly_the_cases_of_this_suite():
    # The docs render docs/reliability/faults_training.csv; regenerate it with
    # LANDSCAPES_RELIABILITY_OUT=docs/reliability python -m pytest -m faults tests
    import csv

    expected = {("kill -9", where) for where in KILLS}
    expected |= {("SIGINT (Ctrl-C)", "inside iteration 7, after the weight update"),
                 ("full disk (ENOSPC)", "writing the checkpoint at iteration 8"),
                 ("read-only run folder", "before training"),
                 ("read-only run folder", "a finished run"),
                 ("runs folder is a file", "--runs-dir")}
    for damage in DAMAGE:
        expected |= {(f"{damage} file", f"{files} of an unfinished run") for files, _ in FALLBACKS}
        expected |= {(f"{damage} file", "a checkpoint of a finished run"),
                     (f"{damage} file", "summary.json of a finished run")}
    expected |= {("two processes, one run", f"the first {first} while the second waits")
                 for first in FIRSTS}
    with open(COMMITTED, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["fault", "where injected", "outcome", "what was kept",
                                     "check"]
        rows = list(reader)
    assert {(r["fault"], r["where injected"]) for r in rows} == expected
    assert len(rows) == len(expected) and all(all(r.values()) for r in rows)
