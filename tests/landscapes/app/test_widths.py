"""The width sweep command: every width's aligned analysis, a csv and a figure."""

from __future__ import annotations

import pytest

from landscapes.app.widths import run, system_name


def test_an_unregistered_width_is_one_clear_line():
    with pytest.raises(ValueError, match="width 33 is not registered"):
        system_name(33)


def test_two_widths_write_dataset_csv_and_figure(tiny, runtime, tmp_path):
    budget = tiny.replace(align_examples=128, align_correction="none")
    table = run([32, 64], budget, tmp_path, runtime=runtime)
    assert list(table.width.values) == [32, 64]
    for name in ("widths.nc", "widths.csv", "widths.png"):
        assert (tmp_path / name).exists()
    rows = (tmp_path / "widths.csv").read_text().splitlines()
    assert rows[0] == "width,line,split,quantity,mean,std,replicates"
    assert len(rows) == 1 + 2 * 2 * len(budget.splits) * 2  # widths × lines × splits × loss/error
    # aligning never raises the barrier of these tiny runs' training loss
    train = table.sel(split="train", quantity="loss")
    assert bool((train.sel(line="aligned") <= train.sel(line="unaligned") + 1e-6).all())
