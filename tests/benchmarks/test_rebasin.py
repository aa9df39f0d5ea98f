"""The rebasin peer benchmark's code on a tiny MLP pair (nothing timed against a threshold)."""

from __future__ import annotations

import math

import torch
from torch import nn

from benchmarks.rebasin import Pair, compare, markdown


def _pair() -> Pair:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    a = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    b = {k: v.clone() for k, v in
         nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)).state_dict().items()}
    x, y = torch.randn(64, 12), torch.randint(0, 3, (64,))
    return Pair("tiny", model, a, b, (x, y))


def test_a_row_measures_both_methods_or_says_why_the_peer_failed() -> None:
    row = compare(_pair(), repeats=1)
    # Ours permutes b without changing its function; its barrier is a real number.
    assert row["ours_function_error"] < 1e-5
    assert math.isfinite(row["barrier_before"]) and math.isfinite(row["barrier_ours"])
    if row["rebasin_error"]:
        assert math.isnan(row["barrier_rebasin"])
        assert "failed" in markdown([row])
    else:
        assert math.isfinite(row["barrier_rebasin"]) and row["rebasin_s"] > 0
    assert markdown([row]).count("\n") == 2
