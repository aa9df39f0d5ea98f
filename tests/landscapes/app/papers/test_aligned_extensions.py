"""The alignment extensions of goodfellow2015 (Fig. 5) and im2016 (Table 1)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from landscapes.app import reproduce
from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.aligned import barriers
from landscapes.app.analyses.base import mean_std
from landscapes.app.papers import aligned, get_paper
from landscapes.app.papers.base import Outcome
from landscapes.app.settings import Runtime
from landscapes.app.systems import get_system


@pytest.fixture(scope="module")
def outcome_parts(tiny, runtime):
    """The tiny MNIST MLP's results, standing in for the papers' systems."""
    budget = tiny.replace(align_examples=256)
    system = get_system("mnist_mlp")
    return budget, {name: system.analyze(get_analysis(name), budget, runtime)
                    for name in ("aligned", "init_to_final", "aligned_optimizers",
                                 "optimizers")}


@pytest.mark.parametrize("paper_name, analysis", [("goodfellow2015", "aligned"),
                                                  ("im2016", "aligned_optimizers")])
def test_the_figure_is_an_extension_made_on_request_only(paper_name, analysis, data_root):
    paper = get_paper(paper_name)
    figure = paper.figure("ext-aligned")
    assert figure.on_request and [a for _, a in figure.needs] == [analysis]
    [claim] = [c for c in paper.claims if c.figures == ("ext-aligned",)]
    assert claim.extension
    runtime = Runtime(data_dir=data_root)
    plain = reproduce.plan(paper, None, runtime, budget_name="quick")
    assert "ext-aligned" not in {f.id for f in plain.made}
    assert "on request" in plain.deferred["ext-aligned"]
    named = reproduce.plan(paper, ["ext-aligned"], runtime, budget_name="quick")
    assert [f.id for f in named.made] == ["ext-aligned"]
    # the figure's own analysis and the drop the finding divides by, nothing else
    assert set(named.pairs) == set(figure.needs) | set(claim.needs)


def judged(paper_name: str, system: str, outcome_parts) -> tuple:
    """The paper, the tiny results filed under its ``system``, and the extension's finding."""
    budget, parts = outcome_parts
    paper = get_paper(paper_name)
    [claim] = [c for c in paper.claims if c.figures == ("ext-aligned",)]
    outcome = Outcome(SimpleNamespace(parts={k: {system: v} for k, v in parts.items()}), budget)
    text, verdict = claim.judge(outcome)
    assert verdict == "shown"
    return paper, outcome, text


def test_goodfellow_finding_gives_every_line_before_and_after(outcome_parts):
    from landscapes.app.papers.goodfellow2015 import MAXOUT

    paper, outcome, text = judged("goodfellow2015", MAXOUT, outcome_parts)
    parts = outcome_parts[1]
    ds = parts["aligned"]
    height = barriers(ds).sel(split="train")
    for line in ("unaligned", "aligned", "aligned+repair"):
        assert f"{line} {mean_std(height.sel(line=line))}" in text, line
    share = aligned.removed(height.sel(line="unaligned"), height.sel(line="aligned"))
    assert f"{share:.0%} aligned" in text and "test loss barrier" in text
    assert "function preserved by the alignment: yes" in text
    figure = paper.figure("ext-aligned").draw(outcome)
    assert [ax.get_title().split(",")[-1].strip() for ax in figure.axes] == \
        ["train", "test"]
    assert all(len(ax.get_lines()) >= 3 for ax in figure.axes)


def test_im2016_finding_counts_barriers_before_and_after(outcome_parts):
    from landscapes.app.papers.im2016 import BARRIER, MLP

    paper, outcome, text = judged("im2016", MLP, outcome_parts)
    parts = outcome_parts[1]
    ds = parts["aligned_optimizers"]
    assert aligned.pair_labels(ds) == [("sgd", "adam")]
    height = barriers(ds).sel(split="train", optimizer_a="sgd", optimizer_b="adam")
    opt = parts["optimizers"].sel(split="train")
    drop = float((opt.init_loss - opt.final_loss).mean())
    for line in ("unaligned", "aligned", "aligned+repair"):
        above = int((height.sel(line=line) > BARRIER * drop).sum())
        assert f"{line} {above}/{height.sizes['replicate']}" in text, line
    listed = any(float(height.sel(line=line).mean()) > BARRIER * drop
                 for line in ("unaligned", "aligned", "aligned+repair"))
    assert f"{0 if listed else 1} other pairs below it" in text
    same = int((ds.distance_after >= ds.distance_before * (1 - aligned.IDENTITY)).sum())
    assert f"(π the identity) in {same}/2" in text
    # a threshold every barrier exceeds lists the pair with its means
    first = " → ".join(f"{float(height.sel(line=line).mean()):.3g}"
                       for line in ("unaligned", "aligned", "aligned+repair"))
    assert f"SGD–Adam {first}" in aligned.pairs_finding(ds, MLP, drop, -1.0)
    figure = paper.figure("ext-aligned").draw(outcome)
    assert len(figure.axes) == 2
    bars = figure.axes[0].patches
    assert len(bars) == 3  # one pair, three lines
    np.testing.assert_allclose(sorted(b.get_width() for b in bars),
                               sorted(height.mean("replicate").values), rtol=1e-6)


def test_a_pair_whose_runs_did_not_train_is_left_out(outcome_parts):
    _, parts = outcome_parts
    ds = parts["aligned_optimizers"]
    keep = (barriers(ds).sel(line="unaligned", split="train") < 0)  # false everywhere
    assert aligned.pair_labels(ds, keep) == []
    assert "no optimizer pair" in aligned.pairs_finding(ds, "x", 1.0, 0.01, keep)
