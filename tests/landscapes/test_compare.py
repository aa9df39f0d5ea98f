"""The compare command end to end on a tiny budget, and its user errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from landscapes import compare, grids, results
from landscapes.systems import Settings, get_system


def tiny(data_dir=None, replicates=2) -> Settings:
    return Settings(alphas=grids.uniform(9, -0.5, 1.5), replicates=replicates, seed=0, epochs=0.05,
                    eval_examples=400, device="cpu", data_dir=data_dir, progress=False)


def test_theory_only_run_writes_three_outputs_with_the_known_verdicts(tmp_path):
    settings = Settings(alphas=grids.uniform(41, -0.5, 1.5), replicates=4, seed=0, epochs=1,
                        eval_examples=None, device="cpu", data_dir=None, progress=False)
    tree, table = compare.run(["deep_linear", "deep_linear_L2_w3"], list(compare.ANALYSES),
                              settings, tmp_path)
    for name in ("comparison.nc", "comparison.png", "comparison.pdf", "summary.csv"):
        assert (tmp_path / name).stat().st_size > 0
    back = results.load_tree(tmp_path / "comparison.nc")
    assert set(back.children) == set(compare.ANALYSES)
    assert list(back["init_to_final"].to_dataset().system.values) == ["deep_linear", "deep_linear_L2_w3"]
    row = table[0]
    # closed-form facts of y = w1 w2 x (Goodfellow et al. 2015 §5): the loss falls
    # monotonically from a small init, and the solution is a minimum of every line
    # from a random point (a line can cross w1 w2 = 1 twice, so there may be two)
    assert row["monotone init->final"] == "yes (4/4)"
    minima = results.load_tree(tmp_path / "comparison.nc")["random_to_final"].to_dataset()
    from landscapes import metrics

    counts = metrics.local_minima(minima.sel(system="deep_linear"))
    assert (counts >= 1).all() and (counts <= 2).all()
    with open(tmp_path / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["system"] for r in rows] == ["deep_linear", "deep_linear_L2_w3"]


def test_barrier_between_distinct_solutions_is_positive(tmp_path):
    settings = Settings(alphas=grids.uniform(41, -0.5, 1.5), replicates=4, seed=0, epochs=1,
                        eval_examples=None, device="cpu", data_dir=None, progress=False)
    tree, _ = compare.run(["deep_linear", "deep_linear"], ["final_to_final"], settings, tmp_path)
    ds = tree["final_to_final"].isel(system=0)
    from landscapes import metrics

    heights = metrics.linear_barrier(ds.sel(alpha=slice(0, 1))).height.values
    ends = ds.loss.sel(alpha=[0.0, 1.0])
    assert float(ends.max()) < 1e-12  # both ends are solutions
    assert heights.max() > 0.5  # some pair sits on opposite branches of w1 w2 = 1


def test_network_and_theory_overlay_on_a_tiny_budget(tmp_path, data_root):
    tree, table = compare.run(["deep_linear", "mnist_mlp"], list(compare.ANALYSES),
                              tiny(data_root), tmp_path)
    ds = tree["init_to_final"]
    assert ds.loss.dims == ("system", "replicate", "split", "alpha")
    net = ds.sel(system="mnist_mlp")
    assert (net.loss.sel(alpha=1.0) < net.loss.sel(alpha=0.0)).all()  # it trained
    # different loss scales, one normalised axis: both curves run from 1 at α=0 to 0 at α=1
    norm = compare._normalised(tree)["init_to_final"].mean("replicate")
    np.testing.assert_allclose(norm.sel(alpha=0.0), 1.0, atol=1e-9)
    np.testing.assert_allclose(norm.sel(alpha=1.0), 0.0, atol=1e-9)
    assert [r["system"] for r in table] == ["deep_linear", "mnist_mlp"]


def test_cli_lists_systems(capsys):
    assert compare.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "deep_linear" in out and "mnist_mlp" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deep_linear", "mnst_mlp"], "did you mean 'mnist_mlp'"),
        (["deep_linear"], "give two systems, got 1"),
        (["deep_linear", "deep_linear", "--analyses", "zoom"], "unknown analysis 'zoom'"),
        (["deep_linear", "deep_linear", "--replicates", "1"], "at least 2"),
        (["deep_linear", "deep_linear", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_cli_user_errors_exit_2_without_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        compare.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_data_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    code = compare.main(["deep_linear", "mnist_mlp", "--data-dir", str(tmp_path), "--out",
                         str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "missing train-images-idx3-ubyte" in capsys.readouterr().err


def test_get_system_accepts_any_depth_and_width():
    assert get_system("deep_linear_L4_w2").name == "deep_linear_L4_w2"
    with pytest.raises(ValueError, match="choose from"):
        get_system("deep_linear_L0_w2")
