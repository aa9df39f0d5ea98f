"""The memory budget and the chunk plan drawn from it."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from landscapes.engine.memory import CPU_BUDGET, default_budget, plan

sizes = st.integers(min_value=1, max_value=10**6)


@given(budget=st.integers(1, 10**10), n_points=st.integers(1, 10**4), batch=st.integers(1, 10**5),
       q=sizes, e=sizes, s=st.integers(0, 10**6))
def test_plan_fits_the_budget_whenever_one_example_at_one_point_does(budget, n_points, batch, q, e, s):
    points, examples = plan(budget, n_points, batch, q, e, s)
    assert 1 <= points <= n_points
    assert 1 <= examples <= batch
    used = points * (q + examples * e) + examples * s
    if q + e + s <= budget:
        assert used <= budget
    # n is as large as one point allows: one more example would not fit, or the batch is whole
    assert examples == batch or q + (examples + 1) * (e + s) > budget
    # P is as large as the budget allows at that n
    assert points == n_points or (points + 1) * (q + examples * e) + examples * s > budget or points == 1


def test_plan_takes_whole_batches_before_more_points():
    # room for 10 points at 100 examples or 1 point at 1000: the batch wins
    assert plan(budget=1000 * 10 + 10, n_points=50, batch=1000, point_bytes=10, example_bytes=10) == (1, 1000)
    assert plan(budget=10**9, n_points=50, batch=1000, point_bytes=10, example_bytes=10) == (50, 1000)


def test_default_cpu_budget_is_bounded():
    assert 0 < default_budget(torch.device("cpu")) <= CPU_BUDGET
