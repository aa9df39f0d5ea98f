"""The compare command end to end on a tiny budget, its verdicts, reuse and user errors."""

from __future__ import annotations

import csv
import urllib.request
from urllib.error import URLError

import numpy as np
import pytest

from landscapes import metrics, results
from landscapes.app import compare
from landscapes.app.analyses import ANALYSES
from landscapes.app.analyses.random_to_final import count_minima
from landscapes.app.settings import Budget, Runtime
from landscapes.app.systems import get_system


def settings(replicates: int = 4, points: int = 41, **changes) -> Budget:
    values = dict(points=points, zoom_points=21, max_starts=5, replicates=replicates, seed=0,
                  epochs=0.05, eval_examples=400, trajectory_points=6)
    return Budget(**{**values, **changes})


def runtime(data_dir=None) -> Runtime:
    return Runtime(device="cpu", data_dir=data_dir, progress=False)


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    # Analyses and runs are cached under $LANDSCAPES_HOME; every test gets its own.
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))


def test_theory_run_writes_three_outputs_with_every_analysis(tmp_path):
    tree, table = compare.run(["deep_linear", "deep_linear_L2_w3"], list(ANALYSES),
                              settings(), tmp_path, runtime=runtime())
    for name in ("comparison.nc", "comparison.png", "comparison.pdf", "summary.csv", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    back = results.load_tree(tmp_path / "comparison.nc")
    assert set(back.children) == set(ANALYSES)
    for analysis in ANALYSES:
        ds = back[analysis].to_dataset()
        assert list(ds.system.values) == ["deep_linear", "deep_linear_L2_w3"]
        assert ds.identical(tree[analysis])
    zoom = back["zoom_init"].to_dataset()
    assert float(zoom.alpha.min()) == 0.0 and float(zoom.alpha.max()) == pytest.approx(0.01)
    with open(tmp_path / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["system"] for r in rows] == ["deep_linear", "deep_linear_L2_w3"]
    assert set(rows[0]) == set(table[0])


def test_deep_linear_verdicts_match_the_closed_form(tmp_path):
    # y = w1 w2 x (Goodfellow et al. 2015 §5): from a small init the loss falls
    # monotonically, distinct solutions are separated by a barrier, and every minimum on
    # random→final is a solution (w1 w2 = 1). How flat the start is depends on the
    # init's scale (J'(0) = −2(1 − p)p'(0) is O(init)), so it is reported, not asserted.
    fine = settings(replicates=8, points=2001)
    analyses = ["init_to_final", "zoom_init", "final_to_final", "random_to_final",
                "from_iteration"]
    tree, table = compare.run(["deep_linear", "deep_linear"], analyses, fine, tmp_path,
                              runtime=runtime())
    row = table[0]
    assert row["monotone init->final"] == "yes (8/8)"
    assert row["flat near init (slope ratio)"].split()[0] in ("yes", "no", "mixed")
    assert float(row["barrier final->final"].split()[0]) > 0
    assert row["non-solution minima random->final"] == "0 ± 0"
    # The count of minima is the exact number of solutions the segment crosses: one, or
    # two when the line from the random point crosses the other branch of w1 w2 = 1
    # first (e.g. from (5, 5) to (−1, −1)); "exactly one" is not a theorem here.
    from landscapes.app.analyses import get_analysis

    theory = get_analysis("random_to_final").closed_form(get_system("deep_linear"), fine)
    seg = theory.loss.sel(alpha=slice(0, 1.002))
    counts = [count_minima(np.asarray(c), np.inf)[0] for c in seg]
    np.testing.assert_array_equal(counts, theory.exact_minima.values)
    # gradient flow never climbs: no start along it sees a rise on its way to the solution
    assert float(row["largest rise from t (Frankle)"]) < 1e-12
    assert row["barrier (bump) gone from t"] == "0"
    # ... but its early lines are concave (the flattening): a chord excess, not a barrier
    assert float(row["largest chord excess from t"]) > 0.01


def test_barrier_between_distinct_solutions_is_positive(tmp_path):
    tree, _ = compare.run(["deep_linear", "deep_linear"], ["final_to_final"], settings(),
                          tmp_path, runtime=runtime())
    ds = tree["final_to_final"].isel(system=0)
    heights = metrics.linear_barrier(ds.sel(alpha=slice(0, 1))).height.values
    ends = ds.loss.sel(alpha=[0.0, 1.0])
    assert float(ends.max()) < 1e-12  # both ends are solutions
    assert heights.max() > 0.5  # some pair sits on opposite branches of w1 w2 = 1


def test_network_and_theory_overlay_on_a_tiny_budget(tmp_path, data_root):
    tree, table = compare.run(["deep_linear", "mnist_mlp"], list(ANALYSES),
                              settings(replicates=2), tmp_path, runtime=runtime(data_root))
    ds = tree["init_to_final"]
    assert ds.loss.dims == ("system", "replicate", "split", "alpha")
    net = ds.sel(system="mnist_mlp")
    assert (net.loss.sel(alpha=1.0) < net.loss.sel(alpha=0.0)).all()  # it trained
    # different loss scales, one normalised axis: every curve runs from 1 at α=0 to 0 at α=1
    from landscapes.app.analyses.line import normalised

    norm = normalised(tree["init_to_final"], tree["init_to_final"])
    np.testing.assert_allclose(norm.sel(alpha=0.0), 1.0, atol=1e-9)
    np.testing.assert_allclose(norm.sel(alpha=1.0), 0.0, atol=1e-9)
    assert [r["system"] for r in table] == ["deep_linear", "mnist_mlp"]
    # 400 examples of each split are a sample: the network's barriers come with an
    # interval over them; the closed form's objective is exact and has none
    f2f = tree["final_to_final"]
    assert np.isnan(f2f.linear_interval.sel(system="deep_linear")).all()
    net = f2f.sel(system="mnist_mlp")
    height = metrics.linear_barrier(net.loss.sel(alpha=slice(0.0, 1.0))).height
    low, high = net.linear_interval.sel(bound="low"), net.linear_interval.sel(bound="high")
    assert (low <= height).all() and (height <= high).all() and (high - low > 0).all()
    assert "(subset: 95% CI ±" in table[1]["barrier final->final"]
    assert "subset" not in table[0]["barrier final->final"]
    assert "rise_interval" in tree["from_iteration"]
    # from iteration t: the network's starts are checkpoints, the theory's its own steps
    start = tree["from_iteration"].sel(system="mnist_mlp").dropna("start_iteration", how="all")
    assert 0 in start.start_iteration.values and start.start_iteration.size <= 5
    traj = tree["trajectory"].sel(system="mnist_mlp").dropna("step", how="all")
    assert traj.step.size >= 6 and float(traj.residual.isel(step=0).max()) == 0.0
    # the matched random walk moves as far in total as training, but goes less far
    assert (traj.walk_projection.isel(step=-1) < traj.projection.isel(step=-1)).all()


def test_cli_end_to_end_then_warm_reuse(tmp_path, data_root, monkeypatch, capsys):
    monkeypatch.setitem(compare.BUDGETS, "tiny", Budget(
        points=9, zoom_points=5, max_starts=3, replicates=2, epochs=0.05, eval_examples=300,
        trajectory_points=4))
    argv = ["deep_linear", "mnist_mlp", "--budget", "tiny", "--data-dir", str(data_root),
            "--out", str(tmp_path / "out"), "--quiet", "--device", "cpu"]
    assert compare.main(argv) == 0
    out = capsys.readouterr().out
    assert "barrier final->final" in out and "max residual / max norm" in out
    first = results.load_tree(tmp_path / "out" / "comparison.nc")

    from landscapes.app import systems

    def refuse(*args, **kwargs):
        raise AssertionError("a warm run recomputed an analysis")

    monkeypatch.setattr(systems.NetworkSystem, "analyze", refuse)
    monkeypatch.setattr(systems.TheorySystem, "analyze", refuse)
    assert compare.main(argv) == 0
    assert results.load_tree(tmp_path / "out" / "comparison.nc").identical(first)


def test_cli_lists_systems_and_analyses(capsys):
    assert compare.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("deep_linear", "mnist_mlp", "mnist_relu", "mnist_sigmoid", "mnist_maxout",
                 "fashion_mlp", "cifar_resnet20", *ANALYSES):
        assert name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deep_linear", "mnst_mlp"], "did you mean 'mnist_mlp'"),
        (["deep_linear"], "give two systems, got 1"),
        (["deep_linear", "deep_linear", "--analyses", "zooom"], "unknown analysis 'zooom'"),
        (["deep_linear", "mnist_mlp", "--replicates", "1"], "at least 2"),
        (["deep_linear", "deep_linear", "--points", "2"], "points must be at least 3"),
        (["deep_linear", "deep_linear", "--bn", "recomput"], "invalid choice"),
        (["deep_linear", "deep_linear", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_cli_user_errors_exit_2_without_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        compare.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_data_is_a_clear_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code = compare.main(["deep_linear", "mnist_mlp", "--data-dir", str(tmp_path), "--out",
                         str(tmp_path / "out"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and str(tmp_path) in err and "Traceback" not in err


def test_zooms_alias_selects_the_three_windows():
    parser = compare._parser()
    assert compare._analyses("zooms,init_to_final", parser) == [
        "init_to_final", "zoom", "zoom_init", "zoom_final"]
    assert compare._analyses("all", parser) == list(ANALYSES)


def test_get_system_accepts_any_depth_and_width():
    assert get_system("deep_linear_L4_w2").name == "deep_linear_L4_w2"
    with pytest.raises(ValueError, match="choose from"):
        get_system("deep_linear_L0_w2")


def test_every_system_keeps_its_own_provenance(tmp_path, data_root):
    import json

    tree, _ = compare.run(["deep_linear", "mnist_mlp"], ["init_to_final"],
                          settings(replicates=2, points=5), tmp_path, runtime=runtime(data_root))
    ds = results.load_tree(tmp_path / "comparison.nc")["init_to_final"].to_dataset()
    assert ds.attrs["system"] == "deep_linear, mnist_mlp"
    assert ds.attrs["device"] == "sympy, cpu"
    theory, network = json.loads(ds.attrs["hyperparameters"])["system"]
    assert theory["solver"] == "closed-form gradient flow"
    assert network["training"]["model"] == "mnist_mlp" and "evaluation" in network
    seeds = json.loads(ds.attrs["seeds"])["system"][1]["replicate"]
    assert [s["replicate"] for s in seeds] == [0, 1] and all("init_seed" in s for s in seeds)


@pytest.mark.parametrize("where", ["file", "home"])
def test_an_unusable_output_folder_fails_at_once(tmp_path, monkeypatch, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the output folder was checked")

    from landscapes.app import study

    monkeypatch.setattr(study.Study, "run", refuse)
    argv = ["deep_linear", "deep_linear_L2_w3", "--quiet"]
    if where == "file":
        argv += ["--out", str(blocker / "out")]
    else:
        monkeypatch.setenv("LANDSCAPES_HOME", str(blocker))
    with pytest.raises(SystemExit) as exc:
        compare.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "is not a writable folder" in err and "Traceback" not in err


def test_default_folders_differ_by_budget_and_analyses(tmp_path, monkeypatch):
    from landscapes.app.compare import BUDGETS, _default_out

    every = _default_out(["a", "b"], "quick", BUDGETS["quick"], list(ANALYSES))
    subset = _default_out(["a", "b"], "quick", BUDGETS["quick"], ["init_to_final"])
    paper = _default_out(["a", "b"], "paper", BUDGETS["paper"], list(ANALYSES))
    tweaked = _default_out(["a", "b"], "quick", BUDGETS["quick"].replace(points=11),
                           list(ANALYSES))
    assert len({every, subset, paper, tweaked}) == 4
    assert every.name == "quick" and paper.name == "paper"
    # and a folder holding another request's results is refused, not overwritten
    out = tmp_path / "out"
    assert compare.main(["deep_linear", "deep_linear_L2_w3", "--quiet", "--points", "5",
                         "--zoom-points", "5", "--out", str(out)]) == 0
    before = (out / "comparison.nc").read_bytes()
    with pytest.raises(SystemExit):
        compare.main(["deep_linear", "deep_linear_L2_w3", "--quiet", "--points", "7",
                      "--out", str(out)])
    assert (out / "comparison.nc").read_bytes() == before
