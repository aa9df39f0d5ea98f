"""Reproducible training with checkpoints, resumable, reusing finished runs.

``train(config, replicate=r)`` returns the :class:`~experiments.store.Run` for that
config and replicate: a finished one is reused as it is, an interrupted one (Ctrl-C,
kill) resumes from its last checkpoint, and either way it ends with the same weights
an uninterrupted run would have. That holds because every random stream is a pure
function of (seed, replicate, position): the minibatch order of each epoch, the
augmentation and the dropout masks of each iteration are drawn from generators
seeded afresh, so nothing but the model, the optimizer and the step has to be saved.

Command line: ``python -m experiments.train mnist_mlp --replicates 3``; ``--list``
lists the experiments and ``--help`` every hyperparameter.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from experiments import checkpoints
from experiments.config import TrainConfig, parse_init
from experiments.store import Run, seed, write_json
from landscapes.devices import resolve_device

__all__ = ["train", "train_replicates", "iterations_per_epoch", "main"]

#: Examples per forward pass when measuring the final accuracies.
EVAL_BATCH = 1000
#: Time steps per truncated-backpropagation segment for language models (Zaremba et al.).
BPTT_STEPS = 35


def train(
    config: TrainConfig,
    *,
    replicate: int = 0,
    runs_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    progress: bool | None = None,
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
        Progress bar; default on when stderr is a terminal.

    Returns
    -------
    Run
        Finished; ``run.init``, ``run.final``, ``run.state(t)``, ``run.summary``.
    """
    run = Run(config, replicate, runs_dir)
    if run.done:
        return run
    dev = resolve_device(device)
    if config.precision != "float32" and dev.type != "cuda":
        raise ValueError(f"precision {config.precision!r} needs a CUDA device, got {str(dev)!r}; "
                         "use precision='float32' on CPU")
    _Trainer(run, dev, data_dir, progress).fit()
    return run


def train_replicates(config: TrainConfig, replicates: int, **kwargs: Any) -> list[Run]:
    """:func:`train` for replicates 0 … ``replicates`` − 1."""
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"replicates must be an integer ≥ 1, got {replicates!r}")
    return [train(config, replicate=r, **kwargs) for r in range(replicates)]


@dataclass
class _Data:
    """Training and test data in the form the model's task needs."""

    task: str
    train: Any
    test: Any
    per_epoch: int


class _Trainer:
    """One training run; separated from :func:`train` so each part stays small."""

    def __init__(self, run: Run, device: torch.device, data_dir: Any, progress: bool | None):
        from experiments.models import build, spec

        self.run, self.config, self.device = run, run.config, device
        self.spec = spec(self.config.model)
        self.data = _load_data(self.config, self.spec, data_dir, device)
        self.total = self.config.iterations(self.data.per_epoch)
        self.saves = checkpoints.schedule(self.total, self.data.per_epoch, self.config.checkpoints)
        self.show = sys.stderr.isatty() if progress is None else progress
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed("init"))
            self.model = build(self.config.model)
        init = parse_init(self.config.init)
        if init is not None:
            from experiments.models import reinitialize

            reinitialize(self.model, *init, seed=self._seed("init", 1))
        self.model.to(device)
        self.step = 0
        self.optimizer, self.schedule = self._optimizer(switched=False)
        self.scaler = torch.amp.GradScaler("cuda") if self.config.precision == "float16" else None
        self.seconds = 0.0
        # A language model's hidden state, carried from one segment to the next within
        # an epoch as Zaremba et al. do (and saved with the resume state).
        self.hidden: tuple[torch.Tensor, ...] | None = None

    def _seed(self, stream: str, *counters: int) -> int:
        base = {"init": self.config.init_seed, "order": self.config.data_seed,
                "augment": self.config.data_seed, "dropout": self.config.dropout_seed}[stream]
        return seed(base, self.run.replicate, stream, *counters)

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

    def _resume(self) -> None:
        path = self.run.path / "resume.pt"
        if not path.exists():
            return
        state = checkpoints.load(path, map_location=self.device)
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

    def _save_resume(self) -> None:
        state = {"step": self.step, "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                 "seconds": self.seconds, "hidden": list(self.hidden or ())}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        checkpoints.save(state, self.run.path / "resume.pt")

    def _checkpoint(self) -> None:
        if self.step in self.saves:
            state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
            checkpoints.save(state, self.run.checkpoint_path(self.step))
            self._save_resume()

    def fit(self) -> None:
        write_json(self.run.path / "config.json", {
            "config": self.config.to_dict(), "name": self.config.name,
            "replicate": self.run.replicate, "iterations": self.total,
            "iterations_per_epoch": self.data.per_epoch, "checkpoints": self.saves,
        })
        self._resume()
        self._checkpoint()
        bar = tqdm(total=self.total, initial=self.step, disable=not self.show, unit="it",
                   desc=f"train {self.config.name} r{self.run.replicate}")
        started = time.perf_counter() - self.seconds
        try:
            for inputs, targets in self._batches():
                if self.config.switch_at is not None and self.step == self.config.switch_at:
                    self.optimizer, self.schedule = self._optimizer(switched=True)
                loss = self._train_step(inputs, targets)
                self.step += 1
                self.seconds = time.perf_counter() - started
                bar.update()
                if self.step % 50 == 0:
                    bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
                self._checkpoint()
        except KeyboardInterrupt:
            # Between two steps the state is consistent: save it so the run resumes here.
            self._save_resume()
            bar.close()
            raise
        bar.close()
        summary = {"iterations": self.total, "epochs": self.config.epochs,
                   "seconds": self.seconds,
                   "seconds_per_epoch": self.seconds / max(self.config.epochs, 1e-12),
                   "device": str(self.device), "torch": torch.__version__}
        for split in ("train", "test"):
            loss, accuracy = _measure(self.model, getattr(self.data, split), self.data.task,
                                      self.device)
            summary[f"{split}_loss"], summary[f"{split}_accuracy"] = loss, accuracy
        write_json(self.run.path / "summary.json", summary)
        (self.run.path / "resume.pt").unlink(missing_ok=True)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=getattr(torch, self.config.precision))

    def _train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.model.train()
        dropout = self._seed("dropout", self.step)

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
        if self.data.task == "language_model":
            yield from self._segments()
            return
        train_set = self.data.train
        x, y = train_set if isinstance(train_set, tuple) else (train_set, None)
        n = len(y) if y is not None else len(train_set)
        if self.config.train_examples is not None:
            n = min(n, self.config.train_examples)
        size, per_epoch = self.config.batch_size, self.data.per_epoch
        while self.step < self.total:
            epoch, first = divmod(self.step, per_epoch)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(
                self._seed("order", epoch)))
            for i in range(first, per_epoch):
                if self.step >= self.total:
                    return
                index = order[i * size:(i + 1) * size]
                if isinstance(x, torch.Tensor):
                    index = index.to(x.device)
                    inputs, targets = x[index], y[index]
                else:
                    inputs, targets = _gather(x, index)
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                if self.config.augment:
                    inputs = self._augment(inputs)
                yield inputs, targets

    def _augment(self, inputs: torch.Tensor) -> torch.Tensor:
        from experiments.data import augment_cifar

        generator = torch.Generator(device=inputs.device).manual_seed(
            self._seed("augment", self.step))
        return augment_cifar(inputs, generator)

    def _segments(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Zaremba et al.: the token stream cut into batch_size parallel rows, read in order
        # in segments of BPTT_STEPS; the data order has no randomness.
        rows = self.data.train
        while self.step < self.total:
            i = self.step % self.data.per_epoch
            if i == 0:
                self.hidden = None
            chunk = rows[:, i * BPTT_STEPS:(i + 1) * BPTT_STEPS + 1]
            yield chunk[:, :-1], chunk[:, 1:]


def _loss(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    if task == "language_model":
        outputs, targets = outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1)
    return nn.functional.cross_entropy(outputs.float(), targets)


def _gather(dataset: Any, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    items = [dataset[int(i)] for i in index]
    return torch.stack([a for a, _ in items]), torch.as_tensor([int(b) for _, b in items])


def _load_data(config: TrainConfig, spec: Any, data_dir: Any, device: torch.device) -> _Data:
    from experiments import data

    if spec.task == "language_model":
        train_ids, _ = data.load(spec.dataset, "train", data_dir=data_dir)
        test_ids, _ = data.load(spec.dataset, "test", data_dir=data_dir)
        if config.train_examples is not None:
            train_ids = train_ids[: config.train_examples]
        rows = data.batchify(train_ids, config.batch_size).to(device)
        per_epoch = (rows.shape[1] - 1) // BPTT_STEPS
        if per_epoch < 1:
            raise ValueError(f"the {spec.dataset!r} training text is too short for one "
                             f"segment of {BPTT_STEPS} tokens at batch {config.batch_size}")
        test = data.batchify(test_ids, 10).to(device)
        return _Data(spec.task, rows, test, per_epoch)
    train_set = data.load(spec.dataset, "train", data_dir=data_dir, device=device)
    test_set = data.load(spec.dataset, "test" if "test" in data.SPLITS[spec.dataset] else "val",
                         data_dir=data_dir, device=device)
    if isinstance(train_set, tuple):
        n = len(train_set[1])
        if config.train_examples is not None:
            n = min(n, config.train_examples)
            train_set = (train_set[0][:n], train_set[1][:n])
    else:
        n = len(train_set) if config.train_examples is None else min(len(train_set),
                                                                     config.train_examples)
    return _Data(spec.task, train_set, test_set, math.ceil(n / config.batch_size))


def iterations_per_epoch(config: TrainConfig, data_dir: Any = None) -> int:
    """Iterations in one epoch of ``config`` (reads the training set's size)."""
    from experiments.models import spec

    return _load_data(config, spec(config.model), data_dir, torch.device("cpu")).per_epoch


@torch.no_grad()
def _measure(model: nn.Module, split: Any, task: str, device: torch.device) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on a whole split, in eval mode."""
    model.eval()
    total = correct = 0
    loss = 0.0
    if task == "language_model":
        batches = ((split[:, i:i + BPTT_STEPS], split[:, i + 1:i + 1 + BPTT_STEPS])
                   for i in range(0, split.shape[1] - 1 - BPTT_STEPS + 1, BPTT_STEPS))
    elif isinstance(split, tuple):
        x, y = split
        batches = ((x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]) for i in range(0, len(y), EVAL_BATCH))
    else:
        batches = iter(torch.utils.data.DataLoader(split, batch_size=64,
                                                   num_workers=min(8, os.cpu_count() or 1)))
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        count = targets.numel()
        loss += float(_loss(outputs, targets, task)) * count
        correct += int((outputs.argmax(-1) == targets).sum())
        total += count
    return loss / max(total, 1), correct / max(total, 1)


def _field_type(annotation: str) -> Any:
    base = str(annotation).split(" |")[0]
    if base == "bool":
        return lambda text: _parse_bool(text)
    if base.startswith("tuple"):
        return lambda text: tuple(int(t) for t in text.split(",") if t.strip())
    return {"float": float, "int": int}.get(base, str)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parser() -> Any:
    import argparse
    from dataclasses import fields

    parser = argparse.ArgumentParser(
        prog="python -m experiments.train",
        description="Train a named experiment with the papers' hyperparameters (override any "
                    "of them below); finished runs are reused, interrupted ones resumed.",
    )
    parser.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--replicates", type=int, default=1, help="replicates to train (default 1)")
    parser.add_argument("--runs-dir", help="run store (default $LANDSCAPES_HOME/runs or "
                        "~/.cache/landscapes/runs)")
    parser.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA, "
                        "$LANDSCAPES_HOME/data or ~/.cache/landscapes/data)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: when on a terminal)")
    group = parser.add_argument_group("hyperparameters (default: the experiment's)")
    for f in fields(TrainConfig):
        if f.name == "model":
            continue
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None,
                           type=_field_type(f.type), metavar=str(f.type).split(" |")[0].upper(),
                           help=f"{f.metadata['help']} [class default: {f.default!r}]")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    from dataclasses import fields

    from experiments.config import describe_experiments, experiment

    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        rows = describe_experiments()
        width = max(len(name) for name, _ in rows)
        for name, line in rows:
            print(f"{name:<{width}}  {line}")
        return 0
    if args.experiment is None:
        parser.error("name an experiment (see --list)")
    if args.replicates < 1:
        parser.error(f"--replicates must be ≥ 1, got {args.replicates!r}")
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
                 if f.name != "model" and getattr(args, f.name) is not None}
    try:
        config = experiment(args.experiment, **overrides)
        for r in range(args.replicates):
            run = train(config, replicate=r, runs_dir=args.runs_dir, data_dir=args.data_dir,
                        device=args.device, progress=args.progress)
            s = run.summary
            print(f"replicate {r}: {run.path}\n  train accuracy {s['train_accuracy']:.4f}, "
                  f"test accuracy {s['test_accuracy']:.4f}, "
                  f"{s['seconds_per_epoch']:.1f} s/epoch over {s['iterations']} iterations")
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the run saved its state and resumes when you run the same "
              "command again", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
