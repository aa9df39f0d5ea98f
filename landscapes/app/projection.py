"""How long a study will take on this machine, projected from a seconds-long calibration.

Before a long run starts, each network system is timed on this machine: a few training
steps at its batch size, and forward passes over evaluation examples. The projection
multiplies those rates by the work the budget asks for -- iterations still to train
(runs finished in the store cost nothing), points × examples × splits to evaluate -- so
the user sees the bill before paying it. Closed forms are counted as free.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from landscapes.app.analyses import Analysis, get_analysis
from landscapes.app.analyses.base import Plan
from landscapes.app.settings import Budget, Runtime
from landscapes.app.systems import (
    NetworkSystem,
    epoch_length,
    frankle_iterations,
    get_system,
    log_spaced,
)

__all__ = ["Projection", "project"]

#: Timed training steps and evaluation passes per system (after one warm-up each).
STEPS = 3


@dataclass
class Projection:
    """Projected seconds of training and evaluation, and what calibrating cost."""

    training: float
    evaluation: float
    calibration: float

    @property
    def total(self) -> float:
        return self.training + self.evaluation

    def __str__(self) -> str:
        return (f"projected {_duration(self.total)} on this machine (training "
                f"{_duration(self.training)}, evaluation {_duration(self.evaluation)}; from a "
                f"{self.calibration:.0f} s calibration)")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def project(pairs: Collection[tuple[str, str]], budget: Budget, runtime: Runtime) -> Projection:
    """Projected time of computing ``pairs`` (system, analysis) under ``budget``."""
    start = time.perf_counter()
    training = evaluation = 0.0
    for name in dict.fromkeys(s for s, _ in pairs):
        system = get_system(name)
        if not isinstance(system, NetworkSystem):
            continue
        analyses = [get_analysis(a) for s, a in pairs if s == name]
        train_rate, eval_rate, per_epoch = _calibrate(system, budget, runtime)
        config = system.config_for(budget, runtime)
        total = config.iterations(per_epoch)
        training += train_rate * total * _unfinished(system, budget, runtime)
        training += train_rate * total * _unfinished_variants(system, analyses, budget,
                                                              runtime, total)
        examples = _examples(system, budget, runtime)
        points = sum(_points(a, budget, total, per_epoch) for a in analyses)
        evaluation += eval_rate * examples * points * budget.replicates
    return Projection(training, evaluation, time.perf_counter() - start)


def _unfinished(system: NetworkSystem, budget: Budget, runtime: Runtime) -> int:
    from experiments.store import Run

    config = system.config_for(budget, runtime, budget.trajectory_points)
    return sum(not Run(config, r, runtime.runs_dir).done for r in range(budget.replicates))


def _unfinished_variants(system: NetworkSystem, analyses: list[Any], budget: Budget,
                         runtime: Runtime, total: int) -> float:
    """Runs the analyses train besides the system's own and the store lacks, in units of
    one plain run: a Runge–Kutta step takes two gradients, so it counts twice, and a
    child spawned at iteration k trains only the last total − k iterations."""
    from experiments.store import Run
    from landscapes.app.analyses.base import variant_replicates

    config = system.config_for(budget, runtime, budget.trajectory_points)
    seen: dict[str, float] = {}
    for analysis in analyses:
        for entry in analysis.variants(config, total, budget):
            changes, count = variant_replicates(entry, budget.replicates)
            variant = config.replace(**changes)
            cost = 2.0 if variant.optimizer.startswith("rk_") else 1.0
            # (a curve's bend trains for its own epochs: priced per iteration of the system's)
            cost *= variant.epochs / config.epochs
            if variant.spawn_at is not None:
                cost *= max(total - variant.spawn_at, 0) / max(total, 1)
            seen[variant.name] = cost * sum(not Run(variant, r, runtime.runs_dir).done
                                            for r in range(count))
    seen.pop(config.name, None)  # the system's own runs are counted already
    return sum(seen.values())


def _examples(system: NetworkSystem, budget: Budget, runtime: Runtime) -> int:
    from experiments import data

    total = 0
    for split in budget.splits:
        _, y = data.load(system.dataset, split, data_dir=runtime.data_dir)
        total += len(y) if budget.eval_examples is None else min(len(y), budget.eval_examples)
    return total


def _points(analysis: Analysis, budget: Budget, total: int, per_epoch: int) -> float:
    """Cost of one replicate's path in points, as the analysis declares it: its count
    (checkpoint schedules estimated from the length) times its cost per point."""
    from experiments.checkpoints import schedule

    saved = schedule(total, per_epoch)
    plan = Plan(total=total, per_epoch=per_epoch, checkpoints=tuple(saved),
                starts=tuple(log_spaced(frankle_iterations(saved, total), budget.max_starts)))
    return analysis.count_points(budget, plan) * analysis.cost


def _calibrate(system: NetworkSystem, budget: Budget, runtime: Runtime) -> tuple[float, float, int]:
    """Seconds per training iteration, per example evaluated, and iterations per epoch."""
    import torch

    from experiments import data
    from experiments.models import build
    config = system.config_for(budget, runtime)
    per_epoch = epoch_length(config, runtime.data_dir)
    if system.task == "language_model":  # no cheap stand-in: count it as MNIST-sized work
        return 0.05, 1e-4, per_epoch
    x, y = data.load(system.dataset, "train", data_dir=runtime.data_dir)
    model = build(config.model).to(runtime.device)
    batch = x[:config.batch_size].to(runtime.device), y[:config.batch_size].to(runtime.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    for i in range(STEPS + 1):
        if i == 1:
            tick = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
        optimizer.step()
    train_rate = (time.perf_counter() - tick) / STEPS
    model.eval()
    examples = x[:1000].to(runtime.device)
    with torch.no_grad():
        for i in range(STEPS + 1):
            if i == 1:
                tick = time.perf_counter()
            model(examples)
    eval_rate = (time.perf_counter() - tick) / STEPS / len(examples)
    return train_rate, eval_rate, per_epoch
