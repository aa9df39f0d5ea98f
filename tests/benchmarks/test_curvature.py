"""The curvature benchmark's code on a tiny model (nothing timed against a threshold)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.curvature import compare


def test_rows_for_every_thread_setting_and_estimator():
    pytest.importorskip("pyhessian")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    rows = compare("tiny", model, x, y, 20, repeats=1, threads=[1], ph_iters=5)
    names = [r["row"] for r in rows]
    assert names[0] == "one HVP / one gradient" and "λ_max at equal accuracy" in names
    assert sum(n.startswith("trace") for n in names) == 2
    assert all(set(r) == {"model", "threads", "row", "ours", "pyhessian", "speedup"} for r in rows)
