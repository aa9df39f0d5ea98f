"""report.html: built from an output folder's netCDF results, findings and figures only."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from landscapes import report, results

ROOT = Path(__file__).resolve().parents[2]


def surfaces_dataset() -> xr.Dataset:
    """Two surfaces (a bilinear one, a barycentric one) for two replicates and splits."""
    g = np.linspace(0.0, 1.0, 5)
    a, b = np.meshgrid(g, g, indexing="ij")
    parts = []
    for s, surface in enumerate(["solutions:sgd,adam,rk2,adagrad", "init:sgd,adam"]):
        loss = np.stack([np.stack([(1 + s + r + k) * (a - 0.5) ** 2 + b for k in range(2)])
                         for r in range(2)])
        parts.append(results.slice_dataset(
            loss, error=loss / loss.max(), alpha=g, beta=g, dims=("replicate", "split", "alpha", "beta"),
            coords={"split": ["train", "test"]}, analysis="surfaces", system="toy",
            hyperparameters={"surfaces": {surface: "bilinear" if s == 0 else "barycentric"}},
        ).expand_dims(surface=[surface]))
    ds = xr.concat(parts, "surface", combine_attrs="drop_conflicts")
    # As an analysis stores them: the evaluation's (one surface's anchors) nested.
    ds.attrs["hyperparameters"] = json.dumps({"evaluation": {
        "evaluation": {"path": "bilinear", "anchors": ["a", "b", "c", "d"]},
        "surfaces": {"solutions:sgd,adam,rk2,adagrad": "bilinear", "init:sgd,adam": "barycentric"}}})
    return ds


def output_folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    g = np.linspace(-1.0, 1.0, 7)
    plane = results.slice_dataset(np.add.outer(g ** 2, g ** 2), alpha=g, beta=g, analysis="plane",
                                  system="toy", hyperparameters={"path": "plane", "anchors": ["center", "d1", "d2"]})
    line = results.slice_dataset(g ** 2, alpha=g, analysis="init_to_final", system="toy")
    results.save({"surfaces": surfaces_dataset(), "plane": plane, "init_to_final": line}, out / "results.nc")
    with (out / "findings.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["figure", "claim", "measured", "verdict"])
        w.writeheader()
        w.writerow({"figure": "2", "claim": "minima are <separated> & high", "measured": "0.2%", "verdict": "differs"})
        w.writerow({"figure": "4", "claim": "SGD lowest", "measured": "0.883", "verdict": "agrees"})
    # a 1x1 PNG, as a figure
    (out / "figure2.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f80f0000010101005b0e2e8c0000000049454e44ae426082"))
    return out


def esc(text: str) -> str:
    """``text`` as plotly writes it in the page's JSON (non-ASCII as \\uXXXX)."""
    return json.dumps(text)[1:-1]


def test_the_report_has_the_findings_figures_and_one_surface_per_2d_dataset(tmp_path):
    out = output_folder(tmp_path)
    page = report.build(out).read_text()
    assert (out / report.PLOTLY_JS).stat().st_size > 1_000_000  # plotly, written beside
    assert f'<script src="{report.PLOTLY_JS}"></script>' in page
    # One surface plot per 2-D dataset (surfaces, plane), none for the line.
    sections = re.findall(r'<section class="slice" data-dataset="([^"]+)">', page)
    assert sorted(sections) == ["plane", "surfaces"]
    assert len(re.findall(r'id="surface-\d+"', page)) == 2
    # Every slice of the surfaces dataset is a trace, with its anchors marked.
    assert page.count('"hovertemplate":"' + esc("α=%{x")) == 2 * 2 * 2 + 1  # surfaces x replicates x splits, + the plane
    assert "solutions:sgd,adam,rk2,adagrad" in page and page.count('"text":["sgd","adam","rk2","adagrad"]') == 4
    assert page.count('"text":["init","sgd","adam"]') == 4
    assert '"text":["center"]' in page  # the plane's anchor
    assert "loss=%{z" in page and "error=%{customdata" in page and esc("β=%{y") in page
    # The findings table, escaped, row by row.
    rows = report.findings(out)
    cells = re.findall(r"<td>(.*?)</td>", page)
    assert cells == [v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                     for r in rows for v in r.values()]
    assert page.count('src="data:image/png;base64,') == 1 and "figure2.png" in page


def test_the_report_loads_nothing_from_the_network(tmp_path):
    out = output_folder(tmp_path)
    from plotly.offline import get_plotlyjs

    bundle = get_plotlyjs()  # its own strings name web sites (map tiles' credits), inert
    for inline in (False, True):
        page = report.build(out, inline=inline).read_text()
        if inline:
            assert bundle in page and '<script src="' not in page
            page = page.replace(bundle, "")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
        assert "cdn.plot.ly" not in page and "cdn.jsdelivr" not in page and "http" not in page


def test_every_2d_dataset_is_found_and_nothing_else(tmp_path):
    out = output_folder(tmp_path)
    assert sorted(n for n, _ in report.slices(out)) == ["plane", "surfaces"]


def test_the_command_rebuilds_the_page_and_refuses_a_missing_folder(tmp_path):
    out = output_folder(tmp_path)
    done = subprocess.run([sys.executable, "-m", "landscapes.report", str(out)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / report.FILE).exists() and str(out / report.FILE) in done.stdout
    assert report.main([str(tmp_path / "nowhere")]) == 1
    with pytest.raises(FileNotFoundError, match="no output folder at"):
        report.build(tmp_path / "nowhere")


def test_compare_summary_is_shown_one_row_per_measure(tmp_path: Path) -> None:
    """compare's summary.csv (a column per measure, a row per system) is turned on its
    side: each measure a row, each system a column, every cell kept."""
    rows = [{"system": "deep_linear", "barrier final->final": "0.667", "half-drop alpha": "0.50"},
            {"system": "mnist_mlp", "barrier final->final": "0.812", "half-drop alpha": "0.38"}]
    with (tmp_path / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    page = report.build(tmp_path).read_text()
    table = re.search(r'<table class="findings" id="summary">(.*?)</table>', page, re.S).group(1)
    head = re.findall(r"<th>(.*?)</th>", table.split("</thead>")[0])
    assert head == ["system", "deep_linear", "mnist_mlp"]
    body = re.findall(r"<tr><th>(.*?)</th>(.*?)</tr>", table.split("<tbody>")[1])
    assert [m for m, _ in body] == ["barrier final-&gt;final", "half-drop alpha"]
    assert re.findall(r"<td>(.*?)</td>", body[0][1]) == ["0.667", "0.812"]


def test_anchors_are_found_in_a_stack_of_systems(tmp_path: Path) -> None:
    """compare stacks systems, keeping each one's hyperparameters in a list: the
    plane's centre is still marked."""
    g = np.linspace(-1.0, 1.0, 5)
    ds = results.slice_dataset(np.add.outer(g ** 2, g ** 2), alpha=g, beta=g,
                               analysis="eigenplane", system="toy")
    ds.attrs["hyperparameters"] = json.dumps({"system": [
        {"hessian": "exact"}, {"evaluation": {"path": "plane", "anchors": ["center", "d1", "d2"]}}]})
    results.save(ds, tmp_path / "results.nc")
    page = report.build(tmp_path).read_text()
    flat = page.replace(" ", "")
    assert '"name":"anchors"' in flat and '"text":["center"]' in flat
