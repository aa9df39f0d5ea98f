"""Training: accuracy on real MNIST, checkpoints, reuse, resume and seeds."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from experiments import train as train_module
from experiments import feed, trainer
from experiments.checkpoints import schedule
from experiments.config import experiment
from experiments.store import Run
from experiments.train import main, train

pytestmark = pytest.mark.usefixtures("data_root")


def tiny(**changes):
    """16 iterations of LeNet-300-100 on 512 real MNIST examples."""
    base = dict(epochs=2, batch_size=64, train_examples=512, checkpoints=(3, 5))
    return experiment("mnist_mlp", **{**base, **changes})


def weights(run: Run) -> dict[str, torch.Tensor]:
    return run.final


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_one_epoch_of_mnist_mlp_reaches_over_90_percent(tmp_path):
    run = train(experiment("mnist_mlp", epochs=1), runs_dir=tmp_path, device="cpu")
    summary = run.summary
    assert summary["test_accuracy"] > 0.90
    assert summary["iterations"] == 469  # ceil(60000 / 128)
    assert run.iterations == schedule(469, 469)


def test_checkpoints_follow_the_schedule_and_hold_the_weights(tmp_path):
    run = train(tiny(), runs_dir=tmp_path, device="cpu")
    assert run.iterations == schedule(16, 8, (3, 5)) == [0, 1, 2, 3, 4, 5, 8, 16]
    assert not (run.path / "resume.pt").exists()
    model = run.model()
    assert same(model.state_dict(), run.final)
    assert not same(run.init, run.final)
    config = json.loads((run.path / "config.json").read_text())
    assert config["name"] == run.config.name and config["checkpoints"] == run.iterations


def test_a_finished_run_is_reused_without_training(tmp_path, monkeypatch):
    first = train(tiny(), runs_dir=tmp_path, device="cpu")

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(train_module._Trainer, "fit", refuse)
    again = train(tiny(), runs_dir=tmp_path, device="cpu")
    assert again.path == first.path and same(weights(again), weights(first))


@pytest.mark.parametrize("stop", ["ctrl-c", SystemExit])
def test_an_interrupted_run_resumes_to_bit_identical_weights(tmp_path, monkeypatch, stop):
    # A real SIGINT (Ctrl-C) takes effect once the iteration ends, and the state is saved
    # there; SystemExit stands for a kill, after which the run resumes from the last
    # scheduled checkpoint.
    config = tiny(optimizer="momentum", momentum=0.9, milestones="6it", dropout_seed=3)
    reference = train(config, runs_dir=tmp_path / "a", device="cpu")
    original = train_module._Trainer._train_step

    def interrupted(self, inputs, targets):
        if self.step == 6:
            if stop == "ctrl-c":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise stop()
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt if stop == "ctrl-c" else stop):
        train(config, runs_dir=tmp_path / "b", device="cpu")
    run = Run(config, 0, tmp_path / "b")
    assert not run.done and (run.path / "resume.pt").exists()
    saved = torch.load(run.path / "resume.pt", weights_only=True)["step"]
    assert saved == (7 if stop == "ctrl-c" else 5)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    resumed = train(config, runs_dir=tmp_path / "b", device="cpu")
    assert same(weights(resumed), weights(reference))
    for t in reference.iterations:
        assert same(resumed.state(t), reference.state(t))


def test_seeds_decide_the_weights(tmp_path):
    a = train(tiny(), runs_dir=tmp_path / "a", device="cpu")
    b = train(tiny(), runs_dir=tmp_path / "b", device="cpu")
    assert same(weights(a), weights(b))
    other = train(tiny(), replicate=1, runs_dir=tmp_path / "a", device="cpu")
    assert not same(other.init, a.init)


def test_optimizers_can_share_an_init_and_the_minibatches(tmp_path):
    # Im et al. §4.1: one init, one minibatch order, different optimizers.
    sgd = train(tiny(), runs_dir=tmp_path, device="cpu")
    adam = train(tiny(optimizer="adam", lr=1e-3), runs_dir=tmp_path, device="cpu")
    assert sgd.path != adam.path
    assert same(sgd.init, adam.init) and not same(sgd.final, adam.final)
    other_init = train(tiny(init_seed=1), runs_dir=tmp_path, device="cpu")
    assert not same(other_init.init, sgd.init)


def test_switching_optimizer_keeps_the_path_up_to_the_switch(tmp_path):
    plain = train(tiny(), runs_dir=tmp_path, device="cpu")
    switched = train(tiny(switch_at=5, switch_optimizer="adam", switch_lr=1e-3),
                     runs_dir=tmp_path, device="cpu")
    assert same(switched.state(5), plain.state(5))
    assert not same(switched.state(8), plain.state(8))


def test_runge_kutta_optimizers_train(tmp_path):
    run = train(tiny(optimizer="rk_sgd_heun"), runs_dir=tmp_path, device="cpu")
    assert run.summary["train_loss"] < run.summary["test_loss"] + 1.0
    assert not same(run.init, run.final)


def test_a_diverging_run_is_recorded_not_raised(tmp_path, capsys):
    # SGD at lr 1e4 overflows within a few steps: the run finishes, its checkpoints all
    # exist, and the summary names the first iteration whose loss was not finite.
    run = train(tiny(lr=1e4), runs_dir=tmp_path, device="cpu")
    at = run.summary["diverged_at"]
    assert isinstance(at, int) and 0 <= at < 16
    assert run.iterations == schedule(16, 8, (3, 5))
    assert not all(bool(torch.isfinite(v).all()) for v in run.final.values())
    healthy = train(tiny(), runs_dir=tmp_path, device="cpu")
    assert healthy.summary["diverged_at"] is None
    assert main(["mnist_mlp", "--runs-dir", str(tmp_path), "--epochs", "2", "--batch-size",
                 "64", "--train-examples", "512", "--checkpoints", "3,5", "--lr", "1e4",
                 "--device", "cpu"]) == 0
    assert f"diverged: the training loss was NaN or inf from iteration {at}" in \
        capsys.readouterr().out


def test_im_et_al_extreme_initialisation(tmp_path):
    run = train(tiny(init="normal(-1,1)", epochs=0.125), runs_dir=tmp_path, device="cpu")
    w = torch.cat([v.ravel() for k, v in run.init.items() if k.endswith("weight")])
    assert abs(float(w.mean()) + 1) < 0.01 and abs(float(w.std()) - 1) < 0.01


def test_cli_trains_lists_and_explains(tmp_path, capsys):
    args = ["mnist_mlp", "--runs-dir", str(tmp_path), "--epochs", "1", "--batch-size", "64",
            "--train-examples", "256", "--replicates", "2", "--device", "cpu"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("test accuracy") == 2 and str(tmp_path) in out
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("mnist_mlp", "cifar_resnet20", "imagenet_resnet50", "ptb_lstm_medium"):
        assert name in listed
    assert main(["mnst_mlp", "--runs-dir", str(tmp_path)]) == 2
    assert "did you mean 'mnist_mlp'" in capsys.readouterr().err
    assert main(["mnist_mlp", "--runs-dir", str(tmp_path), "--lr", "-1"]) == 2
    assert "lr must be positive" in capsys.readouterr().err
    assert main(["--help"]) == 0
    helped = capsys.readouterr().out
    for option in ("--lr", "--momentum", "--optimizer", "--switch-at", "--init-seed", "--warmup",
                   "--threads", "--precision"):
        assert option in helped
    assert main(["mnist_mlp", "--lr", "abc"]) == 2
    assert capsys.readouterr().err == "error: argument --lr: invalid float value: 'abc'\n"


def _help_entry(text, option):
    """The help of one option, on one line."""
    lines = text.split("\n  --")
    entry = next(line for line in lines if line.startswith(option[2:] + " "))
    return " ".join(entry.split())


def test_help_shows_the_named_experiments_values(capsys):
    # Issue 13 item 11: the class default (momentum None) was shown as the experiment's.
    assert main(["--runs-dir", "/x", "cifar_resnet20", "--help"]) == 0
    helped = capsys.readouterr().out
    assert "experiment 'cifar_resnet20'" in helped
    assert "[cifar_resnet20: 0.9]" in _help_entry(helped, "--momentum")
    assert "[cifar_resnet20: 'momentum']" in _help_entry(helped, "--optimizer")
    assert "class default" not in helped
    assert main(["--help"]) == 0
    plain = capsys.readouterr().out
    assert "[class default: None]" in _help_entry(plain, "--momentum")


def test_none_unsets_an_optional_hyperparameter(tmp_path, monkeypatch):
    seen = {}

    def fake_train(config, **kwargs):
        seen["config"], seen["threads"] = config, kwargs["threads"]
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", fake_train)
    assert main(["cifar_resnet20", "--momentum", "none", "--threads", "1"]) == 130
    assert seen["config"].momentum is None and seen["threads"] == 1


def test_language_model_carries_its_state_and_resumes_exactly(tmp_path, monkeypatch):
    # Zaremba et al.'s LSTM on a small text in the published PTB layout; the hidden state
    # crosses segments, so a resumed run must restore it to match an uninterrupted one.
    words = ["the", "cat", "sat", "on", "a", "mat", "<unk>", "dog"]
    gen = torch.Generator().manual_seed(0)
    (tmp_path / "data" / "ptb").mkdir(parents=True)
    for split, lines in (("train", 120), ("valid", 10), ("test", 10)):
        ids = torch.randint(len(words), (lines, 8), generator=gen)
        text = "\n".join(" ".join(words[i] for i in row) for row in ids.tolist())
        (tmp_path / "data" / "ptb" / f"ptb.{split}.txt").write_text(text + "\n")
    config = experiment("ptb_lstm_medium", batch_size=4, epochs=1)
    kwargs = dict(data_dir=tmp_path / "data", device="cpu")
    reference = train(config, runs_dir=tmp_path / "a", **kwargs)
    assert reference.summary["iterations"] == 7  # (1080 / 4 − 1) // 35
    original = train_module._Trainer._train_step

    def interrupted(self, inputs, targets):
        if self.step == 3:
            assert self.hidden is not None  # carried from the previous segment
            raise KeyboardInterrupt
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, runs_dir=tmp_path / "b", **kwargs)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    resumed = train(config, runs_dir=tmp_path / "b", **kwargs)
    assert same(weights(resumed), weights(reference))


def test_the_switch_iteration_is_always_checkpointed(tmp_path):
    # Im et al. §4.3 start the second optimizer from the switch: analyses need that point.
    run = train(tiny(checkpoints=(), switch_at=7, switch_optimizer="adam", switch_lr=1e-3),
                runs_dir=tmp_path, device="cpu", progress=False)
    assert 7 in run.iterations and 7 not in schedule(16, 8)


def test_bfloat16_autocasts_on_cpu_and_names_its_own_run(tmp_path):
    full = train(tiny(), runs_dir=tmp_path, device="cpu", progress=False)
    half = train(tiny(precision="bfloat16"), runs_dir=tmp_path, device="cpu", progress=False)
    assert half.path != full.path and half.summary["precision"] == "bfloat16"
    assert full.summary["precision"] == "float32"
    assert same(half.init, full.init) and not same(half.final, full.final)  # autocast ran
    # bf16's rounding changes the path, not what is learnt
    assert abs(half.summary["train_loss"] - full.summary["train_loss"]) < 0.1
    with pytest.raises(ValueError, match="float16' needs a CUDA device.*'bfloat16'"):
        train(tiny(precision="float16"), runs_dir=tmp_path, device="cpu")


def test_threads_are_recorded_kept_on_resume_and_do_not_name_the_run(tmp_path, monkeypatch,
                                                                     capsys):
    original = train_module._Trainer._train_step

    def killed(self, inputs, targets):
        if self.step == 7:
            raise SystemExit
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", killed)
    with pytest.raises(SystemExit):
        train(tiny(), runs_dir=tmp_path / "a", device="cpu", progress=False, threads=2)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    run = train(tiny(), runs_dir=tmp_path / "a", device="cpu", progress=False)
    assert run.summary["threads"] == 2  # the resumed run kept the count it started with
    with pytest.raises(SystemExit):
        monkeypatch.setattr(train_module._Trainer, "_train_step", killed)
        train(tiny(), runs_dir=tmp_path / "b", device="cpu", progress=False, threads=2)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    capsys.readouterr()
    other = train(tiny(), runs_dir=tmp_path / "b", device="cpu", progress=False, threads=1)
    assert other.summary["threads"] == 1 and "started with 2 threads" in capsys.readouterr().err
    assert run.path.relative_to(tmp_path / "a") == other.path.relative_to(tmp_path / "b")
    # MKL splits a matrix product's sums by thread: LeNet's weights differ at rounding.
    assert all(torch.allclose(run.final[k], other.final[k], rtol=0, atol=1e-6) for k in run.final)
    capsys.readouterr()
    again = train(tiny(), runs_dir=tmp_path / "a", device="cpu", progress=False, threads=1)
    assert again.path == run.path and "trained with 2 threads" in capsys.readouterr().err
    with pytest.raises(ValueError, match="threads must be an integer ≥ 1, got 0"):
        train(tiny(lr=0.5), runs_dir=tmp_path, device="cpu", threads=0)


@pytest.fixture
def machine(monkeypatch):
    """A fake 2-CPU machine whose other work keeps ``busy`` cores busy (call it)."""
    from landscapes import devices

    def set_busy(busy: float) -> None:
        monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
        monkeypatch.setattr(devices, "busy_cpus", lambda cpus, seconds=0.2: busy)
        monkeypatch.setattr(devices, "cgroup_quota", lambda: None)
        devices._machine.cache_clear()

    yield set_busy
    devices._machine.cache_clear()


@pytest.mark.parametrize("busy, expected", [(0.0, 2), (1.3, 1)])
def test_the_default_thread_count_and_its_reason_are_in_the_summary(tmp_path, machine, busy,
                                                                    expected, capsys):
    machine(busy)
    from landscapes.devices import using_threads

    with using_threads(2):  # as without OMP_NUM_THREADS on 2 cores
        assert main(["mnist_mlp", "--epochs", "0.125", "--train-examples", "512",
                     "--runs-dir", str(tmp_path), "--no-progress"]) == 0
    run = Run(tiny(epochs=0.125, batch_size=128, checkpoints=()), 0, tmp_path)
    summary = run.summary
    chosen = summary["thread_choice"]
    assert summary["threads"] == chosen["threads"] == expected
    assert chosen["source"] == "default" and chosen["cpus"] == 2 and chosen["busy"] == busy
    assert f"{busy:.2f} of them busy with other work" in chosen["reason"]
    assert chosen["reason"] in capsys.readouterr().out  # and the command says so


def test_threads_override_the_default_and_a_resumed_run_keeps_its_choice(tmp_path, machine,
                                                                         monkeypatch, capsys):
    machine(0.0)  # idle: the default would be 2
    assert main(["mnist_mlp", "--epochs", "0.125", "--train-examples", "512",
                 "--runs-dir", str(tmp_path / "asked"), "--no-progress", "--threads", "1"]) == 0
    asked = Run(tiny(epochs=0.125, batch_size=128, checkpoints=()), 0, tmp_path / "asked")
    assert asked.summary["threads"] == 1
    assert asked.summary["thread_choice"]["source"] == "requested"
    assert "busy with other work" not in capsys.readouterr().out

    original = train_module._Trainer._train_step

    def killed(self, inputs, targets):
        if self.step == 7:
            raise SystemExit
        return original(self, inputs, targets)

    from landscapes.devices import using_threads

    with using_threads(2):  # as without OMP_NUM_THREADS on 2 cores
        machine(1.5)  # started on a loaded machine: one thread
        monkeypatch.setattr(train_module._Trainer, "_train_step", killed)
        with pytest.raises(SystemExit):
            train(tiny(), runs_dir=tmp_path, device="cpu", progress=False)
        monkeypatch.setattr(train_module._Trainer, "_train_step", original)
        machine(0.0)  # resumed on an idle one: still one, and why it was one
        run = train(tiny(), runs_dir=tmp_path, device="cpu", progress=False)
    assert run.summary["threads"] == 1
    assert run.summary["thread_choice"]["busy"] == 1.5


def _random_images(monkeypatch, n=64):
    """CIFAR-shaped random data in place of CIFAR-10 (not on this machine)."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen)
    data = train_module._Data("classification", (x, y), (x[:32], y[:32]), 0)

    def load(config, spec, data_dir, device):
        n_train = min(n, config.train_examples or n)
        return train_module._Data(data.task, (x[:n_train], y[:n_train]), data.test,
                                  -(-n_train // config.batch_size))

    monkeypatch.setattr(feed, "load_data", load)


def test_conv_nets_train_channels_last_within_float32s_own_error(tmp_path, monkeypatch):
    _random_images(monkeypatch)
    config = experiment("cifar_resnet20", epochs=1, batch_size=32, augment=False,
                        weight_decay=0.0, momentum=0.0)
    fast = train(config, runs_dir=tmp_path / "cl", device="cpu", progress=False, threads=1)
    assert fast.summary["memory_format"] == "channels_last"
    assert all(v.is_contiguous() for v in fast.final.values())  # analyses read plain tensors
    monkeypatch.setattr(trainer, "_memory_format", lambda *a: torch.contiguous_format)
    plain = train(config, runs_dir=tmp_path / "plain", device="cpu", progress=False, threads=1)
    assert plain.summary["memory_format"] == "contiguous"
    # Not bit-identical (other summation orders; channels-last batch norm's backward is
    # less precise): two updates agree to well within 5% of their size.
    for t in (1, 2):
        moved = sum(float((plain.state(t)[k] - plain.init[k]).float().norm() ** 2)
                    for k in plain.init) ** 0.5
        apart = sum(float((plain.state(t)[k] - fast.state(t)[k]).float().norm() ** 2)
                    for k in plain.init) ** 0.5
        assert 0 < apart < 0.05 * moved


def test_a_run_resumed_at_the_switch_continues_with_the_second_optimizer(tmp_path, monkeypatch,
                                                                        capsys):
    config = tiny(checkpoints=(), switch_at=7, switch_optimizer="adam", switch_lr=1e-3)
    reference = train(config, runs_dir=tmp_path / "a", device="cpu", progress=False)
    original = train_module._Trainer._train_step

    def killed(self, inputs, targets):
        if self.step == 7:
            raise SystemExit
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", killed)
    with pytest.raises(SystemExit):
        train(config, runs_dir=tmp_path / "b", device="cpu", progress=False)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    capsys.readouterr()
    resumed = train(config, runs_dir=tmp_path / "b", device="cpu", progress=False)
    err = capsys.readouterr().err
    assert "from iteration 7 of 16" in err and "warning" not in err
    assert same(resumed.final, reference.final)


def test_without_a_terminal_training_logs_progress_lines(tmp_path, monkeypatch, capsys):
    # Issue 13 item 10: a long training printed nothing without a terminal. Here the
    # quiet start is lifted so 16 iterations behave like a long run.
    from landscapes import progress

    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    run = train(tiny(), runs_dir=tmp_path, device="cpu")  # progress=None, stderr captured
    lines = capsys.readouterr().err.splitlines()
    name = f"train {run.config.name} r0: "
    assert len(lines) >= 2 and all(line.startswith(name) for line in lines)
    assert lines[-1].startswith(f"{name}16/16 it done in ")
    assert "(" in lines[0] and "left" in lines[0]
