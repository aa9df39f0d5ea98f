"""Wrappers of point measures (:mod:`landscapes.engine.point_measures`)."""

from __future__ import annotations

import torch

from landscapes.engine.point_measures import FirstExamples


def test_first_examples_cut_batches_at_n_and_reiterate():
    batches = [(torch.arange(4), torch.arange(4)), (torch.arange(4, 8), torch.arange(4, 8))]
    cut = FirstExamples(batches, 6)
    for _ in range(2):
        got = list(cut)
        assert [len(y) for _, y in got] == [4, 2]
        assert torch.cat([y for _, y in got]).tolist() == list(range(6))
