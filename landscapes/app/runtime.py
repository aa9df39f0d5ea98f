"""Where and how a study runs (:class:`Runtime`): choices that change no result.

Kept apart from :mod:`landscapes.app.settings`, whose :class:`~landscapes.app.settings.Budget`
is composed from every registered analysis: the executor and the systems below the
analyses read a runtime without importing them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    """Where and how a study runs: choices that change no result beyond rounding.

    The device type and the CPU thread count do change floating-point rounding (MKL and
    oneDNN split their sums by thread; see :func:`landscapes.devices.resolve_threads`),
    so network systems add both to their cache keys; the folders and the progress
    output change nothing.
    """

    device: str = "cpu"
    data_dir: str | os.PathLike | None = None
    runs_dir: str | os.PathLike | None = None
    progress: bool | None = None
    threads: int | None = None
    #: Where the work runs (:mod:`landscapes.app.executor`): set by a :class:`Study`
    #: given a Dask client; ``None`` runs everything in this process.
    executor: Any = field(default=None, compare=False, repr=False)
