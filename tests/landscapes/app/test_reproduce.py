"""``python -m landscapes.reproduce``: plans, figures, findings, folders and user errors."""

from __future__ import annotations

import csv
import json

import pytest

from landscapes.app import reproduce
from landscapes.app.papers import get_paper
from landscapes.app.papers.base import VERDICTS
from landscapes.app.settings import Runtime

#: Budget flags that make the network figures take seconds.
TINY = ["--epochs", "0.02", "--eval-examples", "100", "--points", "5", "--zoom-points", "5",
        "--max-starts", "3", "--trajectory-points", "3", "--replicates", "2"]


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "home"))


def findings(folder):
    with open(folder / "findings.csv") as fh:
        return list(csv.DictReader(fh))


def test_plan_lists_what_this_machine_cannot_make_and_how_to(data_root):
    runtime = Runtime(data_dir=data_root)
    plan = reproduce.plan(get_paper("goodfellow2015"), None, runtime)
    assert "needs CIFAR-10" in plan.blocked["6"] and "--figures 6" in plan.blocked["6"]
    assert "needs Penn Treebank" in plan.blocked["8"]
    assert "MP-DBM" in plan.blocked["7"]
    assert ("mnist_relu", "zoom_init") in plan.pairs
    frankle = reproduce.plan(get_paper("frankle2020"), None, runtime, budget_name="quick")
    assert not frankle.blocked  # MNIST is here: every figure is made, without CIFAR/ImageNet
    assert set(frankle.partial["3"]) == {"cifar_vgg16", "cifar_resnet20", "imagenet_resnet50"}
    assert {s for s, _ in frankle.pairs} == {"mnist_mlp", "fashion_mlp"}


def test_closed_form_figures_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    assert reproduce.main(["goodfellow2015", "--figures", "9,10,11,12,7", "--out", str(out),
                           "--quiet"]) == 0
    for fid in ("9", "10", "11", "12"):
        assert (out / f"figure{fid}.png").stat().st_size > 0
        assert (out / f"figure{fid}.pdf").stat().st_size > 0
    rows = {r["claim"]: r for r in findings(out)}
    assert len(rows) == len(get_paper("goodfellow2015").claims)
    judged = [r for r in rows.values() if r["figure"] in ("9", "10", "11")]
    assert judged and all(r["verdict"] == "reproduced" and r["measured"] for r in judged)
    assert any(r["verdict"].startswith("cannot run here: the MP-DBM") for r in rows.values())
    assert any(r["verdict"].startswith("not run") for r in rows.values())
    from landscapes import results

    tree = results.load_tree(out / "results.nc")
    assert {"deep_linear", "random_walks", "quadratic"} <= set(tree.children)
    assert "reproduced" in capsys.readouterr().out
    page = (out / "report.html").read_text()  # the findings table, the figures, offline
    assert page.count("<tr>") == len(rows) + 1 and page.count("data:image/png;base64,") >= 4


def test_frankle_on_tiny_networks_writes_every_figure_and_judges_every_claim(tmp_path,
                                                                           data_root):
    out = tmp_path / "out"
    argv = ["frankle2020", *TINY, "--data-dir", str(data_root), "--out", str(out), "--quiet",
            "--device", "cpu"]
    assert reproduce.main(argv) == 0
    for fid in ("1", "2", "3"):
        assert (out / f"figure{fid}.png").stat().st_size > 0
    rows = findings(out)
    for r in rows:
        assert r["verdict"].split(":")[0] in VERDICTS or r["verdict"].startswith("not run"), r
    conv = [r for r in rows if r["claim"].startswith("[fashion_resnet20")]
    assert len(conv) == 1 and "--budget quick-conv" in conv[0]["verdict"], conv
    mnist = [r for r in rows
             if "MNIST" in r["claim"] and "larger" not in r["claim"] and r not in conv]
    assert all(r["measured"] for r in mnist if r["verdict"] != "cannot run here")
    large = [r for r in rows if r["claim"].startswith("[cifar") or r["claim"].startswith("[imagenet")]
    assert len(large) == 3 and all(r["verdict"].startswith("cannot run here: needs") for r in large)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["paper"] == "frankle2020" and manifest["budget"]["points"] == 5
    # the same request again reads everything back; another request may not take the folder
    assert reproduce.main(argv) == 0
    with pytest.raises(SystemExit):
        reproduce.main([*argv, "--points", "7"])


@pytest.mark.parametrize("argv, message", [
    (["goodfelow2015"], "did you mean 'goodfellow2015'"),
    (["goodfellow2015", "--figures", "99"], "unknown figure of goodfellow2015 '99'"),
    (["frankle2020", "--points", "1"], "points must be at least 3"),
    ([], "name a paper"),
])
def test_user_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        reproduce.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_list_shows_papers_figures_and_what_they_need(capsys, data_root, monkeypatch):
    monkeypatch.setenv("LANDSCAPES_DATA", str(data_root))
    assert reproduce.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "goodfellow2015" in out and "frankle2020" in out and "needs CIFAR-10" in out


#: im2016 on two optimizers and one switch, seconds of training each.
IM_TINY = ["--epochs", "2", "--train-examples", "256", "--eval-examples", "64", "--points", "5",
           "--surface-points", "3", "--trajectory-points", "2", "--replicates", "2",
           "--optimizers", "sgd,adam", "--switches", "adam>sgd"]


def test_im2016_on_tiny_networks_writes_its_figures_and_judges_every_claim(tmp_path,
                                                                          data_root):
    out = tmp_path / "out"
    argv = ["im2016", *IM_TINY, "--data-dir", str(data_root), "--out", str(out), "--quiet",
            "--device", "cpu"]
    assert reproduce.main(argv) == 0
    for fid in ("table1", "2", "3", "4", "5", "6", "7", "10"):
        assert (out / f"figure{fid}.png").stat().st_size > 0, fid
    assert not (out / "figure8.png").exists() and not (out / "figure11.png").exists()
    rows = findings(out)
    assert len(rows) == len(get_paper("im2016").claims)
    for r in rows:
        assert r["verdict"].split(":")[0] in VERDICTS or r["verdict"].startswith("not run"), r
        if r["figure"] in ("8", "11"):
            assert r["verdict"].startswith("not run at this budget") and "quick-conv" in \
                r["verdict"]
        elif r["kind"] == "extension":
            assert "on request" in r["verdict"], r
        else:
            assert r["measured"] and r["verdict"] in ("reproduced", "differs"), r
    from landscapes import results

    tree = results.load_tree(out / "results.nc")
    assert {"optimizers", "basin", "surfaces", "switching"} <= set(tree.children)
    assert "Fig. 8: made at --budget quick-conv" in (out / "findings.md").read_text()
    # The curvature extension on request, on the same runs: a finding marked extension.
    ext = tmp_path / "ext"
    assert reproduce.main([*argv[:argv.index("--out")], "--out", str(ext), "--quiet",
                           "--device", "cpu", "--figures", "ext-sharpness"]) == 0
    assert (ext / "figureext-sharpness.png").stat().st_size > 0
    [row] = [r for r in findings(ext) if r["figure"] == "ext-sharpness"]
    assert row["verdict"] == "shown" and "Spearman" in row["measured"], row
    assert "Extensions (questions the paper did not ask" in (ext / "findings.md").read_text()


def test_im2016_budgets_and_deferred_figures(data_root, capsys):
    paper = get_paper("im2016")
    runtime = Runtime(data_dir=data_root)
    quick = reproduce.plan(paper, None, runtime, budget_name="quick")
    # 8 and 11 are made at quick-conv; the extensions only when named.
    assert set(quick.deferred) == {"8", "11", "ext-sharpness", "ext-aligned"}
    assert "table1" in {f.id for f in quick.made}
    assert "on request" in quick.deferred["ext-sharpness"]
    named = reproduce.plan(paper, ["ext-sharpness"], runtime, budget_name="quick")
    assert [f.id for f in named.made] == ["ext-sharpness"]
    assert set(named.pairs) == {("fashion_mlp", "basin"), ("fashion_mlp", "sharpness")}
    conv = reproduce.plan(paper, None, runtime, budget_name="quick-conv")
    assert {f.id for f in conv.made} == {"8", "11"}
    assert {s for s, _ in conv.pairs} == {"fashion_resnet20"}
    with pytest.raises(SystemExit):
        reproduce.main(["im2016", "--budget", "quik-conv"])
    assert "did you mean 'quick-conv'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.main(["frankle2020", "--budget", "quick-vgg"])
    assert "unknown budget of frankle2020" in capsys.readouterr().err


def test_a_figure_that_fails_to_draw_loses_nothing_else(tmp_path):
    import dataclasses

    from landscapes.app.settings import Budget

    paper = get_paper("goodfellow2015")

    def broken(outcome):
        raise RuntimeError("no ink")

    figures = tuple(dataclasses.replace(f, draw=broken) if f.id == "9" else f
                    for f in paper.figures)
    paper = dataclasses.replace(paper, figures=figures)
    out = tmp_path / "out"
    rows = reproduce.run(paper, Budget(), Runtime(progress=False), out, figure_ids=["9", "10"])
    assert (out / "figure10.png").exists() and not (out / "figure9.png").exists()
    assert any(r["figure"] == "9" and r["verdict"] == "reproduced" for r in rows)
    text = (out / "findings.md").read_text()
    assert "Could not be drawn" in text and "Fig. 9: RuntimeError: no ink" in text


@pytest.mark.parametrize("paper_name", ["goodfellow2015", "frankle2020", "im2016"])
def test_a_claims_own_needs_are_planned_with_its_figures(paper_name, data_root):
    # Selecting only a claim's figures computes what its judge reads besides them
    # (im2016's 2-D slices divide by the optimizers' drop): judged, never a KeyError.
    paper = get_paper(paper_name)
    for claim in paper.claims:
        planned = reproduce.plan(paper, list(claim.figures), Runtime(data_dir=data_root))
        if all(f in {g.id for g in planned.made} for f in claim.figures):
            missing = [n for n in claim.needs if n[0] not in planned.unavailable
                       and n not in planned.pairs]
            assert not missing, (claim.quote, missing)


def test_docs_keep_a_figure_of_each_budget_apart() -> None:
    """The paper budget's figure goes to the docs beside the quick one's, not over it;
    a figure made at one budget only keeps its plain name."""
    from landscapes.app.reproduce import _docs_suffix

    frankle = get_paper("frankle2020")
    figures = {f.id: f for f in frankle.figures}
    assert _docs_suffix(frankle, figures["1"], "quick") == ""
    assert _docs_suffix(frankle, figures["1"], "paper") == "-paper"
    assert _docs_suffix(frankle, figures["1-resnet20"], "quick-conv") == ""


def test_docs_of_some_figures_only_do_not_replace_the_whole_runs(tmp_path) -> None:
    """``--figures X --docs D`` writes D/findings-X.csv, leaving D/findings.csv alone."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "findings.csv").write_text("figure,claim,measured,verdict\n")
    reproduce.main(["goodfellow2015", "--figures", "ext-flow", "--quiet",
                    "--out", str(tmp_path / "out"), "--docs", str(docs)])
    assert (docs / "findings.csv").read_text() == "figure,claim,measured,verdict\n"
    assert (docs / "findings-ext-flow.csv").is_file() and (docs / "figureext-flow.png").is_file()
    assert (tmp_path / "out" / "report.html").is_file()
    # The docs copy lists only the selected figure's claims; the run's own, every claim.
    with (docs / "findings-ext-flow.csv").open(newline="") as fh:
        shown = list(csv.DictReader(fh))
    with (tmp_path / "out" / "findings.csv").open(newline="") as fh:
        every = list(csv.DictReader(fh))
    assert len(shown) < len(every)
    assert all(r["verdict"] != reproduce.NOT_SELECTED for r in shown)
