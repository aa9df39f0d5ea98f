"""Command line of training: ``python -m experiments.train mnist_mlp --replicates 3``.

``--list`` lists the experiments and ``--help`` every hyperparameter (a flag per
:class:`~experiments.config.TrainConfig` field, from :mod:`landscapes.flags`). The
replicates train in this process one after another, or with ``--workers`` /
``--scheduler`` as tasks on a Dask cluster, through the one loop of
:mod:`experiments.replicates`.

The training itself is :mod:`experiments.trainer` and its data plumbing
:mod:`experiments.feed`; their public names are re-exported here, so that
``from experiments.train import train`` keeps working.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from experiments.checkpoints import RunFileError
from experiments.config import TrainConfig
from experiments.feed import BPTT_STEPS, EVAL_BATCH, iterations_per_epoch
from experiments.feed import Data as _Data  # noqa: F401 -- the trainer's data, for tests
from experiments.replicates import train_replicates
from experiments.store import Run
from experiments.trainer import _Trainer, train  # noqa: F401 -- _Trainer: tests patch it
from landscapes.flags import add_flags, given

__all__ = ["train", "train_replicates", "iterations_per_epoch", "main", "RunFileError",
           "BPTT_STEPS", "EVAL_BATCH"]


class _Parser:
    """argparse, with errors in one line (``error: ...``, exit status 2)."""

    @staticmethod
    def make(**kwargs: Any) -> Any:
        import argparse

        class OneLine(argparse.ArgumentParser):
            def error(self, message: str) -> Any:
                print(f"error: {message}", file=sys.stderr)
                raise SystemExit(2)

        return OneLine(**kwargs)


def _parser(config: TrainConfig | None = None, name: str | None = None) -> Any:
    """The parser; its help shows ``config``'s values (the experiment ``name``) if given."""
    import argparse

    parser = _Parser.make(
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
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: the cores free when training starts, at "
                             "least 1, so a shared machine does not stall training and an idle "
                             "one is used in full; a resumed run keeps its count; the summary "
                             "records the choice). Does not change which run a config names.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: a bar on a terminal, else a line on "
                             "stderr every tenth of the run or minute)")
    from landscapes.cluster import add_cluster_flags

    add_cluster_flags(parser)
    if config is None:
        title = ("hyperparameters (in brackets: the class defaults; each experiment sets its "
                 "own, shown by `python -m experiments.train <experiment> --help`)")
    else:
        title = f"hyperparameters (default: the values of experiment {name!r}, in brackets)"
    # Not given: UNSET, so 'none' can override a value.
    add_flags(parser, TrainConfig, defaults=config, title=title, exclude=("model",),
              label="class default" if config is None else name)
    return parser


def _named_experiment(argv: list[str]) -> str | None:
    """The experiment named in ``argv`` (the first word that is no option or option value)."""
    takes_value = {option for action in _parser()._actions if action.nargs != 0
                   for option in action.option_strings}
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word.startswith("-"):
            if word in takes_value:
                next(words, None)
            continue
        return word
    return None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    from experiments.config import describe_experiments, experiment

    argv = sys.argv[1:] if argv is None else list(argv)
    named = _named_experiment(argv)
    try:
        shown = experiment(named) if named is not None else None
    except ValueError:
        shown = None  # reported below, after parsing
    parser = _parser(shown, named)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0)
    if args.list:
        rows = describe_experiments()
        width = max(len(name) for name, _ in rows)
        for name, line in rows:
            print(f"{name:<{width}}  {line}")
        return 0
    if args.experiment is None:
        print("error: name an experiment (see --list)", file=sys.stderr)
        return 2
    if args.replicates < 1:
        print(f"error: --replicates must be ≥ 1, got {args.replicates!r}", file=sys.stderr)
        return 2
    overrides = given(args, TrainConfig)
    try:
        config = experiment(args.experiment, **overrides)
        for r, run in enumerate(_train_all(config, args)):
            s = run.summary
            pace = ("training time unknown" if s.get("seconds_per_epoch") is None
                    else f"{s['seconds_per_epoch']:.1f} s/epoch")
            print(f"replicate {r}: {run.path}\n  train accuracy {s['train_accuracy']:.4f}, "
                  f"test accuracy {s['test_accuracy']:.4f}, {pace} over {s['iterations']} "
                  f"iterations ({s.get('precision', 'float32')}, {_threads(s.get('threads'))})")
            chosen = s.get("thread_choice")
            if isinstance(chosen, dict) and chosen.get("source") == "default":
                print(f"  {chosen.get('reason')}")
            if s.get("diverged_at") is not None:
                print(f"  diverged: the training loss was NaN or inf from iteration "
                      f"{s['diverged_at']} on")
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the run saved its state and resumes when you run the same "
              "command again", file=sys.stderr)
        return 130
    return 0


def _threads(count: Any) -> str:
    return f"{count} thread{'' if count == 1 else 's'}" if isinstance(count, int) else "threads unknown"


def _train_all(config: TrainConfig, args: Any) -> Iterator[Run]:
    """The replicates in this process, one after another, or as tasks on a Dask cluster."""
    from experiments.replicates import InProcess, iter_replicates
    from landscapes.cluster import open_cluster, task_threads

    if args.workers is None and args.scheduler is None:
        yield from iter_replicates(config, args.replicates, place=InProcess(
            runs_dir=args.runs_dir, data_dir=args.data_dir, device=args.device,
            progress=args.progress, threads=args.threads))
        return
    from experiments.remote import Workers

    if all(Run(config, r, args.runs_dir).done for r in range(args.replicates)):
        yield from (Run(config, r, args.runs_dir) for r in range(args.replicates))
        return  # nothing to train: no cluster to start
    with open_cluster(args.workers, args.scheduler, threads=args.threads,
                      quiet=args.progress is False) as cluster:
        place = Workers(cluster.client, runs_dir=args.runs_dir, data_dir=args.data_dir,
                        device=cluster.device(args.device),
                        threads=task_threads(args.threads, True), progress=args.progress,
                        desc=f"train {config.name}")
        yield from iter_replicates(config, args.replicates, place=place)


if __name__ == "__main__":
    sys.exit(main())
