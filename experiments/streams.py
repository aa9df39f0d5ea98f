"""A spawned child's random streams (:mod:`experiments.spawn`), apart from the spawning.

Every stream of a run is a pure function of (seed, replicate, position)
(:mod:`experiments.trainer`); child c ≥ 1 of a spawn at iteration k appends
(:data:`SPAWN`, k, c) to the counters of every stream it draws, so its data order,
augmentation and dropout masks from k on are its own, and still the same on resuming.
"""

from __future__ import annotations

from typing import Any

import torch

from experiments.config import TrainConfig

__all__ = ["SPAWN", "counters", "epoch_order"]

#: Marks a child's seeds: no position counter is negative, so a child's streams never
#: coincide with a run's own.
SPAWN = -1


def counters(config: TrainConfig) -> tuple[int, ...]:
    """What a child appends to the counters of its seeds (none for a parent or child 0)."""
    if not config.spawn_child:
        return ()
    return (SPAWN, int(config.spawn_at), int(config.spawn_child))


def epoch_order(at: Any, epoch: int, n: int) -> torch.Tensor:
    """The order of the ``n`` examples in ``epoch``; ``at`` is an
    :class:`experiments.feed.Position`.

    A run's own permutation; for child c ≥ 1, its own from the epoch after the spawn, and
    in the epoch of the spawn the parent's first part (seen before k) followed by the
    rest in the child's order.
    """
    own = torch.randperm(n, generator=torch.Generator().manual_seed(at.seed("order", epoch)))
    extra = counters(at.config)
    if not extra:
        return own
    spawn_epoch, first = divmod(at.config.spawn_at, at.data.per_epoch)
    if epoch < spawn_epoch:
        return own  # never drawn: a child starts at spawn_at
    generator = torch.Generator().manual_seed(at.seed("order", epoch, *extra))
    if epoch > spawn_epoch or first == 0:
        return torch.randperm(n, generator=generator)
    # The parent saw own[:cut] in this epoch before k; the rest, in a new order.
    cut = min(n, first * at.config.batch_size)
    rest = own[cut:]
    return torch.cat([own[:cut], rest[torch.randperm(len(rest), generator=generator)]])


