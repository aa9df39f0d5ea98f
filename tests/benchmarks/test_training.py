"""The training benchmark's code on tiny sizes: well-formed rows with positive numbers
(nothing here is timed against a threshold)."""

from __future__ import annotations

import csv

import pytest

from benchmarks.training import (COLUMNS, DEFAULT, Setting, competing, lenet_rows, markdown,
                                 resnet_rows, write_csv)


def test_resnet_rows_share_the_best_and_mark_the_default(tmp_path):
    settings = [Setting("float32", "contiguous", 1), Setting("float32", "channels-last", 1),
                Setting("bfloat16", "channels-last", 1)]
    rows = resnet_rows(settings, steps=1, repeats=1, batch_size=4)
    assert [r["setting"] for r in rows] == [s.label for s in settings]
    assert all(r["median"] > 0 and 0 < r["share_of_best"] <= 1 for r in rows)
    assert max(r["share_of_best"] for r in rows) == 1
    assert sum(r["default"] for r in rows) <= 1
    write_csv(rows, tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as fh:
        read = list(csv.DictReader(fh))
    assert list(read[0]) == COLUMNS and len(markdown(rows).splitlines()) == 5


@pytest.mark.usefixtures("data_root")
def test_lenet_rows_under_a_competing_process_with_the_default_decided_each_run():
    rows = lenet_rows([1, DEFAULT], [0, 1], iterations=2, repeats=2)
    assert [(r["threads"], r["competing"]) for r in rows] == [
        (1, 0), ("default", 0), (1, 1), ("default", 1)]
    assert all(r["unit"] == "s/epoch" and r["median"] > 0 for r in rows)
    assert [r["default"] for r in rows] == [False, True, False, True]
    for r in rows:  # one choice per timed run, each with the busy cores it saw
        choices = r["chosen"].split()
        assert len(choices) == (2 if r["threads"] == "default" else 0)
        assert all(int(c.split("@")[0]) >= 1 and float(c.split("@")[1]) >= 0 for c in choices)
    assert "@" in markdown(rows)


def test_competing_processes_end_with_the_block():
    with competing(1):
        pass  # a leaked busy loop would slow every later test: it must be killed
