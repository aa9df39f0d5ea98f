"""The scaling benchmark's and the sweep plan's code, on made-up numbers (nothing timed)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks import scaling, sweep_plan

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scaling"


def test_the_two_ways_alternate_after_a_warm_up():
    calls = []
    here, there, loads = scaling.alternate(lambda i: calls.append(("here", i)),
                                           lambda i: calls.append(("there", i)), repeats=2)
    assert calls == [("here", -1), ("there", -1), ("here", 0), ("there", 0), ("here", 1),
                     ("there", 1)]
    assert len(here) == len(there) == 2 and len(loads) == 4


def test_speed_up_and_efficiency_are_medians_over_two_workers(tmp_path):
    r = scaling.row("w", [10.0, 12.0, 11.0], [6.0, 5.0, 7.0], [2.0, 4.5, 3.0], None)
    assert (r["in_process_s"], r["cluster_s"], r["speedup"]) == (11.0, 6.0, 11.0 / 6.0)
    assert r["efficiency"] == r["speedup"] / 2 and (r["load_min"], r["load_max"]) == (2.0, 4.5)
    scaling.write_docs([r], tmp_path)
    with open(tmp_path / "measured.csv") as fh:
        read = list(csv.reader(fh))
    assert read[0] == scaling.HEAD and read[1][5] == "incl." and read[1][3] == "1.83"


def test_the_sweep_plan_counts_hours_and_bytes():
    train = sweep_plan.Task("p", "train x (1 epochs, 10 it)", 4, 25e12 * 3600, 0.0, 100.0)
    line = sweep_plan.Task("p", "x: init_to_final", 2, 25e12 * 1800, 300.0, 0.0)
    assert (train.hours_each, train.gpu_hours, line.gpu_hours) == (1.0, 4.0, 1.0)
    text = sweep_plan.summary([train, line])
    assert text[0].startswith("5 GPU-h in all") and "(80%)" in text[0]
    assert text[2].endswith("0 GB") and "train x" in text[1]


def test_the_documented_tables_have_their_columns():
    for name, head in (("sweep_plan.csv", sweep_plan.HEAD), ("measured.csv", scaling.HEAD)):
        with open(DOCS / name) as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == head and len(rows) > 1
        assert all(len(r) == len(head) for r in rows)
