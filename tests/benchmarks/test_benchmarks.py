"""The benchmark's code on a tiny workload: a well-formed table with positive numbers
(nothing here is timed against a threshold)."""

from __future__ import annotations

import csv

import numpy as np
import torch
from torch import nn

from benchmarks.__main__ import against_float32, run
from benchmarks.adaptive import COLUMNS as ADAPTIVE_COLUMNS
from benchmarks.adaptive import Line, compare
from benchmarks.adaptive import markdown as adaptive_markdown
from benchmarks.measure import conv_peak_gflops, forward_flops
from benchmarks.table import COLUMNS, markdown, write_csv
from benchmarks.workloads import Workload, plain_loop
from landscapes import paths


def tiny() -> Workload:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    a = {k: v.clone() for k, v in model.state_dict().items()}
    b = {k: v + 0.5 for k, v in a.items()}
    x, y = torch.randn(40, 8), torch.randint(0, 3, (40,))
    return Workload("tiny", model, paths.linear(a, b, np.linspace(0, 1, 4)), x, y, batch_size=16)


def test_table_is_well_formed_with_positive_numbers(tmp_path):
    rows = run([tiny()], repeats=1, with_peer=False)
    assert len(rows) == 1 and set(rows[0]) == set(COLUMNS)
    assert all(rows[0][c] > 0 for c in COLUMNS if c != "workload")
    table = markdown(rows).splitlines()
    assert len(table) == 3 and table[2].startswith("| tiny |")
    write_csv(rows, tmp_path / "b.csv")
    with open(tmp_path / "b.csv") as fh:
        read = list(csv.DictReader(fh))
    assert read[0]["workload"] == "tiny" and float(read[0]["engine_s"]) > 0


def test_plain_loop_is_the_engine_reference():
    work = tiny()
    np.testing.assert_allclose(plain_loop(work.model, work.path, work.x, work.y, batch_size=16),
                               work.engine(), rtol=1e-5)


def test_flops_count_linear_and_conv():
    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 5 * 5, 7))
    total, first = forward_flops(conv, torch.zeros(1, 2, 5, 5))
    assert first == 2 * 2 * 9 * 4 * 25
    assert total == first + 2 * 100 * 7


def test_bfloat16_rows_run_both_sides_in_bfloat16_and_compare_with_float32():
    work = tiny()
    half = Workload("tiny bf16", work.model, work.path, work.x, work.y, batch_size=16,
                    precision="bfloat16", rtol=5e-2)
    np.testing.assert_allclose(half.plain(), half.engine(), rtol=5e-2)
    rows = [{"plain_s": 6.0, "engine_s": 2.0}, {"plain_s": 3.0, "engine_s": 1.0}]
    (line,) = against_float32([work, half], rows)
    assert "6.0×" in line
    assert line.startswith("tiny bf16: engine") and "float32 plain loop" in line


def test_conv_peak_is_a_convolution_throughput():
    assert conv_peak_gflops(torch.float32, repeats=1, shapes=((2, 8),)) > 0


def test_adaptive_row_against_uniform_grids():
    work = tiny()
    a, b = work.path.anchors
    line = Line("tiny line", "linear", a, b, scale=1.0)
    row = compare(work.model, line, (work.x, work.y), repeats=1)
    assert set(row) == set(ADAPTIVE_COLUMNS)
    assert row["evaluations"] <= 30 and row["height_error"] <= 1e-3
    assert row["uniform_s"] > 0 and row["adaptive_s"] > 0
    assert adaptive_markdown([row]).splitlines()[2].startswith("| tiny line |")
