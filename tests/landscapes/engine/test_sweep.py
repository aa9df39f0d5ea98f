"""The data pass's progress: integer counts, no tqdm warning (issue 13, item 10)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import torch
from torch import nn

from landscapes import evaluate, paths


def test_progress_counts_whole_batches_without_warnings(capsys):
    # 7 points over 6 batches: 7/6 added six times is 7.000000000000001 > 7, which made
    # tqdm warn "clamping frac" and print a float count.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3))
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: v + 1 for k, v in a.items()}
    x, y = torch.randn(24, 4), torch.randint(0, 3, (24,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(net, paths.linear(a, b, np.linspace(0, 1, 7)), (x, y), device="cpu",
                 batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and not re.search(r"\d\.\d{6,}", err)
