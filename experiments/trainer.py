"""Reproducible training with checkpoints, resumable, reusing finished runs.

``train(config, replicate=r)`` returns the :class:`~experiments.store.Run` for that
config and replicate: a finished one is reused as it is, an interrupted one (Ctrl-C,
kill) resumes from its last saved state, and either way it ends with the same weights
an uninterrupted run would have. That holds because every random stream is a pure
function of (seed, replicate, position): the minibatch order of each epoch, the
augmentation and the dropout masks of each iteration are drawn from generators
seeded afresh, so nothing but the model, the optimizer and the step has to be saved.

Nothing is lost and nothing is done twice:

- one process trains a run at a time (a lock in its folder); another one asking for
  the same run waits, then reuses it, or resumes it if the first was stopped;
- Ctrl-C takes effect between two iterations, so the state it saves is consistent
  (a second Ctrl-C stops at once, and the run resumes from its last checkpoint);
- a damaged resume state falls back to the one before it, or to a fresh start (the
  result is the same, it only takes longer), saying so in one line on stderr;
- a full or read-only run folder stops training with one line naming the file.

Speed on CPU: conv nets train channels-last (oneDNN's fast layout; float32 results
differ from the contiguous layout's by about float32's own error there, not bit for
bit), ``precision="bfloat16"``
autocasts on CPU as on CUDA, and the thread count defaults to the cores free when the
process starts (:func:`landscapes.devices.thread_choice`). Float32 results depend on the
thread count at rounding level (MKL and oneDNN split sums by thread), as on the CPU model
or the torch version; like those it does not name a run, but a run records it and why
(``threads`` and ``thread_choice`` in its summary), and a resumed run keeps it so that it
stays bit-identical to an uninterrupted one.

A run whose training loss becomes NaN or inf is not an error: it trains to the end and
its summary records the first such iteration (``diverged_at``; None for a healthy run),
which the analyses read to show it as diverged.

The command line is :mod:`experiments.train`; the data plumbing :mod:`experiments.feed`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import torch
from torch import nn

from experiments import checkpoints, feed, spawn, streams
from experiments.checkpoints import RunFileError
from experiments.config import parse_init
from experiments.config import TrainConfig
from experiments.store import Run, write_json
from experiments.store import seed as stream_seed
from landscapes.devices import resolve_device, resolve_threads, thread_choice, using_threads
from landscapes.progress import Progress

__all__ = ["train", "RunFileError"]

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST}


def train(
    config: TrainConfig,
    *,
    replicate: int = 0,
    runs_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    progress: bool | None = None,
    threads: int | None = None,
) -> Run:
    """Train one replicate of ``config``, or reuse / resume it from the run store.

    Parameters
    ----------
    config : TrainConfig
    replicate : int
        Replicates differ in every seed (derived from the config's seeds and this index).
    runs_dir : str or path-like, optional
        See :func:`experiments.store.runs_root`.
    data_dir : str or path-like, optional
        See :func:`experiments.data.data_root`.
    device : str or torch.device
        ``"auto"`` uses CUDA when present.
    progress : bool, optional
        None: a bar on a terminal, else a line on stderr every tenth or minute; True: a
        bar; False: nothing (:class:`landscapes.progress.Progress`).
    threads : int, optional
        CPU threads; default the cores free when the process first asks
        (:func:`landscapes.devices.thread_choice`), or for a resumed run the count it
        started with (float32 results depend on it at rounding level). The summary
        records the count (``threads``) and how it was chosen (``thread_choice``).

    Returns
    -------
    Run
        Finished; ``run.init``, ``run.final``, ``run.state(t)``, ``run.summary``.

    Raises
    ------
    RunFileError
        A file of the run is damaged beyond the fallbacks, or the run folder is full or
        not writable; the message names the file and what to do.
    """
    if threads is not None:
        resolve_threads(threads)  # a bad count is an error even for a finished run
    run = Run(config, replicate, runs_dir)
    if _reusable(run):
        _note_threads(run, threads)
        return run
    if run.parent is not None and not _reusable(run.parent) and spawn.start_state(run) is None:
        # The parent first (it is reused when finished): the child starts from its state.
        # Refused before any training when spawn_at is no checkpoint of the parent.
        per_epoch = feed.iterations_per_epoch(config, data_dir)
        spawn.check_spawn(config, config.iterations(per_epoch), per_epoch)
        train(run.parent.config, replicate=replicate, runs_dir=runs_dir, data_dir=data_dir,
              device=device, progress=progress, threads=threads)
    dev = resolve_device(device)
    if config.precision == "float16" and dev.type != "cuda":
        raise ValueError(f"precision 'float16' needs a CUDA device, got {str(dev)!r}: its loss "
                         "scaling is GPU-only; on CPU use precision='bfloat16' or 'float32'")
    trainer: _Trainer | None = None
    try:
        with run.lock(waiting=lambda holder: _say(
                f"waiting: process {holder} is training {str(run.path)!r}; this one reuses "
                "the run when it finishes, or resumes it if it stops")):
            if _reusable(run):
                return run
            run.remove_temporaries()
            trainer = _Trainer(run, dev, data_dir, progress, threads)
            trainer.fit()
    except OSError as exc:
        error = _write_error(run, exc, trainer.saved_step if trainer is not None else None)
        if error is None:
            raise
        raise error from None
    return run



def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _reusable(run: Run) -> bool:
    """Finished, with a readable summary (a damaged one is rebuilt under the lock)."""
    if not run.done:
        return False
    try:
        run.summary
    except RunFileError:
        return False
    return True


def _note_threads(run: Run, threads: int | None) -> None:
    """Say so when a finished run is reused for a request with another thread count."""
    used = run.summary.get("threads")
    if threads is not None and isinstance(used, int) and used != threads:
        _say(f"note: reusing {str(run.path)!r}, trained with {used} threads: its weights differ "
             f"from a {threads}-thread run's at float32 rounding (the thread count does not "
             "name a run)")


def _write_error(run: Run, exc: OSError, saved: int | None) -> RunFileError | None:
    """One line for a run folder that is full or not writable; None for other errors."""
    folder = run.path.parent.parent  # the runs folder: a run may fail creating its own
    if exc.filename and not os.fspath(exc.filename).startswith(os.fspath(folder)):
        return None  # not the run's file (the data's, say): its own error says more
    where = repr(exc.filename) if exc.filename else f"in {str(run.path)!r}"
    if exc.errno in _DISK_FULL:
        kept = (f"the run keeps its state at iteration {saved}" if saved is not None
                else "nothing was lost")
        return RunFileError(f"cannot write {where}: no space left on the device; {kept}: free "
                            "some space and run the same command again to resume")
    if exc.errno in _NOT_WRITABLE:
        return RunFileError(f"cannot write {where}: {exc.strerror}; make the folder writable, "
                            "or train into another folder with --runs-dir (or $LANDSCAPES_HOME)")
    if exc.errno in _NOT_A_FOLDER:
        return RunFileError(f"cannot create the run folder {where}: a file is in the way "
                            f"({exc.strerror}); --runs-dir (or $LANDSCAPES_HOME) must name a "
                            "folder")
    return None


class _Interrupts:
    """Ctrl-C takes effect between two iterations, so the state saved is a consistent one.

    The first SIGINT only sets :attr:`pending`, which the training loop checks after
    each iteration; a second one raises at once. Only the main thread can take signals,
    and a handler someone else installed is left alone.
    """

    def __init__(self) -> None:
        self.pending = False
        self.previous: Any = None

    def __enter__(self) -> _Interrupts:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True
        _say("\nstopping after this iteration (Ctrl-C again to stop at once)")

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Trainer:
    """One training run; separated from :func:`train` so each part stays small."""

    def __init__(self, run: Run, device: torch.device, data_dir: Any, progress: bool | None,
                 threads: int | None, data: feed.Data | None = None):
        from experiments.models import spec

        self.run, self.config, self.device = run, run.config, device
        self.spec = spec(self.config.model)
        # ``data``: given by benchmarks (random CIFAR-shaped images); else loaded.
        self.data = data or feed.load_data(self.config, self.spec, data_dir, device)
        self.total = self.config.iterations(self.data.per_epoch)
        # Im et al. (§4.3) start the second optimizer from the switch: keep that point.
        extra = (*self.config.checkpoints, *((self.config.switch_at,) if self.config.switch_at else ()))
        self.saves = checkpoints.schedule(self.total, self.data.per_epoch, extra)
        if self.config.spawn_at is not None:
            self.saves = spawn.check_spawn(self.config, self.total, self.data.per_epoch)
        #: Where training starts: 0, or a spawned child's ``spawn_at``.
        self.first_step = self.config.spawn_at or 0
        self.curve: Any = None
        self.progress = progress
        self.requested_threads = threads
        # How the count was chosen (free cores, load) goes into the summary's provenance.
        self.thread_choice = thread_choice(threads).to_dict()
        self.threads = self.thread_choice["threads"]
        self.saved_step: int | None = None
        self._start()

    def _start(self) -> None:
        """The model and optimizer at iteration 0."""
        from experiments.models import build

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed("init"))
            self.model = build(self.config.model)
        init = parse_init(self.config.init)
        if init is not None:
            from experiments.models import reinitialize

            reinitialize(self.model, *init, seed=self._seed("init", 1))
        self.model.to(self.device)
        self.memory_format = _memory_format(self.model, self.spec, self.device,
                                            self.config.precision)
        self.model.to(memory_format=self.memory_format)
        self.step = 0
        self.optimizer, self.schedule = self._optimizer(switched=False)
        self.scaler = torch.amp.GradScaler("cuda") if self.config.precision == "float16" else None
        self.seconds = 0.0
        #: The first iteration whose training loss was NaN or inf (None: none so far).
        self.diverged_at: int | None = None
        # The same, kept on the device while training (-1: none) and read back only when
        # the state is saved: reading a GPU's loss every step would wait for the GPU.
        self.first_bad = torch.tensor(-1, device=self.device)
        # A language model's hidden state, carried from one segment to the next within
        # an epoch as Zaremba et al. do (and saved with the resume state).
        self.hidden: tuple[torch.Tensor, ...] | None = None
        if self.run.parent is not None and not self.run.done:  # (done: rebuilds a summary)
            self._spawn()
        if self.config.curve is not None:
            self._bend()

    def _spawn(self) -> None:
        """A child starts where its parent was at ``spawn_at``, optimizer and all."""
        state = spawn.start_state(self.run)
        if state is None:
            raise spawn.no_start(self.run)
        try:
            self._apply(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            parent = self.run.parent
            raise RunFileError(f"the parent's state at iteration {self.config.spawn_at} in "
                               f"{str(parent.path)!r} does not fit the model "
                               f"({type(exc).__name__}); {parent.retrain_hint()}") from None
        self.saved_step = None

    def _bend(self) -> None:
        """A curve run trains the bend, started at the endpoints' midpoint."""
        from experiments.curves import Curve, ends

        a, b = ends(self.run)
        self.curve = Curve(self.config.curve, a, b, self.model)
        self.model.load_state_dict(self.curve.midpoint())

    def seed(self, stream: str, *counters: int) -> int:
        """The seed of a random stream at a position (:func:`experiments.store.seed`)."""
        base = {"init": self.config.init_seed, "order": self.config.data_seed,
                "augment": self.config.data_seed, "dropout": self.config.dropout_seed}[stream]
        return stream_seed(base, self.run.replicate, stream, *counters)

    def spawned(self, stream: str, *counters: int) -> int:
        """:meth:`seed` of a stream drawn after ``spawn_at``: a child's own (child ≥ 1)."""
        return self.seed(stream, *counters, *streams.counters(self.config))

    _seed = seed

    def _optimizer(self, switched: bool) -> tuple[torch.optim.Optimizer, Any]:
        from experiments.optimizers import make_optimizer
        from experiments.schedules import make_schedule, parse_steps

        c, per_epoch = self.config, self.data.per_epoch
        start = c.switch_at if switched else 0
        name = c.switch_optimizer if switched else c.optimizer
        lr = (c.switch_lr or c.lr) if switched else c.lr
        kwargs: dict[str, Any] = {"lr": lr, "weight_decay": c.weight_decay}
        if c.momentum is not None and not switched:
            kwargs["momentum"] = c.momentum
        optimizer = make_optimizer(name, self.model.parameters(), **kwargs)
        milestones = [m - start for m in parse_steps(c.milestones, per_epoch) if m > start]
        warmup = sum(parse_steps(c.warmup, per_epoch))
        schedule = make_schedule(optimizer, milestones=milestones, gamma=c.gamma,
                                 warmup=max(0, warmup - start))
        return optimizer, schedule

    # -- resuming -------------------------------------------------------------------

    def _resume(self) -> None:
        """Continue from the newest usable resume state, falling back to older ones.

        A state is usable when it loads and every checkpoint scheduled before its step
        is intact; otherwise an older state, or iteration 0, rebuilds what is missing.
        """
        states, damaged = [], []
        for path in self.run.resume_paths:
            if not path.exists():
                continue
            try:
                state = checkpoints.load(path, map_location=self.device, what="resume state")
            except RunFileError:
                damaged.append((path, checkpoints.damage(path) or "unreadable"))
                continue
            try:
                step = _step_of(state, self.total)
            except RunFileError as exc:
                damaged.append((path, str(exc)))
                continue
            states.append((step, path, state))
        states.sort(key=lambda entry: -entry[0])
        newest = states[0][0] if states else 0
        broken = next(((t, why) for t in self.saves if t < newest
                       for why in [checkpoints.damage(self.run.checkpoint_path(t))] if why), None)
        for step, path, state in states:
            if broken is not None and step > broken[0]:
                continue
            try:
                self._apply(state)
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                damaged.append((path, f"does not fit the model: {type(exc).__name__}"))
                self._start()
                continue
            self._report_resume(damaged, broken, f"iteration {step} of {self.total} ({path.name})")
            break
        else:
            if states or damaged:
                self._report_resume(damaged, broken, f"iteration {self.first_step}: the result "
                                    "is the same, it only takes longer")
        for path, _ in damaged:
            path.unlink(missing_ok=True)  # so it is never taken for the state before the next

    def _apply(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        if self.config.switch_at is not None and self.step >= self.config.switch_at:
            self.optimizer, self.schedule = self._optimizer(switched=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.seconds = float(state["seconds"])
        hidden = state.get("hidden")
        self.hidden = tuple(hidden) if hidden else None
        self.diverged_at = state.get("diverged_at")
        started = state.get("threads")
        if self.requested_threads is None and isinstance(started, int) and started >= 1:
            self.threads = started  # the same count keeps a resumed run bit-identical
            self.thread_choice = state.get("thread_choice") or {
                "threads": started, "source": "resumed", "reason": "the count the run started with"}
        elif isinstance(started, int) and started != self.threads:
            _say(f"note: {str(self.run.path)!r} started with {started} threads and continues "
                 f"with {self.threads}: its weights then differ from an uninterrupted run's at "
                 "float32 rounding")
        self.saved_step = self.step

    def _report_resume(self, damaged: list, broken: tuple[int, str] | None, where: str) -> None:
        problems = [f"resume state {str(p)!r} is damaged ({why})" for p, why in damaged]
        if broken is not None:
            t, why = broken
            problems.append(f"checkpoint {str(self.run.checkpoint_path(t))!r} is {why}")
        if problems:
            _say(f"warning: {'; '.join(problems)}; resuming from {where}")
        else:
            _say(f"resuming {str(self.run.path)!r} from {where}")

    def _read_divergence(self) -> None:
        if self.diverged_at is None and int(self.first_bad) >= 0:
            self.diverged_at = int(self.first_bad)

    def _save_resume(self, train_state: Any = None) -> None:
        """Write the resume state; at a checkpoint (``train_state`` its path) also the
        training state a child spawned there starts from (the weights are the checkpoint's)."""
        self._read_divergence()
        state = {"step": self.step, "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                 "seconds": self.seconds, "hidden": list(self.hidden or ()),
                 "threads": self.threads, "thread_choice": self.thread_choice,
                 "diverged_at": self.diverged_at}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if train_state is not None:
            checkpoints.save({k: v for k, v in state.items() if k != "model"}, train_state)
        newest, previous = self.run.resume_paths
        if newest.exists():
            # Kept until the next one: a resume state damaged later has one to fall back on.
            os.replace(newest, previous)
        checkpoints.save(state, newest)
        self.saved_step = self.step

    def _checkpoint(self) -> None:
        if self.step in self.saves:
            # Contiguous on CPU, whatever the training layout: analyses read plain tensors.
            state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
            checkpoints.save(state, self.run.checkpoint_path(self.step))
            self._save_resume(self.run.train_state_path(self.step))

    # -- training -------------------------------------------------------------------

    def fit(self) -> None:
        if self.run.done:  # a damaged summary: the run itself finished
            self._rebuild_summary()
            return
        write_json(self.run.path / "config.json", {
            "config": self.config.to_dict(), "name": self.config.name,
            "replicate": self.run.replicate, "iterations": self.total,
            "iterations_per_epoch": self.data.per_epoch, "checkpoints": self.saves,
        })
        self._resume()
        with using_threads(self.threads):
            self._loop()
            self._finish(self.seconds)

    def _loop(self) -> None:
        consistent = True
        with _Interrupts() as interrupts, Progress(
                self.total, f"train {self.config.name} r{self.run.replicate}", unit="it",
                initial=self.step, show=self.progress) as bar:
            try:
                self._checkpoint()
                started = time.perf_counter() - self.seconds
                for inputs, targets in self._batches():
                    consistent = False
                    loss = self._train_step(inputs, targets)
                    if self.diverged_at is None:
                        # Recorded, not raised: a diverged run is a result (Im et al.'s zoo
                        # has them); it trains on to the end, so every checkpoint exists.
                        keep = torch.isfinite(loss.detach()) | (self.first_bad >= 0)
                        self.first_bad = torch.where(keep, self.first_bad, self.step)
                    self.step += 1
                    if self.step == self.config.switch_at:
                        # Switched before the state at the switch is saved, so that a run
                        # resumed from it continues with the second optimizer.
                        self.optimizer, self.schedule = self._optimizer(switched=True)
                    consistent = True
                    self.seconds = time.perf_counter() - started
                    bar.advance()
                    if self.step % 50 == 0:
                        bar.note(f"loss {float(loss):.4f}")
                    self._checkpoint()
                    if interrupts.pending:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                if consistent:
                    self._save_on_interrupt()
                raise

    def _save_on_interrupt(self) -> None:
        try:
            self._save_resume()
        except OSError as exc:
            _say(f"could not save the state at iteration {self.step} ({exc.strerror}: "
                 f"{exc.filename!r}); the run resumes from iteration {self.saved_step or 0}")

    def _finish(self, seconds: float | None) -> None:
        """Measure the final network and write the summary; ``seconds`` None: rebuilt."""
        self._read_divergence()
        epochs = self.config.epochs
        if self.first_step:  # a child trains from spawn_at only
            epochs = (self.total - self.first_step) / self.data.per_epoch
        per_epoch = None if seconds is None or epochs <= 0 else seconds / max(epochs, 1e-12)
        summary = {"iterations": self.total, "epochs": self.config.epochs,
                   "seconds": seconds, "seconds_per_epoch": per_epoch,
                   "device": str(self.device), "torch": torch.__version__,
                   "precision": self.config.precision,
                   "threads": self.threads if seconds is not None else None,
                   "thread_choice": self.thread_choice if seconds is not None else None,
                   # unknown (None) in a summary rebuilt from the final checkpoint
                   "diverged_at": self.diverged_at,
                   "memory_format": "channels_last" if self.memory_format is torch.channels_last
                   else "contiguous"}
        # A curve is measured at its midpoint θ(½), not at its bend (off the curve).
        net = self.model if self.curve is None else self.curve.at(self.model, 0.5)
        if self.curve is not None:
            summary["curve_t"] = 0.5
        for split in ("train", "test"):
            loss, accuracy = _measure(net, getattr(self.data, split), self.data.task,
                                      self.device, self.memory_format)
            summary[f"{split}_loss"], summary[f"{split}_accuracy"] = loss, accuracy
        write_json(self.run.summary_path, summary)
        for path in self.run.resume_paths:
            path.unlink(missing_ok=True)

    def _rebuild_summary(self) -> None:
        final = self.run.checkpoint_path(self.total)
        why = checkpoints.damage(final)
        summary = str(self.run.summary_path)
        if why is not None:
            raise RunFileError(f"summary {summary!r} is damaged and the final checkpoint "
                               f"{str(final)!r} is {why}; {self.run.retrain_hint()}")
        _say(f"warning: summary {summary!r} is damaged; rebuilding it from the final "
             "checkpoint (the training time is lost)")
        self.model.load_state_dict(checkpoints.load(final, map_location=self.device))
        with using_threads(self.threads):
            self._finish(None)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.config.precision))

    def _train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.model.train()
        dropout = self.spawned("dropout", self.step)

        carried: list[Any] = []

        def closure() -> torch.Tensor:
            # Reseeding makes a Runge–Kutta optimizer's second gradient use the same
            # dropout mask as its first, and makes a resumed run draw the same masks.
            torch.manual_seed(dropout)
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                if self.data.task == "language_model":
                    outputs, state = self.model(inputs, state=self.hidden, return_state=True)
                    carried.append(state)
                elif self.curve is not None:
                    # t ~ U[0, 1] from the generator just reseeded: the same on resuming.
                    outputs = self.curve.forward(self.model, inputs, float(torch.rand(())))
                else:
                    outputs = self.model(inputs)
                loss = _loss(outputs, targets, self.data.task)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                loss.backward()
            if self.config.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
            return loss

        if self.scaler is not None:
            loss = closure()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss = self.optimizer.step(closure)
        self.schedule.step()
        if carried:
            # The state the segment ended in at the parameters it started from.
            self.hidden = tuple(t.detach() for t in carried[0])
        return loss.detach()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Minibatches from ``self.step`` on, the same ones whether resumed or not."""
        return feed.batches(self)


def _memory_format(model: nn.Module, spec: Any, device: torch.device,
                   precision: str) -> torch.memory_format:
    """Channels-last for a net with 2-D convolutions on images on CPU (or on CUDA in half
    precision, where tensor cores want it), else contiguous.

    oneDNN's CPU convolutions run fastest channels-last: ResNet-20 trains 1.3× faster
    with 1 thread (``python -m benchmarks.training``, settings timed in turn on a shared
    2-core machine). The results are not bit-identical to
    the contiguous layout's: the kernels sum in another order, and channels-last batch
    norm's backward pass is less precise. Measured on ResNet-20 at initialisation (batch
    64), the first update is 2.2e-3 (contiguous) and 2.7e-3 to 6.8e-3 (channels-last, 2
    and 1 threads) from the float64 one, relative to its size: float32's own error here,
    which batch norm amplifies, not a larger one. Dropout on feature maps draws its mask
    in memory order, so the same seed drops other units than the contiguous layout would.
    The choice depends on the model, device and precision only, so a run is reproducible.
    """
    images = spec.task == "classification" and len(spec.input_shape) == 3
    wanted = device.type == "cpu" or precision != "float32"
    if images and wanted and any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return torch.channels_last
    return torch.contiguous_format


def _step_of(state: Any, total: int) -> int:
    """The step of a loaded resume state, checked: a state is a dict with every part."""
    parts = ("step", "model", "optimizer", "schedule", "seconds")
    if not isinstance(state, dict) or any(k not in state for k in parts):
        raise RunFileError("not a resume state: parts are missing")
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= total:
        raise RunFileError(f"step {step!r} is not in 0…{total}")
    return step


def _loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    if task == "language_model":
        outputs, targets = outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1)
    return nn.functional.cross_entropy(outputs.float(), targets)




@torch.no_grad()
def _measure(model: nn.Module, split: Any, task: str, device: torch.device,
             memory_format: torch.memory_format = torch.contiguous_format) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on a whole split, in eval mode, in float32."""
    model.eval()
    total = correct = 0
    loss = 0.0
    for inputs, targets in feed.eval_batches(split, task):
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs.contiguous(memory_format=memory_format))
        count = targets.numel()
        loss += float(_loss(outputs, targets, task)) * count
        correct += int((outputs.argmax(-1) == targets).sum())
        total += count
    return loss / max(total, 1), correct / max(total, 1)

