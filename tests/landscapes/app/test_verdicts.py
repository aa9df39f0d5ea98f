"""Two budgets' findings side by side (landscapes.app.verdicts)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from landscapes.app import verdicts


def _findings(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["figure", "claim", "measured", "verdict", "kind"])
        writer.writerows([(*r, "paper") for r in rows])
    return path


def test_each_claim_once_with_both_verdicts_and_flips_marked(tmp_path: Path) -> None:
    quick = _findings(tmp_path / "q.csv", [("1", "convex", "3/3", "reproduced"),
                                           ("3", "barrier", "0.2", "differs"),
                                           ("4", "only quick", "x", "reproduced")])
    paper = _findings(tmp_path / "p.csv", [("3", "barrier", "0.0", "reproduced"),
                                           ("1", "convex", "3/3", "reproduced"),
                                           ("5", "only paper", "y", "differs")])
    out = tmp_path / "both.csv"
    verdicts.main([str(quick), str(paper), "--out", str(out)])
    with out.open(newline="") as fh:
        rows = {(r["figure"], r["claim"]): r for r in csv.DictReader(fh)}
    assert len(rows) == 4
    assert rows["3", "barrier"]["changed"] == "yes"
    assert (rows["3", "barrier"]["quick measured"], rows["3", "barrier"]["paper measured"]) == ("0.2", "0.0")
    assert rows["1", "convex"]["changed"] == ""
    # Judged by one budget only: kept, never counted as a flip.
    assert rows["4", "only quick"]["paper verdict"] == "" and rows["4", "only quick"]["changed"] == ""
    assert rows["5", "only paper"]["quick verdict"] == ""


def test_a_file_that_is_not_findings_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit):
        verdicts.main([str(other), str(other)])
    err = capsys.readouterr().err
    assert "other.csv" in err and "not a findings.csv" in err
    with pytest.raises(SystemExit):
        verdicts.main([str(tmp_path / "missing.csv"), str(other)])
    assert "no findings file" in capsys.readouterr().err
